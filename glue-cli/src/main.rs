//! The `glue` binary.

use clap::Parser;

fn main() {
    let cli = glue_cli::args::Cli::parse();
    // `GLUE_LOG=debug` (or `trace`, or a tracing filter such as `glue_session=trace,aws_smithy_runtime=debug`) writes
    // the engines' and the AWS SDK's logs to stderr. No credential appears there: the SDK redacts secret keys and
    // session tokens, and access key ids, which its trace logs print, are masked on the way out.
    if let Ok(filter) = std::env::var("GLUE_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(|| glue_project::redact::Redacting(std::io::stderr()))
            .with_ansi(false)
            .try_init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(glue_cli::commands::run(cli));
    std::process::exit(code);
}

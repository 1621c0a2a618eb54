//! The `glue` binary.

use clap::Parser;

fn main() {
    let cli = glue_cli::cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(glue_cli::cli::run(cli));
    std::process::exit(code);
}

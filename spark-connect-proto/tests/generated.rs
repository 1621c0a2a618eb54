//! The committed generated code (`src/generated/`) is what the generator makes of `proto/` today.
//!
//! Generation is pure Rust (protox parses the `.proto` files, tonic-prost-build writes the code), so this test needs
//! no `protoc`. With `GLUE_RS_REGENERATE=1` it rewrites the committed file instead of comparing.

use std::path::{Path, PathBuf};

/// The `.proto` files of the crates.io crate's build script, in its order.
const PROTOS: [&str; 10] = [
    "base",
    "catalog",
    "commands",
    "common",
    "expressions",
    "ml",
    "ml_common",
    "pipelines",
    "relations",
    "types",
];

fn generate(out: &Path) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto");
    let files: Vec<PathBuf> = PROTOS
        .iter()
        .map(|name| root.join("spark/connect").join(format!("{name}.proto")))
        .collect();
    let descriptors = protox::compile(&files, [&root]).expect("the vendored .proto files compile");
    // The crates.io crate's settings: client only, `bytes::Bytes` for every bytes field. Its protoc path also marks
    // every type `#[allow(clippy::all)]`, which the descriptor-set path leaves out: added here, the output is the same
    // bytes as the crates.io crate's build script writes with protoc (compared once with protoc 3.21.12).
    tonic_prost_build::configure()
        .type_attribute(".", "#[allow(clippy::all)]")
        .build_server(false)
        .build_client(true)
        .bytes(".")
        .out_dir(out)
        .compile_fds(descriptors)
        .expect("tonic-prost-build generates the code");
    std::fs::read_to_string(out.join("spark.connect.rs")).expect("the generator wrote spark.connect.rs")
}

#[test]
fn committed_code_equals_a_fresh_generation() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let fresh = generate(out.path());
    let committed_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/generated/spark.connect.rs");
    if std::env::var_os("GLUE_RS_REGENERATE").is_some() {
        std::fs::write(&committed_path, &fresh).expect("src/generated is writable");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()))
            + 1;
        panic!(
            "{} differs from a fresh generation from proto/ (first at line {line}); \
             run `GLUE_RS_REGENERATE=1 cargo test -p apache-spark-connect-proto` and commit the result",
            committed_path.display()
        );
    }
}

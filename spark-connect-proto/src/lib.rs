//! Spark Connect protobuf messages and the gRPC client (`spark.connect.*`), generated ahead of time.
//!
//! This crate stands in for the crates.io crate `apache-spark-connect-proto` 4.2.0 (the workspace patches it in), with
//! the same crate name, module layout and generator settings (tonic-prost-build: client only, `bytes` fields). The
//! only difference is when the code is generated: that crate runs `protoc` in its build script, so every machine that
//! builds `glue` would need `protoc`; here the output is committed in `src/generated/`, generated from the same
//! `.proto` files (`proto/`, Spark's `v4.2.0`, see `proto/SPARK_SHA.txt`) by a pure-Rust compiler (protox).
//!
//! The test `tests/generated.rs` generates the code again and fails when it differs from the committed file;
//! `GLUE_RS_REGENERATE=1 cargo test -p apache-spark-connect-proto` rewrites it (after changing `proto/`).

#![allow(clippy::large_enum_variant)] // generated protobuf code has large enum variants
#![allow(missing_docs)] // generated: the documentation is the .proto files' comments

/// The `spark` protobuf package.
pub mod spark {
    /// The `spark.connect` protobuf package: every message, enum and the gRPC client.
    pub mod connect {
        include!("generated/spark.connect.rs");
    }
}

pub use spark::connect::*;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

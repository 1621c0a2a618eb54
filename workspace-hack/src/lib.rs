//! The workspace-hack crate (managed by `cargo hakari`): it depends on every third-party crate that two workspace
//! crates would otherwise build with different features, with the union of those features, and every workspace crate
//! depends on it. So `cargo test --workspace`, `cargo build -p glue-cli`, `cargo install --path glue-cli` and the
//! xtask calls build each dependency once, with one feature set. No code.

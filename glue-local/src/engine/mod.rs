//! `LocalEngine`: the `Engine` of glue-materialize on a local warehouse directory.
//!
//! - `local_engine`: the engine's state and what every part reads (paths, catalog entries, columns);
//! - `plans`: the `Engine` trait: a plan checked, then run step by step;
//! - `steps`: one step, dispatched;
//! - `tables`: a table's new version and the catalog switch to it;
//! - `writes`: rows written into an existing table;
//! - `schema_changes`: `on_schema_change`'s column changes;
//! - `merge`: MERGE of incremental models and snapshots;
//! - `iceberg_tables`: the Iceberg side of all these;
//! - `seeds`: CSV seeds;
//! - `columns`: columns between the catalog, Arrow and `ColumnDef`s.

mod columns;
mod iceberg_tables;
mod local_engine;
mod merge;
mod plans;
mod schema_changes;
mod seeds;
mod steps;
mod tables;
mod writes;

pub use local_engine::{FORMATS, LocalEngine};

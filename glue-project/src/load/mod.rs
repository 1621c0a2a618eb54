//! Loads a project into a [`Manifest`]: files, YAML properties, config trees, parse-time Jinja (refs, sources,
//! `config()`), names through `generate_schema_name` / `generate_alias_name`, generic tests, and dependencies.

mod files;
mod generic_tests;
mod keys;
mod loading;
mod manifest;
mod packages;
mod properties;
mod state;
mod unit_tests;

pub use keys::{DBT_CONFIG_KEYS, is_known_config_key};
pub use loading::load;
pub use manifest::{LoadOptions, LogSink, Manifest};
pub use state::{node_context, node_value};

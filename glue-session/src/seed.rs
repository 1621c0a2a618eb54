//! Seed CSV files read and typed on the client by `glue-seed` (as dbt infers them: integers, floats, booleans, dates,
//! timestamps, strings), then sent to the session as Arrow IPC inside the statement, not as Python literals.

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::SessionError;

/// Reads a seed CSV, typed by `glue-seed` as every engine types it, except `text_columns`, kept as the file's text.
fn read_seed(path: &Path, delimiter: u8, text_columns: &[&str]) -> Result<(SchemaRef, Vec<RecordBatch>), SessionError> {
    let seed = glue_seed::read_seed_with_text(path, delimiter, text_columns)
        .map_err(|e| SessionError::Protocol(e.to_string()))?;
    Ok((seed.schema, seed.batches))
}

/// The columns sent as the CSV's text: with `enable_spark_seed_casting`, those of `column_types`, which Spark then
/// casts from the text (`CAST(code AS string)` keeps `007`, a timestamp kept as a string keeps the file's spelling),
/// as dbt-glue's casting does; without it none (glue-rs's default: every column typed as dbt infers it, then cast).
fn text_columns(casting: bool, column_types: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    if casting {
        column_types.keys().map(String::as_str).collect()
    } else {
        Vec::new()
    }
}

/// What loading one seed takes on a remote engine: its rows, typed, for a temporary view, and the statements that
/// write the table from that view.
pub(crate) struct SeedLoad {
    /// The temporary view holding the CSV's rows (`<seed>__seed_rows`).
    pub view: glue_sql::Ident,
    /// The rows' schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// The statements reading the view (none when the table stays as it is).
    pub statements: Vec<glue_materialize::Rendered>,
    /// Rows in the CSV.
    pub rows: u64,
}

impl SeedLoad {
    /// Reads the seed of a `LoadSeed` step and renders its statements. `native` maps a read failure, `render` a
    /// rendering one (each engine names the step its own way).
    pub(crate) fn prepare<E>(
        step: &glue_materialize::Step,
        native: impl Fn(SessionError) -> E,
        render: impl Fn(glue_materialize::RenderError) -> E,
        missing: impl Fn(String) -> E,
    ) -> Result<SeedLoad, E> {
        let glue_materialize::Step::LoadSeed {
            relation,
            path,
            delimiter,
            column_types,
            casting,
            ..
        } = step
        else {
            return Err(missing(format!("{step} is not a seed")));
        };
        let path = path
            .as_deref()
            .ok_or_else(|| missing(format!("seed {relation} has no CSV file")))?;
        let text = text_columns(*casting, column_types);
        let (schema, batches) = read_seed(Path::new(path), *delimiter, &text).map_err(native)?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let view = glue_sql::Ident::new(format!("{}__seed_rows", relation.identifier.as_str()))
            .map_err(|e| render(e.into()))?;
        let columns: Vec<glue_sql::Ident> = schema
            .fields()
            .iter()
            .map(|f| glue_sql::Ident::new(f.name().clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| render(e.into()))?;
        let statements = glue_materialize::render::seed_statements(step, &view, &columns).map_err(render)?;
        Ok(SeedLoad {
            view,
            schema,
            batches,
            statements,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typing is glue-seed's (tested there); here, that a seed that cannot be read names its file.
    #[test]
    fn a_seed_that_cannot_be_read_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_seed(&dir.path().join("nope.csv"), b',', &[])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope.csv"), "{missing}");
    }

    /// Only with `enable_spark_seed_casting` do the `column_types` columns travel as the CSV's text.
    #[test]
    fn casting_sends_the_column_types_columns_as_text() {
        let types: std::collections::BTreeMap<String, String> = [("code".to_string(), "string".to_string())].into();
        assert_eq!(text_columns(true, &types), ["code"]);
        assert!(text_columns(false, &types).is_empty());
    }
}

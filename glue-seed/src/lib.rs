#![doc = include_str!("../README.md")]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

/// A seed CSV that could not be read or typed. Its message names the file: `seed <path>: <cause>`.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be opened.
    #[error("seed {}: {source}", path.display())]
    Io {
        /// The seed file.
        path: PathBuf,
        /// Why it could not be opened.
        source: std::io::Error,
    },
    /// The file is not a CSV Arrow can read, or a value does not fit its column's type.
    #[error("seed {}: {source}", path.display())]
    Csv {
        /// The seed file.
        path: PathBuf,
        /// Arrow's error.
        source: ArrowError,
    },
}

/// A seed's rows, typed: every batch has `schema`.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The columns, in the CSV's order, with their types.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl Seed {
    /// The number of rows.
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// Reads a seed CSV (a header row; types inferred from every row) and types it as dbt-spark does (see the crate
/// docs).
pub fn read_seed(path: &Path) -> Result<Seed, SeedError> {
    read_seed_delimited(path, b',')
}

/// [`read_seed`] of a CSV whose fields are separated by `delimiter` (dbt's seed config `delimiter`).
pub fn read_seed_delimited(path: &Path, delimiter: u8) -> Result<Seed, SeedError> {
    read_seed_with_text(path, delimiter, &[])
}

/// [`read_seed_delimited`] with the columns named in `text_columns` (case-insensitively) kept as the file's text,
/// not inferred: as dbt reads the columns of a seed's `column_types` (agate's `text_columns`), for the engine to
/// cast them from the text.
pub fn read_seed_with_text(path: &Path, delimiter: u8, text_columns: &[&str]) -> Result<Seed, SeedError> {
    let io = |source| SeedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let csv = |source| SeedError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let format = arrow_csv::reader::Format::default()
        .with_header(true)
        .with_delimiter(delimiter);
    let mut file = File::open(path).map_err(io)?;
    let (inferred, _) = format.infer_schema(&mut file, None).map_err(csv)?;
    let inferred = Schema::new(
        inferred
            .fields()
            .iter()
            .map(|f| {
                if text_columns.iter().any(|t| t.eq_ignore_ascii_case(f.name())) {
                    Field::new(f.name(), DataType::Utf8, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    );
    let file = File::open(path).map_err(io)?;
    let reader = arrow_csv::ReaderBuilder::new(Arc::new(inferred.clone()))
        .with_format(format)
        .build(file)
        .map_err(csv)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(csv)?;
    let schema = Arc::new(Schema::new(
        inferred.fields().iter().map(|f| seed_field(f)).collect::<Vec<_>>(),
    ));
    let batches = batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(csv)?;
    Ok(Seed { schema, batches })
}

/// The column of a seed for an inferred CSV column: timestamps in microseconds, no `Null` type, nullable.
fn seed_field(f: &Field) -> Field {
    let data_type = match f.data_type() {
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    };
    Field::new(f.name(), data_type, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_dbt_infers_and_a_column_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(
            &p,
            "id,price,ok,day,at,name,empty\n1,2.5,true,2024-01-02,2024-01-02 03:04:05,a,\n\
             2,3,false,2024-01-03,2024-01-03 00:00:00,b,\n",
        )
        .unwrap();
        let seed = read_seed(&p).unwrap();
        let types: Vec<_> = seed.schema.fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                DataType::Date32,
                DataType::Timestamp(TimeUnit::Microsecond, None),
                DataType::Utf8,
                DataType::Utf8
            ]
        );
        assert!(seed.schema.fields().iter().all(|f| f.is_nullable()));
        assert_eq!(seed.rows(), 2);
        assert!(seed.batches.iter().all(|b| b.schema() == seed.schema));
    }

    #[test]
    fn text_columns_keep_the_files_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "id,Code,at\n1,007,2024-01-02T03:04:05\n2,,2024-01-03T00:00:00\n").unwrap();
        let seed = read_seed_with_text(&p, b',', &["code", "at"]).unwrap();
        let types: Vec<_> = seed.schema.fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types, [DataType::Int64, DataType::Utf8, DataType::Utf8]);
        let code = arrow_cast::display::array_value_to_string(seed.batches[0].column(1), 0).unwrap();
        let at = arrow_cast::display::array_value_to_string(seed.batches[0].column(2), 0).unwrap();
        assert_eq!((code.as_str(), at.as_str()), ("007", "2024-01-02T03:04:05"));
        assert!(
            seed.batches[0].column(1).is_null(1),
            "an empty field is null, as in dbt"
        );
    }

    #[test]
    fn a_seed_without_rows_keeps_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.csv");
        std::fs::write(&p, "id,name\n").unwrap();
        let seed = read_seed(&p).unwrap();
        assert_eq!(seed.rows(), 0);
        assert_eq!(seed.schema.fields().len(), 2);
        assert!(seed.schema.fields().iter().all(|f| f.data_type() == &DataType::Utf8));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = read_seed(Path::new("/nonexistent/nope.csv")).unwrap_err().to_string();
        assert!(e.starts_with("seed /nonexistent/nope.csv: "), "{e}");
    }
}

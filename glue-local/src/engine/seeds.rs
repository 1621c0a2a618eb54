//! Seeds: a CSV file loaded into a table.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::logical_expr::cast;
use datafusion::prelude::ident;
use glue_materialize::FileFormat;
use glue_materialize::step::TableSpec;
use glue_sql::RelationName;

use crate::error::LocalError;
use crate::types::arrow_type;

use super::local_engine::LocalEngine;
use super::writes::RowsWrite;

impl LocalEngine {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn load_seed(
        &self,
        relation: &RelationName,
        path: Option<&str>,
        format: FileFormat,
        mode: glue_materialize::config::SeedMode,
        location: Option<&str>,
        column_types: &BTreeMap<String, String>,
        delimiter: u8,
        casting: bool,
        exists: bool,
        replace: bool,
    ) -> Result<(), LocalError> {
        use glue_materialize::config::SeedMode;
        let path = path.ok_or_else(|| LocalError::Data(format!("seed {relation} has no CSV file")))?;
        // With `enable_spark_seed_casting` the `column_types` columns are cast from the CSV's text, as dbt-glue casts.
        let text: Vec<&str> = if casting {
            column_types.keys().map(String::as_str).collect()
        } else {
            Vec::new()
        };
        let seed = glue_seed::read_seed_with_text(std::path::Path::new(path), delimiter, &text)
            .map_err(|e| LocalError::Data(e.to_string()))?;
        let rows = datafusion::datasource::MemTable::try_new(seed.schema, vec![seed.batches])
            .map_err(LocalError::df(format!("reading seed {path}")))?;
        let df = self
            .ctx
            .read_table(Arc::new(rows))
            .map_err(LocalError::df(format!("reading seed {path}")))?;
        let mut exprs = Vec::new();
        for f in df.schema().fields() {
            let name = f.name();
            match column_types.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                Some((_, t)) => exprs.push(cast(ident(name.as_str()), arrow_type(t)?).alias(name.as_str())),
                // A column inferred as a timestamp is Spark's `timestamp` (with the session time zone, UTC here), as
                // dbt-spark's seeds type it, not `timestamp_ntz`.
                None if matches!(
                    f.data_type(),
                    datafusion::arrow::datatypes::DataType::Timestamp(_, None)
                ) =>
                {
                    exprs.push(cast(ident(name.as_str()), arrow_type("timestamp")?).alias(name.as_str()))
                }
                None => exprs.push(ident(name.as_str())),
            }
        }
        let df = df
            .select(exprs)
            .map_err(LocalError::df(format!("typing seed {path}")))?;
        let exists = exists && self.entry(relation)?.is_some();
        match (exists, mode, replace) {
            (true, SeedMode::Ignore, false) => Ok(()),
            (true, SeedMode::ErrorIfExists, false) => Err(LocalError::Data(format!("seed table {relation} exists"))),
            (true, SeedMode::Append, false) => {
                let tmp = format!("{}__seed", relation.identifier.as_str());
                self.register_temp(&tmp, df);
                let src = RelationName::temp_view(tmp.clone()).map_err(|e| LocalError::Data(e.to_string()))?;
                let rows = self.conformed(relation, &src).await?;
                self.warehouse.drop_temp(&tmp);
                self.write_rows(relation, rows, RowsWrite::Append, None).await
            }
            _ => {
                let spec = TableSpec {
                    relation: relation.clone(),
                    format,
                    partition_by: vec![],
                    clustered_by: None,
                    properties: BTreeMap::new(),
                    options: BTreeMap::new(),
                    location: location.map(str::to_string),
                    own_location: true,
                    comment: None,
                };
                self.create_table(&spec, df, exists).await
            }
        }
    }
}

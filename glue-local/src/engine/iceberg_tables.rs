//! The engine's Iceberg tables: created as a staged version, appended, rewritten, their snapshots expired.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use datafusion::prelude::DataFrame;
use glue_materialize::FileFormat;
use glue_materialize::step::TableSpec;
use glue_sql::RelationName;
use glue_sql::ddl::DropKind;

use crate::catalog::{ColumnEntry, TableEntry, table_key};
use crate::error::LocalError;
use crate::plain;

use super::columns::nullable;
use super::local_engine::LocalEngine;
use super::writes::RowsWrite;

impl LocalEngine {
    pub(super) fn iceberg(&self) -> Result<crate::iceberg::WarehouseIceberg, LocalError> {
        crate::iceberg::WarehouseIceberg::new(self.catalog.clone()).map_err(ice_err("opening the Iceberg catalog"))
    }

    /// Builds an Iceberg table version from rows under a staging name, then switches the catalog entry to it.
    pub(super) async fn create_iceberg(
        &self,
        spec: &TableSpec,
        df: DataFrame,
        existing: Option<&TableEntry>,
        location: &str,
        read: Option<u64>,
    ) -> Result<(), LocalError> {
        use iceberg::Catalog as _;
        let r = &spec.relation;
        let ice = self.iceberg()?;
        let ns = iceberg::NamespaceIdent::new(r.schema_str().to_lowercase());
        ice.create_namespace(&ns, Default::default())
            .await
            .map_err(ice_err("creating the namespace"))?;
        let version = existing.map(|e| e.version + 1).unwrap_or(1);
        let stage_name = format!("{}__dbt_stage", r.identifier.as_str().to_lowercase());
        let stage = r
            .without_catalog()
            .with_identifier(stage_name.clone())
            .map_err(|e| LocalError::Data(e.to_string()))?;
        self.drop_relation(&stage, DropKind::Table)?; // left by a crashed run
        let dir = match existing {
            Some(e) => PathBuf::from(plain::fresh_version_dir(
                e.location.as_deref().unwrap_or(location),
                version,
            )),
            None => self.local_path(location)?,
        };
        plain::remove_dir(&dir.join("metadata"))?;
        plain::remove_dir(&dir.join("data"))?;
        let df = crate::iceberg::conform_rows(nullable(df)?).map_err(ice_err("preparing rows"))?;
        let arrow = df.schema().as_arrow().clone();
        let schema =
            iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(&arrow).map_err(ice_err("the table schema"))?;
        let partition = crate::iceberg::partition_spec(&schema, &spec.partition_by).map_err(ice_err("partition_by"))?;
        let creation = iceberg::TableCreation::builder()
            .name(stage_name.clone())
            .location(dir.display().to_string())
            .schema(schema)
            .partition_spec(partition)
            .properties(spec.properties.clone())
            .build();
        ice.create_table(&ns, creation)
            .await
            .map_err(ice_err(format!("creating {r}")))?;
        self.iceberg_append(&ns, &stage_name, df).await?;
        let skey = table_key(r.schema_str(), &stage_name);
        let partition_columns: Vec<String> = spec
            .partition_by
            .iter()
            .map(|p| p.column().as_str().to_string())
            .collect();
        self.catalog.update(|s| {
            let e = s
                .tables
                .get_mut(&skey)
                .ok_or_else(|| LocalError::NotFound(skey.clone()))?;
            e.comment = spec.comment.clone();
            e.partition_columns = partition_columns.clone();
            e.clustered_by = spec
                .clustered_by
                .as_ref()
                .map(|(c, n)| (c.iter().map(|i| i.as_str().to_string()).collect(), *n));
            e.properties = spec.properties.clone();
            Ok(())
        })?;
        self.swap_checked(&r.without_catalog(), &stage, read)
    }

    /// Appends rows to an Iceberg table in one commit (`fast_append`).
    pub(super) async fn iceberg_append(
        &self,
        ns: &iceberg::NamespaceIdent,
        table: &str,
        df: DataFrame,
    ) -> Result<(), LocalError> {
        let ice = Arc::new(self.iceberg()?);
        let provider = iceberg_datafusion::IcebergCatalogProvider::try_new(ice)
            .await
            .map_err(ice_err("opening the Iceberg catalog"))?;
        let schema = datafusion::catalog::CatalogProvider::schema(&provider, &ns.as_ref().join("."))
            .ok_or_else(|| LocalError::NotFound(ns.as_ref().join(".")))?;
        let t = schema
            .table(table)
            .await
            .map_err(LocalError::df("opening the Iceberg table"))?
            .ok_or_else(|| LocalError::NotFound(table.to_string()))?;
        let df = crate::iceberg::conform_rows(df).map_err(ice_err("preparing rows"))?;
        let state = self.ctx.state();
        let input = df
            .create_physical_plan()
            .await
            .map_err(LocalError::df("planning the rows"))?;
        let sink = t
            .insert_into(&state, input, datafusion::logical_expr::dml::InsertOp::Append)
            .await
            .map_err(LocalError::df(format!("appending to {table}")))?;
        datafusion::physical_plan::collect(sink, self.ctx.task_ctx())
            .await
            .map_err(LocalError::df(format!("appending to {table}")))?;
        Ok(())
    }

    /// The partition fields of an Iceberg table (its current spec, transforms included).
    pub(super) async fn iceberg_partition_fields(
        &self,
        relation: &RelationName,
    ) -> Result<Vec<glue_sql::types::PartitionField>, LocalError> {
        use iceberg::Catalog as _;
        let ident = iceberg::TableIdent::new(
            iceberg::NamespaceIdent::new(relation.schema_str().to_lowercase()),
            relation.identifier.as_str().to_lowercase(),
        );
        let table = self
            .iceberg()?
            .load_table(&ident)
            .await
            .map_err(ice_err(format!("loading {relation}")))?;
        crate::iceberg::partition_fields(table.metadata()).map_err(ice_err(format!("the partitioning of {relation}")))
    }

    pub(super) async fn iceberg_write_rows(
        &self,
        target: &RelationName,
        e: &TableEntry,
        df: DataFrame,
        mode: RowsWrite,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let partition_by = self.iceberg_partition_fields(target).await?;
        let spec = TableSpec {
            relation: target.clone(),
            format: FileFormat::Iceberg,
            partition_by: partition_by.clone(),
            clustered_by: None,
            properties: e.properties.clone(),
            options: BTreeMap::new(),
            location: e.location.clone(),
            own_location: true,
            comment: e.comment.clone(),
        };
        // The table's rows as the new columns have them, when the columns change (in the new version's commit).
        let adapted = match &columns {
            Some(c) => Some(self.adapted_rows(target, c).await?),
            None => None,
        };
        if let (RowsWrite::Append, Some(old)) = (mode, adapted.clone()) {
            // An append that changes the columns: the old rows and the new in one new version.
            let old = crate::iceberg::conform_rows(old).map_err(ice_err("preparing rows"))?;
            let new = crate::iceberg::conform_rows(df).map_err(ice_err("preparing rows"))?;
            let all = old
                .union(new)
                .map_err(LocalError::df("appending rows with new columns"))?;
            return self.create_table_read(&spec, all, true, Some(e.version)).await;
        }
        match mode {
            RowsWrite::Append => {
                let ns = iceberg::NamespaceIdent::new(target.schema_str().to_lowercase());
                self.iceberg_append(&ns, &target.identifier.as_str().to_lowercase(), df)
                    .await
            }
            // iceberg-rust commits appends only: a rebuild writes a new table version and switches to it.
            RowsWrite::ReplaceAll => self.create_table_read(&spec, df, true, Some(e.version)).await,
            RowsWrite::ReplacePartitions => {
                if partition_by.is_empty() {
                    return self.create_table_read(&spec, df, true, Some(e.version)).await;
                }
                // Spark's dynamic overwrite on Iceberg: the partitions (transformed values: a day of `days(ts)`, a
                // bucket of `bucket(16, id)`) the new rows fall in are replaced, the others kept.
                let new = crate::iceberg::conform_rows(df)
                    .map_err(ice_err("preparing rows"))?
                    .collect()
                    .await
                    .map_err(LocalError::df("the new rows"))?;
                let mut touched = std::collections::HashSet::new();
                for b in &new {
                    touched
                        .extend(crate::iceberg::partition_keys(b, &partition_by).map_err(ice_err("partition values"))?);
                }
                let old = match adapted {
                    Some(rows) => rows,
                    None => self.sql(&format!("SELECT * FROM {}", target.without_catalog())).await?,
                };
                let old = crate::iceberg::conform_rows(old)
                    .map_err(ice_err("preparing rows"))?
                    .collect()
                    .await
                    .map_err(LocalError::df("the kept partitions"))?;
                let mut kept = Vec::new();
                for b in &old {
                    let keys = crate::iceberg::partition_keys(b, &partition_by).map_err(ice_err("partition values"))?;
                    let keep: arrow_array::BooleanArray = keys.iter().map(|k| Some(!touched.contains(k))).collect();
                    kept.push(
                        datafusion::arrow::compute::filter_record_batch(b, &keep)
                            .map_err(|e| LocalError::Data(format!("the kept partitions: {e}")))?,
                    );
                }
                let frame = |batches: Vec<RecordBatch>| -> Result<Option<DataFrame>, LocalError> {
                    if batches.is_empty() {
                        return Ok(None);
                    }
                    // Both sides were collected from conformed rows.
                    self.ctx
                        .read_batches(batches)
                        .map(Some)
                        .map_err(LocalError::df("partition overwrite"))
                };
                let all = match (frame(kept)?, frame(new)?) {
                    (Some(k), Some(n)) => k.union(n).map_err(LocalError::df("partition overwrite"))?,
                    (Some(only), None) | (None, Some(only)) => only,
                    (None, None) => return Ok(()),
                };
                self.create_table_read(&spec, all, true, Some(e.version)).await
            }
        }
    }

    pub(super) async fn expire_snapshots(&self, relation: &RelationName, retain_last: u32) -> Result<(), LocalError> {
        use iceberg::Catalog as _;
        use iceberg::transaction::{ApplyTransactionAction, Transaction};
        let ice = self.iceberg()?;
        let ident = iceberg::TableIdent::new(
            iceberg::NamespaceIdent::new(relation.schema_str().to_lowercase()),
            relation.identifier.as_str().to_lowercase(),
        );
        let table = ice
            .load_table(&ident)
            .await
            .map_err(ice_err(format!("loading {relation}")))?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(i64::MAX);
        let tx = Transaction::new(&table);
        let tx = tx
            .expire_snapshots()
            .expire_older_than_ms(now_ms)
            .retain_last(retain_last.max(1) as usize)
            .apply(tx)
            .map_err(ice_err("expiring snapshots"))?;
        tx.commit(&ice)
            .await
            .map_err(ice_err(format!("expiring the snapshots of {relation}")))?;
        Ok(())
    }
}

pub(super) fn ice_err(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> LocalError {
    let context = context.into();
    move |e| LocalError::Data(format!("{context}: {e}"))
}

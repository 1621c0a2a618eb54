//! Delta Lake tables through `deltalake`: create / replace / append / overwrite (whole or the partitions present in
//! the new rows), MERGE, schema evolution, symlink manifests. Every write is one Delta commit, so readers see the old
//! or the new version, never a mix.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use url::Url;

use crate::error::LocalError;

fn url(location: &str) -> Result<Url, LocalError> {
    let path = std::path::Path::new(location);
    std::fs::create_dir_all(path).map_err(|e| LocalError::io(format!("creating {location}"), e))?;
    let abs = path
        .canonicalize()
        .map_err(|e| LocalError::io(format!("resolving {location}"), e))?;
    Url::from_directory_path(&abs).map_err(|_| LocalError::Data(format!("{location} is not a local directory")))
}

/// Opens the Delta table at `location` (an uninitialised table when there is none yet).
pub async fn open(location: &str) -> Result<DeltaTable, LocalError> {
    DeltaTable::try_from_url(url(location)?)
        .await
        .map_err(LocalError::delta(format!("opening Delta table {location}")))
}

/// The DataFusion table of the Delta table at `location`.
pub async fn provider(location: &str) -> Result<Arc<dyn TableProvider>, LocalError> {
    let table = open(location).await?;
    table
        .table_provider()
        .await
        .map_err(LocalError::df(format!("reading Delta table {location}")))
}

/// How rows are written.
#[derive(Debug, Clone)]
pub enum WriteMode {
    /// Replace the table (data and schema).
    Replace,
    /// Add rows; new columns are merged into the schema.
    Append,
    /// Replace the rows matching the predicate (a partition overwrite).
    ReplaceWhere(String),
}

/// What a Delta write creates or keeps besides the rows.
#[derive(Debug, Clone, Copy)]
pub struct TableMeta<'a> {
    /// Partition columns.
    pub partition_by: &'a [String],
    /// The table's name (Delta metadata).
    pub name: &'a str,
    /// Its description.
    pub description: Option<&'a str>,
    /// Table properties (Delta configuration).
    pub properties: &'a std::collections::BTreeMap<String, String>,
}

/// Writes a DataFrame to the Delta table at `location` in one commit.
pub async fn write(
    ctx: &SessionContext,
    location: &str,
    df: DataFrame,
    mode: WriteMode,
    meta: TableMeta<'_>,
) -> Result<DeltaTable, LocalError> {
    let TableMeta {
        partition_by,
        name,
        description,
        properties,
    } = meta;
    let table = open(location).await?;
    let plan = df.logical_plan().clone();
    let mut w = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(Arc::new(ctx.state()))
        .with_table_name(name);
    if !partition_by.is_empty() {
        w = w.with_partition_columns(partition_by.to_vec());
    }
    if let Some(d) = description {
        w = w.with_description(d);
    }
    if !properties.is_empty() {
        w = w.with_configuration(properties.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    }
    w = match mode {
        WriteMode::Replace => w
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite),
        WriteMode::Append => w.with_save_mode(SaveMode::Append).with_schema_mode(SchemaMode::Merge),
        // New columns (a schema change committed with the rows) merge into the table's schema.
        WriteMode::ReplaceWhere(p) => w
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(p)
            .with_schema_mode(SchemaMode::Merge),
    };
    crate::failpoint::hit("delta.before_commit");
    w.await
        .map_err(LocalError::delta(format!("writing Delta table {location}")))
}

/// One WHEN clause: an optional extra predicate and `column = expression` assignments.
#[derive(Debug, Clone, Default)]
pub struct MergeClause {
    /// `AND predicate`.
    pub predicate: Option<String>,
    /// Column and SQL expression over the two aliases.
    pub set: Vec<(String, String)>,
}

/// A MERGE for [`merge`]: all strings are SQL expressions over the two aliases.
#[derive(Debug, Clone, Default)]
pub struct MergeSpec {
    /// The ON condition.
    pub on: String,
    /// WHEN MATCHED [AND predicate] THEN UPDATE SET col = expr.
    pub update: Option<MergeClause>,
    /// WHEN NOT MATCHED [AND predicate] THEN INSERT (col) VALUES (expr).
    pub insert: Option<MergeClause>,
}

/// Runs a MERGE into the Delta table at `location` in one commit.
pub async fn merge(
    ctx: &SessionContext,
    location: &str,
    source: DataFrame,
    source_alias: &str,
    target_alias: &str,
    spec: MergeSpec,
    merge_schema: bool,
) -> Result<DeltaTable, LocalError> {
    let table = open(location).await?;
    let ctxt = || format!("merging into Delta table {location}");
    let mut m = table
        .merge(source, spec.on.as_str())
        .with_source_alias(source_alias)
        .with_target_alias(target_alias)
        .with_merge_schema(merge_schema)
        .with_session_state(Arc::new(ctx.state()));
    if let Some(MergeClause { predicate, set }) = spec.update {
        m = m
            .when_matched_update(|mut u| {
                if let Some(p) = predicate {
                    u = u.predicate(p);
                }
                for (c, e) in set {
                    u = u.update(c.as_str(), e);
                }
                u
            })
            .map_err(LocalError::delta(ctxt()))?;
    }
    if let Some(MergeClause { predicate, set }) = spec.insert {
        m = m
            .when_not_matched_insert(|mut i| {
                if let Some(p) = predicate {
                    i = i.predicate(p);
                }
                for (c, e) in set {
                    i = i.set(c.as_str(), e);
                }
                i
            })
            .map_err(LocalError::delta(ctxt()))?;
    }
    crate::failpoint::hit("delta.before_commit");
    let (table, _metrics) = m.await.map_err(LocalError::delta(ctxt()))?;
    Ok(table)
}

/// Writes the symlink-format manifest next to the Delta log (what Athena reads).
pub async fn generate_manifest(location: &str) -> Result<(), LocalError> {
    let table = open(location).await?;
    table
        .generate()
        .await
        .map_err(LocalError::delta(format!("generating the manifest of {location}")))?;
    Ok(())
}

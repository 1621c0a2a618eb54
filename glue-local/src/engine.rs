//! `LocalEngine`: the `Engine` of glue-materialize on a local warehouse directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use datafusion::datasource::view::ViewTable;
use datafusion::logical_expr::{Expr, cast};
use datafusion::prelude::{DataFrame, SessionContext, ident};
use glue_materialize::engine::{Capabilities, PlanOutcome, RelationInfo};
use glue_materialize::render::{RenderContext, query_sql, snapshot_sql};
use glue_materialize::schema::{SchemaDiff, schema_change};
use glue_materialize::step::{Partitions, Query, Step, TableSpec, TempKind, UpdateColumns};
use glue_materialize::{Engine, EngineError, Existing, ExistingTable, FileFormat, Plan, StepKind, TableFormat};
use glue_sql::ddl::{AlterTable, DropKind};
use glue_sql::dml::{DEST_ALIAS, SOURCE_ALIAS};
use glue_sql::types::ColumnDef;
use glue_sql::{RelationName, SqlFragment};

use crate::catalog::{Catalog, ColumnEntry, DatabaseEntry, EntryKind, TableEntry, table_key};
use crate::error::LocalError;
use crate::session::{self, WarehouseCatalog};
use crate::types::{arrow_type, spark_type};
use crate::{delta, failpoint, plain};

/// The formats the embedded engine writes.
pub const FORMATS: [FileFormat; 5] = [
    FileFormat::Parquet,
    FileFormat::Csv,
    FileFormat::Json,
    FileFormat::Delta,
    FileFormat::Iceberg,
];

/// The embedded engine over one warehouse directory.
pub struct LocalEngine {
    root: PathBuf,
    catalog: Catalog,
    ctx: SessionContext,
    warehouse: WarehouseCatalog,
    now: String,
    /// Column changes of a plan's `SyncSchema` waiting for the target's next write, which commits them with its
    /// rows (by table key): a model whose write fails leaves the table's schema as it was.
    pending: std::sync::Mutex<std::collections::HashMap<String, Vec<ColumnEntry>>>,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine").field("root", &self.root).finish()
    }
}

fn is_plain(f: FileFormat) -> bool {
    matches!(f, FileFormat::Parquet | FileFormat::Csv | FileFormat::Json)
}

impl LocalEngine {
    /// Opens (or starts) the warehouse at `root`; unqualified names resolve to `current_schema` after temp views.
    pub fn open(root: impl Into<PathBuf>, current_schema: &str) -> Result<Self, LocalError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| LocalError::io(format!("creating {}", root.display()), e))?;
        let root = root
            .canonicalize()
            .map_err(|e| LocalError::io(format!("resolving {}", root.display()), e))?;
        let catalog = Catalog::new(&root);
        catalog.read()?; // a corrupt catalog is reported now, not at the first query
        let (ctx, warehouse) = session::new_context(catalog.clone(), current_schema);
        Ok(Self {
            root,
            catalog,
            ctx,
            warehouse,
            now: String::new(),
            pending: Default::default(),
        })
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The warehouse catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The DataFusion session.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs Spark SQL and returns a DataFrame.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, LocalError> {
        session::sql(&self.ctx, sql).await.map_err(LocalError::df("query"))
    }

    /// Creates a database (schema) directory and catalog entry if missing.
    pub fn create_schema(&self, schema: &str) -> Result<(), LocalError> {
        let location = self.root.join(schema.to_lowercase());
        std::fs::create_dir_all(&location)
            .map_err(|e| LocalError::io(format!("creating {}", location.display()), e))?;
        self.catalog.update(|s| {
            s.databases.entry(schema.to_lowercase()).or_insert(DatabaseEntry {
                location: location.display().to_string(),
                comment: None,
            });
            Ok(())
        })
    }

    /// A plan location as a local path: plain paths and `file://` URLs; anything else is refused.
    fn local_path(&self, location: &str) -> Result<PathBuf, LocalError> {
        let l = location.strip_prefix("file://").unwrap_or(location);
        if l.contains("://") {
            return Err(LocalError::Unsupported(format!(
                "location `{location}`: the embedded engine writes local paths only (set the profile's location to a \
                 directory)"
            )));
        }
        Ok(PathBuf::from(l))
    }

    /// Deletes a data directory if glue-rs owns it (inside the warehouse); locations elsewhere are left alone.
    fn remove_owned(&self, location: &str) -> Result<(), LocalError> {
        let p = self.local_path(location)?;
        if self.inside_warehouse(&p) {
            plain::remove_dir(&p)?;
        }
        Ok(())
    }

    fn inside_warehouse(&self, path: &Path) -> bool {
        path.canonicalize()
            .is_ok_and(|p| p.starts_with(&self.root) && p != self.root)
    }

    fn entry(&self, r: &RelationName) -> Result<Option<TableEntry>, LocalError> {
        Ok(self
            .catalog
            .read()?
            .table(r.schema_str(), r.identifier.as_str())
            .cloned())
    }

    fn require(&self, r: &RelationName) -> Result<TableEntry, LocalError> {
        self.entry(r)?.ok_or_else(|| LocalError::NotFound(r.to_string()))
    }

    /// The columns of a relation: a temporary view's, a view's or a table's.
    async fn columns_of(&self, r: &RelationName) -> Result<Vec<ColumnDef>, LocalError> {
        if r.is_temporary() {
            let t = self
                .warehouse
                .temp(r.identifier.as_str())
                .ok_or_else(|| LocalError::NotFound(r.to_string()))?;
            return schema_columns(&t.schema());
        }
        let e = self.require(r)?;
        if e.kind == EntryKind::View {
            let df = self.sql(&format!("SELECT * FROM {}", r.without_catalog())).await?;
            return schema_columns(df.schema().as_arrow());
        }
        column_defs(e.columns.iter())
    }

    fn render_ctx(&self, target: Option<Vec<ColumnDef>>, source: Option<Vec<ColumnDef>>) -> RenderContext {
        RenderContext {
            now: self.now.clone(),
            target_columns: target,
            source_columns: source,
        }
    }

    /// The model query of a step as a DataFrame (with `update_iceberg_ts` when asked).
    async fn query_df(&self, q: &Query) -> Result<DataFrame, LocalError> {
        let mut ctx = self.render_ctx(None, None);
        if q.add_iceberg_timestamp {
            let df = self.sql(q.sql.as_str()).await?;
            ctx.source_columns = Some(schema_columns(df.schema().as_arrow())?);
        }
        let sql = query_sql(q, &ctx).map_err(|e| LocalError::Data(e.to_string()))?;
        self.sql(sql.as_str()).await
    }

    // ---- steps -----------------------------------------------------------------------------------------------

    /// Runs one step.
    pub async fn run_step(&self, step: &Step) -> Result<(), LocalError> {
        self.run_step_in(step, false).await
    }

    /// Runs one step of a plan; with `deferred`, a `SyncSchema` step only checks its column changes and leaves them
    /// for the target's next write step, which commits them with its rows.
    async fn run_step_in(&self, step: &Step, deferred: bool) -> Result<(), LocalError> {
        match step {
            Step::RunPython { .. } => {
                return Err(LocalError::Unsupported(
                    "Python models (they run on Glue sessions)".into(),
                ));
            }
            Step::Hook { sql, .. } => {
                self.sql(sql.as_str())
                    .await?
                    .collect()
                    .await
                    .map_err(LocalError::df("running a hook"))?;
            }
            Step::CheckQuery { query, .. } => {
                self.query_df(query).await?; // planning analyses the query; nothing runs
            }
            Step::Drop { relation, kind, .. } => self.drop_relation(relation, *kind)?,
            Step::CreateTableAs { table, query, replace } => {
                let df = self.query_df(query).await?;
                self.create_table(table, df, *replace).await?;
            }
            Step::SwapTable {
                target,
                staging,
                expected_version,
                ..
            } => {
                let expected = expected_version.as_deref().and_then(|v| v.parse().ok());
                self.swap_checked(target, staging, expected)?
            }
            Step::DeleteLocation { location } => self.remove_owned(location)?,
            Step::CreateView {
                relation,
                query,
                comment,
            } => {
                let sql =
                    query_sql(query, &self.render_ctx(None, None)).map_err(|e| LocalError::Data(e.to_string()))?;
                let df = self.sql(sql.as_str()).await?;
                let columns = column_entries(df.schema().as_arrow())?;
                let key = key_of(relation);
                let entry = TableEntry {
                    kind: EntryKind::View,
                    format: None,
                    location: None,
                    columns,
                    partition_columns: vec![],
                    clustered_by: None,
                    properties: BTreeMap::new(),
                    comment: comment.clone(),
                    view_sql: Some(sql.trimmed().to_string()),
                    version: 1,
                    previous_location: None,
                    iceberg_metadata: None,
                };
                self.catalog.update(|s| {
                    if s.tables.get(&key).is_some_and(|e| e.kind == EntryKind::Table) {
                        return Err(LocalError::Data(format!(
                            "{relation} is a table; drop it before creating a view"
                        )));
                    }
                    s.tables.insert(key.clone(), entry);
                    Ok(())
                })?;
            }
            Step::CreateTempRelation {
                relation, kind, query, ..
            } => {
                let df = self.query_df(query).await?;
                self.temp_relation(relation, *kind, df).await?;
            }
            Step::SyncSchema {
                target,
                source,
                mode,
                format,
                ignore_prefix,
            } => {
                let src = self.columns_of(source).await?;
                let tgt = self.columns_of(target).await?;
                let diff = SchemaDiff::between(&src, &tgt, ignore_prefix.as_deref());
                let alters = schema_change(target, &diff, *mode, *format)?;
                if alters.is_empty() {
                    return Ok(());
                }
                // Every change is checked before anything is committed.
                let entry = self.require(target)?;
                let columns = evolved_columns(target, &entry, &alters)?;
                if deferred {
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key_of(target), columns);
                } else {
                    self.apply_columns(target, &entry, columns).await?;
                }
            }
            Step::InsertInto { target, source } => {
                let columns = self.take_pending(target);
                let df = self.conformed_to(target, columns.as_deref(), source).await?;
                self.write_rows(target, df, RowsWrite::Append, columns).await?;
            }
            Step::InsertOverwrite {
                target,
                source,
                partitions,
                ..
            } => {
                let columns = self.take_pending(target);
                let df = self.conformed_to(target, columns.as_deref(), source).await?;
                let mode = match partitions {
                    Partitions::Whole => RowsWrite::ReplaceAll,
                    Partitions::Dynamic(_) => RowsWrite::ReplacePartitions,
                };
                self.write_rows(target, df, mode, columns).await?;
            }
            Step::Merge {
                target,
                source,
                keys,
                predicates,
                update,
            } => {
                let columns = self.take_pending(target);
                self.merge(target, source, keys, predicates, update, columns).await?;
            }
            Step::SnapshotCreate { table, spec, query } => {
                let s = snapshot_sql(spec, &self.render_ctx(None, None), false)
                    .map_err(|e| LocalError::Data(e.to_string()))?;
                let df = self.sql(&s.build_select(query)).await?;
                self.create_table(table, df, false).await?;
            }
            Step::SnapshotStaging {
                staging,
                kind,
                target,
                spec,
                query,
            } => {
                let src = schema_columns(self.sql(query.as_str()).await?.schema().as_arrow())?;
                let s = snapshot_sql(spec, &self.render_ctx(None, Some(src.clone())), true)
                    .map_err(|e| LocalError::Data(e.to_string()))?;
                let names: Vec<_> = src.iter().map(|c| c.name.clone()).collect();
                let df = self
                    .sql(&s.staging_select(query, &target.without_catalog(), &names))
                    .await?;
                self.temp_relation(staging, *kind, df).await?;
            }
            Step::SnapshotMerge { target, staging, spec } => {
                let columns = self.take_pending(target);
                self.snapshot_merge(target, staging, spec, columns).await?
            }
            Step::LoadSeed {
                relation,
                path,
                format,
                mode,
                location,
                column_types,
                exists,
                replace,
                ..
            } => {
                self.load_seed(
                    relation,
                    path.as_deref(),
                    *format,
                    *mode,
                    location.as_deref(),
                    column_types,
                    *exists,
                    *replace,
                )
                .await?;
            }
            Step::RefreshTable { .. } => {} // no caches: every query reads the catalog and the files afresh
            Step::PersistColumnDocs { relation, columns } => {
                let key = key_of(relation);
                self.catalog.update(|s| {
                    let e = s
                        .tables
                        .get_mut(&key)
                        .ok_or_else(|| LocalError::NotFound(relation.to_string()))?;
                    for (name, comment) in columns {
                        if let Some(c) = e
                            .columns
                            .iter_mut()
                            .find(|c| c.name.eq_ignore_ascii_case(name.as_str()))
                        {
                            c.comment = Some(comment.clone());
                        }
                    }
                    Ok(())
                })?;
            }
            Step::DeltaManifest { location, .. } => {
                // The symlink manifest is written as on Glue; the Athena table over it is a Glue-only artefact.
                delta::generate_manifest(&self.local_path(location)?.display().to_string()).await?;
            }
            Step::HudiWrite { .. } => {
                return Err(LocalError::Unsupported("file_format hudi".into()));
            }
            Step::ExpireSnapshots {
                relation, retain_last, ..
            } => self.expire_snapshots(relation, *retain_last).await?,
            Step::LakeFormation { .. } => {
                return Err(LocalError::Unsupported(
                    "Lake Formation tags and data-cell filters (an AWS service)".into(),
                ));
            }
        }
        Ok(())
    }

    /// A plan's temporary relation: a temporary view, or a physical table (an Iceberg table, as dbt-glue builds
    /// one without `use_iceberg_temp_views`: a model's temp relation, a snapshot's staging).
    async fn temp_relation(&self, relation: &RelationName, kind: TempKind, df: DataFrame) -> Result<(), LocalError> {
        if kind != TempKind::Table {
            self.register_temp(relation.identifier.as_str(), df);
            return Ok(());
        }
        let spec = TableSpec {
            relation: relation.clone(),
            format: FileFormat::Iceberg,
            partition_by: vec![],
            clustered_by: None,
            properties: BTreeMap::new(),
            options: BTreeMap::new(),
            location: None,
            own_location: false,
            comment: None,
        };
        self.create_table(&spec, df, true).await
    }

    fn register_temp(&self, name: &str, df: DataFrame) {
        let plan = df.logical_plan().clone();
        let view = ViewTable::new(plan, None);
        self.warehouse.register_temp(name, Arc::new(view));
    }

    fn drop_relation(&self, r: &RelationName, kind: DropKind) -> Result<(), LocalError> {
        if r.is_temporary() {
            self.warehouse.drop_temp(r.identifier.as_str());
            return Ok(());
        }
        let key = key_of(r);
        let removed = self.catalog.update(|s| {
            match s.tables.get(&key) {
                None => return Ok(None),
                Some(e) if (e.kind == EntryKind::View) != (kind == DropKind::View) => {
                    let what = if e.kind == EntryKind::View { "a view" } else { "a table" };
                    return Err(LocalError::Data(format!("cannot drop {r}: it is {what}")));
                }
                Some(_) => {}
            }
            Ok(s.tables.remove(&key))
        })?;
        // Tables glue-rs created inside the warehouse are managed: their files go with them.
        if let Some(e) = removed {
            for l in e.location.iter().chain(e.previous_location.iter()) {
                self.remove_owned(l)?;
            }
        }
        Ok(())
    }

    async fn create_table(&self, spec: &TableSpec, df: DataFrame, replace: bool) -> Result<(), LocalError> {
        self.create_table_read(spec, df, replace, None).await
    }

    /// [`LocalEngine::create_table`] of rows read from the table it replaces at version `read` (a rewrite: a
    /// partition overwrite, a MERGE as a new version): the switch fails ([`LocalError::Conflict`]) when another run
    /// changed the table since, whatever version the table is at when the write starts.
    async fn create_table_read(
        &self,
        spec: &TableSpec,
        df: DataFrame,
        replace: bool,
        read: Option<u64>,
    ) -> Result<(), LocalError> {
        let r = &spec.relation;
        let format = spec.format;
        if !FORMATS.contains(&format) {
            return Err(LocalError::Unsupported(format!("file_format {format}")));
        }
        let existing = self.entry(r)?;
        if let Some(e) = &existing
            && (!replace || e.kind == EntryKind::View)
        {
            return Err(LocalError::Data(format!("{r} already exists")));
        }
        let location = spec.location.clone().unwrap_or_else(|| {
            self.root
                .join(r.schema_str())
                .join(r.identifier.as_str())
                .display()
                .to_string()
        });
        let partition_by: Vec<String> = spec
            .partition_by
            .iter()
            .map(|p| p.column().as_str().to_string())
            .collect();
        let read = read.or(existing.as_ref().map(|e| e.version));
        if format == FileFormat::Iceberg {
            return self.create_iceberg(spec, df, existing.as_ref(), &location, read).await;
        }
        if spec.partition_by.iter().any(|p| !p.is_identity()) {
            // As Spark: transforms are Iceberg's.
            return Err(LocalError::Data(format!(
                "{r}: partition transforms ({}) are for Iceberg tables; file_format {format} partitions by columns",
                spec.partition_by
                    .iter()
                    .filter(|p| !p.is_identity())
                    .map(|p| p.to_sql())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let df = partition_columns_last(nullable(df)?, &partition_by)?;
        let columns = column_entries(df.schema().as_arrow())?;
        let path = self.local_path(&location)?;
        let version = existing.as_ref().map(|e| e.version + 1).unwrap_or(1);
        let (data_location, previous) = if format == FileFormat::Delta {
            // CREATE OR REPLACE is one Delta commit; a first CREATE over a Delta log that no catalog entry owns
            // (a table dropped outside the warehouse) replaces it too, as Spark's CTAS would.
            let mode = delta::WriteMode::Replace;
            let owner = self
                .catalog
                .read()?
                .tables
                .into_iter()
                .find(|(_, e)| e.location.as_deref().is_some_and(|l| Path::new(l) == path));
            if let Some((key, _)) = owner
                && key != key_of(r)
            {
                return Err(LocalError::Data(format!(
                    "{} holds the data of table {key}",
                    path.display()
                )));
            }
            let desc = spec.comment.as_deref();
            delta::write(
                &self.ctx,
                &path.display().to_string(),
                df,
                mode,
                delta::TableMeta {
                    partition_by: &partition_by,
                    name: r.identifier.as_str(),
                    description: desc,
                    properties: &spec.properties,
                },
            )
            .await?;
            (path.display().to_string(), None)
        } else {
            // Plain formats: a directory of this writer's own, never files mixed into a live table's or another
            // writer's.
            let dir = PathBuf::from(plain::fresh_version_dir(
                existing
                    .as_ref()
                    .and_then(|e| e.location.as_deref())
                    .unwrap_or(&path.display().to_string()),
                version,
            ));
            if !plain::data_files(&dir)?.is_empty() {
                let live = self
                    .catalog
                    .read()?
                    .tables
                    .values()
                    .any(|e| e.location.as_deref().is_some_and(|l| Path::new(l) == dir));
                if live {
                    return Err(LocalError::Data(format!(
                        "{} holds the data of another table",
                        dir.display()
                    )));
                }
                plain::remove_dir(&dir)?; // leftovers of a dropped table or a crashed write
            }
            plain::write_files(df, &dir, format, &partition_by).await?;
            (
                dir.display().to_string(),
                existing.as_ref().and_then(|e| e.location.clone()),
            )
        };
        let entry = TableEntry {
            kind: EntryKind::Table,
            format: Some(format),
            location: Some(data_location),
            columns: with_comments(columns, existing.as_ref()),
            partition_columns: partition_by,
            clustered_by: spec
                .clustered_by
                .as_ref()
                .map(|(c, n)| (c.iter().map(|i| i.as_str().to_string()).collect(), *n)),
            properties: spec.properties.clone(),
            comment: spec.comment.clone(),
            view_sql: None,
            version,
            previous_location: previous,
            iceberg_metadata: None,
        };
        let written = entry.location.clone().filter(|_| is_plain(format));
        self.commit_entry_checked(r, entry, Some(read), written.as_deref())
    }

    /// Writes a table entry, deleting the data of the version before the previous one. For a writer that read the
    /// table at version `read` (`Some(None)`: it was absent), under the catalog lock, a table no longer at that version was changed by another writer that committed
    /// first; this write fails ([`LocalError::Conflict`]) and its data directory `written` is removed.
    fn commit_entry_checked(
        &self,
        r: &RelationName,
        entry: TableEntry,
        read: Option<Option<u64>>,
        written: Option<&str>,
    ) -> Result<(), LocalError> {
        failpoint::hit("catalog.before_switch");
        let key = key_of(r);
        let committed = self.catalog.update(|s| {
            if let Some(read) = read {
                let now = s.tables.get(&key).map(|e| e.version);
                if now != read {
                    return Err(LocalError::Conflict(format!(
                        "{r} changed since this run read it (version {}, now {}): another run wrote it first; \
                         this run's rows were not published",
                        read.map_or("absent".to_string(), |v| v.to_string()),
                        now.map_or("absent".to_string(), |v| v.to_string())
                    )));
                }
            }
            let old = s.tables.insert(key.clone(), entry.clone());
            Ok(old
                .and_then(|o| o.previous_location)
                .filter(|p| Some(p) != entry.location.as_ref() && Some(p) != entry.previous_location.as_ref()))
        });
        let stale = match committed {
            Ok(stale) => stale,
            Err(e) => {
                if let (LocalError::Conflict(_), Some(w)) = (&e, written) {
                    let _ = self.remove_owned(w);
                }
                return Err(e);
            }
        };
        failpoint::hit("catalog.after_switch");
        if let Some(p) = stale {
            self.remove_owned(&p)?;
        }
        Ok(())
    }

    /// Switches `target` to the table built as `staging`; with `expected`, only if `target` is still at the version
    /// this run read (else another run replaced it first: [`LocalError::Conflict`], and this run's staging table
    /// goes).
    fn swap_checked(
        &self,
        target: &RelationName,
        staging: &RelationName,
        expected: Option<u64>,
    ) -> Result<(), LocalError> {
        let tkey = key_of(target);
        let skey = key_of(staging);
        failpoint::hit("swap.before_switch");
        let switched = self.catalog.update(|s| {
            if let Some(v) = expected {
                let now = s.tables.get(&tkey).map(|e| e.version);
                if now != Some(v) {
                    return Err(LocalError::Conflict(format!(
                        "{target} changed since this run read it (version {v}, now {}): another run replaced it \
                         first; this run's result was not published",
                        now.map_or("absent".to_string(), |n| n.to_string())
                    )));
                }
            }
            let mut new = s.tables.remove(&skey).ok_or_else(|| {
                LocalError::Conflict(format!(
                    "the staging table {staging} this run built is gone: another run rebuilding {target} at the \
                     same time removed it; this run's result was not published"
                ))
            })?;
            let old = s.tables.remove(&tkey);
            let (version, previous, stale) = match &old {
                Some(o) => (o.version + 1, o.location.clone(), o.previous_location.clone()),
                None => (1, None, None),
            };
            new.version = version;
            new.previous_location = previous;
            if let Some(o) = &old {
                new.columns = with_comments(new.columns, Some(o));
            }
            s.tables.insert(tkey.clone(), new);
            Ok(stale)
        });
        let stale = match switched {
            Ok(stale) => stale,
            Err(e @ LocalError::Conflict(_)) if expected.is_some() => {
                // This run's staging table, if it is still there, is not published: it goes with its files.
                let _ = self.drop_relation(staging, DropKind::Table);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        failpoint::hit("swap.after_switch");
        if let Some(p) = stale {
            self.remove_owned(&p)?;
        }
        Ok(())
    }

    async fn alter(&self, a: &AlterTable) -> Result<(), LocalError> {
        match a {
            AlterTable::AddColumns(t, cols) => {
                let e = self.require(t)?;
                if e.format == Some(FileFormat::Delta) {
                    // A Delta schema change is a commit: append no rows with the wider schema.
                    let mut fields: Vec<Expr> = e.columns.iter().map(|c| ident(c.name.as_str())).collect();
                    for c in cols {
                        let dt = arrow_type(c.data_type.as_str())?;
                        fields.push(
                            cast(Expr::Literal(datafusion::scalar::ScalarValue::Null, None), dt).alias(c.name.as_str()),
                        );
                    }
                    let df = self
                        .sql(&format!("SELECT * FROM {} LIMIT 0", t.without_catalog()))
                        .await?;
                    let df = df.select(fields).map_err(LocalError::df("adding columns"))?;
                    let loc = e.location.clone().unwrap_or_default();
                    delta::write(
                        &self.ctx,
                        &loc,
                        df,
                        delta::WriteMode::Append,
                        delta::TableMeta {
                            partition_by: &e.partition_columns,
                            name: t.identifier.as_str(),
                            description: None,
                            properties: &BTreeMap::new(),
                        },
                    )
                    .await?;
                }
                let key = key_of(t);
                self.catalog.update(|s| {
                    let e = s
                        .tables
                        .get_mut(&key)
                        .ok_or_else(|| LocalError::NotFound(t.to_string()))?;
                    // New columns go before the partition columns, as Spark shows them.
                    let at = e.columns.len() - e.partition_columns.len().min(e.columns.len());
                    for (i, c) in cols.iter().enumerate() {
                        e.columns.insert(
                            at + i,
                            ColumnEntry {
                                name: c.name.as_str().to_string(),
                                data_type: c.data_type.as_str().to_string(),
                                comment: c.comment.clone(),
                            },
                        );
                    }
                    Ok(())
                })
            }
            other => Err(LocalError::Unsupported(format!("`{}`", other.to_sql()))),
        }
    }

    /// The source rows in the target's column order and types (by name, case-insensitive).
    async fn conformed(&self, target: &RelationName, source: &RelationName) -> Result<DataFrame, LocalError> {
        self.conformed_to(target, None, source).await
    }

    /// [`LocalEngine::conformed`] to `columns` when given (the target's columns after a pending schema change).
    async fn conformed_to(
        &self,
        target: &RelationName,
        columns: Option<&[ColumnEntry]>,
        source: &RelationName,
    ) -> Result<DataFrame, LocalError> {
        let tgt = match columns {
            Some(c) => column_defs(c.iter())?,
            None => self.columns_of(target).await?,
        };
        let df = self.sql(&format!("SELECT * FROM {source}")).await?;
        let src_names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut exprs = Vec::new();
        for c in &tgt {
            let Some(name) = src_names.iter().find(|n| n.eq_ignore_ascii_case(c.name.as_str())) else {
                return Err(LocalError::Data(format!(
                    "the new rows of {target} lack column `{}` (on_schema_change keeps the table's columns)",
                    c.name.as_str()
                )));
            };
            exprs.push(cast(ident(name.as_str()), arrow_type(c.data_type.as_str())?).alias(c.name.as_str()));
        }
        df.select(exprs)
            .map_err(LocalError::df(format!("selecting the columns of {target}")))
    }

    /// Writes rows into an existing table; with `columns`, the table's columns change to them in the same commit
    /// (a pending `SyncSchema`): Delta merges the new columns into its schema with the rows, Iceberg writes the
    /// table's new version with both, plain formats record them in the entry that publishes the new files.
    async fn write_rows(
        &self,
        target: &RelationName,
        df: DataFrame,
        mode: RowsWrite,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        let format = e
            .format
            .ok_or_else(|| LocalError::Data(format!("{target} has no format")))?;
        let loc = e
            .location
            .clone()
            .ok_or_else(|| LocalError::Data(format!("{target} has no location")))?;
        if format == FileFormat::Delta {
            // New columns join the Delta schema with these rows: nullable, as Spark's ADD COLUMNS makes them.
            let df = if columns.is_some() { nullable(df)? } else { df };
            let mode = match mode {
                RowsWrite::Append => delta::WriteMode::Append,
                RowsWrite::ReplaceAll => delta::WriteMode::Replace,
                RowsWrite::ReplacePartitions => {
                    delta::WriteMode::ReplaceWhere(self.partition_predicate(&df, &e.partition_columns).await?)
                }
            };
            delta::write(
                &self.ctx,
                &loc,
                df,
                mode,
                delta::TableMeta {
                    partition_by: &e.partition_columns,
                    name: target.identifier.as_str(),
                    description: None,
                    properties: &BTreeMap::new(),
                },
            )
            .await?;
            if let Some(columns) = columns {
                self.record_columns(target, columns)?;
            }
            return Ok(());
        }
        if format == FileFormat::Iceberg {
            return self.iceberg_write_rows(target, &e, df, mode, columns).await;
        }
        if !is_plain(format) {
            return Err(LocalError::Unsupported(format!("writing rows to a {format} table")));
        }
        let version = e.version + 1;
        let new_dir = PathBuf::from(plain::fresh_version_dir(&loc, version));
        let old_dir = self.local_path(&loc)?;
        let df = partition_columns_last(df, &e.partition_columns)?;
        plain::write_files(df, &new_dir, format, &e.partition_columns).await?;
        match mode {
            RowsWrite::Append => plain::link_files(&old_dir, &new_dir, |_| true)?,
            RowsWrite::ReplaceAll => {}
            RowsWrite::ReplacePartitions => {
                let touched = plain::partition_dirs(&new_dir)?;
                plain::link_files(&old_dir, &new_dir, |part| !touched.contains(part))?;
            }
        }
        let mut entry = e.clone();
        entry.version = version;
        entry.previous_location = Some(loc);
        entry.location = Some(new_dir.display().to_string());
        if let Some(columns) = columns {
            entry.columns = columns;
        }
        let written = new_dir.display().to_string();
        self.commit_entry_checked(target, entry, Some(Some(e.version)), Some(&written))
    }

    /// The column changes a `SyncSchema` left for `target`'s write, if any.
    fn take_pending(&self, target: &RelationName) -> Option<Vec<ColumnEntry>> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key_of(target))
    }

    /// Records a table's columns in its catalog entry (after a Delta commit that changed them).
    fn record_columns(&self, target: &RelationName, columns: Vec<ColumnEntry>) -> Result<(), LocalError> {
        let key = key_of(target);
        self.catalog.update(|s| {
            let e = s
                .tables
                .get_mut(&key)
                .ok_or_else(|| LocalError::NotFound(target.to_string()))?;
            e.columns = columns.clone();
            Ok(())
        })
    }

    /// Changes `target`'s columns to `columns` with no rows to write (a `SyncSchema` no write step follows), in one
    /// commit: an Iceberg table is rewritten as a new version with them; Delta commits the wider schema; a plain
    /// table's entry records them.
    async fn apply_columns(
        &self,
        target: &RelationName,
        e: &TableEntry,
        columns: Vec<ColumnEntry>,
    ) -> Result<(), LocalError> {
        match e.format {
            Some(FileFormat::Iceberg) => {
                let rows = self.adapted_rows(target, &columns).await?;
                self.iceberg_write_rows(target, e, rows, RowsWrite::ReplaceAll, None)
                    .await
            }
            Some(FileFormat::Delta) => {
                // Only added columns reach here (`evolved_columns` refuses the rest): ADD COLUMNS commits them to
                // the Delta log and records them in the entry, at the positions `evolved_columns` gave them.
                let new = columns
                    .iter()
                    .filter(|c| !e.columns.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name)));
                self.alter(&AlterTable::AddColumns(target.clone(), column_defs(new)?))
                    .await
            }
            _ => self.record_columns(target, columns),
        }
    }

    /// The rows of `target` with `columns`: the columns it lacks as NULLs, retyped ones cast, dropped ones gone.
    async fn adapted_rows(&self, target: &RelationName, columns: &[ColumnEntry]) -> Result<DataFrame, LocalError> {
        let df = self.sql(&format!("SELECT * FROM {}", target.without_catalog())).await?;
        let have: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let exprs = columns
            .iter()
            .map(|c| {
                let t = arrow_type(c.data_type.as_str())?;
                let value = match have.iter().find(|h| h.eq_ignore_ascii_case(&c.name)) {
                    Some(h) => cast(ident(h.as_str()), t),
                    None => cast(Expr::Literal(datafusion::scalar::ScalarValue::Null, None), t),
                };
                Ok(value.alias(c.name.as_str()))
            })
            .collect::<Result<Vec<_>, LocalError>>()?;
        df.select(exprs)
            .map_err(LocalError::df(format!("the rows of {target} with its new columns")))
    }

    /// `col IN (…)` over the partition values present in `df` (the partitions a dynamic overwrite replaces).
    async fn partition_predicate(&self, df: &DataFrame, cols: &[String]) -> Result<String, LocalError> {
        if cols.is_empty() {
            return Ok("TRUE".into());
        }
        let exprs: Vec<Expr> = cols
            .iter()
            .map(|c| cast(ident(c.as_str()), arrow_schema::DataType::Utf8).alias(c.as_str()))
            .collect();
        let batches = df
            .clone()
            .select(exprs)
            .and_then(|d| d.distinct())
            .map_err(LocalError::df("partition values"))?
            .collect()
            .await
            .map_err(LocalError::df("partition values"))?;
        let mut disjuncts = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let mut conj = Vec::new();
                for (i, c) in cols.iter().enumerate() {
                    let col = b.column(i);
                    let q = glue_sql::quote_ident(c);
                    if col.is_null(row) {
                        conj.push(format!("{q} IS NULL"));
                    } else {
                        let v = arrow_array::cast::AsArray::as_string::<i32>(col.as_ref()).value(row);
                        conj.push(format!("CAST({q} AS STRING) = {}", sql_string(v)));
                    }
                }
                disjuncts.push(format!("({})", conj.join(" AND ")));
            }
        }
        Ok(if disjuncts.is_empty() {
            "FALSE".into()
        } else {
            disjuncts.join(" OR ")
        })
    }

    async fn merge(
        &self,
        target: &RelationName,
        source: &RelationName,
        keys: &[glue_sql::Ident],
        predicates: &[SqlFragment],
        update: &UpdateColumns,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        if !matches!(e.format, Some(FileFormat::Delta | FileFormat::Iceberg)) {
            return Err(LocalError::Unsupported(format!(
                "MERGE into a {} table",
                e.format.map(|f| f.to_string()).unwrap_or_default()
            )));
        }
        let all_columns = columns.clone().unwrap_or_else(|| e.columns.clone());
        let tgt: Vec<String> = all_columns.iter().map(|c| c.name.clone()).collect();
        // The same ON condition the Spark engines render (user predicates, then the keys; FALSE without either).
        let on = glue_sql::dml::MergeInto::upsert(
            target.clone(),
            glue_sql::dml::Source::Relation(source.clone()),
            keys.to_vec(),
        )
        .predicates(predicates.to_vec())
        .on_condition();
        let target_idents: Vec<glue_sql::Ident> = tgt
            .iter()
            .filter_map(|c| glue_sql::Ident::new(c.as_str()).ok())
            .collect();
        let update_cols: Vec<String> = update
            .resolve(&target_idents)
            .iter()
            .map(|i| i.as_str().to_string())
            .collect();
        let set = |cols: &[String]| -> Vec<(String, String)> {
            cols.iter()
                .map(|c| (c.clone(), format!("{SOURCE_ALIAS}.{}", glue_sql::quote_ident(c))))
                .collect()
        };
        let spec = delta::MergeSpec {
            on,
            update: Some(delta::MergeClause {
                predicate: None,
                set: set(&update_cols),
            }),
            insert: Some(delta::MergeClause {
                predicate: None,
                set: set(&tgt),
            }),
        };
        let df = self.conformed_to(target, columns.as_deref(), source).await?;
        let df = if columns.is_some() { nullable(df)? } else { df };
        if e.format == Some(FileFormat::Iceberg) {
            return self.merge_rebuild(target, &e, df, &spec, columns).await;
        }
        delta::merge(
            &self.ctx,
            e.location.as_deref().unwrap_or_default(),
            df,
            SOURCE_ALIAS,
            DEST_ALIAS,
            spec,
            columns.is_some(),
        )
        .await?;
        if let Some(columns) = columns {
            self.record_columns(target, columns)?;
        }
        Ok(())
    }

    /// A MERGE as a new version of the table (Iceberg: iceberg-rust 0.10 commits appends only, so the merged rows
    /// are written beside the old version and the catalog entry switches to them in one write, checked against the
    /// version read; the table's snapshot history starts again, as after a rebuild). The rows are Spark's: target
    /// rows matched by the ON condition (and the WHEN MATCHED predicate) take the SET values, the others stay, and
    /// source rows no target row matches are inserted (with the WHEN NOT MATCHED predicate). As Spark's Iceberg and
    /// Delta do, a target row matched by more than one source row fails the MERGE before anything is written.
    async fn merge_rebuild(
        &self,
        target: &RelationName,
        e: &TableEntry,
        source: DataFrame,
        spec: &delta::MergeSpec,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        static VIEWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = VIEWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (name, old) = (format!("glue_rs_merge_source_{n}"), format!("glue_rs_merge_target_{n}"));
        self.register_temp(&name, source);
        // The target's rows, with its new columns when they change in this commit.
        let target_rows = match &columns {
            Some(c) => {
                let rows = self.adapted_rows(target, c).await;
                rows.map(|r| {
                    self.register_temp(&old, r);
                    glue_sql::quote_ident(&old)
                })
            }
            None => Ok(target.without_catalog().to_string()),
        };
        let all_columns = columns.unwrap_or_else(|| e.columns.clone());
        let result = match target_rows {
            Ok(t) => self.merged_rows(target, &t, &all_columns, &name, spec).await,
            Err(err) => Err(err),
        };
        let result = match result {
            Ok(df) => {
                self.iceberg_write_rows(target, e, df, RowsWrite::ReplaceAll, None)
                    .await
            }
            Err(err) => Err(err),
        };
        self.warehouse.drop_temp(&name);
        self.warehouse.drop_temp(&old);
        result
    }

    /// The rows of `target` after a MERGE from the temporary view `source` (see [`LocalEngine::merge_rebuild`]).
    async fn merged_rows(
        &self,
        target: &RelationName,
        target_rows: &str,
        columns: &[ColumnEntry],
        source: &str,
        spec: &delta::MergeSpec,
    ) -> Result<DataFrame, LocalError> {
        let from_t = format!("{target_rows} AS {DEST_ALIAS}");
        let from_s = format!("{} AS {SOURCE_ALIAS}", glue_sql::quote_ident(source));
        let on = &spec.on;
        let dest = |c: &str| format!("{DEST_ALIAS}.{}", glue_sql::quote_ident(c));
        let select = |exprs: Vec<String>| exprs.join(", ");
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut parts = Vec::new();
        match &spec.update {
            Some(u) => {
                let matched = match &u.predicate {
                    Some(p) => format!("({on}) AND ({p})"),
                    None => format!("({on})"),
                };
                let pairs = self
                    .sql(&format!("SELECT 1 FROM {from_t} JOIN {from_s} ON {matched}"))
                    .await?
                    .count()
                    .await
                    .map_err(LocalError::df("MERGE: matching rows"))?;
                let rows = self
                    .sql(&format!("SELECT 1 FROM {from_t} LEFT SEMI JOIN {from_s} ON {matched}"))
                    .await?
                    .count()
                    .await
                    .map_err(LocalError::df("MERGE: matching rows"))?;
                if pairs > rows {
                    return Err(LocalError::Data(format!(
                        "[MERGE_CARDINALITY_VIOLATION] MERGE into {target}: a row of the target matched more than one \
                         row of the source ({} source rows matched {rows} target rows); make the unique_key unique in \
                         the new rows",
                        pairs
                    )));
                }
                let set = |c: &str| {
                    u.set
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(c))
                        .map(|(_, x)| x.clone())
                        .unwrap_or_else(|| dest(c))
                };
                let updated = names
                    .iter()
                    .map(|c| format!("{} AS {}", set(c), glue_sql::quote_ident(c)));
                parts.push(format!(
                    "SELECT {} FROM {from_t} JOIN {from_s} ON {matched}",
                    select(updated.collect())
                ));
                let kept = names.iter().map(|c| dest(c));
                parts.push(format!(
                    "SELECT {} FROM {from_t} LEFT ANTI JOIN {from_s} ON {matched}",
                    select(kept.collect())
                ));
            }
            None => parts.push(format!(
                "SELECT {} FROM {from_t}",
                select(names.iter().map(|c| dest(c)).collect())
            )),
        }
        if let Some(i) = &spec.insert {
            let value = |c: &str| {
                i.set
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(c))
                    .map(|(_, x)| x.clone())
                    .unwrap_or_else(|| "NULL".into())
            };
            let inserted = names
                .iter()
                .map(|c| format!("{} AS {}", value(c), glue_sql::quote_ident(c)));
            let filter = i.predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
            parts.push(format!(
                "SELECT {} FROM {from_s} LEFT ANTI JOIN {from_t} ON {on}{filter}",
                select(inserted.collect())
            ));
        }
        let df = self.sql(&parts.join(" UNION ALL ")).await?;
        // The table's own column types, whatever the branches' types unified to.
        let exprs = columns
            .iter()
            .map(|c| Ok(cast(ident(c.name.as_str()), arrow_type(c.data_type.as_str())?).alias(c.name.as_str())))
            .collect::<Result<Vec<_>, LocalError>>()?;
        df.select(exprs)
            .map_err(LocalError::df(format!("the merged rows of {target}")))
    }

    async fn snapshot_merge(
        &self,
        target: &RelationName,
        staging: &RelationName,
        spec: &glue_materialize::step::SnapshotSpec,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        if !matches!(e.format, Some(FileFormat::Delta | FileFormat::Iceberg)) {
            return Err(LocalError::Unsupported(format!(
                "snapshots on {} tables",
                e.format.map(|f| f.to_string()).unwrap_or_default()
            )));
        }
        let iceberg = e.format == Some(FileFormat::Iceberg);
        let m = &spec.config.meta_columns;
        let vt = format!("{DEST_ALIAS}.{}", m.dbt_valid_to);
        let current = match &spec.config.dbt_valid_to_current {
            // dbt-spark's snapshot_merge_sql, as is: the rows are computed by DataFusion, not logged by delta-rs.
            Some(v) if iceberg => format!("({vt} = ({}) OR {vt} IS NULL)", v.trimmed()),
            Some(v) => {
                // delta-rs must write the merge predicate into its log and cannot for casts to timestamps: the
                // current-row marker is evaluated first and compared as text.
                let marker = self
                    .sql(&format!("SELECT CAST(({}) AS STRING) AS v", v.trimmed()))
                    .await?
                    .collect()
                    .await
                    .map_err(LocalError::df("evaluating dbt_valid_to_current"))?;
                let text = marker
                    .first()
                    .filter(|b| b.num_rows() == 1)
                    .and_then(|b| {
                        datafusion::arrow::util::display::ArrayFormatter::try_new(b.column(0), &Default::default())
                            .ok()
                            .map(|f| f.value(0).to_string())
                    })
                    .ok_or_else(|| LocalError::Data("dbt_valid_to_current did not evaluate to one value".into()))?;
                format!(
                    "(CAST({vt} AS STRING) = {} OR {vt} IS NULL)",
                    glue_sql::string_literal(&text)
                )
            }
            None => format!("{vt} IS NULL"),
        };
        let tgt: Vec<String> = columns
            .as_ref()
            .unwrap_or(&e.columns)
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let src = self.sql(&format!("SELECT * FROM {staging}")).await?;
        let src_names: Vec<String> = src.schema().fields().iter().map(|f| f.name().clone()).collect();
        let inserts: Vec<(String, String)> = tgt
            .iter()
            .filter(|c| src_names.iter().any(|s| s.eq_ignore_ascii_case(c)))
            .map(|c| (c.clone(), format!("{SOURCE_ALIAS}.{}", glue_sql::quote_ident(c))))
            .collect();
        let merge = delta::MergeSpec {
            on: format!("{SOURCE_ALIAS}.{} = {DEST_ALIAS}.{}", m.dbt_scd_id, m.dbt_scd_id),
            update: Some(delta::MergeClause {
                predicate: Some(format!(
                    "{current} AND {SOURCE_ALIAS}.dbt_change_type IN ('update', 'delete')"
                )),
                set: vec![(
                    m.dbt_valid_to.as_str().to_string(),
                    format!("{SOURCE_ALIAS}.{}", m.dbt_valid_to),
                )],
            }),
            insert: Some(delta::MergeClause {
                predicate: Some(format!("{SOURCE_ALIAS}.dbt_change_type = 'insert'")),
                set: inserts,
            }),
        };
        if iceberg {
            return self.merge_rebuild(target, &e, src, &merge, columns).await;
        }
        delta::merge(
            &self.ctx,
            e.location.as_deref().unwrap_or_default(),
            src,
            SOURCE_ALIAS,
            DEST_ALIAS,
            merge,
            columns.is_some(),
        )
        .await?;
        if let Some(columns) = columns {
            self.record_columns(target, columns)?;
        }
        Ok(())
    }

    /// Refuses, before anything runs, the steps whose target format the engine cannot serve: MERGE needs Delta here.
    async fn precheck(&self, plan: &Plan) -> Result<(), LocalError> {
        let mergeable = |f: FileFormat| matches!(f, FileFormat::Delta | FileFormat::Iceberg);
        let mut merge_targets: Vec<(&RelationName, Option<FileFormat>)> = Vec::new();
        for step in &plan.steps {
            match step {
                Step::Merge { target, .. } | Step::SnapshotMerge { target, .. } => {
                    merge_targets.push((target, self.entry(target)?.and_then(|e| e.format)));
                }
                // A snapshot's later runs MERGE: only Delta and Iceberg take them (as on Spark).
                Step::SnapshotCreate { table, .. } if !mergeable(table.format) => {
                    return Err(LocalError::Unsupported(format!(
                        "snapshots on {} tables (MERGE)",
                        table.format
                    )));
                }
                _ => {}
            }
        }
        for (target, format) in merge_targets {
            if let Some(f) = format
                && !mergeable(f)
            {
                return Err(LocalError::Unsupported(format!("MERGE into the {f} table {target}")));
            }
        }
        Ok(())
    }

    fn iceberg(&self) -> Result<crate::iceberg::WarehouseIceberg, LocalError> {
        crate::iceberg::WarehouseIceberg::new(self.catalog.clone()).map_err(ice_err("opening the Iceberg catalog"))
    }

    /// Builds an Iceberg table version from rows under a staging name, then switches the catalog entry to it.
    async fn create_iceberg(
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
    async fn iceberg_append(&self, ns: &iceberg::NamespaceIdent, table: &str, df: DataFrame) -> Result<(), LocalError> {
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
    async fn iceberg_partition_fields(
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

    async fn iceberg_write_rows(
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

    async fn expire_snapshots(&self, relation: &RelationName, retain_last: u32) -> Result<(), LocalError> {
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

    #[allow(clippy::too_many_arguments)]
    async fn load_seed(
        &self,
        relation: &RelationName,
        path: Option<&str>,
        format: FileFormat,
        mode: glue_materialize::config::SeedMode,
        location: Option<&str>,
        column_types: &BTreeMap<String, String>,
        exists: bool,
        replace: bool,
    ) -> Result<(), LocalError> {
        use glue_materialize::config::SeedMode;
        let path = path.ok_or_else(|| LocalError::Data(format!("seed {relation} has no CSV file")))?;
        let seed = glue_seed::read_seed(std::path::Path::new(path)).map_err(|e| LocalError::Data(e.to_string()))?;
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

/// Catalog columns as `ColumnDef`s, comments kept.
fn column_defs<'a>(columns: impl Iterator<Item = &'a ColumnEntry>) -> Result<Vec<ColumnDef>, LocalError> {
    columns
        .map(|c| {
            let mut d =
                ColumnDef::new(c.name.clone(), c.data_type.clone()).map_err(|e| LocalError::Data(e.to_string()))?;
            d.comment = c.comment.clone();
            Ok(d)
        })
        .collect()
}

/// The rows with every column nullable, as Spark creates a table's columns (see [`crate::nullable`]).
fn nullable(df: DataFrame) -> Result<DataFrame, LocalError> {
    crate::nullable::nullable(df).map_err(LocalError::df("the rows as nullable columns"))
}

/// `entry`'s columns after `alters` (a `SyncSchema`), checked as Spark checks them before anything is committed:
/// Iceberg adds columns at the end, drops any column but a partition source, and widens types (int to bigint, float
/// to double, a decimal's precision); Delta and the plain formats add columns (before the partition columns, as
/// Spark shows a Hive table's) and drop none (a Delta table needs column mapping, which glue-rs's tables do not
/// use).
fn evolved_columns(
    target: &RelationName,
    entry: &TableEntry,
    alters: &[AlterTable],
) -> Result<Vec<ColumnEntry>, LocalError> {
    let iceberg = entry.format == Some(FileFormat::Iceberg);
    let mut columns = entry.columns.clone();
    let position = |columns: &[ColumnEntry], name: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(name));
    for a in alters {
        match a {
            AlterTable::AddColumns(_, added) => {
                let at = if iceberg {
                    columns.len()
                } else {
                    columns.len() - entry.partition_columns.len().min(columns.len())
                };
                for (i, c) in added.iter().enumerate() {
                    columns.insert(
                        at + i,
                        ColumnEntry {
                            name: c.name.as_str().to_string(),
                            data_type: c.data_type.as_str().to_string(),
                            comment: c.comment.clone(),
                        },
                    );
                }
            }
            AlterTable::DropColumns(_, dropped) if iceberg => {
                for d in dropped {
                    if entry
                        .partition_columns
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(d.as_str()))
                    {
                        return Err(LocalError::Data(format!(
                            "cannot drop column `{}` of {target}: the table is partitioned by it \
                             (on_schema_change: sync_all_columns)",
                            d.as_str()
                        )));
                    }
                    if let Some(i) = position(&columns, d.as_str()) {
                        columns.remove(i);
                    }
                }
            }
            AlterTable::DropColumns(_, dropped) => {
                return Err(LocalError::Data(format!(
                    "cannot drop columns ({}) of the {} table {target}: as on Spark, dropping columns needs an \
                     Iceberg table (or a Delta table with column mapping, which glue-rs does not create); the table \
                     is unchanged (on_schema_change: sync_all_columns)",
                    dropped.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", "),
                    entry.format.map(|f| f.to_string()).unwrap_or_default()
                )));
            }
            AlterTable::AlterColumnType(_, column, to) => {
                let i = position(&columns, column.as_str())
                    .ok_or_else(|| LocalError::Data(format!("{target} has no column `{}`", column.as_str())))?;
                let from = columns[i].data_type.clone();
                if !iceberg || !widens(&from, to.as_str()) {
                    return Err(LocalError::Data(format!(
                        "cannot change the type of column `{}` of {target} from {from} to {to}: as on Spark, \
                         only an Iceberg table's int to bigint, float to double and a decimal's precision widen in \
                         place; the table is unchanged (on_schema_change: sync_all_columns; a full refresh rebuilds \
                         it)",
                        column.as_str()
                    )));
                }
                columns[i].data_type = to.as_str().to_string();
            }
            other => return Err(LocalError::Unsupported(format!("`{}`", other.to_sql()))),
        }
    }
    Ok(columns)
}

/// Whether Iceberg changes a column of type `from` to `to` in place (its type promotions, as Spark allows them).
fn widens(from: &str, to: &str) -> bool {
    let (from, to) = (from.trim().to_lowercase(), to.trim().to_lowercase());
    let decimal = |t: &str| -> Option<(u32, u32)> {
        let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    };
    match (from.as_str(), to.as_str()) {
        (f, t) if f == t => true,
        ("int" | "integer", "bigint" | "long") | ("float", "double") => true,
        (f, t) => matches!((decimal(f), decimal(t)), (Some((p1, s1)), Some((p2, s2))) if s1 == s2 && p2 >= p1),
    }
}

/// The catalog key of a relation (its catalog prefix does not matter: one warehouse).
fn key_of(r: &RelationName) -> String {
    table_key(r.schema_str(), r.identifier.as_str())
}

fn ice_err(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> LocalError {
    let context = context.into();
    move |e| LocalError::Data(format!("{context}: {e}"))
}

/// How rows are written into an existing table.
#[derive(Debug, Clone, Copy)]
enum RowsWrite {
    Append,
    ReplaceAll,
    ReplacePartitions,
}

fn sql_string(v: &str) -> String {
    // deltalake parses predicates with sqlparser's generic dialect: standard '' escaping.
    format!("'{}'", v.replace('\'', "''"))
}

/// Moves the partition columns to the end, in partition order (Spark's layout).
fn partition_columns_last(df: DataFrame, partition_by: &[String]) -> Result<DataFrame, LocalError> {
    if partition_by.is_empty() {
        return Ok(df);
    }
    let names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut exprs: Vec<Expr> = names
        .iter()
        .filter(|n| !partition_by.iter().any(|p| p.eq_ignore_ascii_case(n)))
        .map(|n| ident(n.as_str()))
        .collect();
    for p in partition_by {
        let n = names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(p))
            .ok_or_else(|| LocalError::Data(format!("partition column `{p}` is not in the model's columns")))?;
        exprs.push(ident(n.as_str()));
    }
    df.select(exprs).map_err(LocalError::df("ordering partition columns"))
}

fn column_entries(schema: &arrow_schema::Schema) -> Result<Vec<ColumnEntry>, LocalError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            Ok(ColumnEntry {
                name: f.name().clone(),
                data_type: spark_type(f.data_type())?,
                comment: None,
            })
        })
        .collect()
}

fn with_comments(mut cols: Vec<ColumnEntry>, old: Option<&TableEntry>) -> Vec<ColumnEntry> {
    if let Some(o) = old {
        for c in &mut cols {
            if c.comment.is_none() {
                c.comment = o
                    .columns
                    .iter()
                    .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                    .and_then(|x| x.comment.clone());
            }
        }
    }
    cols
}

fn schema_columns(schema: &arrow_schema::Schema) -> Result<Vec<ColumnDef>, LocalError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            ColumnDef::new(f.name().clone(), spark_type(f.data_type())?).map_err(|e| LocalError::Data(e.to_string()))
        })
        .collect()
}

impl LocalEngine {
    /// Runs a plan's steps, deferring each `SyncSchema` a write of its target follows (see `execute`).
    async fn execute_steps(&self, plan: &Plan, outcome: &mut PlanOutcome) -> Result<(), EngineError> {
        for (index, step) in plan.steps.iter().enumerate() {
            // Lake Formation governs the Glue Data Catalog: a local run builds the table and says what it skipped,
            // so a project with `lf_tags_config` / `lf_grants` still runs on the embedded engine.
            if let Step::LakeFormation { database, table, .. } = step {
                outcome.warnings.push(format!(
                    "Lake Formation tags and data-cell filters of {database}.{table} are not applied on the embedded \
                     engine (there is no Lake Formation here); a Glue target applies them"
                ));
                continue;
            }
            // A schema change waits for the target's write when one follows: both commit together.
            let deferred = match step {
                Step::SyncSchema { target, .. } => plan.steps[index + 1..].iter().any(|s| match s {
                    Step::InsertInto { target: t, .. }
                    | Step::InsertOverwrite { target: t, .. }
                    | Step::Merge { target: t, .. }
                    | Step::SnapshotMerge { target: t, .. } => key_of(t) == key_of(target),
                    _ => false,
                }),
                _ => false,
            };
            self.run_step_in(step, deferred).await.map_err(|e| match e {
                LocalError::Unsupported(c) => EngineError::Unsupported {
                    engine: "the embedded engine",
                    construct: c,
                },
                other => EngineError::Other {
                    context: format!("model `{}`, step {step}", plan.model),
                    source: Box::new(other),
                },
            })?;
            outcome.executed.push(step.to_string());
        }
        Ok(())
    }
}

#[async_trait]
impl Engine for LocalEngine {
    fn capabilities(&self) -> Capabilities {
        // Lake Formation steps are accepted and skipped with a warning (see `execute`).
        let unsupported = [StepKind::HudiWrite, StepKind::RunPython];
        Capabilities {
            engine: "the embedded engine",
            formats: FORMATS.into_iter().collect(),
            steps: StepKind::ALL
                .iter()
                .copied()
                .filter(|k| !unsupported.contains(k))
                .collect(),
        }
    }

    async fn execute(&self, plan: &Plan) -> Result<PlanOutcome, EngineError> {
        self.capabilities().check(plan)?;
        self.precheck(plan).await.map_err(EngineError::from)?;
        if let Some(r) = &plan.relation
            && !r.is_temporary()
        {
            self.create_schema(r.schema_str())?;
            self.warehouse.set_current_schema(r.schema_str());
        }
        let mut outcome = PlanOutcome::default();
        let result = self.execute_steps(plan, &mut outcome).await;
        // Whatever a failed plan left pending is not applied; what no write took is applied now.
        let left: Vec<(String, Vec<ColumnEntry>)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<String> = plan
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::SyncSchema { target, .. } => Some(key_of(target)),
                    _ => None,
                })
                .collect();
            keys.iter()
                .filter_map(|k| pending.remove(k).map(|c| (k.clone(), c)))
                .collect()
        };
        result?;
        for (key, columns) in left {
            let Some(target) = plan.steps.iter().find_map(|s| match s {
                Step::SyncSchema { target, .. } if key_of(target) == key => Some(target),
                _ => None,
            }) else {
                continue;
            };
            let entry = self.require(target)?;
            self.apply_columns(target, &entry, columns).await?;
        }
        Ok(outcome)
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        let df = self.sql(sql).await?;
        Ok(df.collect().await.map_err(LocalError::df("query"))?)
    }

    async fn query_schema(&self, sql: &str) -> Result<arrow_schema::SchemaRef, EngineError> {
        let df = self.sql(sql).await?;
        Ok(Arc::new(df.schema().as_arrow().clone()))
    }

    async fn list_relations(&self, schema: &str) -> Result<Vec<RelationInfo>, EngineError> {
        let state = self.catalog.read()?;
        let mut out = Vec::new();
        for (name, e) in state.tables_in(schema) {
            let existing = match e.kind {
                EntryKind::View => Existing::View,
                EntryKind::Table => Existing::Table(ExistingTable {
                    format: e
                        .format
                        .map(TableFormat::Known)
                        .unwrap_or_else(|| TableFormat::Other("unknown".into())),
                    location: e.location.clone(),
                    columns: e
                        .columns
                        .iter()
                        .filter_map(|c| ColumnDef::new(c.name.clone(), c.data_type.clone()).ok())
                        .collect(),
                    partition_columns: e.partition_columns.clone(),
                    version: Some(e.version.to_string()),
                }),
            };
            let name = RelationName::new(schema.to_lowercase(), name).map_err(|e| LocalError::Data(e.to_string()))?;
            out.push(RelationInfo { name, existing });
        }
        Ok(out)
    }

    async fn describe(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError> {
        Ok(self.columns_of(relation).await?)
    }
}

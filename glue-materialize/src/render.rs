//! Renders plan steps to Spark SQL through `glue-sql`. Steps that are not SQL (catalog swaps, seed loads, Hudi
//! writes, Lake Formation) render as [`Rendered::Native`]: a description; each engine lowers them to its protocol.

use glue_sql::ddl::{self, AlterTable, CreateTable, CreateView, Drop, DropKind, ExpireSnapshots, SymlinkManifestTable};
use glue_sql::dml::{Insert, MatchedAction, MergeClause, MergeInto, NotMatchedAction, PartitionSpec, Source};
use glue_sql::snapshot::{ChangeDetection, SnapshotSql};
use glue_sql::types::ColumnDef;
use glue_sql::{Ident, RelationName, SqlFragment, quote_ident};

use crate::config::{FileFormat, SnapshotStrategy};
use crate::error::RenderError;
use crate::lakeformation::{LfGrants, LfTagsConfig};
use crate::plan::Plan;
use crate::query_comment::QueryComment;
use crate::schema::{SchemaDiff, schema_change};
use crate::step::{Partitions, Query, SnapshotSpec, Step, TableSpec, TempKind};

/// What the late-bound steps need from the live warehouse, and the run's clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderContext {
    /// The time used for Iceberg snapshot expiry (`yyyy-MM-dd HH:mm:ss`, UTC).
    pub now: String,
    /// The target table's columns (from `DESCRIBE` on the engine).
    pub target_columns: Option<Vec<ColumnDef>>,
    /// The new rows' columns (the model query's output, or the temp relation's).
    pub source_columns: Option<Vec<ColumnDef>>,
}

/// A Spark setting one statement needs. Engines set it just before the statement and put the session's own value
/// back just after it, in the same request: it is never left on a session, and never trusted from one (a reused
/// session, a user's `SET` in a hook or a pooled session's history cannot change what the statement does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum StatementSetting {
    /// `spark.sql.sources.partitionOverwriteMode=dynamic`: an `INSERT OVERWRITE` of a partitioned table replaces
    /// only the partitions present in its rows (static, Spark's default, empties every other partition).
    DynamicPartitionOverwrite,
    /// `spark.sql.legacy.allowNonEmptyLocationInCTAS=true`: a Hive-format `CREATE TABLE … LOCATION … AS` may write
    /// into a location that still holds files (Spark empties it first). Only for a location glue-rs owns
    /// ([`TableSpec::own_location`]).
    NonEmptyLocationCtas,
}

impl StatementSetting {
    /// The Spark setting's key.
    pub const fn key(self) -> &'static str {
        match self {
            StatementSetting::DynamicPartitionOverwrite => "spark.sql.sources.partitionOverwriteMode",
            StatementSetting::NonEmptyLocationCtas => "spark.sql.legacy.allowNonEmptyLocationInCTAS",
        }
    }

    /// The value the statement needs.
    pub const fn value(self) -> &'static str {
        match self {
            StatementSetting::DynamicPartitionOverwrite => "dynamic",
            StatementSetting::NonEmptyLocationCtas => "true",
        }
    }
}

impl std::fmt::Display for StatementSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key(), self.value())
    }
}

/// One rendered piece of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// A Spark SQL statement.
    Sql(String),
    /// A Spark SQL statement that runs with settings of its own, set for it alone (see [`StatementSetting`]).
    Scoped {
        /// The statement.
        sql: String,
        /// What it needs set while it runs.
        settings: Vec<StatementSetting>,
    },
    /// An action that is not SQL: what it is and its arguments.
    Native {
        /// The action (`swap-table`, `load-seed`, …).
        action: &'static str,
        /// Its arguments, one per line.
        detail: String,
    },
}

impl Rendered {
    /// The statement, for a piece that is SQL.
    pub fn sql(&self) -> Option<&str> {
        match self {
            Rendered::Sql(sql) | Rendered::Scoped { sql, .. } => Some(sql),
            Rendered::Native { .. } => None,
        }
    }

    /// The settings the statement needs for itself (none for plain SQL and native actions).
    pub fn settings(&self) -> &[StatementSetting] {
        match self {
            Rendered::Scoped { settings, .. } => settings,
            _ => &[],
        }
    }
}

/// The statements that load a seed ([`Step::LoadSeed`]) once an engine has registered its CSV rows, typed as dbt
/// infers them, as the temporary view `rows` with `columns`: `column_types` columns are cast; an existing table is
/// appended to (`seed_mode: append`) or overwritten in place (`INSERT OVERWRITE`, which keeps the table entry and
/// leaves the old rows readable if it fails, as dbt's seed does without `--full-refresh`); a new table, or a full
/// refresh, is created with `CREATE [OR REPLACE] TABLE … AS` (Hive formats drop the old table first). `ignore`
/// returns nothing to run; `errorifexists` on an existing table is an error.
pub fn seed_statements(step: &Step, rows: &Ident, columns: &[Ident]) -> Result<Vec<Rendered>, RenderError> {
    use crate::config::SeedMode;
    let Step::LoadSeed {
        relation,
        format,
        mode,
        location,
        own_location,
        column_types,
        exists,
        replace,
        ..
    } = step
    else {
        return Ok(Vec::new());
    };
    let mut select = Vec::with_capacity(columns.len());
    for c in columns {
        match column_types.iter().find(|(k, _)| k.eq_ignore_ascii_case(c.as_str())) {
            Some((_, t)) => {
                let ty = glue_sql::types::SparkType::new(t.clone()).map_err(|e| RenderError::SeedColumnType {
                    column: c.as_str().to_string(),
                    message: e.to_string(),
                })?;
                select.push(format!("CAST({c} AS {}) AS {c}", ty.as_str()));
            }
            None => select.push(c.to_string()),
        }
    }
    let query = SqlFragment::new(format!(
        "SELECT {} FROM {}",
        select.join(", "),
        quote_ident(rows.as_str())
    ));
    let typed = Source::Query(query.clone());
    match (*exists, mode, *replace) {
        (true, SeedMode::Ignore, false) => Ok(Vec::new()),
        (true, SeedMode::ErrorIfExists, false) => Err(RenderError::SeedExists(relation.to_string())),
        (true, SeedMode::Append, false) => Ok(vec![Rendered::Sql(
            Insert::into(relation.clone(), typed).columns(columns.to_vec()).to_sql(),
        )]),
        (true, SeedMode::Overwrite, false) => Ok(vec![Rendered::Sql(
            Insert::overwrite(relation.clone(), typed)
                .columns(columns.to_vec())
                .to_sql(),
        )]),
        _ => {
            let spec = TableSpec {
                relation: relation.clone(),
                format: *format,
                partition_by: Vec::new(),
                clustered_by: None,
                properties: Default::default(),
                options: Default::default(),
                location: location.clone(),
                own_location: *own_location,
                comment: None,
            };
            let mut out = Vec::new();
            let atomic = format.atomic_replace();
            if *exists && !atomic {
                out.push(Rendered::Sql(Drop::table(relation.clone()).to_sql()));
            }
            out.push(ctas(&spec, query, *exists && atomic));
            Ok(out)
        }
    }
}

impl QueryComment {
    /// A rendered piece with the comment on its statement (native actions are not statements: unchanged).
    pub fn rendered(&self, r: Rendered) -> Rendered {
        match r {
            Rendered::Sql(sql) => Rendered::Sql(self.apply(&sql)),
            Rendered::Scoped { sql, settings } => Rendered::Scoped {
                sql: self.apply(&sql),
                settings,
            },
            native @ Rendered::Native { .. } => native,
        }
    }
}

/// Renders every step of a plan (for `glue plan` and golden files), each statement with the plan's query comment
/// as an engine sends it.
pub fn render_plan(plan: &Plan, ctx: &RenderContext) -> Vec<Result<Vec<Rendered>, RenderError>> {
    plan.steps
        .iter()
        .map(|s| {
            let pieces = render_step(s, ctx)?;
            Ok(match &plan.query_comment {
                Some(c) => pieces.into_iter().map(|r| c.rendered(r)).collect(),
                None => pieces,
            })
        })
        .collect()
}

fn names(cols: &[ColumnDef]) -> Vec<Ident> {
    cols.iter().map(|c| c.name.clone()).collect()
}

fn target_cols<'a>(ctx: &'a RenderContext, step: &'static str) -> Result<&'a [ColumnDef], RenderError> {
    ctx.target_columns
        .as_deref()
        .ok_or(RenderError::NeedsColumns { step, which: "target" })
}

fn source_cols<'a>(ctx: &'a RenderContext, step: &'static str) -> Result<&'a [ColumnDef], RenderError> {
    ctx.source_columns
        .as_deref()
        .ok_or(RenderError::NeedsColumns { step, which: "source" })
}

/// The query of a step, with `update_iceberg_ts` appended when asked (needs the query's columns then).
pub fn query_sql(q: &Query, ctx: &RenderContext) -> Result<SqlFragment, RenderError> {
    if !q.add_iceberg_timestamp {
        return Ok(q.sql.clone());
    }
    const TS: &str = "update_iceberg_ts";
    let cols: Vec<String> = source_cols(ctx, "add_iceberg_timestamp")?
        .iter()
        .filter(|c| !c.name.as_str().eq_ignore_ascii_case(TS))
        .map(|c| format!("s.{}", c.name))
        .collect();
    let mut select = cols.join(", ");
    if !select.is_empty() {
        select.push_str(", ");
    }
    Ok(SqlFragment::new(format!(
        "WITH source_data AS (\n{}\n)\nSELECT {select}current_timestamp() AS {} FROM source_data AS s",
        q.sql.trimmed(),
        quote_ident(TS)
    )))
}

fn create_table(spec: &TableSpec, query: SqlFragment, replace: bool) -> CreateTable {
    let mut c = CreateTable::as_query(spec.relation.clone(), query)
        .or_replace(replace)
        .using(spec.format.provider())
        .options(spec.options.clone())
        .partition_fields(spec.partition_by.clone())
        .properties(spec.properties.clone());
    if let Some((cols, n)) = &spec.clustered_by {
        c = c.clustered_by(cols.clone(), *n);
    }
    if let Some(l) = &spec.location {
        c = c.location(l.clone());
    }
    if let Some(d) = &spec.comment {
        c = c.comment(d.clone());
    }
    c
}

/// The snapshot SQL builder of a step's spec: the SQL that decides which rows change, shared by every engine.
/// `needs_check_cols` resolves `check_cols: all` from the context's source columns (the staging step needs it).
pub fn snapshot_sql(
    spec: &SnapshotSpec,
    ctx: &RenderContext,
    needs_check_cols: bool,
) -> Result<SnapshotSql, RenderError> {
    let c = &spec.config;
    let detection = match c.strategy {
        SnapshotStrategy::Timestamp => ChangeDetection::Timestamp {
            updated_at: c
                .updated_at
                .clone()
                .unwrap_or_else(|| SqlFragment::new("current_timestamp()")),
        },
        SnapshotStrategy::Check => {
            let columns = match &c.check_cols {
                Some(cols) => cols.clone(),
                None if needs_check_cols => names(source_cols(ctx, "SnapshotStaging (check_cols: all)")?)
                    .into_iter()
                    .filter(|n| !n.as_str().to_lowercase().starts_with("dbt_"))
                    .collect(),
                None => Vec::new(),
            };
            ChangeDetection::Check {
                columns,
                updated_at: c.updated_at.clone(),
            }
        }
    };
    Ok(SnapshotSql {
        unique_key: spec.unique_key.clone(),
        detection,
        hard_deletes: c.hard_deletes.into(),
        valid_to_current: c.dbt_valid_to_current.clone(),
        columns: c.meta_columns.clone(),
    })
}

/// `CREATE [OR REPLACE] TABLE … AS`; a Hive-format table at a location glue-rs owns may be written while files
/// remain there (a table dropped for the rebuild, a crashed run), for this statement alone.
fn ctas(table: &TableSpec, query: SqlFragment, replace: bool) -> Rendered {
    let sql = create_table(table, query, replace).to_sql();
    if table.location.is_some() && table.own_location && !table.format.is_lakehouse() {
        Rendered::Scoped {
            sql,
            settings: vec![StatementSetting::NonEmptyLocationCtas],
        }
    } else {
        Rendered::Sql(sql)
    }
}

fn native(action: &'static str, detail: String) -> Vec<Rendered> {
    vec![Rendered::Native { action, detail }]
}

/// Renders one step.
pub fn render_step(step: &Step, ctx: &RenderContext) -> Result<Vec<Rendered>, RenderError> {
    let sql = |s: String| Ok(vec![Rendered::Sql(s)]);
    match step {
        Step::RunPython { view, code, .. } => Ok(native(
            "run-python",
            format!(
                "run model(dbt, spark) ({} lines of Python) and register its DataFrame as {view}",
                code.lines().count()
            ),
        )),
        Step::Hook { sql: s, .. } => sql(s.trimmed().to_string()),
        Step::CheckQuery { view, query } => Ok(vec![
            Rendered::Sql(CreateView::temporary(view.clone(), query_sql(query, ctx)?).to_sql()),
            Rendered::Sql(Drop::view(RelationName::temp_view(view.as_str())?).to_sql()),
        ]),
        Step::Drop { relation, kind, purge } => {
            let d = match kind {
                DropKind::Table => Drop::table(relation.clone()),
                DropKind::View => Drop::view(relation.clone()),
            };
            sql(d.purge(*purge).to_sql())
        }
        Step::CreateTableAs { table, query, replace } => Ok(vec![ctas(table, query_sql(query, ctx)?, *replace)]),
        Step::SwapTable {
            target,
            staging,
            old_location,
            delete_old_location,
            other_staging,
            ..
        } => {
            let mut text = format!(
                "point {} at the table built as {}\nremove the entry {}\nold location: {} ({})",
                target.without_catalog(),
                staging.without_catalog(),
                staging.without_catalog(),
                old_location.as_deref().unwrap_or("unknown"),
                if *delete_old_location {
                    "kept as the previous version, deleted at the next switch"
                } else {
                    "kept"
                }
            );
            if !other_staging.is_empty() {
                let names: Vec<String> = other_staging.iter().map(|r| r.without_catalog().to_string()).collect();
                text.push_str(&format!(
                    "\nthen remove other runs' staging tables: {}",
                    names.join(", ")
                ));
            }
            Ok(native("swap-table", text))
        }
        Step::DropOtherStaging { others, copies_of, .. } => Ok(native(
            "drop-other-staging",
            format!(
                "remove the staging tables other runs of this model left (and their copies under {copies_of}__v…): {}",
                others
                    .iter()
                    .map(|r| r.without_catalog().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        Step::DeleteLocation { location } => Ok(native("delete-location", location.clone())),
        Step::CreateView {
            relation,
            query,
            comment,
        } => {
            let mut v = CreateView::new(relation.clone(), query_sql(query, ctx)?);
            if let Some(c) = comment {
                v = v.comment(c.clone());
            }
            sql(v.to_sql())
        }
        Step::CreateTempRelation {
            relation,
            kind,
            format,
            query,
        } => {
            let q = query_sql(query, ctx)?;
            match kind {
                TempKind::View => sql(CreateView::temporary(relation.identifier.clone(), q).to_sql()),
                TempKind::Table => {
                    let using = if *format == FileFormat::S3Tables {
                        None
                    } else {
                        Some(format.provider())
                    };
                    let mut c = CreateTable::as_query(relation.clone(), q).or_replace(true);
                    c.using = using;
                    sql(c.to_sql())
                }
            }
        }
        Step::SyncSchema {
            target,
            mode,
            format,
            ignore_prefix,
            ..
        } => {
            let diff = SchemaDiff::between(
                source_cols(ctx, "SyncSchema")?,
                target_cols(ctx, "SyncSchema")?,
                ignore_prefix.as_deref(),
            );
            let alters = schema_change(target, &diff, *mode, *format)?;
            Ok(alters.iter().map(|a| Rendered::Sql(a.to_sql())).collect())
        }
        Step::InsertInto { target, source } => {
            let cols = names(target_cols(ctx, "InsertInto")?);
            sql(Insert::into(target.clone(), Source::Relation(source.clone()))
                .columns(cols)
                .to_sql())
        }
        Step::InsertOverwrite {
            target,
            source,
            partitions,
            format,
        } => {
            let cols = names(target_cols(ctx, "InsertOverwrite")?);
            let mut i = Insert::overwrite(target.clone(), Source::Relation(source.clone())).columns(cols);
            // Hive-style tables name their partition columns; Delta and Iceberg tables take none (their dynamic
            // overwrite replaces the partitions present in the data).
            match partitions {
                Partitions::Whole => sql(i.to_sql()),
                Partitions::Dynamic(p) => {
                    if !format.is_lakehouse() {
                        i = i.partition(p.iter().cloned().map(PartitionSpec::Dynamic).collect());
                    }
                    // Dynamic by construction: whatever the session holds, only the new rows' partitions go.
                    Ok(vec![Rendered::Scoped {
                        sql: i.to_sql(),
                        settings: vec![StatementSetting::DynamicPartitionOverwrite],
                    }])
                }
            }
        }
        Step::Merge {
            target,
            source,
            keys,
            predicates,
            update,
        } => {
            let all = names(target_cols(ctx, "Merge")?);
            let update_cols = update.resolve(&all);
            let matched = if update_cols.is_empty() {
                MatchedAction::UpdateAll
            } else {
                MatchedAction::UpdateColumns(update_cols)
            };
            let m = MergeInto::upsert(target.clone(), Source::Relation(source.clone()), keys.clone())
                .predicates(predicates.clone())
                .clauses(vec![
                    MergeClause::Matched(None, matched),
                    MergeClause::NotMatched(None, NotMatchedAction::InsertColumns(all)),
                ]);
            sql(m.to_sql())
        }
        Step::HudiWrite {
            relation,
            location,
            operation,
            options,
            substitute_variables,
            ..
        } => Ok(native(
            "hudi-write",
            format!(
                "write the query to {relation} at {location} as Hudi ({operation:?})\noptions: {}\n\
                 substitute_variables: {substitute_variables:?}",
                options
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        Step::ExpireSnapshots {
            relation,
            catalog,
            retain_last,
        } => sql(ExpireSnapshots {
            catalog: catalog.clone(),
            table: relation.clone(),
            older_than: ctx.now.clone(),
            retain_last: *retain_last,
        }
        .to_sql()),
        Step::DeltaManifest {
            table,
            manifest_table,
            location,
            partition_by,
            create,
        } => {
            let mut out = native(
                "delta-generate-manifest",
                format!("GENERATE symlink_format_manifest for {table} at {location}"),
            );
            if *create {
                let cols = target_cols(ctx, "DeltaManifest")?;
                let is_part = |c: &ColumnDef| {
                    partition_by
                        .iter()
                        .any(|p| p.as_str().eq_ignore_ascii_case(c.name.as_str()))
                };
                out.push(Rendered::Sql(Drop::table(manifest_table.clone()).to_sql()));
                out.push(Rendered::Sql(
                    SymlinkManifestTable {
                        relation: manifest_table.clone(),
                        columns: cols.iter().filter(|c| !is_part(c)).cloned().collect(),
                        partition_columns: cols.iter().filter(|c| is_part(c)).cloned().collect(),
                        delta_location: location.clone(),
                        if_not_exists: false,
                    }
                    .to_sql(),
                ));
            }
            if !partition_by.is_empty() {
                out.push(Rendered::Sql(ddl::repair_table(manifest_table)));
            }
            out.extend(native(
                "glue-add-location",
                format!("add {location} to StorageDescriptor.AdditionalLocations of {manifest_table}"),
            ));
            Ok(out)
        }
        Step::SnapshotStaging {
            staging,
            kind,
            target,
            spec,
            query,
        } => {
            let s = snapshot_sql(spec, ctx, true)?;
            let needs_source = s.hard_deletes == glue_sql::snapshot::HardDeletes::NewRecord;
            let source_columns = if needs_source {
                names(source_cols(ctx, "SnapshotStaging")?)
            } else {
                Vec::new()
            };
            let select = SqlFragment::new(s.staging_select(query, target, &source_columns));
            match kind {
                TempKind::View => sql(CreateView::temporary(staging.identifier.clone(), select).to_sql()),
                TempKind::Table => sql(CreateTable::as_query(staging.clone(), select)
                    .or_replace(true)
                    .using("iceberg")
                    .to_sql()),
            }
        }
        Step::SnapshotCreate { table, spec, query } => {
            let s = snapshot_sql(spec, ctx, false)?;
            Ok(vec![ctas(table, SqlFragment::new(s.build_select(query)), false)])
        }
        Step::SnapshotMerge { target, staging, spec } => {
            let s = snapshot_sql(spec, ctx, false)?;
            let insert = ctx.target_columns.as_deref().map(names).unwrap_or_default();
            sql(s.merge(target.clone(), staging.clone(), insert).to_sql())
        }
        Step::LoadSeed {
            relation,
            path,
            format,
            mode,
            location,
            column_types,
            delimiter,
            casting,
            exists,
            replace,
            ..
        } => Ok(native(
            "load-seed",
            format!(
                "load {} into {relation} as {format} (mode {mode}{}{})\nlocation: {}\ncolumn_types: {column_types:?}{}{}",
                path.as_deref().unwrap_or("<csv>"),
                if *exists { ", table exists" } else { "" },
                if *replace { ", full refresh: rebuild" } else { "" },
                location.as_deref().unwrap_or("managed"),
                if *delimiter == b',' {
                    String::new()
                } else {
                    format!("\ndelimiter: {:?}", *delimiter as char)
                },
                if *casting { "\nspark seed casting" } else { "" },
            ),
        )),
        Step::RefreshTable { relation } => sql(ddl::refresh_table(relation)),
        Step::PersistColumnDocs { relation, columns } => Ok(columns
            .iter()
            .map(|(c, d)| Rendered::Sql(AlterTable::ColumnComment(relation.clone(), c.clone(), d.clone()).to_sql()))
            .collect()),
        Step::LakeFormation {
            database,
            table,
            catalog_id,
            tags,
            grants,
        } => Ok(native(
            "lake-formation",
            format!(
                "reconcile {database}.{table} (catalog {}) to the config:{}{}",
                catalog_id.as_deref().unwrap_or("the caller's account"),
                tags.as_ref().map(LfTagsConfig::summary).unwrap_or_default(),
                grants.as_ref().map(LfGrants::summary).unwrap_or_default(),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SeedMode;

    fn seed(format: FileFormat, mode: SeedMode, exists: bool, replace: bool) -> Step {
        Step::LoadSeed {
            relation: RelationName::new("raw", "orders").unwrap(),
            path: Some("seeds/orders.csv".into()),
            format,
            mode,
            location: Some("s3://lake/raw/orders".into()),
            own_location: true,
            column_types: [("amount".to_string(), "decimal(10,2)".to_string())]
                .into_iter()
                .collect(),
            delimiter: b',',
            casting: false,
            exists,
            replace,
        }
    }

    #[test]
    fn seed_statements_follow_mode_and_format() {
        let rows = Ident::new("orders__seed_rows").unwrap();
        let cols = vec![Ident::new("id").unwrap(), Ident::new("amount").unwrap()];
        let run = |s: Step| {
            seed_statements(&s, &rows, &cols).map(|v| {
                v.iter()
                    .map(|r| r.sql().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
        };
        let created = run(seed(FileFormat::Parquet, SeedMode::Overwrite, false, false)).unwrap();
        assert_eq!(created.len(), 1);
        assert!(
            created[0].starts_with("CREATE TABLE `raw`.`orders`\nUSING parquet")
                && created[0].contains("LOCATION 's3://lake/raw/orders'")
                && created[0]
                    .contains("SELECT `id`, CAST(`amount` AS decimal(10,2)) AS `amount` FROM `orders__seed_rows`"),
            "{created:?}"
        );
        let overwrite = run(seed(FileFormat::Parquet, SeedMode::Overwrite, true, false)).unwrap();
        assert!(overwrite[0].starts_with("INSERT OVERWRITE"), "{overwrite:?}");
        let append = run(seed(FileFormat::Parquet, SeedMode::Append, true, false)).unwrap();
        assert!(append[0].starts_with("INSERT INTO"), "{append:?}");
        let refresh = run(seed(FileFormat::Parquet, SeedMode::Overwrite, true, true)).unwrap();
        assert!(
            refresh[0].starts_with("DROP TABLE") && refresh[1].starts_with("CREATE TABLE"),
            "{refresh:?}"
        );
        let iceberg = run(seed(FileFormat::Iceberg, SeedMode::Overwrite, true, true)).unwrap();
        assert_eq!(iceberg.len(), 1);
        assert!(iceberg[0].starts_with("CREATE OR REPLACE TABLE"), "{iceberg:?}");
        assert!(
            run(seed(FileFormat::Parquet, SeedMode::Ignore, true, false))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            run(seed(FileFormat::Parquet, SeedMode::ErrorIfExists, true, false)),
            Err(RenderError::SeedExists(_))
        ));
    }

    #[test]
    fn a_hive_format_ctas_may_reuse_only_a_location_glue_rs_owns_and_an_overwrite_is_always_dynamic() {
        let rows = Ident::new("orders__seed_rows").unwrap();
        let cols = vec![Ident::new("id").unwrap()];
        let mut own = seed(FileFormat::Parquet, SeedMode::Overwrite, true, true);
        let created = seed_statements(&own, &rows, &cols).unwrap();
        assert_eq!(created[1].settings(), [StatementSetting::NonEmptyLocationCtas]);
        if let Step::LoadSeed { own_location, .. } = &mut own {
            *own_location = false;
        }
        let created = seed_statements(&own, &rows, &cols).unwrap();
        assert_eq!(created[1].settings(), [], "a user's location must be empty");
        let iceberg = seed_statements(
            &seed(FileFormat::Iceberg, SeedMode::Overwrite, true, true),
            &rows,
            &cols,
        );
        assert_eq!(iceberg.unwrap()[0].settings(), [], "no Hive-format check to pass");
        let overwrite = |partitions| Step::InsertOverwrite {
            target: RelationName::new("s", "t").unwrap(),
            source: RelationName::new("s", "t__tmp").unwrap(),
            partitions,
            format: FileFormat::Parquet,
        };
        let ctx = RenderContext {
            target_columns: Some(vec![
                ColumnDef::new("id", "int").unwrap(),
                ColumnDef::new("p", "int").unwrap(),
            ]),
            ..Default::default()
        };
        let dynamic = render_step(&overwrite(Partitions::Dynamic(vec![Ident::new("p").unwrap()])), &ctx).unwrap();
        assert_eq!(dynamic[0].settings(), [StatementSetting::DynamicPartitionOverwrite]);
        assert_eq!(
            StatementSetting::DynamicPartitionOverwrite.to_string(),
            "spark.sql.sources.partitionOverwriteMode=dynamic"
        );
        let whole = render_step(&overwrite(Partitions::Whole), &ctx).unwrap();
        assert_eq!(whole[0].settings(), []);
    }
}

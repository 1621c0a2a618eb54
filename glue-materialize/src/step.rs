//! The typed steps of a plan.

use std::collections::BTreeMap;

use glue_sql::ddl::DropKind;
use glue_sql::snapshot::KeyPart;
use glue_sql::types::PartitionField;
use glue_sql::{Ident, RelationName, SqlFragment};

use crate::config::{FileFormat, OnSchemaChange, SeedMode, SnapshotConfig};
use crate::lakeformation::{LfGrants, LfTagsConfig};

/// A table's physical definition, as CREATE TABLE needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableSpec {
    /// The table.
    pub relation: RelationName,
    /// Its format.
    pub format: FileFormat,
    /// `PARTITIONED BY`.
    pub partition_by: Vec<PartitionField>,
    /// `CLUSTERED BY … INTO n BUCKETS`.
    pub clustered_by: Option<(Vec<Ident>, u32)>,
    /// `TBLPROPERTIES`.
    pub properties: BTreeMap<String, String>,
    /// Writer `OPTIONS` (Delta `write_options`).
    pub options: BTreeMap<String, String>,
    /// `LOCATION` (none for S3 Tables, whose storage is managed).
    pub location: Option<String>,
    /// The location is glue-rs's own for this table: the standard location it derived, a `__v<invocation>`
    /// version directory of this run, or the location of the table this statement replaces. Only then may a
    /// Hive-format CTAS write into it while files remain there (`spark.sql.legacy.allowNonEmptyLocationInCTAS`, set
    /// for that statement alone); a user's `custom_location` on a first build must be empty.
    pub own_location: bool,
    /// `COMMENT` (persist_docs.relation).
    pub comment: Option<String>,
}

/// The model's query as a step uses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Query {
    /// The compiled SELECT.
    pub sql: SqlFragment,
    /// Append `current_timestamp() AS update_iceberg_ts` (`add_iceberg_timestamp`; late-bound: needs the query's
    /// columns to drop an existing `update_iceberg_ts`).
    pub add_iceberg_timestamp: bool,
}

/// Where a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum HookPhase {
    /// `sql_header`, run just before the main statement on the same session.
    SqlHeader,
    /// `pre-hook`.
    Pre,
    /// `post-hook`.
    Post,
}

/// What a temporary relation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TempKind {
    /// A session temporary view.
    View,
    /// A physical table (Iceberg without `use_iceberg_temp_views`).
    Table,
}

/// Which partitions an INSERT OVERWRITE replaces.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Partitions {
    /// The whole table (no partition_by).
    Whole,
    /// Only the partitions present in the new data (dynamic partition overwrite, which every glue-rs session
    /// enables at creation). The identity partition columns are listed for Hive-style tables.
    Dynamic(Vec<Ident>),
}

/// Which columns a MERGE updates on a match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum UpdateColumns {
    /// Every target column (late-bound).
    All,
    /// `merge_update_columns`.
    Only(Vec<Ident>),
    /// Every target column but `merge_exclude_columns` (late-bound).
    AllExcept(Vec<Ident>),
}

impl UpdateColumns {
    /// The columns updated, given the target's columns (names compared case-insensitively, as Spark does).
    pub fn resolve(&self, target_columns: &[Ident]) -> Vec<Ident> {
        match self {
            UpdateColumns::All => target_columns.to_vec(),
            UpdateColumns::Only(c) => c.clone(),
            UpdateColumns::AllExcept(ex) => target_columns
                .iter()
                .filter(|c| !ex.iter().any(|e| e.as_str().eq_ignore_ascii_case(c.as_str())))
                .cloned()
                .collect(),
        }
    }
}

/// The Hudi write operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum HudiOperation {
    /// First write: `bulk_insert`, mode Overwrite.
    BulkInsert,
    /// Incremental: `upsert`, mode Append.
    Upsert,
    /// Full refresh of an existing table: `insert_overwrite_table`, mode Append (one atomic Hudi commit, unlike the
    /// reference's Overwrite mode, which deletes the path first).
    InsertOverwriteTable,
}

/// A snapshot's change-detection settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotSpec {
    /// The unique key.
    pub unique_key: Vec<KeyPart>,
    /// Strategy, columns, hard deletes, meta column names.
    pub config: SnapshotConfig,
}

/// One step of a plan. Engines run the steps in order; the renderer turns each into Spark SQL or, for steps that
/// are not SQL (catalog swaps, seed loads, Hudi writes, Lake Formation), into a description the engine lowers to its
/// own protocol.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Step {
    /// A Python model: run the user's `model(dbt, spark)` on the session and register the DataFrame it returns as a
    /// temporary view; the steps after it read the view like any model query.
    RunPython {
        /// The temporary view.
        view: Ident,
        /// The model's Python source.
        code: String,
        /// What `dbt` answers inside the model (refs, sources, this, is_incremental, config), as JSON.
        context: String,
    },
    /// A hook or the sql_header.
    Hook {
        /// When.
        phase: HookPhase,
        /// The SQL.
        sql: SqlFragment,
    },
    /// Analyse the query through a temporary view before anything is dropped.
    CheckQuery {
        /// The temporary view.
        view: Ident,
        /// The query.
        query: Query,
    },
    /// DROP TABLE / VIEW IF EXISTS.
    Drop {
        /// The relation.
        relation: RelationName,
        /// Table or view.
        kind: DropKind,
        /// `PURGE`.
        purge: bool,
    },
    /// CREATE [OR REPLACE] TABLE … AS.
    CreateTableAs {
        /// The table.
        table: TableSpec,
        /// The rows.
        query: Query,
        /// `OR REPLACE` (atomic in Delta / Iceberg).
        replace: bool,
    },
    /// Switch the catalog entry of `target` to the table built as `staging` (one catalog update: location,
    /// columns, partition keys; tags and grants on the entry are kept) and remove the staging entry. When
    /// `delete_old_location` is set (a location glue-rs derived), the old data stays readable as the table's
    /// previous version until the next switch, which deletes it. Once published, the switch also removes the
    /// staging tables and version directories other runs of the model left (runs that read an older version of the
    /// entry: they can no longer publish).
    SwapTable {
        /// The table replaced.
        target: RelationName,
        /// The freshly built table.
        staging: RelationName,
        /// The old table's data location.
        old_location: Option<String>,
        /// The old location is glue-rs's own: keep it as the previous version, delete it at the next switch.
        delete_old_location: bool,
        /// The version of `target`'s entry this plan read ([`crate::ExistingTable::version`]): the switch happens
        /// only if the entry is still at it, so of two runs rebuilding one table the one that switches second fails
        /// instead of publishing over the other (or with the other's staging table).
        expected_version: Option<String>,
        /// Staging tables other runs of the model left, as listed when the plan was made
        /// ([`crate::ExistingTable::siblings`]): removed once this switch has published (those runs read an
        /// older version of the entry and can no longer publish).
        other_staging: Vec<RelationName>,
    },
    /// Remove the staging tables other runs of this model left beside `staging` (see [`crate::staging`]): their
    /// catalog entries, and their data when it is a staging copy this path made beside `copies_of`
    /// (`<copies_of>__v<invocation>`). A leftover whose data is elsewhere loses its entry only: a standard rebuild
    /// stopped between its switch and its clean-up leaves an entry naming the table's current data. For a rebuild that is not
    /// guarded by the entry's version (a `custom_location` rebuild drops and recreates the table), planned only when
    /// the listing found some; a guarded [`Step::SwapTable`] removes them itself once it has published.
    DropOtherStaging {
        /// This run's staging table.
        staging: RelationName,
        /// The other runs' staging tables, as listed when the plan was made
        /// ([`crate::ExistingTable::siblings`]).
        others: Vec<RelationName>,
        /// The location whose staging copies (`<copies_of>__v<invocation>`) are this path's to delete with their
        /// entries: the model's `custom_location`.
        copies_of: String,
    },
    /// Delete every object under a location glue-rs owns (a staging copy).
    DeleteLocation {
        /// The location.
        location: String,
    },
    /// CREATE OR REPLACE VIEW.
    CreateView {
        /// The view.
        relation: RelationName,
        /// Its query.
        query: Query,
        /// `COMMENT` (persist_docs.relation).
        comment: Option<String>,
    },
    /// The temporary relation an incremental run merges from.
    CreateTempRelation {
        /// Its name.
        relation: RelationName,
        /// View or table.
        kind: TempKind,
        /// Format of a physical temp table.
        format: FileFormat,
        /// The rows.
        query: Query,
    },
    /// Compare the source's columns with the target's and apply `on_schema_change` (late-bound).
    SyncSchema {
        /// The table.
        target: RelationName,
        /// The relation holding the new rows.
        source: RelationName,
        /// What to do.
        mode: OnSchemaChange,
        /// The table's format (what ALTERs it takes).
        format: FileFormat,
        /// Source columns starting with this prefix are not added (snapshots: `dbt_`).
        ignore_prefix: Option<String>,
    },
    /// INSERT INTO target SELECT `<target columns>` FROM source.
    InsertInto {
        /// The table.
        target: RelationName,
        /// The rows.
        source: RelationName,
    },
    /// INSERT OVERWRITE target [PARTITION (…)] SELECT `<target columns>` FROM source.
    InsertOverwrite {
        /// The table.
        target: RelationName,
        /// The rows.
        source: RelationName,
        /// What is replaced.
        partitions: Partitions,
        /// The table's format (Iceberg and Delta take no PARTITION clause).
        format: FileFormat,
    },
    /// MERGE INTO target USING source.
    Merge {
        /// The table.
        target: RelationName,
        /// The rows.
        source: RelationName,
        /// unique_key columns (empty: `ON FALSE`).
        keys: Vec<Ident>,
        /// incremental_predicates.
        predicates: Vec<SqlFragment>,
        /// Columns updated on a match.
        update: UpdateColumns,
    },
    /// A Hudi datasource write (not SQL).
    HudiWrite {
        /// The table (no catalog).
        relation: RelationName,
        /// Its base path.
        location: String,
        /// The rows.
        query: SqlFragment,
        /// The write options (defaults, partition options, operation, then `hudi_options`).
        options: BTreeMap<String, String>,
        /// The operation.
        operation: HudiOperation,
        /// `substitute_variables`.
        substitute_variables: Vec<String>,
    },
    /// Iceberg: expire every snapshot but the newest.
    ExpireSnapshots {
        /// The table (catalog-qualified).
        relation: RelationName,
        /// The Spark catalog holding the procedure.
        catalog: Option<Ident>,
        /// Snapshots kept.
        retain_last: u32,
    },
    /// Delta: (re)generate the symlink manifest and keep the Athena table `<prefix>_<table>` over it.
    DeltaManifest {
        /// The Delta table.
        table: RelationName,
        /// The Athena table.
        manifest_table: RelationName,
        /// The Delta table's location.
        location: String,
        /// Identity partition columns.
        partition_by: Vec<Ident>,
        /// Create the Athena table (first build) or only refresh it.
        create: bool,
    },
    /// Build the snapshot staging relation (the rows that change).
    SnapshotStaging {
        /// Its name.
        staging: RelationName,
        /// View or table.
        kind: TempKind,
        /// The snapshot table.
        target: RelationName,
        /// Change detection.
        spec: SnapshotSpec,
        /// The snapshot's query.
        query: SqlFragment,
    },
    /// First build of a snapshot table.
    SnapshotCreate {
        /// The table.
        table: TableSpec,
        /// Change detection.
        spec: SnapshotSpec,
        /// The snapshot's query.
        query: SqlFragment,
    },
    /// Apply the staging rows to the snapshot table.
    SnapshotMerge {
        /// The snapshot table.
        target: RelationName,
        /// The staging relation.
        staging: RelationName,
        /// Change detection.
        spec: SnapshotSpec,
    },
    /// Load a CSV seed (not SQL).
    LoadSeed {
        /// The table.
        relation: RelationName,
        /// The CSV file.
        path: Option<String>,
        /// Writer format (profile `seed_format`).
        format: FileFormat,
        /// Writer mode (profile `seed_mode`).
        mode: SeedMode,
        /// Table location.
        location: Option<String>,
        /// The location is glue-rs's own for this table (see [`TableSpec::own_location`]).
        own_location: bool,
        /// `column_types`.
        column_types: BTreeMap<String, String>,
        /// The CSV's field delimiter (`delimiter`).
        delimiter: u8,
        /// `enable_spark_seed_casting`.
        casting: bool,
        /// The table exists.
        exists: bool,
        /// Rebuild instead of writing into the existing table (full refresh).
        replace: bool,
    },
    /// REFRESH TABLE.
    RefreshTable {
        /// The table.
        relation: RelationName,
    },
    /// Column comments from documented columns.
    PersistColumnDocs {
        /// The table.
        relation: RelationName,
        /// Column and comment.
        columns: Vec<(Ident, String)>,
    },
    /// Reconcile Lake Formation tags and data-cell filters (not SQL).
    LakeFormation {
        /// Glue database (no catalog prefix).
        database: String,
        /// Glue table.
        table: String,
        /// Catalog id (cross-account), else the caller's account.
        catalog_id: Option<String>,
        /// `lf_tags_config`.
        tags: Option<LfTagsConfig>,
        /// `lf_grants`.
        grants: Option<LfGrants>,
    },
}

macro_rules! step_kinds {
    ($($kind:ident),+ $(,)?) => {
        /// The kind of a step, for capability checks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        pub enum StepKind { $(#[allow(missing_docs)] $kind),+ }

        impl StepKind {
            /// Every kind.
            pub const ALL: &'static [StepKind] = &[$(StepKind::$kind),+];
        }

        impl Step {
            /// This step's kind.
            pub fn kind(&self) -> StepKind {
                match self { $(Step::$kind { .. } => StepKind::$kind),+ }
            }
        }
    };
}

step_kinds!(
    RunPython,
    Hook,
    CheckQuery,
    Drop,
    CreateTableAs,
    SwapTable,
    DropOtherStaging,
    DeleteLocation,
    CreateView,
    CreateTempRelation,
    SyncSchema,
    InsertInto,
    InsertOverwrite,
    Merge,
    HudiWrite,
    ExpireSnapshots,
    DeltaManifest,
    SnapshotStaging,
    SnapshotCreate,
    SnapshotMerge,
    LoadSeed,
    RefreshTable,
    PersistColumnDocs,
    LakeFormation,
);

impl Step {
    /// Whether the plan may run again from its start once this step has run, or may have (a session lost under
    /// its statement): a second run leaves the same tables. Steps that drop, replace, rebuild or upsert by key what
    /// they write are; these are not:
    /// - appends: `INSERT INTO`, a seed appended to (`seed_mode: append`), a MERGE without `unique_key` (`ON
    ///   FALSE`), which would add their rows twice;
    /// - hooks: their SQL is the user's, and may append;
    /// - the catalog switch of a rebuild: once it is done the table is live at the version directory a second
    ///   build would write into.
    pub fn replayable(&self) -> bool {
        match self {
            Step::InsertInto { .. } | Step::Hook { .. } | Step::SwapTable { .. } => false,
            Step::Merge { keys, .. } => !keys.is_empty(),
            Step::LoadSeed {
                mode, exists, replace, ..
            } => !(*exists && !*replace && *mode == SeedMode::Append),
            _ => true,
        }
    }

    /// The table format this step writes, when it writes one.
    pub fn format(&self) -> Option<FileFormat> {
        match self {
            Step::CreateTableAs { table, .. } | Step::SnapshotCreate { table, .. } => Some(table.format),
            Step::CreateTempRelation {
                kind: TempKind::Table,
                format,
                ..
            } => Some(*format),
            Step::SyncSchema { format, .. } | Step::InsertOverwrite { format, .. } => Some(*format),
            Step::HudiWrite { .. } => Some(FileFormat::Hudi),
            Step::ExpireSnapshots { .. } => Some(FileFormat::Iceberg),
            Step::DeltaManifest { .. } => Some(FileFormat::Delta),
            Step::LoadSeed { format, .. } => Some(*format),
            _ => None,
        }
    }
}

fn loc(l: &Option<String>) -> String {
    l.as_deref().map(|l| format!(" location={l}")).unwrap_or_default()
}

impl std::fmt::Display for Step {
    /// A one-line summary (the rendered SQL carries the detail).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::RunPython { view, .. } => write!(f, "RunPython into temporary view {view}"),
            Step::Hook { phase, .. } => write!(f, "Hook {phase:?}"),
            Step::CheckQuery { view, .. } => write!(f, "CheckQuery via temporary view {view}"),
            Step::Drop { relation, kind, purge } => {
                write!(f, "Drop {kind:?} {relation}{}", if *purge { " purge" } else { "" })
            }
            Step::CreateTableAs { table, replace, query } => write!(
                f,
                "CreateTableAs {} format={}{}{}{}",
                table.relation,
                table.format,
                if *replace { " replace" } else { "" },
                loc(&table.location),
                if query.add_iceberg_timestamp {
                    " +update_iceberg_ts"
                } else {
                    ""
                }
            ),
            Step::SwapTable {
                target,
                staging,
                delete_old_location,
                ..
            } => write!(
                f,
                "SwapTable {target} <- {staging}{}",
                if *delete_old_location {
                    " (old location kept as the previous version)"
                } else {
                    ""
                }
            ),
            Step::DropOtherStaging { others, .. } => {
                let names: Vec<String> = others.iter().map(ToString::to_string).collect();
                write!(f, "DropOtherStaging {}", names.join(", "))
            }
            Step::DeleteLocation { location } => write!(f, "DeleteLocation {location}"),
            Step::CreateView { relation, .. } => write!(f, "CreateView {relation}"),
            Step::CreateTempRelation { relation, kind, .. } => {
                write!(f, "CreateTempRelation {kind:?} {relation}")
            }
            Step::SyncSchema {
                target, source, mode, ..
            } => write!(f, "SyncSchema {mode} {target} from {source}"),
            Step::InsertInto { target, source } => write!(f, "InsertInto {target} from {source}"),
            Step::InsertOverwrite {
                target,
                source,
                partitions,
                ..
            } => {
                write!(f, "InsertOverwrite {target} from {source} partitions={partitions:?}")
            }
            Step::Merge {
                target,
                source,
                keys,
                update,
                predicates,
            } => write!(
                f,
                "Merge {target} from {source} keys=[{}] update={update:?} predicates={}",
                keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                predicates.len()
            ),
            Step::HudiWrite {
                relation,
                operation,
                location,
                ..
            } => {
                write!(f, "HudiWrite {relation} {operation:?} location={location}")
            }
            Step::ExpireSnapshots {
                relation, retain_last, ..
            } => {
                write!(f, "ExpireSnapshots {relation} retain_last={retain_last}")
            }
            Step::DeltaManifest {
                manifest_table, create, ..
            } => {
                write!(
                    f,
                    "DeltaManifest {manifest_table}{}",
                    if *create { " create" } else { " refresh" }
                )
            }
            Step::SnapshotStaging { staging, kind, .. } => {
                write!(f, "SnapshotStaging {kind:?} {staging}")
            }
            Step::SnapshotCreate { table, .. } => {
                write!(
                    f,
                    "SnapshotCreate {} format={}{}",
                    table.relation,
                    table.format,
                    loc(&table.location)
                )
            }
            Step::SnapshotMerge { target, staging, .. } => write!(f, "SnapshotMerge {target} from {staging}"),
            Step::LoadSeed {
                relation,
                format,
                mode,
                exists,
                replace,
                ..
            } => write!(
                f,
                "LoadSeed {relation} format={format} mode={mode}{}{}",
                if *exists { " exists" } else { "" },
                if *replace { " replace" } else { "" }
            ),
            Step::RefreshTable { relation } => write!(f, "RefreshTable {relation}"),
            Step::PersistColumnDocs { relation, columns } => {
                write!(f, "PersistColumnDocs {relation} ({} columns)", columns.len())
            }
            Step::LakeFormation { database, table, .. } => write!(f, "LakeFormation {database}.{table}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Existing, ExistingTable, FileFormat, Model, ModelConfig, PlanFlags, Target, plan};

    fn steps(config: serde_json::Value, existing: Existing) -> Vec<(String, bool)> {
        let cfg = ModelConfig::from_json(&config).unwrap();
        let m = Model::new("m", "s", "select 1 as id", cfg);
        let p = plan(
            &m,
            &existing,
            &Target::new("s", Some("s3://b/w".into())),
            &PlanFlags::default(),
        )
        .unwrap();
        p.steps.iter().map(|s| (s.to_string(), s.replayable())).collect()
    }

    fn unsafe_steps(config: serde_json::Value, existing: Existing) -> Vec<String> {
        let all = steps(config, existing);
        all.into_iter().filter(|(_, ok)| !ok).map(|(s, _)| s).collect()
    }

    #[test]
    fn appends_hooks_and_a_done_swap_cannot_run_twice() {
        let parquet = || Existing::Table(ExistingTable::of(FileFormat::Parquet));
        let delta = || Existing::Table(ExistingTable::of(FileFormat::Delta));
        let append = serde_json::json!({"materialized": "incremental", "incremental_strategy": "append"});
        let got = unsafe_steps(append, parquet());
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("InsertInto"), "{got:?}");
        let overwrite = serde_json::json!({"materialized": "incremental", "incremental_strategy": "insert_overwrite",
            "partition_by": ["id"]});
        assert_eq!(unsafe_steps(overwrite, parquet()), Vec::<String>::new());
        let keyed = serde_json::json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge", "unique_key": "id"});
        assert_eq!(unsafe_steps(keyed, delta()), Vec::<String>::new());
        let keyless = serde_json::json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge"});
        let got = unsafe_steps(keyless, delta());
        assert!(got.len() == 1 && got[0].starts_with("Merge"), "{got:?}");
        let first = serde_json::json!({"materialized": "table"});
        assert_eq!(unsafe_steps(first.clone(), Existing::Absent), Vec::<String>::new());
        let got = unsafe_steps(first, parquet());
        assert!(got.len() == 1 && got[0].starts_with("SwapTable"), "{got:?}");
        let hooked = serde_json::json!({"materialized": "table", "post-hook": "insert into s.audit select 1"});
        let got = unsafe_steps(hooked, Existing::Absent);
        assert!(got.len() == 1 && got[0].starts_with("Hook Post"), "{got:?}");
    }
}

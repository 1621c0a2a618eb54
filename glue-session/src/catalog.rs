//! The Glue Data Catalog through `aws-sdk-glue`: listing a schema's relations (one paginated GetTables), telling
//! views, Iceberg, Delta, Hudi and Hive-format tables apart, a table's columns, and the atomic table replace (one
//! UpdateTable that keeps the table entry and so its Lake Formation tags, grants and filters).

use aws_sdk_glue::types::{
    BatchUpdatePartitionRequestEntry, Partition, PartitionInput, PartitionValueList, Table, TableInput,
};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use glue_materialize::engine::RelationInfo;
use glue_materialize::{Existing, ExistingTable, FileFormat, TableFormat};
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::client::Clients;
use crate::error::SessionError;

/// Catalog calls of one target (`catalog_id` for a cross-account catalog).
#[derive(Debug, Clone)]
pub struct Catalog {
    clients: Clients,
    catalog_id: Option<String>,
}

/// What a Glue table entry is, from its type, parameters and storage descriptor.
pub fn existing_of(t: &Table) -> Existing {
    if t.table_type
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("VIRTUAL_VIEW"))
    {
        return Existing::View;
    }
    let params = t.parameters.clone().unwrap_or_default();
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let sd = t.storage_descriptor.as_ref();
    let input = sd
        .and_then(|s| s.input_format.as_deref())
        .unwrap_or("")
        .to_ascii_lowercase();
    let serde_lib = sd
        .and_then(|s| s.serde_info.as_ref())
        .and_then(|s| s.serialization_library.as_deref())
        .unwrap_or("")
        .to_ascii_lowercase();
    let provider = param("spark.sql.sources.provider");
    let format = if param("table_type").as_deref() == Some("iceberg") {
        TableFormat::Known(FileFormat::Iceberg)
    } else if provider.as_deref() == Some("delta") {
        TableFormat::Known(FileFormat::Delta)
    } else if provider.as_deref() == Some("hudi") || input.contains("hudi") {
        TableFormat::Known(FileFormat::Hudi)
    } else if let Some(p) = provider {
        FileFormat::parse(&p).map_or(TableFormat::Other(p), TableFormat::Known)
    } else if input.contains("parquet") || serde_lib.contains("parquet") {
        TableFormat::Known(FileFormat::Parquet)
    } else if input.contains("orc") {
        TableFormat::Known(FileFormat::Orc)
    } else if serde_lib.contains("json") {
        TableFormat::Known(FileFormat::Json)
    } else if serde_lib.contains("lazysimpleserde") || serde_lib.contains("opencsv") {
        TableFormat::Known(FileFormat::Csv)
    } else {
        TableFormat::Other(if input.is_empty() { "unknown".into() } else { input })
    };
    let columns = sd
        .map(|s| s.columns())
        .unwrap_or_default()
        .iter()
        .chain(t.partition_keys())
        .filter_map(|c| ColumnDef::new(c.name.clone(), c.r#type.clone().unwrap_or_else(|| "string".into())).ok())
        .collect();
    Existing::Table(ExistingTable {
        format,
        location: sd.and_then(|s| s.location.clone()).filter(|l| !l.is_empty()),
        columns,
        partition_columns: t.partition_keys().iter().map(|c| c.name.clone()).collect(),
        version: t.version_id.clone(),
        siblings: Vec::new(),
        temp_siblings: Vec::new(),
    })
}

/// The TableInput that recreates an entry as it is (UpdateTable takes an input, not a Table).
fn input_of(t: &Table, name: &str) -> TableInput {
    TableInput::builder()
        .name(name)
        .set_description(t.description.clone())
        .set_owner(t.owner.clone())
        .set_retention(Some(t.retention))
        .set_storage_descriptor(t.storage_descriptor.clone())
        .set_partition_keys(t.partition_keys.clone())
        .set_view_original_text(t.view_original_text.clone())
        .set_view_expanded_text(t.view_expanded_text.clone())
        .set_table_type(t.table_type.clone())
        .set_parameters(t.parameters.clone())
        .build()
        .expect("a table input with a name")
}

/// Catalog switches under way in this process.
static SWITCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One switch under way, counted in [`SWITCHES`] until dropped (its task ends, however it ends).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        SWITCHES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        SWITCHES.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Waits until no catalog switch of this process is under way, at most `limit`; true when none is. A process about
/// to exit at once (a second Ctrl-C) calls it first, so that it never ends a table's switch half-way.
pub async fn switches_done(limit: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while SWITCHES.load(std::sync::atomic::Ordering::Acquire) > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    true
}

/// The standard location a version directory `<base>__v<invocation>` belongs to.
fn version_base(dir: &str) -> Option<&str> {
    let dir = dir.trim_end_matches('/');
    dir.rfind("__v").map(|i| &dir[..i]).filter(|b| !b.is_empty())
}

/// Whether `location` is a version directory glue-rs made for one run's rebuild (`<base>__v<invocation>`).
pub(crate) fn is_version_dir(location: &str) -> bool {
    version_base(location).is_some()
}

/// A rebuild's catalog switch, as [`Catalog::switch`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Switch<'a> {
    /// The table replaced.
    pub target: &'a RelationName,
    /// Other runs' staging tables the plan's listing found, removed (entries only) once this switch published.
    pub other_staging: &'a [RelationName],
    /// The table built by this run.
    pub staging: &'a RelationName,
    /// Where this run built the staging table's data (the switch refuses a staging table at another location).
    pub staged_at: Option<&'a str>,
    /// The version of `target`'s entry this run read (the switch refuses another).
    pub expected_version: Option<&'a str>,
    /// The replaced data's location.
    pub old_location: Option<&'a str>,
    /// The replaced data is glue-rs's own (a location it derived): kept as the previous version.
    pub old_is_ours: bool,
}

/// What a switch checks before it publishes.
struct Guard<'a> {
    expected_version: Option<&'a str>,
    staged_at: Option<&'a str>,
}

/// Why a switch did not happen: another run got there first (`ours`: the staging table is this run's own), or
/// anything else.
enum SwapFailure {
    Conflict { message: String, ours: bool },
    Other(SessionError),
}

impl From<SessionError> for SwapFailure {
    fn from(e: SessionError) -> Self {
        SwapFailure::Other(e)
    }
}

/// The table parameter holding the data location of a table's previous version, kept readable after a rebuild's
/// switch until the next one.
pub const PREVIOUS_LOCATION: &str = "glue_rs.previous_location";

/// One partition batch call on `target`'s table: AWS's error, or the first entry that failed, fails it.
macro_rules! partition_batch {
    ($catalog:ident, $target:ident, $call:ident, $name:literal, $($entries:tt)+) => {{
        let out = $catalog
            .clients
            .glue
            .$call()
            .database_name($target.schema_str())
            .table_name($target.identifier.as_str())
            .set_catalog_id($catalog.catalog_id.clone())
            .$($entries)+
            .send()
            .await
            .map_err(|e| SessionError::aws($name, e))?;
        if let Some(e) = out.errors().first() {
            return Err(SessionError::Protocol(format!("{} on {}: {:?}", $name, $target, e.error_detail())));
        }
    }};
}

impl Catalog {
    /// The catalog of `catalog_id` (None: the caller's account).
    pub fn new(clients: Clients, catalog_id: Option<String>) -> Self {
        Catalog { clients, catalog_id }
    }

    /// Every relation of a schema (an absent schema lists nothing), in one paginated GetTables.
    pub async fn list(&self, schema: &str) -> Result<Vec<RelationInfo>, SessionError> {
        let mut pages = self
            .clients
            .glue
            .get_tables()
            .database_name(schema)
            .set_catalog_id(self.catalog_id.clone())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let err = SessionError::aws("GetTables", e);
                    if err.code() == Some("EntityNotFoundException") {
                        return Ok(Vec::new());
                    }
                    return Err(err);
                }
            };
            for t in page.table_list() {
                let name = RelationName::new(schema.to_lowercase(), t.name.clone())
                    .map_err(|e| SessionError::Protocol(format!("table name `{}`: {e}", t.name)))?;
                out.push(RelationInfo {
                    name,
                    existing: existing_of(t),
                });
            }
        }
        Ok(out)
    }

    /// Creates a database (`LocationUri` when given) unless it exists; true when this call created it.
    pub async fn create_database(&self, name: &str, location: Option<String>) -> Result<bool, SessionError> {
        let input = aws_sdk_glue::types::DatabaseInput::builder()
            .name(name)
            .set_location_uri(location)
            .build()
            .map_err(|e| SessionError::Protocol(format!("a database input: {e}")))?;
        match self
            .clients
            .glue
            .create_database()
            .database_input(input)
            .set_catalog_id(self.catalog_id.clone())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = SessionError::aws("CreateDatabase", e);
                if err.code() == Some("AlreadyExistsException") {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// One table entry (None when absent).
    pub async fn get(&self, relation: &RelationName) -> Result<Option<Table>, SessionError> {
        match self
            .clients
            .glue
            .get_table()
            .database_name(relation.schema_str())
            .name(relation.identifier.as_str())
            .set_catalog_id(self.catalog_id.clone())
            .send()
            .await
        {
            Ok(o) => Ok(o.table),
            Err(e) => {
                let err = SessionError::aws("GetTable", e);
                if err.code() == Some("EntityNotFoundException") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// A rebuild's catalog switch ([`Catalog::swap`]) on a task of its own, so that a run dropped where it is
    /// (Ctrl-C, SIGTERM) never stops it half-way. The replaced data at `old_location` stays readable as the table's
    /// previous version when it is glue-rs's own (`old_is_ours`: a location glue-rs derived); the previous version
    /// kept by the switch before this one is deleted now. Readers that listed the old files before the switch
    /// (other sessions, Athena, jobs) go on reading them until the next replace.
    ///
    /// Of two runs rebuilding one table, the one that switches second fails ([`SessionError::Conflict`]) and
    /// publishes nothing: the entry is no longer at the version it read, or the staging table is no longer the one
    /// it wrote (another run replaced it). Its own staging entry and data are removed.
    pub async fn switch(&self, s: &Switch<'_>) -> Result<(), SessionError> {
        let this = self.clone();
        let target = s.target.clone();
        let staging = s.staging.clone();
        let staged_at = s.staged_at.map(str::to_string);
        let expected = s.expected_version.map(str::to_string);
        let keep = s.old_location.filter(|_| s.old_is_ours).map(str::to_string);
        let other_staging = s.other_staging.to_vec();
        let in_flight = InFlight::enter();
        let task = tokio::spawn(async move {
            let _in_flight = in_flight;
            let guard = Guard {
                expected_version: expected.as_deref(),
                staged_at: staged_at.as_deref(),
            };
            // The version directories of this table that exist before the switch: those of runs that read an
            // older version of the entry (they can no longer publish: their switch fails) or that crashed.
            let base = staged_at.as_deref().filter(|_| keep.is_some()).and_then(version_base);
            let earlier = match base {
                Some(b) => this.version_dirs(b).await.unwrap_or_default(),
                None => Vec::new(),
            };
            match this.swap_guarded(&target, &staging, keep.as_deref(), &guard).await {
                Ok(released) => {
                    let live = |d: &str| {
                        [staged_at.as_deref(), keep.as_deref()]
                            .into_iter()
                            .flatten()
                            .any(|l| l.trim_end_matches('/') == d.trim_end_matches('/'))
                    };
                    for dir in released.iter().chain(earlier.iter()).filter(|d| !live(d)) {
                        this.delete_location(dir).await?;
                    }
                    // The staging entries of those runs (a run that stopped between its staging table and its
                    // switch left one): named after the run, so only runs with data left cost a call. Then those the
                    // plan's listing found (a run that stopped between its publication and the removal of its
                    // staging entry: its data is the version this switch replaced, kept).
                    for r in &other_staging {
                        this.delete_table_if_exists(r).await?;
                    }
                    for dir in earlier.iter().filter(|d| !live(d)) {
                        let run = dir.trim_end_matches('/').rsplit_once("__v").map(|(_, r)| r);
                        let name =
                            run.and_then(|r| glue_materialize::staging::staging_of_run(staging.identifier.as_str(), r));
                        // Not ours, and not one the loop above removed already.
                        let known = |n: &String| {
                            n == staging.identifier.as_str()
                                || other_staging
                                    .iter()
                                    .any(|r| r.identifier.as_str().eq_ignore_ascii_case(n))
                        };
                        if let Some(name) = name.filter(|n| !known(n)) {
                            let left = staging
                                .with_identifier(name)
                                .map_err(|e| SessionError::Protocol(e.to_string()))?;
                            this.delete_table_if_exists(&left).await?;
                        }
                    }
                    Ok(())
                }
                Err(SwapFailure::Conflict { message, ours }) => {
                    // This run's result is not published: its data goes, and its staging entry when it is its own.
                    if ours {
                        let _ = this.delete_table(&staging).await;
                    }
                    if let Some(at) = &staged_at {
                        let _ = this.delete_location(at).await;
                    }
                    Err(SessionError::Conflict(message))
                }
                Err(SwapFailure::Other(e)) => Err(e),
            }
        });
        task.await
            .map_err(|e| SessionError::Protocol(format!("the catalog switch's task ended: {e}")))?
    }

    /// The version directories glue-rs made for the table whose standard location is `base`: `<base>__v*`.
    async fn version_dirs(&self, base: &str) -> Result<Vec<String>, SessionError> {
        let rest = base
            .strip_prefix("s3://")
            .or_else(|| base.strip_prefix("s3a://"))
            .ok_or_else(|| SessionError::Protocol(format!("`{base}` is not an s3:// location")))?;
        let scheme = &base[..base.len() - rest.len()];
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = format!("{}__v", key.trim_end_matches('/'));
        let mut pages = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut dirs = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| SessionError::aws("ListObjectsV2", e))?;
            dirs.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(|p| format!("{scheme}{bucket}/{}", p.trim_end_matches('/'))),
            );
        }
        Ok(dirs)
    }

    /// Removes other runs' staging tables ([`Step::DropOtherStaging`](glue_materialize::Step::DropOtherStaging)):
    /// each entry, and its data where it is a staging copy made beside `copies_of` (`<copies_of>__v<invocation>`).
    /// Data anywhere else stays: a standard rebuild stopped between its switch and its clean-up leaves an entry
    /// naming the version directory the table reads now. An entry already gone is skipped.
    pub async fn drop_staging(&self, tables: &[RelationName], copies_of: &str) -> Result<(), SessionError> {
        let ours = glue_materialize::location::normalized(copies_of);
        for r in tables {
            let Some(t) = self.get(r).await? else {
                continue;
            };
            self.delete_table_if_exists(r).await?;
            if let Some(l) = t
                .storage_descriptor()
                .and_then(|sd| sd.location())
                .filter(|l| version_base(&glue_materialize::location::normalized(l)) == Some(ours.as_str()))
            {
                self.delete_location(l).await?;
            }
        }
        Ok(())
    }

    async fn delete_table_if_exists(&self, relation: &RelationName) -> Result<(), SessionError> {
        match self.delete_table(relation).await {
            Err(e) if e.code() == Some("EntityNotFoundException") => Ok(()),
            other => other,
        }
    }

    async fn delete_table(&self, relation: &RelationName) -> Result<(), SessionError> {
        self.clients
            .glue
            .delete_table()
            .database_name(relation.schema_str())
            .name(relation.identifier.as_str())
            .set_catalog_id(self.catalog_id.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SessionError::aws("DeleteTable", e))
    }

    /// [`Catalog::swap`] without the guard of a run: the entry's version as it is now.
    pub async fn swap(
        &self,
        target: &RelationName,
        staging: &RelationName,
        keep: Option<&str>,
    ) -> Result<Option<String>, SessionError> {
        let guard = Guard {
            expected_version: None,
            staged_at: None,
        };
        self.swap_guarded(target, staging, keep, &guard)
            .await
            .map_err(|f| match f {
                SwapFailure::Conflict { message, .. } => SessionError::Conflict(message),
                SwapFailure::Other(e) => e,
            })
    }

    /// Points `target`'s entry at the table built as `staging` (location, columns, partition keys, parameters) in
    /// one UpdateTable guarded by the entry's VersionId, then removes the staging entry. The entry itself is kept,
    /// so Lake Formation tags, grants and data-cell filters on it survive; readers see the old or the new table,
    /// never none. `keep` is recorded on the entry ([`PREVIOUS_LOCATION`]) as the previous version's data; the
    /// location recorded there before, no longer referenced by the entry, is returned.
    async fn swap_guarded(
        &self,
        target: &RelationName,
        staging: &RelationName,
        keep: Option<&str>,
        guard: &Guard<'_>,
    ) -> Result<Option<String>, SwapFailure> {
        let missing = |r: &RelationName| SessionError::Protocol(format!("{r} is not in the Glue catalog"));
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        let Some(staged) = self.get(staging).await? else {
            return Err(match guard.staged_at {
                Some(_) => SwapFailure::Conflict {
                    message: format!(
                        "the staging table {staging} this run built is gone: another run rebuilding {target} at \
                         the same time removed it. This run's result was not published"
                    ),
                    ours: false,
                },
                None => SwapFailure::Other(missing(staging)),
            });
        };
        let staged_location = staged
            .storage_descriptor()
            .and_then(|sd| sd.location())
            .unwrap_or_default();
        if let Some(at) = guard.staged_at
            && !same(staged_location, at)
        {
            return Err(SwapFailure::Conflict {
                message: format!(
                    "the staging table {staging} is at {staged_location}, not at {at} where this run built it: \
                     another run rebuilding {target} at the same time replaced it. This run's result was not \
                     published"
                ),
                ours: false,
            });
        }
        let current = self.get(target).await?.ok_or_else(|| missing(target))?;
        if let Some(v) = guard.expected_version
            && current.version_id.as_deref() != Some(v)
        {
            return Err(SwapFailure::Conflict {
                message: format!(
                    "{target} changed since this run read it (version {v}, now {}): another run replaced it. \
                     This run's result was not published",
                    current.version_id.as_deref().unwrap_or("unknown")
                ),
                ours: true,
            });
        }
        let mut input = input_of(&staged, target.identifier.as_str());
        let kept_before = current
            .parameters()
            .and_then(|p| p.get(PREVIOUS_LOCATION))
            .filter(|l| !l.is_empty())
            .cloned();
        let mut parameters = input.parameters.take().unwrap_or_default();
        parameters.remove(PREVIOUS_LOCATION);
        if let Some(k) = keep {
            parameters.insert(PREVIOUS_LOCATION.to_string(), k.to_string());
        }
        input.parameters = Some(parameters);
        let new_location = staged
            .storage_descriptor()
            .and_then(|sd| sd.location())
            .map(str::to_string);
        let released = kept_before.filter(|l| {
            let same = |other: Option<&str>| other.is_some_and(|o| o.trim_end_matches('/') == l.trim_end_matches('/'));
            !same(keep) && !same(new_location.as_deref())
        });
        // Keep what belongs to the entry rather than to the data: its description and owner.
        input.description = current.description.clone().or(input.description);
        input.owner = current.owner.clone().or(input.owner);
        self.update_table(target, input, current.version_id.clone())
            .await
            .map_err(|e| {
                if e.code() == Some("ConcurrentModificationException") {
                    SwapFailure::Conflict {
                        message: format!(
                            "{target} was replaced by another run while this run switched it: this run's result \
                             was not published"
                        ),
                        ours: true,
                    }
                } else {
                    SwapFailure::Other(e)
                }
            })?;
        // A Hive-partitioned table's partitions are entries of their own: the target's old ones (pointing at the old
        // data, still in place) are replaced by the staging table's, right after the switch.
        if !staged.partition_keys().is_empty() || !current.partition_keys().is_empty() {
            self.move_partitions(target, staging).await?;
        }
        // The switch is published. The staging entry may be gone already: a run rebuilding the same table at the
        // same time dropped it before building its own (staging names are per model). Its removal was all that was
        // left to do, so this run succeeded; any other failure is one.
        if let Err(e) = self.delete_table(staging).await {
            if e.code() != Some("EntityNotFoundException") {
                return Err(SwapFailure::Other(e));
            }
            tracing::warn!("{target} switched; its staging entry {staging} was already removed by another run");
        }
        Ok(released)
    }

    async fn partitions(&self, relation: &RelationName) -> Result<Vec<Partition>, SessionError> {
        let mut pages = self
            .clients
            .glue
            .get_partitions()
            .database_name(relation.schema_str())
            .table_name(relation.identifier.as_str())
            .set_catalog_id(self.catalog_id.clone())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(
                page.map_err(|e| SessionError::aws("GetPartitions", e))?
                    .partitions
                    .unwrap_or_default(),
            );
        }
        Ok(out)
    }

    /// Replaces `target`'s partition entries by `staging`'s without ever leaving the table with none: values only
    /// in the new data are created first, values in both are updated in place (BatchUpdatePartition), and only then
    /// are values only in the old data deleted. A run that stops between the calls leaves every value readable
    /// (the old data stays in place until the next replace).
    async fn move_partitions(&self, target: &RelationName, staging: &RelationName) -> Result<(), SessionError> {
        let old = self.partitions(target).await?;
        let new = self.partitions(staging).await?;
        let values = |p: &Partition| p.values().to_vec();
        let old_values: std::collections::HashSet<Vec<String>> = old.iter().map(values).collect();
        let new_values: std::collections::HashSet<Vec<String>> = new.iter().map(values).collect();
        let input = |p: &Partition| {
            PartitionInput::builder()
                .set_values(p.values.clone())
                .set_storage_descriptor(p.storage_descriptor.clone())
                .set_parameters(p.parameters.clone())
                .build()
        };
        let (kept, added): (Vec<&Partition>, Vec<&Partition>) =
            new.iter().partition(|p| old_values.contains(&values(p)));
        for chunk in added.chunks(100) {
            partition_batch!(
                self,
                target,
                batch_create_partition,
                "BatchCreatePartition",
                set_partition_input_list(Some(chunk.iter().map(|p| input(p)).collect()))
            );
        }
        for chunk in kept.chunks(100) {
            let entries: Vec<BatchUpdatePartitionRequestEntry> = chunk
                .iter()
                .filter_map(|p| {
                    BatchUpdatePartitionRequestEntry::builder()
                        .set_partition_value_list(p.values.clone())
                        .partition_input(input(p))
                        .build()
                        .ok()
                })
                .collect();
            partition_batch!(
                self,
                target,
                batch_update_partition,
                "BatchUpdatePartition",
                set_entries(Some(entries))
            );
        }
        let dropped: Vec<&Partition> = old.iter().filter(|p| !new_values.contains(&values(p))).collect();
        for chunk in dropped.chunks(25) {
            let values: Vec<PartitionValueList> = chunk
                .iter()
                .filter_map(|p| PartitionValueList::builder().set_values(p.values.clone()).build().ok())
                .collect();
            partition_batch!(
                self,
                target,
                batch_delete_partition,
                "BatchDeletePartition",
                set_partitions_to_delete(Some(values))
            );
        }
        Ok(())
    }

    /// UpdateTable of `table`'s entry, guarded by the VersionId it was read at (Glue refuses it with
    /// ConcurrentModificationException when the entry changed since).
    async fn update_table(
        &self,
        table: &RelationName,
        input: TableInput,
        version_id: Option<String>,
    ) -> Result<(), SessionError> {
        self.clients
            .glue
            .update_table()
            .database_name(table.schema_str())
            .set_catalog_id(self.catalog_id.clone())
            .table_input(input)
            .set_version_id(version_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SessionError::aws("UpdateTable", e))
    }

    /// Adds `location` to a table's `StorageDescriptor.AdditionalLocations` unless it is there (dbt-glue does this for
    /// the Athena table over a Delta table's symlink manifest, so Lake Formation and Athena grant access to the data
    /// files the manifest lists). One UpdateTable guarded by the entry's VersionId; nothing when already present.
    pub async fn add_additional_location(&self, table: &RelationName, location: &str) -> Result<bool, SessionError> {
        let current = self
            .get(table)
            .await?
            .ok_or_else(|| SessionError::Protocol(format!("{table} is not in the Glue catalog")))?;
        let has = current
            .storage_descriptor()
            .map(|sd| sd.additional_locations().iter().any(|l| l == location))
            .unwrap_or(false);
        if has {
            return Ok(false);
        }
        let mut input = input_of(&current, table.identifier.as_str());
        let mut sd = input
            .storage_descriptor
            .take()
            .unwrap_or_else(|| aws_sdk_glue::types::StorageDescriptor::builder().build());
        let mut extra = sd.additional_locations.take().unwrap_or_default();
        extra.push(location.to_string());
        sd.additional_locations = Some(extra);
        input.storage_descriptor = Some(sd);
        self.update_table(table, input, current.version_id.clone()).await?;
        Ok(true)
    }

    /// Deletes every object under an `s3://` location glue-rs owns (a staging copy, a replaced table's old data).
    pub async fn delete_location(&self, location: &str) -> Result<usize, SessionError> {
        let rest = location
            .strip_prefix("s3://")
            .or_else(|| location.strip_prefix("s3a://"))
            .ok_or_else(|| SessionError::Protocol(format!("`{location}` is not an s3:// location")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        let mut deleted = 0;
        let mut pages = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        // One DeleteObjects per listed page (both hold at most 1,000 keys), not one call per object.
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| SessionError::aws("ListObjectsV2", e))?;
            let keys: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if keys.is_empty() {
                continue;
            }
            let count = keys.len();
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| SessionError::Protocol(format!("a DeleteObjects request: {e}")))?;
            let out = self
                .clients
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| SessionError::aws("DeleteObjects", e))?;
            if let Some(e) = out.errors().first() {
                return Err(SessionError::Aws {
                    operation: "DeleteObjects",
                    code: e.code().map(str::to_string),
                    message: format!("{}: {}", e.key().unwrap_or_default(), e.message().unwrap_or_default()),
                });
            }
            deleted += count;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor};

    #[tokio::test]
    async fn an_exit_at_once_waits_for_the_switch_under_way() {
        // A switch's task holds its `InFlight` until it ends: `switches_done` waits for it, up to its limit.
        let (started, release) = (
            tokio::sync::oneshot::channel::<()>(),
            tokio::sync::oneshot::channel::<()>(),
        );
        let (started_tx, started_rx) = started;
        let (release_tx, release_rx) = release;
        let task = tokio::spawn(async move {
            let _in_flight = InFlight::enter();
            let _ = started_tx.send(());
            let _ = release_rx.await;
        });
        started_rx.await.unwrap();
        assert!(
            !switches_done(std::time::Duration::from_millis(60)).await,
            "a switch under way is not done"
        );
        let waiter = tokio::spawn(switches_done(std::time::Duration::from_secs(5)));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the wait lasts while the switch runs");
        release_tx.send(()).unwrap();
        task.await.unwrap();
        assert!(waiter.await.unwrap(), "done once the switch's task ended");
        assert!(switches_done(std::time::Duration::ZERO).await);
    }

    fn table(params: &[(&str, &str)], input: &str, kind: &str) -> Table {
        let mut b = Table::builder().name("t").table_type(kind).storage_descriptor(
            StorageDescriptor::builder()
                .location("s3://b/s/t")
                .input_format(input)
                .serde_info(SerDeInfo::builder().serialization_library("x").build())
                .columns(Column::builder().name("id").r#type("bigint").build().unwrap())
                .build(),
        );
        b = b.partition_keys(Column::builder().name("dt").r#type("date").build().unwrap());
        for (k, v) in params {
            b = b.parameters(*k, *v);
        }
        b.build().unwrap()
    }

    #[test]
    fn formats_are_told_apart() {
        let fmt = |t: &Table| match existing_of(t) {
            Existing::Table(e) => e.format,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fmt(&table(&[("table_type", "ICEBERG")], "", "EXTERNAL_TABLE")),
            TableFormat::Known(FileFormat::Iceberg)
        );
        assert_eq!(
            fmt(&table(&[("spark.sql.sources.provider", "delta")], "", "EXTERNAL_TABLE")),
            TableFormat::Known(FileFormat::Delta)
        );
        assert_eq!(
            fmt(&table(
                &[],
                "org.apache.hudi.hadoop.HoodieParquetInputFormat",
                "EXTERNAL_TABLE"
            )),
            TableFormat::Known(FileFormat::Hudi)
        );
        assert_eq!(
            fmt(&table(
                &[],
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "EXTERNAL_TABLE"
            )),
            TableFormat::Known(FileFormat::Parquet)
        );
        assert_eq!(existing_of(&table(&[], "", "VIRTUAL_VIEW")), Existing::View);
        let Existing::Table(e) = existing_of(&table(&[("spark.sql.sources.provider", "csv")], "", "EXTERNAL_TABLE"))
        else {
            panic!()
        };
        assert_eq!(e.format, TableFormat::Known(FileFormat::Csv));
        assert_eq!(e.partition_columns, vec!["dt".to_string()]);
        assert_eq!(
            e.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["id", "dt"]
        );
        assert_eq!(e.location.as_deref(), Some("s3://b/s/t"));
    }
}

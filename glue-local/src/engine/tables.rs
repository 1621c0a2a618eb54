//! Creating a table's version (Parquet, CSV, JSON directories, a Delta commit, an Iceberg table) and switching the
//! catalog entry to it, checked against the version a run read.

use std::path::{Path, PathBuf};

use datafusion::prelude::DataFrame;
use glue_materialize::FileFormat;
use glue_materialize::step::TableSpec;
use glue_sql::RelationName;
use glue_sql::ddl::DropKind;

use crate::catalog::{EntryKind, TableEntry};
use crate::error::LocalError;
use crate::{delta, failpoint, plain};

use super::columns::{column_entries, nullable, partition_columns_last, with_comments};
use super::local_engine::{FORMATS, LocalEngine, is_plain, key_of};

impl LocalEngine {
    pub(super) async fn create_table(&self, spec: &TableSpec, df: DataFrame, replace: bool) -> Result<(), LocalError> {
        self.create_table_read(spec, df, replace, None).await
    }

    /// [`LocalEngine::create_table`] of rows read from the table it replaces at version `read` (a rewrite: a
    /// partition overwrite, a MERGE as a new version): the switch fails ([`LocalError::Conflict`]) when another run
    /// changed the table since, whatever version the table is at when the write starts.
    pub(super) async fn create_table_read(
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
    pub(super) fn commit_entry_checked(
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
    pub(super) fn swap_checked(
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
            // Other runs' staging tables existing now belong to runs that read an older version: they can no
            // longer publish (see glue_materialize::staging).
            Ok((stale, take_other_staging(s, staging)))
        });
        let (stale, others) = match switched {
            Ok(found) => found,
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
        self.remove_entries_data(&others)
    }

    /// [`Step::DropOtherStaging`](glue_materialize::Step::DropOtherStaging): the staging tables other runs of the
    /// model left beside `staging`, with their data.
    pub(super) fn drop_other_staging(&self, staging: &RelationName) -> Result<(), LocalError> {
        let others = self.catalog.update(|s| Ok(take_other_staging(s, staging)))?;
        self.remove_entries_data(&others)
    }

    /// The data of removed entries, where glue-rs made it (inside the warehouse).
    fn remove_entries_data(&self, entries: &[TableEntry]) -> Result<(), LocalError> {
        for e in entries {
            for l in e.location.iter().chain(e.previous_location.iter()) {
                self.remove_owned(l)?;
            }
        }
        Ok(())
    }
}

/// Removes from the catalog the staging tables of other runs of the model whose staging table is `ours`.
fn take_other_staging(s: &mut crate::catalog::CatalogState, ours: &RelationName) -> Vec<TableEntry> {
    let prefix = format!("{}.", ours.schema_str().to_lowercase());
    let keys: Vec<String> = s
        .tables
        .iter()
        .filter(|(k, e)| {
            e.kind == EntryKind::Table
                && k.strip_prefix(&prefix)
                    .is_some_and(|n| glue_materialize::staging::is_other_runs_staging(ours.identifier.as_str(), n))
        })
        .map(|(k, _)| k.clone())
        .collect();
    keys.into_iter().filter_map(|k| s.tables.remove(&k)).collect()
}

//! The warehouse catalog: databases, tables and views of a local warehouse, persisted in one JSON file that is
//! replaced atomically (write a temporary file, fsync, rename over, fsync the directory). Readers never lock and
//! always see a whole catalog, the old one or the new one; writers serialize on an exclusive file lock and
//! read-modify-write under it, so concurrent processes do not lose each other's updates.
//!
//! Table entries mirror what the Glue Data Catalog holds: format, location, columns (Spark types), partition keys,
//! properties, comments, and the SQL text of views.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use glue_materialize::FileFormat;
use serde::{Deserialize, Serialize};

use crate::error::LocalError;

/// The catalog file inside the warehouse.
pub const CATALOG_FILE: &str = "_glue_catalog.json";
const LOCK_FILE: &str = "_glue_catalog.lock";
const FORMAT_VERSION: u32 = 1;

/// A database (Glue database, dbt schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseEntry {
    /// Its directory.
    pub location: String,
    /// Description.
    pub comment: Option<String>,
}

/// A column as the catalog holds it: name, Spark type, comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnEntry {
    /// Name.
    pub name: String,
    /// Spark type (`bigint`, `string`, `decimal(10,2)`, …).
    pub data_type: String,
    /// Comment (persist_docs).
    pub comment: Option<String>,
}

/// What a catalog entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A table with data files.
    Table,
    /// A view (SQL text).
    View,
}

/// A table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Table or view.
    pub kind: EntryKind,
    /// Data format (tables).
    pub format: Option<FileFormat>,
    /// The data directory (tables): for plain formats the current version directory.
    pub location: Option<String>,
    /// Columns, partition columns last (as Spark lists them).
    pub columns: Vec<ColumnEntry>,
    /// Partition columns (Hive-style directories).
    pub partition_columns: Vec<String>,
    /// Bucketing as configured (recorded, not used for layout).
    pub clustered_by: Option<(Vec<String>, u32)>,
    /// Table properties.
    pub properties: BTreeMap<String, String>,
    /// Table comment (persist_docs.relation).
    pub comment: Option<String>,
    /// The view's SQL.
    pub view_sql: Option<String>,
    /// Bumped on every write; names versioned data directories.
    pub version: u64,
    /// The data directory of the version before (plain formats): kept one version longer so that a reader that
    /// listed it just before a switch can finish, deleted at the next switch.
    #[serde(default)]
    pub previous_location: Option<String>,
    /// Iceberg tables: the current metadata file (the catalog pointer Iceberg commits switch).
    #[serde(default)]
    pub iceberg_metadata: Option<String>,
}

/// The whole catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogState {
    /// File format version.
    pub format_version: u32,
    /// Databases by lower-case name.
    pub databases: BTreeMap<String, DatabaseEntry>,
    /// Tables and views by lower-case `schema.name`.
    pub tables: BTreeMap<String, TableEntry>,
}

/// The key of a table: lower-case `schema.name` (Glue folds names to lower case).
pub fn table_key(schema: &str, name: &str) -> String {
    format!("{}.{}", schema.to_lowercase(), name.to_lowercase())
}

impl CatalogState {
    /// A table or view.
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableEntry> {
        self.tables.get(&table_key(schema, name))
    }

    /// The tables and views of a schema, by lower-case name.
    pub fn tables_in(&self, schema: &str) -> impl Iterator<Item = (&str, &TableEntry)> {
        let prefix = format!("{}.", schema.to_lowercase());
        self.tables
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(&prefix).map(|n| (n, v)))
    }
}

/// A warehouse's catalog file.
#[derive(Debug, Clone)]
pub struct Catalog {
    root: PathBuf,
    /// The last file contents read or written and their parsed state (shared by clones).
    cache: std::sync::Arc<std::sync::Mutex<Option<ParsedFile>>>,
}

/// A catalog file's bytes and the state parsed from them.
type ParsedFile = (Vec<u8>, CatalogState);

impl Catalog {
    /// The catalog of the warehouse at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            cache: Default::default(),
        }
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self) -> PathBuf {
        self.root.join(CATALOG_FILE)
    }

    /// Reads the current catalog (empty when the warehouse has none yet). Never blocks on writers.
    pub fn read(&self) -> Result<CatalogState, LocalError> {
        let path = self.path();
        // The parsed state is reused while the file's bytes are unchanged: a run of many models reads the catalog
        // for every statement, and parsing it each time made runs quadratic in the number of tables. Comparing the
        // bytes (not mtimes or inodes) keeps this exact when other processes write.
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CatalogState {
                    format_version: FORMAT_VERSION,
                    ..CatalogState::default()
                });
            }
            Err(e) => return Err(LocalError::io(format!("reading {}", path.display()), e)),
        };
        if let Some((cached, state)) = &*self.cache.lock().expect("catalog cache")
            && *cached == bytes
        {
            return Ok(state.clone());
        }
        let state = self.parse(&path, &bytes)?;
        *self.cache.lock().expect("catalog cache") = Some((bytes, state.clone()));
        Ok(state)
    }

    fn parse(&self, path: &Path, bytes: &[u8]) -> Result<CatalogState, LocalError> {
        let state: CatalogState = serde_json::from_slice(bytes).map_err(|e| LocalError::CorruptCatalog {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if state.format_version > FORMAT_VERSION {
            return Err(LocalError::CorruptCatalog {
                path: path.display().to_string(),
                reason: format!(
                    "written by a newer glue-rs (catalog format {}, this build reads {FORMAT_VERSION})",
                    state.format_version
                ),
            });
        }
        Ok(state)
    }

    /// Applies `change` to the catalog under the writer lock and replaces the file atomically. Returns what `change`
    /// returned. If `change` fails, nothing is written.
    pub fn update<T>(&self, change: impl FnOnce(&mut CatalogState) -> Result<T, LocalError>) -> Result<T, LocalError> {
        fs::create_dir_all(&self.root).map_err(|e| LocalError::io(format!("creating {}", self.root.display()), e))?;
        let lock_path = self.root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LocalError::io(format!("opening {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| LocalError::io(format!("locking {}", lock_path.display()), e))?;
        let mut state = self.read()?;
        let out = change(&mut state)?;
        state.format_version = FORMAT_VERSION;
        let bytes = self.write_atomically(&state)?;
        *self.cache.lock().expect("catalog cache") = Some((bytes, state));
        drop(lock); // releases the lock
        Ok(out)
    }

    fn write_atomically(&self, state: &CatalogState) -> Result<Vec<u8>, LocalError> {
        let path = self.path();
        let tmp = self.root.join(format!(".{CATALOG_FILE}.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| LocalError::Internal(e.to_string()))?;
        let io = |what: &str, e| LocalError::io(format!("{what} {}", tmp.display()), e);
        let mut f = File::create(&tmp).map_err(|e| io("creating", e))?;
        f.write_all(&bytes).map_err(|e| io("writing", e))?;
        f.sync_all().map_err(|e| io("syncing", e))?;
        drop(f);
        crate::failpoint::hit("catalog.before_rename");
        fs::rename(&tmp, &path).map_err(|e| LocalError::io(format!("replacing {}", path.display()), e))?;
        sync_dir(&self.root)?;
        Ok(bytes)
    }
}

/// fsyncs a directory so a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LocalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LocalError::io(format!("syncing directory {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_read_sees_writes_by_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let a = Catalog::new(dir.path());
        let b = Catalog::new(dir.path()); // another process, as far as `a`'s cache knows
        let db = |name: &str| DatabaseEntry {
            location: format!("/w/{name}"),
            comment: None,
        };
        a.update(|s| {
            s.databases.insert("one".into(), db("one"));
            Ok(())
        })
        .unwrap();
        assert_eq!(a.read().unwrap().databases.len(), 1);
        assert_eq!(a.read().unwrap().databases.len(), 1); // served from the cache
        b.update(|s| {
            s.databases.insert("two".into(), db("two"));
            Ok(())
        })
        .unwrap();
        let seen: Vec<String> = a.read().unwrap().databases.keys().cloned().collect();
        assert_eq!(seen, ["one", "two"]);
        // Same length, different bytes: still re-read.
        b.update(|s| {
            s.databases.get_mut("two").unwrap().location = "/w/owt".into();
            Ok(())
        })
        .unwrap();
        assert_eq!(a.read().unwrap().databases["two"].location, "/w/owt");
    }

    #[test]
    fn round_trip_and_case_folding() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::new(dir.path());
        assert!(c.read().unwrap().tables.is_empty());
        c.update(|s| {
            s.databases.insert(
                "analytics".into(),
                DatabaseEntry {
                    location: "x".into(),
                    comment: None,
                },
            );
            s.tables.insert(
                table_key("Analytics", "Orders"),
                TableEntry {
                    kind: EntryKind::View,
                    format: None,
                    location: None,
                    columns: vec![],
                    partition_columns: vec![],
                    clustered_by: None,
                    properties: BTreeMap::new(),
                    comment: None,
                    view_sql: Some("select 1".into()),
                    version: 1,
                    previous_location: None,
                    iceberg_metadata: None,
                },
            );
            Ok(())
        })
        .unwrap();
        let s = c.read().unwrap();
        assert!(s.table("ANALYTICS", "orders").is_some());
        assert_eq!(s.tables_in("analytics").count(), 1);
    }

    #[test]
    fn failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::new(dir.path());
        let r: Result<(), _> = c.update(|s| {
            s.databases.insert(
                "a".into(),
                DatabaseEntry {
                    location: "x".into(),
                    comment: None,
                },
            );
            Err(LocalError::Internal("boom".into()))
        });
        assert!(r.is_err());
        assert!(c.read().unwrap().databases.is_empty());
    }

    #[test]
    fn corrupt_catalog_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CATALOG_FILE), b"{ not json").unwrap();
        let e = Catalog::new(dir.path()).read().unwrap_err();
        assert!(matches!(e, LocalError::CorruptCatalog { .. }), "{e}");
    }
}

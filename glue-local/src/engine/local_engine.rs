//! The engine's state (its warehouse directory, catalog and DataFusion session) and what every part of it reads:
//! paths, catalog entries, a relation's columns, a step's query.

use std::path::{Path, PathBuf};

use datafusion::prelude::{DataFrame, SessionContext};
use glue_materialize::FileFormat;
use glue_materialize::render::{RenderContext, query_sql};
use glue_materialize::step::Query;
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::catalog::{Catalog, ColumnEntry, DatabaseEntry, EntryKind, TableEntry, table_key};
use crate::error::LocalError;
use crate::plain;
use crate::session::{self, WarehouseCatalog};

use super::columns::{column_defs, schema_columns};

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
    pub(super) root: PathBuf,
    pub(super) catalog: Catalog,
    pub(super) ctx: SessionContext,
    pub(super) warehouse: WarehouseCatalog,
    pub(super) now: String,
    /// Column changes of a plan's `SyncSchema` waiting for the target's next write, which commits them with its
    /// rows (by table key): a model whose write fails leaves the table's schema as it was.
    pub(super) pending: std::sync::Mutex<std::collections::HashMap<String, Vec<ColumnEntry>>>,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine").field("root", &self.root).finish()
    }
}

pub(super) fn is_plain(f: FileFormat) -> bool {
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
    pub(super) fn local_path(&self, location: &str) -> Result<PathBuf, LocalError> {
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
    pub(super) fn remove_owned(&self, location: &str) -> Result<(), LocalError> {
        let p = self.local_path(location)?;
        if self.inside_warehouse(&p) {
            plain::remove_dir(&p)?;
        }
        Ok(())
    }

    pub(super) fn inside_warehouse(&self, path: &Path) -> bool {
        path.canonicalize()
            .is_ok_and(|p| p.starts_with(&self.root) && p != self.root)
    }

    pub(super) fn entry(&self, r: &RelationName) -> Result<Option<TableEntry>, LocalError> {
        Ok(self
            .catalog
            .read()?
            .table(r.schema_str(), r.identifier.as_str())
            .cloned())
    }

    pub(super) fn require(&self, r: &RelationName) -> Result<TableEntry, LocalError> {
        self.entry(r)?.ok_or_else(|| LocalError::NotFound(r.to_string()))
    }

    /// The columns of a relation: a temporary view's, a view's or a table's.
    pub(super) async fn columns_of(&self, r: &RelationName) -> Result<Vec<ColumnDef>, LocalError> {
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

    pub(super) fn render_ctx(&self, target: Option<Vec<ColumnDef>>, source: Option<Vec<ColumnDef>>) -> RenderContext {
        RenderContext {
            now: self.now.clone(),
            target_columns: target,
            source_columns: source,
        }
    }

    /// The model query of a step as a DataFrame (with `update_iceberg_ts` when asked).
    pub(super) async fn query_df(&self, q: &Query) -> Result<DataFrame, LocalError> {
        let mut ctx = self.render_ctx(None, None);
        if q.add_iceberg_timestamp {
            let df = self.sql(q.sql.as_str()).await?;
            ctx.source_columns = Some(schema_columns(df.schema().as_arrow())?);
        }
        let sql = query_sql(q, &ctx).map_err(|e| LocalError::Data(e.to_string()))?;
        self.sql(sql.as_str()).await
    }
}

/// The catalog key of a relation (its catalog prefix does not matter: one warehouse).
pub(super) fn key_of(r: &RelationName) -> String {
    table_key(r.schema_str(), r.identifier.as_str())
}

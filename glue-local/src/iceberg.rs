//! Iceberg tables on the embedded engine through `iceberg` (iceberg-rust) and `iceberg-datafusion`, with the
//! warehouse catalog as the Iceberg catalog: an Iceberg table's entry holds the location of its current metadata
//! file, and every commit (an append, a schema change, a snapshot expiry) writes a new metadata file and switches
//! that pointer in one atomic catalog write, refusing a commit whose base is no longer current.
//!
//! iceberg-rust 0.10 commits appends (`fast_append`) and snapshot expiry; everything else (`CREATE OR REPLACE`, full
//! refresh, whole-table or partition overwrite, MERGE, a schema change with its rows) writes a new table version beside
//! the old one and switches the catalog entry to it atomically, so the snapshot history starts again. Partition
//! specs carry Spark's transforms and field names (`partition_spec`); `partition_keys` tells which partition
//! rows fall in with Iceberg's own transform functions.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use iceberg::io::{FileIO, FileIOBuilder, LocalFsStorageFactory};
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog as IcebergCatalog, Error, ErrorKind, MetadataLocation, Namespace, NamespaceIdent, Result, TableCommit,
    TableCreation, TableIdent,
};

use crate::catalog::{Catalog, ColumnEntry, DatabaseEntry, EntryKind, TableEntry, table_key};
use crate::types::spark_type;

/// The warehouse catalog seen as an Iceberg catalog (one level of namespaces: the databases).
#[derive(Debug, Clone)]
pub struct WarehouseIceberg {
    catalog: Catalog,
    file_io: FileIO,
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg.into())
}

fn local(e: crate::LocalError) -> Error {
    err(ErrorKind::Unexpected, e.to_string())
}

fn db_name(ns: &NamespaceIdent) -> String {
    ns.as_ref().join(".").to_lowercase()
}

/// The catalog columns of an Iceberg schema.
pub(crate) fn columns_of(metadata: &TableMetadata) -> Vec<ColumnEntry> {
    match iceberg::arrow::schema_to_arrow_schema(metadata.current_schema()) {
        Ok(schema) => schema
            .fields()
            .iter()
            .map(|f| ColumnEntry {
                name: f.name().clone(),
                data_type: spark_type(f.data_type()).unwrap_or_else(|_| "string".into()),
                comment: None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

impl WarehouseIceberg {
    /// The Iceberg view of a warehouse catalog (local files).
    pub fn new(catalog: Catalog) -> Result<Self> {
        let file_io = FileIOBuilder::new(Arc::new(LocalFsStorageFactory)).build();
        Ok(Self { catalog, file_io })
    }

    fn table_from(&self, ident: &TableIdent, metadata_location: &str, metadata: TableMetadata) -> Result<Table> {
        Table::builder()
            .identifier(ident.clone())
            .metadata(metadata)
            .metadata_location(metadata_location.to_string())
            .file_io(self.file_io.clone())
            .runtime(iceberg::Runtime::try_current()?)
            .build()
    }

    fn pointer(&self, ident: &TableIdent) -> Result<String> {
        let state = self.catalog.read().map_err(local)?;
        let entry = state
            .table(&db_name(ident.namespace()), ident.name())
            .ok_or_else(|| err(ErrorKind::TableNotFound, format!("table {ident} not found")))?;
        entry
            .iceberg_metadata
            .clone()
            .ok_or_else(|| err(ErrorKind::DataInvalid, format!("{ident} is not an Iceberg table")))
    }
}

#[async_trait]
impl IcebergCatalog for WarehouseIceberg {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        if parent.is_some() {
            return Ok(Vec::new());
        }
        let state = self.catalog.read().map_err(local)?;
        Ok(state.databases.keys().map(|d| NamespaceIdent::new(d.clone())).collect())
    }

    async fn create_namespace(&self, ns: &NamespaceIdent, properties: HashMap<String, String>) -> Result<Namespace> {
        let name = db_name(ns);
        let location = self.catalog.root().join(&name).display().to_string();
        self.catalog
            .update(|s| {
                s.databases.entry(name.clone()).or_insert(DatabaseEntry {
                    location,
                    comment: None,
                });
                Ok(())
            })
            .map_err(local)?;
        Ok(Namespace::with_properties(ns.clone(), properties))
    }

    async fn get_namespace(&self, ns: &NamespaceIdent) -> Result<Namespace> {
        if self.namespace_exists(ns).await? {
            Ok(Namespace::new(ns.clone()))
        } else {
            Err(err(
                ErrorKind::NamespaceNotFound,
                format!("namespace {} not found", db_name(ns)),
            ))
        }
    }

    async fn namespace_exists(&self, ns: &NamespaceIdent) -> Result<bool> {
        Ok(self.catalog.read().map_err(local)?.databases.contains_key(&db_name(ns)))
    }

    async fn update_namespace(&self, _ns: &NamespaceIdent, _properties: HashMap<String, String>) -> Result<()> {
        Err(err(
            ErrorKind::FeatureUnsupported,
            "namespace properties are not kept by the warehouse catalog",
        ))
    }

    async fn drop_namespace(&self, _ns: &NamespaceIdent) -> Result<()> {
        Err(err(
            ErrorKind::FeatureUnsupported,
            "dropping databases through the Iceberg catalog",
        ))
    }

    async fn list_tables(&self, ns: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        let state = self.catalog.read().map_err(local)?;
        Ok(state
            .tables_in(&db_name(ns))
            .filter(|(_, e)| e.iceberg_metadata.is_some())
            .map(|(n, _)| TableIdent::new(ns.clone(), n.to_string()))
            .collect())
    }

    async fn create_table(&self, ns: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let location = creation.location.clone().ok_or_else(|| {
            err(
                ErrorKind::DataInvalid,
                format!("{ident}: an Iceberg table needs a location"),
            )
        })?;
        let metadata = TableMetadataBuilder::from_table_creation(creation)?.build()?.metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata.write_to(&self.file_io, &metadata_location).await?;
        let pointer = metadata_location.to_string();
        let key = table_key(&db_name(ns), ident.name());
        let columns = columns_of(&metadata);
        self.catalog
            .update(|s| {
                if s.tables.contains_key(&key) {
                    return Err(crate::LocalError::Data(format!("table {key} already exists")));
                }
                s.tables.insert(
                    key.clone(),
                    TableEntry {
                        kind: EntryKind::Table,
                        format: Some(glue_materialize::FileFormat::Iceberg),
                        location: Some(location.clone()),
                        columns,
                        partition_columns: Vec::new(),
                        clustered_by: None,
                        properties: Default::default(),
                        comment: None,
                        view_sql: None,
                        version: 1,
                        previous_location: None,
                        iceberg_metadata: Some(pointer.clone()),
                    },
                );
                Ok(())
            })
            .map_err(|e| err(ErrorKind::TableAlreadyExists, e.to_string()))?;
        self.table_from(&ident, &pointer, metadata)
    }

    async fn load_table(&self, ident: &TableIdent) -> Result<Table> {
        let pointer = self.pointer(ident)?;
        let metadata = TableMetadata::read_from(&self.file_io, &pointer).await?;
        self.table_from(ident, &pointer, metadata)
    }

    async fn drop_table(&self, ident: &TableIdent) -> Result<()> {
        let key = table_key(&db_name(ident.namespace()), ident.name());
        self.catalog
            .update(|s| {
                s.tables.remove(&key);
                Ok(())
            })
            .map_err(local)
    }

    async fn purge_table(&self, ident: &TableIdent) -> Result<()> {
        self.drop_table(ident).await
    }

    async fn table_exists(&self, ident: &TableIdent) -> Result<bool> {
        Ok(self.pointer(ident).is_ok())
    }

    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> Result<()> {
        Err(err(ErrorKind::FeatureUnsupported, "renaming Iceberg tables"))
    }

    async fn register_table(&self, _ident: &TableIdent, _metadata_location: String) -> Result<Table> {
        Err(err(ErrorKind::FeatureUnsupported, "registering Iceberg tables"))
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        let ident = commit.identifier().clone();
        let current = self.load_table(&ident).await?;
        let base = current.metadata_location_result()?.to_string();
        let staged = commit.apply(current)?;
        let new_location = staged.metadata_location_result()?.to_string();
        let location = MetadataLocation::from_str(&new_location)?;
        staged.metadata().write_to(staged.file_io(), &location).await?;
        crate::failpoint::hit("iceberg.before_switch");
        let key = table_key(&db_name(ident.namespace()), ident.name());
        let columns = columns_of(staged.metadata());
        self.catalog
            .update(|s| {
                let e = s
                    .tables
                    .get_mut(&key)
                    .ok_or_else(|| crate::LocalError::NotFound(key.clone()))?;
                if e.iceberg_metadata.as_deref() != Some(base.as_str()) {
                    return Err(crate::LocalError::Data(format!("{key} changed during the commit")));
                }
                e.iceberg_metadata = Some(new_location.clone());
                e.columns = columns;
                e.version += 1;
                Ok(())
            })
            .map_err(|e| err(ErrorKind::CatalogCommitConflicts, e.to_string()))?;
        Ok(staged)
    }
}

use std::str::FromStr as _;

/// Rows as Iceberg takes them: timestamps in microseconds (Iceberg v2 has no nanoseconds).
pub(crate) fn conform_rows(df: datafusion::prelude::DataFrame) -> Result<datafusion::prelude::DataFrame> {
    use arrow_schema::{DataType, TimeUnit};
    use datafusion::prelude::ident;
    let exprs: Vec<datafusion::logical_expr::Expr> = df
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            // Iceberg's Arrow form: microseconds, and `timestamptz` as the "+00:00" zone (a zone named "UTC" is the
            // same instants under another name, which the Parquet writer would refuse).
            DataType::Timestamp(u, tz)
                if *u != TimeUnit::Microsecond || tz.as_deref().is_some_and(|t| t != "+00:00") =>
            {
                datafusion::logical_expr::cast(
                    ident(f.name().as_str()),
                    DataType::Timestamp(TimeUnit::Microsecond, tz.as_ref().map(|_| "+00:00".into())),
                )
                .alias(f.name().as_str())
            }
            DataType::Utf8View | DataType::LargeUtf8 => {
                datafusion::logical_expr::cast(ident(f.name().as_str()), DataType::Utf8).alias(f.name().as_str())
            }
            _ => ident(f.name().as_str()),
        })
        .collect();
    df.select(exprs).map_err(|e| err(ErrorKind::DataInvalid, e.to_string()))
}

/// The source column and Iceberg transform of a partition field.
pub(crate) fn transform_of(f: &glue_sql::types::PartitionField) -> (&str, iceberg::spec::Transform) {
    use glue_sql::types::{IcebergTransform as T, PartitionField};
    use iceberg::spec::Transform;
    match f {
        PartitionField::Column(c) => (c.as_str(), Transform::Identity),
        PartitionField::Transform {
            transform,
            width,
            column,
        } => {
            let w = width.unwrap_or(0);
            let t = match transform {
                T::Years => Transform::Year,
                T::Months => Transform::Month,
                T::Days => Transform::Day,
                T::Hours => Transform::Hour,
                T::Bucket => Transform::Bucket(w),
                T::Truncate => Transform::Truncate(w),
            };
            (column.as_str(), t)
        }
    }
}

/// The Iceberg partition spec of `partition_by` over `schema`, its fields named as Spark's Iceberg names them
/// (`ts_day`, `id_bucket`, `name_trunc`, …).
pub(crate) fn partition_spec(
    schema: &iceberg::spec::Schema,
    fields: &[glue_sql::types::PartitionField],
) -> Result<iceberg::spec::UnboundPartitionSpec> {
    use iceberg::spec::Transform;
    let mut b = iceberg::spec::PartitionSpec::builder(schema.clone());
    for f in fields {
        let (column, transform) = transform_of(f);
        let suffix = match transform {
            Transform::Identity => "",
            Transform::Year => "_year",
            Transform::Month => "_month",
            Transform::Day => "_day",
            Transform::Hour => "_hour",
            Transform::Bucket(_) => "_bucket",
            Transform::Truncate(_) => "_trunc",
            _ => "_part",
        };
        b = b.add_partition_field(column, format!("{column}{suffix}"), transform)?;
    }
    Ok(b.build()?.into_unbound())
}

/// The partition fields of an Iceberg table's default spec, as `partition_by` writes them.
pub(crate) fn partition_fields(metadata: &TableMetadata) -> Result<Vec<glue_sql::types::PartitionField>> {
    use glue_sql::types::{IcebergTransform as T, PartitionField};
    use iceberg::spec::Transform;
    let schema = metadata.current_schema();
    metadata
        .default_partition_spec()
        .fields()
        .iter()
        .map(|f| {
            let source = schema.name_by_field_id(f.source_id).ok_or_else(|| {
                err(
                    ErrorKind::DataInvalid,
                    format!("partition field {} has no column", f.name),
                )
            })?;
            let column = glue_sql::Ident::new(source).map_err(|e| err(ErrorKind::DataInvalid, e.to_string()))?;
            let (transform, width) = match f.transform {
                Transform::Identity => return Ok(PartitionField::Column(column)),
                Transform::Year => (T::Years, None),
                Transform::Month => (T::Months, None),
                Transform::Day => (T::Days, None),
                Transform::Hour => (T::Hours, None),
                Transform::Bucket(n) => (T::Bucket, Some(n)),
                Transform::Truncate(w) => (T::Truncate, Some(w)),
                other => {
                    return Err(err(
                        ErrorKind::FeatureUnsupported,
                        format!("the partition transform {other} of field {}", f.name),
                    ));
                }
            };
            Ok(PartitionField::Transform {
                transform,
                width,
                column,
            })
        })
        .collect()
}

/// Each row's partition under `fields` as one string (the transformed values, Iceberg's own transform functions),
/// for telling which partitions rows fall in.
pub(crate) fn partition_keys(
    batch: &arrow_array::RecordBatch,
    fields: &[glue_sql::types::PartitionField],
) -> Result<Vec<String>> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut columns = Vec::new();
    for f in fields {
        let (name, transform) = transform_of(f);
        let index = batch
            .schema()
            .fields()
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                err(
                    ErrorKind::DataInvalid,
                    format!("the rows lack partition column `{name}`"),
                )
            })?;
        let function = iceberg::transform::create_transform_function(&transform)?;
        columns.push(function.transform(batch.column(index).clone())?);
    }
    let options = FormatOptions::default().with_null("\u{0}null");
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| err(ErrorKind::DataInvalid, e.to_string()))?;
    Ok((0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect::<Vec<_>>()
                .join("\u{1}")
        })
        .collect())
}

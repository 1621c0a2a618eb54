//! The Lake Formation client of the reconcile: reads the current state, plans and applies diffs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use aws_sdk_lakeformation::Client;
use aws_sdk_lakeformation::types::{
    ColumnLfTag, DataCellsFilterResource, DatabaseResource, LfTagPair, Resource, TableResource,
};
use glue_materialize::lakeformation::{FilterColumns, LfGrants, LfTagsConfig};
use tokio::sync::{Mutex, OnceCell};

use crate::diff::Diff;
use crate::error::LfError;
use crate::state::{Current, CurrentFilter, Holder, Tags};
use crate::table::TableRef;

/// How many Lake Formation calls a client made (STS excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// Reads (Get*, List*).
    pub reads: usize,
    /// Changes (Add*, Remove*, Create*, Update*, Delete*, Batch*).
    pub writes: usize,
}

/// A Lake Formation client for one Data Catalog: the profile's `catalog_id` (a cross-account catalog), else the
/// caller's account (STS GetCallerIdentity, once). Throttling and transient errors are retried by the SDK's retry
/// policy of the `SdkConfig` (standard retries with backoff).
#[derive(Debug)]
pub struct LakeFormation {
    pub(crate) client: Client,
    sts: aws_sdk_sts::Client,
    catalog_id: OnceCell<String>,
    /// The catalog's LF-tags (key → values), read when a diff adds tags; read again once when a tag is missing.
    pub(crate) known_tags: Mutex<Option<BTreeMap<String, BTreeSet<String>>>>,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl LakeFormation {
    /// A client from an SDK configuration (credentials, region, retries, endpoint). `catalog_id`: the Data Catalog
    /// to work in; `None` is the caller's account.
    pub fn new(config: &SdkConfig, catalog_id: Option<String>) -> Self {
        let cell = OnceCell::new();
        if let Some(id) = catalog_id.filter(|c| !c.is_empty()) {
            let _ = cell.set(id);
        }
        LakeFormation {
            client: Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            catalog_id: cell,
            known_tags: Mutex::new(None),
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
        }
    }

    /// The Data Catalog id this client works in.
    pub async fn catalog_id(&self) -> Result<&str, LfError> {
        self.catalog_id
            .get_or_try_init(|| async {
                let me = self.sts.get_caller_identity().send().await.map_err(|e| LfError::Api {
                    operation: "STS GetCallerIdentity",
                    resource: "the caller's account".into(),
                    message: aws_sdk_sts::error::DisplayErrorContext(&e).to_string(),
                })?;
                me.account().map(str::to_string).ok_or_else(|| LfError::Api {
                    operation: "STS GetCallerIdentity",
                    resource: "the caller's account".into(),
                    message: "the answer has no Account".into(),
                })
            })
            .await
            .map(String::as_str)
    }

    /// A table of this client's catalog (see [`TableRef::new`] for how names are normalised).
    pub async fn table(&self, database: &str, table: &str) -> Result<TableRef, LfError> {
        Ok(TableRef::new(self.catalog_id().await?, database, table))
    }

    /// The calls made so far.
    pub fn calls(&self) -> Calls {
        Calls {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn read_call(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn write_call(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads what the enabled parts of the config need: the database's own tags (when `tags_database` is set), the
    /// table's and its columns' own tags (one GetResourceLFTags), the table's filters, and the grants on each
    /// configured filter that exists. Every list is followed to its last page.
    pub async fn read(
        &self,
        table: &TableRef,
        tags: Option<&LfTagsConfig>,
        grants: Option<&LfGrants>,
    ) -> Result<Current, LfError> {
        let mut current = Current::default();
        if let Some(cfg) = tags.filter(|t| t.enabled) {
            if !cfg.tags_database.is_empty() {
                let out = self.get_tags(table, self.database_resource(table)).await?;
                current.database_tags = Some(tag_map(out.lf_tag_on_database()));
            }
            let out = self.get_tags(table, self.table_resource(table)?).await?;
            current.table_tags = Some(tag_map(out.lf_tags_on_table()));
            current.column_tags = column_map(out.lf_tags_on_columns());
        }
        if let Some(cfg) = grants.map(|g| &g.data_cell_filters).filter(|f| f.enabled) {
            let filters = self.list_filters(table).await?;
            for name in cfg.filters.keys().filter(|n| filters.contains_key(*n)) {
                current
                    .holders
                    .insert(name.clone(), self.list_holders(table, name).await?);
            }
            current.filters = Some(filters);
        }
        Ok(current)
    }

    /// Reads the current state and computes the diff (only reads).
    pub async fn plan(
        &self,
        table: &TableRef,
        tags: Option<&LfTagsConfig>,
        grants: Option<&LfGrants>,
    ) -> Result<Diff, LfError> {
        let current = self.read(table, tags, grants).await?;
        Ok(Diff::compute(table, tags, grants, &current))
    }

    /// Plans and applies; returns what was changed.
    pub async fn reconcile(
        &self,
        table: &TableRef,
        tags: Option<&LfTagsConfig>,
        grants: Option<&LfGrants>,
    ) -> Result<Diff, LfError> {
        let diff = self.plan(table, tags, grants).await?;
        self.apply(&diff).await?;
        Ok(diff)
    }

    pub(crate) fn database_resource(&self, table: &TableRef) -> Resource {
        Resource::builder()
            .database(
                DatabaseResource::builder()
                    .catalog_id(&table.catalog_id)
                    .name(&table.database)
                    .build()
                    .expect("database and catalog are set"),
            )
            .build()
    }

    pub(crate) fn table_resource(&self, table: &TableRef) -> Result<Resource, LfError> {
        Ok(Resource::builder()
            .table(
                TableResource::builder()
                    .catalog_id(&table.catalog_id)
                    .database_name(&table.database)
                    .name(&table.table)
                    .build()
                    .map_err(|e| build_error(table, e))?,
            )
            .build())
    }

    pub(crate) fn filter_resource(table: &TableRef, name: &str) -> Resource {
        Resource::builder()
            .data_cells_filter(
                DataCellsFilterResource::builder()
                    .table_catalog_id(&table.catalog_id)
                    .database_name(&table.database)
                    .table_name(&table.table)
                    .name(name)
                    .build(),
            )
            .build()
    }

    async fn get_tags(
        &self,
        table: &TableRef,
        resource: Resource,
    ) -> Result<aws_sdk_lakeformation::operation::get_resource_lf_tags::GetResourceLfTagsOutput, LfError> {
        self.read_call();
        self.client
            .get_resource_lf_tags()
            .catalog_id(&table.catalog_id)
            .resource(resource)
            .show_assigned_lf_tags(true)
            .send()
            .await
            .map_err(|e| LfError::api("GetResourceLFTags", table, e))
    }

    async fn list_filters(&self, table: &TableRef) -> Result<BTreeMap<String, CurrentFilter>, LfError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .list_data_cells_filter()
            .table(
                TableResource::builder()
                    .catalog_id(&table.catalog_id)
                    .database_name(&table.database)
                    .name(&table.table)
                    .build()
                    .map_err(|e| build_error(table, e))?,
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.read_call();
            let page = page.map_err(|e| LfError::api("ListDataCellsFilter", table, e))?;
            for f in page.data_cells_filters() {
                let columns = match f.column_wildcard() {
                    _ if !f.column_names().is_empty() => FilterColumns::Only(f.column_names().to_vec()),
                    Some(w) if !w.excluded_column_names().is_empty() => {
                        FilterColumns::Excluding(w.excluded_column_names().to_vec())
                    }
                    _ => FilterColumns::All,
                };
                out.insert(
                    f.name().to_string(),
                    CurrentFilter {
                        row_filter: f.row_filter().and_then(|r| r.filter_expression()).map(str::to_string),
                        columns: crate::state::normal_columns(&columns),
                        version_id: f.version_id().map(str::to_string),
                    },
                );
            }
        }
        Ok(out)
    }

    async fn list_holders(&self, table: &TableRef, filter: &str) -> Result<Vec<Holder>, LfError> {
        let mut holders: BTreeMap<String, Holder> = BTreeMap::new();
        let mut pages = self
            .client
            .list_permissions()
            .catalog_id(&table.catalog_id)
            .resource(Self::filter_resource(table, filter))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.read_call();
            let page =
                page.map_err(|e| LfError::api("ListPermissions", format!("data-cell filter {filter} of {table}"), e))?;
            for p in page.principal_resource_permissions() {
                let Some(principal) = p.principal().and_then(|p| p.data_lake_principal_identifier()) else {
                    continue;
                };
                // Only grants on this very filter (a service may list related resources too).
                let on_filter = p
                    .resource()
                    .and_then(|r| r.data_cells_filter())
                    .is_some_and(|r| r.name() == Some(filter));
                if !on_filter {
                    continue;
                }
                let h = holders.entry(principal.to_string()).or_insert_with(|| Holder {
                    principal: principal.to_string(),
                    permissions: BTreeSet::new(),
                    grantable: BTreeSet::new(),
                });
                h.permissions
                    .extend(p.permissions().iter().map(|x| x.as_str().to_string()));
                h.grantable
                    .extend(p.permissions_with_grant_option().iter().map(|x| x.as_str().to_string()));
            }
        }
        Ok(holders.into_values().collect())
    }

    /// Every LF-tag of the catalog (ListLFTags, every page): key → values, lower case.
    pub(crate) async fn list_tags(&self, catalog_id: &str) -> Result<BTreeMap<String, BTreeSet<String>>, LfError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .list_lf_tags()
            .catalog_id(catalog_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.read_call();
            let page = page.map_err(|e| LfError::api("ListLFTags", format!("catalog {catalog_id}"), e))?;
            for t in page.lf_tags() {
                out.insert(
                    t.tag_key().to_lowercase(),
                    t.tag_values().iter().map(|v| v.to_lowercase()).collect(),
                );
            }
        }
        Ok(out)
    }
}

pub(crate) fn build_error(table: &TableRef, e: impl std::fmt::Display) -> LfError {
    LfError::Api {
        operation: "building a request",
        resource: table.to_string(),
        message: e.to_string(),
    }
}

fn tag_map(pairs: &[LfTagPair]) -> Tags {
    pairs
        .iter()
        .filter_map(|p| Some((p.tag_key().to_lowercase(), p.tag_values().first()?.to_lowercase())))
        .collect()
}

fn column_map(columns: &[ColumnLfTag]) -> BTreeMap<String, Tags> {
    columns
        .iter()
        .filter_map(|c| Some((c.name()?.to_lowercase(), tag_map(c.lf_tags()))))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

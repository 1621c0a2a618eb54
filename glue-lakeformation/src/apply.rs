//! Applying a [`Diff`]: tags, then filters, then permissions, each call's `Failures` checked.

use aws_sdk_lakeformation::types::{
    AllRowsWildcard, BatchPermissionsRequestEntry, ColumnWildcard, DataCellsFilter, DataLakePrincipal, LfTagError,
    LfTagPair, Permission, Resource, RowFilter, TableResource, TableWildcard, TableWithColumnsResource,
};
use glue_materialize::lakeformation::FilterColumns;

use crate::client::{LakeFormation, build_error};
use crate::diff::{Diff, FilterChange, FilterSpec, GrantChange, TagAction, TagChange, TagResource};
use crate::error::LfError;
use crate::table::TableRef;

/// BatchGrantPermissions / BatchRevokePermissions take at most this many entries.
const BATCH: usize = 20;

impl LakeFormation {
    /// Applies a diff. First checks that every tag key and value it adds exists in the catalog (ListLFTags, every
    /// page; read again once when something is missing, in case it was just created), so a missing tag fails with
    /// [`LfError::UnknownTag`] before anything changes. Then: tag removals and additions, filter deletions, creations
    /// and updates, revocations, grants.
    pub async fn apply(&self, diff: &Diff) -> Result<(), LfError> {
        let table = &diff.table;
        self.check_tags(diff).await?;
        for change in &diff.tags {
            self.apply_tags(table, change).await?;
        }
        for change in &diff.filters {
            self.apply_filter(table, change).await?;
        }
        let (revokes, grants): (Vec<&GrantChange>, Vec<&GrantChange>) = diff
            .grants
            .iter()
            .partition(|g| matches!(g, GrantChange::Revoke { .. }));
        for chunk in revokes.chunks(BATCH) {
            self.batch(table, chunk, false).await?;
        }
        for chunk in grants.chunks(BATCH) {
            self.batch(table, chunk, true).await?;
        }
        Ok(())
    }

    async fn check_tags(&self, diff: &Diff) -> Result<(), LfError> {
        let adds: Vec<&TagChange> = diff.tags.iter().filter(|t| t.action == TagAction::Add).collect();
        if adds.is_empty() {
            return Ok(());
        }
        let catalog = &diff.table.catalog_id;
        let mut known = self.known_tags.lock().await;
        let mut fresh = false;
        if known.is_none() {
            *known = Some(self.list_tags(catalog).await?);
            fresh = true;
        }
        loop {
            let tags = known.as_ref().expect("read above");
            let missing = adds.iter().find_map(|c| {
                c.tags.iter().find_map(|(k, v)| match tags.get(k) {
                    None => Some((c, k, None)),
                    Some(values) if !values.contains(v) => Some((c, k, Some(v))),
                    _ => None,
                })
            });
            match missing {
                None => return Ok(()),
                Some(_) if !fresh => {
                    *known = Some(self.list_tags(catalog).await?);
                    fresh = true;
                }
                Some((c, k, v)) => {
                    return Err(LfError::UnknownTag {
                        key: k.clone(),
                        value: v.cloned(),
                        on: on_what(&diff.table, &c.on),
                        catalog_id: catalog.clone(),
                    });
                }
            }
        }
    }

    fn tag_resource(&self, table: &TableRef, on: &TagResource) -> Result<Resource, LfError> {
        Ok(match on {
            TagResource::Database => self.database_resource(table),
            TagResource::Table => self.table_resource(table)?,
            TagResource::Columns(columns) => Resource::builder()
                .table_with_columns(
                    TableWithColumnsResource::builder()
                        .catalog_id(&table.catalog_id)
                        .database_name(&table.database)
                        .name(&table.table)
                        .set_column_names(Some(columns.clone()))
                        .build()
                        .map_err(|e| build_error(table, e))?,
                )
                .build(),
        })
    }

    async fn apply_tags(&self, table: &TableRef, change: &TagChange) -> Result<(), LfError> {
        let resource = self.tag_resource(table, &change.on)?;
        let pairs = change
            .tags
            .iter()
            .map(|(k, v)| {
                LfTagPair::builder()
                    .catalog_id(&table.catalog_id)
                    .tag_key(k)
                    .tag_values(v)
                    .build()
                    .map_err(|e| build_error(table, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let on = on_what(table, &change.on);
        self.write_call();
        let (operation, failures) = match change.action {
            TagAction::Add => ("AddLFTagsToResource", {
                let out = self
                    .client
                    .add_lf_tags_to_resource()
                    .catalog_id(&table.catalog_id)
                    .resource(resource)
                    .set_lf_tags(Some(pairs))
                    .send()
                    .await
                    .map_err(|e| LfError::api("AddLFTagsToResource", &on, e));
                // A tag deleted since the check (the catalog's tag list is read once per client): say which.
                let out = match out {
                    Err(e) => return Err(self.explain_rejected_add(table, change, e).await),
                    Ok(out) => out,
                };
                out.failures().to_vec()
            }),
            TagAction::Remove => (
                "RemoveLFTagsFromResource",
                self.client
                    .remove_lf_tags_from_resource()
                    .catalog_id(&table.catalog_id)
                    .resource(resource)
                    .set_lf_tags(Some(pairs))
                    .send()
                    .await
                    .map_err(|e| LfError::api("RemoveLFTagsFromResource", &on, e))?
                    .failures()
                    .to_vec(),
            ),
        };
        check_tag_failures(operation, &on, &failures)?;
        tracing::debug!(table = %table, "{operation}: {:?} on {on}", change.tags);
        Ok(())
    }

    /// A rejected AddLFTagsToResource: when the catalog, read again, lacks one of the change's tags, the
    /// [`LfError::UnknownTag`] naming it; else the service's error.
    async fn explain_rejected_add(&self, table: &TableRef, change: &TagChange, e: LfError) -> LfError {
        let LfError::Api { message, .. } = &e else { return e };
        if !message.contains("EntityNotFoundException") && !message.contains("InvalidInputException") {
            return e;
        }
        let Ok(tags) = self.list_tags(&table.catalog_id).await else {
            return e;
        };
        let missing = change.tags.iter().find_map(|(k, v)| match tags.get(k) {
            None => Some((k.clone(), None)),
            Some(values) if !values.contains(v) => Some((k.clone(), Some(v.clone()))),
            _ => None,
        });
        *self.known_tags.lock().await = Some(tags);
        match missing {
            Some((key, value)) => LfError::UnknownTag {
                key,
                value,
                on: on_what(table, &change.on),
                catalog_id: table.catalog_id.clone(),
            },
            None => e,
        }
    }

    async fn apply_filter(&self, table: &TableRef, change: &FilterChange) -> Result<(), LfError> {
        let what = |name: &str| format!("data-cell filter {name} of {table}");
        self.write_call();
        match change {
            FilterChange::Delete { name } => {
                self.client
                    .delete_data_cells_filter()
                    .table_catalog_id(&table.catalog_id)
                    .database_name(&table.database)
                    .table_name(&table.table)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| LfError::api("DeleteDataCellsFilter", what(name), e))?;
            }
            FilterChange::Create { name, spec } => {
                self.client
                    .create_data_cells_filter()
                    .table_data(table_data(table, name, spec, None)?)
                    .send()
                    .await
                    .map_err(|e| LfError::api("CreateDataCellsFilter", what(name), e))?;
            }
            FilterChange::Update {
                name, to, version_id, ..
            } => {
                self.client
                    .update_data_cells_filter()
                    .table_data(table_data(table, name, to, version_id.as_deref())?)
                    .send()
                    .await
                    .map_err(|e| LfError::api("UpdateDataCellsFilter", what(name), e))?;
            }
        }
        Ok(())
    }

    async fn batch(&self, table: &TableRef, changes: &[&GrantChange], grant: bool) -> Result<(), LfError> {
        let entries = changes
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let (filter, principal, permissions, grantable) = match g {
                    GrantChange::Grant { filter, principal } => (filter, principal, vec!["SELECT".to_string()], vec![]),
                    GrantChange::Revoke {
                        filter,
                        principal,
                        permissions,
                        grantable,
                    } => (filter, principal, permissions.clone(), grantable.clone()),
                };
                BatchPermissionsRequestEntry::builder()
                    .id(i.to_string())
                    .principal(
                        DataLakePrincipal::builder()
                            .data_lake_principal_identifier(principal)
                            .build(),
                    )
                    .resource(LakeFormation::filter_resource(table, filter))
                    .set_permissions(Some(permissions.iter().map(|p| Permission::from(p.as_str())).collect()))
                    .set_permissions_with_grant_option(Some(
                        grantable.iter().map(|p| Permission::from(p.as_str())).collect(),
                    ))
                    .build()
                    .map_err(|e| build_error(table, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_permissions(
            &table.catalog_id,
            &format!("data-cell filters of {table}"),
            entries,
            grant,
        )
        .await
    }

    pub(crate) async fn batch_permissions(
        &self,
        catalog_id: &str,
        what: &str,
        entries: Vec<BatchPermissionsRequestEntry>,
        grant: bool,
    ) -> Result<(), LfError> {
        self.write_call();
        let (operation, failures) = if grant {
            (
                "BatchGrantPermissions",
                self.client
                    .batch_grant_permissions()
                    .catalog_id(catalog_id)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| LfError::api("BatchGrantPermissions", what, e))?
                    .failures()
                    .to_vec(),
            )
        } else {
            (
                "BatchRevokePermissions",
                self.client
                    .batch_revoke_permissions()
                    .catalog_id(catalog_id)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| LfError::api("BatchRevokePermissions", what, e))?
                    .failures()
                    .to_vec(),
            )
        };
        if failures.is_empty() {
            return Ok(());
        }
        Err(LfError::Failures {
            operation,
            resource: what.to_string(),
            failures: failures
                .iter()
                .map(|f| {
                    let entry = f.request_entry();
                    let principal = entry
                        .and_then(|e| e.principal())
                        .and_then(|p| p.data_lake_principal_identifier())
                        .unwrap_or("?");
                    let filter = entry
                        .and_then(|e| e.resource())
                        .and_then(|r| r.data_cells_filter())
                        .and_then(|r| r.name())
                        .map(|n| format!(" on filter {n}"))
                        .unwrap_or_default();
                    let err = f.error();
                    format!(
                        "{principal}{filter}: {} {}",
                        err.and_then(|e| e.error_code()).unwrap_or("?"),
                        err.and_then(|e| e.error_message()).unwrap_or("")
                    )
                })
                .collect(),
        })
    }

    /// The reference's grants on a database glue-rs created (spec: create_schema): `principal` (the session role)
    /// gets ALTER, CREATE_TABLE, DROP, DESCRIBE on the database and SELECT, INSERT, DELETE, DESCRIBE, ALTER, DROP on
    /// all its tables, each with grant option, in one BatchGrantPermissions; `Failures` are an error.
    pub async fn grant_database_access(&self, database: &str, principal: &str) -> Result<(), LfError> {
        let catalog_id = self.catalog_id().await?.to_string();
        let db = TableRef::new(catalog_id.clone(), database, "").database;
        let perms = |ps: &[&str]| -> Vec<Permission> { ps.iter().map(|p| Permission::from(*p)).collect() };
        let on_db = perms(&["ALTER", "CREATE_TABLE", "DROP", "DESCRIBE"]);
        let on_tables = perms(&["SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER", "DROP"]);
        let bad = |e: aws_sdk_lakeformation::error::BuildError| build_error(&TableRef::new(&catalog_id, &db, "*"), e);
        let who = DataLakePrincipal::builder()
            .data_lake_principal_identifier(principal)
            .build();
        let entries = vec![
            BatchPermissionsRequestEntry::builder()
                .id("database")
                .principal(who.clone())
                .resource(self.database_resource(&TableRef::new(&catalog_id, &db, "")))
                .set_permissions(Some(on_db.clone()))
                .set_permissions_with_grant_option(Some(on_db))
                .build()
                .map_err(bad)?,
            BatchPermissionsRequestEntry::builder()
                .id("tables")
                .principal(who)
                .resource(
                    Resource::builder()
                        .table(
                            TableResource::builder()
                                .catalog_id(&catalog_id)
                                .database_name(&db)
                                .table_wildcard(TableWildcard::builder().build())
                                .build()
                                .map_err(bad)?,
                        )
                        .build(),
                )
                .set_permissions(Some(on_tables.clone()))
                .set_permissions_with_grant_option(Some(on_tables))
                .build()
                .map_err(bad)?,
        ];
        self.batch_permissions(&catalog_id, &format!("database {db} for {principal}"), entries, true)
            .await
    }
}

fn on_what(table: &TableRef, on: &TagResource) -> String {
    match on {
        TagResource::Database => format!("database {}", table.database),
        TagResource::Table => format!("table {}.{}", table.database, table.table),
        TagResource::Columns(c) => format!("columns [{}] of {}.{}", c.join(", "), table.database, table.table),
    }
}

fn check_tag_failures(operation: &'static str, on: &str, failures: &[LfTagError]) -> Result<(), LfError> {
    if failures.is_empty() {
        return Ok(());
    }
    Err(LfError::Failures {
        operation,
        resource: on.to_string(),
        failures: failures
            .iter()
            .map(|f| {
                let tag = f
                    .lf_tag()
                    .map(|t| format!("{}={}", t.tag_key(), t.tag_values().join("|")))
                    .unwrap_or_else(|| "?".into());
                let err = f.error();
                format!(
                    "{tag}: {} {}",
                    err.and_then(|e| e.error_code()).unwrap_or("?"),
                    err.and_then(|e| e.error_message()).unwrap_or("")
                )
            })
            .collect(),
    })
}

fn table_data(
    table: &TableRef,
    name: &str,
    spec: &FilterSpec,
    version_id: Option<&str>,
) -> Result<DataCellsFilter, LfError> {
    let row = match &spec.row_filter {
        Some(expr) => RowFilter::builder().filter_expression(expr).build(),
        None => RowFilter::builder()
            .all_rows_wildcard(AllRowsWildcard::builder().build())
            .build(),
    };
    let b = DataCellsFilter::builder()
        .table_catalog_id(&table.catalog_id)
        .database_name(&table.database)
        .table_name(&table.table)
        .name(name)
        .row_filter(row)
        .set_version_id(version_id.map(str::to_string));
    let b = match &spec.columns {
        FilterColumns::Only(c) => b.set_column_names(Some(c.clone())),
        FilterColumns::Excluding(c) => b.column_wildcard(
            ColumnWildcard::builder()
                .set_excluded_column_names(Some(c.clone()))
                .build(),
        ),
        FilterColumns::All => b.column_wildcard(ColumnWildcard::builder().build()),
    };
    b.build().map_err(|e| build_error(table, e))
}

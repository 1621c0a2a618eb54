//! `glue iam-policy`: the IAM policy a Glue target's role needs, from the profile.

use glue_project::profile::EngineChoice;
use serde_json::{Value, json};

use crate::args::ProjectArgs;
use crate::commands::debug::project_and_profile;
use crate::engines::commit_protection;
use crate::error::{CliError, Result};
use crate::report::Reporter;

/// `glue iam-policy`: the IAM policy the profile's target needs, as JSON (the DynamoDB lock table's statement only when
/// the Spark conf selects Iceberg's DynamoDB lock manager).
pub fn iam_policy(args: &ProjectArgs, reporter: &Reporter) -> Result<i32> {
    let (_, _, profile) = project_and_profile(args)?;
    if matches!(profile.engine, EngineChoice::Local { .. }) {
        return Err(CliError::Usage(format!(
            "iam-policy: target `{}` runs on the embedded engine and needs no AWS permissions",
            profile.target_name
        )));
    }
    let text = |k: &str| profile.output.get(k).and_then(Value::as_str).unwrap_or("");
    let region = if text("region").is_empty() { "*" } else { text("region") };
    let role = text("role_arn");
    // arn:aws:iam::<account>:role/<name>
    let account = role.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or("*");
    // The Data Catalog's account: `catalog_id`, or the `catalogid` conf of the cross-account recipe; else the role's.
    let catalog_account = match profile.engine {
        EngineChoice::GlueSession => crate::engines::glue_profile(&profile)?.catalog_id,
        _ => None,
    }
    .unwrap_or_else(|| account.to_string());
    let schema = &profile.target.schema;
    let mut statements = vec![
        json!({
            "Sid": "GlueInteractiveSessions",
            "Effect": "Allow",
            "Action": ["glue:CreateSession", "glue:GetSession", "glue:ListSessions", "glue:StopSession",
                       "glue:DeleteSession", "glue:RunStatement", "glue:GetStatement", "glue:ListStatements",
                       "glue:CancelStatement", "glue:GetSessionEndpoint"],
            "Resource": format!("arn:aws:glue:{region}:{account}:session/*"),
        }),
        json!({
            "Sid": "GlueDataCatalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:CreateDatabase", "glue:GetTable",
                       "glue:GetTables", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                       "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchUpdatePartition",
                       "glue:BatchDeletePartition"],
            "Resource": [format!("arn:aws:glue:{region}:{catalog_account}:catalog"),
                         format!("arn:aws:glue:{region}:{catalog_account}:database/{schema}"),
                         format!("arn:aws:glue:{region}:{catalog_account}:table/{schema}/*")],
        }),
    ];
    // Lake Formation: the database grants on a new database and the reconcile of lf_tags_config / lf_grants (Lake
    // Formation has no resource-level IAM permissions; what may be tagged or granted is Lake Formation's own).
    statements.push(json!({
        "Sid": "LakeFormation",
        "Effect": "Allow",
        "Action": ["lakeformation:GetDataAccess", "lakeformation:BatchGrantPermissions",
                   "lakeformation:BatchRevokePermissions", "lakeformation:ListPermissions",
                   "lakeformation:ListLFTags", "lakeformation:GetResourceLFTags",
                   "lakeformation:AddLFTagsToResource", "lakeformation:RemoveLFTagsFromResource",
                   "lakeformation:ListDataCellsFilter", "lakeformation:CreateDataCellsFilter",
                   "lakeformation:UpdateDataCellsFilter", "lakeformation:DeleteDataCellsFilter"],
        "Resource": "*",
    }));
    if !role.is_empty() {
        statements.push(json!({
            "Sid": "PassSessionRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        }));
    }
    if let Some(rest) = text("location").strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let objects = if prefix.is_empty() {
            format!("arn:aws:s3:::{bucket}/*")
        } else {
            format!("arn:aws:s3:::{bucket}/{prefix}/*")
        };
        statements.push(json!({
            "Sid": "Location",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), objects],
        }));
    }
    if let Some(table) = commit_protection(&profile)?
        .as_ref()
        .and_then(|p| p.lock_table().map(str::to_string))
    {
        statements.push(json!({
            "Sid": "IcebergCommitLockTable",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "dynamodb:CreateTable", "dynamodb:GetItem", "dynamodb:PutItem",
                       "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": format!("arn:aws:dynamodb:{region}:{account}:table/{table}"),
        }));
    }
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    reporter.raw(&serde_json::to_string_pretty(&policy).unwrap_or_default());
    Ok(0)
}

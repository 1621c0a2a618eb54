//! The Glue options of a profile output, typed (every option of dbt-glue's setup page, as dbt-glue 1.10.19 reads them).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::ProfileError;
use crate::profile_values::{Output, flag, list, number, pairs, spark_conf, text, unquote, whole};

/// A Glue worker type. Names glue-rs does not know (new AWS offerings) are kept as `Other` with a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerType {
    /// `G.025X` (streaming, 0.25 DPU).
    G025X,
    /// `G.1X` (1 DPU).
    G1X,
    /// `G.2X` (2 DPU).
    G2X,
    /// `G.4X` (4 DPU).
    G4X,
    /// `G.8X` (8 DPU).
    G8X,
    /// `Z.2X` (Ray, 2 DPU).
    Z2X,
    /// `Standard` (the legacy worker the reference page lists).
    Standard,
    /// Another well-formed name.
    Other(String),
}

impl WorkerType {
    /// The name AWS uses.
    pub fn as_str(&self) -> &str {
        match self {
            WorkerType::G025X => "G.025X",
            WorkerType::G1X => "G.1X",
            WorkerType::G2X => "G.2X",
            WorkerType::G4X => "G.4X",
            WorkerType::G8X => "G.8X",
            WorkerType::Z2X => "Z.2X",
            WorkerType::Standard => "Standard",
            WorkerType::Other(name) => name,
        }
    }
}

/// A Glue version `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlueVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl std::fmt::Display for GlueVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

const KNOWN_GLUE_VERSIONS: &[(u32, u32)] = &[(2, 0), (3, 0), (4, 0), (5, 0), (5, 1)];

/// Livy statements (the default) or a Spark Connect endpoint (Glue 5.1+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionType {
    /// RunStatement / GetStatement.
    Livy,
    /// GetSessionEndpoint and a Spark Connect client.
    SparkConnect,
}

/// A lakehouse format of `datalake_formats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatalakeFormat {
    /// Delta Lake.
    Delta,
    /// Apache Iceberg.
    Iceberg,
    /// Apache Hudi.
    Hudi,
}

/// Where a profile output was read from, for the messages that tell the user what to change in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileOrigin {
    /// The profiles file.
    pub file: std::path::PathBuf,
    /// The target (output) name.
    pub target: String,
}

/// The AWS SDK retry mode (`boto_retry_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryMode {
    /// Standard retries.
    Standard,
    /// Adaptive (client-side rate limiting), the reference's default.
    Adaptive,
    /// botocore's legacy mode (treated as standard).
    Legacy,
}

/// Every Glue option of a profile output, with the reference's defaults. Its `Debug` shows the typed options only,
/// never the profile output it was read from (which may hold tokens and passwords).
#[derive(Clone, PartialEq)]
pub struct GlueProfile {
    /// The session role (`role_arn`).
    pub role_arn: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// `aws_profile`: the named profile of the AWS config and credentials files whose credentials (and region, when
    /// `region` is not set) the calls use, as boto3's `Session(profile_name=…)` does; without it the SDK's default
    /// chain.
    pub aws_profile: Option<String>,
    /// `workers`.
    pub workers: Option<u32>,
    /// `worker_type`.
    pub worker_type: Option<WorkerType>,
    /// `session_provisioning_timeout_in_seconds` (120 s).
    pub provisioning_timeout: Duration,
    /// `location`: the S3 root of tables.
    pub location: Option<String>,
    /// `root_location`: tables at `<location>/<table>` instead of `<location>/<schema>/<table>`.
    pub root_location: bool,
    /// `idle_timeout` in minutes (10).
    pub idle_timeout_minutes: u32,
    /// `query_timeout_in_minutes`: the session's Timeout (300).
    pub query_timeout_minutes: u32,
    /// `glue_version` (5.0).
    pub glue_version: GlueVersion,
    /// `session_type`.
    pub session_type: SessionType,
    /// `security_configuration`.
    pub security_configuration: Option<String>,
    /// `connections`, in the order given, without repeats.
    pub connections: Vec<String>,
    /// `conf`: Spark settings (`k=v --conf k2=v2`), in order.
    pub conf: Vec<(String, String)>,
    /// `extra_py_files`.
    pub extra_py_files: Option<String>,
    /// `extra_jars`.
    pub extra_jars: Option<String>,
    /// `delta_athena_prefix`.
    pub delta_athena_prefix: Option<String>,
    /// `tags` (`k=v,k=v`).
    pub tags: BTreeMap<String, String>,
    /// `default_arguments` (`k=v,k=v`), in order.
    pub default_arguments: Vec<(String, String)>,
    /// `datalake_formats`.
    pub datalake_formats: Vec<DatalakeFormat>,
    /// `iceberg_glue_commit_lock_table` (myGlueLockTable).
    pub iceberg_glue_commit_lock_table: String,
    /// `custom_iceberg_catalog_namespace` (glue_catalog; empty: none).
    pub iceberg_catalog: Option<String>,
    /// `use_interactive_session_role_for_api_calls`.
    pub use_session_role_for_api_calls: bool,
    /// `glue_session_id`.
    pub glue_session_id: Option<String>,
    /// `glue_session_reuse`.
    pub glue_session_reuse: bool,
    /// `enable_session_per_model`.
    pub enable_session_per_model: bool,
    /// `lakeformation_database_grants` (glue-rs, default true): the reference's Lake Formation grants for the session
    /// role on a database glue-rs creates; false skips them (accounts without Lake Formation admin rights).
    pub lakeformation_database_grants: bool,
    /// `statement_poll_interval`: the longest wait between two GetStatement calls (glue-rs starts faster).
    pub statement_poll_max: Duration,
    /// `boto_retry_mode` (adaptive).
    pub retry_mode: RetryMode,
    /// `boto_retry_max_attempts` (10).
    pub retry_max_attempts: u32,
    /// `catalog_id`: the Data Catalog's account (cross-account catalogs), else the account of `conf`'s
    /// `spark.hadoop.hive.metastore.glue.catalogid` (the reference page's recipe): the `CatalogId` of glue-rs's catalog
    /// and Lake Formation calls.
    pub catalog_id: Option<String>,
    /// Where the output was read from (set by the caller), for messages that say what to change there.
    pub origin: Option<ProfileOrigin>,
    /// The profile output it was read from, for the options a model's session sets for itself.
    source: Map<String, Value>,
}

impl std::fmt::Debug for GlueProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field but `source`, the raw profile output.
        let GlueProfile {
            role_arn,
            region,
            aws_profile,
            workers,
            worker_type,
            provisioning_timeout,
            location,
            root_location,
            idle_timeout_minutes,
            query_timeout_minutes,
            glue_version,
            session_type,
            security_configuration,
            connections,
            conf,
            extra_py_files,
            extra_jars,
            delta_athena_prefix,
            tags,
            default_arguments,
            datalake_formats,
            iceberg_glue_commit_lock_table,
            iceberg_catalog,
            use_session_role_for_api_calls,
            glue_session_id,
            glue_session_reuse,
            enable_session_per_model,
            lakeformation_database_grants,
            statement_poll_max,
            retry_mode,
            retry_max_attempts,
            catalog_id,
            origin,
            source: _,
        } = self;
        f.debug_struct("GlueProfile")
            .field("role_arn", role_arn)
            .field("region", region)
            .field("aws_profile", aws_profile)
            .field("workers", workers)
            .field("worker_type", worker_type)
            .field("provisioning_timeout", provisioning_timeout)
            .field("location", location)
            .field("root_location", root_location)
            .field("idle_timeout_minutes", idle_timeout_minutes)
            .field("query_timeout_minutes", query_timeout_minutes)
            .field("glue_version", glue_version)
            .field("session_type", session_type)
            .field("security_configuration", security_configuration)
            .field("connections", connections)
            .field("conf", conf)
            .field("extra_py_files", extra_py_files)
            .field("extra_jars", extra_jars)
            .field("delta_athena_prefix", delta_athena_prefix)
            .field("tags", tags)
            .field("default_arguments", default_arguments)
            .field("datalake_formats", datalake_formats)
            .field("iceberg_glue_commit_lock_table", iceberg_glue_commit_lock_table)
            .field("iceberg_catalog", iceberg_catalog)
            .field("use_session_role_for_api_calls", use_session_role_for_api_calls)
            .field("glue_session_id", glue_session_id)
            .field("glue_session_reuse", glue_session_reuse)
            .field("enable_session_per_model", enable_session_per_model)
            .field("lakeformation_database_grants", lakeformation_database_grants)
            .field("statement_poll_max", statement_poll_max)
            .field("retry_mode", retry_mode)
            .field("retry_max_attempts", retry_max_attempts)
            .field("catalog_id", catalog_id)
            .field("origin", origin)
            .finish_non_exhaustive()
    }
}

/// Every option [`GlueProfile::from_output`] reads, and only those: the parser reads the output through this table.
pub const GLUE_PROFILE_KEYS: &[&str] = &[
    "worker_type",
    "glue_version",
    "session_type",
    "role_arn",
    "region",
    "aws_profile",
    "location",
    "root_location",
    "glue_session_id",
    "catalog_id",
    "datalake_formats",
    "boto_retry_mode",
    "boto_retry_max_attempts",
    "statement_poll_interval",
    "connections",
    "workers",
    "session_provisioning_timeout_in_seconds",
    "idle_timeout",
    "query_timeout_in_minutes",
    "security_configuration",
    "conf",
    "extra_py_files",
    "extra_jars",
    "delta_athena_prefix",
    "tags",
    "default_arguments",
    "iceberg_glue_commit_lock_table",
    "custom_iceberg_catalog_namespace",
    "use_interactive_session_role_for_api_calls",
    "glue_session_reuse",
    "enable_session_per_model",
    "lakeformation_database_grants",
];

/// The profile options a node's `meta` may set for a session of its own (dbt-glue's per-model sessions): what shapes
/// a session. Options the planner or the shared AWS clients depend on (`location`, `region`, `schema`, …) stay the
/// target's.
pub const SESSION_OPTIONS: &[&str] = &[
    "role_arn",
    "workers",
    "worker_type",
    "session_provisioning_timeout_in_seconds",
    "query_timeout_in_minutes",
    "idle_timeout",
    "glue_version",
    "security_configuration",
    "connections",
    "conf",
    "extra_py_files",
    "extra_jars",
    "tags",
    "default_arguments",
    "datalake_formats",
    "glue_session_reuse",
];

impl GlueProfile {
    /// The profile with some options set differently (a model's own session): the output it was read from, with
    /// `overrides`, read again. Only [`SESSION_OPTIONS`] are taken; a malformed value is a [`ProfileError`] naming it.
    pub fn with_overrides(
        &self,
        overrides: &std::collections::BTreeMap<String, Value>,
    ) -> Result<(GlueProfile, Vec<String>), ProfileError> {
        let mut output = self.source.clone();
        for (k, v) in overrides.iter().filter(|(k, _)| SESSION_OPTIONS.contains(&k.as_str())) {
            output.insert(k.clone(), v.clone());
        }
        let (mut profile, warnings) = GlueProfile::from_output(&output)?;
        profile.origin = self.origin.clone();
        Ok((profile, warnings))
    }

    /// Reads the Glue options of a rendered profile output. Returns the profile and its warnings.
    pub fn from_output(output: &Map<String, Value>) -> Result<(GlueProfile, Vec<String>), ProfileError> {
        let mut warnings = Vec::new();
        let out = Output::new(output, GLUE_PROFILE_KEYS);
        let text = |field: &str| text(&out, field);
        let worker_type = text("worker_type")?
            .map(|w| worker_type(&w, &mut warnings))
            .transpose()?;
        let glue_version = match text("glue_version")? {
            Some(v) => glue_version(&v, &mut warnings)?,
            None => GlueVersion { major: 5, minor: 0 },
        };
        let session_type = match text("session_type")?.as_deref() {
            None | Some("livy") => SessionType::Livy,
            Some("spark_connect") => SessionType::SparkConnect,
            Some(other) => {
                return Err(ProfileError::new(
                    "session_type",
                    format!("`{other}`: expected livy or spark_connect"),
                ));
            }
        };
        if session_type == SessionType::SparkConnect && glue_version < (GlueVersion { major: 5, minor: 1 }) {
            return Err(ProfileError::new(
                "session_type",
                format!("spark_connect sessions need glue_version 5.1 or later, the profile has {glue_version}"),
            ));
        }
        let role_arn = text("role_arn")?;
        if let Some(arn) = &role_arn
            && !(arn.starts_with("arn:") && arn.contains(":role/"))
        {
            return Err(ProfileError::new(
                "role_arn",
                format!("`{arn}` is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
            ));
        }
        let location = text("location")?;
        if let Some(l) = &location
            && !(l.starts_with("s3://") || l.starts_with("s3a://"))
        {
            return Err(ProfileError::new("location", format!("`{l}` is not an s3:// location")));
        }
        let glue_session_id = text("glue_session_id")?;
        if let Some(id) = &glue_session_id
            && (id.contains('.') || id.is_empty() || id.len() > 255)
        {
            return Err(ProfileError::new(
                "glue_session_id",
                format!("`{id}`: Glue session ids have 1 to 255 characters and no period"),
            ));
        }
        let catalog_id = text("catalog_id")?;
        if let Some(id) = &catalog_id
            && (id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ProfileError::new(
                "catalog_id",
                format!("`{id}` is not a 12-digit AWS account id"),
            ));
        }
        let conf = spark_conf(text("conf")?.as_deref().unwrap_or(""))?;
        let catalog_id = catalog_of(catalog_id, &conf)?;
        let datalake_formats = datalake_formats(text("datalake_formats")?)?;
        let retry_mode = match text("boto_retry_mode")?.as_deref() {
            None | Some("adaptive") => RetryMode::Adaptive,
            Some("standard") => RetryMode::Standard,
            Some("legacy") => RetryMode::Legacy,
            Some(other) => {
                return Err(ProfileError::new(
                    "boto_retry_mode",
                    format!("`{other}`: expected standard, adaptive or legacy"),
                ));
            }
        };
        let retry_max_attempts = number(&out, "boto_retry_max_attempts")?.unwrap_or(10.0);
        if !(1.0..=f64::from(u32::MAX)).contains(&retry_max_attempts) || retry_max_attempts.fract() != 0.0 {
            return Err(ProfileError::new(
                "boto_retry_max_attempts",
                format!("`{retry_max_attempts}`: must be a whole number from 1 to {}", u32::MAX),
            ));
        }
        let poll = number(&out, "statement_poll_interval")?.unwrap_or(1.0);
        let statement_poll_max = Duration::try_from_secs_f64(poll)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ProfileError::new(
                    "statement_poll_interval",
                    format!("`{poll}`: must be a number of seconds greater than 0"),
                )
            })?;
        let mut connections = Vec::new();
        for c in list(text("connections")?) {
            if !connections.contains(&c) {
                connections.push(c);
            }
        }
        Ok((
            GlueProfile {
                role_arn,
                region: text("region")?,
                aws_profile: text("aws_profile")?,
                workers: whole(&out, "workers")?,
                worker_type,
                provisioning_timeout: Duration::from_secs(
                    whole(&out, "session_provisioning_timeout_in_seconds")?
                        .unwrap_or(120)
                        .into(),
                ),
                location,
                root_location: flag(&out, "root_location")?.unwrap_or(false),
                idle_timeout_minutes: whole(&out, "idle_timeout")?.unwrap_or(10),
                query_timeout_minutes: whole(&out, "query_timeout_in_minutes")?.unwrap_or(300),
                glue_version,
                session_type,
                security_configuration: text("security_configuration")?,
                connections,
                conf,
                extra_py_files: text("extra_py_files")?,
                extra_jars: text("extra_jars")?,
                delta_athena_prefix: text("delta_athena_prefix")?,
                tags: pairs("tags", text("tags")?.as_deref().unwrap_or(""))?
                    .into_iter()
                    .collect(),
                default_arguments: pairs(
                    "default_arguments",
                    &text("default_arguments")?.unwrap_or_default().replace(' ', ""),
                )?
                .into_iter()
                .map(|(k, v)| (unquote(&k), unquote(&v)))
                .collect(),
                datalake_formats,
                iceberg_glue_commit_lock_table: text("iceberg_glue_commit_lock_table")?
                    .unwrap_or_else(|| "myGlueLockTable".into()),
                iceberg_catalog: match text("custom_iceberg_catalog_namespace")? {
                    None => Some("glue_catalog".into()),
                    Some(ns) if ns.is_empty() => None,
                    Some(ns) => Some(ns),
                },
                use_session_role_for_api_calls: flag(&out, "use_interactive_session_role_for_api_calls")?
                    .unwrap_or(false),
                glue_session_id,
                glue_session_reuse: flag(&out, "glue_session_reuse")?.unwrap_or(false),
                enable_session_per_model: flag(&out, "enable_session_per_model")?.unwrap_or(false),
                lakeformation_database_grants: flag(&out, "lakeformation_database_grants")?.unwrap_or(true),
                statement_poll_max,
                retry_mode,
                // A whole number within u32's range (checked above).
                retry_max_attempts: retry_max_attempts as u32,
                catalog_id,
                origin: None,
                source: output.clone(),
            },
            warnings,
        ))
    }
}

/// The Spark setting of the reference page's cross-account recipe: the account whose Data Catalog the session's Hive
/// client reads.
pub const CATALOG_ID_CONF: &str = "spark.hadoop.hive.metastore.glue.catalogid";

/// The Data Catalog of glue-rs's own calls: `catalog_id`, else the account of [`CATALOG_ID_CONF`] in `conf`, so that
/// they read the catalog Spark reads. Both set to different accounts is an error (one of them would be wrong).
fn catalog_of(catalog_id: Option<String>, conf: &[(String, String)]) -> Result<Option<String>, ProfileError> {
    let Some((_, from_conf)) = conf.iter().rev().find(|(k, _)| k == CATALOG_ID_CONF) else {
        return Ok(catalog_id);
    };
    if from_conf.len() != 12 || !from_conf.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProfileError::new(
            "conf",
            format!("{CATALOG_ID_CONF}=`{from_conf}` is not a 12-digit AWS account id"),
        ));
    }
    match catalog_id {
        Some(id) if id != *from_conf => Err(ProfileError::new(
            "catalog_id",
            format!(
                "`{id}` differs from {CATALOG_ID_CONF}={from_conf} in `conf`: Spark would read one account's catalog \
                 and glue-rs's catalog calls another's; set one of them, or both to the same account"
            ),
        )),
        _ => Ok(Some(from_conf.clone())),
    }
}

pub(crate) fn datalake_formats(value: Option<String>) -> Result<Vec<DatalakeFormat>, ProfileError> {
    list(value)
        .into_iter()
        .map(|f| match f.to_ascii_lowercase().as_str() {
            "delta" => Ok(DatalakeFormat::Delta),
            "iceberg" => Ok(DatalakeFormat::Iceberg),
            "hudi" => Ok(DatalakeFormat::Hudi),
            _ => Err(ProfileError::new(
                "datalake_formats",
                format!("`{f}`: expected delta, iceberg or hudi"),
            )),
        })
        .collect()
}

fn worker_type(name: &str, warnings: &mut Vec<String>) -> Result<WorkerType, ProfileError> {
    Ok(match name {
        "G.025X" => WorkerType::G025X,
        "G.1X" => WorkerType::G1X,
        "G.2X" => WorkerType::G2X,
        "G.4X" => WorkerType::G4X,
        "G.8X" => WorkerType::G8X,
        "Z.2X" => WorkerType::Z2X,
        "Standard" => WorkerType::Standard,
        other
            if !other.is_empty()
                && other
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.') =>
        {
            warnings.push(format!(
                "worker_type `{other}` is not one glue-rs knows; it is passed to Glue as is"
            ));
            WorkerType::Other(other.to_string())
        }
        other => {
            return Err(ProfileError::new(
                "worker_type",
                format!("`{other}` is not a Glue worker type (e.g. Standard, G.1X, G.2X)"),
            ));
        }
    })
}

fn glue_version(text: &str, warnings: &mut Vec<String>) -> Result<GlueVersion, ProfileError> {
    let parsed = text.split_once('.').and_then(|(a, b)| {
        Some(GlueVersion {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    });
    let version =
        parsed.ok_or_else(|| ProfileError::new("glue_version", format!("`{text}` is not a version like 5.0")))?;
    if !KNOWN_GLUE_VERSIONS.contains(&(version.major, version.minor)) {
        warnings.push(format!(
            "glue_version {version} is not one glue-rs knows; it is passed to Glue as is"
        ));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect_profile::SparkConnectProfile;
    use serde_json::json;

    fn parse(v: Value) -> Result<(GlueProfile, Vec<String>), ProfileError> {
        GlueProfile::from_output(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_the_references() {
        let (p, warnings) = parse(json!({"schema": "s"})).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(p.glue_version, GlueVersion { major: 5, minor: 0 });
        assert_eq!((p.idle_timeout_minutes, p.query_timeout_minutes), (10, 300));
        assert_eq!(p.provisioning_timeout, Duration::from_secs(120));
        assert_eq!(p.iceberg_glue_commit_lock_table, "myGlueLockTable");
        assert_eq!(p.iceberg_catalog.as_deref(), Some("glue_catalog"));
        assert_eq!((p.retry_mode, p.retry_max_attempts), (RetryMode::Adaptive, 10));
        assert!(p.lakeformation_database_grants && !p.glue_session_reuse);
    }

    #[test]
    fn string_formats_are_parsed() {
        let (p, _) = parse(json!({
            "workers": "3", "worker_type": "G.2X", "glue_version": "5.1", "session_type": "spark_connect",
            "conf": "spark.a=1 --conf spark.b=x=y", "tags": "team=data, env=prod",
            "default_arguments": "--enable-metrics=true, '--job-language'=\"python\"",
            "connections": "vpc,vpc,other", "datalake_formats": "iceberg,delta", "custom_iceberg_catalog_namespace": "",
            "glue_session_reuse": "true", "idle_timeout": 20,
        }))
        .unwrap();
        assert_eq!((p.workers, p.worker_type), (Some(3), Some(WorkerType::G2X)));
        assert_eq!(p.session_type, SessionType::SparkConnect);
        assert_eq!(
            p.conf,
            vec![("spark.a".into(), "1".into()), ("spark.b".into(), "x=y".into())]
        );
        assert_eq!(p.tags.get("env").map(String::as_str), Some("prod"));
        assert_eq!(
            p.default_arguments,
            vec![
                ("--enable-metrics".into(), "true".into()),
                ("--job-language".into(), "python".into())
            ]
        );
        assert_eq!(p.connections, vec!["vpc".to_string(), "other".to_string()]);
        assert_eq!(p.datalake_formats, vec![DatalakeFormat::Iceberg, DatalakeFormat::Delta]);
        assert_eq!(
            (p.iceberg_catalog, p.glue_session_reuse, p.idle_timeout_minutes),
            (None, true, 20)
        );
    }

    #[test]
    fn the_reference_pages_standard_worker_and_a_named_aws_profile_are_read() {
        let (p, warnings) = parse(json!({"worker_type": "Standard", "aws_profile": "analytics"})).unwrap();
        assert_eq!(p.worker_type, Some(WorkerType::Standard));
        assert_eq!(p.worker_type.as_ref().map(WorkerType::as_str), Some("Standard"));
        assert_eq!(p.aws_profile.as_deref(), Some("analytics"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn new_aws_values_warn_malformed_values_fail_naming_the_field() {
        let (p, warnings) = parse(json!({"worker_type": "G.32X", "glue_version": "6.0"})).unwrap();
        assert_eq!(p.worker_type, Some(WorkerType::Other("G.32X".into())));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for (value, field) in [
            (json!({"worker_type": "big"}), "worker_type"),
            (json!({"glue_version": "five"}), "glue_version"),
            (json!({"workers": "0"}), "workers"),
            (json!({"role_arn": "GlueRole"}), "role_arn"),
            (json!({"location": "/tmp/x"}), "location"),
            (json!({"tags": "team"}), "tags"),
            (json!({"conf": "spark.a 1"}), "conf"),
            (json!({"datalake_formats": "paimon"}), "datalake_formats"),
            (json!({"glue_session_reuse": "yes"}), "glue_session_reuse"),
            (json!({"glue_session_id": "a.b"}), "glue_session_id"),
            (json!({"catalog_id": "123"}), "catalog_id"),
            (json!({"boto_retry_max_attempts": 0}), "boto_retry_max_attempts"),
            (
                json!({"session_type": "spark_connect", "glue_version": "5.0"}),
                "session_type",
            ),
        ] {
            let err = parse(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
    }

    #[test]
    fn numbers_out_of_range_are_errors_naming_the_field_not_panics() {
        for (value, field) in [
            (json!({"statement_poll_interval": 1e300}), "statement_poll_interval"),
            (json!({"statement_poll_interval": "1e300"}), "statement_poll_interval"),
            (json!({"statement_poll_interval": "NaN"}), "statement_poll_interval"),
            (json!({"statement_poll_interval": "inf"}), "statement_poll_interval"),
            (json!({"statement_poll_interval": -1}), "statement_poll_interval"),
            (json!({"boto_retry_max_attempts": 1e300}), "boto_retry_max_attempts"),
            (
                json!({"boto_retry_max_attempts": 4294967296u64}),
                "boto_retry_max_attempts",
            ),
            (json!({"boto_retry_max_attempts": -3}), "boto_retry_max_attempts"),
            (json!({"workers": -1}), "workers"),
            (json!({"workers": 1e300}), "workers"),
            (json!({"idle_timeout": 4294967296u64}), "idle_timeout"),
            (
                json!({"session_provisioning_timeout_in_seconds": "-5"}),
                "session_provisioning_timeout_in_seconds",
            ),
            (json!({"glue_version": "99999999999.0"}), "glue_version"),
        ] {
            let err = parse(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
        let (p, _) = parse(json!({"statement_poll_interval": 0.25, "boto_retry_max_attempts": 3.0})).unwrap();
        assert_eq!(
            (p.statement_poll_max, p.retry_max_attempts),
            (Duration::from_millis(250), 3)
        );
    }

    #[test]
    fn debug_output_hides_the_profile_it_was_read_from() {
        let (p, _) =
            parse(json!({"region": "eu-west-1", "token": "s3cr3t-token", "password": "hunter2-pass"})).unwrap();
        let shown = format!("{p:?}");
        assert!(shown.contains("eu-west-1"), "{shown}");
        for secret in ["s3cr3t-token", "hunter2-pass"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let out = json!({"host": "sc://h:1/;token=abc-url-token", "catalog": "glue", "token": "s3cr3t-token"});
        let p = SparkConnectProfile::from_output(out.as_object().unwrap()).unwrap();
        let shown = format!("{p:?}");
        for secret in ["s3cr3t-token", "abc-url-token"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn session_options_are_options_of_the_profile() {
        for k in SESSION_OPTIONS {
            assert!(GLUE_PROFILE_KEYS.contains(k), "{k}");
        }
        // Every read, each checked against the table (a key outside it fails a debug build).
        let all: Map<String, Value> = GLUE_PROFILE_KEYS.iter().map(|k| (k.to_string(), Value::Null)).collect();
        parse(Value::Object(all)).unwrap();
    }

    /// Structured-random profile outputs: every known key with values of every JSON shape, numbers at and beyond
    /// the limits of the fields' types, and arbitrary text.
    mod no_panic {
        use super::*;
        use proptest::prelude::*;

        /// Cases per property (bounded so that `cargo test` stays fast).
        const CASES: u32 = 1024;

        const KEYS: &[&str] = &[
            "role_arn",
            "region",
            "workers",
            "worker_type",
            "session_provisioning_timeout_in_seconds",
            "location",
            "root_location",
            "idle_timeout",
            "query_timeout_in_minutes",
            "glue_version",
            "session_type",
            "security_configuration",
            "connections",
            "conf",
            "extra_py_files",
            "extra_jars",
            "delta_athena_prefix",
            "tags",
            "default_arguments",
            "datalake_formats",
            "iceberg_glue_commit_lock_table",
            "custom_iceberg_catalog_namespace",
            "use_interactive_session_role_for_api_calls",
            "glue_session_id",
            "glue_session_reuse",
            "enable_session_per_model",
            "lakeformation_database_grants",
            "statement_poll_interval",
            "boto_retry_mode",
            "boto_retry_max_attempts",
            "catalog_id",
            "host",
            "token",
            "catalog",
            "method",
            "schema",
        ];

        const TEXTS: &[&str] = &[
            "",
            " ",
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "1e300",
            "-1e300",
            "1e-300",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "4294967295",
            "4294967296",
            "18446744073709551616",
            "5.1",
            "5.",
            ".1",
            "4294967296.0",
            "true",
            "False",
            "G.1X",
            "G.",
            "a=b",
            "=",
            "a=b,c",
            "--conf",
            "spark.a=1 --conf",
            "delta,iceberg",
            ",,",
            "s3://b/p",
            "arn:aws:iam::1:role/r",
            "sc://h:1/;token=t",
            "sc://",
            "sc://[::1",
            "spark_connect",
            "livy",
            "glue",
            "123456789012",
            "a.b",
            "é\u{0}\u{7f}",
        ];

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                prop::sample::select(TEXTS).prop_map(Value::from),
                "\\PC{0,24}".prop_map(Value::from),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(2, 8, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        pub(super) fn output() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::vec((prop::sample::select(KEYS), value()), 0..12)
                .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]

            #[test]
            fn glue_profiles_are_read_or_refused(out in output(), overrides in output()) {
                if let Ok((p, _)) = GlueProfile::from_output(&out) {
                    let _ = p.with_overrides(&overrides.into_iter().collect());
                }
            }

            #[test]
            fn spark_connect_profiles_are_read_or_refused(mut out in output(), host in prop::sample::select(TEXTS)) {
                out.entry("host").or_insert_with(|| Value::from(format!("sc://{host}")));
                let _ = SparkConnectProfile::from_output(&out).map(|p| format!("{p:?}"));
            }
        }
    }
}

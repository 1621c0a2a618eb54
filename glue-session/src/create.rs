//! Session ids and the CreateSession request (spec `sessions.md` §4, §6).

use std::collections::BTreeMap;

use aws_sdk_glue::types::{ConnectionsList, SessionCommand};

use crate::profile::{DatalakeFormat, GlueProfile, SessionType};

/// The session id, by the reference's rules: base `glue_session_id` or `dbt-glue`; with a suffix (per-model session
/// or `meta.group_session_id`) `<base>__<suffix with '.' as '_'>`; without one, and unless sessions are reused,
/// `<base>__<role name>__<uuid>` (a fresh session per run and thread), the role name being the role ARN's part after
/// its first `/`, at most 150 characters.
pub fn session_id(profile: &GlueProfile, suffix: Option<&str>) -> String {
    let base = profile.glue_session_id.clone().unwrap_or_else(|| "dbt-glue".into());
    if let Some(suffix) = suffix {
        return format!("{base}__{}", suffix.replace('.', "_"));
    }
    if profile.enable_session_per_model || !profile.glue_session_reuse {
        let arn = profile.role_arn.as_deref().unwrap_or("");
        let role: String = arn
            .split_once('/')
            .map_or(arn, |(_, name)| name)
            .chars()
            .take(150)
            .collect();
        return format!("{base}__{role}__{}", uuid::Uuid::new_v4());
    }
    base
}

/// A CreateSession request, built from the profile.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateSessionSpec {
    /// Session id.
    pub id: String,
    /// Role ARN.
    pub role: String,
    /// DefaultArguments, in the order they are applied.
    pub default_arguments: Vec<(String, String)>,
    /// The profile it came from.
    pub profile: GlueProfile,
}

impl CreateSessionSpec {
    /// The request for session `id`. DefaultArguments follow the reference: `--enable-glue-datacatalog=true`, then
    /// `default_arguments`, `--extra-jars`, `--conf`, `--extra-py-files`, `--datalake-formats`, a later key replacing
    /// the value of an earlier one in its place. glue-rs adds no session-wide Spark settings of its own: the
    /// statements that need one set it for themselves ([`glue_materialize::StatementSetting`]).
    pub fn new(profile: &GlueProfile, id: String) -> Self {
        let mut args: Vec<(String, String)> = vec![("--enable-glue-datacatalog".into(), "true".into())];
        let mut set = |key: &str, value: String| match args.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => args.push((key.to_string(), value)),
        };
        for (k, v) in &profile.default_arguments {
            set(k, v.clone());
        }
        if let Some(jars) = &profile.extra_jars {
            set("--extra-jars", jars.clone());
        }
        if !profile.conf.is_empty() {
            let conf = profile
                .conf
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" --conf ");
            set("--conf", conf);
        }
        if let Some(files) = &profile.extra_py_files {
            set("--extra-py-files", files.clone());
        }
        if !profile.datalake_formats.is_empty() {
            let formats = profile
                .datalake_formats
                .iter()
                .map(|f| match f {
                    DatalakeFormat::Delta => "delta",
                    DatalakeFormat::Iceberg => "iceberg",
                    DatalakeFormat::Hudi => "hudi",
                })
                .collect::<Vec<_>>()
                .join(",");
            set("--datalake-formats", formats);
        }
        CreateSessionSpec {
            id,
            role: profile.role_arn.clone().unwrap_or_default(),
            default_arguments: args,
            profile: profile.clone(),
        }
    }

    /// The `aws-sdk-glue` request, ready to send.
    pub fn request(
        &self,
        client: &aws_sdk_glue::Client,
    ) -> aws_sdk_glue::operation::create_session::builders::CreateSessionFluentBuilder {
        let p = &self.profile;
        let command = SessionCommand::builder().name("glueetl").python_version("3").build();
        let arguments: BTreeMap<String, String> = self.default_arguments.iter().cloned().collect();
        let mut request = client
            .create_session()
            .id(&self.id)
            .role(&self.role)
            .command(command)
            .set_default_arguments(Some(arguments.into_iter().collect()))
            .glue_version(p.glue_version.to_string())
            .idle_timeout(p.idle_timeout_minutes as i32)
            .timeout(p.query_timeout_minutes as i32)
            .request_origin("glue-rs");
        if p.session_type == SessionType::SparkConnect {
            request = request.session_type(aws_sdk_glue::types::SessionType::SparkConnect);
        }
        if let Some(n) = p.workers {
            request = request.number_of_workers(n as i32);
        }
        if let Some(w) = &p.worker_type {
            request = request.worker_type(aws_sdk_glue::types::WorkerType::from(w.as_str()));
        }
        if let Some(s) = &p.security_configuration {
            request = request.security_configuration(s);
        }
        if !p.connections.is_empty() {
            request = request.connections(
                ConnectionsList::builder()
                    .set_connections(Some(p.connections.clone()))
                    .build(),
            );
        }
        for (k, v) in &p.tags {
            request = request.tags(k, v);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(v: serde_json::Value) -> GlueProfile {
        GlueProfile::from_output(v.as_object().unwrap()).unwrap().0
    }

    #[test]
    fn session_ids_follow_the_reference() {
        let role = "arn:aws:iam::123456789012:role/service-role/GlueRole";
        let fresh = session_id(&profile(json!({"role_arn": role})), None);
        assert!(fresh.starts_with("dbt-glue__service-role/GlueRole__"), "{fresh}");
        assert_ne!(
            fresh,
            session_id(&profile(json!({"role_arn": role})), None),
            "a fresh id per run"
        );
        assert_eq!(
            session_id(&profile(json!({"glue_session_reuse": true})), None),
            "dbt-glue"
        );
        let reused = profile(json!({"glue_session_reuse": true, "glue_session_id": "team-a"}));
        assert_eq!(session_id(&reused, None), "team-a");
        assert_eq!(
            session_id(&reused, Some("model.shop.orders")),
            "team-a__model_shop_orders"
        );
    }

    #[test]
    fn default_arguments_in_the_references_order_with_no_session_wide_settings_of_glue_rs() {
        let p = profile(json!({
            "default_arguments": "--enable-metrics=true,--conf=overridden",
            "extra_jars": "s3://jars/a.jar", "conf": "spark.a=1", "extra_py_files": "s3://py/b.zip",
            "datalake_formats": "iceberg",
        }));
        let spec = CreateSessionSpec::new(&p, "id".into());
        let keys: Vec<&str> = spec.default_arguments.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "--enable-glue-datacatalog",
                "--enable-metrics",
                "--conf",
                "--extra-jars",
                "--extra-py-files",
                "--datalake-formats"
            ]
        );
        // Only the user's settings: dynamic partition overwrite and non-empty CTAS locations are set by the
        // statements that need them, for themselves.
        assert_eq!(spec.default_arguments[2].1, "spark.a=1");
        let user_mode = profile(json!({"conf": "spark.sql.sources.partitionOverwriteMode=static"}));
        let spec = CreateSessionSpec::new(&user_mode, "id".into());
        assert_eq!(
            spec.default_arguments[1].1, "spark.sql.sources.partitionOverwriteMode=static",
            "the user's choice stands for the user's own statements"
        );
        let none = CreateSessionSpec::new(&profile(json!({})), "id".into());
        assert!(
            none.default_arguments.iter().all(|(k, _)| k != "--conf"),
            "{:?}",
            none.default_arguments
        );
    }
}

//! dbt's `grants` config (`{privilege: grantee | [grantees]}`): no engine glue-rs runs on can honour it (Spark SQL has
//! no GRANT statement; the embedded engine has no principals), so a model that sets it plans with one warning naming
//! the key and the model; a malformed value is a config error naming the field.

use glue_materialize::{Existing, Model, ModelConfig, PlanFlags, Target, plan};
use serde_json::json;

fn warnings_of(config: serde_json::Value) -> Vec<String> {
    let cfg = ModelConfig::from_json(&config).unwrap();
    let model = Model::new("orders", "sales", "select 1 as id", cfg);
    let target = Target::new("sales", Some("s3://lake".into()));
    plan(&model, &Existing::Absent, &target, &PlanFlags::default())
        .unwrap()
        .warnings
}

#[test]
fn grants_warn_once_naming_the_key_and_the_model() {
    for materialized in ["table", "view", "incremental"] {
        let w = warnings_of(
            json!({"materialized": materialized, "grants": {"select": ["analyst", "bi"], "insert": "etl"}}),
        );
        let about: Vec<&String> = w.iter().filter(|w| w.contains("`grants`")).collect();
        assert_eq!(about.len(), 1, "{materialized}: {w:?}");
        assert!(
            about[0].contains("`orders`") && about[0].contains("lf_grants"),
            "{}",
            about[0]
        );
    }
    // None set, or an empty mapping (dbt's way to unset project grants): no warning.
    for config in [
        json!({"materialized": "table"}),
        json!({"materialized": "table", "grants": {}}),
    ] {
        let w = warnings_of(config);
        assert!(!w.iter().any(|w| w.contains("grants")), "{w:?}");
    }
}

#[test]
fn malformed_grants_name_the_field() {
    for (config, field) in [
        (json!({"grants": ["select"]}), "grants"),
        (json!({"grants": {"select": 3}}), "grants.select"),
        (json!({"grants": {"select": [1]}}), "grants.select"),
    ] {
        let e = ModelConfig::from_json(&config).unwrap_err();
        assert_eq!(e.field, field, "{config}");
    }
}

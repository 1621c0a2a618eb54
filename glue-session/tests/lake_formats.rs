//! Lakehouse formats a Glue target loads any documented way (the reference page: `datalake_formats` on Glue 4+, a Glue
//! connection to a marketplace connector on Glue 3, or the libraries and Spark settings of `extra_jars` / `conf`): the
//! remote engines accept a model of that format, and refuse one no key loads with the exact profile line to add.

use glue_materialize::{Engine, Existing, FileFormat, Model, ModelConfig, PlanFlags, Target, plan};
use glue_session::{ConnectEngine, ConnectTarget, GlueProfile, LivyEngine};

fn profile(output: serde_json::Value) -> GlueProfile {
    GlueProfile::from_output(output.as_object().unwrap()).unwrap().0
}

fn livy(output: serde_json::Value) -> LivyEngine {
    LivyEngine::new(profile(output), 1, String::new())
}

fn table_plan(format: &str) -> glue_materialize::Plan {
    let cfg = ModelConfig::from_json(&serde_json::json!({"materialized": "table", "file_format": format})).unwrap();
    let m = Model::new("m", "s", "select 1 as id", cfg);
    let mut target = Target::new("s", Some("s3://b/w".into()));
    target.datalake_formats = FileFormat::ALL.iter().copied().filter(|f| f.is_lakehouse()).collect();
    plan(&m, &Existing::Absent, &target, &PlanFlags::default()).unwrap()
}

fn formats(e: &dyn Engine) -> Vec<FileFormat> {
    e.capabilities()
        .formats
        .into_iter()
        .filter(|f| f.is_lakehouse())
        .collect()
}

#[test]
fn datalake_formats_enable_their_formats_as_before() {
    let e = livy(serde_json::json!({"datalake_formats": "iceberg,hudi"}));
    assert_eq!(formats(&e), vec![FileFormat::Iceberg, FileFormat::Hudi]);
    assert!(e.capabilities().check(&table_plan("iceberg")).is_ok());
}

#[test]
fn a_glue_3_connector_named_in_connections_enables_its_format() {
    let e = livy(serde_json::json!({"glue_version": "3.0", "connections": "Iceberg Connector for Glue 3.0"}));
    assert_eq!(formats(&e), vec![FileFormat::Iceberg]);
    assert!(e.capabilities().check(&table_plan("iceberg")).is_ok());
    let e =
        livy(serde_json::json!({"glue_version": "3.0", "connections": "vpc,Delta Lake Connector,my_hudi_connector"}));
    assert_eq!(formats(&e), vec![FileFormat::Delta, FileFormat::Hudi]);
    // A connection that names no format enables none.
    let e = livy(serde_json::json!({"connections": "my_vpc"}));
    assert!(formats(&e).is_empty());
}

#[test]
fn a_jar_of_extra_jars_naming_the_format_enables_it() {
    let e = livy(serde_json::json!({
        "extra_jars": "s3://jars/delta-core_2.12-1.0.0.jar,s3://jars/iceberg-spark-runtime-3.3_2.12-1.2.1.jar"
    }));
    assert_eq!(formats(&e), vec![FileFormat::Delta, FileFormat::Iceberg]);
    let e = livy(serde_json::json!({"extra_jars": "s3://jars/hudi-spark3.3-bundle_2.12-0.12.1.jar"}));
    assert_eq!(formats(&e), vec![FileFormat::Hudi]);
    let e = livy(serde_json::json!({"extra_jars": "s3://jars/postgresql-42.jar"}));
    assert!(formats(&e).is_empty());
}

#[test]
fn spark_settings_only_a_format_answers_enable_it() {
    for (conf, want) in [
        (
            "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            FileFormat::Iceberg,
        ),
        (
            "spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog",
            FileFormat::Iceberg,
        ),
        (
            "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension --conf \
             spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
            FileFormat::Delta,
        ),
        (
            "spark.serializer=org.apache.spark.serializer.KryoSerializer --conf \
             spark.sql.extensions=org.apache.spark.sql.hudi.HoodieSparkSessionExtension",
            FileFormat::Hudi,
        ),
    ] {
        let e = livy(serde_json::json!({"conf": conf}));
        assert_eq!(formats(&e), vec![want], "{conf}");
    }
    // Settings that name no format's classes enable none (a lock table name is not Iceberg's libraries).
    let e = livy(serde_json::json!({"conf": "spark.sql.catalog.glue_catalog.lock.table=iceberg_locks"}));
    assert!(formats(&e).is_empty());
}

#[test]
fn spark_connect_sessions_on_glue_take_the_same_keys_but_never_write_hudi() {
    let p = profile(serde_json::json!({
        "glue_version": "5.1", "session_type": "spark_connect",
        "conf": "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "connections": "my hudi connector"
    }));
    let e = ConnectEngine::new(ConnectTarget::Glue(p), String::new());
    assert_eq!(formats(&e), vec![FileFormat::Iceberg]);
    let refusal = e.capabilities().check(&table_plan("hudi")).unwrap_err().to_string();
    assert!(refusal.contains("Spark Connect"), "{refusal}");
}

#[test]
fn the_refusal_names_datalake_formats_and_the_line_to_add() {
    let e = livy(serde_json::json!({}));
    let refusal = e.capabilities().check(&table_plan("delta")).unwrap_err().to_string();
    assert!(refusal.contains("file_format `delta`"), "{refusal}");
    assert!(refusal.contains("`datalake_formats: delta`"), "{refusal}");
    assert!(refusal.contains("connections"), "the other ways are named: {refusal}");
    // With formats already listed, the line to write keeps them.
    let e = livy(serde_json::json!({"datalake_formats": "iceberg"}));
    let refusal = e.capabilities().check(&table_plan("delta")).unwrap_err().to_string();
    assert!(refusal.contains("`datalake_formats: iceberg,delta`"), "{refusal}");
}

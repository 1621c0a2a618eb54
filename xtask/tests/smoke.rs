//! Smoke tests of the test world through the clients glue-rs uses: aws-sdk-glue / aws-sdk-s3 against the Glue
//! simulator, and apache-spark-connect against real Spark and Sail.
//!
//! Run by `cargo xtask it` (feature `it`), which starts the world and passes its endpoints in `GLUE_SIM_ENDPOINT`,
//! `GLUE_RS_SPARK_CONNECT` and `GLUE_RS_SAIL`, and AWS credentials for the simulator through the SDK's environment
//! provider. A missing endpoint fails the test: nothing here skips.

use std::time::{Duration, Instant};

use arrow_array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use aws_sdk_glue::types::{SessionCommand, SessionStatus, StatementState};

fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run these tests through `cargo xtask it`"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{:x}", nanos % 0xffff_ffff)
}

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint("GLUE_SIM_ENDPOINT"))
        .load()
        .await
}

async fn wait_session(glue: &aws_sdk_glue::Client, id: &str, wanted: SessionStatus) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let session = glue.get_session().id(id).send().await.expect("GetSession");
        let status = session.session().and_then(|s| s.status()).cloned();
        if status.as_ref() == Some(&wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session {id} is {status:?}, waited for {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_statement(glue: &aws_sdk_glue::Client, session: &str, code: &str) -> String {
    let id = glue
        .run_statement()
        .session_id(session)
        .code(code)
        .send()
        .await
        .expect("RunStatement")
        .id();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let got = glue
            .get_statement()
            .session_id(session)
            .id(id)
            .send()
            .await
            .expect("GetStatement");
        let statement = got.statement().expect("a statement");
        match statement.state() {
            Some(StatementState::Available) => {
                let output = statement.output().expect("output");
                assert_eq!(
                    output.status().map(|s| s.as_str()),
                    Some("ok"),
                    "statement failed: {output:?}"
                );
                return output
                    .data()
                    .and_then(|d| d.text_plain())
                    .unwrap_or_default()
                    .to_string();
            }
            Some(StatementState::Error | StatementState::Cancelled) => panic!("statement ended {statement:?}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "statement {id} did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn glue_session_writes_a_partitioned_parquet_table_on_s3() {
    let config = sdk_config().await;
    let glue = aws_sdk_glue::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = "smoke-lake";
    let _ = s3.create_bucket().bucket(bucket).send().await;
    s3.head_bucket().bucket(bucket).send().await.expect("the bucket exists");

    let session = unique("smoke").replace('_', "-");
    let command = SessionCommand::builder().name("glueetl").python_version("3").build();
    glue.create_session()
        .id(&session)
        .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
        .command(command)
        .glue_version("5.0")
        .worker_type(aws_sdk_glue::types::WorkerType::G1X)
        .number_of_workers(2)
        .send()
        .await
        .expect("CreateSession");
    wait_session(&glue, &session, SessionStatus::Ready).await;

    let db = unique("smoke_db");
    let code = format!(
        "import json\n\
         spark.sql(\"create database {db} location 's3://{bucket}/{db}'\")\n\
         spark.sql(\"create table {db}.events (id bigint, name string, day string) using parquet \
         partitioned by (day) location 's3://{bucket}/{db}/events'\")\n\
         spark.sql(\"insert into {db}.events values (1, 'a', '2024-01-01'), (2, 'b', '2024-01-02'), (3, 'c', '2024-01-02')\")\n\
         rows = spark.sql('select id, name, day from {db}.events order by id').collect()\n\
         print(json.dumps([r.asDict() for r in rows]))"
    );
    let out = run_statement(&glue, &session, &code).await;
    let rows: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON rows");
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{out}");
    assert_eq!(rows[2]["name"], "c");
    assert_eq!(rows[2]["day"], "2024-01-02");

    let tables = glue.get_tables().database_name(&db).send().await.expect("GetTables");
    let table = tables
        .table_list()
        .iter()
        .find(|t| t.name() == "events")
        .expect("events in GetTables");
    let sd = table.storage_descriptor().expect("storage descriptor");
    let columns: Vec<&str> = sd.columns().iter().map(|c| c.name()).collect();
    assert_eq!(columns, ["id", "name"]);
    let keys: Vec<&str> = table.partition_keys().iter().map(|c| c.name()).collect();
    assert_eq!(keys, ["day"]);
    assert_eq!(sd.location(), Some(format!("s3://{bucket}/{db}/events").as_str()));

    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{db}/events/"))
        .send()
        .await
        .expect("List");
    let parquet: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.ends_with(".parquet"))
        .map(str::to_string)
        .collect();
    assert!(parquet.iter().any(|k| k.contains("/day=2024-01-01/")), "{parquet:?}");
    assert!(parquet.iter().any(|k| k.contains("/day=2024-01-02/")), "{parquet:?}");
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(&parquet[0])
        .send()
        .await
        .expect("GetObject");
    let bytes = object.body.collect().await.expect("body").into_bytes();
    assert!(
        bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
        "a parquet file through the S3 API"
    );

    glue.stop_session().id(&session).send().await.expect("StopSession");
    wait_session(&glue, &session, SessionStatus::Stopped).await;
    glue.delete_session().id(&session).send().await.expect("DeleteSession");
    let gone = glue.get_session().id(&session).send().await.expect_err("deleted");
    assert!(gone.into_service_error().is_entity_not_found_exception());
}

fn spark(var: &str) -> spark_connect::SparkSession {
    spark_connect::SparkSession::builder()
        .remote(&endpoint(var))
        .get_or_create()
        .unwrap_or_else(|e| panic!("connecting to {var}: {e}"))
}

fn batches(session: &spark_connect::SparkSession, sql: &str) -> Vec<RecordBatch> {
    session
        .sql(sql)
        .and_then(|df| df.collect_record_batches())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The rows of `(id, v)` results, whatever integer width the engine chose.
fn id_v_rows(batches: &[RecordBatch]) -> Vec<(i64, String)> {
    let mut out = vec![];
    for batch in batches {
        let ids = batch.column(0);
        let values = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("string column");
        for i in 0..batch.num_rows() {
            let id = match ids.as_any().downcast_ref::<Int32Array>() {
                Some(a) => i64::from(a.value(i)),
                None => ids
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("integer column")
                    .value(i),
            };
            out.push((id, values.value(i).to_string()));
        }
    }
    out
}

#[tokio::test]
async fn spark_connect_real_spark_select_and_parquet_ctas_in_the_one_catalog() {
    let db = unique("spark_smoke");
    let spark_db = db.clone();
    tokio::task::spawn_blocking(move || {
        let session = spark("GLUE_RS_SPARK_CONNECT");
        let one = batches(&session, "select 1 as one");
        let column = one[0].column(0).as_any().downcast_ref::<Int32Array>().expect("int");
        assert_eq!((one[0].schema().field(0).name().as_str(), column.value(0)), ("one", 1));

        batches(
            &session,
            &format!("create database {spark_db} location 's3://glue-sim-warehouse/{spark_db}'"),
        );
        let table = format!("{spark_db}.ctas");
        batches(
            &session,
            &format!("create table {table} using parquet as select id, cast(id * 2 as string) as v from range(3)"),
        );
        let rows = id_v_rows(&batches(&session, &format!("select id, v from {table} order by id")));
        assert_eq!(rows, vec![(0, "0".into()), (1, "2".into()), (2, "4".into())]);
    })
    .await
    .expect("the Spark Connect client runs off the async threads");

    // What the Spark Connect server created is an entry of the simulator's Glue catalog, its files in its S3.
    let config = sdk_config().await;
    let glue = aws_sdk_glue::Client::new(&config);
    let table = glue
        .get_table()
        .database_name(&db)
        .name("ctas")
        .send()
        .await
        .expect("GetTable");
    let location = table
        .table()
        .and_then(|t| t.storage_descriptor())
        .and_then(|sd| sd.location())
        .unwrap_or_default();
    assert_eq!(location, format!("s3://glue-sim-warehouse/{db}/ctas"));
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let listed = s3
        .list_objects_v2()
        .bucket("glue-sim-warehouse")
        .prefix(format!("{db}/ctas/"))
        .send()
        .await;
    let keys: Vec<String> = listed
        .expect("List")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(keys.iter().any(|k| k.ends_with(".parquet")), "{keys:?}");
}

fn merge_roundtrip(session: &spark_connect::SparkSession, format: &str, db: &str) {
    let table = format!("{db}.{format}_merge");
    batches(
        session,
        &format!(
            "create table {table} (id int, v string) using {format} location 's3://sail-warehouse/{db}/{format}_merge'"
        ),
    );
    batches(session, &format!("insert into {table} values (1, 'old'), (2, 'keep')"));
    batches(
        session,
        &format!(
            "merge into {table} t using (select 1 as id, 'new' as v union all select 3, 'added') s on t.id = s.id \
             when matched then update set v = s.v when not matched then insert (id, v) values (s.id, s.v)"
        ),
    );
    let rows = id_v_rows(&batches(session, &format!("select id, v from {table} order by id")));
    assert_eq!(
        rows,
        vec![(1, "new".into()), (2, "keep".into()), (3, "added".into())],
        "{format}"
    );
}

#[tokio::test]
async fn sail_merges_delta_and_iceberg_tables_of_the_simulators_glue_catalog() {
    let db = unique("sail_smoke");
    let formats = ["delta", "iceberg"];
    let db_for_spark = db.clone();
    tokio::task::spawn_blocking(move || {
        let session = spark("GLUE_RS_SAIL");
        let one = batches(&session, "select 1 as one");
        assert_eq!(one.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
        batches(&session, &format!("create database {db_for_spark}"));
        for format in formats {
            merge_roundtrip(&session, format, &db_for_spark);
        }
    })
    .await
    .expect("the Spark Connect client runs off the async threads");

    // The tables are entries of the simulator's Glue catalog.
    let glue = aws_sdk_glue::Client::new(&sdk_config().await);
    for format in formats {
        let name = format!("{format}_merge");
        let table = glue
            .get_table()
            .database_name(&db)
            .name(&name)
            .send()
            .await
            .expect("GetTable");
        let table = table.table().expect("table");
        let location = table
            .storage_descriptor()
            .and_then(|sd| sd.location())
            .unwrap_or_default();
        assert!(location.contains(&format!("{db}/{name}")), "{format}: {location}");
        // The parameters by which glue-rs (and the reference) tell the format from the Glue entry.
        let parameters = table.parameters().cloned().unwrap_or_default();
        let marker = match format {
            "delta" => parameters.get("spark.sql.sources.provider").map(String::as_str) == Some("delta"),
            _ => parameters
                .get("table_type")
                .is_some_and(|t| t.eq_ignore_ascii_case("iceberg")),
        };
        assert!(marker, "{format}: {parameters:?}");
    }
}

/// POST to the simulator's admin endpoint (no HTTP client crate for one call).
fn sim_admin(path: &str, body: &str) {
    use std::io::{Read, Write};
    let endpoint = endpoint("GLUE_SIM_ENDPOINT");
    let authority = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).expect("simulator");
    let request = format!(
        "POST /_sim/{path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
}

#[tokio::test]
async fn glue_spark_connect_session_endpoint_admits_only_its_live_token() {
    let glue = aws_sdk_glue::Client::new(&sdk_config().await);
    let session = unique("sc-smoke").replace('_', "-");
    let command = SessionCommand::builder().name("glueetl").build();
    glue.create_session()
        .id(&session)
        .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
        .command(command)
        .glue_version("5.1")
        .session_type(aws_sdk_glue::types::SessionType::SparkConnect)
        .send()
        .await
        .expect("CreateSession");
    wait_session(&glue, &session, SessionStatus::Ready).await;

    let endpoint = |glue: aws_sdk_glue::Client, session: String| async move {
        let got = glue
            .get_session_endpoint()
            .session_id(&session)
            .send()
            .await
            .expect("GetSessionEndpoint");
        let sc = got.spark_connect().expect("a Spark Connect endpoint").clone();
        let url = sc.url().to_string();
        let token = sc.auth_token().to_string();
        assert!(url.starts_with("sc://"), "{url}");
        assert!(sc.auth_token_expiration_time().secs() > 0);
        (url, token)
    };
    let (url, token) = endpoint(glue.clone(), session.clone()).await;
    let (u, t) = (url.clone(), token.clone());
    tokio::task::spawn_blocking(move || {
        let spark = spark_connect::SparkSession::builder()
            .remote(&format!("{u}/;token={t}"))
            .get_or_create()
            .expect("connect with the session's token");
        let one = batches(&spark, "select 1 as one");
        assert_eq!(
            one[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .expect("int")
                .value(0),
            1
        );
        let refused = spark_connect::SparkSession::builder()
            .remote(&format!("{u}/;token=not-the-token"))
            .get_or_create()
            .and_then(|s| s.sql("select 1")?.collect_record_batches());
        let err = refused.expect_err("an unknown token is refused").to_string();
        assert!(
            err.contains("unknown token") || err.to_lowercase().contains("unauthenticated"),
            "{err}"
        );
    })
    .await
    .expect("blocking client");

    // A token that has expired is refused; a fresh one from GetSessionEndpoint works.
    sim_admin("config", r#"{"token_ttl_s": 1.0}"#);
    let (url, short) = endpoint(glue.clone(), session.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sim_admin("config", r#"{"token_ttl_s": 3600.0}"#);
    let (_, fresh) = endpoint(glue.clone(), session.clone()).await;
    let u = url.clone();
    tokio::task::spawn_blocking(move || {
        let expired = spark_connect::SparkSession::builder()
            .remote(&format!("{u}/;token={short}"))
            .get_or_create()
            .and_then(|s| s.sql("select 1")?.collect_record_batches());
        let err = expired.expect_err("an expired token is refused").to_string();
        assert!(err.contains("expired"), "{err}");
        let spark = spark_connect::SparkSession::builder()
            .remote(&format!("{u}/;token={fresh}"))
            .get_or_create()
            .expect("a fresh token");
        assert_eq!(batches(&spark, "select 2 as two")[0].num_rows(), 1);
    })
    .await
    .expect("blocking client");

    // A stopped session's endpoint admits nothing.
    glue.stop_session().id(&session).send().await.expect("StopSession");
    let (u, t) = (url.clone(), token.clone());
    tokio::task::spawn_blocking(move || {
        let after = spark_connect::SparkSession::builder()
            .remote(&format!("{u}/;token={t}"))
            .get_or_create()
            .and_then(|s| s.sql("select 1")?.collect_record_batches());
        let err = after.expect_err("a stopped session refuses").to_string();
        assert!(err.contains("not READY"), "{err}");
    })
    .await
    .expect("blocking client");
    glue.delete_session().id(&session).send().await.expect("DeleteSession");
}

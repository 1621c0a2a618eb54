//! The Jinja context and the commands beyond `build`, on a project that uses them all
//! (`tests/fixtures/jinja_features`) and on small projects made here.

mod common;

use std::process::Command;

use common::{copy_dir, glue, project, rows, write};
use serde_json::json;

fn features() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jinja_features");
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jinja_features"),
        &dir,
    );
    (tmp, dir)
}

#[test]
fn jinja_context_end_to_end() {
    let (_tmp, dir) = features();
    let out = glue(&dir, &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("starting dev"), "on-run-start log: {}", out.stdout);
    assert!(
        out.stdout.contains("pre-hook for jf.incremental_people"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("WARN 1 accepted_values_people_view_id__False__1"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("PASS no_blue"), "{}", out.stdout);

    let mut v = rows(&dir, "select * from {{ ref('people_view') }}");
    v.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(v.len(), 2);
    assert_eq!(
        v[0],
        json!({"id": 1, "loud_name": "ANN", "color": "red", "from_yaml": 1, "from_json": "v", "regexed": "j_nj_",
            "threshold": 2, "defaulted": "dflt", "from_env": "env_default"})
    );
    // generate_schema_name overridden by the project: the custom schema has no target prefix.
    let c = rows(&dir, "select * from custom.people_counted");
    assert_eq!(
        c,
        vec![json!({"people_rows": 3, "people_columns": "id|name|color", "ephemeral_rows": 2, "seed_nodes": 1})]
    );

    // is_incremental(): a new seed row arrives and only it is appended, flagged as incremental.
    write(
        &dir,
        "seeds/people.csv",
        "id,name,color\n1,Ann,red\n2,Bob,green\n3,Cid,blue\n4,Dee,red\n",
    );
    let out = glue(&dir, &["build", "-s", "people", "incremental_people"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut inc = rows(&dir, "select id, was_incremental from {{ ref('incremental_people') }}");
    inc.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        inc,
        vec![
            json!({"id": 1, "was_incremental": false}),
            json!({"id": 2, "was_incremental": false}),
            json!({"id": 3, "was_incremental": false}),
            json!({"id": 4, "was_incremental": true})
        ]
    );

    // compile prints one node's SQL; plan prints the Spark SQL without running.
    let out = glue(&dir, &["compile", "-s", "people_view", "-q"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let compiled = std::fs::read_to_string(dir.join("target/compiled/jinja_features/models/people_view.sql")).unwrap();
    assert!(compiled.contains("upper(name) as loud_name"), "{compiled}");
    assert!(compiled.contains("where color in ('red', 'green')"), "{compiled}");
    assert!(compiled.contains("from jf.people"), "{compiled}");
    let out = glue(&dir, &["plan", "-s", "people_counted", "--full-refresh"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("`custom`.`people_counted`"), "{}", out.stdout);

    // run-operation, selectors.yml, JSON logs.
    let out = glue(&dir, &["run-operation", "grant_nothing"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(r#"run-operation called with {"ok": true}"#),
        "{}",
        out.stdout
    );
    let out = glue(&dir, &["ls", "--selector", "only_custom", "--output", "name", "-q"]);
    assert_eq!(out.stdout.trim(), "people_counted", "{}", out.all());
    let out = glue(&dir, &["run", "-s", "people_view", "--log-format", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let events: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        events
            .iter()
            .any(|e| e["info"]["name"] == "NodeFinished" && e["data"]["status"] == "success")
    );

    // debug and clean.
    let out = glue(&dir, &["debug"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("All checks passed"), "{}", out.stdout);
    assert!(dir.join("target").exists());
    let out = glue(&dir, &["clean"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!dir.join("target").exists());
}

#[test]
fn retry_runs_only_what_failed() {
    let p = project(&[
        ("models/good.sql", "select 1 as id"),
        ("models/bad.sql", "select no_such_column"),
        ("models/child.sql", "select * from {{ ref('bad') }}"),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 1);
    write(p.path(), "models/bad.sql", "select 2 as id");
    let out = glue(p.path(), &["retry"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("PASS=2 WARN=0 ERROR=0 SKIP=0 TOTAL=2"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s.good"), "{}", out.stdout);
    let out = glue(p.path(), &["retry"]);
    assert!(out.stdout.contains("Nothing to retry"), "{}", out.stdout);
}

#[test]
fn deps_installs_a_git_package() {
    let pkg = tempfile::tempdir().unwrap();
    write(pkg.path(), "dbt_project.yml", "name: gitpkg\nversion: '1.0.0'\n");
    write(pkg.path(), "macros/m.sql", "{% macro forty_two() %}42{% endmacro %}");
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(pkg.path()).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@t", "-c", "user.name=t", "add", "."]);
    git(&["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"]);
    git(&["tag", "v1"]);
    let p = project(&[
        (
            "models/m.sql",
            "{{ config(materialized='table') }} select {{ gitpkg.forty_two() }} as answer",
        ),
        (
            "packages.yml",
            &format!(
                "packages:\n  - git: \"file://{}\"\n    revision: v1\n",
                pkg.path().display()
            ),
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 2, "no package installed yet: {}", out.all());
    let out = glue(p.path(), &["deps"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(p.path().join("dbt_packages/gitpkg/macros/m.sql").exists());
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(rows(p.path(), "select answer from s.m"), vec![json!({"answer": 42})]);
}

#[test]
fn init_creates_a_project_that_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_glue"))
        .args(["init", "fresh"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = glue(&tmp.path().join("fresh"), &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("PASS=3 WARN=0 ERROR=0 SKIP=0 TOTAL=3"),
        "{}",
        out.stdout
    );
}

#[test]
fn unit_tests_with_csv_fixtures_and_a_failing_expectation() {
    let p = project(&[
        ("seeds/items.csv", "id,price\n1,10\n2,20\n"),
        (
            "models/doubled.sql",
            "select id, price * 2 as price2 from {{ ref('items') }}",
        ),
        ("tests/fixtures/items_fixture.csv", "id,price\n7,5\n8,\n"),
        (
            "models/unit.yml",
            "unit_tests:\n  - name: doubles_inline\n    model: doubled\n    given:\n      - input: ref('items')\n        format: csv\n        rows: |\n          id,price\n          1,3\n    expect:\n      format: csv\n      rows: |\n        id,price2\n        1,6\n  - name: doubles_from_file\n    model: doubled\n    given:\n      - input: ref('items')\n        format: csv\n        fixture: items_fixture\n    expect:\n      rows:\n        - {id: 7, price2: 10}\n        - {id: 8, price2: null}\n  - name: wrong_on_purpose\n    model: doubled\n    given:\n      - input: ref('items')\n        rows:\n          - {id: 1, price: 1}\n    expect:\n      rows:\n        - {id: 1, price2: 3}\n",
        ),
    ]);
    let out = glue(p.path(), &["seed"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = glue(p.path(), &["test"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("PASS doubles_inline"), "{}", out.stdout);
    assert!(out.stdout.contains("PASS doubles_from_file"), "{}", out.stdout);
    assert!(out.stdout.contains("FAIL 0 wrong_on_purpose"), "{}", out.stdout);
    assert!(out.stdout.contains("- expected, missing x1: 1 | 3"), "{}", out.stdout);
    assert!(out.stdout.contains("+ actual, unexpected x1: 1 | 2"), "{}", out.stdout);
}

#[test]
fn yaml_defined_snapshot_with_hard_deletes_and_valid_to_current() {
    let p = project(&[
        ("seeds/src.csv", "id,status\n1,a\n2,b\n"),
        (
            "snapshots/snaps.yml",
            "snapshots:\n  - name: src_history\n    relation: ref('src')\n    config:\n      schema: snaps\n      file_format: delta\n      unique_key: id\n      strategy: check\n      check_cols: [status]\n      hard_deletes: invalidate\n      dbt_valid_to_current: \"cast('9999-12-31' as timestamp)\"\n",
        ),
    ]);
    let out = glue(p.path(), &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("OK snapshotted snapshot s_snaps.src_history"),
        "{}",
        out.stdout
    );
    // Row 2 disappears, row 1 changes.
    write(p.path(), "seeds/src.csv", "id,status\n1,c\n");
    let out = glue(p.path(), &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut r = rows(
        p.path(),
        "select id, status, dbt_valid_to as valid_to from s_snaps.src_history",
    );
    r.sort_by_key(|x| (x["id"].as_i64(), x["status"].as_str().map(str::to_string)));
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!((r[0]["id"].clone(), r[0]["status"].clone()), (json!(1), json!("a")));
    assert!(
        !r[0]["valid_to"].is_null() && r[0]["valid_to"] != json!("9999-12-31 00:00:00"),
        "the old version of 1 is closed: {r:?}"
    );
    assert_eq!(
        (r[1]["id"].clone(), r[1]["status"].clone(), r[1]["valid_to"].clone()),
        (json!(1), json!("c"), json!("9999-12-31 00:00:00"))
    );
    assert_eq!((r[2]["id"].clone(), r[2]["status"].clone()), (json!(2), json!("b")));
    assert!(
        !r[2]["valid_to"].is_null() && r[2]["valid_to"] != json!("9999-12-31 00:00:00"),
        "the deleted row is invalidated: {r:?}"
    );
}

const GLUE_PROFILE: &str = "proj:
  target: plain
  outputs:
    plain:
      type: glue
      role_arn: arn:aws:iam::210987654321:role/GlueInteractiveSessionRole
      region: eu-west-1
      schema: s
      location: s3://lake/warehouse/
      boto_retry_max_attempts: 1
      conf: spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog
    locked:
      type: glue
      role_arn: arn:aws:iam::210987654321:role/GlueInteractiveSessionRole
      region: eu-west-1
      schema: s
      location: s3://lake/warehouse/
      iceberg_glue_commit_lock_table: ignored_when_conf_names_one
      boto_retry_max_attempts: 1
      conf: \"spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog --conf spark.sql.catalog.glue_catalog.lock-impl=org.apache.iceberg.aws.dynamodb.DynamoDbLockManager --conf spark.sql.catalog.glue_catalog.lock.table=commit_locks\"
";

#[test]
fn debug_and_iam_policy_name_the_iceberg_commit_protection() {
    let p = project(&[("profiles.yml", GLUE_PROFILE)]);
    let out = glue(p.path(), &["debug"]);
    // No AWS here: the checks before the connection pass, the connection fails in plain words.
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.all().contains("Glue Data Catalog: AWS could not be reached"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("Iceberg commit protection: Glue VersionId"),
        "{}",
        out.stdout
    );
    let out = glue(p.path(), &["debug", "--target", "locked"]);
    assert!(
        out.stdout
            .contains("Iceberg commit protection: DynamoDB lock table `commit_locks`"),
        "{}",
        out.stdout
    );

    let policy = |target: &str| -> serde_json::Value {
        let out = glue(p.path(), &["iam-policy", "--target", target]);
        assert_eq!(out.code, 0, "{}", out.all());
        serde_json::from_str(&out.stdout[out.stdout.find('{').unwrap()..]).unwrap()
    };
    let sids = |v: &serde_json::Value| -> Vec<String> {
        v["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect()
    };
    let plain = policy("plain");
    assert!(
        !sids(&plain).contains(&"IcebergCommitLockTable".to_string()),
        "no lock configured: {plain}"
    );
    let lf = plain["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "LakeFormation")
        .expect("a Lake Formation statement");
    assert!(
        lf["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("lakeformation:AddLFTagsToResource")),
        "{lf}"
    );
    assert_eq!(
        plain["Statement"][1]["Resource"][1],
        json!("arn:aws:glue:eu-west-1:210987654321:database/s")
    );
    let location = plain["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "Location")
        .unwrap();
    assert_eq!(
        location["Resource"],
        json!(["arn:aws:s3:::lake", "arn:aws:s3:::lake/warehouse/*"])
    );
    let locked = policy("locked");
    let lock = locked["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "IcebergCommitLockTable")
        .unwrap();
    assert_eq!(
        lock["Resource"],
        json!("arn:aws:dynamodb:eu-west-1:210987654321:table/commit_locks")
    );
}

#[test]
fn jinja_in_dbt_project_config_values_is_rendered_at_parse_time() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: proj\nprofile: proj\nvars:\n  mat: table\nmodels:\n  proj:\n    \
             +materialized: \"{{ var('mat') }}\"\n    +file_format: \"{{ env_var('PROJ_FORMAT', 'parquet') }}\"\n    \
             +tags: \"{{ ['from_jinja', target.name] }}\"\n    \
             +post-hook: \"{{ log('post ' ~ this.identifier, info=True) }}\"\n    \
             off:\n      +enabled: \"{{ var('enable_off', false) }}\"\n",
        ),
        ("models/m.sql", "select 1 as id"),
        ("models/off/skipped.sql", "select 2 as id"),
    ]);
    let out = glue(p.path(), &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("post m"),
        "the hook rendered when it ran: {}",
        out.stdout
    );
    let listed = glue(p.path(), &["ls"]);
    assert!(
        !listed.stdout.contains("off.skipped"),
        "`+enabled` rendered to false: {}",
        listed.all()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("target/manifest.json")).unwrap()).unwrap();
    let m = &manifest["nodes"]["model.proj.m"]["config"];
    assert_eq!(m["materialized"], json!("table"), "{m}");
    assert_eq!(m["file_format"], json!("parquet"));
    assert_eq!(m["tags"], json!(["from_jinja", "dev"]));
    let out = glue(p.path(), &["ls", "--vars", "{mat: view, enable_off: true}"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("proj.off.skipped"), "{}", out.stdout);
    let bad = project(&[
        (
            "dbt_project.yml",
            "name: proj\nprofile: proj\nmodels:\n  proj:\n    +materialized: \"{{ var('nope') }}\"\n",
        ),
        ("models/m.sql", "select 1 as id"),
    ]);
    let out = glue(bad.path(), &["ls"]);
    assert_ne!(out.code, 0);
    assert!(
        out.all().contains("dbt_project.yml") && out.all().contains("models.proj.+materialized"),
        "names the file and the key: {}",
        out.all()
    );
}

#[test]
fn a_seed_with_its_own_delimiter_is_read_with_it_and_a_bad_one_is_named() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: proj\nprofile: proj\nseeds:\n  proj:\n    +delimiter: \"|\"\n",
        ),
        ("seeds/piped.csv", "id|name|note\n1|a|x, y\n2|b|\n"),
    ]);
    let out = glue(p.path(), &["seed"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        rows(p.path(), "select id, name, note from s.piped order by id"),
        vec![
            json!({"id": 1, "name": "a", "note": "x, y"}),
            json!({"id": 2, "name": "b", "note": null})
        ]
    );
    // dbt refuses an empty delimiter; so does glue, naming the field and the seed.
    write(
        p.path(),
        "dbt_project.yml",
        "name: proj\nprofile: proj\nseeds:\n  proj:\n    +delimiter: \"\"\n",
    );
    let out = glue(p.path(), &["seed"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("delimiter") && out.all().contains("piped"),
        "{}",
        out.all()
    );
}

#[test]
fn refs_and_this_of_iceberg_models_are_named_in_the_iceberg_catalog() {
    // Classic Spark reads an Iceberg table only through its Iceberg catalog (through the Hive catalog: Glue's
    // `InstantiationException`), and the planner writes Iceberg tables there: `ref()` and `this` name them
    // `glue_catalog.<schema>.<table>` as well. dbt-glue users write `glue_catalog.{{ ref(...) }}` themselves: that
    // stays one catalog. Parquet models keep `<schema>.<table>`.
    let p = project(&[
        (
            "models/ice.sql",
            "{{ config(materialized='table', file_format='iceberg') }} select 1 as id",
        ),
        ("models/plain.sql", "{{ config(materialized='table') }} select 2 as id"),
        (
            "models/reader.sql",
            "select id from {{ ref('ice') }} union all select id from glue_catalog.{{ ref('ice') }} \
             union all select id from {{ ref('plain') }}",
        ),
        (
            "models/grows.sql",
            "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='append') }}\n\
             select id + 10 as id from {{ ref('ice') }}\n\
             {% if is_incremental() %} where id + 10 > (select max(id) from {{ this }}){% endif %}",
        ),
    ]);
    let dir = p.path();
    let out = glue(dir, &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = glue(dir, &["build"]);
    assert_eq!(out.code, 0, "second build (incremental): {}", out.all());
    let compiled = |m: &str| std::fs::read_to_string(dir.join(format!("target/compiled/proj/models/{m}.sql"))).unwrap();
    let reader = compiled("reader");
    assert!(
        reader.contains("from glue_catalog.s.ice union all select id from glue_catalog.s.ice union"),
        "{reader}"
    );
    assert!(reader.contains("from s.plain"), "{reader}");
    assert!(!reader.contains("glue_catalog.glue_catalog"), "{reader}");
    let grows = compiled("grows");
    assert!(grows.contains("from glue_catalog.s.grows"), "{grows}");
    let mut v = rows(dir, "select * from {{ ref('reader') }}");
    v.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(v, vec![json!({"id": 1}), json!({"id": 1}), json!({"id": 2})]);
}

#[test]
fn iam_policy_grants_the_partition_switch_and_names_the_cross_account_catalog() {
    // The Hive-partitioned switch updates kept partitions in place (BatchUpdatePartition); a catalog in another
    // account (the `catalogid` conf recipe) is where the catalog statements point, the sessions stay the role's.
    let profile = "proj:
  target: cross
  outputs:
    cross:
      type: glue
      role_arn: arn:aws:iam::210987654321:role/GlueInteractiveSessionRole
      region: eu-west-1
      schema: s
      location: s3://lake/warehouse/
      conf: spark.hadoop.hive.metastore.glue.catalogid=111122223333
";
    let p = project(&[("profiles.yml", profile)]);
    let out = glue(p.path(), &["iam-policy"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let policy: serde_json::Value = serde_json::from_str(&out.stdout[out.stdout.find('{').unwrap()..]).unwrap();
    let statement = |sid: &str| {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid}: {policy}"))
            .clone()
    };
    let catalog = statement("GlueDataCatalog");
    assert!(
        catalog["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("glue:BatchUpdatePartition")),
        "{catalog}"
    );
    assert_eq!(
        catalog["Resource"],
        json!([
            "arn:aws:glue:eu-west-1:111122223333:catalog",
            "arn:aws:glue:eu-west-1:111122223333:database/s",
            "arn:aws:glue:eu-west-1:111122223333:table/s/*"
        ])
    );
    assert_eq!(
        statement("GlueInteractiveSessions")["Resource"],
        json!("arn:aws:glue:eu-west-1:210987654321:session/*")
    );
}

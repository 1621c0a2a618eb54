//! `enable_spark_seed_casting: true` on the simulator's Glue (Livy) sessions gives dbt-glue's seed exactly: a column
//! named in `column_types` is cast by Spark from the CSV's text (so `007` stays `007` as a string, and a timestamp
//! kept as a string keeps the file's spelling), the others keep their inferred types.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use common::sim::{Project, glue_client};
use common::text;

#[tokio::test(flavor = "multi_thread")]
async fn a_cast_seed_is_typed_from_the_csv_text_by_column_types() {
    let p = Project::new(&[], "      enable_spark_seed_casting: true\n", 1);
    std::fs::create_dir_all(p.path().join("seeds")).unwrap();
    std::fs::write(
        p.path().join("seeds/typed.csv"),
        "id,code,amount,at,n\n1,007,2.50,2021-01-02T03:04:05,10\n2,010,3,2021-02-03T04:05:06,20\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("seeds/typed.yml"),
        "version: 2\nseeds:\n  - name: typed\n    config:\n      column_types:\n        id: int\n        code: string\n        \
         amount: decimal(10,2)\n        at: string\n",
    )
    .unwrap();
    let out = p.run(&["seed"]);
    assert!(out.status.success(), "{}", text(&out));

    let table = glue_client()
        .await
        .get_table()
        .database_name(&p.schema)
        .name("typed")
        .send()
        .await
        .expect("GetTable")
        .table
        .expect("the seed's table");
    let types: Vec<(String, String)> = table
        .storage_descriptor()
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string()))
        .collect();
    let want = [
        ("id", "int"),
        ("code", "string"),
        ("amount", "decimal(10,2)"),
        ("at", "string"),
        ("n", "bigint"),
    ];
    assert_eq!(
        types,
        want.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>(),
        "the catalog's column types"
    );

    let sql = format!(
        "select id, code, cast(amount as string) as amount, at, n from {}.typed order by id",
        p.schema
    );
    let shown = p.run(&["show", "--inline", &sql, "--output", "json", "-q"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json rows");
    assert_eq!(
        v["show"],
        serde_json::json!([
            {"id": 1, "code": "007", "amount": "2.50", "at": "2021-01-02T03:04:05", "n": 10},
            {"id": 2, "code": "010", "amount": "3.00", "at": "2021-02-03T04:05:06", "n": 20}
        ]),
        "{v}"
    );
}

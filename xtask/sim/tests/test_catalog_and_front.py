"""The Glue catalog over Spark's metastore (one catalog, one storage) and the front door: paging, VersionId strictness,
unimplemented operations, throttling and latency injection, the request log."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import run, wait_status

ROLE = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole"


@pytest.fixture(scope="module")
def session_id(sim):
    glue = sim.client("glue")
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = f"catalog-{uuid.uuid4().hex[:8]}"
    glue.create_session(Id=sid, Role=ROLE, Command={"Name": "glueetl"}, GlueVersion="5.0")
    wait_status(glue, sid, "READY")
    yield sid
    glue.delete_session(Id=sid)


def ok(stmt):
    assert stmt["State"] == "AVAILABLE" and stmt["Output"]["Status"] == "ok", stmt.get("Output")
    return stmt["Output"]["Data"]["TextPlain"]


def test_spark_tables_are_glue_tables_and_s3_objects(sim, glue, session_id):
    db = f"db_{uuid.uuid4().hex[:8]}"
    s3 = sim.client("s3")
    s3.create_bucket(Bucket="lake")
    ok(run(glue, session_id, f"spark.sql(\"create database {db} location 's3://lake/{db}'\")"))
    ok(run(glue, session_id, f"spark.sql(\"create table {db}.sales (id int, amount double, day string) using parquet "
                             f"partitioned by (day) location 's3://lake/{db}/sales'\")"))  # fmt: skip
    ok(run(glue, session_id, f"spark.sql(\"insert into {db}.sales values (1, 2.5, '2024-01-01'), (2, 4.0, '2024-01-02')\")"))
    table = glue.get_table(DatabaseName=db, Name="sales")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://lake/{db}/sales"
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "amount"]
    assert [c["Name"] for c in table["PartitionKeys"]] == ["day"]
    assert table["Parameters"]["spark.sql.sources.provider"] == "parquet"
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]] == ["sales"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix=f"{db}/sales/")["Contents"]]
    assert any(k.startswith(f"{db}/sales/day=2024-01-01/part-") for k in keys), keys
    parts = glue.get_partitions(DatabaseName=db, TableName="sales")["Partitions"]
    assert sorted(p["Values"] for p in parts) == [["2024-01-01"], ["2024-01-02"]]
    # A table created through the API over files put through S3 is what Spark reads.
    data = s3.get_object(Bucket="lake", Key=next(k for k in keys if k.endswith(".parquet")))["Body"].read()
    s3.put_object(Bucket="lake", Key=f"{db}/copy/part-0.parquet", Body=data)
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "copy", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "int"}, {"Name": "amount", "Type": "double"}],
            "Location": f"s3://lake/{db}/copy",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        },
    })  # fmt: skip
    assert ok(run(glue, session_id, f"print(spark.sql('select count(*) c from {db}.copy').first().c)")) == "1\n"
    glue.delete_database(Name=db)
    with pytest.raises(ClientError) as err:
        glue.get_table(DatabaseName=db, Name="sales")
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_update_table_version_id_is_checked(sim, glue):
    db = f"db_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": db, "LocationUri": f"s3://lake/{db}"})
    cols = {"Columns": [{"Name": "a", "Type": "string"}], "Location": f"s3://lake/{db}/t"}
    glue.create_table(DatabaseName=db, TableInput={"Name": "t", "StorageDescriptor": cols})
    first = glue.get_table(DatabaseName=db, Name="t")["Table"]["VersionId"]
    update = {"Name": "t", "StorageDescriptor": cols, "Parameters": {"k": "1"}}
    glue.update_table(DatabaseName=db, TableInput=update, VersionId=first)
    second = glue.get_table(DatabaseName=db, Name="t")["Table"]
    assert second["Parameters"]["k"] == "1" and int(second["VersionId"]) > int(first)
    with pytest.raises(ClientError) as err:
        glue.update_table(DatabaseName=db, TableInput=update, VersionId=first)
    assert err.value.response["Error"]["Code"] == "ConcurrentModificationException"
    with pytest.raises(ClientError) as err:
        glue.create_table(DatabaseName=db, TableInput={"Name": "t", "StorageDescriptor": cols})
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    glue.delete_database(Name=db)


def test_list_operations_are_paged(sim, glue):
    db = f"db_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": db})
    for i in range(5):
        glue.create_table(DatabaseName=db, TableInput={"Name": f"t{i}", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}})
    seq = sim.last_seq()
    names, token, calls = [], None, 0
    while True:
        page = glue.get_tables(DatabaseName=db, **({"NextToken": token} if token else {}))
        calls += 1
        assert len(page["TableList"]) <= 2
        names += [t["Name"] for t in page["TableList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"t{i}" for i in range(5)] and calls == 3
    assert [e["operation"] for e in sim.log(seq)] == ["GetTables"] * 3
    paginated = [t["Name"] for p in glue.get_paginator("get_tables").paginate(DatabaseName=db) for t in p["TableList"]]
    assert paginated == names
    with pytest.raises(ClientError) as err:
        glue.get_tables(DatabaseName=db, NextToken="bogus")
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    glue.delete_database(Name=db)


def test_unimplemented_operation_fails_loudly_without_retry(sim, glue):
    seq = sim.last_seq()
    with pytest.raises(ClientError) as err:
        glue.get_ml_transforms()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "GetMLTransforms" in err.value.response["Error"]["Message"]
    retrying = sim.client("glue", retries={"max_attempts": 5, "mode": "standard"})
    with pytest.raises(ClientError):
        retrying.get_ml_transforms()
    assert [e["operation"] for e in sim.log(seq)] == ["GetMLTransforms", "GetMLTransforms"], "a 501 is not retried"


def test_throttling_latency_and_request_log(sim, glue):
    sim.admin("faults", {"throttle": {"glue:GetDatabases": 1.0}})
    with pytest.raises(ClientError) as err:
        glue.get_databases()
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    sim.admin("faults", {"throttle": {"glue:GetDatabases": 0.5}, "seed": 7})
    retrying = sim.client("glue", retries={"max_attempts": 10, "mode": "standard"})
    seq = sim.last_seq()
    for _ in range(5):
        retrying.get_databases()
    entries = [e for e in sim.log(seq) if e["operation"] == "GetDatabases"]
    assert len([e for e in entries if e["status"] == 400]) > 0 and len([e for e in entries if e["status"] == 200]) == 5
    sim.admin("faults", method="DELETE")
    sim.admin("faults", {"latency_ms": {"GetDatabases": 300}})
    seq = sim.last_seq()
    start = time.time()
    glue.get_databases()
    entry = sim.log(seq)[-1]
    assert entry["operation"] == "GetDatabases" and entry["service"] == "glue"
    assert entry["end"] - entry["start"] >= 0.3 and time.time() - start >= 0.3


def test_iceberg_tables_of_a_session_are_glue_iceberg_entries(sim, glue):
    """Real Iceberg (1.10) in the session's Spark, its `glue_catalog` over the one catalog, as Glue holds such tables."""
    sid = f"ice-{uuid.uuid4().hex[:8]}"
    conf = ("spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog --conf "
            "spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog")  # fmt: skip
    glue.create_session(Id=sid, Role=ROLE, Command={"Name": "glueetl"}, GlueVersion="5.0",
                        DefaultArguments={"--conf": conf, "--datalake-formats": "iceberg"})  # fmt: skip
    wait_status(glue, sid, "READY")
    db = f"ice_{uuid.uuid4().hex[:8]}"
    sim.client("s3").create_bucket(Bucket="lake")
    ok(run(glue, sid, f"spark.sql(\"create database {db} location 's3://lake/{db}'\")"))
    ok(run(glue, sid, f"spark.sql('create table glue_catalog.{db}.t (id int, v string) using iceberg')"))
    ok(run(glue, sid, f"spark.sql(\"insert into glue_catalog.{db}.t values (1, 'a'), (2, 'b')\")"))
    ok(run(glue, sid, f"spark.sql(\"merge into glue_catalog.{db}.t t using (select 2 id, 'B' v union all select 3, 'c') s "
                      "on t.id = s.id when matched then update set * when not matched then insert *\")"))  # fmt: skip
    out = ok(run(glue, sid, f"print([tuple(r) for r in spark.sql('select * from glue_catalog.{db}.t order by id').collect()])"))
    assert out == "[(1, 'a'), (2, 'B'), (3, 'c')]\n"
    table = glue.get_table(DatabaseName=db, Name="t")["Table"]
    assert table["Parameters"]["table_type"].upper() == "ICEBERG"
    metadata = table["Parameters"]["metadata_location"]
    assert metadata.startswith(f"s3://lake/{db}/t/metadata/") and metadata.endswith(".metadata.json")
    key = metadata[len("s3://lake/") :]
    assert sim.client("s3").head_object(Bucket="lake", Key=key)["ContentLength"] > 0
    glue.delete_session(Id=sid)


def test_database_table_and_partition_writes(sim, glue):
    db = f"db_{uuid.uuid4().hex[:8]}"
    # Hive's metastore creates table directories, so the bucket must exist (Glue itself would not look).
    sim.client("s3").create_bucket(Bucket="lake")
    glue.create_database(DatabaseInput={"Name": db, "Description": "first"})
    glue.update_database(Name=db, DatabaseInput={"Name": db, "Description": "second", "Parameters": {"team": "x"}})
    got = glue.get_database(Name=db)["Database"]
    assert (got["Description"], got["Parameters"]) == ("second", {"team": "x"})
    sd = {"Columns": [{"Name": "a", "Type": "int"}], "Location": f"s3://lake/{db}/p"}
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "p", "TableType": "EXTERNAL_TABLE", "StorageDescriptor": sd,
        "PartitionKeys": [{"Name": "day", "Type": "string"}],
    })  # fmt: skip
    part = lambda day: {"Values": [day], "StorageDescriptor": {**sd, "Location": f"s3://lake/{db}/p/day={day}"}}  # noqa: E731
    glue.create_partition(DatabaseName=db, TableName="p", PartitionInput=part("d1"))
    result = glue.batch_create_partition(DatabaseName=db, TableName="p", PartitionInputList=[part("d2"), part("d1")])
    assert [e["PartitionValues"] for e in result["Errors"]] == [["d1"]], "an existing partition is an error entry"
    assert glue.get_partition(DatabaseName=db, TableName="p", PartitionValues=["d2"])["Partition"]["Values"] == ["d2"]
    moved = {**part("d2"), "StorageDescriptor": {**sd, "Location": f"s3://lake/{db}/elsewhere"}}
    glue.update_partition(DatabaseName=db, TableName="p", PartitionValueList=["d2"], PartitionInput=moved)
    got = glue.get_partition(DatabaseName=db, TableName="p", PartitionValues=["d2"])["Partition"]
    assert got["StorageDescriptor"]["Location"] == f"s3://lake/{db}/elsewhere"
    glue.delete_partition(DatabaseName=db, TableName="p", PartitionValues=["d1"])
    result = glue.batch_delete_partition(DatabaseName=db, TableName="p", PartitionsToDelete=[{"Values": ["d2"]}, {"Values": ["d9"]}])
    assert [e["PartitionValues"] for e in result["Errors"]] == [["d9"]]
    assert glue.get_partitions(DatabaseName=db, TableName="p")["Partitions"] == []
    with pytest.raises(ClientError) as err:
        glue.get_partitions(DatabaseName=db, TableName="missing")
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"
    # Fields Hive has no place for are kept (the reference adapter's delta manifest update sets AdditionalLocations);
    # a table created without TableType has none, as in Glue.
    glue.create_table(DatabaseName=db, TableInput={"Name": "m", "StorageDescriptor": {**sd, "AdditionalLocations": ["s3://lake/x"]}})
    table = glue.get_table(DatabaseName=db, Name="m")["Table"]
    assert table["StorageDescriptor"]["AdditionalLocations"] == ["s3://lake/x"] and "TableType" not in table
    glue.delete_table(DatabaseName=db, Name="m")
    # A multi-dialect view keeps its ViewDefinition (Sail writes a view's SQL only there).
    representation = {"Dialect": "SPARK", "DialectVersion": "1.0", "ViewOriginalText": "SELECT 1 AS id"}
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "v", "TableType": "VIRTUAL_VIEW", "StorageDescriptor": sd,
        "ViewDefinition": {"Representations": [representation]},
    })  # fmt: skip
    view = glue.get_table(DatabaseName=db, Name="v")["Table"]
    assert view["ViewDefinition"]["Representations"][0]["ViewOriginalText"] == "SELECT 1 AS id"
    glue.delete_table(DatabaseName=db, Name="v")
    result = glue.batch_delete_table(DatabaseName=db, TablesToDelete=["p", "nope"])
    assert [e["TableName"] for e in result["Errors"]] == ["nope"]
    assert glue.get_tables(DatabaseName=db)["TableList"] == []
    with pytest.raises(ClientError) as err:
        glue.batch_get_partition(DatabaseName=db, TableName="p", PartitionsToGet=[{"Values": ["d1"]}])
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501, "never an answer from moto's own catalog"
    glue.delete_database(Name=db)


def test_the_request_log_records_a_calls_catalog_id():
    """`catalog_id`: the top-level CatalogId a call names (cross-account catalogs), None when it names none. In-process
    (no simulator started): the front door's logging only."""
    from werkzeug.test import Client

    from gluesim.server import Simulator

    app = Simulator(None, {("glue", "GetDatabases"): lambda req: {"DatabaseList": []}})
    app.ready.set()
    client = Client(app)
    for body in ('{"CatalogId": "111122223333"}', "{}"):
        answer = client.post("/", data=body, headers={"X-Amz-Target": "AWSGlue.GetDatabases",
                                                       "Content-Type": "application/x-amz-json-1.1"})  # fmt: skip
        assert answer.status_code == 200, answer.get_data()
    assert [(e["operation"], e["catalog_id"]) for e in app.log.since(0)] == [
        ("GetDatabases", "111122223333"),
        ("GetDatabases", None),
    ]

"""Tests of the simulator's S3 storage stand-in: the file-backed S3 REST API (gluesim.s3.FileS3) driven by boto3, and
the Hadoop shim (gluesim.shim) driven by PySpark, both over one directory so that each sees what the other wrote."""

import hashlib
import http.client
import io
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gluesim.s3 import FileS3  # noqa: E402
from gluesim.shim import shim_jar, spark_conf  # noqa: E402

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def clean_faults() -> Iterator[None]:
    """Overrides conftest's fixture of the same name: these tests run their own S3 server and Spark, not the
    simulator process that that fixture starts and cleans up after."""
    yield


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s3-root")


@pytest.fixture(scope="module")
def endpoint(root: Path) -> Iterator[str]:
    store = FileS3(str(root))

    def app(environ, start_response):
        return store.handle(Request(environ))(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def s3(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, proxies={}))


@pytest.fixture
def bucket(s3) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def error_of(call, *args, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def raw_request(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


# -- the S3 REST API ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, query, headers, operation", [
    ("GET", "/", "", {}, "ListBuckets"),
    ("GET", "/b", "list-type=2&prefix=a", {}, "ListObjectsV2"),
    ("GET", "/b", "", {}, "ListObjects"),
    ("GET", "/b/k/ey", "x-id=GetObject", {}, "GetObject"),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "/b/src"}, "CopyObject"),
    ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload"),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
    ("POST", "/b", "delete", {}, "DeleteObjects"),
    ("GET", "/b", "acl", {}, "GetBucketAcl"),
    ("GET", "/k", "", {"Host": "b.localhost:9000"}, "GetObject"),
])
def test_operation_names(root: Path, method: str, path: str, query: str, headers: dict, operation: str):
    request = Request(EnvironBuilder(method=method, path=path, query_string=query, headers=headers).get_environ())
    assert FileS3(str(root)).operation(request) == operation


def test_put_get_range_head(s3, bucket: str, root: Path):
    body = b"hello world"
    put = s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=body, ContentType="text/plain")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert (root / bucket / "dir" / "hello.txt").read_bytes() == body

    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert (got["ContentType"], got["ContentLength"], got["ETag"]) == ("text/plain", 11, put["ETag"])
    for byte_range, part, content_range in [("bytes=0-4", b"hello", "bytes 0-4/11"),
                                            ("bytes=6-", b"world", "bytes 6-10/11"),
                                            ("bytes=-5", b"world", "bytes 6-10/11")]:
        ranged = s3.get_object(Bucket=bucket, Key="dir/hello.txt", Range=byte_range)
        assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert (ranged["Body"].read(), ranged["ContentRange"]) == (part, content_range)
    assert error_of(s3.get_object, Bucket=bucket, Key="dir/hello.txt", Range="bytes=20-") == ("InvalidRange", 416)

    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert (head["ContentLength"], head["ETag"]) == (11, put["ETag"])
    assert abs(head["LastModified"].timestamp() - (root / bucket / "dir" / "hello.txt").stat().st_mtime) < 1


def test_list_v2_delimiter_and_pagination(s3, bucket: str, root: Path):
    keys = ["a/1.txt", "a/2.txt", "b/x/1", "b/y", "c", "d/é.txt", "sp ace+plus.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    (root / bucket / "empty" / "dir").mkdir(parents=True)  # as Spark's mkdirs leaves them: not an object

    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert [page["KeyCount"] for page in pages] == [2, 2, 1]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])] == ["a/", "b/", "d/"]
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == ["c", "sp ace+plus.txt"]

    nested = s3.list_objects_v2(Bucket=bucket, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["b/y"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["b/x/"]

    flat = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in flat["Contents"]] == sorted(keys, key=str.encode)
    assert flat["Contents"][0]["ETag"] == f'"{hashlib.md5(b"a/1.txt").hexdigest()}"'
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="b/y")["Contents"]] == keys[4:]

    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}) for o in page["Contents"]]
    assert v1 == sorted(keys, key=str.encode)


def test_copy_delete_and_delete_objects(s3, bucket: str):
    s3.put_object(Bucket=bucket, Key="src key+1", Body=b"payload", ContentType="application/json")
    copied = s3.copy_object(Bucket=bucket, Key="copy/dst", CopySource={"Bucket": bucket, "Key": "src key+1"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="copy/dst")
    assert (got["Body"].read(), got["ContentType"]) == (b"payload", "application/json")

    assert s3.delete_object(Bucket=bucket, Key="copy/dst")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never/was")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_object, Bucket=bucket, Key="copy/dst") == ("NoSuchKey", 404)

    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src key+1"}, {"Key": "other"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["other", "src key+1"]
    s3.put_object(Bucket=bucket, Key="quiet", Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "quiet"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_multipart_upload(s3, bucket: str, root: Path):
    parts = [os.urandom(5 * MIB + 17), os.urandom(MIB + 3)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/blob.bin", ContentType="application/x-blob")
    etags = [s3.upload_part(Bucket=bucket, Key="big/blob.bin", UploadId=upload["UploadId"], PartNumber=n + 1,
                            Body=data)["ETag"] for n, data in enumerate(parts)]
    assert etags == [f'"{hashlib.md5(data).hexdigest()}"' for data in parts]
    assert list(s3.list_objects_v2(Bucket=bucket).get("Contents", [])) == []  # parts are not objects

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big/blob.bin", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n + 1} for n, etag in enumerate(etags)]})
    expected = hashlib.md5(b"".join(hashlib.md5(data).digest() for data in parts)).hexdigest() + "-2"
    assert done["ETag"] == f'"{expected}"'
    head = s3.head_object(Bucket=bucket, Key="big/blob.bin")
    assert (head["ETag"], head["ContentLength"], head["ContentType"]) == (
        done["ETag"], sum(map(len, parts)), "application/x-blob")
    assert s3.get_object(Bucket=bucket, Key="big/blob.bin")["Body"].read() == b"".join(parts)
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["ETag"] == done["ETag"]
    assert not any((root / ".uploads").iterdir())

    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted["UploadId"])
    assert error_of(s3.upload_part, Bucket=bucket, Key="gone", UploadId=aborted["UploadId"], PartNumber=1,
                    Body=b"x") == ("NoSuchUpload", 404)
    assert not any(name.startswith(".") for name in (b["Name"] for b in s3.list_buckets()["Buckets"]))


def test_conditional_put(s3, bucket: str):
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert error_of(s3.put_object, Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*") == (
        "PreconditionFailed", 412)
    assert error_of(s3.put_object, Bucket=bucket, Key="once", Body=b"second", IfMatch='"0123"') == (
        "PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="once", Body=b"third", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"third"


def test_errors(s3, bucket: str):
    assert error_of(s3.get_object, Bucket=bucket, Key="missing") == ("NoSuchKey", 404)
    assert error_of(s3.list_objects_v2, Bucket="no-such-bucket") == ("NoSuchBucket", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_acl(Bucket=bucket)
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert "GetBucketAcl" in caught.value.response["Error"]["Message"]
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_path_traversal_rejected(s3, endpoint: str, bucket: str, root: Path):
    assert error_of(s3.put_object, Bucket=bucket, Key="../escaped.txt", Body=b"x") == ("InvalidArgument", 400)
    status, body = raw_request(endpoint, "PUT", f"/{bucket}/a/%2E%2E/%2E%2E/escaped.txt", b"x")
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    assert not [path for path in root.parent.rglob("escaped*")]


def test_virtual_hosted_style_and_aws_chunked_body(endpoint: str, s3, bucket: str):
    payload = b"x" * 70000 + b"tail"
    framed = (b"%x;chunk-signature=abc\r\n" % 65536 + payload[:65536] + b"\r\n"
              + b"%x;chunk-signature=def\r\n" % (len(payload) - 65536) + payload[65536:] + b"\r\n"
              + b"0;chunk-signature=0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
    port = endpoint.rsplit(":", 1)[1]
    status, _ = raw_request(endpoint, "PUT", "/chunked.bin", framed, {
        "Host": f"{bucket}.localhost:{port}", "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(payload))})
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="chunked.bin")["Body"].read() == payload
    status, body = raw_request(endpoint, "GET", "/chunked.bin", headers={"Host": f"{bucket}.s3.localhost:{port}"})
    assert (status, body) == (200, payload)


# -- Spark through the Hadoop shim, on the same storage ----------------------------------------------------------------

@pytest.fixture(scope="module")
def spark(root: Path, s3, tmp_path_factory: pytest.TempPathFactory):
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession

    s3.create_bucket(Bucket="warehouse")
    conf = {
        "spark.master": "local[1]",
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": "s3://warehouse/",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.jars": shim_jar(str(tmp_path_factory.mktemp("shim-cache"))),
        **spark_conf(str(root)),
    }
    session = SparkSession.builder.appName("gluesim-s3-storage").config(map=conf).getOrCreate()
    yield session
    session.stop()


def s3_keys(s3, bucket: str, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def rows(spark, table: str) -> list[tuple]:
    return sorted(tuple(row) for row in spark.table(table).collect())


def test_spark_partitioned_table_shares_storage_with_s3(spark, s3, root: Path):
    s3.create_bucket(Bucket="lake")
    spark.sql("CREATE TABLE t (a INT, p STRING) USING parquet PARTITIONED BY (p) LOCATION 's3://lake/wh/t'")
    spark.sql("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    spark.sql("INSERT OVERWRITE TABLE t VALUES (3, 'x')")  # dynamic partition overwrite: p=y is kept
    assert rows(spark, "t") == [(2, "y"), (3, "x")]

    table = root / "lake" / "wh" / "t"
    local = files_under(table)
    assert {name.split("/")[0] for name in local} <= {"p=x", "p=y", "_SUCCESS"}
    assert all(re.fullmatch(r"p=[xy]/part-[^/]*\.parquet|_SUCCESS", name) for name in local), local
    assert {name.split("/")[0] for name in local if name != "_SUCCESS"} == {"p=x", "p=y"}
    assert {"wh/t/" + name for name in local} == s3_keys(s3, "lake", "wh/t/")

    x_file = next(name for name in local if name.startswith("p=x/"))
    data = s3.get_object(Bucket="lake", Key=f"wh/t/{x_file}")["Body"].read()
    assert pq.read_table(io.BytesIO(data)).column("a").to_pylist() == [3]

    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": pa.array([7], pa.int32())}), buffer)
    s3.put_object(Bucket="lake", Key="wh/t/p=y/from-s3.parquet", Body=buffer.getvalue())
    spark.sql("REFRESH TABLE t")
    assert rows(spark, "t") == [(2, "y"), (3, "x"), (7, "y")]


def test_spark_ctas_save_as_table_and_drop(spark, s3, root: Path):
    s3.create_bucket(Bucket="ctas")
    spark.sql("CREATE TABLE c USING parquet LOCATION 's3://ctas/c' AS SELECT id, CAST(id % 2 AS STRING) AS k "
              "FROM range(4)")
    assert rows(spark, "c") == [(0, "0"), (1, "1"), (2, "0"), (3, "1")]
    spark.range(3).write.option("path", "s3a://ctas/saved").saveAsTable("saved")
    assert rows(spark, "saved") == [(0,), (1,), (2,)]
    assert s3_keys(s3, "ctas", "saved/") and not [k for k in s3_keys(s3, "ctas", "") if k.endswith(".crc")]

    spark.sql("CREATE TABLE m (id BIGINT) USING parquet")  # managed, in the s3:// warehouse
    spark.sql("INSERT INTO m VALUES (1)")
    assert s3_keys(s3, "warehouse", "m/")
    spark.sql("DROP TABLE m PURGE")
    assert not (root / "warehouse" / "m").exists() and not s3_keys(s3, "warehouse", "m/")
    spark.sql("DROP TABLE c")  # external: its files stay
    assert s3_keys(s3, "ctas", "c/")


def test_shim_file_system_semantics(spark, s3, root: Path):
    s3.create_bucket(Bucket="fsapi")
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path
    conf = spark._jsc.hadoopConfiguration()
    fs = hadoop_path("s3://fsapi/").getFileSystem(conf)
    assert fs.getClass().getName() == "dev.gluers.sim.LocalS3FileSystem"
    assert (fs.getUri().toString(), fs.makeQualified(hadoop_path("rel/x")).toString()) == ("s3://fsapi", "s3://fsapi/rel/x")

    out = fs.create(hadoop_path("s3://fsapi/dir/a.txt"))
    out.write(bytearray(b"abc"))
    out.hflush()
    assert not (root / "fsapi" / "dir" / "a.txt").exists()  # like an S3 upload, the object appears on close
    out.close()
    assert (root / "fsapi" / "dir" / "a.txt").read_bytes() == b"abc"
    assert not [name for name in os.listdir(root / ".tmp") if name.startswith("hadoop-")]
    assert [s.getPath().toString() for s in fs.listStatus(hadoop_path("s3://fsapi/dir"))] == ["s3://fsapi/dir/a.txt"]
    assert fs.getFileStatus(hadoop_path("s3://fsapi/dir")).getPath().toString() == "s3://fsapi/dir"

    assert fs.rename(hadoop_path("s3://fsapi/dir"), hadoop_path("s3://fsapi/moved"))
    assert fs.mkdirs(hadoop_path("s3://fsapi/moved/sub"))
    assert fs.rename(hadoop_path("s3://fsapi/moved/a.txt"), hadoop_path("s3://fsapi/moved/sub"))  # into the directory
    assert not fs.rename(hadoop_path("s3://fsapi/missing"), hadoop_path("s3://fsapi/other"))
    assert s3_keys(s3, "fsapi", "") == {"moved/sub/a.txt"}
    assert fs.open(hadoop_path("s3://fsapi/moved/sub/a.txt")).read() == ord("a")
    assert fs.delete(hadoop_path("s3://fsapi/moved"), True) and not fs.exists(hadoop_path("s3://fsapi/moved"))

    missing = hadoop_path("s3://no-such-bucket/x")
    with pytest.raises(Exception, match="The bucket does not exist"):
        missing.getFileSystem(conf).mkdirs(missing)

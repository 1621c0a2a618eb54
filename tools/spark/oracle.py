"""A local Spark 3.5 (Glue 5's Spark) with the Iceberg SQL extensions, ANSI mode off as on Glue."""

import glob
import os

import snowpark_connect_deps_iceberg
from pyspark.sql import SparkSession


def iceberg_runtime_jar() -> str:
    jars = os.path.join(os.path.dirname(snowpark_connect_deps_iceberg.__file__), "jars")
    found = sorted(glob.glob(os.path.join(jars, "iceberg-spark-runtime-3.5_2.12-*.jar")))
    if not found:
        raise SystemExit(f"no iceberg-spark-runtime-3.5_2.12 jar under {jars}")
    return found[-1]


def spark_session(app: str) -> SparkSession:
    return (
        SparkSession.builder.appName(app)
        .master("local[1]")
        .config("spark.jars", iceberg_runtime_jar())
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )

"""A local Spark 3.5 (Glue 5's Spark) with the Iceberg SQL extensions, ANSI mode off as on Glue."""

import os
import sys
import tempfile

from pyspark.sql import SparkSession

# The Iceberg runtime jar (and its repaired Jackson) comes from the Glue simulator's module, one place for both.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from gluesim.iceberg import iceberg_jars  # noqa: E402


def spark_session(app: str) -> SparkSession:
    jars = iceberg_jars(os.path.join(tempfile.gettempdir(), "glue-rs-iceberg-jars"))
    return (
        SparkSession.builder.appName(app)
        .master("local[1]")
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )

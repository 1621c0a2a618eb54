"""`GlueContext`: in the simulator only a holder of the SparkContext and the session's own SparkSession."""

from __future__ import annotations

from typing import Any


class GlueContext:
    def __init__(self, spark_context: Any) -> None:
        from pyspark.sql import SparkSession

        self._sc = spark_context
        # Inside a statement this is the statement's session (see gluesim.sessions._route_session_lookups).
        self.spark_session = SparkSession.builder.getOrCreate()

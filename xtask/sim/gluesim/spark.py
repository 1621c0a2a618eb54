"""The simulator's Spark: one classic (JVM) PySpark 3.5, as Glue 5 runs, shared by every simulated Glue session.

Each Glue session gets its own `SparkSession` (`newSession()`: own SQL conf and temp views, shared SparkContext); all of
them use one Hive metastore (embedded Derby under the state directory), which is also what the Glue catalog API of the
simulator reads and writes through a Hive metastore client in the same JVM: one catalog. `s3://` paths go through the
LocalS3FileSystem shim to the storage root that the S3 API serves: one storage.

Settings Glue 4/5 sessions run with: ANSI mode off, dynamic partition overwrite (set by glue-rs and the reference's
functional tests).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from . import shim


class SparkRuntime:
    """Starts the shared JVM and hands out per-session SparkSessions and the metastore client."""

    def __init__(self, state_dir: str, storage_root: str, warehouse: str = "s3://glue-sim-warehouse/warehouse") -> None:
        self.state_dir = state_dir
        self.storage_root = storage_root
        self.warehouse = warehouse
        self.metastore_url = f"jdbc:derby:;databaseName={os.path.join(state_dir, 'metastore_db')};create=true"
        self.base: Any = None
        self._metastore: Any = None
        self.metastore_lock = threading.RLock()
        self._sessions_lock = threading.Lock()
        self.sessions: list[Any] = []

    def start(self) -> None:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        os.makedirs(os.path.join(self.storage_root, self.warehouse[len("s3://") :].split("/", 1)[0]), exist_ok=True)
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("glue-sim")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.sql.warehouse.dir", self.warehouse)
            .config("spark.hadoop.javax.jdo.option.ConnectionURL", self.metastore_url)
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={self.state_dir}")
            .config("spark.jars", shim.shim_jar(os.path.join(self.state_dir, "jars")))
        )
        for key, value in shim.spark_conf(self.storage_root).items():
            builder = builder.config(key, value)
        self.base = builder.enableHiveSupport().getOrCreate()
        self.base.sparkContext.setLogLevel("ERROR")
        self.base.sql("SHOW DATABASES").collect()  # creates the metastore schema before the catalog client opens it

    def new_session(self, conf: dict[str, str]) -> tuple[Any, list[str]]:
        """A SparkSession for one Glue session with its runtime settings; returns it and the settings it could not
        apply (static settings of the shared JVM such as `spark.sql.extensions`)."""
        session = self.base.newSession()
        ignored = []
        for key, value in conf.items():
            try:
                session.conf.set(key, value)
            except Exception:  # static or unknown-to-this-Spark settings: reported, not fatal
                ignored.append(key)
        with self._sessions_lock:
            self.sessions.append(session)
        return session, ignored

    def forget(self, session: Any) -> None:
        with self._sessions_lock:
            if session in self.sessions:
                self.sessions.remove(session)

    def metastore(self) -> Any:
        """The Hive metastore client (thrift objects shaped like Glue's). Use under `metastore_lock`."""
        if self._metastore is None:
            jvm = self.base._jvm
            conf = jvm.org.apache.hadoop.hive.conf.HiveConf()
            conf.set("javax.jdo.option.ConnectionURL", self.metastore_url)
            conf.set("hive.metastore.warehouse.dir", self.warehouse)
            conf.set("hive.metastore.schema.verification", "false")
            # Glue computes no statistics on CreateTable; Hive's metastore would add numFiles/totalSize.
            conf.set("hive.stats.autogather", "false")
            for key, value in shim.spark_conf(self.storage_root).items():
                conf.set(key.removeprefix("spark.hadoop."), value)
            self._metastore = jvm.org.apache.hadoop.hive.metastore.HiveMetaStoreClient(conf)
        return self._metastore

    def invalidate_caches(self) -> None:
        """After a catalog write through the API, no Spark session may read a stale cached relation."""
        with self._sessions_lock:
            sessions = [self.base, *self.sessions]
        for session in sessions:
            session._jsparkSession.sessionState().catalog().invalidateAllCachedTables()

    @property
    def jvm(self) -> Any:
        return self.base._jvm

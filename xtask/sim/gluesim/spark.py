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
import socket
import threading
import time
from typing import Any

from . import iceberg, shim

# The Iceberg catalog name the reference adapter defaults to (`custom_iceberg_catalog_namespace`).
ICEBERG_CATALOG = "glue_catalog"
# Settings a session's `--conf` may carry that the simulator provides itself, over its own catalog and storage (Glue's
# GlueCatalog, S3FileIO and lock manager classes are not on its classpath).
PROVIDED = ("spark.sql.extensions", f"spark.sql.catalog.{ICEBERG_CATALOG}")
# Iceberg's SparkSessionCatalog as `spark_catalog` (Iceberg and Hive tables both read by their plain names), as users
# configure it on Glue with Iceberg's GlueCatalog: here over the simulator's metastore like `glue_catalog`, its
# catalog-impl / io-impl / lock settings being the simulator's own.
SESSION_CATALOG = "spark.sql.catalog.spark_catalog"
ICEBERG_SESSION_CATALOG = "org.apache.iceberg.spark.SparkSessionCatalog"


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
        jars = os.path.join(self.state_dir, "jars")
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("glue-sim")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.warehouse.dir", self.warehouse)
            .config("spark.hadoop.javax.jdo.option.ConnectionURL", self.metastore_url)
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={self.state_dir}")
            .config("spark.jars", ",".join([shim.shim_jar(jars), *iceberg.iceberg_jars(jars)]))
            # Iceberg's `glue_catalog`, as the reference's users configure it, here over the same metastore (Iceberg's
            # HiveCatalog): Iceberg tables are entries of the one catalog, with table_type=ICEBERG and
            # metadata_location as Glue holds them. Commits are protected by the metastore, not Hive's lock tables.
            .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
            .config(f"spark.sql.catalog.{ICEBERG_CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
            .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.type", "hive")
            .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse", self.warehouse)
            .config("spark.hadoop.iceberg.engine.hive.lock-enabled", "false")
        )
        for key, value in shim.spark_conf(self.storage_root).items():
            builder = builder.config(key, value)
        self.base = builder.enableHiveSupport().getOrCreate()
        self.base.sparkContext.setLogLevel("ERROR")
        self.base.sql("SHOW DATABASES").collect()  # creates the metastore schema before the catalog client opens it

    def new_session(self, conf: dict[str, str]) -> tuple[Any, list[str]]:
        """A SparkSession for one Glue session with its runtime settings; returns it and the settings it did not
        apply: static settings of the shared JVM, and the Iceberg catalog settings the simulator provides itself."""
        session = self.base.newSession()
        ignored = []
        if conf.get(SESSION_CATALOG) == ICEBERG_SESSION_CATALOG:
            ignored += [k for k in conf if k.startswith(SESSION_CATALOG + ".")]
            conf = {k: v for k, v in conf.items() if not k.startswith(SESSION_CATALOG + ".")}
            conf[SESSION_CATALOG + ".type"] = "hive"
        for key, value in conf.items():
            if key.startswith(PROVIDED):
                ignored.append(key)
                continue
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

    def _hive_conf(self) -> Any:
        conf = self.base._jvm.org.apache.hadoop.hive.conf.HiveConf()
        conf.set("javax.jdo.option.ConnectionURL", self.metastore_url)
        conf.set("hive.metastore.warehouse.dir", self.warehouse)
        conf.set("hive.metastore.schema.verification", "false")
        # Glue computes no statistics on CreateTable; Hive's metastore would add numFiles/totalSize.
        conf.set("hive.stats.autogather", "false")
        for key, value in shim.spark_conf(self.storage_root).items():
            conf.set(key.removeprefix("spark.hadoop."), value)
        return conf

    def metastore(self) -> Any:
        """The Hive metastore client (thrift objects shaped like Glue's). Use under `metastore_lock`."""
        if self._metastore is None:
            self._metastore = self.base._jvm.org.apache.hadoop.hive.metastore.HiveMetaStoreClient(self._hive_conf())
        return self._metastore

    def serve_metastore(self, port: int) -> None:
        """Serves the same metastore over thrift on 127.0.0.1:`port`, for the test world's Spark Connect server (so the
        tables of SPARK_CONNECT sessions are entries of the one catalog too). Returns once the port accepts."""
        jvm = self.base._jvm
        conf = self._hive_conf()
        conf.set("hive.metastore.thrift.bind.host", "127.0.0.1")
        bridge = jvm.org.apache.hadoop.hive.shims.ShimLoader.getHadoopThriftAuthBridge()
        # Until this JVM's own Spark (the Glue sessions' catalog) has written a table, every create_table over thrift
        # failed (DataNucleus: "One or more instances could not be made persistent", retried for 20 s): write and
        # drop one first.
        self.base.sql("CREATE DATABASE IF NOT EXISTS gluesim_warmup")
        self.base.sql("CREATE TABLE gluesim_warmup.t USING parquet AS SELECT 1 AS id")
        self.base.sql("DROP DATABASE gluesim_warmup CASCADE")

        def serve() -> None:  # blocks its py4j call for the life of the process
            jvm.org.apache.hadoop.hive.metastore.HiveMetaStore.startMetaStore(port, bridge, conf)

        threading.Thread(target=serve, name="metastore-thrift", daemon=True).start()
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"the metastore's thrift server did not listen on port {port}") from None
                time.sleep(0.1)

    @property
    def shim_jar(self) -> str:
        return shim.shim_jar(os.path.join(self.state_dir, "jars"))

    def invalidate_caches(self) -> None:
        """After a catalog write through the API, no Spark session may read a stale cached relation."""
        with self._sessions_lock:
            sessions = [self.base, *self.sessions]
        for session in sessions:
            session._jsparkSession.sessionState().catalog().invalidateAllCachedTables()

    @property
    def jvm(self) -> Any:
        return self.base._jvm

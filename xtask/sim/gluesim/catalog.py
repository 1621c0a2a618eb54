"""The Glue Data Catalog API over the simulator's Spark metastore (one catalog for the API and for Spark).

Glue's table model is Hive's: a Glue `Table` maps field by field to the Hive metastore's thrift `Table`, so tables Spark
creates are what GetTables/GetTable return, and tables created through the API are what Spark reads.

Strictness where moto is lenient: `UpdateTable` with a stale `VersionId` fails with ConcurrentModificationException;
list operations return pages of `config.page_size` with a NextToken. One difference the other way: Hive's metastore
creates the directory of a table or partition location, so CreateTable with a location in a bucket that does not exist
fails here (Glue does not look at S3). `VersionId` increases on every change of a table,
whoever made it (API or Spark), as Glue's does when Spark's Glue client calls UpdateTable.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any, Callable

from .errors import AwsError
from .server import SimRequest, Simulator
from .spark import SparkRuntime


class GlueCatalog:
    """Handlers of the Glue catalog operations."""

    def __init__(self, sim: Simulator, runtime: SparkRuntime) -> None:
        self.sim = sim
        self.runtime = runtime
        self._versions: dict[tuple[str, str], tuple[int, int, str]] = {}  # (db, table) -> (create time, version, fingerprint)
        self._versions_lock = threading.Lock()
        # Glue table fields Hive's metastore has no place for (StorageDescriptor.AdditionalLocations, TargetTable,
        # ViewDefinition, an absent TableType), by (db, table); dropped with the table entry.
        self._extras: dict[tuple[str, str], dict[str, Any]] = {}
        self._descriptions: dict[str, str | None] = {}  # database -> description set by UpdateDatabase

    def handlers(self) -> dict[tuple[str, str], Callable[[SimRequest], Any]]:
        ops = [
            "CreateDatabase", "GetDatabase", "GetDatabases", "UpdateDatabase", "DeleteDatabase",
            "CreateTable", "GetTable", "GetTables", "UpdateTable", "DeleteTable", "BatchDeleteTable",
            "CreatePartition", "BatchCreatePartition", "GetPartition", "GetPartitions", "UpdatePartition",
            "DeletePartition", "BatchDeletePartition", "BatchUpdatePartition",
        ]  # fmt: skip
        return {("glue", op): getattr(self, _snake(op)) for op in ops}

    # ---- plumbing ----

    def _ms(self) -> Any:
        return self.runtime.metastore()

    def _call(self, fn: Callable[[Any], Any], entity: str, write: bool = False) -> Any:
        with self.runtime.metastore_lock:
            try:
                result = fn(self._ms())
            except Exception as err:  # py4j wraps the thrift exceptions
                raise _translate(err, entity) from None
        if write:
            if self.sim.config.invalidate_caches_on_write:
                self.runtime.invalidate_caches()
        return result

    def _page(self, req: SimRequest, items: list[Any]) -> tuple[list[Any], str | None]:
        """One page of a list operation's items (the request's MaxResults and NextToken, the simulator's page size)."""
        return self.sim.page(items, req.body.get("NextToken"), req.body.get("MaxResults", 0), _sans_token(req.body))

    def _jvm(self) -> Any:
        return self.runtime.jvm

    @staticmethod
    def _require(body: dict[str, Any], *keys: str) -> None:
        missing = [k for k in keys if not body.get(k)]
        if missing:
            raise AwsError("ValidationException", f"1 validation error detected: {missing[0]} must not be null")

    # ---- databases ----

    def create_database(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseInput")
        db = req.body["DatabaseInput"]
        self._require(db, "Name")
        jdb = self._jvm().org.apache.hadoop.hive.metastore.api.Database()
        jdb.setName(db["Name"].lower())
        jdb.setDescription(db.get("Description"))
        location = db.get("LocationUri") or f"{self.runtime.warehouse}/{db['Name'].lower()}.db"
        jdb.setLocationUri(location)
        jdb.setParameters(dict(db.get("Parameters", {})))
        self._call(lambda ms: ms.createDatabase(jdb), f"Database {db['Name']}", write=True)
        self._descriptions.pop(db["Name"].lower(), None)
        return {}

    def get_database(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "Name")
        name = req.body["Name"]
        return {"Database": self._database(self._call(lambda ms: ms.getDatabase(name), f"Database {name}"))}

    def get_databases(self, req: SimRequest) -> dict[str, Any]:
        names = self._call(lambda ms: list(ms.getAllDatabases()), "databases")
        page, token = self._page(req, sorted(names))
        return _listing("DatabaseList", [self._database(self._call(lambda ms, n=n: ms.getDatabase(n), n)) for n in page], token)

    def update_database(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "Name", "DatabaseInput")
        name, new = req.body["Name"], req.body["DatabaseInput"]
        current = self._call(lambda ms: ms.getDatabase(name), f"Database {name}")
        # Hive's metastore keeps a database's description from its creation; Glue lets UpdateDatabase change it.
        self._descriptions[name.lower()] = new.get("Description")
        if new.get("LocationUri"):
            current.setLocationUri(new["LocationUri"])
        current.setParameters(dict(new.get("Parameters", {})))
        self._call(lambda ms: ms.alterDatabase(name, current), f"Database {name}", write=True)
        return {}

    def delete_database(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "Name")
        name = req.body["Name"]
        # Glue deletes the database's tables with it but never their data.
        self._call(lambda ms: ms.dropDatabase(name, False, False, True), f"Database {name}", write=True)
        for key in [k for k in self._extras if k[0] == name.lower()]:
            del self._extras[key]
        self._descriptions.pop(name.lower(), None)
        return {}

    def _database(self, jdb: Any) -> dict[str, Any]:
        out = {
            "Name": jdb.getName(),
            "LocationUri": jdb.getLocationUri(),
            "Parameters": dict(jdb.getParameters() or {}),
            "CatalogId": self.sim_account(),
            "CreateTableDefaultPermissions": [
                {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Permissions": ["ALL"]}
            ],
        }
        description = self._descriptions.get(jdb.getName().lower(), jdb.getDescription())
        if description:
            out["Description"] = description
        return out

    @staticmethod
    def sim_account() -> str:
        from .server import ACCOUNT_ID

        return ACCOUNT_ID

    # ---- tables ----

    def create_table(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableInput")
        db, table = req.body["DatabaseName"], req.body["TableInput"]
        self._require(table, "Name")
        jtable = self._to_thrift(db, table)
        self._call(lambda ms: ms.createTable(jtable), f"Table {db}.{table['Name']}", write=True)
        self._keep_extras(db, table)
        return {}

    def get_table(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "Name")
        db, name = req.body["DatabaseName"], req.body["Name"]
        self._call(lambda ms: ms.getDatabase(db), f"Database {db}")
        return {"Table": self._table(self._call(lambda ms: ms.getTable(db, name), f"Table {name}"))}

    def get_tables(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName")
        db = req.body["DatabaseName"]
        self._call(lambda ms: ms.getDatabase(db), f"Database {db}")
        names = sorted(self._call(lambda ms: list(ms.getAllTables(db)), f"Database {db}"))
        if req.body.get("Expression"):
            names = [n for n in names if _glue_match(req.body["Expression"], n)]
        page, token = self._page(req, names)
        tables = []
        for name in page:
            try:
                tables.append(self._table(self._call(lambda ms, n=name: ms.getTable(db, n), name)))
            except AwsError:  # dropped between the listing and the read
                continue
        return _listing("TableList", tables, token)

    def update_table(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableInput")
        db, table = req.body["DatabaseName"], req.body["TableInput"]
        self._require(table, "Name")
        name = table["Name"]
        with self.runtime.metastore_lock:
            current = self._call(lambda ms: ms.getTable(db, name), f"Table {name}")
            version = self._version(db, current)
            expected = req.body.get("VersionId")
            if expected is not None and str(expected) != str(version):
                raise AwsError(
                    "ConcurrentModificationException",
                    f"Update table failed due to concurrent modifications: VersionId {expected} is not the table's "
                    f"current version {version}",
                )
            jtable = self._to_thrift(db, table)
            jtable.setCreateTime(current.getCreateTime())
            self._call(lambda ms: ms.alter_table(db, name, jtable), f"Table {name}", write=True)
            self._keep_extras(db, table)
        return {}

    def delete_table(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "Name")
        db, name = req.body["DatabaseName"], req.body["Name"]
        self._call(lambda ms: ms.dropTable(db, name, False, False), f"Table {name}", write=True)
        self._extras.pop((db.lower(), name.lower()), None)
        return {}

    def _keep_extras(self, db: str, table: dict[str, Any]) -> None:
        extras: dict[str, Any] = {}
        locations = table.get("StorageDescriptor", {}).get("AdditionalLocations")
        if locations:
            extras["AdditionalLocations"] = list(locations)
        if table.get("TargetTable"):
            extras["TargetTable"] = table["TargetTable"]
        if not table.get("TableType"):
            extras["NoTableType"] = True
        # A multi-dialect view (Sail writes its SQL only here, not in ViewOriginalText).
        if table.get("ViewDefinition"):
            extras["ViewDefinition"] = table["ViewDefinition"]
        self._extras[(db.lower(), table["Name"].lower())] = extras

    def batch_delete_table(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TablesToDelete")
        db = req.body["DatabaseName"]
        errors = []
        for name in req.body["TablesToDelete"]:
            try:
                self._call(lambda ms, n=name: ms.dropTable(db, n, False, False), f"Table {name}", write=True)
                self._extras.pop((db.lower(), name.lower()), None)
            except AwsError as err:
                errors.append({"TableName": name, "ErrorDetail": {"ErrorCode": err.code, "ErrorMessage": err.message}})
        return {"Errors": errors}

    def _version(self, db: str, jtable: Any) -> int:
        key = (db.lower(), jtable.getTableName().lower())
        fingerprint = str(jtable.toString())
        created = int(jtable.getCreateTime())
        with self._versions_lock:
            seen = self._versions.get(key)
            if seen is None or seen[0] != created:
                version = 0
            elif seen[2] != fingerprint:
                version = seen[1] + 1
            else:
                version = seen[1]
            self._versions[key] = (created, version, fingerprint)
        return version

    def _table(self, jtable: Any) -> dict[str, Any]:
        params = dict(jtable.getParameters() or {})
        out: dict[str, Any] = {
            "Name": jtable.getTableName(),
            "DatabaseName": jtable.getDbName(),
            "Owner": jtable.getOwner(),
            "CreateTime": int(jtable.getCreateTime()),
            "UpdateTime": int(params.get("transient_lastDdlTime", jtable.getCreateTime())),
            "LastAccessTime": int(jtable.getLastAccessTime()),
            "Retention": int(jtable.getRetention()),
            "StorageDescriptor": self._sd(jtable.getSd()),
            "PartitionKeys": [_column(c) for c in (jtable.getPartitionKeys() or [])],
            "TableType": jtable.getTableType(),
            "Parameters": params,
            "CreatedBy": f"arn:aws:sts::{self.sim_account()}:assumed-role/glue-sim",
            "IsRegisteredWithLakeFormation": False,
            "CatalogId": self.sim_account(),
            "VersionId": str(self._version(jtable.getDbName(), jtable)),
        }
        if params.get("comment"):
            out["Description"] = params["comment"]
        extras = self._extras.get((jtable.getDbName().lower(), jtable.getTableName().lower()), {})
        if extras.get("AdditionalLocations"):
            out["StorageDescriptor"]["AdditionalLocations"] = extras["AdditionalLocations"]
        if extras.get("TargetTable"):
            out["TargetTable"] = extras["TargetTable"]
        if "ViewDefinition" in extras:
            out["ViewDefinition"] = extras["ViewDefinition"]
        if extras.get("NoTableType"):
            del out["TableType"]
        if jtable.getViewOriginalText():
            out["ViewOriginalText"] = jtable.getViewOriginalText()
        if jtable.getViewExpandedText():
            out["ViewExpandedText"] = jtable.getViewExpandedText()
        return out

    def _sd(self, sd: Any) -> dict[str, Any]:
        serde = sd.getSerdeInfo()
        out: dict[str, Any] = {
            "Columns": [_column(c) for c in (sd.getCols() or [])],
            "Compressed": bool(sd.isCompressed()),
            "NumberOfBuckets": int(sd.getNumBuckets()),
            "BucketColumns": list(sd.getBucketCols() or []),
            "SortColumns": [{"Column": o.getCol(), "SortOrder": int(o.getOrder())} for o in (sd.getSortCols() or [])],
            "Parameters": dict(sd.getParameters() or {}),
            "StoredAsSubDirectories": bool(sd.isStoredAsSubDirectories()),
            "SerdeInfo": {
                "SerializationLibrary": serde.getSerializationLib() if serde else None,
                "Parameters": dict(serde.getParameters() or {}) if serde else {},
            },
        }
        for key, value in (("Location", sd.getLocation()), ("InputFormat", sd.getInputFormat()),
                           ("OutputFormat", sd.getOutputFormat())):  # fmt: skip
            if value:
                out[key] = value
        if serde is not None and serde.getName():
            out["SerdeInfo"]["Name"] = serde.getName()
        return out

    def _to_thrift(self, db: str, table: dict[str, Any]) -> Any:
        api = self._jvm().org.apache.hadoop.hive.metastore.api
        jtable = api.Table()
        jtable.setDbName(db.lower())
        jtable.setTableName(table["Name"].lower())
        jtable.setOwner(table.get("Owner") or "glue-sim")
        jtable.setRetention(int(table.get("Retention", 0)))
        jtable.setTableType(table.get("TableType") or "EXTERNAL_TABLE")
        params = dict(table.get("Parameters", {}))
        if table.get("Description"):
            params["comment"] = table["Description"]
        if jtable.getTableType() == "EXTERNAL_TABLE":
            params.setdefault("EXTERNAL", "TRUE")
        jtable.setParameters(params)
        jtable.setPartitionKeys([self._field(c) for c in table.get("PartitionKeys", [])])
        jtable.setSd(self._to_sd(table.get("StorageDescriptor", {})))
        if table.get("ViewOriginalText"):
            jtable.setViewOriginalText(table["ViewOriginalText"])
        if table.get("ViewExpandedText"):
            jtable.setViewExpandedText(table["ViewExpandedText"])
        return jtable

    def _to_sd(self, sd: dict[str, Any]) -> Any:
        api = self._jvm().org.apache.hadoop.hive.metastore.api
        jsd = api.StorageDescriptor()
        jsd.setCols([self._field(c) for c in sd.get("Columns", [])])
        if sd.get("Location"):
            jsd.setLocation(sd["Location"])
        jsd.setInputFormat(sd.get("InputFormat"))
        jsd.setOutputFormat(sd.get("OutputFormat"))
        jsd.setCompressed(bool(sd.get("Compressed", False)))
        jsd.setNumBuckets(int(sd.get("NumberOfBuckets", -1)))
        jsd.setBucketCols(list(sd.get("BucketColumns", [])))
        jsd.setSortCols([api.Order(o["Column"], int(o.get("SortOrder", 1))) for o in sd.get("SortColumns", [])])
        jsd.setParameters(dict(sd.get("Parameters", {})))
        jsd.setStoredAsSubDirectories(bool(sd.get("StoredAsSubDirectories", False)))
        serde = sd.get("SerdeInfo", {})
        jsd.setSerdeInfo(api.SerDeInfo(serde.get("Name"), serde.get("SerializationLibrary"), dict(serde.get("Parameters", {}))))
        return jsd

    def _field(self, column: dict[str, Any]) -> Any:
        if not column.get("Name") or not column.get("Type"):
            raise AwsError("InvalidInputException", f"a column needs Name and Type: {column}")
        return self._jvm().org.apache.hadoop.hive.metastore.api.FieldSchema(
            column["Name"].lower(), column["Type"], column.get("Comment")
        )

    # ---- partitions ----

    def _partition(self, db: str, table: str, jpart: Any) -> dict[str, Any]:
        return {
            "Values": list(jpart.getValues()),
            "DatabaseName": db,
            "TableName": table,
            "CreationTime": int(jpart.getCreateTime()),
            "LastAccessTime": int(jpart.getLastAccessTime()),
            "StorageDescriptor": self._sd(jpart.getSd()),
            "Parameters": dict(jpart.getParameters() or {}),
            "CatalogId": self.sim_account(),
        }

    def _to_partition(self, db: str, table: str, spec: dict[str, Any]) -> Any:
        jpart = self._jvm().org.apache.hadoop.hive.metastore.api.Partition()
        jpart.setDbName(db.lower())
        jpart.setTableName(table.lower())
        jpart.setValues(list(spec.get("Values", [])))
        jpart.setParameters(dict(spec.get("Parameters", {})))
        jpart.setSd(self._to_sd(spec.get("StorageDescriptor", {})))
        return jpart

    def create_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionInput")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        jpart = self._to_partition(db, table, req.body["PartitionInput"])
        self._call(lambda ms: ms.add_partition(jpart), f"Partition of {db}.{table}", write=True)
        return {}

    def batch_create_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionInputList")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        errors = []
        for spec in req.body["PartitionInputList"]:
            try:
                jpart = self._to_partition(db, table, spec)
                self._call(lambda ms, p=jpart: ms.add_partition(p), f"Partition {spec.get('Values')}", write=True)
            except AwsError as err:
                errors.append({"PartitionValues": spec.get("Values", []),
                               "ErrorDetail": {"ErrorCode": err.code, "ErrorMessage": err.message}})  # fmt: skip
        return {"Errors": errors}

    def get_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionValues")
        db, table, values = req.body["DatabaseName"], req.body["TableName"], req.body["PartitionValues"]
        jpart = self._call(lambda ms: ms.getPartition(db, table, list(values)), f"Partition {values}")
        return {"Partition": self._partition(db, table, jpart)}

    def get_partitions(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        if req.body.get("Expression"):
            raise AwsError("NotImplementedInSimulator", "the simulator does not evaluate GetPartitions Expression", 501)
        self._call(lambda ms: ms.getTable(db, table), f"Table {table}")
        parts = self._call(lambda ms: list(ms.listPartitions(db, table, -1)), f"Table {table}")
        parts.sort(key=lambda p: list(p.getValues()))
        page, token = self._page(req, parts)
        return _listing("Partitions", [self._partition(db, table, p) for p in page], token)

    def update_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionValueList", "PartitionInput")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        jpart = self._to_partition(db, table, req.body["PartitionInput"])
        self._call(lambda ms: ms.alter_partition(db, table, jpart), f"Partition of {table}", write=True)
        return {}

    def batch_update_partition(self, req: SimRequest) -> dict[str, Any]:
        """Glue's BatchUpdatePartition: each entry's PartitionValueList names the partition, PartitionInput is its
        new definition; failures are listed per entry, as Glue does."""
        self._require(req.body, "DatabaseName", "TableName", "Entries")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        errors = []
        for entry in req.body["Entries"]:
            values = list(entry.get("PartitionValueList", []))
            try:
                jpart = self._to_partition(db, table, entry.get("PartitionInput", {}))
                self._call(lambda ms, p=jpart: ms.alter_partition(db, table, p), f"Partition {values}", write=True)
            except AwsError as err:
                errors.append({"PartitionValueList": values,
                               "ErrorDetail": {"ErrorCode": err.code, "ErrorMessage": err.message}})  # fmt: skip
        return {"Errors": errors}

    def delete_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionValues")
        db, table, values = req.body["DatabaseName"], req.body["TableName"], req.body["PartitionValues"]
        self._call(lambda ms: ms.dropPartition(db, table, list(values), False), f"Partition {values}", write=True)
        return {}

    def batch_delete_partition(self, req: SimRequest) -> dict[str, Any]:
        self._require(req.body, "DatabaseName", "TableName", "PartitionsToDelete")
        db, table = req.body["DatabaseName"], req.body["TableName"]
        errors = []
        for spec in req.body["PartitionsToDelete"]:
            values = list(spec.get("Values", []))
            try:
                self._call(lambda ms, v=values: ms.dropPartition(db, table, v, False), f"Partition {values}", write=True)
            except AwsError as err:
                errors.append({"PartitionValues": values, "ErrorDetail": {"ErrorCode": err.code, "ErrorMessage": err.message}})
        return {"Errors": errors}

    # ---- for Lake Formation ----

    def table_exists(self, db: str, name: str) -> bool:
        with self.runtime.metastore_lock:
            return bool(self._ms().tableExists(db, name))

    def database_exists(self, db: str) -> bool:
        with self.runtime.metastore_lock:
            return db.lower() in [d.lower() for d in self._ms().getAllDatabases()]

    def table_created(self, db: str, name: str) -> int | None:
        """The table's creation time (its identity: a table dropped and created again is another table), or None."""
        with self.runtime.metastore_lock:
            if not self._ms().tableExists(db, name):
                return None
            return int(self._ms().getTable(db, name).getCreateTime())

    def table_columns(self, db: str, name: str) -> list[str]:
        jtable = self._call(lambda ms: ms.getTable(db, name), f"Table {name}")
        return [c.getName() for c in [*(jtable.getSd().getCols() or []), *(jtable.getPartitionKeys() or [])]]


def _column(field: Any) -> dict[str, Any]:
    out = {"Name": field.getName(), "Type": field.getType()}
    if field.getComment():
        out["Comment"] = field.getComment()
    return out


def _listing(key: str, values: list[Any], token: str | None) -> dict[str, Any]:
    return {key: values, **({"NextToken": token} if token else {})}


def _sans_token(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("NextToken", "MaxResults")}


def _glue_match(expression: str, name: str) -> bool:
    """Glue's GetTables Expression: a pattern where `*` matches anything and `|` separates alternatives."""
    return any(fnmatch.fnmatchcase(name.lower(), alt.strip().lower()) for alt in expression.split("|"))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _translate(err: Exception, entity: str) -> AwsError:
    text = str(err)
    if "NoSuchObjectException" in text or "does not exist" in text.lower() and "InvalidObject" not in text:
        return AwsError("EntityNotFoundException", f"{entity} not found.")
    if "AlreadyExistsException" in text:
        return AwsError("AlreadyExistsException", f"{entity} already exists.")
    if "InvalidObjectException" in text or "InvalidOperationException" in text or "MetaException" in text:
        first = next((line for line in text.splitlines() if "Exception" in line), text)
        return AwsError("InvalidInputException", f"{entity}: {first.strip()[:400]}")
    return AwsError("InternalServiceException", f"{entity}: {text.splitlines()[0][:400] if text else err!r}", 501)

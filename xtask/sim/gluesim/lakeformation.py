"""Lake Formation: LF-tags, data cells filters and permissions, kept by the simulator (moto keeps the rest).

moto 5.2.1 is too lenient or wrong for what the adapter does: it has no data cells filters (CreateDataCellsFilter is a
404), `RevokePermissions` after two grants were merged raises KeyError (the merged permission changed its hash inside a
set), any tag value can be assigned, `AddLFTagsToResource` replaces every tag of the resource, `GetResourceLFTags` of an
untagged resource is a KeyError and nothing is inherited. So the operations in `LakeFormation.OPERATIONS` are answered
here (ListLFTags and ListPermissions included: the server's re-paging of moto's answers is not used for them), with
state per catalog id: any 12-digit CatalogId is accepted, since cross-account catalogs are real. Data lake settings and
registered locations (`*DataLakeSettings`, `*Resource`, `ListResources`) stay with moto, which the server re-pages.

Which catalog a call works in: its `CatalogId`, else the CatalogId (TableCatalogId) inside its resource, else the
simulator's account. The simulator has one Glue catalog; it stands for every catalog id's Data Catalog when checking
that databases, tables and columns exist. Names of databases, tables and columns are lower case, as Glue stores them.

Behaviour taken from AWS (API reference and service model, the "tag-based access control notes", reported behaviour):
- LF-tag keys and values are stored in lower case; one value of a key per resource; at most 50 tags per resource.
- AddLFTagsToResource / RemoveLFTagsFromResource: a tag key that does not exist → EntityNotFoundException "Tag key does
  not exist"; a value the key does not have → InvalidInputException naming key and value; a database, table or column
  that does not exist → EntityNotFoundException; Table with TableWildcard → InvalidInputException. The request is
  checked whole before anything changes, and these are errors (HTTP 400), never `Failures`: AWS reports per-tag
  `Failures` for per-tag authorization problems, and the simulator has no Lake Formation authorization, so `Failures`
  is always empty. Adding a key the resource already has replaces its value.
- GetResourceLFTags (ShowAssignedLFTags false, the default): LFTagOnDatabase = the database's tags; LFTagsOnTable = the
  table's tags over those it inherits from the database; LFTagsOnColumns = every column (or the asked ones) with its
  tags over those of the table and database. ShowAssignedLFTags true: only tags assigned to each resource itself.
  Empty lists are left out of the answer (as moto does; clients must treat a missing list as empty).
- Data cells filters: table must exist (EntityNotFoundException), duplicate name on the table → AlreadyExistsException,
  ColumnNames and ColumnWildcard both → InvalidInputException (AWS's message), unknown columns → InvalidInputException.
  Every create/update gets a new VersionId; an update naming a stale VersionId → ConcurrentModificationException.
- Permissions: grants to one principal on one resource merge; a revoke must name only permissions (and grant options)
  the principal holds, else InvalidInputException "No permissions revoked..." and nothing changes (AWS fails a revoke
  that includes a grant option not held); revoking a permission also revokes its grant option; an entry left empty
  disappears. Batch* report failed entries in `Failures` [{RequestEntry, Error {ErrorCode, ErrorMessage}}] and apply
  the others. ListPermissions on a Table lists its TableWithColumns grants too (and its filters' with IncludeRelated).
  Resources come back with their catalog ids filled in, names in lower case and column lists sorted.

Choices where AWS's behaviour is not documented (kept simple, strict where a client bug would otherwise hide):
- CreateLFTag of an existing key → InvalidInputException (the operation has no AlreadyExistsException in the model).
- UpdateLFTag deleting a value the key lacks, or leaving no value → InvalidInputException; deleting a value (or
  DeleteLFTag) removes it from every resource, as AWS does despite its docs.
- RemoveLFTagsFromResource of a valid tag not assigned to that resource (e.g. inherited) is a no-op.
- A data cells filter needs a RowFilter with exactly one of FilterExpression / AllRowsWildcard, and exactly one of a
  non-empty ColumnNames or ColumnWildcard (an empty ColumnNames list counts as absent). It is returned as stored.
  ListDataCellsFilter of a table that does not exist returns no filters (the operation has no EntityNotFoundException).
- Deleting a data cells filter also drops the permissions granted on it.
- Grants check that Database / Table / TableWithColumns / DataCellsFilter / LFTag / LFTagPolicy resources exist
  (EntityNotFoundException; unknown column → InvalidInputException) and that permission names are valid; data
  locations are not checked against registered resources. No implicit permissions (IAM_ALLOWED_PRINCIPALS defaults,
  data lake admins) are listed. ResourceType TABLE also selects TableWithColumns and DataCellsFilter grants.
- A dropped table takes its tags (table and columns), data cells filters and the grants on them with it, as in AWS
  (where permissions and tags belong to the catalog object, not to its name): a table created again under the same name
  starts bare. A table's identity is its creation time, so a drop and re-create through Spark (the thrift metastore,
  which the simulator does not see) is noticed too, on the next Lake Formation call.

Fault hook (POST /_sim/faults {"lf_failures": {"principals": [...], "tag_keys": [...]}}): entries of Batch*Permissions
naming those principals, and tags of Add/RemoveLFTagsFromResource with those keys, are reported in `Failures` with
AccessDeniedException and not applied, as AWS reports per-entry authorization failures; the rest of the call applies.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import AwsError
from .server import ACCOUNT_ID, SimRequest

PERMISSIONS = frozenset({
    "ALL", "SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE", "CREATE_DATABASE", "CREATE_TABLE",
    "DATA_LOCATION_ACCESS", "CREATE_LF_TAG", "ASSOCIATE", "GRANT_WITH_LF_TAG_EXPRESSION", "CREATE_LF_TAG_EXPRESSION",
    "CREATE_CATALOG", "SUPER_USER",
})  # fmt: skip
RESOURCE_KINDS = ("Catalog", "Database", "Table", "TableWithColumns", "DataLocation", "DataCellsFilter", "LFTag",
                  "LFTagPolicy", "LFTagExpression")  # fmt: skip
# ListPermissions ResourceType → the resource kinds it selects.
RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "CATALOG": ("Catalog",), "DATABASE": ("Database",), "TABLE": ("Table", "TableWithColumns", "DataCellsFilter"),
    "DATA_LOCATION": ("DataLocation",), "LF_TAG": ("LFTag",), "LF_TAG_POLICY": ("LFTagPolicy",),
    "LF_TAG_POLICY_DATABASE": ("LFTagPolicy",), "LF_TAG_POLICY_TABLE": ("LFTagPolicy",),
    "LF_NAMED_TAG_EXPRESSION": ("LFTagExpression",),
}  # fmt: skip
MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_VALUES = 1000
NOT_REVOKED = "No permissions revoked. Grantee has no permissions and no grantable permissions on resource"

# A resource that carries LF-tags: ("db", db) | ("table", db, table) | ("column", db, table, column).
TagTarget = tuple[str, ...]


@dataclass
class Grant:
    """What one principal holds on one resource."""

    principal: dict[str, Any]
    resource: dict[str, Any]  # canonical form: {kind: {...}}
    permissions: set[str] = field(default_factory=set)
    grantable: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "Principal": self.principal,
            "Resource": self.resource,
            "Permissions": sorted(self.permissions),
            "PermissionsWithGrantOption": sorted(self.grantable),
        }


@dataclass
class CatalogState:
    """Lake Formation state of one catalog id."""

    tags: dict[str, list[str]] = field(default_factory=dict)  # LF-tag key → its values
    assigned: dict[TagTarget, dict[str, str]] = field(default_factory=dict)  # resource → {key: value}
    filters: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (db, table, name) → filter
    grants: dict[str, Grant] = field(default_factory=dict)  # json of (principal, resource) → grant
    born: dict[tuple[str, str], int] = field(default_factory=dict)  # (db, table) with LF state → its creation time


class LakeFormation:
    """Handlers of the Lake Formation operations the simulator answers itself."""

    OPERATIONS = (
        "CreateLFTag", "GetLFTag", "UpdateLFTag", "DeleteLFTag", "ListLFTags",
        "AddLFTagsToResource", "RemoveLFTagsFromResource", "GetResourceLFTags",
        "CreateDataCellsFilter", "GetDataCellsFilter", "UpdateDataCellsFilter", "DeleteDataCellsFilter",
        "ListDataCellsFilter",
        "GrantPermissions", "RevokePermissions", "BatchGrantPermissions", "BatchRevokePermissions", "ListPermissions",
    )  # fmt: skip

    def __init__(self, sim: Any, catalog: Any) -> None:
        self.sim = sim
        self.catalog = catalog
        self._lock = threading.RLock()
        self._catalogs: dict[str, CatalogState] = {}

    def handlers(self) -> dict[tuple[str, str], Callable[[SimRequest], Any]]:
        return {("lakeformation", op): getattr(self, _snake(op)) for op in self.OPERATIONS}

    # ---- plumbing ----

    def _state(self, catalog_id: str) -> CatalogState:
        with self._lock:
            state = self._catalogs.setdefault(catalog_id, CatalogState())
            known = list(state.born.items())
        # Tables dropped (or dropped and created again) since their LF state was set lose that state.
        gone = [key for key, born in known if self.catalog.table_created(*key) != born]
        if gone:
            with self._lock:
                for key in gone:
                    _forget_table(state, key)
        return state

    def _remember(self, state: CatalogState, db: str, table: str) -> None:
        """Records the identity of a table that now has LF state (called under the lock)."""
        if (db, table) not in state.born:
            created = self.catalog.table_created(db, table)
            if created is not None:
                state.born[(db, table)] = created

    def _denied(self, what: str) -> list[str]:
        hook = self.sim.fault_hooks.get("lf_failures") or {}
        return [str(x) for x in hook.get(what, [])]

    @staticmethod
    def _catalog_id(*candidates: Any) -> str:
        """The first CatalogId given among `candidates`, else the simulator's account; it must be 12 digits."""
        cid = next((c for c in candidates if c), ACCOUNT_ID)
        if not isinstance(cid, str) or not re.fullmatch(r"\d{12}", cid):
            raise AwsError("InvalidInputException", f"Invalid catalog id {cid!r}: expected a 12-digit account id")
        return cid

    def _page(self, req: SimRequest, items: list[Any], key: str) -> dict[str, Any]:
        query = {k: v for k, v in req.body.items() if k not in ("NextToken", "MaxResults")}
        page, token = self.sim.page(items, req.body.get("NextToken"), int(req.body.get("MaxResults") or 0), query)
        return {key: page, **({"NextToken": token} if token else {})}

    # ---- the Glue catalog ----

    def _database(self, db: Any) -> str:
        if not isinstance(db, str) or not db:
            raise AwsError("InvalidInputException", "DatabaseName is required")
        if not self.catalog.database_exists(db):
            raise AwsError("EntityNotFoundException", f"Database {db} not found.")
        return db.lower()

    def _columns(self, db: Any, table: Any) -> list[str]:
        """The columns (partition keys included) of a table that must exist."""
        db = self._database(db)
        if not isinstance(table, str) or not table:
            raise AwsError("InvalidInputException", "Table name is required")
        if not self.catalog.table_exists(db, table.lower()):
            raise AwsError("EntityNotFoundException", f"Table {table} not found in database {db}.")
        return [c.lower() for c in self.catalog.table_columns(db, table.lower())]

    @staticmethod
    def _known_columns(names: list[str], columns: list[str], where: str, code: str = "InvalidInputException") -> None:
        missing = [n for n in names if n.lower() not in columns]
        if missing:
            raise AwsError(code, f"Column(s) {', '.join(missing)} do not exist in table {where}.")

    # ---- LF-tags ----

    def create_lf_tag(self, req: SimRequest) -> dict[str, Any]:
        state = self._state(self._catalog_id(req.body.get("CatalogId")))
        key = _tag_key(req.body.get("TagKey"))
        values = _tag_values(req.body.get("TagValues"), "TagValues")
        with self._lock:
            if key in state.tags:
                raise AwsError("InvalidInputException", f"Tag key {key} already exists.")
            state.tags[key] = _unique(values)
        return {}

    def get_lf_tag(self, req: SimRequest) -> dict[str, Any]:
        cid = self._catalog_id(req.body.get("CatalogId"))
        state = self._state(cid)
        key = _tag_key(req.body.get("TagKey"))
        with self._lock:
            return {"CatalogId": cid, "TagKey": key, "TagValues": list(self._tag(state, key))}

    def update_lf_tag(self, req: SimRequest) -> dict[str, Any]:
        state = self._state(self._catalog_id(req.body.get("CatalogId")))
        key = _tag_key(req.body.get("TagKey"))
        to_delete = _tag_values(req.body.get("TagValuesToDelete") or [], "TagValuesToDelete", allow_empty=True)
        to_add = _tag_values(req.body.get("TagValuesToAdd") or [], "TagValuesToAdd", allow_empty=True)
        if not to_delete and not to_add:
            raise AwsError("InvalidInputException", "TagValuesToAdd or TagValuesToDelete is required")
        with self._lock:
            values = self._tag(state, key)
            unknown = [v for v in to_delete if v not in values]
            if unknown:
                raise AwsError(
                    "InvalidInputException", f"Tag value(s) {', '.join(unknown)} do not exist for tag key {key}."
                )
            kept = _unique([v for v in values if v not in to_delete] + to_add)
            if not kept:
                raise AwsError("InvalidInputException", f"Tag key {key} must keep at least one value.")
            if len(kept) > MAX_TAG_VALUES:
                raise AwsError("InvalidInputException", f"Tag key {key} can have at most {MAX_TAG_VALUES} values.")
            state.tags[key] = kept
            for tags in state.assigned.values():
                if tags.get(key) in to_delete:
                    del tags[key]
        return {}

    def delete_lf_tag(self, req: SimRequest) -> dict[str, Any]:
        state = self._state(self._catalog_id(req.body.get("CatalogId")))
        key = _tag_key(req.body.get("TagKey"))
        with self._lock:
            self._tag(state, key)
            del state.tags[key]
            for tags in state.assigned.values():
                tags.pop(key, None)
            for grant_key, grant in list(state.grants.items()):
                if grant.resource.get("LFTag", {}).get("TagKey") == key:
                    del state.grants[grant_key]
        return {}

    def list_lf_tags(self, req: SimRequest) -> dict[str, Any]:
        cid = self._catalog_id(req.body.get("CatalogId"))
        share = req.body.get("ResourceShareType")
        if share not in (None, "ALL", "FOREIGN"):
            raise AwsError("InvalidInputException", f"Invalid ResourceShareType {share}")
        state = self._state(cid)
        with self._lock:
            items = (
                []
                if share == "FOREIGN"
                else [{"CatalogId": cid, "TagKey": k, "TagValues": list(v)} for k, v in sorted(state.tags.items())]
            )
        return self._page(req, items, "LFTags")

    @staticmethod
    def _tag(state: CatalogState, key: str) -> list[str]:
        if key not in state.tags:
            raise AwsError("EntityNotFoundException", "Tag key does not exist")
        return state.tags[key]

    def _tag_request(self, state: CatalogState, pairs: Any, adding: bool) -> dict[str, list[str]]:
        """Checks the LFTags of an add/remove against the catalog's tags: key → values (lower case)."""
        if not isinstance(pairs, list) or not pairs:
            raise AwsError("InvalidInputException", "LFTags is required")
        wanted: dict[str, list[str]] = {}
        for pair in pairs:
            key = _tag_key(pair.get("TagKey"))
            values = _tag_values(pair.get("TagValues"), "TagValues")
            for value in values:
                if value not in self._tag(state, key):
                    raise AwsError("InvalidInputException", f"Tag value {value} is not a valid value of tag key {key}.")
            if adding and (len(set(values)) != 1 or (key in wanted and wanted[key] != values)):
                raise AwsError(
                    "InvalidInputException", f"Only one value of tag key {key} can be assigned to a resource."
                )
            wanted[key] = _unique(wanted.get(key, []) + values)
        return wanted

    def _tag_targets(self, resource: Any) -> tuple[list[TagTarget], list[str] | None]:
        """The tag-carrying resources a Resource names (which must exist) and, for tables, the columns to show."""
        if not isinstance(resource, dict) or len([k for k in RESOURCE_KINDS if k in resource]) != 1:
            raise AwsError(
                "InvalidInputException", "Resource must name exactly one of Database, Table, TableWithColumns"
            )
        if "Database" in resource:
            return [("db", self._database(resource["Database"].get("Name")))], None
        if "Table" in resource:
            table = resource["Table"]
            if table.get("TableWildcard") is not None or not table.get("Name"):
                raise AwsError(
                    "InvalidInputException", "LF-tags can be assigned to a named table only (no TableWildcard)"
                )
            columns = self._columns(table.get("DatabaseName"), table["Name"])
            return [("table", table["DatabaseName"].lower(), table["Name"].lower())], columns
        if "TableWithColumns" in resource:
            twc = resource["TableWithColumns"]
            names = [c.lower() for c in twc.get("ColumnNames") or []]
            if twc.get("ColumnWildcard") is not None or not names:
                raise AwsError("InvalidInputException", "LF-tags can be assigned to named columns only (ColumnNames)")
            db, name = twc.get("DatabaseName"), twc.get("Name")
            self._known_columns(names, self._columns(db, name), f"{db}.{name}", "EntityNotFoundException")
            return [("column", db.lower(), name.lower(), c) for c in _unique(names)], names
        raise AwsError(
            "InvalidInputException",
            f"LF-tags cannot be assigned to a {next(k for k in RESOURCE_KINDS if k in resource)}",
        )

    @staticmethod
    def _resource_catalog(resource: Any) -> Any:
        if isinstance(resource, dict):
            for inner in resource.values():
                if isinstance(inner, dict) and (inner.get("CatalogId") or inner.get("TableCatalogId")):
                    return inner.get("CatalogId") or inner.get("TableCatalogId")
        return None

    def _split_denied(self, wanted: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Removes the tags the `lf_failures` fault denies from `wanted`; returns their Failures entries."""
        failures = []
        for key in [k for k in wanted if k in self._denied("tag_keys")]:
            failures.append({
                "LFTag": {"TagKey": key, "TagValues": wanted.pop(key)},
                "Error": {"ErrorCode": "AccessDeniedException", "ErrorMessage": f"Insufficient permissions on tag {key}"},
            })  # fmt: skip
        return failures

    def add_lf_tags_to_resource(self, req: SimRequest) -> dict[str, Any]:
        resource = req.body.get("Resource")
        state = self._state(self._catalog_id(req.body.get("CatalogId"), self._resource_catalog(resource)))
        targets, _ = self._tag_targets(resource)
        with self._lock:
            wanted = self._tag_request(state, req.body.get("LFTags"), adding=True)
            failures = self._split_denied(wanted)
            for target in targets:
                if len(set(state.assigned.get(target, {})) | set(wanted)) > MAX_TAGS_PER_RESOURCE:
                    raise AwsError("InvalidInputException", f"At most {MAX_TAGS_PER_RESOURCE} LF-tags per resource.")
            for target in targets:
                state.assigned.setdefault(target, {}).update({k: v[0] for k, v in wanted.items()})
                if target[0] != "db":
                    self._remember(state, target[1], target[2])
        return {"Failures": failures}

    def remove_lf_tags_from_resource(self, req: SimRequest) -> dict[str, Any]:
        resource = req.body.get("Resource")
        state = self._state(self._catalog_id(req.body.get("CatalogId"), self._resource_catalog(resource)))
        targets, _ = self._tag_targets(resource)
        with self._lock:
            wanted = self._tag_request(state, req.body.get("LFTags"), adding=False)
            failures = self._split_denied(wanted)
            for target in targets:
                tags = state.assigned.get(target, {})
                for key, values in wanted.items():
                    if tags.get(key) in values:
                        del tags[key]
        return {"Failures": failures}

    def get_resource_lf_tags(self, req: SimRequest) -> dict[str, Any]:
        resource = req.body.get("Resource")
        cid = self._catalog_id(req.body.get("CatalogId"), self._resource_catalog(resource))
        state = self._state(cid)
        assigned_only = bool(req.body.get("ShowAssignedLFTags"))
        targets, columns = self._tag_targets(resource)
        db = targets[0][1]

        def pairs(tags: dict[str, str]) -> list[dict[str, Any]]:
            return [{"CatalogId": cid, "TagKey": k, "TagValues": [v]} for k, v in sorted(tags.items())]

        with self._lock:
            on_db = dict(state.assigned.get(("db", db), {}))
            out: dict[str, Any] = {"LFTagOnDatabase": pairs(on_db)}
            if targets[0][0] != "db":
                table = targets[0][2]
                on_table = dict(state.assigned.get(("table", db, table), {}))
                inherited = {**on_db, **on_table}
                out["LFTagsOnTable"] = pairs(on_table if assigned_only else inherited)
                out["LFTagsOnColumns"] = []
                for column in columns or []:
                    own = state.assigned.get(("column", db, table, column), {})
                    tags = own if assigned_only else {**inherited, **own}
                    if tags:
                        out["LFTagsOnColumns"].append({"Name": column, "LFTags": pairs(tags)})
        return {k: v for k, v in out.items() if v}

    # ---- data cells filters ----

    def _filter_key(self, body: dict[str, Any]) -> tuple[str, tuple[str, str, str]]:
        cid = self._catalog_id(body.get("TableCatalogId"))
        parts = [body.get(k) for k in ("DatabaseName", "TableName", "Name")]
        if not all(isinstance(p, str) and p for p in parts):
            raise AwsError("InvalidInputException", "DatabaseName, TableName and Name are required")
        return cid, (parts[0].lower(), parts[1].lower(), parts[2])

    def _checked_filter(self, data: Any) -> tuple[str, tuple[str, str, str], dict[str, Any]]:
        """Validates a TableData against the Glue catalog; returns its catalog, key and stored form."""
        if not isinstance(data, dict):
            raise AwsError("InvalidInputException", "TableData is required")
        cid, key = self._filter_key(data)
        columns = self._columns(key[0], key[1])
        row = data.get("RowFilter")
        if not isinstance(row, dict) or ("FilterExpression" in row) == ("AllRowsWildcard" in row):
            raise AwsError(
                "InvalidInputException", "RowFilter needs exactly one of FilterExpression and AllRowsWildcard"
            )
        if "FilterExpression" in row and not str(row["FilterExpression"]).strip():
            raise AwsError("InvalidInputException", "RowFilter FilterExpression must not be empty")
        names, wildcard = data.get("ColumnNames") or [], data.get("ColumnWildcard")
        if names and wildcard is not None:
            raise AwsError(
                "InvalidInputException",
                "Data cells filter cannot have both column wildcard expression and column names.",
            )
        if not names and wildcard is None:
            raise AwsError("InvalidInputException", "Data cells filter needs either ColumnNames or ColumnWildcard.")
        where = f"{key[0]}.{key[1]}"
        stored: dict[str, Any] = {
            "TableCatalogId": cid,
            "DatabaseName": key[0],
            "TableName": key[1],
            "Name": key[2],
            "RowFilter": row,
        }
        if names:
            self._known_columns(names, columns, where)
            stored["ColumnNames"] = [n.lower() for n in names]
        else:
            excluded = (wildcard or {}).get("ExcludedColumnNames") or []
            self._known_columns(excluded, columns, where)
            stored["ColumnWildcard"] = {"ExcludedColumnNames": [n.lower() for n in excluded]}
        stored["VersionId"] = str(uuid.uuid4())
        return cid, key, stored

    def create_data_cells_filter(self, req: SimRequest) -> dict[str, Any]:
        cid, key, stored = self._checked_filter(req.body.get("TableData"))
        state = self._state(cid)
        with self._lock:
            if key in state.filters:
                raise AwsError(
                    "AlreadyExistsException", f"Data cells filter {key[2]} already exists on table {key[0]}.{key[1]}."
                )
            state.filters[key] = stored
            self._remember(state, key[0], key[1])
        return {}

    def update_data_cells_filter(self, req: SimRequest) -> dict[str, Any]:
        data = req.body.get("TableData")
        cid, key, stored = self._checked_filter(data)
        state = self._state(cid)
        with self._lock:
            current = self._filter(state, key)
            expected = data.get("VersionId")
            if expected and expected != current["VersionId"]:
                raise AwsError(
                    "ConcurrentModificationException",
                    f"Data cells filter {key[2]} was modified: VersionId {expected} is not its current version.",
                )
            state.filters[key] = stored
        return {}

    def get_data_cells_filter(self, req: SimRequest) -> dict[str, Any]:
        cid, key = self._filter_key(req.body)
        state = self._state(cid)
        with self._lock:
            return {"DataCellsFilter": _copy(self._filter(state, key))}

    def delete_data_cells_filter(self, req: SimRequest) -> dict[str, Any]:
        cid, key = self._filter_key(req.body)
        state = self._state(cid)
        with self._lock:
            self._filter(state, key)
            del state.filters[key]
            resource = {
                "DataCellsFilter": {"TableCatalogId": cid, "DatabaseName": key[0], "TableName": key[1], "Name": key[2]}
            }
            for other in self._catalogs.values():
                for grant_key, grant in list(other.grants.items()):
                    if grant.resource == resource:
                        del other.grants[grant_key]
        return {}

    def list_data_cells_filter(self, req: SimRequest) -> dict[str, Any]:
        table = req.body.get("Table")
        if table is not None and not (isinstance(table, dict) and table.get("DatabaseName") and table.get("Name")):
            raise AwsError("InvalidInputException", "Table needs DatabaseName and Name")
        cid = self._catalog_id((table or {}).get("CatalogId"))
        state = self._state(cid)
        with self._lock:
            items = [
                _copy(f)
                for k, f in sorted(state.filters.items())
                if table is None or k[:2] == (table["DatabaseName"].lower(), table["Name"].lower())
            ]
        return self._page(req, items, "DataCellsFilters")

    @staticmethod
    def _filter(state: CatalogState, key: tuple[str, str, str]) -> dict[str, Any]:
        if key not in state.filters:
            raise AwsError(
                "EntityNotFoundException", f"Data cells filter {key[2]} not found on table {key[0]}.{key[1]}."
            )
        return state.filters[key]

    # ---- permissions ----

    def _canonical(self, resource: Any, cid: str) -> tuple[str, dict[str, Any]]:
        """The resource's kind and its canonical form (catalog ids filled in, names lower case, lists sorted)."""
        kinds = [k for k in RESOURCE_KINDS if isinstance(resource, dict) and k in resource]
        if len(kinds) != 1 or not isinstance(resource[kinds[0]], dict):
            raise AwsError("InvalidInputException", f"Resource must name exactly one of {', '.join(RESOURCE_KINDS)}")
        kind, r = kinds[0], resource[kinds[0]]

        def need(*keys: str) -> None:
            missing = [k for k in keys if not r.get(k)]
            if missing:
                raise AwsError("InvalidInputException", f"{kind} resource needs {', '.join(missing)}")

        out: dict[str, Any] = {"CatalogId": r.get("CatalogId") or cid}
        if kind == "Catalog":
            out = {k: v for k, v in r.items()}
        elif kind == "Database":
            need("Name")
            out["Name"] = r["Name"].lower()
        elif kind == "Table":
            need("DatabaseName")
            if bool(r.get("Name")) == (r.get("TableWildcard") is not None):
                raise AwsError("InvalidInputException", "Table resource needs exactly one of Name and TableWildcard")
            out["DatabaseName"] = r["DatabaseName"].lower()
            out.update({"Name": r["Name"].lower()} if r.get("Name") else {"TableWildcard": {}})
        elif kind == "TableWithColumns":
            need("DatabaseName", "Name")
            names = r.get("ColumnNames") or []
            if bool(names) == (r.get("ColumnWildcard") is not None):
                raise AwsError(
                    "InvalidInputException", "TableWithColumns needs exactly one of ColumnNames and ColumnWildcard"
                )
            out.update(DatabaseName=r["DatabaseName"].lower(), Name=r["Name"].lower())
            if names:
                out["ColumnNames"] = sorted({n.lower() for n in names})
            else:
                excluded = (r.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or []
                out["ColumnWildcard"] = {"ExcludedColumnNames": sorted({n.lower() for n in excluded})}
        elif kind == "DataCellsFilter":
            need("DatabaseName", "TableName", "Name")
            out = {
                "TableCatalogId": r.get("TableCatalogId") or cid,
                "DatabaseName": r["DatabaseName"].lower(),
                "TableName": r["TableName"].lower(),
                "Name": r["Name"],
            }
        elif kind == "DataLocation":
            need("ResourceArn")
            out["ResourceArn"] = r["ResourceArn"]
        elif kind == "LFTag":
            need("TagKey", "TagValues")
            out.update(TagKey=_tag_key(r["TagKey"]), TagValues=sorted(set(_tag_values(r["TagValues"], "TagValues"))))
        elif kind == "LFTagPolicy":
            need("ResourceType")
            if bool(r.get("Expression")) == bool(r.get("ExpressionName")):
                raise AwsError(
                    "InvalidInputException", "LFTagPolicy needs exactly one of Expression and ExpressionName"
                )
            out["ResourceType"] = r["ResourceType"]
            if r.get("Expression"):
                out["Expression"] = [
                    {
                        "TagKey": _tag_key(e.get("TagKey")),
                        "TagValues": sorted(set(_tag_values(e.get("TagValues"), "TagValues"))),
                    }
                    for e in r["Expression"]
                ]
            else:
                out["ExpressionName"] = r["ExpressionName"]
        else:  # LFTagExpression
            need("Name")
            out["Name"] = r["Name"]
        if "CatalogId" in out:
            self._catalog_id(out["CatalogId"])
        if "TableCatalogId" in out:
            self._catalog_id(out["TableCatalogId"])
        return kind, {kind: out}

    def _check_exists(self, resource: dict[str, Any]) -> None:
        """Fails as AWS does when a grant names a resource that does not exist."""
        kind, r = next(iter(resource.items()))
        if kind == "Database":
            self._database(r["Name"])
        elif kind == "Table" and "Name" in r:
            self._columns(r["DatabaseName"], r["Name"])
        elif kind == "Table":
            self._database(r["DatabaseName"])
        elif kind == "TableWithColumns":
            columns = self._columns(r["DatabaseName"], r["Name"])
            names = r.get("ColumnNames") or r.get("ColumnWildcard", {}).get("ExcludedColumnNames", [])
            self._known_columns(names, columns, f"{r['DatabaseName']}.{r['Name']}")
        elif kind == "DataCellsFilter":
            state = self._state(r["TableCatalogId"])
            with self._lock:
                self._filter(state, (r["DatabaseName"], r["TableName"], r["Name"]))
        elif kind in ("LFTag", "LFTagPolicy"):
            state = self._state(r["CatalogId"])
            for pair in r.get("Expression") or ([r] if kind == "LFTag" else []):
                with self._lock:
                    values = self._tag(state, pair["TagKey"])
                bad = [v for v in pair["TagValues"] if v != "*" and v not in values]
                if bad:
                    raise AwsError(
                        "InvalidInputException", f"Tag value {bad[0]} is not a valid value of tag key {pair['TagKey']}."
                    )

    def _entry(self, entry: Any, cid: str) -> tuple[str, Grant]:
        """A grant/revoke request: its key in the store and what it names (canonical resource, permission sets)."""
        if not isinstance(entry, dict):
            raise AwsError("InvalidInputException", "an entry must be an object")
        principal = entry.get("Principal")
        if not isinstance(principal, dict) or not principal.get("DataLakePrincipalIdentifier"):
            raise AwsError("InvalidInputException", "Principal.DataLakePrincipalIdentifier is required")
        principal = {"DataLakePrincipalIdentifier": principal["DataLakePrincipalIdentifier"]}
        _, resource = self._canonical(entry.get("Resource"), cid)
        asked = Grant(
            principal, resource, set(entry.get("Permissions") or []), set(entry.get("PermissionsWithGrantOption") or [])
        )
        unknown = sorted((asked.permissions | asked.grantable) - PERMISSIONS)
        if unknown:
            raise AwsError("InvalidInputException", f"Invalid permission(s): {', '.join(unknown)}")
        if not asked.permissions and not asked.grantable:
            raise AwsError("InvalidInputException", "Permissions must not be empty")
        return json.dumps([principal, resource], sort_keys=True), asked

    def _grant(self, cid: str, entry: Any) -> None:
        key, asked = self._entry(entry, cid)
        self._check_exists(asked.resource)
        state = self._state(cid)
        with self._lock:
            grant = state.grants.setdefault(key, Grant(asked.principal, asked.resource))
            table = _table_of(asked.resource)
            if table is not None:
                self._remember(state, *table)
            grant.permissions |= asked.permissions
            grant.grantable |= asked.grantable

    def _revoke(self, cid: str, entry: Any) -> None:
        key, asked = self._entry(entry, cid)
        state = self._state(cid)
        with self._lock:
            grant = state.grants.get(key)
            if grant is None or not asked.permissions <= grant.permissions or not asked.grantable <= grant.grantable:
                raise AwsError("InvalidInputException", NOT_REVOKED)
            grant.permissions -= asked.permissions
            grant.grantable -= asked.permissions | asked.grantable
            if not grant.permissions and not grant.grantable:
                del state.grants[key]

    def grant_permissions(self, req: SimRequest) -> dict[str, Any]:
        self._grant(self._catalog_id(req.body.get("CatalogId")), req.body)
        return {}

    def revoke_permissions(self, req: SimRequest) -> dict[str, Any]:
        self._revoke(self._catalog_id(req.body.get("CatalogId")), req.body)
        return {}

    def _batch(self, req: SimRequest, apply: Callable[[str, Any], None]) -> dict[str, Any]:
        cid = self._catalog_id(req.body.get("CatalogId"))
        entries = req.body.get("Entries")
        if not isinstance(entries, list) or not entries:
            raise AwsError("InvalidInputException", "Entries is required")
        ids = [e.get("Id") if isinstance(e, dict) else None for e in entries]
        if any(not i for i in ids) or len(set(ids)) != len(ids):
            raise AwsError("InvalidInputException", "every entry needs an Id, unique within the request")
        failures = []
        denied = self._denied("principals")
        for entry in entries:
            who = ((entry or {}).get("Principal") or {}).get("DataLakePrincipalIdentifier")
            if who in denied:
                failures.append({
                    "RequestEntry": entry,
                    "Error": {"ErrorCode": "AccessDeniedException", "ErrorMessage": f"Insufficient permissions for {who}"},
                })  # fmt: skip
                continue
            try:
                apply(cid, entry)
            except AwsError as err:
                failures.append({"RequestEntry": entry, "Error": {"ErrorCode": err.code, "ErrorMessage": err.message}})
        return {"Failures": failures}

    def batch_grant_permissions(self, req: SimRequest) -> dict[str, Any]:
        return self._batch(req, self._grant)

    def batch_revoke_permissions(self, req: SimRequest) -> dict[str, Any]:
        return self._batch(req, self._revoke)

    def list_permissions(self, req: SimRequest) -> dict[str, Any]:
        body = req.body
        cid = self._catalog_id(body.get("CatalogId"))
        principal = (body.get("Principal") or {}).get("DataLakePrincipalIdentifier")
        resource = body.get("Resource")
        related = str(body.get("IncludeRelated") or "").upper() == "TRUE"
        if principal and resource is None:
            raise AwsError("InvalidInputException", "Resource is mandatory if Principal is set in the input.")
        if principal and related:
            raise AwsError("InvalidInputException", "Principal must not be set with IncludeRelated.")
        rtype = body.get("ResourceType")
        if rtype is not None and rtype not in RESOURCE_TYPES:
            raise AwsError("InvalidInputException", f"Invalid ResourceType {rtype}")
        query = self._canonical(resource, cid) if resource is not None else None
        state = self._state(cid)
        with self._lock:
            items = [
                g.to_json()
                for g in state.grants.values()
                if (not principal or g.principal["DataLakePrincipalIdentifier"] == principal)
                and (rtype is None or _selected_by_type(rtype, g.resource))
                and (query is None or _selected_by_resource(query, g.resource, related))
            ]
        return self._page(req, items, "PrincipalResourcePermissions")


def _table_of(resource: dict[str, Any]) -> tuple[str, str] | None:
    """The (db, table) a canonical resource belongs to, for Table (named), TableWithColumns and DataCellsFilter."""
    kind, r = next(iter(resource.items()))
    if kind == "Table" and "Name" in r:
        return r["DatabaseName"], r["Name"]
    if kind == "TableWithColumns":
        return r["DatabaseName"], r["Name"]
    if kind == "DataCellsFilter":
        return r["DatabaseName"], r["TableName"]
    return None


def _forget_table(state: CatalogState, key: tuple[str, str]) -> None:
    """Drops the LF state of a table that no longer exists as it was (called under the lock)."""
    db, table = key
    for target in [t for t in state.assigned if t[0] in ("table", "column") and t[1:3] == (db, table)]:
        del state.assigned[target]
    for fkey in [k for k in state.filters if k[:2] == (db, table)]:
        del state.filters[fkey]
    for gkey in [k for k, g in state.grants.items() if _table_of(g.resource) == (db, table)]:
        del state.grants[gkey]
    del state.born[key]


def _selected_by_type(rtype: str, resource: dict[str, Any]) -> bool:
    kind = next(iter(resource))
    if kind not in RESOURCE_TYPES[rtype]:
        return False
    if rtype in ("LF_TAG_POLICY_DATABASE", "LF_TAG_POLICY_TABLE"):
        return resource[kind]["ResourceType"] == rtype.rsplit("_", 1)[1]
    return True


def _selected_by_resource(query: tuple[str, dict[str, Any]], resource: dict[str, Any], related: bool) -> bool:
    """ListPermissions' Resource filter: the same resource; a named Table also selects its column grants (and its data
    cells filters' grants with IncludeRelated)."""
    qkind, q = query[0], query[1][query[0]]
    kind, r = next(iter(resource.items()))
    if qkind == "Table" and "Name" in q and kind in ("TableWithColumns", "DataCellsFilter"):
        if kind == "DataCellsFilter":
            return related and (r["TableCatalogId"], r["DatabaseName"], r["TableName"]) == (
                q["CatalogId"],
                q["DatabaseName"],
                q["Name"],
            )
        return (r["CatalogId"], r["DatabaseName"], r["Name"]) == (q["CatalogId"], q["DatabaseName"], q["Name"])
    return kind == qkind and r == q


def _tag_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise AwsError("InvalidInputException", "TagKey is required")
    return key.lower()


def _tag_values(values: Any, name: str, allow_empty: bool = False) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or (not values and not allow_empty):
        raise AwsError("InvalidInputException", f"{name} must be a non-empty list of strings")
    return [v.lower() for v in values]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name.replace("LFTag", "LfTag")).lower().replace("__", "_")

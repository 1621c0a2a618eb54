"""Lake Formation in the simulator: data cells filters, strict LF-tags with inheritance, a permission store that
survives revoke-after-merge (moto 5.2.1's KeyError), per-catalog state and paging. Tables come from the Glue API.

The simulator is shared by the whole session: every test uses its own database and tag keys (uuid suffix), and tests
that count list results work in a catalog id of their own.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/"


@pytest.fixture
def lf(sim: Any) -> Any:
    return sim.client("lakeformation")


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def other_catalog() -> str:
    """A catalog id of the test's own (12 digits, not the simulator's account)."""
    return str(random.randint(2 * 10**11, 10**12 - 1))


def make_table(
    glue: Any, columns: tuple[str, ...] = ("id", "name", "email"), partition: str | None = "dt"
) -> tuple[str, str]:
    db = unique("lf")
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(
        DatabaseName=db,
        TableInput={
            "Name": "customers",
            "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in columns]},
            "PartitionKeys": [{"Name": partition, "Type": "string"}] if partition else [],
        },
    )
    return db, "customers"


def make_tag(lf: Any, values: list[str], catalog: str | None = None) -> str:
    key = unique("tag")
    lf.create_lf_tag(TagKey=key, TagValues=values, **({"CatalogId": catalog} if catalog else {}))
    return key


def filter_data(db: str, table: str, name: str, **columns: Any) -> dict[str, Any]:
    data = {
        "TableCatalogId": ACCOUNT,
        "DatabaseName": db,
        "TableName": table,
        "Name": name,
        "RowFilter": {"FilterExpression": "id > 15"},
    }
    return {**data, **(columns or {"ColumnWildcard": {"ExcludedColumnNames": []}})}


def follow(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> tuple[list[Any], int]:
    """All items of a paged list operation, and the number of calls it took."""
    items, token, calls = [], None, 0
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        calls += 1
        assert len(page[key]) <= 2, "pages of sim.config.page_size (2)"
        items += page[key]
        token = page.get("NextToken")
        if not token:
            return items, calls


def operations(sim: Any, since: int) -> list[str]:
    return [e["operation"] for e in sim.log(since) if e["service"] == "lakeformation"]


# ---- data cells filters ----


def test_data_cells_filter_crud(lf, glue):
    db, table = make_table(glue)
    ident = {"TableCatalogId": ACCOUNT, "DatabaseName": db, "TableName": table, "Name": "f1"}
    lf.create_data_cells_filter(TableData=filter_data(db, table, "f1", ColumnNames=["id", "Name"]))
    got = lf.get_data_cells_filter(**ident)["DataCellsFilter"]
    assert got["ColumnNames"] == ["id", "name"] and "ColumnWildcard" not in got
    assert got["RowFilter"] == {"FilterExpression": "id > 15"} and got["VersionId"]
    listed = lf.list_data_cells_filter(Table={"CatalogId": ACCOUNT, "DatabaseName": db, "Name": table})[
        "DataCellsFilters"
    ]
    assert listed == [got]

    update = filter_data(db, table, "f1", ColumnWildcard={"ExcludedColumnNames": ["email"]})
    update["RowFilter"] = {"AllRowsWildcard": {}}
    lf.update_data_cells_filter(TableData=update)
    updated = lf.get_data_cells_filter(**ident)["DataCellsFilter"]
    assert updated["ColumnWildcard"] == {"ExcludedColumnNames": ["email"]} and "ColumnNames" not in updated
    assert updated["RowFilter"] == {"AllRowsWildcard": {}}
    assert updated["VersionId"] != got["VersionId"], "every update gets a new VersionId"
    stale = {**update, "VersionId": got["VersionId"]}
    assert error_of(lf.update_data_cells_filter, TableData=stale)[0] == "ConcurrentModificationException"
    lf.update_data_cells_filter(TableData={**update, "VersionId": updated["VersionId"]})

    lf.delete_data_cells_filter(**ident)
    assert error_of(lf.get_data_cells_filter, **ident)[0] == "EntityNotFoundException"
    assert error_of(lf.delete_data_cells_filter, **ident)[0] == "EntityNotFoundException"
    assert lf.list_data_cells_filter(Table={"DatabaseName": db, "Name": table})["DataCellsFilters"] == []


def test_data_cells_filter_validation(lf, glue):
    db, table = make_table(glue)
    create = lf.create_data_cells_filter
    assert error_of(create, TableData=filter_data(db, "missing", "f"))[0] == "EntityNotFoundException"
    assert error_of(create, TableData=filter_data(unique("nodb"), table, "f"))[0] == "EntityNotFoundException"
    code, message = error_of(
        create, TableData=filter_data(db, table, "f", ColumnNames=["id"], ColumnWildcard={"ExcludedColumnNames": []})
    )
    assert code == "InvalidInputException" and "both column wildcard expression and column names" in message
    code, message = error_of(create, TableData=filter_data(db, table, "f", ColumnNames=["id", "nope"]))
    assert code == "InvalidInputException" and "nope" in message
    code, message = error_of(
        create, TableData=filter_data(db, table, "f", ColumnWildcard={"ExcludedColumnNames": ["nah"]})
    )
    assert code == "InvalidInputException" and "nah" in message
    no_columns = filter_data(db, table, "f")
    del no_columns["ColumnWildcard"]
    assert error_of(create, TableData=no_columns)[0] == "InvalidInputException"
    two_row_filters = {
        **filter_data(db, table, "f"),
        "RowFilter": {"FilterExpression": "id > 1", "AllRowsWildcard": {}},
    }
    assert error_of(create, TableData=two_row_filters)[0] == "InvalidInputException"

    create(TableData=filter_data(db, table, "f", ColumnNames=["dt"]))  # a partition key is a column
    assert error_of(create, TableData=filter_data(db, table, "f"))[0] == "AlreadyExistsException"
    assert (
        error_of(lf.update_data_cells_filter, TableData=filter_data(db, table, "other"))[0] == "EntityNotFoundException"
    )
    bad_update = filter_data(db, table, "f", ColumnNames=["zzz"])
    assert error_of(lf.update_data_cells_filter, TableData=bad_update)[0] == "InvalidInputException"
    assert lf.list_data_cells_filter(Table={"DatabaseName": db, "Name": "missing"})["DataCellsFilters"] == []


def test_data_cells_filters_are_paged(sim, lf, glue):
    db, table = make_table(glue)
    for i in range(5):
        lf.create_data_cells_filter(TableData=filter_data(db, table, f"f{i}"))
    seq = sim.last_seq()
    items, calls = follow(lf.list_data_cells_filter, "DataCellsFilters", Table={"DatabaseName": db, "Name": table})
    assert [f["Name"] for f in items] == [f"f{i}" for i in range(5)] and calls == 3
    assert operations(sim, seq) == ["ListDataCellsFilter"] * 3
    first = lf.list_data_cells_filter(Table={"DatabaseName": db, "Name": table})
    code, _ = error_of(
        lf.list_data_cells_filter, Table={"DatabaseName": db, "Name": "other"}, NextToken=first["NextToken"]
    )
    assert code == "InvalidInputException", "a token belongs to the request that produced it"
    everything, _ = follow(lf.list_data_cells_filter, "DataCellsFilters")
    assert {f["Name"] for f in everything if f["DatabaseName"] == db} == {f"f{i}" for i in range(5)}


# ---- LF-tags ----


def test_lf_tag_definitions(sim, lf):
    catalog = other_catalog()
    keys = sorted(make_tag(lf, ["A", "b"], catalog) for _ in range(5))
    got = lf.get_lf_tag(CatalogId=catalog, TagKey=keys[0])
    assert got["TagValues"] == ["a", "b"] and got["CatalogId"] == catalog, "keys and values are stored in lower case"
    assert error_of(lf.create_lf_tag, CatalogId=catalog, TagKey=keys[0], TagValues=["c"])[0] == "InvalidInputException"
    assert error_of(lf.get_lf_tag, TagKey=keys[0])[0] == "EntityNotFoundException", "tags are per catalog"
    assert error_of(lf.get_lf_tag, CatalogId=catalog, TagKey="nope")[1] == "Tag key does not exist"

    lf.update_lf_tag(CatalogId=catalog, TagKey=keys[0], TagValuesToAdd=["c"], TagValuesToDelete=["a"])
    assert lf.get_lf_tag(CatalogId=catalog, TagKey=keys[0])["TagValues"] == ["b", "c"]
    assert (
        error_of(lf.update_lf_tag, CatalogId=catalog, TagKey=keys[0], TagValuesToDelete=["zz"])[0]
        == "InvalidInputException"
    )

    seq = sim.last_seq()
    items, calls = follow(lf.list_lf_tags, "LFTags", CatalogId=catalog)
    assert [t["TagKey"] for t in items] == keys and calls == 3
    assert operations(sim, seq) == ["ListLFTags"] * 3
    lf.delete_lf_tag(CatalogId=catalog, TagKey=keys[0])
    assert error_of(lf.delete_lf_tag, CatalogId=catalog, TagKey=keys[0])[0] == "EntityNotFoundException"
    assert len(follow(lf.list_lf_tags, "LFTags", CatalogId=catalog)[0]) == 4
    assert error_of(lf.list_lf_tags, CatalogId="not-an-account")[0] == "InvalidInputException"


def test_lf_tag_strictness(lf, glue):
    db, table = make_table(glue)
    key = make_tag(lf, ["pii", "public"])
    on_table = {"Table": {"DatabaseName": db, "Name": table}}
    for call in (lf.add_lf_tags_to_resource, lf.remove_lf_tags_from_resource):
        code, message = error_of(call, Resource=on_table, LFTags=[{"TagKey": unique("nokey"), "TagValues": ["x"]}])
        assert (code, message) == ("EntityNotFoundException", "Tag key does not exist")
        code, message = error_of(call, Resource=on_table, LFTags=[{"TagKey": key, "TagValues": ["secret"]}])
        assert code == "InvalidInputException" and key in message and "secret" in message
        for missing in (
            {"Database": {"Name": unique("nodb")}},
            {"Table": {"DatabaseName": db, "Name": "missing"}},
            {"Table": {"DatabaseName": unique("nodb"), "Name": table}},
            {"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["id", "ghost"]}},
        ):
            assert (
                error_of(call, Resource=missing, LFTags=[{"TagKey": key, "TagValues": ["pii"]}])[0]
                == "EntityNotFoundException"
            )
    assert (
        error_of(lf.get_resource_lf_tags, Resource={"Table": {"DatabaseName": db, "Name": "missing"}})[0]
        == "EntityNotFoundException"
    )
    assert (
        error_of(lf.get_resource_lf_tags, Resource={"Database": {"Name": unique("nodb")}})[0]
        == "EntityNotFoundException"
    )
    code, _ = error_of(
        lf.add_lf_tags_to_resource, Resource=on_table, LFTags=[{"TagKey": key, "TagValues": ["pii", "public"]}]
    )
    assert code == "InvalidInputException", "one value of a key per resource"
    wildcard = {"Table": {"DatabaseName": db, "TableWildcard": {}}}
    assert (
        error_of(lf.add_lf_tags_to_resource, Resource=wildcard, LFTags=[{"TagKey": key, "TagValues": ["pii"]}])[0]
        == "InvalidInputException"
    )
    # Nothing was assigned by the failed calls (a request is checked whole before anything changes).
    mixed = [{"TagKey": key, "TagValues": ["pii"]}, {"TagKey": unique("nokey"), "TagValues": ["x"]}]
    assert error_of(lf.add_lf_tags_to_resource, Resource=on_table, LFTags=mixed)[0] == "EntityNotFoundException"
    assert lf.get_resource_lf_tags(Resource=on_table).get("LFTagsOnTable", []) == []


def test_lf_tags_inherit_database_table_columns(lf, glue):
    db, table = make_table(glue)
    domain, level = make_tag(lf, ["sales", "hr"]), make_tag(lf, ["Public", "pii"])
    pair = lambda k, v: {"CatalogId": ACCOUNT, "TagKey": k, "TagValues": [v]}  # noqa: E731
    on_db = {"Database": {"CatalogId": ACCOUNT, "Name": db}}
    on_table = {"Table": {"DatabaseName": db, "Name": table}}
    assert (
        lf.add_lf_tags_to_resource(Resource=on_db, LFTags=[{"TagKey": domain, "TagValues": ["sales"]}])["Failures"]
        == []
    )
    lf.add_lf_tags_to_resource(Resource=on_table, LFTags=[{"TagKey": level.upper(), "TagValues": ["PUBLIC"]}])
    lf.add_lf_tags_to_resource(
        Resource={"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["email"]}},
        LFTags=[{"TagKey": level, "TagValues": ["pii"]}],
    )

    assert lf.get_resource_lf_tags(Resource=on_db)["LFTagOnDatabase"] == [pair(domain, "sales")]
    got = lf.get_resource_lf_tags(Resource=on_table)
    assert got["LFTagOnDatabase"] == [pair(domain, "sales")]
    inherited = sorted([pair(domain, "sales"), pair(level, "public")], key=lambda p: p["TagKey"])
    assert got["LFTagsOnTable"] == inherited
    columns = {c["Name"]: c["LFTags"] for c in got["LFTagsOnColumns"]}
    assert set(columns) == {"id", "name", "email", "dt"}
    assert columns["id"] == inherited
    assert columns["email"] == sorted([pair(domain, "sales"), pair(level, "pii")], key=lambda p: p["TagKey"])

    assigned = lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)
    assert assigned["LFTagsOnTable"] == [pair(level, "public")]
    assert assigned["LFTagsOnColumns"] == [{"Name": "email", "LFTags": [pair(level, "pii")]}]
    some = lf.get_resource_lf_tags(
        Resource={"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["email", "id"]}}
    )
    assert [c["Name"] for c in some["LFTagsOnColumns"]] == ["email", "id"]

    # Adding a key the resource has replaces its value; removing an inherited (unassigned) tag changes nothing.
    lf.add_lf_tags_to_resource(Resource=on_table, LFTags=[{"TagKey": level, "TagValues": ["pii"]}])
    assert lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)["LFTagsOnTable"] == [pair(level, "pii")]
    lf.remove_lf_tags_from_resource(Resource=on_table, LFTags=[{"TagKey": domain, "TagValues": ["sales"]}])
    assert pair(domain, "sales") in lf.get_resource_lf_tags(Resource=on_table)["LFTagsOnTable"]
    lf.remove_lf_tags_from_resource(
        Resource={"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["email"]}},
        LFTags=[{"TagKey": level, "TagValues": ["pii"]}],
    )
    assert "LFTagsOnColumns" not in lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)

    # Deleting a tag value or a tag key takes it off every resource.
    lf.update_lf_tag(TagKey=level, TagValuesToDelete=["pii"])
    assert "LFTagsOnTable" not in lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)
    lf.delete_lf_tag(TagKey=domain)
    assert "LFTagOnDatabase" not in lf.get_resource_lf_tags(Resource=on_db)


def test_lf_tags_are_per_catalog(lf, glue):
    db, table = make_table(glue)
    catalog = other_catalog()
    key = make_tag(lf, ["x"], catalog)
    on_table = {"Table": {"CatalogId": catalog, "DatabaseName": db, "Name": table}}
    lf.add_lf_tags_to_resource(Resource=on_table, LFTags=[{"TagKey": key, "TagValues": ["x"]}])
    got = lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)
    assert got["LFTagsOnTable"] == [{"CatalogId": catalog, "TagKey": key, "TagValues": ["x"]}]
    assert "LFTagsOnTable" not in lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": table}})
    assert (
        error_of(
            lf.add_lf_tags_to_resource,
            Resource={"Table": {"DatabaseName": db, "Name": table}},
            LFTags=[{"TagKey": key, "TagValues": ["x"]}],
        )[0]
        == "EntityNotFoundException"
    )


# ---- permissions ----


def filter_resource(db: str, table: str, name: str, catalog: str = ACCOUNT) -> dict[str, Any]:
    return {"DataCellsFilter": {"TableCatalogId": catalog, "DatabaseName": db, "TableName": table, "Name": name}}


def test_revoke_after_merged_grants(lf, glue):
    """moto 5.2.1 raises KeyError here: two grants merge into one entry whose hash changed inside a set."""
    db, _ = make_table(glue)
    principal = {"DataLakePrincipalIdentifier": ROLE + unique("r")}
    on_db = {"Database": {"Name": db}}
    lf.grant_permissions(Principal=principal, Resource=on_db, Permissions=["DESCRIBE"])
    lf.grant_permissions(
        Principal=principal, Resource=on_db, Permissions=["ALTER", "DROP"], PermissionsWithGrantOption=["ALTER"]
    )
    listed = lf.list_permissions(Principal=principal, Resource=on_db)["PrincipalResourcePermissions"]
    assert len(listed) == 1 and listed[0]["Resource"] == {"Database": {"CatalogId": ACCOUNT, "Name": db}}
    assert listed[0]["Permissions"] == ["ALTER", "DESCRIBE", "DROP"] and listed[0]["PermissionsWithGrantOption"] == [
        "ALTER"
    ]

    lf.revoke_permissions(Principal=principal, Resource=on_db, Permissions=["ALTER"])
    listed = lf.list_permissions(Principal=principal, Resource=on_db)["PrincipalResourcePermissions"]
    assert listed[0]["Permissions"] == ["DESCRIBE", "DROP"] and listed[0]["PermissionsWithGrantOption"] == []
    code, message = error_of(lf.revoke_permissions, Principal=principal, Resource=on_db, Permissions=["DROP", "SELECT"])
    assert code == "InvalidInputException" and message.startswith("No permissions revoked")
    lf.revoke_permissions(
        Principal=principal, Resource={"Database": {"CatalogId": ACCOUNT, "Name": db}}, Permissions=["DESCRIBE", "DROP"]
    )
    assert lf.list_permissions(Principal=principal, Resource=on_db)["PrincipalResourcePermissions"] == []
    assert (
        error_of(lf.revoke_permissions, Principal=principal, Resource=on_db, Permissions=["DESCRIBE"])[0]
        == "InvalidInputException"
    )


def test_grants_check_resources_and_permissions(lf, glue):
    db, table = make_table(glue)
    principal = {"DataLakePrincipalIdentifier": ROLE + unique("r")}
    grant = lf.grant_permissions
    assert (
        error_of(grant, Principal=principal, Resource={"Database": {"Name": unique("nodb")}}, Permissions=["DESCRIBE"])[
            0
        ]
        == "EntityNotFoundException"
    )
    assert (
        error_of(
            grant,
            Principal=principal,
            Resource={"Table": {"DatabaseName": db, "Name": "missing"}},
            Permissions=["SELECT"],
        )[0]
        == "EntityNotFoundException"
    )
    assert (
        error_of(grant, Principal=principal, Resource=filter_resource(db, table, "nofilter"), Permissions=["SELECT"])[0]
        == "EntityNotFoundException"
    )
    twc = {"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["ghost"]}}
    assert error_of(grant, Principal=principal, Resource=twc, Permissions=["SELECT"])[0] == "InvalidInputException"
    assert (
        error_of(grant, Principal=principal, Resource={"Database": {"Name": db}}, Permissions=["READ"])[0]
        == "InvalidInputException"
    )
    both = {"Table": {"DatabaseName": db, "Name": table, "TableWildcard": {}}}
    assert error_of(grant, Principal=principal, Resource=both, Permissions=["SELECT"])[0] == "InvalidInputException"
    assert error_of(lf.list_permissions, Principal=principal)[0] == "InvalidInputException", "Principal needs Resource"


def test_batch_permissions_report_failures(lf, glue):
    db, table = make_table(glue)
    principal = {"DataLakePrincipalIdentifier": ROLE + unique("r")}
    good = {
        "Id": "0",
        "Principal": principal,
        "Resource": {"Database": {"Name": db}},
        "Permissions": ["ALTER", "CREATE_TABLE", "DROP", "DESCRIBE"],
        "PermissionsWithGrantOption": ["DESCRIBE"],
    }
    wildcard = {
        "Id": "1",
        "Principal": principal,
        "Resource": {"Table": {"DatabaseName": db, "TableWildcard": {}, "CatalogId": ACCOUNT}},
        "Permissions": ["SELECT", "INSERT"],
        "PermissionsWithGrantOption": [],
    }
    missing = {
        "Id": "2",
        "Principal": principal,
        "Resource": {"Table": {"DatabaseName": db, "Name": "missing"}},
        "Permissions": ["SELECT"],
    }
    failures = lf.batch_grant_permissions(CatalogId=ACCOUNT, Entries=[good, wildcard, missing])["Failures"]
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in failures] == [("2", "EntityNotFoundException")]
    listed = lf.list_permissions(Principal=principal, Resource={"Table": {"DatabaseName": db, "TableWildcard": {}}})
    assert [p["Permissions"] for p in listed["PrincipalResourcePermissions"]] == [["INSERT", "SELECT"]]

    revoke_db = {**good, "Permissions": ["DROP"], "PermissionsWithGrantOption": []}
    not_granted = {**wildcard, "Id": "1", "Permissions": ["DELETE"]}
    failures = lf.batch_revoke_permissions(Entries=[revoke_db, not_granted])["Failures"]
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in failures] == [("1", "InvalidInputException")]
    assert failures[0]["Error"]["ErrorMessage"].startswith("No permissions revoked")
    listed = lf.list_permissions(Principal=principal, Resource={"Database": {"Name": db}})[
        "PrincipalResourcePermissions"
    ]
    assert listed[0]["Permissions"] == ["ALTER", "CREATE_TABLE", "DESCRIBE"] and listed[0][
        "PermissionsWithGrantOption"
    ] == ["DESCRIBE"]


def test_list_permissions_filters_and_pages(sim, lf, glue):
    db, table = make_table(glue)
    catalog = other_catalog()
    lf.create_data_cells_filter(TableData={**filter_data(db, table, "f"), "TableCatalogId": catalog})
    principals = [{"DataLakePrincipalIdentifier": ROLE + unique(f"p{i}")} for i in range(3)]
    on_table = {"Table": {"DatabaseName": db, "Name": table}}
    on_columns = {"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["name", "id"]}}
    for p in principals:
        lf.grant_permissions(
            CatalogId=catalog, Principal=p, Resource={"Database": {"Name": db}}, Permissions=["DESCRIBE"]
        )
        lf.grant_permissions(
            CatalogId=catalog, Principal=p, Resource=filter_resource(db, table, "f", catalog), Permissions=["SELECT"]
        )
    lf.grant_permissions(CatalogId=catalog, Principal=principals[0], Resource=on_table, Permissions=["SELECT"])
    lf.grant_permissions(CatalogId=catalog, Principal=principals[1], Resource=on_columns, Permissions=["SELECT"])

    seq = sim.last_seq()
    everything, calls = follow(lf.list_permissions, "PrincipalResourcePermissions", CatalogId=catalog)
    assert len(everything) == 8 and calls == 4
    assert operations(sim, seq) == ["ListPermissions"] * 4
    in_account, _ = follow(lf.list_permissions, "PrincipalResourcePermissions")
    assert not [p for p in in_account if p["Principal"] in principals], "grants are per catalog"

    by_filter, _ = follow(
        lf.list_permissions,
        "PrincipalResourcePermissions",
        CatalogId=catalog,
        Resource=filter_resource(db, table, "f", catalog),
    )
    assert sorted(p["Principal"]["DataLakePrincipalIdentifier"] for p in by_filter) == sorted(
        p["DataLakePrincipalIdentifier"] for p in principals
    )
    by_table, _ = follow(lf.list_permissions, "PrincipalResourcePermissions", CatalogId=catalog, Resource=on_table)
    assert sorted(next(iter(p["Resource"])) for p in by_table) == ["Table", "TableWithColumns"]
    assert [
        p["Resource"]["TableWithColumns"]["ColumnNames"] for p in by_table if "TableWithColumns" in p["Resource"]
    ] == [["id", "name"]]
    related, _ = follow(
        lf.list_permissions, "PrincipalResourcePermissions", CatalogId=catalog, Resource=on_table, IncludeRelated="TRUE"
    )
    assert len(related) == 5
    by_type, _ = follow(lf.list_permissions, "PrincipalResourcePermissions", CatalogId=catalog, ResourceType="DATABASE")
    assert len(by_type) == 3 and all("Database" in p["Resource"] for p in by_type)
    mine = lf.list_permissions(CatalogId=catalog, Principal=principals[0], Resource={"Database": {"Name": db}})
    assert [p["Principal"] for p in mine["PrincipalResourcePermissions"]] == [principals[0]]


def test_adapter_filter_flow_survives_revoke_after_merge(sim, lf, glue):
    """dbt-glue's process_filters + process_permissions, twice, with a merge and a revoke in between."""
    db, table = make_table(glue)
    alice, bob = ROLE + unique("alice"), ROLE + unique("bob")

    def entry(i: int, principal: str, name: str = "keep") -> dict[str, Any]:
        return {
            "Id": str(i),
            "Principal": {"DataLakePrincipalIdentifier": principal},
            "Resource": filter_resource(db, table, name),
            "Permissions": ["SELECT"],
            "PermissionsWithGrantOption": [],
        }

    def holders(name: str = "keep") -> dict[str, list[str]]:
        listed = lf.list_permissions(Resource=filter_resource(db, table, name))["PrincipalResourcePermissions"]
        return {p["Principal"]["DataLakePrincipalIdentifier"]: p["Permissions"] for p in listed}

    assert (
        lf.list_data_cells_filter(Table={"CatalogId": ACCOUNT, "DatabaseName": db, "Name": table})["DataCellsFilters"]
        == []
    )
    lf.create_data_cells_filter(TableData=filter_data(db, table, "keep", ColumnNames=["id", "name"]))
    lf.create_data_cells_filter(
        TableData=filter_data(db, table, "drop", ColumnWildcard={"ExcludedColumnNames": ["email"]})
    )
    assert (
        lf.batch_grant_permissions(
            CatalogId=ACCOUNT, Entries=[entry(0, alice), entry(1, bob), entry(2, alice, "drop")]
        )["Failures"]
        == []
    )
    # A second grant to alice merges into her entry; revoking afterwards is moto's KeyError.
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": alice},
        Resource=filter_resource(db, table, "keep"),
        Permissions=["DESCRIBE"],
    )
    assert holders() == {alice: ["DESCRIBE", "SELECT"], bob: ["SELECT"]}
    assert lf.batch_revoke_permissions(CatalogId=ACCOUNT, Entries=[entry(0, bob), entry(1, alice)])["Failures"] == []
    assert holders() == {alice: ["DESCRIBE"]}

    # Second run: filter changed, "drop" dropped (its grants go with it), bob granted again.
    current = {
        f["Name"]: f for f in lf.list_data_cells_filter(Table={"DatabaseName": db, "Name": table})["DataCellsFilters"]
    }
    assert set(current) == {"drop", "keep"}
    lf.delete_data_cells_filter(
        **{k: current["drop"][k] for k in ("TableCatalogId", "DatabaseName", "TableName", "Name")}
    )
    lf.update_data_cells_filter(
        TableData={**filter_data(db, table, "keep", ColumnNames=["id"]), "RowFilter": {"FilterExpression": "id > 20"}}
    )
    assert lf.batch_grant_permissions(CatalogId=ACCOUNT, Entries=[entry(0, bob)])["Failures"] == []
    assert holders() == {alice: ["DESCRIBE"], bob: ["SELECT"]}
    lf.create_data_cells_filter(TableData=filter_data(db, table, "drop"))
    assert holders("drop") == {}, "a deleted filter's grants do not come back with a filter of the same name"
    kept = lf.get_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=table, Name="keep")[
        "DataCellsFilter"
    ]
    assert kept["ColumnNames"] == ["id"] and kept["RowFilter"]["FilterExpression"] == "id > 20"


def test_list_resources_is_repaged_from_moto(sim, lf):
    arns = [f"arn:aws:s3:::{unique('bucket')}" for _ in range(3)]
    for arn in arns:
        lf.register_resource(ResourceArn=arn, RoleArn=ROLE + "lf")
    seq = sim.last_seq()
    items, calls = follow(lf.list_resources, "ResourceInfoList")
    assert set(arns) <= {r["ResourceArn"] for r in items} and calls >= 2
    assert set(operations(sim, seq)) == {"ListResources"}


# ---- a dropped table takes its Lake Formation state with it ----


def test_dropped_table_loses_tags_filters_and_grants_and_a_recreated_one_starts_bare(lf, glue):
    db, table = make_table(glue)
    key = make_tag(lf, ["pii", "public"])
    on_table = {"Table": {"DatabaseName": db, "Name": table}}
    lf.add_lf_tags_to_resource(Resource=on_table, LFTags=[{"TagKey": key, "TagValues": ["public"]}])
    lf.add_lf_tags_to_resource(
        Resource={"TableWithColumns": {"DatabaseName": db, "Name": table, "ColumnNames": ["email"]}},
        LFTags=[{"TagKey": key, "TagValues": ["pii"]}],
    )
    lf.create_data_cells_filter(TableData=filter_data(db, table, "f1"))
    filter_resource = {"DataCellsFilter": {"TableCatalogId": ACCOUNT, "DatabaseName": db, "TableName": table, "Name": "f1"}}
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ROLE + "analyst"}, Resource=filter_resource, Permissions=["SELECT"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ROLE + "etl"}, Resource=on_table, Permissions=["SELECT"])
    # An update of the table entry in place (what glue-rs's swap does) keeps everything.
    entry = glue.get_table(DatabaseName=db, Name=table)["Table"]
    glue.update_table(DatabaseName=db, TableInput={"Name": table, "StorageDescriptor": entry["StorageDescriptor"],
                                                   "PartitionKeys": entry["PartitionKeys"], "Parameters": {"v": "2"}})  # fmt: skip
    assert lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)["LFTagsOnTable"]
    assert len(lf.list_permissions(Resource=on_table)["PrincipalResourcePermissions"]) == 1
    # Dropped and created again: a new table, bare.
    glue.delete_table(DatabaseName=db, Name=table)
    time.sleep(1.1)  # creation times have a resolution of one second
    glue.create_table(DatabaseName=db, TableInput={"Name": table, "StorageDescriptor": entry["StorageDescriptor"]})
    got = lf.get_resource_lf_tags(Resource=on_table, ShowAssignedLFTags=True)
    assert "LFTagsOnTable" not in got and "LFTagsOnColumns" not in got
    assert lf.list_data_cells_filter(Table={"DatabaseName": db, "Name": table})["DataCellsFilters"] == []
    assert lf.list_permissions(Resource=on_table)["PrincipalResourcePermissions"] == []


def test_lf_failures_fault_reports_denied_entries_and_applies_the_rest(sim, lf, glue):
    db, table = make_table(glue)
    allowed, denied = make_tag(lf, ["a"]), make_tag(lf, ["b"])
    on_table = {"Table": {"DatabaseName": db, "Name": table}}
    sim.admin("faults", {"lf_failures": {"tag_keys": [denied], "principals": [ROLE + "nobody"]}})
    out = lf.add_lf_tags_to_resource(
        Resource=on_table,
        LFTags=[{"TagKey": allowed, "TagValues": ["a"]}, {"TagKey": denied, "TagValues": ["b"]}],
    )
    assert [(f["LFTag"]["TagKey"], f["Error"]["ErrorCode"]) for f in out["Failures"]] == [(denied, "AccessDeniedException")]
    assert [t["TagKey"] for t in lf.get_resource_lf_tags(Resource=on_table)["LFTagsOnTable"]] == [allowed]
    entries = [
        {"Id": str(i), "Principal": {"DataLakePrincipalIdentifier": ROLE + who}, "Resource": on_table, "Permissions": ["SELECT"]}
        for i, who in enumerate(["nobody", "analyst"])
    ]  # fmt: skip
    out = lf.batch_grant_permissions(Entries=entries)
    assert [f["RequestEntry"]["Id"] for f in out["Failures"]] == ["0"]
    held = lf.list_permissions(Resource=on_table)["PrincipalResourcePermissions"]
    assert [p["Principal"]["DataLakePrincipalIdentifier"] for p in held] == [ROLE + "analyst"]

"""Citus-ready keys: every primary key, unique constraint and index of a tenant table
leads with ``org_id``, so that the schema distributes by org with no change and no query
needs another org's shard. The tables that cannot are named here, each with why, and the
list is held to exactly the tables that break the rule (it cannot go stale). Checked on the
models and on the database the real migrations built."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, inspect

import reengage.models  # noqa: F401  (registers every table)
from reengage.db.base import Base

# Read before the org is known, or holding the orgs themselves: in Citus, reference tables
# (copied to every node) or kept on the coordinator. docs/architecture.md says the same.
REFERENCE_TABLES = {
    "orgs": "the orgs themselves: no org_id to lead with",
    "api_keys": "a request names its key (by its hash) before it names an org",
    "dashboard_sessions": "a request names its cookie (by its token's hash) before an org",
}


def _leads(columns: list[str]) -> bool:
    return columns[:1] == ["org_id"]


def _keys_of_models() -> dict[str, list[list[str]]]:
    """Per table: its primary key's, unique constraints' and indexes' columns."""
    out: dict[str, list[list[str]]] = {}
    for table in Base.metadata.sorted_tables:
        keys: list[list[str]] = [[c.name for c in table.primary_key.columns]]
        keys += [[c.name for c in index.columns] for index in table.indexes]
        keys += [
            [c.name for c in constraint.columns]
            for constraint in table.constraints
            if type(constraint).__name__ == "UniqueConstraint"
        ]
        out[table.name] = keys
    return out


def _keys_in_database(engine: Engine) -> dict[str, list[list[str]]]:
    found = inspect(engine)
    out: dict[str, list[list[str]]] = {}
    for name in found.get_table_names():
        if name == "alembic_version":
            continue
        keys: list[list[str]] = [found.get_pk_constraint(name)["constrained_columns"]]
        keys += [list(i["column_names"]) for i in found.get_indexes(name)]
        keys += [list(u["column_names"]) for u in found.get_unique_constraints(name)]
        out[name] = keys
    return out


def _breaking(keys: dict[str, list[list[str]]], columns: dict[str, Any]) -> set[str]:
    return {
        name
        for name, table_keys in keys.items()
        if "org_id" not in columns[name] or not all(_leads(k) for k in table_keys if k)
    }


def test_every_tenant_table_of_the_models_is_keyed_by_org_first() -> None:
    columns = {t.name: set(t.c.keys()) for t in Base.metadata.sorted_tables}
    assert _breaking(_keys_of_models(), columns) == set(REFERENCE_TABLES)


def test_every_tenant_table_of_the_migrated_database_is_keyed_by_org_first(
    engine: Engine,
) -> None:
    found = inspect(engine)
    keys = _keys_in_database(engine)
    columns = {name: {c["name"] for c in found.get_columns(name)} for name in keys}
    assert set(keys) == {t.name for t in Base.metadata.sorted_tables}
    assert _breaking(keys, columns) == set(REFERENCE_TABLES)
    assert keys["audit_log"][0] == ["org_id", "id"]

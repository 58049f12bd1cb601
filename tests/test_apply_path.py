"""The per-changeset path of apply and rollback: a plan keeps track of type variants from
operation to operation instead of looking through the whole schema for every operation, and
a run sends no statement that the work does not need (no server-side prepared statements
that a DDL makes the driver forget)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project, rows

from schemaflow import ir
from schemaflow.dialects.columns import brings_variants, has_variants
from schemaflow.state import SchemaState, apply

PLAIN: dict[str, Any] = {"create_table": {"name": "docs", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "title", "type": "string(20)"}]}}
DATA: dict[str, Any] = {"name": "data", "type": "json", "variants": {"sqlite": "text"}}
# On SQLite, making a column NOT NULL rebuilds the table from the schema it meets: every
# column of it in the type SQLite builds it with.
REQUIRE: dict[str, Any] = {"alter_column": {"table": "docs", "name": "title", "nullable": False}}


def _ops(*docs: dict[str, Any]) -> list[ir.Operation]:
    return list(ir.parse({"schemaflow": 1, "id": "x", "parents": [], "message": "m",
                          "operations": list(docs)}).operations)


def test_only_new_columns_and_types_bring_variants() -> None:
    with_variants = _ops({"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}, DATA]}},
        {"add_column": {"table": "t", "column": DATA | {"name": "more"}}},
        {"alter_column": {"table": "t", "name": "more", "type": "json",
                          "variants": {"postgresql": "postgresql.jsonb"}}})
    assert [brings_variants(op) for op in with_variants] == [True, True, True]
    state = SchemaState()
    for op in with_variants:
        state = apply(state, op)
    assert has_variants(state)
    without = _ops(PLAIN, {"add_column": {"table": "docs", "column": {
        "name": "n", "type": "integer"}}}, {"rename_column": {
            "table": "docs", "name": "n", "new_name": "m"}}, REQUIRE,
        {"alter_column": {"table": "docs", "name": "m", "type": "bigint"}})
    assert not any(brings_variants(op) for op in without)
    state = SchemaState()
    for op in without:
        state = apply(state, op)
    assert not has_variants(state)


@pytest.mark.parametrize("where", ["first", "later"])
def test_a_variant_brought_in_mid_plan_is_built_as_this_database_has_it(
        project: Project, where: str) -> None:
    # The plan starts on a schema without variants; a changeset brings one (in the table
    # it creates, or in a column it adds); a later rebuild of that table must build the
    # column with SQLite's variant (TEXT), not the generic type (JSON).
    if where == "first":
        first = {"create_table": {"name": "docs", "columns": [
            *PLAIN["create_table"]["columns"], DATA]}}
        project.chain([{"create_table": {"name": "other", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}], [first], [REQUIRE])
    else:
        project.chain([PLAIN], [{"add_column": {"table": "docs", "column": DATA}}],
                      [REQUIRE])
    out = project.cli("apply", "--sql")
    assert out.returncode == 0, out.stderr
    rebuilt = out.stdout.split("CREATE TABLE _sf_new_docs", 1)[1].split(";", 1)[0]
    assert "data TEXT" in rebuilt and "JSON" not in rebuilt, rebuilt
    done = project.cli("apply")
    assert done.returncode == 0, done.stderr
    (ddl,) = rows(project.url, "SELECT sql FROM sqlite_master WHERE name = 'docs'")
    assert "data TEXT" in str(ddl[0]) and "title VARCHAR(20) NOT NULL" in str(ddl[0])


def test_a_run_on_postgresql_prepares_no_statement(project: Project, pg_url: str) -> None:
    # psycopg 3 would prepare the version-row statements after five changesets, and forget
    # them at the next DDL (DEALLOCATE ALL): two round trips for nothing, every few
    # changesets. The server lists what a session prepared in pg_prepared_statements.
    from schemaflow.api import Project as ApiProject
    from schemaflow.dialects.connect import create_engine

    ops: list[list[Any]] = [[{"create_table": {"name": f"t{i}", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}] for i in range(8)]
    ops += [[{"add_column": {"table": "t0", "column": {"name": f"c{i}", "type": "integer"}}}]
            for i in range(8)]
    project.chain(*ops)
    engine = create_engine(pg_url)
    seen: list[int] = []

    def prepared(raw: Any) -> int:
        # on the driver's connection, between changesets (then ended, by a COMMIT: a
        # ROLLBACK would make psycopg forget its prepared statements)
        try:
            return int(raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0])
        finally:
            raw.commit()

    try:
        with engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            assert hasattr(raw, "prepare_threshold")  # psycopg 3, which prepares by itself
            before = raw.prepare_threshold
            api = ApiProject.from_config(cwd=project.root, url=conn)
            api.apply(on_item=lambda _r: seen.append(prepared(raw)))
            assert raw.prepare_threshold == before  # the caller's setting, as it was
    finally:
        engine.dispose()
    assert len(seen) == len(ops) and not any(seen)

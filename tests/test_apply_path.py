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


# --- statements compiled as the plan is made (dialects/prepared.py) ----------------------------

VALUES: dict[str, Any] = {"create_table": {"name": "vals", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "s", "type": "string(40)"}, {"name": "n", "type": "numeric(10, 2)"},
    {"name": "at", "type": "datetime"}, {"name": "ok", "type": "boolean"},
    {"name": "odd name%", "type": "integer"}]}}
ROWS: list[dict[str, Any]] = [{"id": 1, "s": "50% off; it's \\ \"quoted\"", "n": "12.50",
         "at": "2024-02-29T13:14:15", "ok": True, "odd name%": 7},
        {"id": 2, "s": None, "n": None, "at": None, "ok": False, "odd name%": None}]


def _values_history(project: Project) -> list[str]:
    return project.chain([VALUES], [{"insert_rows": {"table": "vals", "rows": ROWS}}],
                         [{"delete_rows": {"table": "vals", "rows": [{"id": 2}]}},
                          {"sql": {"up": ["UPDATE vals SET n = n + 1 WHERE s LIKE '50%'"]}}])


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_a_run_keeps_compiled_text_and_writes_the_values_it_is_given(
        project: Project, server: str, request: pytest.FixtureRequest) -> None:
    from sqlalchemy.sql import ClauseElement

    from schemaflow.api import Project as ApiProject
    from schemaflow.plans import Bound

    url = project.url if server == "sqlite" else request.getfixturevalue("pg_url")
    _values_history(project)
    api = ApiProject.from_config(cwd=project.root, url=url)
    result = api.apply()
    assert result.plan is not None and len(result.results) == 3
    kinds = [type(s.sql) for item in result.plan.items for s in item.steps]
    # no SQLAlchemy construct is kept: DDL as text, the data statements bound for the driver
    assert not [k for k in kinds if issubclass(k, ClauseElement)], kinds
    assert kinds.count(Bound) == 3 and str in kinds
    odd = '"odd name%"' if server == "sqlite" else '"odd name%%"'  # (psycopg's placeholders)
    got = rows(url, f"SELECT id, s, n, ok, {odd} FROM vals ORDER BY id")
    assert [(r[0], r[1], float(r[2]), bool(r[3]), r[4]) for r in got] == [
        (1, ROWS[0]["s"], 13.5, True, 7)]
    (at,) = rows(url, "SELECT at FROM vals")[0]
    assert str(at).replace("T", " ").startswith("2024-02-29 13:14:15")


def test_a_failing_data_statement_is_shown_with_its_values(project: Project) -> None:
    ids = project.chain([VALUES], [{"insert_rows": {"table": "vals", "rows": [
        {"id": 1, "s": "first"}]}}], [{"insert_rows": {"table": "vals", "rows": [
            {"id": 1, "s": "it's a clash"}]}}])
    out = project.cli("apply")
    assert out.returncode != 0
    assert ids[2] in out.stderr and "INSERT INTO vals" in out.stderr
    assert "'it''s a clash'" in out.stderr, out.stderr  # the statement, values written in
    assert [r[0] for r in rows(project.url, "SELECT id FROM schemaflow_version ORDER BY "
                                "exec_order")] == ids[:2], out.stderr


def test_a_long_plan_applies_and_rolls_back_and_leaves_the_collector_as_it_was(
        project: Project) -> None:
    # more changesets than a plan renders between two collections of its garbage, each
    # rollback reversed from the schema before it (which the plan lets go of once used)
    import gc

    from schemaflow.api import Project as ApiProject
    from schemaflow.errors import UsageError

    ops: list[list[Any]] = [[{"sql": {"up": ["CREATE TABLE by_hand (id INTEGER)"]}}], [PLAIN]]
    ops += [[{"add_column": {"table": "docs", "column": {"name": f"c{i}", "type": "integer"}}},
             {"rename_column": {"table": "docs", "name": f"c{i}", "new_name": f"d{i}"}}]
            for i in range(120)]
    ids = project.chain(*ops)
    frozen = gc.get_freeze_count()
    api = ApiProject.from_config(cwd=project.root)
    assert [r.id for r in api.apply().results] == ids
    assert gc.get_freeze_count() == frozen
    (ddl,) = rows(project.url, "SELECT sql FROM sqlite_master WHERE name = 'docs'")
    assert "d119 INTEGER" in str(ddl[0]) and "c119" not in str(ddl[0])
    # the first changeset has no rollback: planning fails when it gets there, after the
    # rest, and leaves the collector as it was
    with pytest.raises(UsageError, match="forward-only"):
        api.rollback("base")
    assert gc.get_freeze_count() == frozen
    assert len(api.rollback(ids[0]).results) == len(ids) - 1
    assert gc.get_freeze_count() == frozen
    assert not rows(project.url, "SELECT name FROM sqlite_master WHERE name = 'docs'")
    # a caller's own frozen objects stay frozen through a run
    gc.freeze()
    try:
        held = gc.get_freeze_count()
        assert held > 0
        assert len(api.apply().results) == len(ids) - 1
        # still frozen (the count only loses what was freed meanwhile; unfrozen it is 0)
        assert gc.get_freeze_count() > held // 2
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("direction", ["apply", "rollback"])
def test_a_run_lets_go_of_the_changesets_it_parsed(project: Project, direction: str) -> None:
    """A plan compiled for a run keeps its statements' text, not every changeset's parsed
    operations until the run ends; a plan that is not run (a dry run) keeps them, for
    finding where an interrupted changeset resumes."""
    from schemaflow.api import Project as ApiProject

    ids = project.chain([PLAIN], [{"add_column": {"table": "docs", "column": {
        "name": "body", "type": "text"}}}], [REQUIRE])
    assert ApiProject.from_config(cwd=project.root, url=project.url).history  # parse cache
    if direction == "rollback":
        ApiProject.from_config(cwd=project.root, url=project.url).apply()
    api = ApiProject.from_config(cwd=project.root, url=project.url)
    dry = api.apply(dry_run=True) if direction == "apply" else api.rollback("base",
                                                                           dry_run=True)
    assert dry.plan is not None and all(item.operations for item in dry.plan.items)
    api = ApiProject.from_config(cwd=project.root, url=project.url)
    result = api.apply() if direction == "apply" else api.rollback("base")
    assert result.plan is not None and [i.changeset.id for i in result.plan.items] == (
        ids if direction == "apply" else ids[::-1])
    assert all(item.operations == () for item in result.plan.items)
    # each changeset parsed from its file for the plan is parsed again when asked for
    first = api.history.from_file(ids[0], keep=False)
    assert api.history.from_file(ids[0]) == first
    assert api.history.from_file(ids[0]) is not first

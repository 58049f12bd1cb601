"""A SQLite table rebuild keeps what only the database knows of the table (its triggers,
indexes of its own, the views that read it) and refuses to run where it would lose or change
what the changesets do not describe: columns or table options added by `sql` or by hand, and
the rows of other tables where foreign keys are enforced on a caller's connection. Each of
these was lost or changed without a word before (exit 0), or failed on a view."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project

import schemaflow
from schemaflow.errors import ChangesetFailed

TABLES: list[Any] = [
    {"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "name", "type": "string(20)"},
        {"name": "qty", "type": "integer"}]}},
    {"create_table": {"name": "audit", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "msg", "type": "text"}]}},
]

OWN = {"sql": {
    "up": ["CREATE TRIGGER trg_t_ins AFTER INSERT ON t BEGIN "
           "INSERT INTO audit(msg) VALUES ('ins ' || NEW.name); END",
           "CREATE INDEX ix_own ON t (name) WHERE name IS NOT NULL",
           "CREATE VIEW v_t AS SELECT id, qty FROM t"],
    "down": ["DROP VIEW v_t", "DROP INDEX ix_own", "DROP TRIGGER trg_t_ins"]}}

REQUIRE = {"alter_column": {"table": "t", "name": "qty", "nullable": False, "default": 0}}


def _db(p: Project) -> sqlite3.Connection:
    return sqlite3.connect(p.url.removeprefix("sqlite:///"), isolation_level=None)


def _objects(p: Project) -> list[tuple[str, str, str]]:
    with _db(p) as db:
        return db.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE "
                          "'schemaflow%' AND name NOT LIKE 'sqlite_%' AND tbl_name <> 'audit' "
                          "AND name <> 't' ORDER BY type, name").fetchall()


def _run(p: Project, *args: str) -> None:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_triggers_indexes_and_views_of_a_rebuilt_table_are_kept(tmp_path: Path) -> None:
    """Its triggers and own indexes were dropped with the old table (the trigger no longer
    fired); a view that reads it stopped every rebuild at the rename ("error in view")."""
    p = make_project(tmp_path)
    p.chain([*TABLES, OWN], [REQUIRE])
    _run(p, "apply", "c001")
    before = _objects(p)
    assert [name for _, name, _ in before] == ["ix_own", "trg_t_ins", "v_t"]
    _run(p, "apply")
    assert _objects(p) == before
    with _db(p) as db:
        db.execute("INSERT INTO t (name) VALUES ('a')")
        assert db.execute("SELECT msg FROM audit").fetchall() == [("ins a",)]
        assert db.execute("SELECT id, qty FROM v_t").fetchall() == [(1, 0)]
    _run(p, "rollback", "-1")  # another rebuild, back
    assert _objects(p) == before
    with _db(p) as db:
        assert db.execute("SELECT \"notnull\" FROM pragma_table_info('t') WHERE name = 'qty'"
                          ).fetchone() == (0,)
    # The offline script says what it does not do.
    done = p.cli("apply", "--sql")
    assert done.returncode == 0, done.stderr
    assert "(this script does not)" in done.stdout


def test_a_view_the_rebuild_breaks_stops_the_changeset(tmp_path: Path) -> None:
    """A view reading a column the rebuild drops: the changeset stops, rolled back, as the
    rename itself used to stop it, rather than leaving a view that fails when read."""
    p = make_project(tmp_path)
    p.chain([*TABLES, OWN], [REQUIRE, {"create_check_constraint": {
        "name": "ck_t_qty", "table": "t", "expression": "qty >= 0"}},
        {"drop_column": {"table": "t", "name": "qty"}}])
    done = p.cli("apply")
    assert done.returncode != 0, done.stdout
    assert "applying changeset c002" in done.stderr, done.stderr
    assert "view v_t reads table t and no longer works" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with _db(p) as db:
        assert [r[0] for r in db.execute("SELECT id FROM schemaflow_version")] == ["c001"]
        assert db.execute("SELECT qty FROM v_t").fetchall() == []


@pytest.mark.parametrize(("added", "named"), [
    (["ALTER TABLE t ADD COLUMN legacy TEXT", "INSERT INTO t (name, qty, legacy) VALUES "
      "('x', 1, 'precious')"], "column(s) legacy"),
    (["DROP TABLE t", "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, "
      "name VARCHAR(20), qty INTEGER)"], "AUTOINCREMENT"),
    (["DROP TABLE t", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER) "
      "STRICT"], "is STRICT"),
], ids=["column", "autoincrement", "strict"])
def test_a_table_the_changesets_do_not_describe_is_not_rebuilt(
        tmp_path: Path, added: list[str], named: str) -> None:
    """What a `sql` operation added to the table (a column with its data, a table option)
    was dropped by the rebuild, exit 0. Now the changeset stops before the rebuild, rolled
    back, naming what it would lose; the table and its rows are as they were."""
    p = make_project(tmp_path)
    p.chain([*TABLES, {"sql": {"up": added}}], [REQUIRE])
    _run(p, "apply", "c001")
    with _db(p) as db:
        table = db.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()
        rows = db.execute("SELECT * FROM t").fetchall()
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "applying changeset c002" in done.stderr and named in done.stderr, done.stderr
    assert "nothing of it remains" in done.stderr and "Traceback" not in done.stderr
    with _db(p) as db:
        assert db.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone() == table
        assert db.execute("SELECT * FROM t").fetchall() == rows
        assert [r[0] for r in db.execute("SELECT id FROM schemaflow_version")] == ["c001"]


def test_a_rebuild_inside_a_callers_transaction_with_foreign_keys_enforced_is_refused(
        tmp_path: Path) -> None:
    """schemaflow.apply(url=conn) inside the caller's transaction, whose connection enforces
    foreign keys (which cannot be switched off inside a transaction): the rebuild's DROP
    TABLE deleted the rows that refer to the table ON DELETE CASCADE and nulled those ON
    DELETE SET NULL, without a word. Now the changeset is refused, the rows untouched."""
    p = make_project(tmp_path)
    child = {"create_table": {"name": "c", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "t_id", "type": "integer"}],
        "foreign_keys": [{"columns": ["t_id"], "references": {"table": "t", "columns": ["id"]},
                          "ondelete": "CASCADE"}]}}
    rows = [{"insert_rows": {"table": "t", "rows": [{"id": 1, "name": "a", "qty": 1}]}},
            {"insert_rows": {"table": "c", "rows": [{"id": 1, "t_id": 1}, {"id": 2, "t_id": 1}]}}]
    p.chain([*TABLES, child, *rows], [REQUIRE])
    _run(p, "apply", "c001")
    engine = sa.create_engine(p.url)
    sa.event.listen(engine, "connect",
                    lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=ON"))
    try:
        with engine.connect() as conn, conn.begin():
            with pytest.raises(ChangesetFailed) as caught:
                schemaflow.apply(url=conn, changesets=p.changesets)
            assert "foreign keys are enforced" in caught.value.message
            assert " c " in caught.value.message or "of c that" in caught.value.message
            assert conn.execute(sa.text("SELECT count(*) FROM c")).scalar() == 2
        # On the engine (foreign keys switched off for the run), it applies; rows kept.
        schemaflow.apply(url=engine, changesets=p.changesets)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM c")).scalar() == 2
    finally:
        engine.dispose()


def test_rows_keep_their_rowids_through_a_rebuild(tmp_path: Path) -> None:
    """A table whose key is not its rowid (a text key, a key of several columns, none):
    the copy renumbered its rows 1, 2, 3..., so whatever kept a rowid (an FTS index with
    external content, an application) pointed at other rows, exit 0."""
    p = make_project(tmp_path)
    p.chain([{"create_table": {"name": "codes", "columns": [
                {"name": "code", "type": "string(10)", "primary_key": True},
                {"name": "qty", "type": "integer"}]}},
             {"create_table": {"name": "loose", "columns": [
                 {"name": "a", "type": "integer"}]}}],
            [{"alter_column": {"table": "codes", "name": "qty", "nullable": False,
                               "default": 0}},
             {"alter_column": {"table": "loose", "name": "a", "type": "bigint"}}])
    _run(p, "apply", "c001")
    with _db(p) as db:
        db.execute("INSERT INTO codes (rowid, code, qty) VALUES (5, 'a', 1), (100, 'b', 2)")
        db.execute("INSERT INTO loose (rowid, a) VALUES (3, 30), (7, 70)")
    _run(p, "apply")
    with _db(p) as db:
        assert db.execute("SELECT rowid, code FROM codes ORDER BY 1").fetchall() == [
            (5, "a"), (100, "b")]
        assert db.execute("SELECT rowid, a FROM loose ORDER BY 1").fetchall() == [
            (3, 30), (7, 70)]


@pytest.mark.parametrize("change", [
    {"create_foreign_key": {"name": "fk_t_p", "table": "t", "columns": ["pid"],
                            "references": {"table": "p", "columns": ["id"]}}},
    {"drop_constraint": {"name": "uq_p_code", "table": "p", "type": "unique"}},
], ids=["key-over-orphans", "unique-a-key-points-at"])
def test_a_rebuild_refuses_what_foreign_keys_would_refuse(
        tmp_path: Path, change: dict[str, Any]) -> None:
    """Foreign keys are off while a rebuild runs: a foreign key added over rows that point
    at no row, and a unique key dropped that another table's foreign key points at, were
    built with exit 0 (PostgreSQL and MySQL refuse both), leaving tables that fail every
    write once foreign keys are enforced. Now the changeset stops, rolled back. (The
    foreign key is one a `sql` operation made, which the changesets do not describe: one
    they describe is refused before anything runs, SF331.)"""
    p = make_project(tmp_path)
    p.chain([{"create_table": {"name": "p", "columns": [
                {"name": "id", "type": "integer", "primary_key": True},
                {"name": "code", "type": "string(10)", "unique": True}]}},
             {"create_table": {"name": "t", "columns": [
                 {"name": "id", "type": "integer", "primary_key": True},
                 {"name": "pid", "type": "integer"}]}},
             {"sql": {"up": ["CREATE TABLE ch (id integer PRIMARY KEY, p_code varchar(10) "
                             "REFERENCES p (code))", "INSERT INTO ch VALUES (1, 'a')"],
                      "down": "DROP TABLE ch"}},
             {"insert_rows": {"table": "p", "rows": [{"id": 1, "code": "a"}]}},
             {"insert_rows": {"table": "t", "rows": [{"id": 1, "pid": 1}, {"id": 2, "pid": 99}]}}],
            [change])
    _run(p, "apply", "c001")
    with _db(p) as db:
        before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "applying changeset c002" in done.stderr and "foreign key" in done.stderr
    assert "nothing of it remains" in done.stderr and "Traceback" not in done.stderr
    with _db(p) as db:
        assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_a_failed_rebuild_leaves_the_connection_as_it_was(tmp_path: Path) -> None:
    """A rebuild that fails (a NULL where the column becomes NOT NULL) on a caller's
    connection: legacy_alter_table, which a marker once switched on until the rebuild's end,
    stayed on for the application (a later rename of its own then left its views pointing
    at the old name). It is on for the rename statement alone now; nothing is left behind
    for a later run (what the first marker writes down is rolled back with the rebuild)."""
    p = make_project(tmp_path)
    p.chain([*TABLES, OWN, {"insert_rows": {"table": "t", "rows": [{"id": 1, "name": "a"}]}}],
            [{"alter_column": {"table": "t", "name": "qty", "nullable": False}}])
    _run(p, "apply", "c001")
    engine = sa.create_engine(p.url)
    try:
        with engine.connect() as conn:
            with pytest.raises(ChangesetFailed):
                schemaflow.apply(url=conn, changesets=p.changesets)
            assert conn.exec_driver_sql("PRAGMA legacy_alter_table").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = "
                                        "'_sf_keep'").scalar() == 0
            assert [r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")] == ["trg_t_ins"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("first", [
    # A foreign key without a key to point at already (made by `sql`): the rebuild leaves
    # it as it was, and is not refused for it.
    [{"sql": {"up": "CREATE TABLE legacy_child (id INTEGER PRIMARY KEY, "
                    "code TEXT REFERENCES t(name))"}}],
    # The word AUTOINCREMENT in a default's text is no table option.
    [{"add_column": {"table": "t", "column": {"name": "kind", "type": "string(20)",
                                              "default": "autoincrement"}}}],
    # A column named rowid: the rows' rowids are not copied besides it.
    [{"create_table": {"name": "loose", "columns": [
        {"name": "code", "type": "string(10)", "primary_key": True},
        {"name": "rowid", "type": "integer"}]}},
     {"alter_column": {"table": "loose", "name": "rowid", "type": "bigint"}}],
], ids=["foreign-key-broken-before", "keyword-in-a-string", "column-named-rowid"])
def test_what_the_markers_leave_alone(tmp_path: Path, first: list[Any]) -> None:
    """Refused (a foreign key broken before; a keyword in a default's text) or a traceback
    (a column named rowid) in the first version of the markers; each rebuild applies."""
    p = make_project(tmp_path)
    p.chain([*TABLES, *first], [REQUIRE])
    _run(p, "apply")
    with _db(p) as db:
        assert [r[0] for r in db.execute("SELECT id FROM schemaflow_version")] == [
            "c001", "c002"]


def test_a_refusal_in_a_changeset_that_is_not_transactional_says_what_stays(
        tmp_path: Path) -> None:
    """`transactional: false`: what ran before the refused rebuild stays (each statement is
    committed), so the refusal is reported as a failure that says so, not as a changeset
    rolled back as a whole."""
    p = make_project(tmp_path)
    p.write("c001", [*TABLES, {"sql": {"up": "ALTER TABLE t ADD COLUMN legacy TEXT"}}])
    p.write("c002", [{"add_column": {"table": "audit", "column": {"name": "at",
                                                                  "type": "text"}}},
                     REQUIRE], parents=["c001"], transactional=False)
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "column(s) legacy" in done.stderr and "rolled back as a whole" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_trigger_that_uses_a_dropped_column_stops_the_rebuild(tmp_path: Path) -> None:
    """A trigger is recreated as written, and SQLite checks its body only when it fires:
    one reading NEW.qty after qty was dropped by the rebuild was recreated broken (every
    insert then failed, "no such column: new.qty"), exit 0. Now the changeset stops,
    rolled back, naming the column, as SQLite's own DROP COLUMN would."""
    p = make_project(tmp_path)
    p.chain([*TABLES, {"create_index": {"name": "ix_t_qty", "table": "t", "columns": ["qty"]}},
             {"sql": {"up": "CREATE TRIGGER trg_qty AFTER INSERT ON t BEGIN "
                            "INSERT INTO audit(msg) VALUES (NEW.\"qty\"); END"}}],
            [{"drop_column": {"table": "t", "name": "qty"}}])  # (indexed: a rebuild)
    _run(p, "apply", "c001")
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "uses column(s) qty, which the rebuild drops" in done.stderr, done.stderr
    with _db(p) as db:
        db.execute("INSERT INTO t (name, qty) VALUES ('a', 5)")
        assert db.execute("SELECT msg FROM audit").fetchall() == [("5",)]

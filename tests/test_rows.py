"""Rows of insert_rows, as the column's type takes them. A json column's mapping or list is
stored as that JSON object or array, a string as a JSON string (as SQLAlchemy's JSON type
sends it), and null as SQL NULL, as for every other type: the same online and in `apply
--sql`, on the real databases. An array column's value is a list. A value the column cannot
take (a mapping elsewhere, any value in a binary column, text that is no number, date, UUID
or enum value) is refused at validate (SF121), never a traceback at apply."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import DIALECTS, Project, make_project, rows

TABLE = {"create_table": {"name": "settings", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "doc", "type": "json", "nullable": True},
    {"name": "docb", "type": "json", "nullable": True,
     "variants": {"postgresql": "postgresql.jsonb"}},
]}}
DOC = {"a": 1, "nested": {"list": [1, 2.5, None, True, "it's 100% \\ \"quoted\""]}}
SEED = {"insert_rows": {"table": "settings", "rows": [
    {"id": 1, "doc": DOC, "docb": [1, {"b": None}]},
    {"id": 2, "doc": "plain text", "docb": None},
    {"id": 3, "doc": None},
]}}


def _url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url"))


def _stored(url: str) -> list[tuple[int, object, object]]:
    """Each row's values, the JSON decoded (None: SQL NULL)."""
    if url.startswith("postgresql"):
        found = rows(url, "SELECT id, doc::text, docb::text FROM settings ORDER BY id")
    else:
        found = rows(url, "SELECT id, doc, docb FROM settings ORDER BY id")
    return [(int(i), *(None if v is None else json.loads(v) for v in (a, b)))  # type: ignore
            for i, a, b in found]


def _run(url: str, statements: list[str]) -> None:
    """Statements of an `apply --sql` script, run by hand in one transaction."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.rstrip(";").replace("%", "%%"))
    finally:
        engine.dispose()


def _apply_refused(p: Project) -> None:
    """apply refuses the history (SF121), with no traceback, before anything ran."""
    done = p.cli("apply")
    assert done.returncode == 1 and "SF121" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert rows(p.url, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == [(0,)]


WANT = [(1, DOC, [1, {"b": None}]), (2, "plain text", None), (3, None, None)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_json_values_are_stored_as_written(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    url = _url(request, dialect, tmp_path)
    p = make_project(tmp_path / "proj", url)
    p.chain([TABLE], [SEED])
    done = p.cli("validate", "--dialect", dialect)
    assert done.returncode == 0, done.stdout
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert _stored(url) == WANT
    done = p.cli("rollback", "c001")
    assert done.returncode == 0, done.stderr
    assert _stored(url) == []
    # The script `apply --sql` writes for the same changesets stores the same values.
    done = p.cli("apply", "--sql", "c001:c002")
    assert done.returncode == 0, done.stderr
    script = "\n".join(line for line in done.stdout.splitlines()
                       if line.startswith("INSERT INTO settings"))
    assert script.count("INSERT") == 3, done.stdout
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(script)
    else:
        _run(url, script.splitlines())
    assert _stored(url) == WANT


def test_a_mapping_outside_a_json_column_is_refused(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", f"sqlite:///{tmp_path / 'app.db'}")
    table = {"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "label", "type": "text"},
        {"name": "data", "type": "json", "variants": {"mysql": "text"}}]}}
    p.chain([table], [{"insert_rows": {"table": "t", "rows": [
        {"id": 1, "label": "x"}, {"id": 2, "label": {"a": 1}}]}}])
    done = p.cli("validate")
    assert done.returncode == 1
    assert ("c002_change.yaml:7:3: error SF121 insert_rows: row 2, column 't.label' (text): "
            "a mapping is a value only for a json column") in done.stdout, done.stdout
    _apply_refused(p)
    # A json column with a variant of another type is refused for its sake too.
    p.write("c002", [{"insert_rows": {"table": "t", "rows": [{"id": 1, "data": [1]}]}}],
            parents=["c001"])
    done = p.cli("validate")
    assert done.returncode == 1 and "column 't.data' (mysql: text): a list" in done.stdout, \
        done.stdout
    # delete_rows cannot match a JSON value (PostgreSQL's json has no equality).
    p.write("c002", [{"delete_rows": {"table": "t", "rows": [{"data": {"a": 1}}]}}],
            parents=["c001"])
    done = p.cli("validate")
    assert done.returncode == 1 and "SF121" in done.stdout and "primary key" in done.stdout, \
        done.stdout


def test_a_toml_changeset_holds_json_values(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    p.write("c001", [TABLE])
    doc = {"a": [1, 2, {"b": "c"}], "d": {"e": True}}
    p.write("c002", [{"insert_rows": {"table": "settings", "rows": [{"id": 1, "doc": doc}]}}],
            parents=["c001"], fmt="toml")
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert _stored(url) == [(1, doc, None)]


def test_a_binary_column_takes_no_row_value(tmp_path: Path) -> None:
    """A changeset holds no bytes: a string for a binary column was sent as it is, and
    SQLAlchemy's binary type raised a TypeError at apply (a traceback). Refused at
    validate, and apply runs nothing."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "raw", "type": "binary", "variants": {"postgresql": "postgresql.bytea"}}]}}],
        [{"insert_rows": {"table": "t", "rows": [{"id": 1, "raw": None},
                                                 {"id": 2, "raw": "abc"}]}}])
    done = p.cli("validate")
    assert done.returncode == 1
    assert ("error SF121 insert_rows: row 2, column 't.raw' (binary): a binary column "
            "takes no value here") in done.stdout, done.stdout
    _apply_refused(p)


REFUSED = [
    ("integer", "abc", "is not a whole number"),
    ("float", "abc", "is not a number"),
    ("numeric(5,2)", "", "is not a number"),
    ("boolean", "yes", "is not true or false"),
    ("boolean", 2, "is not true or false"),
    ("date", "2024-13-45", "is not a date (YYYY-MM-DD)"),
    ("date", "2024-01-02T03:04:05", "is not a date (YYYY-MM-DD)"),
    ("datetime", "2024-01-02T03:04:05+02:00", "has a time zone offset"),
    ("time", "noon", "is not a time (HH:MM:SS)"),
    ("uuid", 12, "is not a UUID"),
    ("enum(a,b,name=kind)", "c", "is not one of the enum's values (a, b)"),
    ("array(integer)", 12, "is not a list"),
]


@pytest.mark.parametrize(("type_", "value", "why"), REFUSED,
                         ids=[f"{t}-{v!r}" for t, v, _ in REFUSED])
def test_a_row_value_the_column_cannot_take_is_refused(
        tmp_path: Path, type_: str, value: object, why: str) -> None:
    """Found by running every type with every kind of value: a value SQLAlchemy's conversion
    raises on (float('abc'), a UUID's .hex, an enum's lookup, SQLite's dates) was a
    traceback at apply, one SQLite stores as it is ('abc' in an integer column) a silent
    difference from the databases that refuse it. Refused at validate, as a default is."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "v", "type": type_}]}}],
        [{"insert_rows": {"table": "t", "rows": [{"id": 1, "v": value}]}}])
    done = p.cli("validate")
    assert done.returncode == 1 and "SF121" in done.stdout, done.stdout
    assert f"row 1, column 't.v' ({type_}): the value {json.dumps(value)} {why}" in \
        done.stdout, done.stdout
    _apply_refused(p)


def test_row_values_of_the_columns_types_are_taken(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "n", "type": "integer"}, {"name": "f", "type": "float"},
        {"name": "b", "type": "boolean"}, {"name": "u", "type": "uuid"},
        {"name": "d", "type": "date"}, {"name": "e", "type": "enum(a,b,name=kind)"}]}}],
        [{"insert_rows": {"table": "t", "rows": [
            {"id": 1, "n": "12", "f": "1.5", "b": 1, "e": "a",
             "u": "12345678-1234-5678-1234-567812345678", "d": "2024-01-02"},
            {"id": 2, "n": 3, "f": 2, "b": False, "e": None, "u": None, "d": None}]}}])
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert rows(url, "SELECT id, n, f, b, d, e FROM t ORDER BY id") == [
        (1, 12, 1.5, 1, "2024-01-02", "a"), (2, 3, 2.0, 0, None, None)]


@pytest.mark.postgresql
def test_an_array_columns_value_is_a_list(tmp_path: Path, pg_url: str) -> None:
    """A list for an array column (its elements; an empty one too, whose bare ARRAY[] in
    `--sql` PostgreSQL cannot type), online and in the script alike."""
    p = make_project(tmp_path / "proj", pg_url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "tags", "type": "array(string(10))"},
        {"name": "grid", "type": "array(integer, dimensions=2)"}]}}],
        [{"insert_rows": {"table": "t", "rows": [
            {"id": 1, "tags": ["a", "it's"], "grid": [[1, 2], [3, 4]]},
            {"id": 2, "tags": [], "grid": None}]}}])
    want = [(1, ["a", "it's"], [[1, 2], [3, 4]]), (2, [], None)]
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert rows(pg_url, "SELECT id, tags, grid FROM t ORDER BY id") == want
    assert p.cli("rollback", "c001").returncode == 0
    done = p.cli("apply", "--sql", "c001:c002")
    assert done.returncode == 0, done.stderr
    _run(pg_url, [line for line in done.stdout.splitlines() if line.startswith("INSERT INTO t ")])
    assert rows(pg_url, "SELECT id, tags, grid FROM t ORDER BY id") == want

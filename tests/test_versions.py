"""The version table read through the driver alone (versions.read_rows) gives what the
SQLAlchemy reader gives, on real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import DEMO, Project, make_project, run_reporting_imports

from schemaflow.dialects.connect import end_read, session
from schemaflow.errors import ConnectionFailed
from schemaflow.recorder import AppliedRow, Recorder, applied_time, read_rows

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql),
         pytest.param("mysql", marks=pytest.mark.mysql)]



@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql"
                                       else "mysql_url"))


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture
def second_mysql_database(mysql_url: str) -> Iterator[str]:
    """Another database on the MySQL server, to hold a version table (dropped afterwards)."""
    name = f"{sa.engine.make_url(mysql_url).database}_vt"
    execute(mysql_url, f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        execute(mysql_url, f"DROP DATABASE IF EXISTS {name}")


def sa_rows(url: str, table: str, schema: str | None) -> list[AppliedRow]:
    """The rows as every writing command reads them: through SQLAlchemy."""
    with session(url) as (conn, _dialect):
        return Recorder(conn, table, schema).rows()


def demo(root: Path, url: str, extra: str = "") -> Project:
    p = make_project(root, url)
    for f in DEMO.iterdir():
        (p.changesets / f.name).write_bytes(f.read_bytes())
    with open(p.root / "schemaflow.toml", "a", encoding="utf-8") as fh:
        fh.write(extra)
    return p


def run_main(p: Project, *args: str) -> tuple[str, bool]:
    """(stdout, whether SQLAlchemy was imported) of `schemaflow ARGS` in the project."""
    out, code, heavy = run_reporting_imports(p.root, *args)
    assert code == 0, out
    return out, "sqlalchemy" in heavy


def without_url(text: str) -> object:
    """JSON output without the URL (the two runs name the database differently)."""
    if not text.startswith("{"):
        return text
    doc = json.loads(text)
    doc.pop("url", None)
    return doc


@pytest.mark.parametrize("custom", [False, True], ids=["default-table", "custom-table"])
def test_both_readers_return_the_same_rows_after_apply(url: str, custom: bool, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    table, schema = "schemaflow_version", None
    if custom:
        table = "Sf_Versions"
        if url.startswith("postgresql"):
            schema = "history"
            execute(url, 'CREATE SCHEMA "history"')
        elif url.startswith("mysql"):
            schema = str(request.getfixturevalue("second_mysql_database"))
    extra = f'version_table = "{table}"\n' + (f'version_table_schema = "{schema}"\n'
                                              if schema else "")
    p = demo(tmp_path / "demo", url, extra)
    for args in (["apply"], ["rollback", "-3"], ["apply", "+2"]):
        result = p.cli(*args)
        assert result.returncode == 0, result.stderr
    light = read_rows(url, table, schema, timeout=5)
    assert light is not None
    assert light == sa_rows(url, table, schema)
    assert [r.exec_order for r in light] == sorted(r.exec_order for r in light)
    assert len(light) == 7 and all(isinstance(r.applied_at, dt.datetime) for r in light)
    if custom:  # the rows are in the configured table, not in the default one
        assert read_rows(url, "schemaflow_version", None, timeout=5) == []


@pytest.mark.parametrize("driver", ["", "psycopg2"], ids=["own-driver", "psycopg2"])
def test_the_recorder_reads_from_the_cursor_what_sqlalchemy_rows_hold(
        url: str, driver: str, tmp_path: Path) -> None:
    # The recorder takes the rows from the driver's cursor, not through SQLAlchemy's Row: the
    # same values of the same types as SQLAlchemy's rows give, on every database and driver
    # (psycopg2 is a driver the driver-only reader leaves to SQLAlchemy).
    if driver and not url.startswith("postgresql"):
        pytest.skip("psycopg2 is a PostgreSQL driver")
    if driver:
        url = "postgresql+psycopg2" + url[url.index("://"):]
    p = demo(tmp_path / "demo", url)
    assert p.cli("apply").returncode == 0
    unreadable = url.startswith("sqlite")  # a text column there: it may hold anything
    if unreadable:
        execute(url, "UPDATE schemaflow_version SET applied_at = 'not a time' "
                     "WHERE exec_order = 2")
    with session(url) as (conn, _dialect):
        recorder = Recorder(conn, "schemaflow_version", None)
        vt = recorder.table
        columns = [sa.type_coerce(c, sa.String()).label(c.name) if c.name == "applied_at"
                   else c for c in vt.c]
        expected = [AppliedRow(r[0], r[1], r[2], applied_time(r[3]), *r[4:]) for r in
                    conn.execute(sa.select(*columns).order_by(vt.c.exec_order)).all()]
        end_read(conn)
        got = recorder.read()
        assert not conn.in_transaction()
    assert got == expected and len(got) == 8
    assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in expected]
    assert [r.applied_at is None for r in got] == [unreadable and r.exec_order == 2
                                                   for r in got]


def test_a_missing_table_is_no_rows(url: str) -> None:
    execute(url, "CREATE TABLE other (x INTEGER)")
    assert read_rows(url, "schemaflow_version", None, timeout=5) == []
    assert sa_rows(url, "schemaflow_version", None) == []
    if not url.startswith("sqlite"):  # a schema (a database on MySQL) that does not exist
        assert read_rows(url, "schemaflow_version", "no_such_schema", timeout=5) == []


@pytest.mark.parametrize("url", [
    "postgresql+psycopg2://postgres:pw@127.0.0.1:1/test",
    "mysql+pymysql://root@127.0.0.1:1/test?charset=utf8",
    "mysql+mysqldb://root@127.0.0.1:1/test",
    "mssql+pyodbc://sa:pw@127.0.0.1:1/test",
    "sqlite://",
    "sqlite:///:memory:",
])
def test_urls_left_to_sqlalchemy_are_not_read(url: str) -> None:
    # Port 1 listens nowhere: any attempt to connect would raise instead of returning None.
    assert read_rows(url, "schemaflow_version", None, timeout=1) is None


def test_sqlite_with_options_or_a_schema_is_left_to_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    assert read_rows(f"sqlite:///{path}?mode=ro", "schemaflow_version", None, timeout=1) is None
    assert read_rows(f"sqlite:///{path}", "schemaflow_version", "main", timeout=1) is None
    assert not path.exists()  # nothing was opened


@pytest.mark.postgresql
def test_an_unreachable_postgresql_hides_the_password() -> None:
    with pytest.raises(ConnectionFailed) as info:
        read_rows("postgresql://postgres:secret@127.0.0.1:1/test", "v", None, timeout=5)
    assert info.value.message.startswith("cannot connect to postgresql://postgres:***@127.0.0.1:1")
    assert "secret" not in info.value.message


def test_a_refused_mysql_login_hides_the_password(mysql_url: str, tmp_path: Path) -> None:
    u = sa.engine.make_url(mysql_url)
    bad = f"mysql+pymysql://nobody:secret@{u.host}:{u.port or 3306}/{u.database}"
    with pytest.raises(ConnectionFailed) as info:
        read_rows(bad, "schemaflow_version", None, timeout=5)
    assert info.value.message.startswith(f"cannot connect to mysql+pymysql://nobody:***@{u.host}")
    assert "Access denied" in info.value.message and "secret" not in info.value.message
    result = make_project(tmp_path / "p", bad).cli("current")
    assert result.returncode == 2 and "cannot connect to" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", [pytest.param("pg_url", marks=pytest.mark.postgresql),
                                  pytest.param("mysql_url", marks=pytest.mark.mysql)])
def test_a_version_table_of_another_shape_is_one_clear_error(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = str(request.getfixturevalue(kind))
    execute(url, "CREATE TABLE schemaflow_version (x INTEGER)")
    result = make_project(tmp_path / "p", url).cli("current")
    assert result.returncode == 2, result.stdout + result.stderr
    # (after the header naming the database)
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("database: ")]
    assert lines[0].startswith("error: the database failed: ")
    assert "schemaflow_version.id" in lines[0] and len(lines) == 1, result.stderr


def test_current_and_status_read_the_same_through_either_reader(
        url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The driver's reader, without importing SQLAlchemy, and SQLAlchemy's (forced by a URL
    only it reads) print the same."""
    if url.startswith("postgresql"):
        # A user name with a raw '@' in it: read as written (user part up to the last '@'),
        # by the driver too. (PostgreSQL's SQLAlchemy reader runs in every apply.)
        u, role = sa.engine.make_url(url), f"sf@{uuid.uuid4().hex[:8]}"
        execute(url, f'CREATE ROLE "{role}" LOGIN SUPERUSER')
        request.addfinalizer(lambda: execute(url, f'DROP ROLE IF EXISTS "{role}"'))
        heavy = f"postgresql+psycopg://{role}@{u.host}:{u.port or 5432}/{u.database}"
    else:  # query options are left to SQLAlchemy
        heavy = url + ("?timeout=5" if url.startswith("sqlite") else "?charset=utf8mb4")
    by_sa = not url.startswith("postgresql")
    p = demo(tmp_path / "demo", url)
    assert p.cli("apply").returncode == 0 and p.cli("rollback", "-2").returncode == 0
    for args in (["current", "-v", "--format", "json"], ["status", "--format", "json"],
                 ["status"]):
        out, imported = run_main(p, *args)
        out_sa, imported_sa = run_main(p, "--url", heavy, *args)
        assert (imported, imported_sa) == (False, by_sa), args
        assert without_url(out) == without_url(out_sa), args
    assert out.strip().endswith("(head, tag: v1.0, pending), require comment bodies and add "
                                "user bios\n2 pending"), out
    applied = p.cli("apply")
    assert applied.returncode == 0 and "Applied 2 changesets" in applied.stderr, applied.stderr
    out, imported = run_main(p, "current", "-v", "--format", "json")
    rows = sa_rows(url, "schemaflow_version", None)
    assert not imported and len(rows) == 8
    assert [(r["id"], r["exec_order"]) for r in json.loads(out)["applied"]] == [
        (r.id, r.exec_order) for r in rows]


PARTIAL_INDEX = [{"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "flag", "type": "boolean"}]}},
    {"create_index": {"name": "ix_t_flag", "table": "t", "columns": ["flag"],
                      "where": "flag"}}]


@pytest.mark.parametrize("dialect", [None, "postgresql", "mysql"])
def test_validate_for_a_database_does_not_import_sqlalchemy(project: Project,
                                                            dialect: str | None) -> None:
    """The linter's capability checks (SF331) come from support.py: linting for the URL's
    database or a --dialect costs no SQLAlchemy import, and still finds what that database
    cannot do (MySQL has no partial index)."""
    project.write("c001", PARTIAL_INDEX)
    args = ["validate", "--format", "json", *(["--dialect", dialect] if dialect else [])]
    out, _, heavy = run_reporting_imports(project.root, *args)
    assert "sqlalchemy" not in heavy, out
    codes = {d["code"] for d in json.loads(out)["diagnostics"]}
    assert ("SF331" in codes) == (dialect == "mysql"), out

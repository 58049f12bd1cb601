"""What each database can store, checked by `validate --dialect` and refused before `apply`
runs anything: integers in their column type's range (SF333), names of a length and of
characters the database takes (SF331). Each rule is shown against the real database: it
fails, or stores something other than what was written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, rows
from test_execute_sqlite import run_sql

BIG = 99999999999999999999999  # beyond 64 bits


def _table(name: str = "t", *extra: dict[str, Any]) -> dict[str, Any]:
    return {"create_table": {"name": name, "columns": [
        {"name": "id", "type": "integer", "primary_key": True}, *extra]}}


def _refused_by_validate(p: Project, dialect: str, code: str, *words: str) -> str:
    done = p.cli("validate", "--dialect", dialect)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    line = next((ln for ln in done.stdout.splitlines() if code in ln), "")
    assert line.startswith("changesets/c001_change.yaml:"), done.stdout
    for w in words:
        assert w in line, (w, line)
    return line


def _refused_by_apply(p: Project, *words: str) -> None:
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "changeset c001" in done.stderr and "run schemaflow validate" in done.stderr
    for w in words:
        assert w in done.stderr, (w, done.stderr)


def test_sqlite_an_integer_beyond_64_bits_is_refused_not_a_traceback(project: Project) -> None:
    project.chain([_table("t", {"name": "n", "type": "bigint"}),
                   {"insert_rows": {"table": "t", "rows": [{"id": 1, "n": 5},
                                                           {"id": 2, "n": BIG}]}}])
    line = _refused_by_validate(project, "sqlite", "SF333", "row 2", "'t.n'", str(BIG),
                                "9223372036854775807")
    text = (project.changesets / "c001_change.yaml").read_text(encoding="utf-8").splitlines()
    at = int(line.split(":")[1])
    assert str(BIG) in text[at - 1]  # the line of the value itself
    _refused_by_apply(project, "insert_rows", str(BIG))
    # Nothing ran: the table of the same changeset is not there.
    assert rows(project.url, "SELECT name FROM sqlite_master WHERE name = 't'") == []
    # What SQLite does with it: its driver cannot bind it at all.
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n BIGINT)")
    with pytest.raises(OverflowError):
        conn.execute("INSERT INTO t VALUES (1, ?)", (BIG,))


def test_sqlite_a_default_beyond_64_bits_is_refused_as_sqlite_would_change_it(
        project: Project) -> None:
    project.chain([_table("t", {"name": "n", "type": "integer", "default": BIG},
                          {"name": "f", "type": "float", "default": BIG})])
    _refused_by_validate(project, "sqlite", "SF333", "default of column 't.n'")
    out = project.cli("validate", "--dialect", "sqlite").stdout
    assert "'t.f'" not in out  # a float column takes it as the approximate number it is
    # SQLite keeps the literal as an approximate REAL, even in an INTEGER column.
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER DEFAULT {BIG})")
    conn.execute("INSERT INTO t (id) VALUES (1)")
    assert conn.execute("SELECT typeof(n) FROM t").fetchone() == ("real",)


def test_sqlite_holds_64_bits_whatever_the_declared_type(project: Project) -> None:
    # 99999 in a smallint: SQLite stores it, PostgreSQL and MySQL refuse it.
    project.chain([_table("t", {"name": "n", "type": "smallint", "default": 99999})])
    assert project.cli("validate", "--dialect", "sqlite").returncode == 0
    for dialect in ("postgresql", "mysql", "mariadb"):
        _refused_by_validate(project, dialect, "SF333", "-32768 to 32767", "'t.n' (smallint)")
    assert project.cli("apply").returncode == 0
    assert rows(project.url, "SELECT n FROM t") == []


@pytest.mark.postgresql
def test_postgresql_integer_ranges_per_type(tmp_path: Path, pg_url: str) -> None:
    p = make_project(tmp_path / "proj", pg_url)
    p.chain([_table("t", {"name": "s", "type": "smallint", "default": 40000},
                    {"name": "i", "type": "integer"}, {"name": "b", "type": "bigint"}),
             {"insert_rows": {"table": "t", "rows": [
                 {"id": 1, "i": 2**31 - 1, "b": 2**63 - 1},
                 {"id": 2, "i": -(2**31) - 1, "b": 1}]}}])
    done = p.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 1
    found = [ln for ln in done.stdout.splitlines() if "SF333" in ln]
    assert len(found) == 2, done.stdout
    assert "default of column 't.s'" in found[0] and "row 2, column 't.i'" in found[1]
    assert "row 1" not in done.stdout
    _refused_by_apply(p, "40000")
    assert rows(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [(0,)]
    # PostgreSQL takes the default without a word, and every insert relying on it fails.
    run_sql(pg_url, "CREATE TABLE raw (id int PRIMARY KEY, s smallint DEFAULT 40000)")
    with pytest.raises(sa.exc.DataError, match="smallint out of range"):
        run_sql(pg_url, "INSERT INTO raw (id) VALUES (1)")


@pytest.mark.postgresql
def test_postgresql_name_limit_is_63_bytes_and_it_truncates_silently(
        tmp_path: Path, pg_url: str) -> None:
    name = "é" * 40  # 40 characters, 80 bytes
    p = make_project(tmp_path / "proj", pg_url)
    p.chain([_table("t", {"name": name, "type": "integer"})])
    _refused_by_validate(p, "postgresql", "SF331", "80 bytes", "63")
    assert p.cli("validate", "--dialect", "mariadb").returncode == 0  # 64 characters there
    _refused_by_apply(p, "80 bytes")
    run_sql(pg_url, f'CREATE TABLE raw (id int, "{name}" int)')
    held = rows(pg_url, "SELECT attname FROM pg_attribute WHERE attrelid = 'raw'::regclass "
                        "AND attnum = 2")[0][0]
    assert held != name and name.startswith(held) and len(held.encode()) <= 63


@pytest.mark.mysql
@pytest.mark.parametrize("bad, why", [
    ("smile\U0001f642", "U+1F642"),  # beyond the Basic Multilingual Plane
    ("trailing ", "ends in a space"),
])
def test_mariadb_refuses_these_characters_in_names(tmp_path: Path, mysql_url: str, bad: str,
                                                   why: str) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    p.chain([_table("t", {"name": bad, "type": "integer"})])
    _refused_by_validate(p, "mariadb", "SF331", why)
    _refused_by_validate(p, "mysql", "SF331", why)
    assert p.cli("validate", "--dialect", "postgresql").returncode == 0
    _refused_by_apply(p, why)
    # Nothing ran: not even the version table is made for a plan refused.
    assert rows(mysql_url, "SHOW TABLES") == []
    with pytest.raises(sa.exc.DatabaseError):
        run_sql(mysql_url, f"CREATE TABLE raw (id int, `{bad}` int)")


def test_no_database_takes_u0000_in_a_name(project: Project) -> None:
    project.chain([_table("t\x00x")])
    for dialect in ("sqlite", "postgresql", "mysql", "mariadb"):
        _refused_by_validate(project, dialect, "SF331", "U+0000", "'t\\x00x'")
    _refused_by_apply(project, "U+0000")


@pytest.mark.mysql
def test_mariadb_integer_types_by_width(tmp_path: Path, mysql_url: str) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    p.chain([_table("t", {"name": "tiny", "type": "mysql.tinyint"},
                    {"name": "medium", "type": "mysql.mediumint"}),
             {"insert_rows": {"table": "t", "rows": [{"id": 1, "tiny": 127, "medium": 2**23},
                                                     {"id": 2, "tiny": -129}]}}])
    done = p.cli("validate", "--dialect", "mariadb")
    found = [ln for ln in done.stdout.splitlines() if "SF333" in ln]
    assert done.returncode == 1 and len(found) == 2, done.stdout
    assert "row 1, column 't.medium'" in found[0] and "-8388608 to 8388607" in found[0]
    assert "row 2, column 't.tiny'" in found[1] and "-128 to 127" in found[1]
    _refused_by_apply(p, "8388608")
    # MariaDB in strict mode refuses it after the DDL before it has committed: half a
    # changeset; outside strict mode it clamps the value without a word.
    run_sql(mysql_url, "CREATE TABLE raw (id int, tiny tinyint)")
    with pytest.raises(sa.exc.DataError, match="Out of range"):
        run_sql(mysql_url, "INSERT INTO raw VALUES (1, -129)")
    run_sql(mysql_url, "SET SESSION sql_mode = ''", "INSERT INTO raw VALUES (2, -129)")
    assert rows(mysql_url, "SELECT tiny FROM raw") == [(-128,)]


def test_an_alter_column_to_a_narrower_type_checks_the_default_it_keeps(
        project: Project) -> None:
    project.chain([_table("t", {"name": "n", "type": "bigint", "default": 70000})],
                  [{"alter_column": {"table": "t", "name": "n", "type": "smallint"}}])
    done = project.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 1 and "SF333" in done.stdout, done.stdout
    assert "c002_change.yaml" in done.stdout and "default of column 't.n'" in done.stdout


@pytest.mark.mysql
def test_a_string_longer_than_its_column(tmp_path: Path, mysql_url: str) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    p.chain([_table("t", {"name": "code", "type": "string(3)"}),
             {"insert_rows": {"table": "t", "rows": [{"id": 1, "code": "abc"},
                                                     {"id": 2, "code": "abcd"}]}}])
    _refused_by_validate(p, "mariadb", "SF333", "row 2, column 't.code'", "4 characters",
                         "the 3 it holds")
    done = p.cli("validate", "--dialect", "sqlite")  # SQLite stores the whole string
    assert done.returncode == 0, done.stdout
    _refused_by_apply(p, "'abcd'")
    # MariaDB cuts it without a word outside strict mode (and fails in it, DDL committed).
    run_sql(mysql_url, "CREATE TABLE raw (code varchar(3))", "SET SESSION sql_mode = ''",
            "INSERT INTO raw VALUES ('abcd')")
    assert rows(mysql_url, "SELECT code FROM raw") == [("abc",)]

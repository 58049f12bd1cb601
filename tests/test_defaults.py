"""Literal defaults checked against the column's type at validate (SF120), and the type names
users bring from SQL (`decimal`) answered with the one schemaflow spells."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Project, make_project

from schemaflow.defaults import problem
from schemaflow.typespec import parse_type

GOOD: list[tuple[str, Any]] = [
    ("integer", 5), ("integer", "-12"), ("smallint", 32767), ("bigint", 2**63 - 1),
    ("float", 1.5), ("float", 3), ("float", "2.5e3"), ("numeric(5,2)", 123.45),
    ("numeric", "99999999.125"), ("boolean", True), ("boolean", False),
    ("date", "2024-01-15"), ("datetime", "2024-01-15 09:30:00"),
    ("datetime(timezone=true)", "2024-01-15 09:30:00+02:00"), ("time", "09:30:00"),
    ("uuid", "3f9a1c2b-7d4e-4c1a-9b2e-0a1b2c3d4e5f"), ("string(5)", "hello"),
    ("string(10)", 42), ("text", "anything at all"), ("enum(new,paid,name=st)", "paid"),
    ("json", '{"a": [1, 2]}'), ("json", "[]"),
]
BAD: list[tuple[str, Any, str]] = [
    ("integer", "abc", "is not a whole number"), ("integer", 1.5, "is not a whole number"),
    ("integer", True, "is not a whole number"),
    ("smallint", 2**63, "out of the range of a 64-bit integer"),
    ("bigint", -(2**63) - 1, "out of the range of a 64-bit integer"),
    ("float", "fast", "is not a number"), ("float", float("inf"), "is not a number"),
    ("numeric(5,2)", 1234.5, "has 4 digits before the point; numeric(5,2) holds at most 3"),
    ("numeric", "1,5", "is not a number"),
    ("boolean", 3, "is not true or false"), ("boolean", "yes", "is not true or false"),
    ("date", "notadate", "is not a date"), ("date", "2024-02-30", "is not a date"),
    ("date", 20240115, "is not a date"), ("datetime", "yesterday", "is not a date and time"),
    ("datetime", "2024-01-15 09:30:00+02:00", "has a time zone offset"),
    ("time", "25:00", "is not a time"), ("uuid", "nope", "is not a UUID"),
    ("string(3)", "abcd", "is 4 characters long; string(3) holds at most 3"),
    ("enum(new,paid,name=st)", "shipped", "is not one of the enum's values (new, paid)"),
    ("json", "{not json", "is not valid JSON"), ("json", 5, "is not JSON text"),
]


@pytest.mark.parametrize(("type_", "value"), GOOD)
def test_values_of_the_type_pass(type_: str, value: Any) -> None:
    assert problem(parse_type(type_), value) is None


@pytest.mark.parametrize(("type_", "value", "why"), BAD)
def test_values_not_of_the_type_are_named(type_: str, value: Any, why: str) -> None:
    found = problem(parse_type(type_), value)
    assert found is not None and why in found, found


def test_dialect_types_are_left_to_the_database() -> None:
    assert problem(parse_type("postgresql.jsonb"), 5) is None


BAD_FILE = """\
schemaflow: 1
id: c001
parents: []
message: defaults
operations:
  - create_table:
      name: t
      columns:
        - {name: id, type: integer, primary_key: true}
        - {name: n, type: integer, default: abc}
        - {name: flag, type: boolean, default: 3}
        - {name: day, type: date, default: someday}
        - {name: made, type: datetime, default_sql: now()}
        - {name: price, type: "numeric(5,2)", default: 9.99}
  - add_column: {table: t, column: {name: label, type: string(3), default: long}}
  - alter_column: {table: t, name: label, type: integer}
"""


def test_validate_names_file_line_changeset_and_column(project: Project) -> None:
    project.write_text("c001_defaults.yaml", BAD_FILE)
    done = project.cli("validate")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert ('changesets/c001_defaults.yaml:10:36: error SF120 create_table in changeset c001: '
            'column t.n (integer): the default "abc" is not a whole number') in out
    assert "c001_defaults.yaml:11:39: error SF120" in out and "t.flag (boolean)" in out
    assert "c001_defaults.yaml:12:35: error SF120" in out and "t.day (date)" in out
    assert ("c001_defaults.yaml:15:67: error SF120 add_column in changeset c001: column "
            't.label (string(3)): the default "long" is 4 characters long') in out
    assert ("c001_defaults.yaml:16:43: error SF120 alter_column in changeset c001: column "
            't.label (integer): the default "long" is not a whole number (the default it '
            "keeps)") in out
    assert "default_sql for an SQL expression" in out
    assert "t.made" not in out and "t.price" not in out  # an expression, a fitting value
    assert "5 errors" in out
    doc = json.loads(project.cli("validate", "--format", "json").stdout)
    found = [d for d in doc["diagnostics"] if d["code"] == "SF120"]
    assert {(d["changeset"], d["line"]) for d in found} == {
        ("c001", 10), ("c001", 11), ("c001", 12), ("c001", 15), ("c001", 16)}


def test_decimal_gets_did_you_mean_numeric(project: Project) -> None:
    project.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "price", "type": "decimal(10,2)"}]}}])
    done = project.cli("validate")
    assert done.returncode == 1
    assert "unknown type 'decimal' — did you mean 'numeric'?" in done.stdout


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_every_default_the_check_passes_is_one_the_database_takes(
        server: str, project: Project, request: pytest.FixtureRequest) -> None:
    """No false alarm: the values validate accepts are created by the real servers."""
    url = str(request.getfixturevalue(server))
    p = make_project(project.root.parent / server, url)
    columns: list[dict[str, Any]] = [{"name": "id", "type": "integer", "primary_key": True}]
    for i, (type_, value) in enumerate(GOOD):
        if server == "mysql_url" and "timezone" in type_:
            continue  # MariaDB's DATETIME holds no offset: PostgreSQL's timestamptz does
        columns.append({"name": f"c{i}", "type": type_, "default": value})
    p.write("c001", [{"create_table": {"name": "t", "columns": columns}}])
    checked = p.cli("validate")
    assert "SF120" not in checked.stdout, checked.stdout
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr

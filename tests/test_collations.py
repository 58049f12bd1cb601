"""Collations written by hand: one for every database, or one per database
(`collation: {mysql: utf8mb4_bin, postgresql: C}`), in create_table, add_column and
alter_column, applied and rolled back on real SQLite, PostgreSQL and MariaDB. (Models with
`with_variant` of a type with another collation: test_fidelity's round trip.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import DIALECTS, Project, database_url, live_collations, make_project, rows

PER_DATABASE = [
    {"create_table": {"name": "words", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "w", "type": "string(20)",
         "collation": {"sqlite": "NOCASE", "postgresql": "C", "mysql": "utf8mb4_bin"}},
        {"name": "v", "type": "string(20)", "collation": {"mysql": "utf8mb4_bin"}}]}},
    {"add_column": {"table": "words", "column": {"name": "x", "type": "text",
                                                 "collation": {"postgresql": "C"}}}},
]
# Then: v widened, with a collation on SQLite and PostgreSQL only from now on.
ALTER = [{"alter_column": {"table": "words", "name": "v", "type": "string(30)",
                           "collation": {"sqlite": "RTRIM", "postgresql": "C"}}}]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_collation_per_database_is_built_on_each_database(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    p = make_project(tmp_path / "proj", database_url(tmp_path, dialect, request))
    p.write("c1", PER_DATABASE)
    p.write("c2", ALTER, parents=["c1"])
    done = p.cli("validate")
    assert done.returncode == 0, (done.stdout, done.stderr)
    done = p.cli("apply", "c1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    first = {"sqlite": {"w": "NOCASE", "v": None, "x": None},
             "postgresql": {"w": "C", "v": None, "x": "C"},
             "mysql": {"w": "utf8mb4_bin", "v": "utf8mb4_bin", "x": None}}[dialect]
    assert live_collations(p.url, dialect) == first
    done = p.cli("apply")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert live_collations(p.url, dialect) == {
        **first, "v": {"sqlite": "RTRIM", "postgresql": "C", "mysql": None}[dialect]}
    for target in ("c1", "base"):
        done = p.cli("rollback", target)
        assert done.returncode == 0, (target, done.stdout, done.stderr)
        if target == "c1":
            assert live_collations(p.url, dialect) == first
    assert not live_collations(p.url, dialect)


@pytest.mark.parametrize(("collation", "message"), [
    ({"oracle": "C"}, "must be one of sqlite, postgresql, mysql, mariadb, not 'oracle'"),
    ({}, "collation must not be empty"),
    ({"mysql": 5}, "collation.mysql must be a string, not 5"),
    ("", "collation must not be empty"),
])
def test_a_malformed_collation_is_refused_where_it_is_written(
        project: Project, collation: object, message: str) -> None:
    project.write("c1", [{"create_table": {"name": "words", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "w", "type": "string(20)", "collation": collation}]}}])
    for args in (("validate",), ("apply",)):
        done = project.cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert re.search(r"c1_change\.yaml:1[45]:\d+: error SF002", done.stdout + done.stderr)
        assert message in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    assert rows(project.url, "SELECT count(*) FROM sqlite_master WHERE name = 'words'") == [(0,)]


def test_a_collation_per_database_on_a_type_that_takes_none_is_refused_there(
        project: Project) -> None:
    """An integer with a collation on SQLite: refused for SQLite, by name (SF331)."""
    project.write("c1", [{"create_table": {"name": "words", "columns": [
        {"name": "id", "type": "integer", "primary_key": True,
         "collation": {"sqlite": "NOCASE"}}]}}])
    done = project.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "SF331" in done.stdout and "the type integer takes no collation ('NOCASE')" in (
        done.stdout), done.stdout
    done = project.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 0, (done.stdout, done.stderr)


def test_a_type_change_with_a_collation_rebuilds_the_sqlite_table(project: Project) -> None:
    """alter_column with a type and a collation on SQLite raised a traceback (IRError) before
    the table was rebuilt: now the column has both."""
    project.write("c1", [{"create_table": {"name": "words", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "v", "type": "string(20)"}]}},
        {"alter_column": {"table": "words", "name": "v", "type": "string(30)",
                          "collation": "NOCASE"}}])
    done = project.cli("apply")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert live_collations(project.url, "sqlite")["v"] == "NOCASE"
    (create,) = rows(project.url, "SELECT sql FROM sqlite_master WHERE name = 'words'")[0]
    assert "VARCHAR(30)" in create


def test_a_collation_per_database_is_compared_by_what_each_database_gets(
        tmp_path: Path) -> None:
    """`check` (models against the changesets) compares the collation each database gets:
    a mapping that names MariaDB with MySQL's collation, or every database with one, is the
    same as the models' with_variant, and a different one on one database is a change."""
    p = make_project(tmp_path / "proj")
    (p.root / "collation_models.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('words', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('v', sa.String(20).with_variant(\n"
        "             sa.String(20, collation='utf8mb4_bin'), 'mysql')),\n"
        "         sa.Column('w', sa.String(20, collation='C').with_variant(\n"
        "             sa.String(20, collation='NOCASE'), 'sqlite')))\n", encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "collation_models:metadata"\n')

    def check(v: object, w: object) -> int:
        p.write("c1", [{"create_table": {"name": "words", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "v", "type": "string(20)", "collation": v},
            {"name": "w", "type": "string(20)", "collation": w}]}}])
        done = p.cli("check")
        assert "Traceback" not in done.stderr
        return done.returncode

    assert check({"mysql": "utf8mb4_bin", "mariadb": "utf8mb4_bin"},
                 {"sqlite": "NOCASE", "postgresql": "C", "mysql": "C"}) == 0
    assert check({"mysql": "utf8mb4_bin"}, {"sqlite": "NOCASE", "postgresql": "C"}) == 1
    assert check({"mysql": "utf8mb4_general_ci"},
                 {"sqlite": "NOCASE", "postgresql": "C", "mysql": "C"}) == 1


@pytest.mark.parametrize(("column", "dialect", "named"), [
    ({"type": "json", "variants": {"postgresql": "postgresql.jsonb"},
      "collation": {"postgresql": "C"}}, "postgresql", "postgresql.jsonb"),
    ({"type": "postgresql.jsonb", "collation": "C"}, "postgresql", "postgresql.jsonb"),
    ({"type": "sql(VECTOR(3))", "collation": "C"}, "postgresql", "sql(VECTOR(3))"),
])
def test_a_collation_on_a_type_without_one_is_refused_at_validate(
        project: Project, column: dict[str, object], dialect: str, named: str) -> None:
    """A database's own type, or one written as SQL, given a collation: `validate` said
    nothing, and `apply` failed as "cannot be rendered", its hint to run validate."""
    project.write("c1", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}, {"name": "a", **column}]}}])
    done = project.cli("validate", "--dialect", dialect)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"the type {named} takes no collation ('C')" in done.stdout, done.stdout
    done = project.cli("apply", "--sql", "--dialect", dialect)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"the type {named} takes no collation" in done.stderr, done.stderr
    assert f"run schemaflow validate --dialect {dialect}" in done.stderr, done.stderr


def test_a_collation_on_a_string_type_of_a_database_is_taken(project: Project) -> None:
    project.write("c1", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "a", "type": "text", "variants": {"mysql": "mysql.mediumtext"},
         "collation": {"mysql": "utf8mb4_bin"}}]}}])
    done = project.cli("apply", "--sql", "--dialect", "mysql")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "MEDIUMTEXT COLLATE utf8mb4_bin" in done.stdout, done.stdout

"""The pytest plugin as a project uses it, through real pytest runs (pytester): the built-in
checks as ordinary test items, each on a new database of the server the user names, and the
fixtures that give each test its own migrated database."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import DEMO, ROOT, rows

pytest_plugins = ["pytester"]

APP_TEST = '''
import sqlalchemy as sa

def test_the_migrated_engine_has_the_demo_tables(migrated_engine):
    assert {"users", "posts"} <= set(sa.inspect(migrated_engine).get_table_names())
'''

CHECKS = ("single_head", "apply_from_empty", "every_step_rolls_back", "models_match",
          "applied_checksums")


def _demo(pytester: pytest.Pytester) -> Path:
    """The demo project with one test of its own in tests/."""
    root = pytester.path
    shutil.copytree(DEMO, root / "changesets")
    (root / "schemaflow.toml").write_text('url = "sqlite:///app.db"\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text(APP_TEST)
    return root


def _write(root: Path, cid: str, operations: list[object], parents: list[str]) -> None:
    doc = {"schemaflow": 1, "id": cid, "parents": parents, "message": f"change {cid}",
           "operations": operations}
    (root / "changesets" / f"{cid}_change.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _small(pytester: pytest.Pytester, *ops_per_changeset: list[object]) -> Path:
    """A project with a linear history c001, c002, ... (one list of operations each)."""
    root = pytester.path
    (root / "changesets").mkdir()
    (root / "schemaflow.toml").write_text('url = "sqlite:///app.db"\n')
    for i, ops in enumerate(ops_per_changeset, 1):
        _write(root, f"c{i:03d}", ops, [f"c{i - 1:03d}"] if i > 1 else [])
    return root


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


def _text(result: pytest.RunResult) -> str:
    return result.stdout.str()


PEOPLE = {"create_table": {"name": "people", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "full_name", "type": "string(100)", "nullable": False}]}}


# --- the checks as test items ----------------------------------------------------------------


def test_builtin_checks_pass_on_the_demo_and_say_where_they_ran(pytester: pytest.Pytester
                                                                 ) -> None:
    _demo(pytester)
    result = _run(pytester, "--schemaflow-checks")
    result.assert_outcomes(passed=4, skipped=2)  # models/checksums need configuration
    out = _text(result)
    assert re.search(r"apply_from_empty passed on SQLite [\d.]+, a new file \S+sf_test_\w+\.db",
                     out), out
    assert "every_step_rolls_back passed on SQLite" in out


def test_checks_are_off_unless_enabled_and_the_flag_beats_the_ini(pytester: pytest.Pytester
                                                                  ) -> None:
    root = _demo(pytester)
    _run(pytester).assert_outcomes(passed=1)
    (root / "pytest.ini").write_text("[pytest]\nschemaflow_checks = true\n")
    assert "6 tests collected" in _text(_run(pytester, "--co", "-q"))
    assert "1 test collected" in _text(_run(pytester, "--no-schemaflow-checks", "--co", "-q"))


def test_collect_only_lists_and_counts_them_by_node_id(pytester: pytest.Pytester) -> None:
    _demo(pytester)
    result = _run(pytester, "--schemaflow-checks", "--co", "-q", "tests")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == ["tests/test_app.py::test_the_migrated_engine_has_the_demo_tables",
                   *(f"schemaflow.toml::{c}" for c in CHECKS)]
    assert "6 tests collected" in _text(result)


def test_node_ids_select_checks(pytester: pytest.Pytester) -> None:
    _demo(pytester)
    result = _run(pytester, "--schemaflow-checks", "schemaflow.toml::single_head",
                  "schemaflow.toml::apply_from_empty", "-v")
    result.assert_outcomes(passed=2)
    assert "schemaflow.toml::apply_from_empty PASSED" in _text(result)


def test_k_m_and_deselect_select_among_them(pytester: pytest.Pytester) -> None:
    _demo(pytester)
    result = _run(pytester, "--schemaflow-checks", "-k", "single_head or rolls_back", "--co",
                  "-q")
    assert [line for line in result.stdout.lines if "::" in line] == [
        "schemaflow.toml::single_head", "schemaflow.toml::every_step_rolls_back"]
    # -m schemaflow: the checks and the tests that use a schemaflow database.
    result = _run(pytester, "--schemaflow-checks", "-m", "schemaflow", "--co", "-q")
    assert "6 tests collected" in _text(result), _text(result)
    result = _run(pytester, "--schemaflow-checks", "-m", "not schemaflow", "--co", "-q")
    assert "no tests collected (6 deselected)" in _text(result), _text(result)
    result = _run(pytester, "--schemaflow-checks", "-k", "not the_migrated",
                  "--deselect", "schemaflow.toml::every_step_rolls_back",
                  "--deselect", "schemaflow.toml::apply_from_empty")
    result.assert_outcomes(passed=1, skipped=2, deselected=3)


def test_an_override_the_checks_cannot_see_is_warned_about(pytester: pytest.Pytester) -> None:
    root = _demo(pytester)
    (root / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef schemaflow_data():\n"
        "    return {}\n")
    result = _run(pytester, "--schemaflow-checks", "--co", "-q")
    assert re.search(r"tests/conftest.py:3: PytestWarning: this overrides the fixture "
                     r"schemaflow_data .* move the override to a conftest.py in \S+",
                     _text(result)), _text(result)
    (root / "conftest.py").write_text((root / "tests" / "conftest.py").read_text())
    (root / "tests" / "conftest.py").unlink()
    assert "PytestWarning" not in _text(_run(pytester, "--schemaflow-checks", "--co", "-q"))


def test_a_run_naming_a_test_file_runs_that_file_alone(pytester: pytest.Pytester) -> None:
    _demo(pytester)
    _run(pytester, "--schemaflow-checks", "tests/test_app.py").assert_outcomes(passed=1)


def test_a_broken_rollback_fails_with_a_clear_message(pytester: pytest.Pytester) -> None:
    root = _demo(pytester)
    path = root / "changesets" / "3e9c57d1f0ab_add_post_published_at.yaml"
    # An explicit rollback the linter cannot see through (raw SQL) that undoes nothing.
    path.write_text(path.read_text() + 'rollback:\n  - sql: {up: "SELECT 1"}\n')
    result = _run(pytester, "--schemaflow-checks", "-k", "rolls_back")
    result.assert_outcomes(failed=1, deselected=5)
    out = _text(result)
    assert ("rolling back 3e9c57d1f0ab (changesets/3e9c57d1f0ab_add_post_published_at.yaml) "
            "does not restore the schema") in out
    assert "drop_column posts.published_at" in out
    assert re.search(r"on: SQLite [\d.]+, a new file", out), out
    assert "Traceback" not in out and "checks.py" not in out


def test_two_heads_fail_the_single_head_check(pytester: pytest.Pytester) -> None:
    root = _demo(pytester)
    _write(root, "b1", [{"create_table": {"name": "side", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], ["4b7e2a9c1d30"])
    result = _run(pytester, "--schemaflow-checks", "-k", "single_head")
    result.assert_outcomes(failed=1, deselected=5)
    assert "the history has 2 heads" in _text(result)


def test_an_invalid_changeset_is_reported_with_its_file(pytester: pytest.Pytester) -> None:
    root = _small(pytester, [PEOPLE])
    _write(root, "c002", [{"drop_table": {"name": "nope"}}], ["c001"])
    result = _run(pytester, "--schemaflow-checks", "-k", "apply_from_empty")
    result.assert_outcomes(failed=1, deselected=4)
    assert re.search(r"c002_change\.yaml.*nope", _text(result)), _text(result)
    assert "Traceback" not in _text(result)


# --- models -----------------------------------------------------------------------------------

MODELS = '''
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(100))
'''


def test_models_match_compares_with_the_changesets_and_the_built_database(
        pytester: pytest.Pytester) -> None:
    root = _small(pytester, [PEOPLE])
    (root / "schemaflow.toml").write_text('url = "sqlite:///app.db"\nmodels = "models:Base"\n')
    (root / "models.py").write_text(MODELS)
    _run(pytester, "--schemaflow-checks", "-k", "models_match").assert_outcomes(
        passed=1, deselected=4)
    # A table that raw SQL creates is invisible to the changesets' schema; the database the
    # changesets build has it, and the models do not.
    _write(root, "c002", [{"sql": {"up": "CREATE TABLE stray (id INTEGER)",
                                   "down": "DROP TABLE stray"}}], ["c001"])
    result = _run(pytester, "--schemaflow-checks", "-k", "models_match")
    result.assert_outcomes(failed=1, deselected=4)
    out = _text(result)
    assert "the models differ from the database the changesets built" in out, out
    assert "stray" in out and "differ from the changesets;" not in out


# --- fixtures and data migrations -----------------------------------------------------------

ISOLATION_TESTS = '''
def test_one_writes(migrated_engine):
    with migrated_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO people (id, full_name) VALUES (1, 'Ada Lovelace')")

def test_two_sees_a_clean_database(migrated_engine):
    with migrated_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM people").scalar() == 0

def test_the_temporary_folders_are_pytests(schemaflow_runner, tmp_path_factory):
    assert str(tmp_path_factory.getbasetemp()) in schemaflow_runner.database.description \\
        or "SQLite" not in schemaflow_runner.database.description
'''

SPLIT_NAME = [
    {"add_column": {"table": "people", "column": {"name": "first", "type": "string(50)"}}},
    {"sql": {"up": "UPDATE people SET first = substr(full_name, 1, instr(full_name, ' ') - 1)",
             "down": "UPDATE people SET first = NULL", "dialects": ["sqlite"]}},
    {"sql": {"up": "UPDATE people SET first = split_part(full_name, ' ', 1)",
             "down": "UPDATE people SET first = NULL", "dialects": ["postgresql"]}},
    {"sql": {"up": "UPDATE people SET first = substring_index(full_name, ' ', 1)",
             "down": "UPDATE people SET first = NULL", "dialects": ["mysql"]}},
]

DATA_MIGRATION_TEST = '''
def test_the_first_name_is_split_out(schemaflow_runner):
    runner = schemaflow_runner
    assert runner.apply_before("c002") == ["c001"]
    runner.insert("people", [{"id": 1, "full_name": "Ada Lovelace"},
                             {"id": 2, "full_name": "Alan Turing"}])
    assert runner.apply("c002") == ["c002"]
    assert [(r["id"], r["first"]) for r in runner.rows("people")] == [(1, "Ada"), (2, "Alan")]
    assert runner.rows("SELECT first FROM people WHERE id = :id", id=2) == [{"first": "Alan"}]
    assert runner.rollback("-1") == ["c002"]
    assert runner.applied() == ["c001"]
    assert runner.rollback("base") == ["c001"] and runner.apply("+1") == ["c001"]
'''


def _data_project(pytester: pytest.Pytester) -> Path:
    root = _small(pytester, [PEOPLE], SPLIT_NAME)
    (root / "test_people.py").write_text(ISOLATION_TESTS + DATA_MIGRATION_TEST)
    return root


def test_each_test_gets_its_own_database_and_data_helpers_work(pytester: pytest.Pytester
                                                               ) -> None:
    _data_project(pytester)
    _run(pytester).assert_outcomes(passed=4)


def test_changeset_data_reaches_the_checks(pytester: pytest.Pytester) -> None:
    """Rows given per changeset are there when the next changesets run: adding a NOT NULL
    column without a default to a table with rows fails, as it would in production."""
    root = _small(pytester, [PEOPLE], [{"add_column": {"table": "people", "column": {
        "name": "age", "type": "integer", "nullable": False}}}])
    _run(pytester, "--schemaflow-checks", "-k", "apply_from_empty").assert_outcomes(
        passed=1, deselected=4)
    (root / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef schemaflow_data():\n"
        "    return {'c001': {'people': [{'id': 1, 'full_name': 'Ada Lovelace'}]}}\n")
    result = _run(pytester, "--schemaflow-checks", "-k", "apply_from_empty")
    result.assert_outcomes(failed=1, deselected=4)
    out = _text(result)
    assert "applying changeset c002 (changesets/c002_change.yaml) failed" in out, out
    assert "statement: " in out and re.search(r"database error: .*NOT NULL.*age", out), out


# --- the database the user names --------------------------------------------------------------


def _database_of(out: str, check: str) -> str:
    found = re.search(rf"{check} \w+ on .*a new database (\w+)", out)
    assert found, out
    return found.group(1)


@pytest.mark.postgresql
def test_checks_run_on_the_named_postgresql_and_drop_their_databases(
        pytester: pytest.Pytester, pg_url: str) -> None:
    _small(pytester, [PEOPLE], [{"sql": {"up": "CREATE EXTENSION IF NOT EXISTS pgcrypto",
                                         "down": "DROP EXTENSION IF EXISTS pgcrypto"}}],
           [{"add_column": {"table": "people", "column": {
               "name": "token", "type": "text", "default_sql": "gen_random_uuid()::text"}}}])
    result = _run(pytester, "--schemaflow-checks", f"--schemaflow-url={pg_url}")
    result.assert_outcomes(passed=4, skipped=1)  # no models configured
    out = _text(result)
    assert re.search(r"apply_from_empty passed on PostgreSQL [\d.]+ at 127\.0\.0\.1:5432", out)
    name = _database_of(out, "every_step_rolls_back")
    assert rows(pg_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == []
    # The same history on SQLite: the PostgreSQL-only statement fails, and says so.
    result = _run(pytester, "--schemaflow-checks", "-k", "apply_from_empty")
    result.assert_outcomes(failed=1, deselected=4)
    out = _text(result)
    assert "statement: CREATE EXTENSION IF NOT EXISTS pgcrypto" in out, out
    assert re.search(r"database error: .*syntax error", out) and "on: SQLite" in out


@pytest.mark.postgresql
def test_a_changeset_that_fails_on_postgresql_reports_its_statement(
        pytester: pytest.Pytester, pg_url: str) -> None:
    _small(pytester, [{"sql": {"up": "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)",
                               "down": "DROP TABLE t"}}])
    _run(pytester, "--schemaflow-checks").assert_outcomes(passed=3, skipped=2)  # SQLite: fine
    result = _run(pytester, "--schemaflow-checks", f"--schemaflow-url={pg_url}",
                  "-k", "apply_from_empty")
    result.assert_outcomes(failed=1, deselected=4)
    out = _text(result)
    assert "applying changeset c001 (changesets/c001_change.yaml) failed" in out, out
    assert "statement: CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)" in out
    assert re.search(r'database error: .*syntax error at or near "AUTOINCREMENT"', out), out
    assert re.search(r"on: PostgreSQL [\d.]+ at 127\.0\.0\.1:5432, a new database", out)
    assert "Traceback" not in out


@pytest.mark.postgresql
def test_an_enum_value_added_rolls_back_on_postgresql(pytester: pytest.Pytester,
                                                      pg_url: str) -> None:
    _small(pytester, [{"create_table": {"name": "tickets", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "state", "type": "enum(open, closed, name=ticket_state)"}]}}],
        [{"alter_column": {"table": "tickets", "name": "state",
                           "type": "enum(open, closed, stale, name=ticket_state)"}}])
    _run(pytester, "--schemaflow-checks", "-k", "rolls_back").assert_outcomes(
        passed=1, deselected=4)
    # PostgreSQL cannot remove the value: schemaflow replaces the type instead.
    _run(pytester, "--schemaflow-checks", f"--schemaflow-url={pg_url}",
         "-k", "rolls_back").assert_outcomes(passed=1, deselected=4)


@pytest.mark.postgresql
def test_a_fixture_override_names_the_server(pytester: pytest.Pytester, pg_url: str) -> None:
    root = _data_project(pytester)
    (root / "conftest.py").write_text(
        f"import pytest\n\n@pytest.fixture(scope='session')\ndef schemaflow_url():\n"
        f"    return {pg_url!r}\n")
    result = _run(pytester, "--schemaflow-checks", "-v")
    result.assert_outcomes(passed=8, skipped=1)
    assert "every_step_rolls_back passed on PostgreSQL" in _text(result)


@pytest.mark.parametrize("server", [pytest.param("pg_url", marks=pytest.mark.postgresql),
                                    pytest.param("mysql_url", marks=pytest.mark.mysql)])
def test_fixtures_and_checks_on_a_server(pytester: pytest.Pytester, server: str,
                                         request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(server)
    root = _data_project(pytester)
    if server == "mysql_url":  # the ini option names it
        (root / "pytest.ini").write_text(f"[pytest]\nschemaflow_url = {url}\n")
        result = _run(pytester, "--schemaflow-checks")
    else:
        result = _run(pytester, "--schemaflow-checks", f"--schemaflow-url={url}")
    result.assert_outcomes(passed=8, skipped=1)
    assert "every_step_rolls_back passed on" in _text(result)
    assert "on SQLite" not in _text(result)


def test_an_unreachable_server_fails_each_test_with_one_line(pytester: pytest.Pytester) -> None:
    _data_project(pytester)
    result = _run(pytester, "--schemaflow-checks", "-k", "apply_from_empty or one_writes",
                  "--schemaflow-url=postgresql+psycopg://nobody@127.0.0.1:9/none")
    result.assert_outcomes(errors=2, deselected=7)
    out = _text(result)
    errors = out.split("== ERRORS ==")[1].split("short test summary")[0]
    assert errors.count("cannot connect to postgresql+psycopg://nobody@127.0.0.1:9/none") == 2
    assert errors.count("hint: check the URL") == 2, errors
    assert "Traceback" not in out and "during handling" not in out.lower()
    assert "databases.py" not in out


# --- cost in every pytest run -----------------------------------------------------------------


def test_loading_the_plugin_costs_no_sqlalchemy() -> None:
    code = ("import sys, schemaflow.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'"
            " or m.startswith('schemaflow.testing')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert "sqlalchemy" not in result.stdout and "schemaflow.testing" not in result.stdout, (
        result.stdout + result.stderr)

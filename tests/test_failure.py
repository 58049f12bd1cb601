"""Failure: a run killed mid-changeset, a failing statement, and edits to applied changesets.

Real SQLite, PostgreSQL and MariaDB; the CLI runs in subprocesses as a user runs it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, reflect, rows

CREATE_T = [{"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "n", "type": "string(20)"},
]}}]
ADD_X = [{"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}]
ADD_Y = [{"add_column": {"table": "t", "column": {"name": "y", "type": "integer"}}}]

VERSION_COLUMNS = ("id, checksum, message, applied_at, execution_ms, applied_by, "
                   "schemaflow_version, exec_order")


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    return env


def cli(p: Project, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run([sys.executable, "-m", "schemaflow", *args], cwd=p.root,
                                env=cli_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemaflow {' '.join(args)} did not finish within {timeout} s "
                    f"(stderr so far: {exc.stderr!r})")
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


def execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def applied_ids(url: str) -> list[str]:
    return [r[0] for r in rows(url, "SELECT id FROM schemaflow_version ORDER BY exec_order")]


def version_table(url: str) -> dict[str, tuple[Any, ...]]:
    return {r[0]: r for r in rows(
        url, f"SELECT {VERSION_COLUMNS} FROM schemaflow_version ORDER BY exec_order")}


def assert_complete(url: str, ids: list[str]) -> None:
    got = rows(url, "SELECT id, exec_order FROM schemaflow_version ORDER BY exec_order")
    assert [(cid, int(order)) for cid, order in got] == [
        (cid, i) for i, cid in enumerate(ids, 1)]


# --- SIGKILL during a long changeset ----------------------------------------------------------
#
# c001 creates `knob`, a one-row table whose value sets how long c002's slow statement runs.
# c002 creates `victim` and THEN runs the slow statement. The test kills `apply` inside it,
# checks that nothing of c002 remains, turns the knob down and runs `apply` again.


def knob_changesets(p: Project, slow_sql: str, knob_type: str, slow_value: Any) -> None:
    p.chain(
        [{"create_table": {"name": "knob", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "v", "type": knob_type, "nullable": False}]}},
         {"insert_rows": {"table": "knob", "rows": [{"id": 1, "v": slow_value}]}}],
        [{"create_table": {"name": "victim", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
         {"sql": {"up": slow_sql, "down": "SELECT 1"}}],
        [{"add_column": {"table": "victim", "column": {"name": "after", "type": "integer"}}}],
    )


def kill_during_slow_statement(p: Project, reached: Callable[[], bool],
                               tmp_path: Path) -> dict[str, Any]:
    """Start apply, wait until it is inside the slow statement, SIGKILL it.

    Returns the schema as other sessions saw it while the slow statement ran.
    """
    err_file = tmp_path / "killed.err"
    with open(err_file, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "schemaflow", "apply"], cwd=p.root,
                                env=cli_env(), stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: proc.poll() is not None or reached(),
                   "apply is inside the slow statement")
        assert proc.poll() is None, f"apply ended early: {err_file.read_text()}"
        seen = reflect(p.url)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return seen


def test_sigkill_during_a_long_changeset_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    # The server notices a dead client within 100 ms (else the orphaned backend would sleep
    # on, holding its transaction and the schemaflow lock, until it next talks to the client).
    url = pg_url + "?options=-c%20client_connection_check_interval%3D100"
    p = make_project(tmp_path / "proj", url)
    knob_changesets(p, "SELECT pg_sleep((SELECT v FROM knob WHERE id = 1))", "float", 60)

    def backends(extra: str) -> int:
        return int(rows(pg_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND pid <> pg_backend_pid()" + extra)[0][0])

    seen = kill_during_slow_statement(
        p, lambda: backends(" AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'") > 0,
        tmp_path)
    wait_until(lambda: backends("") == 0, "the server has ended the killed run's session")

    # As before c002: its table is gone with its transaction, and it is not recorded.
    assert "victim" not in seen
    assert sorted(seen) == ["knob"]
    assert reflect(pg_url) == seen
    assert applied_ids(pg_url) == ["c001"]

    execute(pg_url, "UPDATE knob SET v = 0")
    again = cli(p, "apply")
    assert again.returncode == 0, again.stderr
    assert_complete(pg_url, ["c001", "c002", "c003"])
    assert sorted(reflect(pg_url)) == ["knob", "victim"]
    assert "after" in reflect(pg_url)["victim"]["columns"]


def _sqlite_write_locked(path: Path) -> bool:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return True
    else:
        conn.execute("ROLLBACK")
        return False
    finally:
        conn.close()


def _sqlite_applied(path: Path) -> list[str]:
    conn = sqlite3.connect(path, timeout=0)
    try:
        return [r[0] for r in conn.execute(
            "SELECT id FROM schemaflow_version ORDER BY exec_order")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_sigkill_during_a_long_changeset_on_sqlite(project: Project, tmp_path: Path) -> None:
    p = project
    db = p.root / "app.db"
    burn = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < (SELECT v FROM knob WHERE id = 1)) SELECT count(*) FROM c")
    knob_changesets(p, burn, "bigint", 100_000_000_000)

    # Once c001 is recorded, the write lock is c002's transaction (BEGIN IMMEDIATE).
    seen = kill_during_slow_statement(
        p, lambda: _sqlite_applied(db) == ["c001"] and _sqlite_write_locked(db), tmp_path)

    assert "victim" not in seen
    assert sorted(seen) == ["knob"]
    assert reflect(p.url) == seen
    assert applied_ids(p.url) == ["c001"]
    assert rows(p.url, "PRAGMA integrity_check") == [("ok",)]

    execute(p.url, "UPDATE knob SET v = 1")
    again = cli(p, "apply")
    assert again.returncode == 0, again.stderr
    assert_complete(p.url, ["c001", "c002", "c003"])
    assert sorted(reflect(p.url)) == ["knob", "victim"]
    assert "after" in reflect(p.url)["victim"]["columns"]


# --- a failing statement ---------------------------------------------------------------------


def _failing_project(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> Project:
    url = None if kind == "sqlite" else request.getfixturevalue(
        "pg_url" if kind == "postgresql" else "mysql_url")
    p = make_project(tmp_path / "proj", url)
    p.write("c001", CREATE_T)
    p.write("c002", [
        {"create_table": {"name": "u", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
        {"insert_rows": {"table": "t", "rows": [{"id": 1, "n": "one"}]}},
        {"sql": {"up": "INSERT INTO no_such_table VALUES (1)", "down": "SELECT 1"}},
    ], parents=["c001"])
    p.write("c003", ADD_X, parents=["c002"])
    return p


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_failing_statement_stops_the_run_and_says_what_remains(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    p = _failing_project(tmp_path, kind, request)
    failed = cli(p, "apply")
    assert failed.returncode == 2, failed.stderr
    err = failed.stderr
    assert "c002" in err
    assert "no_such_table" in err  # the statement, and what the database said
    assert applied_ids(p.url) == ["c001"]  # c003 was not attempted, c002 not recorded
    tables = sorted(reflect(p.url))
    if kind == "mariadb":
        # DDL is not transactional on MariaDB: the message says what stayed in effect.
        assert "not transactional" in err
        assert "CREATE TABLE" in err
        assert tables == ["t", "u"]
    else:
        assert "rolled back" in err
        assert tables == ["t"]
        assert rows(p.url, "SELECT count(*) FROM t") == [(0,)]

    if kind == "mariadb":
        # The journal records what ran: the next run continues after it, nothing by hand.
        assert "journal records" in err
        assert "continues with statement 3" in err
    # Fix the (never applied) changeset; the next run finishes.
    text = (p.changesets / "c002_change.yaml").read_text()
    (p.changesets / "c002_change.yaml").write_text(
        text.replace("INSERT INTO no_such_table VALUES (1)", "SELECT 1"))
    fixed = cli(p, "apply")
    assert fixed.returncode == 0, fixed.stderr
    assert_complete(p.url, ["c001", "c002", "c003"])
    assert rows(p.url, "SELECT id, n, x FROM t") == [(1, "one", None)]


# --- edits to applied changesets ----------------------------------------------------------------


def sf020(p: Project) -> tuple[int, list[str]]:
    """`validate --db`: its exit code and the ids reported as edited after being applied."""
    done = cli(p, "validate", "--db", "--format", "json")
    diags = json.loads(done.stdout)["diagnostics"]
    assert not [d for d in diags if d["code"] in ("SF021", "SF022")], diags
    return done.returncode, sorted(d["changeset"] for d in diags if d["code"] == "SF020")


def api(p: Project) -> Any:
    from schemaflow.api import Project as ApiProject

    return ApiProject.from_config(cwd=p.root)


def edited_in_process(p: Project) -> list[str]:
    """The same check as `validate --db`, through the Python API (no process start-up)."""
    diags = api(p).validate(database=True)
    assert not [d for d in diags if d.code in ("SF021", "SF022")], diags
    return sorted(d.changeset for d in diags if d.code == "SF020")


def current_checksum(p: Project, cid: str) -> str:
    from schemaflow.history import checksum

    return checksum(api(p).history.graph[cid])


def edit(p: Project, cid: str, old: str, new: str) -> None:
    path = p.changesets / f"{cid}_change.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_edit_is_drift_until_rehashed_and_rehash_touches_only_its_id(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from schemaflow.errors import DriftError, UsageError

    url = None if kind == "sqlite" else request.getfixturevalue("pg_url")
    p = make_project(tmp_path / "proj", url)
    p.chain(CREATE_T, ADD_X, ADD_Y)
    assert cli(p, "apply").returncode == 0
    assert edited_in_process(p) == []
    original = version_table(p.url)
    schema = reflect(p.url)

    # One applied changeset edited: validate and apply name it; nothing changes.
    edit(p, "c002", "type: integer", "type: bigint")
    assert sf020(p) == (1, ["c002"])
    refused = cli(p, "apply")
    assert refused.returncode == 1, refused.stderr
    assert "c002" in refused.stderr
    assert "c001" not in refused.stderr and "c003" not in refused.stderr
    assert version_table(p.url) == original
    assert reflect(p.url) == schema

    accepted = cli(p, "rehash", "c002")
    assert accepted.returncode == 0, accepted.stderr
    assert "c002" in accepted.stderr
    after = version_table(p.url)
    assert after["c002"][1] == current_checksum(p, "c002") != original["c002"][1]
    assert after["c002"][:1] + after["c002"][2:] == original["c002"][:1] + original["c002"][2:]
    assert {k: v for k, v in after.items() if k != "c002"} == {
        k: v for k, v in original.items() if k != "c002"}
    assert sf020(p) == (0, [])
    assert api(p).apply().results == []
    assert reflect(p.url) == schema  # rehash runs nothing

    # Rehashing an unchanged changeset changes nothing.
    assert api(p).rehash(["c002"]) == []
    assert version_table(p.url) == after

    # Two edited, one rehashed: only that one's checksum changes; the other is still drift.
    edit(p, "c001", "string(20)", "string(30)")
    edit(p, "c003", "type: integer", "type: smallint")
    assert edited_in_process(p) == ["c001", "c003"]
    assert api(p).rehash(["c003"]) == ["c003"]
    partly = version_table(p.url)
    assert partly["c003"][1] == current_checksum(p, "c003") != after["c003"][1]
    assert {k: v for k, v in partly.items() if k != "c003"} == {
        k: v for k, v in after.items() if k != "c003"}
    assert edited_in_process(p) == ["c001"]
    with pytest.raises(DriftError) as drift:
        api(p).apply()
    assert "c001" in drift.value.message and "c003" not in drift.value.message
    assert version_table(p.url) == partly

    assert api(p).rehash(["c001"]) == ["c001"]
    assert edited_in_process(p) == []
    assert api(p).apply().results == []

    # A changeset that is not applied cannot be rehashed.
    p.write("c004", [{"add_column": {"table": "t", "column": {"name": "z", "type": "text"}}}],
            parents=["c003"])
    with pytest.raises(UsageError, match="c004"):
        api(p).rehash(["c004"])
    assert set(version_table(p.url)) == {"c001", "c002", "c003"}

"""Ctrl-C and SIGTERM during apply: the statement running is cancelled on the server, the
changeset rolled back (or, on MySQL, what ran is listed), the lock released, and the exit code
is the shell's 128 + the signal's number."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, rows
from test_lint import db_tables

from schemaflow.errors import Interrupted

SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mysql": "SELECT SLEEP(30)"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _running(url: str, kind: str) -> int:
    """How many sessions of this database run the sleep right now."""
    name = sa.engine.make_url(url).database
    if kind == "postgresql":
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE "
               f"'SELECT pg_sleep%' AND datname = '{name}'")
    else:
        sql = ("SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
               f"'SELECT SLEEP%' AND DB = '{name}'")
    return int(rows(url, sql.replace("%", "%%"))[0][0])


@pytest.mark.parametrize(("kind", "signum"), [
    ("postgresql", signal.SIGINT), ("mysql", signal.SIGINT),
    ("postgresql", signal.SIGTERM), ("mysql", signal.SIGTERM)],
    ids=["postgresql-SIGINT", "mysql-SIGINT", "postgresql-SIGTERM", "mysql-SIGTERM"])
def test_interrupting_apply_cancels_the_statement_on_the_server(
        kind: str, signum: signal.Signals, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url"))
    p = make_project(tmp_path / "proj", url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], slug="first")
    p.write("c002", [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}},
        {"sql": {"up": SLEEP[kind], "down": "SELECT 1"}}], parents=["c001"], slug="sleeps",
        message="sleeps")
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    # A terminal as rich sees one: the live progress line is drawn.
    env.update({"NO_COLOR": "1", "FORCE_COLOR": "1", "TERM": "xterm", "COLUMNS": "200"})
    proc = subprocess.Popen([sys.executable, "-m", "schemaflow", "apply"], cwd=p.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not an assertion
        while not _running(url, kind):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sleep never started"
            time.sleep(0.1)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = _ANSI.sub("", err)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert "applying c002 sleeps" in err  # the progress line named the running changeset
    assert (f"interrupted by {signum.name} while applying changeset c002 "
            "(changesets/c002_sleeps.yaml): statement 2 of 2 was cancelled") in err
    assert _running(url, kind) == 0  # nothing left running for a client that has gone
    assert rows(url, "SELECT id FROM schemaflow_version") == [("c001",)]
    if kind == "postgresql":
        assert "rolled back as a whole: nothing of it remains" in err
        assert "u" not in db_tables(url)
    else:  # DDL commits as it runs: what ran is named
        assert "statement 1 ran and stays in effect" in err
        assert "statements that ran:" in err and "CREATE TABLE u" in err
        assert "u" in db_tables(url)
    # The lock was released: a run that does not wait for it gets it.
    again = p.cli("stamp", "c001", "--lock-timeout", "0")
    assert again.returncode == 0, again.stderr


def _chain(project: Project) -> list[str]:
    return project.chain(
        [{"create_table": {"name": "t", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"add_column": {"table": "t", "column": {"name": "a", "type": "integer"}}}],
        [{"add_column": {"table": "t", "column": {"name": "b", "type": "integer"}}}])


def test_a_signal_between_changesets_stops_before_the_next(project: Project) -> None:
    ids = _chain(project)
    api = project.api()

    def first_done(result: object) -> None:
        if getattr(result, "id", None) == ids[0]:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as caught:
        api.apply(on_item=first_done)
    assert caught.value.exit_code == 130
    assert caught.value.message == (
        f"interrupted by SIGINT after changeset {ids[0]}, which is applied and recorded; "
        f"{ids[1]}, {ids[2]} did not start")
    assert rows(project.url, "SELECT id FROM schemaflow_version") == [(ids[0],)]
    # The handlers are the process's own again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_before_a_changesets_first_statement_rolls_it_back(project: Project) -> None:
    ids = _chain(project)
    project.api().apply(ids[0])

    def starting(cid: str, message: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted) as caught:
        project.api().apply(on_start=starting)
    assert caught.value.exit_code == 143
    assert caught.value.message.startswith(
        f"interrupted by SIGTERM while applying changeset {ids[1]} ")
    assert "stopped before its first statement; it was rolled back as a whole" in (
        caught.value.message)
    assert rows(project.url, "SELECT id FROM schemaflow_version") == [(ids[0],)]
    assert [c for c in rows(project.url, "SELECT name FROM pragma_table_info('t')")] == [
        ("id",)]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and file locks")
def test_sigterm_while_waiting_for_the_lock_exits_143(project: Project, tmp_path: Path) -> None:
    """Outside a run of changesets SIGTERM unwinds as Ctrl-C does, not a hard kill."""
    from schemaflow.dialects.sqlite.lock import FileLock

    _chain(project)
    held = FileLock(str(project.root / "app.db"))
    assert held.acquire(0)
    err_file = tmp_path / "waiter.err"
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    with err_file.open("w") as err_out:
        proc = subprocess.Popen([sys.executable, "-m", "schemaflow", "apply"], cwd=project.root,
                                env={**env, "NO_COLOR": "1"}, stdout=subprocess.DEVNULL,
                                stderr=err_out)
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not an assertion
        while "waiting for another schemaflow run" not in err_file.read_text():
            assert proc.poll() is None, err_file.read_text()
            assert time.monotonic() < deadline, "the run never waited for the lock"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        held.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err_file.read_text()
    assert err_file.read_text().rstrip().endswith("interrupted")
    assert "Traceback" not in err_file.read_text()

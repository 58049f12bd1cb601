"""Concurrent runs on one database: the lock, and every changeset applied exactly once.

Real SQLite, PostgreSQL and MariaDB. The racing processes import everything first and then
wait for a start signal, so they really do reach the database at the same moment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DEMO,
    MYSQL_URL,
    POSTGRES_URL,
    Project,
    _server_database,
    make_project,
    reflect,
    rows,
)

N_RACERS = 8
DEMO_HEAD = "f81b3a5c9e07"

# What a racer imports before its start signal: everything a run needs.
PRELOAD = r"""
import os, sys, time
import sqlalchemy  # noqa: F401
import schemaflow.api, schemaflow.cli, schemaflow.execute, schemaflow.lint
import schemaflow.dialects.connect, schemaflow.cli.output, schemaflow.cli.output.runs
for driver in ("psycopg", "pymysql"):
    try:
        __import__(driver)
    except ImportError:
        pass
"""

RACER = PRELOAD + r"""
ready, go = sys.argv[1], sys.argv[2]
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("the start signal never came")
    time.sleep(0.001)
sys.argv = ["schemaflow", *sys.argv[3:]]
schemaflow.cli.main()
"""


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    return env


def cli(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m schemaflow ARGS` in `root`; a hang is a test failure, not a hung suite."""
    try:
        return subprocess.run([sys.executable, "-m", "schemaflow", *args], cwd=root,
                              env=cli_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemaflow {' '.join(args)} did not finish within {timeout} s "
                    f"(stderr so far: {exc.stderr!r})")


def popen(root: Path, *args: str, stderr_file: Path) -> subprocess.Popen[bytes]:
    with open(stderr_file, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "schemaflow", *args], cwd=root,
                                env=cli_env(), stdout=subprocess.DEVNULL, stderr=err)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def version_rows(url: str) -> list[tuple[str, int]]:
    return [(r[0], int(r[1])) for r in rows(
        url, "SELECT id, exec_order FROM schemaflow_version ORDER BY exec_order")]


def assert_applied_once(url: str, project: Project) -> None:
    """One version row per changeset, exec_order 1..N, parents before children."""
    from schemaflow.api import Project as ApiProject

    graph = ApiProject.from_config(cwd=project.root, url=url).history.graph
    got = version_rows(url)
    ids = [cid for cid, _ in got]
    assert len(ids) == len(set(ids)), f"a changeset is recorded twice: {ids}"
    assert set(ids) == set(graph.by_id), (sorted(ids), sorted(graph.by_id))
    assert [order for _, order in got] == list(range(1, len(graph.by_id) + 1)), got
    order = dict(got)
    for cid, cs in graph.by_id.items():
        for parent in cs.all_parents:
            assert order[parent] < order[cid], f"{cid} was applied before its parent {parent}"


# --- the databases ------------------------------------------------------------------------


def _second_database(kind: str) -> Iterator[str]:
    base, label = (POSTGRES_URL, "PostgreSQL") if kind == "postgresql" else (MYSQL_URL, "MySQL")
    yield from _server_database(base, label)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(a database to race on, a database for the single-process reference), same kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'race.db'}", f"sqlite:///{tmp_path / 'reference.db'}"
        return
    first = _second_database(request.param)
    second = _second_database(request.param)
    try:
        yield next(first), next(second)
    finally:
        for gen in (first, second):
            next(gen, None)


@pytest.fixture
def mysql_url_2() -> Iterator[str]:
    yield from _second_database("mariadb")


# --- the changesets -------------------------------------------------------------------------


def racing_project(root: Path, url: str) -> Project:
    """The demo changesets plus six more: 14 changesets in one line."""
    p = make_project(root, url)
    for f in DEMO.iterdir():
        shutil.copy(f, p.changesets / f.name)
    parent = DEMO_HEAD
    for i in range(1, 7):
        table = f"extra_{(i - 1) // 3}"
        if i % 3 == 1:
            ops: list[Any] = [{"create_table": {"name": table, "columns": [
                {"name": "id", "type": "integer", "primary_key": True},
                {"name": "v", "type": "string(20)", "nullable": False, "default": "x"},
            ], "indexes": [{"name": f"ix_{table}_v", "columns": ["v"]}]}}]
        elif i % 3 == 2:
            ops = [{"add_column": {"table": table, "column": {"name": "w", "type": "integer"}}}]
        else:
            ops = [{"insert_rows": {"table": table, "rows": [{"id": 1, "v": "a", "w": 1},
                                                           {"id": 2, "v": "b", "w": 2}]}}]
        cid = f"x{i:03d}"
        p.write(cid, ops, parents=[parent])
        parent = cid
    return p


# --- N processes, one empty database --------------------------------------------------------


def race(p: Project, n: int, *args: str) -> list[subprocess.CompletedProcess[str]]:
    """Start `n` processes of `schemaflow ARGS` that begin at the same moment."""
    signals = p.root / f"signals-{uuid.uuid4().hex[:8]}"
    signals.mkdir()
    go = signals / "go"
    procs = []
    try:
        for i in range(n):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", RACER, str(signals / f"ready{i}"), str(go), *args],
                cwd=p.root, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True))
        wait_until(lambda: all((signals / f"ready{i}").exists() for i in range(n))
                   or any(pr.poll() is not None for pr in procs),
                   "every racer has started", timeout=60)
        go.touch()
        results = []
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=120)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
            assert "the start signal never came" not in err, f"racer {i}: {err}"
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_eight_processes_apply_one_empty_database(two_databases: tuple[str, str],
                                                  tmp_path: Path) -> None:
    url, reference_url = two_databases
    p = racing_project(tmp_path / "proj", url)
    n_changesets = len(list(p.changesets.iterdir()))
    assert n_changesets == 14

    results = race(p, N_RACERS, "apply")

    for i, r in enumerate(results):
        assert r.returncode == 0, f"racer {i} exited {r.returncode}:\n{r.stderr}"
        assert "Traceback" not in r.stdout + r.stderr, r.stderr
    # Every changeset was applied by exactly one process; the others saw it done.
    applied_lines = Counter(m.group(1) for r in results
                            for m in re.finditer(r"^\s*applied (\w+) ", r.stderr, re.M))
    assert sorted(applied_lines) == sorted(cid for cid, _ in version_rows(url))
    assert set(applied_lines.values()) == {1}, applied_lines
    assert_applied_once(url, p)

    # The schema is the one a single process builds.
    from schemaflow.api import Project as ApiProject

    single = ApiProject.from_config(cwd=p.root, url=reference_url).apply()
    assert len(single.results) == n_changesets
    assert reflect(url) == reflect(reference_url)
    assert rows(url, "SELECT id, v, w FROM extra_0 ORDER BY id") == [(1, "a", 1), (2, "b", 2)]


# --- the lock -------------------------------------------------------------------------------
#
# A "holder" process applies a changeset whose SQL waits on a gate the test holds (an advisory
# lock on PostgreSQL, a named lock on MariaDB), so it holds the schemaflow lock exactly as long
# as the test wants: no sleeps, no timing guesses.

CREATE_T = [{"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}]}}]
ADD_X = [{"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}]


class Gate:
    """A lock the test holds; the holder's changeset blocks on it until `open()`."""

    def __init__(self, url: str, dialect: str) -> None:
        import sqlalchemy as sa

        self.dialect = dialect
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.conn = self.engine.connect()
        self.key = int(uuid.uuid4().int % 2_000_000_000) + 1
        self.name = f"sf_gate_{self.key}"
        if dialect == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
            self.sql = f"SELECT pg_advisory_xact_lock({self.key})"
        else:
            assert self.conn.exec_driver_sql(f"SELECT GET_LOCK('{self.name}', 10)").scalar()
            self.sql = f"SELECT GET_LOCK('{self.name}', 60)"
        self.conn.commit()
        self.is_open = False

    def waiting(self) -> bool:
        """Whether some session is blocked on the gate."""
        import sqlalchemy as sa

        if self.dialect == "postgresql":
            q = sa.text("SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND query = :sql AND wait_event_type = 'Lock'")
        else:
            q = sa.text("SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO = :sql")
        n = self.conn.execute(q, {"sql": self.sql}).scalar()
        self.conn.commit()
        return bool(n)

    def open(self) -> None:
        if self.is_open:
            return
        self.is_open = True
        if self.dialect == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
        else:
            self.conn.exec_driver_sql(f"SELECT RELEASE_LOCK('{self.name}')")
        self.conn.commit()

    def close(self) -> None:
        self.open()
        self.conn.close()
        self.engine.dispose()


def gated_project(root: Path, url: str, gate: Gate) -> Project:
    p = make_project(root, url)
    p.chain(CREATE_T, [{"sql": {"up": gate.sql, "down": "SELECT 1"}}], ADD_X)
    return p


def start_holder(p: Project, gate: Gate, tmp_path: Path) -> subprocess.Popen[bytes]:
    holder = popen(p.root, "apply", stderr_file=tmp_path / "holder.err")
    try:
        wait_until(lambda: gate.waiting() or holder.poll() is not None,
                   "the holder is inside its changeset")
    except BaseException:
        stop(holder)
        raise
    assert holder.poll() is None, (tmp_path / "holder.err").read_text()
    return holder


def finish_holder(holder: subprocess.Popen[bytes], gate: Gate, tmp_path: Path) -> None:
    gate.open()
    try:
        holder.wait(timeout=30)
    finally:
        stop(holder)
    assert holder.returncode == 0, (tmp_path / "holder.err").read_text()


def run_after_holder(root: Path, holder: subprocess.Popen[bytes], gate: Gate, tmp_path: Path,
                     waiting: Callable[[str], bool], what: str) -> str:
    """Start `schemaflow apply --lock-timeout 60.5` in `root` while the holder holds the lock;
    once `waiting(its stderr so far)`, let the holder finish. The run's stderr (it succeeded)."""
    err_file = tmp_path / "waiter.err"
    waiter = popen(root, "apply", "--lock-timeout", "60.5", stderr_file=err_file)
    try:
        wait_until(lambda: waiting(err_file.read_text()) or waiter.poll() is not None, what)
        assert waiter.poll() is None, err_file.read_text()
        finish_holder(holder, gate, tmp_path)
        waiter.wait(timeout=60)
    finally:
        stop(holder)
        stop(waiter)
    err = err_file.read_text()
    assert waiter.returncode == 0, err
    assert "Traceback" not in err
    return err


def says_waiting(err: str) -> bool:
    return "waiting for another schemaflow run" in err


def server_url(kind: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url")
    return url


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_lock_timeout_gives_up_after_the_timeout(kind: str, request: pytest.FixtureRequest,
                                                 tmp_path: Path) -> None:
    url = server_url(kind, request)
    gate = Gate(url, kind)
    try:
        p = gated_project(tmp_path / "proj", url, gate)
        holder = start_holder(p, gate, tmp_path)
        try:
            started = time.monotonic()
            second = cli(p.root, "apply", "--lock-timeout", "1", timeout=10)
            elapsed = time.monotonic() - started
            assert second.returncode == 2, (second.returncode, second.stderr)
            assert "Traceback" not in second.stderr
            assert "lock" in second.stderr.lower(), second.stderr
            assert "timed out" in second.stderr.lower(), second.stderr
            # It waited for the lock (about 1 s), and then not much longer.
            assert 1.0 <= elapsed < 10, elapsed
            # It changed nothing: only the holder's first changeset is recorded.
            assert version_rows(url) == [("c001", 1)]
        finally:
            finish_holder(holder, gate, tmp_path)
        assert_applied_once(url, p)
    finally:
        gate.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_waiting_run_reports_it_and_then_has_nothing_to_do(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = server_url(kind, request)
    gate = Gate(url, kind)
    try:
        p = gated_project(tmp_path / "proj", url, gate)
        holder = start_holder(p, gate, tmp_path)
        err = run_after_holder(p.root, holder, gate, tmp_path, says_waiting,
                               "the second run says it is waiting for the lock")
        assert "Nothing to do" in err, err
        assert_applied_once(url, p)
    finally:
        gate.close()


def test_mariadb_lock_is_per_database(mysql_url: str, mysql_url_2: str,
                                      tmp_path: Path) -> None:
    """The lock belongs to one database: a run on another database of the server goes on."""
    gate = Gate(mysql_url, "mariadb")
    try:
        busy = gated_project(tmp_path / "busy", mysql_url, gate)
        holder = start_holder(busy, gate, tmp_path)
        try:
            other = make_project(tmp_path / "other", mysql_url_2)
            other.chain(CREATE_T)
            done = cli(other.root, "apply", "--lock-timeout", "1", timeout=20)
            assert done.returncode == 0, done.stderr
            assert version_rows(mysql_url_2) == [("c001", 1)]
        finally:
            finish_holder(holder, gate, tmp_path)
    finally:
        gate.close()


def test_postgresql_run_that_waited_keeps_the_database_lock_timeout(
        pg_url: str, tmp_path: Path) -> None:
    """A run that waited for the lock runs its changesets with the session's own lock_timeout
    (here the database's), not with what bounded its wait."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar()
        conn.exec_driver_sql(f"ALTER DATABASE {name} SET lock_timeout = '7s'")
    engine.dispose()
    gate = Gate(pg_url, "postgresql")
    try:
        p = gated_project(tmp_path / "proj", pg_url, gate)
        holder = start_holder(p, gate, tmp_path)
        # The same history plus a changeset that records the setting it runs with.
        waiting = gated_project(tmp_path / "waiting", pg_url, gate)
        waiting.write("c004", [{"sql": {
            "up": "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout, "
                  "current_setting('statement_timeout') AS statement_timeout",
            "down": "DROP TABLE seen"}}], parents=["c003"])
        run_after_holder(waiting.root, holder, gate, tmp_path, says_waiting,
                         "the second run waits for the lock")
    finally:
        gate.close()
    assert rows(pg_url, "SELECT lock_timeout, statement_timeout FROM seen") == [("7s", "0")]


def test_mariadb_lock_timeout_keeps_its_fraction(mysql_url: str, tmp_path: Path) -> None:
    """`--lock-timeout 60.5` asks MariaDB's GET_LOCK for 60.5 seconds (it takes fractions):
    what the server is asked is seen in its process list, no clock involved. Before, the
    fraction was cut off, so 0.5 became 0: no wait at all."""
    import sqlalchemy as sa

    gate = Gate(mysql_url, "mariadb")
    try:
        p = gated_project(tmp_path / "proj", mysql_url, gate)
        holder = start_holder(p, gate, tmp_path)
        asked = sa.text("SELECT count(*) FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE 'SELECT GET_LOCK(%, 60.5%)'")

        def asks_60_5(_err: str) -> bool:
            n = gate.conn.execute(asked).scalar()
            gate.conn.commit()
            return bool(n)

        err = run_after_holder(p.root, holder, gate, tmp_path, asks_60_5,
                               "the second run asks for the lock with 60.5 s")
        assert "Nothing to do" in err, err
    finally:
        gate.close()


# --- SQLite: a file lock beside the database ------------------------------------------------


class FileLockHeld:
    """The SQLite database's schemaflow lock, held by the test as another run would."""

    def __init__(self, database: Path) -> None:
        from schemaflow.dialects.sqlite.lock import FileLock

        self.lock = FileLock(str(database))
        assert self.lock.acquire(0)
        assert self.lock.fd is not None  # a real lock file: not the read-only fallback

    def release(self) -> None:
        self.lock.release()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file locks")
def test_sqlite_lock_is_taken_by_apply_rollback_and_stamp(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    p.chain(CREATE_T, ADD_X)
    database = p.root / "app.db"
    assert cli(p.root, "apply", "c001").returncode == 0
    held = FileLockHeld(database)
    try:
        for args in (["apply"], ["rollback", "base"], ["stamp", "c002"]):
            r = cli(p.root, *args, "--lock-timeout", "0.2")
            assert r.returncode == 2, (args, r.stderr)
            assert "Traceback" not in r.stderr
            assert "waiting for another schemaflow run" in r.stderr, r.stderr
            assert "timed out after 0.2s waiting for the schemaflow lock" in r.stderr, r.stderr
        assert version_rows(f"sqlite:///{database}") == [("c001", 1)]
    finally:
        held.release()
    assert (p.root / "app.db.schemaflow-lock").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file locks")
def test_sqlite_run_waits_for_the_lock_then_goes_on(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    p.chain(CREATE_T, ADD_X)
    held = FileLockHeld(p.root / "app.db")
    waiter_err = tmp_path / "waiter.err"
    waiter = popen(p.root, "apply", stderr_file=waiter_err)
    try:
        wait_until(lambda: "waiting for another schemaflow run" in waiter_err.read_text()
                   or waiter.poll() is not None, "the run waits for the lock")
        assert waiter.poll() is None, waiter_err.read_text()
        assert rows(p.url, "SELECT name FROM sqlite_master") == []  # it read nothing yet
        held.release()
        waiter.wait(timeout=60)
    finally:
        held.release()
        stop(waiter)
    assert waiter.returncode == 0, waiter_err.read_text()
    assert_applied_once(p.url, p)


def test_sqlite_memory_database_needs_no_lock(tmp_path: Path) -> None:
    from schemaflow.api import Project as ApiProject

    p = make_project(tmp_path / "proj")
    p.chain(CREATE_T, ADD_X)
    done = ApiProject.from_config(cwd=p.root, url="sqlite://").apply()
    assert [r.id for r in done.results] == ["c001", "c002"]
    assert not list(p.root.glob("*.schemaflow-lock"))

"""The connection lost mid-changeset, and during COMMIT: the message says what is known (the
changeset, the statements that ran and stay in effect) and what is not (whether the last
statement or COMMIT took effect), and no error met while cleaning up replaces it.

PostgreSQL: a private server, started by this module on a free port, is stopped (`pg_ctl
stop -m immediate`, as a crash) or has the run's session terminated (`pg_terminate_backend`)
while the run waits on a lock the test holds; the shared servers are never touched.
MariaDB: the shared server, whose `KILL` ends only the run's own connection.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, Project, make_project, rows
from test_concurrency import popen, stop, wait_until


def _as_postgres(*args: str) -> list[str]:
    """A command run as the `postgres` user when this process is root (initdb refuses root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


@dataclass
class PrivateServer:
    """A PostgreSQL server of this test module's own."""

    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.log),
                                    *args), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self.pg_ctl("-o", f"-p {self.port} -k {self.data.parent} "
                    "-c listen_addresses=127.0.0.1 -c fsync=off", "-w", "start")

    def crash(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def database(self) -> str:
        """A new, empty database on it; its URL."""
        import sqlalchemy as sa

        name = f"sf_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT",
                                  poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        if IN_CI:
            pytest.fail("initdb and pg_ctl are needed for these tests")
        pytest.skip("no initdb/pg_ctl: cannot start a private PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="sf-private-pg-"))
    os.chmod(root, 0o777)  # the postgres user writes here when this process is root
    srv = PrivateServer(root / "data", _free_port(), root / "log")
    try:
        subprocess.run(_as_postgres("initdb", "-D", str(srv.data), "-A", "trust",
                                    "-U", "postgres", "--no-sync", "-E", "UTF8"),
                       check=True, capture_output=True, timeout=120)
        srv.start()
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        if IN_CI:
            pytest.fail(f"cannot start a private PostgreSQL: {exc}")
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    try:
        yield srv
    finally:
        with suppress(subprocess.SubprocessError):
            srv.crash()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running(server: PrivateServer) -> PrivateServer:
    """The private server, running (a test before may have crashed it)."""
    try:
        rows(server.url, "SELECT 1")
    except Exception:
        server.start()
    return server


class Gate:
    """A lock the test holds on a server; a statement `sql` waits on it until `open()`."""

    def __init__(self, url: str, kind: str = "postgresql") -> None:
        import sqlalchemy as sa

        self.kind = kind
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool,
                                       isolation_level="AUTOCOMMIT")
        self.conn = self.engine.connect()
        self.key = int(uuid.uuid4().int % 2_000_000_000) + 1
        if kind == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
            self.sql = f"SELECT pg_advisory_xact_lock({self.key})"
        else:
            self.conn.exec_driver_sql(f"SELECT GET_LOCK('sf_gate_{self.key}', 10)")
            self.sql = f"SELECT GET_LOCK('sf_gate_{self.key}', 120)"

    def waiter(self, query: str | None = None) -> Any:
        """The server's id of the session waiting on the gate (running `query`), or None."""
        if self.kind == "postgresql":
            found = self.conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query = %s", (query or self.sql,)).scalar()
        else:
            found = self.conn.exec_driver_sql(
                "SELECT id FROM information_schema.PROCESSLIST WHERE INFO = %s",
                (query or self.sql,)).scalar()
        return found

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.engine.dispose()


def interrupted(p: Project, gate: Gate, cut: Callable[[Any], object], *,
                query: str | None = None) -> str:
    """`schemaflow apply` in `p`, cut off by `cut(the server's id of its session)` while it
    waits on the gate (running `query`); what it printed, once checked for what must never
    be there."""
    err_file = p.root / "apply.err"
    proc = popen(p.root, "apply", stderr_file=err_file)
    try:
        session = wait_until(lambda: gate.waiter(query) or proc.poll() is not None,
                             "the run waits on the gate")
        assert proc.poll() is None, err_file.read_text()
        cut(session)
        proc.wait(timeout=60)
    finally:
        stop(proc)
        gate.close()
    err = err_file.read_text()
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    assert "the database failed" not in err, err  # the cleanup's error, not the changeset's
    return err


def test_server_dies_during_a_non_transactional_changeset(running: PrivateServer,
                                                          tmp_path: Path) -> None:
    """Statement 2 of 3 is running when the server dies: statement 1 stays in effect, and
    nobody can know whether statement 2 did; the lock's release (which cannot reach the dead
    server) does not replace that."""
    url = running.database()
    gate = Gate(url)
    p = make_project(tmp_path / "proj", url)
    p.write("c001", [{"sql": {"up": ["CREATE TABLE first_done (id integer)", gate.sql,
                                     "CREATE TABLE third (id integer)"],
                              "down": "SELECT 1"}}], transactional=False)
    err = interrupted(p, gate, lambda _session: running.crash())
    assert "changeset c001" in err, err
    assert "connection to the database was lost during statement 2 of 3" in err, err
    assert "whether it took effect is unknown" in err, err
    assert "statement 1 ran before it and stays in effect" in err, err
    assert "statements that ran:" in err and "CREATE TABLE first_done" in err, err
    assert "the version table does not list it" in err, err
    assert "rolled back" not in err, err
    running.start()
    assert rows(url, "SELECT to_regclass('first_done') IS NOT NULL") == [(True,)]
    assert rows(url, "SELECT count(*) FROM schemaflow_version") == [(0,)]


def test_server_dies_during_a_transactional_changeset(running: PrivateServer,
                                                      tmp_path: Path) -> None:
    """A transaction that was never committed is gone with the server: the message says so,
    and it is true after the restart."""
    url = running.database()
    gate = Gate(url)
    p = make_project(tmp_path / "proj", url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}},
        {"sql": {"up": gate.sql, "down": "SELECT 1"}}])
    err = interrupted(p, gate, lambda _session: running.crash())
    assert "changeset c001" in err and "lost during statement 2 of 2, before COMMIT" in err
    assert "nothing of it remains and the version table does not list it" in err, err
    running.start()
    assert rows(url, "SELECT to_regclass('t') IS NULL") == [(True,)]
    assert rows(url, "SELECT count(*) FROM schemaflow_version") == [(0,)]


def test_connection_lost_during_commit(running: PrivateServer, tmp_path: Path) -> None:
    """The session is terminated while its COMMIT runs (a deferred trigger waits on the
    gate): whether the COMMIT happened is unknown, and the message says exactly that."""
    url = running.database()
    gate = Gate(url)
    p = make_project(tmp_path / "proj", url)
    p.write("c001", [{"sql": {"up": [
        "CREATE TABLE gated (id integer)",
        "CREATE FUNCTION wait_gate() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_advisory_xact_lock({gate.key}); RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER gated_commit AFTER INSERT ON gated DEFERRABLE "
        "INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_gate()"],
        "down": "DROP TABLE gated"}}])
    p.write("c002", [{"sql": {"up": "INSERT INTO gated VALUES (1)",
                              "down": "DELETE FROM gated"}}], parents=["c001"])
    err = interrupted(p, gate, lambda pid: gate.conn.exec_driver_sql(
        f"SELECT pg_terminate_backend({int(pid)})"), query="COMMIT")
    assert "changeset c002" in err, err
    assert "lost during COMMIT" in err and "whether that COMMIT happened is unknown" in err
    assert "rolled back as a whole" not in err and "nothing of it remains" not in err.split(
        "hint:")[0], err
    assert "schemaflow status" in err, err
    # The truth, read again: the trigger never let the COMMIT finish.
    assert rows(url, "SELECT id FROM schemaflow_version ORDER BY exec_order") == [("c001",)]


def test_mariadb_connection_killed_mid_changeset(mysql_url: str, tmp_path: Path) -> None:
    """MariaDB commits each DDL statement: the message lists those that ran, and says the
    one the connection was lost in may or may not have taken effect."""
    gate = Gate(mysql_url, "mariadb")
    p = make_project(tmp_path / "proj", mysql_url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}},
        {"sql": {"up": gate.sql, "down": "SELECT 1"}},
        {"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}])
    err = interrupted(p, gate, lambda session: gate.conn.exec_driver_sql(
        f"KILL CONNECTION {int(session)}"))
    assert "changeset c001" in err, err
    assert "lost during statement 2 of 3" in err and "whether it took effect is unknown" in err
    assert "statement 1 ran before it and stays in effect" in err, err
    assert "CREATE TABLE t" in err.split("statements that ran:")[1], err
    assert rows(mysql_url, "SELECT count(*) FROM schemaflow_version") == [(0,)]

"""PostgreSQL: a changeset that runs in one transaction reaches the server in two round trips
(its statements with the version-table check, then its version row with COMMIT), and nothing
else about the run changes: the values the driver writes in are those it would have bound,
a failing statement is named as it is without batches, Ctrl-C cancels it, a lost session is
reported as such, and a changeset with raw SQL of its own runs statement by statement."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, rows
from test_concurrency import popen, stop, wait_until

pytestmark = pytest.mark.postgresql

# Values a hand-written driver escape would get wrong: quotes, backslashes, percent signs
# and placeholders, dollar quotes, a semicolon, newlines, non-ASCII text.
TEXTS = ["O'Brien", "back\\slash \\' and \\\\", "100% %s %(x)s %%", "$$ dollar $$; DROP",
         "semi; colon -- comment /* c */", "line\nbreak\ttab", "äöü ✓ 日本", "", " "]


def _columns() -> list[dict[str, Any]]:
    return [{"name": "id", "type": "integer", "primary_key": True},
            {"name": "s", "type": "text"}, {"name": "v", "type": "string(40)"},
            {"name": "n", "type": "numeric(20,6)"}, {"name": "f", "type": "float"},
            {"name": "b", "type": "boolean"}, {"name": "d", "type": "date"},
            {"name": "ts", "type": "datetime"}, {"name": "tz", "type": "datetime(timezone=true)"},
            {"name": "tm", "type": "time"}, {"name": "u", "type": "uuid"},
            {"name": "j", "type": "json"}, {"name": "big", "type": "bigint"}]


def _rows() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, text in enumerate(TEXTS, 1):
        out.append({"id": i, "s": text, "v": text[:40], "n": f"{i}.125000",
                    "f": 0.1 * i, "b": i % 2 == 0, "d": f"2024-02-{i + 10:02d}",
                    "ts": f"2024-02-29T23:59:{i:02d}.123456",
                    "tz": f"2024-02-29T23:59:{i:02d}+05:30", "tm": f"12:34:{i:02d}",
                    "u": str(uuid.UUID(int=i)), "j": text,
                    "big": 2**62 + i})
    out.append({"id": 99, "s": None, "n": None, "j": None, "tz": None})
    return out


def _write_data_history(p: Project, *, raw_sql: bool) -> None:
    ops: list[Any] = [{"create_table": {"name": "t", "columns": _columns()}},
                      {"insert_rows": {"table": "t", "rows": _rows()}}]
    if raw_sql:  # (a changeset with raw SQL of its own runs statement by statement)
        ops.append({"sql": {"up": "SELECT 1", "down": "SELECT 1"}})
    p.write("c001", ops)


def _table(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, s, v, n, f, b, d, ts, tz AT TIME ZONE 'UTC', tm, u, j::text, "
                     "big FROM t ORDER BY id")


@pytest.fixture
def pg_url2() -> Iterator[str]:
    from conftest import POSTGRES_URL, _server_database

    yield from _server_database(POSTGRES_URL, "PostgreSQL")


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_values_written_in_by_the_driver_are_those_it_binds(
        driver: str, pg_url: str, pg_url2: str, tmp_path: Path) -> None:
    def on(url: str) -> str:
        return sa.engine.make_url(url).set(drivername=f"postgresql+{driver}") \
            .render_as_string(hide_password=False)

    together = make_project(tmp_path / "together", on(pg_url))
    _write_data_history(together, raw_sql=False)
    apart = make_project(tmp_path / "apart", on(pg_url2))
    _write_data_history(apart, raw_sql=True)
    for p in (together, apart):
        done = p.cli("apply")
        assert done.returncode == 0, done.stderr
    got = _table(pg_url)
    assert got == _table(pg_url2)
    # ... and both are what the changeset says.
    by_id = {r[0]: r for r in got}
    for i, text in enumerate(TEXTS, 1):
        row = by_id[i]
        assert row[1] == text and row[2] == text[:40]
        assert row[3] == decimal.Decimal(f"{i}.125000") and row[4] == pytest.approx(0.1 * i)
        assert row[6] == dt.date(2024, 2, i + 10)
        assert row[7] == dt.datetime(2024, 2, 29, 23, 59, i, 123456)
        assert row[8] == dt.datetime(2024, 2, 29, 18, 29, i)
        assert row[10] == uuid.UUID(int=i) and row[12] == 2**62 + i
    assert by_id[99][1] is None and by_id[99][3] is None and by_id[99][8] is None


def _trace_apply(p: Project, url: str, trace: Path, *args: str, rollback: bool = False) -> None:
    """Apply (or roll back to `args[0]`) through the API on an engine whose connections
    write libpq's protocol trace to `trace`."""
    from psycopg import pq

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    handle = trace.open("w")

    @sa.event.listens_for(engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.pgconn.trace(handle.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    try:
        api = p.api(url=engine)
        api.rollback(*args) if rollback else api.apply(*args)
    finally:
        engine.dispose()
        handle.close()


def _messages(trace: Path) -> list[str]:
    """What the client sent, one entry per message: a Query's text, else the message's name
    (a message runs from a line that starts with its direction to the next such line)."""
    found = re.split(r"^(?=[FB]\t\d+\t)", trace.read_text(), flags=re.M)
    sent = []
    for message in found:
        if not message.startswith("F\t"):
            continue
        fields = message.rstrip("\n").split("\t", 3)
        if fields[2] == "Query":
            sent.append(fields[3][2:-1])  # ( "...")
        else:
            sent.append(fields[2])
    return sent


def test_a_changesets_statements_reach_the_server_together(pg_url: str,
                                                           tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", pg_url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"add_column": {"table": "t", "column": {"name": "a", "type": "integer"}}},
         {"create_index": {"table": "t", "name": "ix_t_a", "columns": ["a"]}},
         {"insert_rows": {"table": "t", "rows": [{"id": 1, "a": 2}]}}])
    p.cli("apply", "c001")
    trace = tmp_path / "trace.txt"
    _trace_apply(p, pg_url, trace)
    sent = _messages(trace)
    mentioning = [m for m in sent if "ix_t_a" in m or "INSERT INTO t " in m
                  or "ADD COLUMN a" in m]
    assert len(mentioning) == 1, sent  # every statement of c002 in one message
    batch = mentioning[0]
    assert batch.startswith("BEGIN\n;\n") and "FROM schemaflow_version" in batch, batch
    assert batch.index("ADD COLUMN a") < batch.index("ix_t_a") < batch.index("INSERT INTO t ")
    after = sent[sent.index(batch) + 1]
    assert after.startswith("INSERT INTO schemaflow_version") and after.endswith("COMMIT"), after
    assert "'c002'" in after
    assert rows(pg_url, "SELECT id, a FROM t") == [(1, 2)]
    assert rows(pg_url, "SELECT id, exec_order FROM schemaflow_version ORDER BY exec_order") \
        == [("c001", 1), ("c002", 2)]
    # A rollback too: its statements with the check, then the DELETE with COMMIT.
    _trace_apply(p, pg_url, trace, "c001", rollback=True)
    sent = _messages(trace)
    batch = next(m for m in sent if "DROP INDEX" in m)
    assert "DROP COLUMN a" in batch and batch.startswith("BEGIN"), sent
    after = sent[sent.index(batch) + 1]
    assert after.startswith("DELETE FROM schemaflow_version") and after.endswith("COMMIT")
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]


def write_failing_history(p: Project) -> None:
    """c001, then c002 whose second row breaks a CHECK after a table is created."""
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"create_table": {"name": "u", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "n", "type": "integer"}],
            "checks": [{"name": "ck_u_positive", "expression": "n > 0"}]}},
         {"insert_rows": {"table": "u", "rows": [{"id": 1, "n": 5}, {"id": 2, "n": -1}]}},
         {"add_column": {"table": "t", "column": {"name": "a", "type": "integer"}}}])


def assert_failing_statement_named(p: Project) -> None:
    """`schemaflow apply` on `write_failing_history` fails naming the statement that did."""
    done = p.cli("apply")
    assert done.returncode == 2, done.stderr
    err = done.stderr
    assert "Traceback" not in err
    assert "applying changeset c002" in err and "rolled back as a whole" in err, err
    assert "ck_u_positive" in err, err  # the database's own message
    # The statement shown is the one that failed (the second row's INSERT), not the batch.
    shown = err[err.index("statement:"):] if "statement:" in err else err
    assert "-1" in shown and "BEGIN" not in shown and "ADD COLUMN" not in shown, err


def test_a_failing_statement_is_named_as_without_batches(pg_url: str, tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", pg_url)
    write_failing_history(p)
    assert_failing_statement_named(p)
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(pg_url, "SELECT to_regclass('u') IS NULL") == [(True,)]
    assert rows(pg_url, "SELECT count(*) FROM information_schema.columns WHERE "
                        "table_name = 't' AND column_name = 'a'") == [(0,)]


def _held(url: str) -> tuple[sa.engine.Engine, sa.engine.Connection]:
    """A session of the test's own holding an exclusive lock on table t."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    conn.exec_driver_sql("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    return engine, conn


def _waiting(url: str) -> int | None:
    """The run's session, once its batch waits on the lock (read in a session of its own:
    a transaction sees one snapshot of pg_stat_activity)."""
    found = _watcher(url).exec_driver_sql(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'BEGIN%%ADD COLUMN a%%'").scalar()
    return int(found) if found is not None else None


_WATCHERS: dict[str, sa.engine.Connection] = {}


def _watcher(url: str) -> sa.engine.Connection:
    if url not in _WATCHERS:
        _WATCHERS[url] = sa.create_engine(url, poolclass=sa.pool.NullPool,
                                          isolation_level="AUTOCOMMIT").connect()
    return _WATCHERS[url]


def _blocked_run(p: Project, url: str, cut: Any, env: dict[str, str] | None = None
                 ) -> tuple[int, str]:
    """`schemaflow apply` whose batch waits on the lock the test holds, cut off by
    `cut(process, the run's session)`; (exit code, stderr)."""
    engine, conn = _held(url)
    err_file = p.root / "apply.err"
    proc = popen(p.root, "apply", stderr_file=err_file)
    try:
        session = wait_until(lambda: _waiting(url) or proc.poll() is not None,
                             "the run's batch waits on the lock")
        assert proc.poll() is None, err_file.read_text()
        cut(proc, session, conn)
        proc.wait(timeout=60)
    finally:
        stop(proc)
        conn.rollback()
        conn.close()
        engine.dispose()
        watcher = _WATCHERS.pop(url, None)
        if watcher is not None:
            watcher.close()
            watcher.engine.dispose()
    return proc.returncode, err_file.read_text()


def _locked_history(url: str, tmp_path: Path) -> Project:
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"create_table": {"name": "u", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
         {"add_column": {"table": "t", "column": {"name": "a", "type": "integer"}}}])
    done = p.cli("apply", "c001")
    assert done.returncode == 0, done.stderr
    return p


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_a_batch_on_the_server(pg_url: str, tmp_path: Path) -> None:
    p = _locked_history(pg_url, tmp_path)
    code, err = _blocked_run(p, pg_url, lambda proc, _s, _c: proc.send_signal(signal.SIGINT))
    assert code == 130, err
    assert "Traceback" not in err
    assert ("interrupted by SIGINT while applying changeset c002 (changesets/c002_change.yaml):"
            " its statements, sent together, were cancelled; it was rolled back "
            "as a whole: nothing of it remains") in err, err
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(pg_url, "SELECT to_regclass('u') IS NULL") == [(True,)]
    # The lock was released, and the run goes on from there.
    again = p.cli("apply", "--lock-timeout", "0")
    assert again.returncode == 0, again.stderr
    assert rows(pg_url, "SELECT id FROM schemaflow_version ORDER BY exec_order") == [
        ("c001",), ("c002",)]


def test_a_session_lost_during_a_batch_is_reported_not_run_again(pg_url: str,
                                                                 tmp_path: Path) -> None:
    p = _locked_history(pg_url, tmp_path)
    code, err = _blocked_run(p, pg_url, lambda _p, session, conn: conn.exec_driver_sql(
        f"SELECT pg_terminate_backend({int(session)})"))
    assert code == 2, err
    assert "Traceback" not in err
    assert "changeset c002" in err, err
    assert ("connection to the database was lost while its statements ran (sent together), "
            "before COMMIT") in err, err
    assert "nothing of it remains" in err, err
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(pg_url, "SELECT to_regclass('u') IS NULL") == [(True,)]


def test_raw_sql_of_a_changeset_runs_statement_by_statement(pg_url: str,
                                                            tmp_path: Path) -> None:
    """A changeset's own SQL is not joined to other statements: each reaches the server
    alone, as the changeset's author wrote it."""
    p = make_project(tmp_path / "proj", pg_url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}},
        {"sql": {"up": "INSERT INTO t VALUES (7) -- a comment at the end", "down": "SELECT 1"}}])
    trace = tmp_path / "trace.txt"
    _trace_apply(p, pg_url, trace)
    sent = _messages(trace)
    own = [m for m in sent if "a comment at the end" in m]
    assert own == ["INSERT INTO t VALUES (7) -- a comment at the end"], sent
    assert not any(m.startswith("BEGIN\n;") for m in sent), sent
    assert rows(pg_url, "SELECT id FROM t") == [(7,)]

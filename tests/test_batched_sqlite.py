"""SQLite: a changeset that runs in one transaction goes to the driver in two calls
(`BEGIN IMMEDIATE`, its statements and the version-table check; then its version row and
`COMMIT`), past SQLAlchemy's per-statement and per-transaction work, and nothing else about
the run changes: the values are those SQLAlchemy binds, a failing statement is named as it
is without batches and nothing of its changeset remains, a rollback goes the same way; and
Ctrl-C cuts a long statement short."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, rows
from test_batched import (
    _rows,
    _write_data_history,
    assert_failing_statement_named,
    write_failing_history,
)

from schemaflow.errors import Interrupted


def _table(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, s, v, n, f, b, d, ts, tz, tm, u, j, big FROM t ORDER BY id")


def _traced(p: Project, url: str, *args: str, rollback: bool = False
            ) -> tuple[list[str], list[str]]:
    """Apply (or roll back to `args[0]`) through the API on an engine of the test's own:
    (every statement SQLite ran, in order; those that went through SQLAlchemy's execution)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    ran: list[str] = []
    through_sa: list[str] = []

    @sa.event.listens_for(engine, "connect")
    def _trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.set_trace_callback(ran.append)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        through_sa.append(statement)

    try:
        api = p.api(url=engine)
        api.rollback(*args) if rollback else api.apply(*args)
    finally:
        engine.dispose()
    return ran, through_sa


def _history(tmp_path: Path) -> tuple[Project, str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"add_column": {"table": "t", "column": {"name": "a", "type": "integer"}}},
         {"create_index": {"table": "t", "name": "ix_t_a", "columns": ["a"]}},
         {"insert_rows": {"table": "t", "rows": [{"id": 1, "a": 2}]}}])
    done = p.cli("apply", "c001")
    assert done.returncode == 0, done.stderr
    return p, url


def test_a_changeset_goes_to_the_driver_in_two_calls(tmp_path: Path) -> None:
    p, url = _history(tmp_path)
    ran, through_sa = _traced(p, url)
    first = ran.index("BEGIN IMMEDIATE", next(i for i, s in enumerate(ran) if "ADD COLUMN" in s)
                      - 1)
    ours = ran[first:first + 7]
    assert ours[0] == "BEGIN IMMEDIATE" and "ADD COLUMN a" in ours[1], ran
    assert "ix_t_a" in ours[2] and ours[3].startswith("INSERT INTO t "), ours
    assert "(1, 2)" in ours[3], ours  # the values, bound
    assert "FROM schemaflow_version" in ours[4] and "'c002'" in ours[4], ours
    assert ours[5].startswith("INSERT INTO schemaflow_version") and "'c002'" in ours[5]
    assert ours[6] == "COMMIT", ours
    # None of it went through SQLAlchemy's execution.
    assert not [s for s in through_sa if "ix_t_a" in s or "INSERT INTO" in s], through_sa
    assert rows(url, "SELECT id, a FROM t") == [(1, 2)]
    assert rows(url, "SELECT id, exec_order FROM schemaflow_version ORDER BY exec_order") \
        == [("c001", 1), ("c002", 2)]
    # A rollback: its statements with the check, then the DELETE with COMMIT.
    ran, through_sa = _traced(p, url, "c001", rollback=True)
    at = next(i for i, s in enumerate(ran) if "DROP INDEX" in s)
    begun = max(i for i in range(at) if ran[i] == "BEGIN IMMEDIATE")
    # the inverses in reverse order: the row deleted, the index dropped, the column dropped
    assert ran[begun + 1] == "DELETE FROM t WHERE t.id = 1" and begun + 2 == at, ran
    tail = ran[at:]
    delete = next(i for i, s in enumerate(tail) if s.startswith("DELETE FROM schemaflow_version"))
    assert tail[delete + 1] == "COMMIT" and "FROM schemaflow_version" in tail[delete - 1], tail
    assert not [s for s in through_sa if "DROP INDEX" in s or "DELETE" in s], through_sa
    assert rows(url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(url, "SELECT name FROM sqlite_master WHERE name = 'ix_t_a'") == []


def test_values_are_those_sqlalchemy_binds(tmp_path: Path) -> None:
    together = make_project(tmp_path / "together", f"sqlite:///{tmp_path / 'a.sqlite'}")
    _write_data_history(together, raw_sql=False)
    # (a changeset with raw SQL of its own runs statement by statement, through SQLAlchemy)
    apart = make_project(tmp_path / "apart", f"sqlite:///{tmp_path / 'b.sqlite'}")
    _write_data_history(apart, raw_sql=True)
    for p in (together, apart):
        done = p.cli("apply")
        assert done.returncode == 0, done.stderr
    got = _table(f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert got == _table(f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert len(got) == len(_rows())
    assert {r[1] for r in got} >= {"O'Brien", "100% %s %(x)s %%", "line\nbreak\ttab"}


def test_a_failing_statement_is_named_and_nothing_of_it_remains(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    p = make_project(tmp_path / "proj", url)
    write_failing_history(p)
    assert_failing_statement_named(p)
    assert rows(url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(url, "SELECT name FROM sqlite_master WHERE name = 'u'") == []
    assert [r[1] for r in rows(url, "PRAGMA table_info(t)")] == ["id"]
    # The run's connection is usable after the failed batch: the fixed history applies.
    p.write("c002", [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=["c001"])
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert rows(url, "SELECT id FROM schemaflow_version ORDER BY exec_order") \
        == [("c001",), ("c002",)]


def test_ctrl_c_cuts_a_long_statement_short(tmp_path: Path) -> None:
    """A signal while SQLite builds an index stops that statement (sqlite3's interrupt, run
    by the handler while the statement does), rather than after it ends."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    p = make_project(tmp_path / "proj", url)
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "a", "type": "text"}, {"name": "b", "type": "text"}]}}],
        [{"create_index": {"table": "t", "name": "ix_t_ab", "columns": ["a", "b"]}}])
    assert p.cli("apply", "c001").returncode == 0
    with sqlite3.connect(tmp_path / "db.sqlite") as filling:  # a second or more to index
        filling.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                        "WHERE x < 1000000) INSERT INTO t "
                        "SELECT x, hex(randomblob(16)), hex(randomblob(16)) FROM n")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    timers: list[threading.Timer] = []

    @sa.event.listens_for(engine, "connect")
    def _trace(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        def started(statement: str) -> None:  # the signal comes while the index is built
            if statement.startswith("CREATE INDEX ix_t_ab") and not timers:
                timers.append(threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)))
                timers[0].start()
        dbapi_conn.set_trace_callback(started)

    try:
        with pytest.raises(Interrupted) as stopped:
            p.api(url=engine).apply()
    finally:
        for timer in timers:
            timer.join()
        engine.dispose()
    assert "applying changeset c002" in str(stopped.value)
    assert "its statements, sent together, were cancelled; it was rolled back as a whole" \
        in str(stopped.value), stopped.value
    assert rows(url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert rows(url, "SELECT name FROM sqlite_master WHERE name = 'ix_t_ab'") == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

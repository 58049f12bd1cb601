"""The changeset journal: `kill -9` of `apply` at random moments, then a plain `apply`.

On MariaDB a changeset of DDL commits statement by statement; `transactional: false`
changesets do so everywhere. After each kill the version table must tell the truth (a
changeset is listed only when all of it ran), and a plain `apply` must finish the
interrupted changeset from the statement whose effect is missing, without a hand, so that
afterwards version rows, schema and data agree with a run that was never interrupted. A
changeset of data statements alone runs in one transaction with its version row: killed
anywhere, it is applied once or not at all.

Each trial forks this process (schemaflow already imported) and runs the CLI's `main()` in
the child, as `python -m schemaflow apply` would: a process of its own, killed with SIGKILL
at a random moment between its start and the time an uninterrupted run takes.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("the trials fork", allow_module_level=True)

JOURNAL = "schemaflow_version_journal"


def pause(kind: str) -> dict[str, Any]:
    """A statement that takes a moment (a data statement: it commits with its journal row)."""
    up = {"mariadb": "SELECT SLEEP(0.03)", "postgresql": "SELECT pg_sleep(0.03)",
          # (SQLite has no sleep: counting to 300,000 takes some 30 ms)
          "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "WHERE x < 300000) SELECT count(*) FROM c"}[kind]
    return {"sql": {"up": up, "down": up}}


def ddl_history(p: Project, kind: str, *, transactional: bool | None = None) -> list[str]:
    """c001: seven schema statements with pauses between them; c002: data only (rows and an
    update); c003: one more column."""
    extra: dict[str, Any] = {} if transactional is None else {"transactional": transactional}
    ops: list[dict[str, Any]] = [
        {"create_table": {"name": "a", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "n", "type": "integer"}]}},
        pause(kind),
        {"create_table": {"name": "b", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "a_id", "type": "integer"}]}},
        pause(kind),
        {"add_column": {"table": "a", "column": {"name": "label", "type": "string(20)"}}},
        pause(kind),
        {"create_index": {"name": "ix_a_n", "table": "a", "columns": ["n"]}},
        pause(kind),
        {"add_column": {"table": "b", "column": {"name": "note", "type": "text"}}},
        pause(kind),
        {"rename_table": {"name": "b", "new_name": "bee"}},
        pause(kind),
        {"create_index": {"name": "ix_bee_a", "table": "bee", "columns": ["a_id"]}},
    ]
    p.write("c001", ops, **extra)
    p.write("c002", [
        {"insert_rows": {"table": "a", "rows": [{"id": i, "n": i * 10} for i in range(1, 6)]}},
        pause(kind),
        {"sql": {"up": "UPDATE a SET label = 'seen' WHERE n > 20", "down": "SELECT 1"}},
        pause(kind),
        {"insert_rows": {"table": "bee", "rows": [{"id": 1, "a_id": 1}]}},
    ], parents=["c001"], **extra)
    p.write("c003", [{"add_column": {"table": "bee", "column": {
        "name": "done", "type": "integer"}}}], parents=["c002"], **extra)
    return ["c001", "c002", "c003"]


class Db:
    """The trials' database, emptied before each trial."""

    def __init__(self, kind: str, url: str, tmp: Path) -> None:
        self.kind, self.url, self.tmp = kind, url, tmp
        # One connection kept (connecting costs more than the queries).
        self.engine = sa.create_engine(url, pool_size=1, isolation_level="AUTOCOMMIT")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []

    def reset(self) -> None:
        if self.kind == "sqlite":
            self.engine.dispose()
            Path(self.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        elif self.kind == "postgresql":
            self.query("DROP SCHEMA public CASCADE")
            self.query("CREATE SCHEMA public")
        else:
            self.query(f"DROP TABLE IF EXISTS a, b, bee, schemaflow_version, {JOURNAL}")

    def applied(self) -> list[str]:
        try:
            return [r[0] for r in self.query(
                "SELECT id FROM schemaflow_version ORDER BY exec_order")]
        except sa.exc.DBAPIError:
            return []

    def has_version_table(self) -> bool:
        try:
            self.query("SELECT count(*) FROM schemaflow_version")
        except sa.exc.DBAPIError:  # (on SQLite also while a writer commits)
            return False
        return True

    def journal(self) -> list[tuple[Any, ...]]:
        try:
            return self.query(f"SELECT id, step FROM {JOURNAL} ORDER BY id, step")
        except sa.exc.DBAPIError:
            return []


def run_apply(p: Project, err: Path, kill_after: float | None,
              armed: Callable[[], bool]) -> tuple[int | None, float]:
    """`schemaflow apply` in a forked child, SIGKILLed `kill_after` seconds (None: never)
    after `armed()` first holds (its work has begun: starting a process and reading the
    history take longer than the changesets). Its exit code (None when it was killed), and
    how long it ran after `armed()`."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.chdir(p.root)
            sys.argv = ["schemaflow", "apply"]
            import schemaflow.cli

            try:
                schemaflow.cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os._exit(code)
    began: float | None = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        now = time.monotonic()
        if done:
            return os.waitstatus_to_exitcode(status), now - (began or now)
        if began is None:
            began = now if armed() else None
        elif kill_after is not None and now - began >= kill_after:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            return (None if code == -signal.SIGKILL else code), now - began
        time.sleep(0.002)


SCHEMA = {  # every table's columns and indexes, in one query (reflection costs seconds)
    "mariadb": "SELECT table_name, column_name, column_type, is_nullable, '' FROM "
               "information_schema.columns WHERE table_schema = DATABASE() UNION ALL "
               "SELECT table_name, index_name, column_name, non_unique, seq_in_index FROM "
               "information_schema.statistics WHERE table_schema = DATABASE()",
    "postgresql": "SELECT table_name, column_name, data_type, is_nullable, '' FROM "
                  "information_schema.columns WHERE table_schema = 'public' UNION ALL "
                  "SELECT tablename, indexname, indexdef, '', '' FROM pg_indexes "
                  "WHERE schemaname = 'public'",
    "sqlite": "SELECT name, sql, '', '', '' FROM sqlite_master WHERE name NOT LIKE 'sqlite%'",
}


def schema(db: Db) -> list[tuple[Any, ...]]:
    """The database's tables, columns and indexes (the version table and journal left out)."""
    return sorted((str(r[0]), *(str(v) for v in r[1:])) for r in db.query(SCHEMA[db.kind])
                  if not str(r[0]).startswith("schemaflow_version"))


def truthful(db: Db, ids: list[str]) -> list[str]:
    """After a kill: the version table lists a prefix of the history, and a changeset only
    when all of it is there (c002's rows exactly once, or none)."""
    applied = db.applied()
    assert applied == ids[:len(applied)], applied
    tables = {r[0] for r in schema(db)}
    if "c001" in applied:
        assert {"a", "bee"} <= tables, tables
    n = int(db.query("SELECT count(*) FROM a")[0][0]) if "a" in tables else 0
    # c002's first five statements insert a row each: committed with their journal rows
    # where c002 is not one transaction (`transactional: false`).
    done = sum(1 for cid, step in db.journal() if cid == "c002" and step > 0)
    assert n == (5 if "c002" in applied else min(done, 5)), (n, applied, done)
    return applied


def plain_apply(p: Project) -> list[str]:
    """A plain `apply` (the API behind the CLI's, in this process); what it told the user."""
    from schemaflow.api import Project as ApiProject

    told: list[str] = []
    ApiProject.from_config(cwd=p.root, notify=told.append).apply()
    return told


def trials(db: Db, p: Project, ids: list[str], count: int, tmp: Path, *,
           from_start: bool = False) -> dict[str, int]:
    """`count` kill trials; returns how often the kill found each situation. The kill comes
    at a random moment after the first changeset has started (journaled or applied), or with
    `from_start` after the version table exists (transactional changesets leave no journal)."""
    db.reset()
    plain_apply(p)  # (imports what a run needs before the children fork)
    expected = schema(db)
    db.reset()

    def armed() -> bool:
        if from_start:
            return db.has_version_table()
        return bool(db.journal()) or bool(db.applied())

    # How long a run lasts once armed: the shortest of three, so that a slow reference run
    # (a busy machine) does not put most kills after the end.
    fulls: list[float] = []
    for _ in range(3):
        db.reset()
        code, took = run_apply(p, tmp / "ref.err", None, armed)
        assert code == 0, (tmp / "ref.err").read_text()
        assert schema(db) == expected
        fulls.append(took)
    full = min(fulls)
    seen: dict[str, int] = {}
    rng = random.Random(17)
    for trial in range(count):
        db.reset()
        err = tmp / f"t{trial}.err"
        code, _ = run_apply(p, err, rng.uniform(0.0, full), armed)
        assert code in (None, 0), err.read_text()
        applied = truthful(db, ids)
        journal = db.journal()
        key = ("finished" if code == 0 else
               f"killed in {journal[0][0]} after {len(journal) - 1} statements" if journal
               else f"killed with {len(applied)} applied, nothing half done")
        seen[key] = seen.get(key, 0) + 1
        told = plain_apply(p)
        assert db.applied() == ids, (key, told)
        assert db.journal() == [], (key, told)
        assert schema(db) == expected, (key, told)
        assert sorted(db.query("SELECT id, n, label FROM a")) == [
            (i, i * 10, "seen" if i > 2 else None) for i in range(1, 6)]
        assert db.query("SELECT id, a_id FROM bee") == [(1, 1)]
    return seen


def test_kill_9_during_apply_on_mariadb(mysql_url: str, tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    ids = ddl_history(p, "mariadb")
    db = Db("mariadb", mysql_url, tmp_path)
    seen = trials(db, p, ids, 40, tmp_path)
    # The kills landed inside the non-atomic changeset, not only around it.
    assert sum(n for k, n in seen.items() if k.startswith("killed in c001")) >= 5, seen


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_non_transactional_apply(kind: str, tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'app.db'}" if kind == "sqlite"
           else request.getfixturevalue("pg_url"))
    p = make_project(tmp_path / "proj", url)
    ids = ddl_history(p, kind, transactional=False)
    db = Db(kind, url, tmp_path)
    seen = trials(db, p, ids, 10, tmp_path)
    assert any(k.startswith("killed in") for k in seen), seen


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_transactional_apply(kind: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    """Thirty more kills per database, of runs whose changesets are transactional (with the
    ten above, forty): each leaves whole changesets only, and a plain `apply` finishes."""
    url = (f"sqlite:///{tmp_path / 'app.db'}" if kind == "sqlite"
           else request.getfixturevalue("pg_url"))
    p = make_project(tmp_path / "proj", url)
    ids = ddl_history(p, kind)
    db = Db(kind, url, tmp_path)
    seen = trials(db, p, ids, 30, tmp_path, from_start=True)
    assert not any(k.startswith("killed in") for k in seen), seen  # no journal: atomic
    assert sum(n for k, n in seen.items() if k.startswith("killed")) >= 10, seen


# --- where the schema cannot tell: named, and continued by hand ---------------------------------


def half_done(p: Project, url: str, second: dict[str, Any], forget_from: int = 2) -> Db:
    """c001 = create_table t, `second`, a failing data statement: run it (the statements
    before the failing one run and are journaled), then forget the journal rows from
    statement `forget_from` on: the state a kill between that statement and its journal row
    leaves. The file is then fixed."""
    failing = {"sql": {"up": "INSERT INTO no_such_table VALUES (1)", "down": "SELECT 1"}}
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}, second, failing])
    p.write("c002", [{"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}],
            parents=["c001"])
    failed = p.cli("apply")
    assert failed.returncode == 2, failed.stderr
    assert "journal records them" in failed.stderr
    db = Db("mariadb", url, p.root)
    assert db.journal()[:3] == [("c001", 0), ("c001", 1), ("c001", 2)]
    db.query(f"DELETE FROM {JOURNAL} WHERE step >= {forget_from}")
    path = p.changesets / "c001_change.yaml"
    path.write_text(path.read_text().replace("INSERT INTO no_such_table VALUES (1)", "SELECT 2"))
    return db


def test_raw_ddl_whose_effect_the_schema_cannot_show_is_named(mysql_url: str,
                                                               tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    db = half_done(p, mysql_url, {"sql": {"up": "CREATE TABLE raw_t (id INT)",
                                          "down": "DROP TABLE raw_t"}})

    # Listings say so; rollback refuses; apply stops and names the statement.
    status = p.cli("status")
    assert "INTERRUPTED" in status.stdout, status.stdout
    assert "apply of changeset c001 was interrupted" in status.stderr
    assert "after 1 of its 3 statements" in status.stderr
    current = p.cli("current")
    assert current.returncode == 0 and "c001 was interrupted" in current.stderr
    back = p.cli("rollback", "base")
    assert back.returncode == 2, back.stderr
    assert "must be finished before a rollback" in back.stderr
    assert "schemaflow apply c001" in back.stderr
    stopped = p.cli("apply")
    assert stopped.returncode == 2, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert "whether statement 2" in stopped.stderr and "cannot be told" in stopped.stderr
    assert "CREATE TABLE raw_t (id INT)" in stopped.stderr
    assert "--resume-from 3" in stopped.stderr and "--resume-from 2" in stopped.stderr
    assert db.applied() == []

    # A person looked: raw_t is there. Continue after it.
    resumed = p.cli("apply", "--resume-from", "3")
    assert resumed.returncode == 0, resumed.stderr
    assert db.applied() == ["c001", "c002"]
    assert db.journal() == []
    assert sorted(r[0] for r in db.query("SHOW TABLES")) == ["raw_t", "schemaflow_version", "t"]
    nothing = p.cli("apply", "--resume-from", "1")
    assert nothing.returncode == 2 and "no changeset was interrupted" in nothing.stderr


def test_a_failed_raw_ddl_statement_says_how_to_continue_with_it(mysql_url: str,
                                                              tmp_path: Path) -> None:
    """MLflow's `DROP CHECK` failed on MariaDB: the message said "run schemaflow apply
    again: it continues with statement 2", and the next apply said instead that whether
    statement 2 took effect cannot be told. The message now says that the run asks where the
    schema cannot show it, and which --resume-from continues with the failed statement."""
    p = make_project(tmp_path / "proj", mysql_url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
                         {"name": "id", "type": "integer", "primary_key": True}]}},
                     {"sql": {"up": "ALTER TABLE t DROP CHECK no_such_check",
                              "down": "SELECT 1"}}])
    failed = p.cli("apply")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert "it continues with statement 2" in failed.stderr
    assert "add `--resume-from 2`" in failed.stderr
    path = p.changesets / "c001_change.yaml"
    path.write_text(path.read_text().replace("ALTER TABLE t DROP CHECK no_such_check",
                                             "ALTER TABLE t COMMENT = 'checked'"))
    asked = p.cli("apply")
    assert asked.returncode == 2 and "cannot be told" in asked.stderr, asked.stderr
    done = p.cli("apply", "--resume-from", "2")
    assert done.returncode == 0, done.stderr
    db = Db("mariadb", mysql_url, p.root)
    assert db.applied() == ["c001"] and db.journal() == []


@pytest.mark.parametrize("ran", [True, False])
def test_ddl_statement_decided_from_the_schema(mysql_url: str, tmp_path: Path,
                                               ran: bool) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    db = half_done(p, mysql_url, {"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}})
    if not ran:  # the kill came before CREATE TABLE u took effect
        db.query("DROP TABLE u")
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert ("statements 1 to 2 are in effect; resuming at statement 3" if ran else
            "resuming at statement 2") in done.stderr
    assert db.applied() == ["c001", "c002"]
    assert sorted(r[0] for r in db.query("SHOW TABLES")) == ["schemaflow_version", "t", "u"]


@pytest.mark.parametrize("charset", ["utf8mb4", "utf8"])
def test_a_table_with_a_character_set_is_decided_from_the_schema(
        mysql_url: str, tmp_path: Path, charset: str) -> None:
    """(From a review.) `mysql_charset: utf8mb4`, the database's own, is no option at all
    as the server gives the table back: the resume compared the two as a change no operation
    writes and stopped with exit 2. It reads the table in the changeset's words."""
    p = make_project(tmp_path / "proj", mysql_url)
    db = half_done(p, mysql_url, {"create_table": {"name": "u", "mysql_charset": charset,
                                                   "columns": [{"name": "id", "type": "integer",
                                                                "primary_key": True}]}})
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "statements 1 to 2 are in effect; resuming at statement 3" in done.stderr
    assert db.applied() == ["c001", "c002"]


@pytest.mark.parametrize("forget_from", [2, 3])
def test_a_statement_inside_create_table_with_an_index(mysql_url: str, tmp_path: Path,
                                                       forget_from: int) -> None:
    """create_table u with an index is two statements: CREATE TABLE, CREATE INDEX. Killed
    after either, before its journal row: the schema between them is known too."""
    p = make_project(tmp_path / "proj", mysql_url)
    db = half_done(p, mysql_url, {"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "v", "type": "integer"}], "indexes": [{"name": "ix_u_v", "columns": ["v"]}]}},
        forget_from)
    if forget_from == 2:  # killed after CREATE TABLE u: CREATE INDEX never ran
        db.query("DROP INDEX ix_u_v ON u")
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert (f"statements 1 to {forget_from} are in effect; resuming at statement "
            f"{forget_from + 1}") in done.stderr
    assert db.applied() == ["c001", "c002"]
    indexes = db.query("SELECT index_name FROM information_schema.statistics WHERE "
                       "table_schema = DATABASE() AND table_name = 'u'")
    assert sorted(r[0] for r in indexes) == ["PRIMARY", "ix_u_v"]


def test_an_edit_to_a_statement_that_ran_stops_the_resume(mysql_url: str,
                                                           tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    db = half_done(p, mysql_url, {"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}})
    path = p.changesets / "c001_change.yaml"
    path.write_text(path.read_text().replace("type: integer", "type: bigint", 1))
    stopped = p.cli("apply")
    assert stopped.returncode == 2, stopped.stderr
    assert "was edited since: statement 1" in stopped.stderr
    assert db.applied() == []

    # The person finished it by hand and says so: stamp records it and empties the journal.
    db.query("ALTER TABLE t MODIFY id BIGINT")
    assert p.cli("stamp", "c001").returncode == 0
    assert db.journal() == [] and db.applied() == ["c001"]
    rest = p.cli("apply")
    assert rest.returncode == 0, rest.stderr
    assert db.applied() == ["c001", "c002"]


def test_a_data_changeset_on_mariadb_is_one_transaction(mysql_url: str,
                                                        tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    p.write("c002", [{"insert_rows": {"table": "t", "rows": [{"id": 1}, {"id": 2}]}},
                     {"sql": {"up": "INSERT INTO no_such_table VALUES (1)", "down": "SELECT 1"}}],
            parents=["c001"])
    failed = p.cli("apply")
    assert failed.returncode == 2, failed.stderr
    assert "rolled back as a whole" in failed.stderr
    db = Db("mariadb", mysql_url, p.root)
    assert db.applied() == ["c001"]
    assert db.query("SELECT count(*) FROM t") == [(0,)]
    assert db.journal() == []


def test_an_interrupted_rollback_is_finished_by_the_next_rollback(mysql_url: str,
                                                                  tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", mysql_url)
    table = {"name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True}]}
    p.write("c001", [{"create_table": table}, {"create_table": {**table, "name": "u"}}],
            rollback=[{"drop_table": {"name": "u"}},
                      {"sql": {"up": "INSERT INTO gate VALUES (1)"}},
                      {"drop_table": {"name": "t"}}])
    assert p.cli("apply").returncode == 0
    failed = p.cli("rollback", "base")
    assert failed.returncode == 2, failed.stderr
    assert "continues with statement 2" in failed.stderr
    db = Db("mariadb", mysql_url, p.root)
    assert db.applied() == ["c001"]  # listed until its rollback is complete

    refused = p.cli("apply")
    assert refused.returncode == 2, refused.stderr
    assert "rollback of changeset c001 was interrupted" in refused.stderr
    assert "must be finished before an apply" in refused.stderr
    assert "schemaflow rollback base" in refused.stderr

    db.query("CREATE TABLE gate (id INT)")
    done = p.cli("rollback", "base")
    assert done.returncode == 0, done.stderr
    assert "resuming at statement 2" in done.stderr
    assert db.applied() == [] and db.journal() == []
    assert sorted(r[0] for r in db.query("SHOW TABLES")) == ["gate", "schemaflow_version"]
    assert db.query("SELECT id FROM gate") == [(1,)]

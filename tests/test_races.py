"""Racing runs, many trials: apply against apply, apply against rollback, and two different
histories against one SQLite file, on SQLite, PostgreSQL and MariaDB.

Every trial is two real `schemaflow` processes started at the same moment. Starting Python
and importing schemaflow for each would cost most of a second per process, so each racer is
a long-lived process that imports everything once and then, for every trial, forks a child
that runs the CLI's `main()` as `python -m schemaflow` would: each run is still a process
of its own, with its own connections and its own OS locks.

After every trial the database must tell one consistent story: no changeset recorded twice,
none recorded without what it builds on, the tables, columns and ledger rows exactly those
of the recorded changesets (a ledger row is inserted by a `transactional: false` changeset,
so a changeset that ran twice leaves two).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project
from test_concurrency import PRELOAD, cli_env

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("the racers fork", allow_module_level=True)

RACER = PRELOAD + r"""
import json
control, me = sys.argv[1], sys.argv[2]
open(os.path.join(control, f"ready.{me}"), "w").close()
trial = 0
while True:
    go = os.path.join(control, f"go.{trial}")
    deadline = time.monotonic() + 300
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit("no start signal")
        time.sleep(0.0005)
    spec = json.loads(open(go).read())
    if spec is None:
        break
    cwd, args = spec[me]
    out = os.path.join(control, f"{trial}.{me}")
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(out + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.chdir(cwd)
        sys.argv = ["schemaflow", *args]
        code = 0
        try:
            schemaflow.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    with open(out + ".tmp", "w") as f:
        f.write(str(os.waitstatus_to_exitcode(status)))
    os.replace(out + ".tmp", out + ".code")
    trial += 1
"""


@dataclass
class Outcome:
    code: int
    err: str


class Racers:
    """Long-lived racer processes; `race` runs one trial in all of them at once."""

    def __init__(self, root: Path, n: int = 2) -> None:
        self.control = root / f"racers-{uuid.uuid4().hex[:8]}"
        self.control.mkdir(parents=True)
        self.names = [f"r{i}" for i in range(n)]
        self.trial = 0
        self.procs = [subprocess.Popen(
            [sys.executable, "-c", RACER, str(self.control), name], env=cli_env(),
            cwd=self.control,  # (not the source tree: PYTHONPATH decides which schemaflow)
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for name in self.names]
        deadline = time.monotonic() + 120
        while not all((self.control / f"ready.{n}").exists() for n in self.names):
            self._alive()
            assert time.monotonic() < deadline, "the racers did not start"
            time.sleep(0.01)

    def _alive(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                pytest.fail(f"a racer died: {p.stderr.read() if p.stderr else ''}")

    def race(self, *runs: tuple[Path, list[str]]) -> list[Outcome]:
        """Run `schemaflow ARGS` in each (cwd, ARGS) at the same moment; their outcomes."""
        n = self.trial
        self.trial += 1
        spec = {name: [str(cwd), args]
                for name, (cwd, args) in zip(self.names, runs, strict=True)}
        tmp = self.control / f"go.{n}.tmp"
        tmp.write_text(json.dumps(spec))
        tmp.replace(self.control / f"go.{n}")
        deadline = time.monotonic() + 120
        outcomes = []
        for name in self.names:
            code = self.control / f"{n}.{name}.code"
            while not code.exists():
                self._alive()
                if time.monotonic() > deadline:
                    pytest.fail(f"trial {n}: {name} did not finish within 120 s")
                time.sleep(0.005)
            outcomes.append(Outcome(int(code.read_text()),
                                    (self.control / f"{n}.{name}.err").read_text()))
        return outcomes

    def close(self) -> None:
        (self.control / f"go.{self.trial}").write_text("null")
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def racers(tmp_path: Path) -> Iterator[Racers]:
    r = Racers(tmp_path)
    try:
        yield r
    finally:
        r.close()


# --- the history: a ledger that counts how often non-transactional changesets ran ----------


def ledger_project(root: Path, prefix: str = "c") -> Project:
    """Four changesets in a line: two tables; a ledger insert (not transactional); rows of
    data; a column plus a ledger insert (not transactional)."""
    p = make_project(root)
    ledger, items = f"{prefix}_ledger", f"{prefix}_items"

    def entry(cid: str) -> dict[str, Any]:
        return {"sql": {"up": f"INSERT INTO {ledger} (what) VALUES ('{cid}')",
                        "down": f"DELETE FROM {ledger} WHERE what = '{cid}'"}}

    ops: list[list[dict[str, Any]]] = [
        [{"create_table": {"name": ledger, "columns": [
            {"name": "what", "type": "string(20)", "nullable": False}]}},
         {"create_table": {"name": items, "columns": [
             {"name": "id", "type": "integer", "primary_key": True},
             {"name": "v", "type": "string(20)"}]}}],
        [entry(f"{prefix}002")],
        [{"insert_rows": {"table": items, "rows": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]}}],
        [{"add_column": {"table": items, "column": {"name": "w", "type": "integer"}}},
         entry(f"{prefix}004")]]
    for i, changeset_ops in enumerate(ops, 1):
        extra: dict[str, Any] = {"transactional": False} if i % 2 == 0 else {}
        p.write(f"{prefix}{i:03d}", changeset_ops,
                parents=[f"{prefix}{i - 1:03d}"] if i > 1 else [], **extra)
    return p


IDS = ["c001", "c002", "c003", "c004"]

COLUMNS = {
    "sqlite": "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
              "WHERE m.type = 'table'",
    "postgresql": "SELECT table_name, column_name FROM information_schema.columns "
                  "WHERE table_schema = 'public'",
    "mariadb": "SELECT table_name, column_name FROM information_schema.columns "
               "WHERE table_schema = DATABASE()",
}


class Database:
    """The database the trials run on, emptied before each trial."""

    def __init__(self, kind: str, url: str, tmp: Path) -> None:
        import sqlalchemy as sa

        self.kind, self.url, self.tmp = kind, url, tmp
        self.engine = None if kind == "sqlite" else sa.create_engine(
            url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")

    def reset(self, trial: int) -> str:
        """An empty database for the next trial; its URL."""
        if self.engine is None:
            self.url = f"sqlite:///{self.tmp / f'trial{trial}.db'}"
            return self.url
        with self.engine.connect() as conn:
            if self.kind == "postgresql":
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            else:
                name = self.engine.url.database
                conn.exec_driver_sql(f"DROP DATABASE {name}")
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        return self.url

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import sqlalchemy as sa

        engine = self.engine or sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                result = conn.exec_driver_sql(sql)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            if engine is not self.engine:
                engine.dispose()

    def tables(self) -> dict[str, list[str]]:
        """Every table with its columns (one query: reflection costs a second a trial)."""
        out: dict[str, list[str]] = {}
        for table, column in self.query(COLUMNS[self.kind]):
            out.setdefault(table, []).append(column)
        return out

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = "" if request.param == "sqlite" else request.getfixturevalue(
        "pg_url" if request.param == "postgresql" else "mysql_url")
    db = Database(request.param, url, tmp_path)
    try:
        yield db
    finally:
        db.close()


def check_consistent(db: Database, prefix: str = "c") -> list[str]:
    """The recorded changesets; asserts that the schema and the ledger are exactly theirs."""
    tables = db.tables()
    version = [r[0] for r in db.query(
        "SELECT id FROM schemaflow_version ORDER BY exec_order")] if (
        "schemaflow_version" in tables) else []
    assert len(version) == len(set(version)), f"recorded twice: {version}"
    ids = [f"{prefix}00{i}" for i in range(1, 5)]
    # A history in a line: what is recorded is a prefix of it, in order.
    assert version == ids[:len(version)], f"recorded without a parent, or out of order: {version}"
    applied = set(version)
    ledger, items = f"{prefix}_ledger", f"{prefix}_items"
    assert (ledger in tables) == (items in tables) == (ids[0] in applied), (tables, version)
    if ids[0] in applied:
        expected = [(c,) for c in (ids[1], ids[3]) if c in applied]
        assert sorted(db.query(f"SELECT what FROM {ledger}")) == expected, (
            f"a non-transactional changeset ran other than once ({version})")
        assert len(db.query(f"SELECT id FROM {items}")) == (2 if ids[2] in applied else 0)
        assert ("w" in tables[items]) == (ids[3] in applied), (tables, version)
    return version


def done_once(outcomes: list[Outcome], ids: list[str], verb: str) -> None:
    """Each of `ids` was done (`verb`: applied) by exactly one of the runs."""
    counts = {cid: sum(len(re.findall(rf"^\s*{verb} {cid} ", o.err, re.M)) for o in outcomes)
              for cid in ids}
    assert all(n == 1 for n in counts.values()), (counts, [o.err for o in outcomes])


def succeeded(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        assert "Traceback" not in o.err, o.err
        assert o.code == 0, (o.code, o.err)


# Racing trials per database: apply/apply plus apply/rollback (plus 15 with two histories on
# SQLite) make at least 50 on each.
TRIALS = {"sqlite": 18, "postgresql": 25, "mariadb": 25}


def test_apply_races_apply(database: Database, racers: Racers, tmp_path: Path) -> None:
    """Two `apply` runs on an empty database: every changeset applied exactly once, by one
    of them; the other finds nothing left to do."""
    p = ledger_project(tmp_path / "proj")
    for trial in range(TRIALS[database.kind]):
        url = database.reset(trial)
        outcomes = racers.race((p.root, ["--url", url, "apply"]),
                               (p.root, ["--url", url, "apply"]))
        succeeded(outcomes)
        assert check_consistent(database) == IDS, trial
        done_once(outcomes, IDS, "applied")


def test_apply_races_rollback(database: Database, racers: Racers, tmp_path: Path) -> None:
    """`apply` against `rollback` from the middle of the history: both succeed, one after
    the other, and the version table, the schema and the ledger agree afterwards."""
    from schemaflow.api import Project as ApiProject

    p = ledger_project(tmp_path / "proj")
    targets = ["base", "c001", "-1"]
    for trial in range(TRIALS[database.kind]):
        url = database.reset(trial)
        ApiProject.from_config(cwd=p.root, url=url).apply("c002")
        target = targets[trial % len(targets)]
        outcomes = racers.race((p.root, ["--url", url, "apply"]),
                               (p.root, ["--url", url, "rollback", target]))
        succeeded(outcomes)
        version = check_consistent(database)
        # The rollback went first (and the apply then applied everything), or second.
        after_apply = {"base": [], "c001": ["c001"], "-1": IDS[:3]}[target]
        assert version in (after_apply, IDS), (target, version, [o.err for o in outcomes])


def test_two_histories_race_on_one_sqlite_file(racers: Racers, tmp_path: Path) -> None:
    """Two projects with different histories apply to one SQLite file at the same moment:
    one history is applied, the other run refuses (the version table lists changesets it does
    not have); never both."""
    one = ledger_project(tmp_path / "one", prefix="a")
    two = ledger_project(tmp_path / "two", prefix="b")
    db = Database("sqlite", "", tmp_path)
    for trial in range(15):
        url = db.reset(trial)
        outcomes = racers.race((one.root, ["--url", url, "apply"]),
                               (two.root, ["--url", url, "apply"]))
        for o in outcomes:
            assert "Traceback" not in o.err, o.err
        assert sorted(o.code == 0 for o in outcomes) == [False, True], [
            (o.code, o.err) for o in outcomes]
        winner = 0 if outcomes[0].code == 0 else 1
        won, lost = "ab"[winner], "ab"[1 - winner]
        assert check_consistent(db, won) == [f"{won}00{i}" for i in range(1, 5)]
        assert not [t for t in db.tables() if t.startswith(f"{lost}_")], db.tables()
        refusal = outcomes[1 - winner].err
        assert "missing from the changesets folder" in refusal, refusal
        assert f"{won}001" in refusal, refusal


# --- the check inside each changeset's transaction ------------------------------------------
#
# Under the lock no schemaflow run changes the version table under another; something that
# does not take the lock (an older schemaflow, another tool, a hand edit) still can. Here the
# test is that something: it edits the version table between two changesets of a run.


def edit_between(database: Database, after: str, sql: str) -> Any:
    """An `on_item` callback that runs `sql` on its own connection once `after` is done."""
    def on_item(result: Any) -> None:
        if result.id == after:
            database.query(sql)
    return on_item


def _row(cid: str, order: int) -> str:
    return ("INSERT INTO schemaflow_version (id, checksum, message, applied_at, execution_ms, "
            f"exec_order) VALUES ('{cid}', 'x', 'by hand', '2026-01-01 00:00:00', 0, {order})")


def test_a_parent_gone_meanwhile_stops_the_child(database: Database, tmp_path: Path) -> None:
    from schemaflow.api import Project as ApiProject
    from schemaflow.errors import ChangesetFailed

    p = ledger_project(tmp_path / "proj")
    url = database.reset(0)
    project = ApiProject.from_config(cwd=p.root, url=url)
    with pytest.raises(ChangesetFailed) as info:
        project.apply(on_item=edit_between(
            database, "c003", "DELETE FROM schemaflow_version WHERE id = 'c003'"))
    message = info.value.message
    assert message.startswith("applying changeset c004"), message
    assert "no longer lists c003, which it builds on; nothing of it ran" in message, message
    assert "does not list it" not in message
    assert sorted(database.query("SELECT what FROM c_ledger")) == [("c002",)]  # not c004


def test_a_child_applied_meanwhile_stops_the_rollback(database: Database,
                                                      tmp_path: Path) -> None:
    from schemaflow.api import Project as ApiProject
    from schemaflow.errors import ChangesetFailed

    p = ledger_project(tmp_path / "proj")
    url = database.reset(0)
    project = ApiProject.from_config(cwd=p.root, url=url)
    project.apply()
    with pytest.raises(ChangesetFailed) as info:
        project.rollback("base", on_item=edit_between(database, "c004", _row("c004", 9)))
    message = info.value.message
    assert message.startswith("rolling back changeset c003"), message
    assert "now lists c004, which builds on it; nothing of it ran" in message, message
    assert len(database.query("SELECT id FROM c_items")) == 2  # c003's rows are still there


def test_a_changeset_applied_meanwhile_is_skipped(database: Database, tmp_path: Path) -> None:
    from schemaflow.api import Project as ApiProject

    p = ledger_project(tmp_path / "proj")
    url = database.reset(0)
    done = ApiProject.from_config(cwd=p.root, url=url).apply(on_item=edit_between(
        database, "c001", _row("c002", 2)))
    assert [(r.id, r.skipped) for r in done.results] == [
        ("c001", False), ("c002", True), ("c003", False), ("c004", False)]
    assert database.query("SELECT what FROM c_ledger") == [("c004",)]  # c002 never ran

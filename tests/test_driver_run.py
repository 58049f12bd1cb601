"""A plan kept whole, run through the database's driver alone (driverrun): no SQLAlchemy
imported, and the same database, version rows and output as a run through SQLAlchemy. What
it does not run goes on through SQLAlchemy as before: a changeset that fails there is run
again statement by statement and reported the same way; version-table statements not signed
with this machine's key are not used; the lock, drift and signals behave as they always
do."""

from __future__ import annotations

import marshal
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, record_calls, reflect, rows
from test_plancache import _data, _history, _kept_plans

from schemaflow import cachefile, plancache
from schemaflow.errors import ChangesetFailed, Interrupted

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
# The command line in a process that says, as it exits, whether it imported SQLAlchemy (a
# forked process of its own may have: `renderchild`'s, which exits without saying).
SAYS = ("import atexit, sys\n"
        "atexit.register(lambda: print('\\nSQLAlchemy:', 'sqlalchemy' in sys.modules))\n"
        "from schemaflow.cli.app import main\n"
        "sys.argv[0] = 'schemaflow'\n"
        "main()\n")


def _cli(p: Project, *args: str, env: dict[str, str] | None = None
         ) -> tuple[subprocess.CompletedProcess[str], bool]:
    """`schemaflow ARGS` as a user runs it, and whether it imported SQLAlchemy."""
    full = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    full.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    done = subprocess.run([sys.executable, "-c", SAYS, *args], cwd=p.root, env=full,
                          capture_output=True, text=True, timeout=120, check=False)
    said = done.stdout.rstrip().rpartition("\n")[2]
    assert said.startswith("SQLAlchemy:"), (done.stdout, done.stderr)
    done.stdout = done.stdout.rstrip()[:-len(said)]
    return done, said.endswith("True")


def _untimed(text: str) -> list[str]:
    return [re.sub(r" \(\d+ ms\)$| in [\d.]+ s$", "", line) for line in text.splitlines()]


def _version_rows(url: str) -> list[tuple[Any, ...]]:
    """The version rows but the time each took."""
    return rows(url, "SELECT id, checksum, message, applied_by, schemaflow_version, exec_order"
                     " FROM schemaflow_version ORDER BY exec_order")


def _kept(p: Project) -> tuple[Any, ...]:
    """An apply and a rollback through SQLAlchemy, which keep their plans and the version
    table's statements; what the apply built, and its output."""
    first, imported = _cli(p, "apply")
    assert first.returncode == 0 and imported, first.stderr
    built = (reflect(p.url), _version_rows(p.url), _data(p.url),
             rows(p.url, "SELECT sql FROM sqlite_master WHERE name = 'schemaflow_version'"))
    assert all(TIME.match(t) for (t,) in rows(p.url, "SELECT applied_at FROM schemaflow_version"))
    done, _ = _cli(p, "rollback", "base")
    assert done.returncode == 0, done.stderr
    assert len(_kept_plans(p)) == 2 and _recipes(p)
    return built, first.stderr


def _recipes(p: Project) -> list[Path]:
    folder = p.api().history.memo.dir
    assert folder is not None
    return list(folder.glob("rows-*"))


@pytest.fixture
def kept(tmp_path: Path) -> tuple[Project, list[str], tuple[Any, ...], str]:
    p = make_project(tmp_path / "proj")
    ids = _history(p)
    built, output = _kept(p)
    return p, ids, built, output


def test_a_kept_plan_runs_through_the_driver_alone(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, built, output = kept
    (p.root / "app.db").unlink()  # from nothing at all: the version table is made too
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr
    assert _untimed(done.stderr) == _untimed(output)
    assert (reflect(p.url), _version_rows(p.url), _data(p.url), rows(
        p.url, "SELECT sql FROM sqlite_master WHERE name = 'schemaflow_version'")) == built
    # The time written as SQLAlchemy writes it, which every reader parses.
    assert all(TIME.match(t) for (t,) in rows(p.url, "SELECT applied_at FROM schemaflow_version"))
    listed, _ = _cli(p, "current")  # (the rows read back as any run writes them)
    assert listed.returncode == 0 and f"{ids[-1]} (head, applied)" in listed.stdout
    done, imported = _cli(p, "rollback", "base")
    assert done.returncode == 0 and not imported, done.stderr
    assert reflect(p.url) == {} and _version_rows(p.url) == []
    done, imported = _cli(p, "apply")  # (on an empty version table)
    assert done.returncode == 0 and not imported, done.stderr
    assert _version_rows(p.url) == built[1]


def test_a_failing_changeset_goes_on_through_sqlalchemy_and_is_reported_as_always(
        kept: tuple[Project, list[str], tuple[Any, ...], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    p, ids, _, _ = kept
    # The ninth changeset creates t2: made by hand, it stops the run there.
    reports = []
    for env in ({}, {"SCHEMAFLOW_NO_CACHE": "1"}):
        (p.root / "app.db").unlink(missing_ok=True)
        with sqlite3.connect(p.root / "app.db") as conn:
            conn.execute("CREATE TABLE t2 (x INTEGER)")
        done, _ = _cli(p, "apply", env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        reports.append(_untimed(done.stderr))
        assert [v[0] for v in _version_rows(p.url)] == ids[:8]
        assert rows(p.url, "SELECT sql FROM sqlite_master WHERE name = 't2'") == [
            ("CREATE TABLE t2 (x INTEGER)",)]
    assert reports[0] == reports[1]
    assert f"applied {ids[7]} " in "\n".join(reports[0])
    assert "table t2 already exists" in "\n".join(reports[0])
    # The first eight ran through the driver: no SQLAlchemy run before the ninth.
    (p.root / "app.db").unlink()
    with sqlite3.connect(p.root / "app.db") as conn:
        conn.execute("CREATE TABLE t2 (x INTEGER)")
    done_then, applied, starts = failing_apply(p, monkeypatch)
    assert done_then == [8] and applied == ids[:8]  # (then SQLAlchemy's run, from the ninth)
    assert starts == ids[:9]  # (the ninth told once, though it starts twice)


def failing_apply(p: Project, monkeypatch: pytest.MonkeyPatch
                  ) -> tuple[list[int], list[str], list[str]]:
    """An apply through the API that fails at a changeset: how many changesets had run
    when SQLAlchemy's run (`execute.migrate`) started, each time it did; the changesets
    applied; the changesets it told `on_start` of."""
    from schemaflow import execute

    done_then: list[int] = []
    applied: list[str] = []
    real = execute.migrate

    def migrate(*args: Any, **kwargs: Any) -> Any:
        done_then.append(len(applied))
        return real(*args, **kwargs)

    monkeypatch.setattr(execute, "migrate", migrate)
    starts: list[str] = []
    with pytest.raises(ChangesetFailed):
        p.api().apply(on_start=lambda cid, _: starts.append(cid),
                      on_item=lambda r: applied.append(r.id))
    return done_then, applied, starts


def test_version_table_statements_signed_elsewhere_are_not_used(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, _, built, _ = kept
    for path in _recipes(p):
        name = path.name.removeprefix("rows-")
        found = cachefile.read(path, cachefile.key("rows", name))
        assert found is not None
        recipe = marshal.loads(found[1][1])
        recipe["create"] = recipe["create"].replace("exec_order INTEGER NOT NULL",
                                                    "exec_order INTEGER NOT NULL, evil TEXT")
        assert "evil" in recipe["create"]
        blob = marshal.dumps(recipe)
        forged = plancache._signature(os.urandom(32), cachefile.key("rows", name), blob)
        cachefile.write(path, cachefile.key("rows", name), (forged, blob))
    (p.root / "app.db").unlink()
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and imported, done.stderr  # (through SQLAlchemy)
    assert (reflect(p.url), _version_rows(p.url)) == built[:2]


def test_the_lock_is_waited_for_and_times_out_as_always(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    from schemaflow.dialects.sqlite.lock import FileLock

    p, _, _, _ = kept
    held = FileLock(str(p.root / "app.db"))
    assert held.acquire(0)
    try:
        done, imported = _cli(p, "apply", "--lock-timeout", "0.3")
    finally:
        held.release()
    assert done.returncode != 0 and not imported, done.stderr
    assert "waiting for another schemaflow run" in done.stderr
    assert "timed out after 0.3s waiting for the schemaflow lock" in done.stderr
    assert "Traceback" not in done.stderr
    assert _version_rows(p.url) == []


def test_signals_stop_it_as_they_stop_any_run(
        kept: tuple[Project, list[str], tuple[Any, ...], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow import execute

    p, ids, _, _ = kept
    migrated = record_calls(monkeypatch, execute, "migrate")  # (none: the driver's runs)

    def starting(cid: str, message: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted) as caught:
        p.api().apply(on_start=starting)
    assert caught.value.exit_code == 143
    assert caught.value.message.startswith(
        f"interrupted by SIGTERM while applying changeset {ids[0]} ")
    assert "stopped before its first statement; it was rolled back as a whole" in (
        caught.value.message)
    assert _version_rows(p.url) == [] and reflect(p.url) == {}

    def first_done(result: object) -> None:
        if getattr(result, "id", None) == ids[0]:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as caught:
        p.api().apply(on_item=first_done)
    assert caught.value.exit_code == 130
    assert caught.value.message.startswith(
        f"interrupted by SIGINT after changeset {ids[0]}, which is applied and recorded; ")
    assert [v[0] for v in _version_rows(p.url)] == ids[:1]
    assert migrated == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_edited_applied_changeset_stops_it(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, built, _ = kept
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr
    path = next(p.changesets.glob(f"{ids[1]}_*"))
    path.write_text(path.read_text().replace("bigint", "integer"))
    done, imported = _cli(p, "rollback", "base")
    assert done.returncode == 1 and not imported and (
        f"applied changesets were edited after they were applied: {ids[1]}") in done.stderr
    assert "Traceback" not in done.stderr
    assert _version_rows(p.url) == built[1]


def test_its_connection_has_sqlalchemys_functions(tmp_path: Path) -> None:
    # SQLAlchemy's pysqlite dialect adds REGEXP and a floor() of its own to each connection:
    # a statement calls the same functions whichever way it is sent.
    from schemaflow.dialects.connect import create_engine
    from schemaflow.dialects.sqlite.driver import SqliteDriver

    url = f"sqlite:///{tmp_path / 'f.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            theirs = sorted(raw.execute("PRAGMA function_list").fetchall())
            floor = raw.execute("SELECT floor(2.5), 'ab' REGEXP 'b'").fetchall()
    finally:
        engine.dispose()
    side = SqliteDriver(url, str(tmp_path / "f.db"))
    raw = side.connect(5)
    try:
        assert sorted(raw.execute("PRAGMA function_list").fetchall()) == theirs
        assert raw.execute("SELECT floor(2.5), 'ab' REGEXP 'b'").fetchall() == floor
    finally:
        side.close(raw)


def test_a_percent_escaped_path_is_left_to_sqlalchemy(tmp_path: Path) -> None:
    # SQLAlchemy 2.1 decodes `%20` in a SQLite path and 2.0 does not: such a URL is not read
    # or run through the driver, whose file could be another.
    p = make_project(tmp_path / "proj", f"sqlite:///{tmp_path / 'proj'}/my%20app.db")
    ids = _history(p)
    for args in (["apply"], ["rollback", "base"], ["apply"]):
        done, imported = _cli(p, *args)
        assert done.returncode == 0 and imported, done.stderr
    import sqlalchemy as sa

    opened = sa.engine.make_url(p.url).database
    assert opened is not None
    assert sorted(x.name for x in p.root.iterdir() if "app" in x.name) == sorted(
        [Path(opened).name, Path(opened).name + ".schemaflow-lock"])
    with sqlite3.connect(opened) as conn:
        assert conn.execute("SELECT count(*) FROM schemaflow_version").fetchone() == (len(ids),)


def test_a_new_machine_key_signs_the_statements_again(
        kept: tuple[Project, list[str], tuple[Any, ...], str], tmp_path: Path) -> None:
    p, _, built, _ = kept
    # A state folder lost, or not kept between CI jobs: the plans are known to render, so
    # on two cores the render process streams them (no SQLAlchemy here), else this process
    # renders them; either way they are signed again, and the next run sends the kept
    # plan (one core: else it would render here, importing SQLAlchemy).
    for jobs in ("1", "2"):
        env = {"SCHEMAFLOW_STATE_DIR": str(tmp_path / f"new-state-{jobs}")}
        for args in (["apply"], ["rollback", "base"]):
            done, imported = _cli(p, *args, env={**env, "SCHEMAFLOW_JOBS": jobs})
            assert done.returncode == 0 and imported == (jobs == "1"), done.stderr
        done, imported = _cli(p, "apply", env={**env, "SCHEMAFLOW_JOBS": "1"})
        assert done.returncode == 0 and not imported, done.stderr
        assert _version_rows(p.url) == built[1]
        done, _ = _cli(p, "rollback", "base", env=env)
        assert done.returncode == 0, done.stderr


def test_a_view_of_the_version_tables_name_is_read_as_through_sqlalchemy(
        tmp_path: Path) -> None:
    """sqlite3 alone finds the version table as SQLAlchemy's has_table does, a view too: a
    view of its name is not "nothing applied" one way and a failure the other."""
    p = make_project(tmp_path / "proj", f"sqlite:///{tmp_path / 'app.db'}")
    _history(p)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE VIEW schemaflow_version AS SELECT 1 AS id")
    for args in (["current"], ["status"], ["apply"]):
        alone, imported = _cli(p, *args)
        through, _ = _cli(p, "--url", f"sqlite:///{tmp_path / 'app.db'}?timeout=5", *args)
        assert (alone.returncode, through.returncode) == (2, 2), (alone.stderr, args)
        assert alone.stderr.splitlines()[1:] == through.stderr.splitlines()[1:], args
        assert "Traceback" not in alone.stderr and not (args == ["current"] and imported)
    assert [r[0] for r in rows(p.url, "SELECT name FROM sqlite_master")] == [
        "schemaflow_version"]


@pytest.mark.parametrize("value", ["'x'", "9223372036854775807", "2.5"])
def test_an_exec_order_no_run_writes_stops_the_run_by_name(tmp_path: Path, value: str) -> None:
    """A version row whose exec_order was edited by hand into what no run writes (SQLite's
    typing lets text, a fraction or a number past the column's range in): the next apply
    says so, through the driver alone and through SQLAlchemy alike, before any changeset
    runs."""
    db = tmp_path / "app.db"
    p = make_project(tmp_path / "proj", f"sqlite:///{db}")
    ids = _history(p)
    assert p.cli("apply", ids[1]).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE schemaflow_version SET exec_order = {value} WHERE id = ?",
                     (ids[0],))
    before = rows(p.url, "SELECT id FROM schemaflow_version ORDER BY id")
    for args in ([], ["--url", f"sqlite:///{db}?timeout=5"]):
        done, _ = _cli(p, *args, "apply")
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[1:3] == [
            f"error: the version table schemaflow_version holds exec_order {value}, which "
            "no run writes (an integer, counting the changesets applied)",
            "  hint: correct that row's exec_order by hand: each row's is one more than that "
            "of the row applied before it"], done.stderr
        assert rows(p.url, "SELECT id FROM schemaflow_version ORDER BY id") == before


def test_an_interrupted_first_changeset_is_listed_both_ways(tmp_path: Path) -> None:
    """The journal lists the first changeset's apply as interrupted, the version table no
    row yet: `current` and `status` say so through the driver alone and through
    SQLAlchemy (a URL with a query; an API caller's engine) alike."""
    import sqlalchemy as sa

    from schemaflow.api import Project as ApiProject
    from schemaflow.journal import Journal
    from schemaflow.recorder import version_table

    db = tmp_path / "app.db"
    p = make_project(tmp_path / "proj", f"sqlite:///{db}")
    ids = _history(p)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        vt = version_table("schemaflow_version", None)
        with conn.begin():
            vt.create(conn)
        journal = Journal(conn, vt)
        journal.ensure()
        with conn.begin():
            journal.start(ids[0], "apply", 2, "v1:0")
    said = f"the apply of changeset {ids[0]} was interrupted"
    for args in ([], ["--url", f"sqlite:///{db}?timeout=5"]):
        for command in ("current", "status"):
            done, _ = _cli(p, *args, command)
            assert done.returncode == 0 and said in done.stderr, (args, command, done.stderr)
    with engine.connect() as conn:
        api = ApiProject.from_config(config=str(p.root / "schemaflow.toml"), url=conn)
        assert [e.id for e in api.applied_state()[1]] == [ids[0]]
    engine.dispose()

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
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, reflect, rows
from test_plancache import _data, _history, _kept_plans

from schemaflow import cachefile, plancache
from schemaflow.errors import Interrupted

IMPORTS = {"PYTHONPROFILEIMPORTTIME": "1"}  # `-X importtime`: what the run imports, on stderr
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def _cli(p: Project, *args: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """`schemaflow ARGS`, its stderr without the import times, and whether it imported
    SQLAlchemy."""
    done = p.cli(*args, env=IMPORTS)
    lines = done.stderr.splitlines()
    imported = any(re.search(r"\|\s+sqlalchemy(\.|$)", line) for line in lines
                   if line.startswith("import time:"))
    done.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return done, imported


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
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, _, _ = kept
    # The ninth changeset creates t2: made by hand, it stops the run there.
    reports = []
    for cache in ("", "no cache"):
        (p.root / "app.db").unlink(missing_ok=True)
        with sqlite3.connect(p.root / "app.db") as conn:
            conn.execute("CREATE TABLE t2 (x INTEGER)")
        env = {**IMPORTS, "SCHEMAFLOW_NO_CACHE": "1"} if cache else IMPORTS
        done = p.cli("apply", env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        reports.append(_untimed("\n".join(line for line in done.stderr.splitlines()
                                          if not line.startswith("import time:"))))
        assert [v[0] for v in _version_rows(p.url)] == ids[:8]
        assert rows(p.url, "SELECT sql FROM sqlite_master WHERE name = 't2'") == [
            ("CREATE TABLE t2 (x INTEGER)",)]
    assert reports[0] == reports[1]
    assert f"applied {ids[7]} " in "\n".join(reports[0])
    assert "table t2 already exists" in "\n".join(reports[0])


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
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, _, _ = kept
    api = p.api()

    def first_done(result: object) -> None:
        if getattr(result, "id", None) == ids[0]:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as caught:
        api.apply(on_item=first_done)
    assert caught.value.exit_code == 130
    assert caught.value.message.startswith(
        f"interrupted by SIGINT after changeset {ids[0]}, which is applied and recorded; ")
    assert [v[0] for v in _version_rows(p.url)] == ids[:1]

    def starting(cid: str, message: str) -> None:
        if cid == ids[1]:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted) as caught:
        p.api().apply(on_start=starting)
    assert caught.value.exit_code == 143
    assert "stopped before its first statement; it was rolled back as a whole" in (
        caught.value.message)
    assert [v[0] for v in _version_rows(p.url)] == ids[:1]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_edited_applied_changeset_stops_it(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, built, _ = kept
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr
    path = next(p.changesets.glob(f"{ids[1]}_*"))
    path.write_text(path.read_text().replace("bigint", "integer"))
    done, _ = _cli(p, "rollback", "base")
    assert done.returncode == 1 and (
        f"applied changesets were edited after they were applied: {ids[1]}") in done.stderr
    assert "Traceback" not in done.stderr
    assert _version_rows(p.url) == built[1]

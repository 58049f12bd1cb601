"""A plan known to render but not kept whole (a CI job's cache folder restored, its plans
signed elsewhere; a state folder that cannot be written), streamed by the render process
forked as the run started and run through the driver alone (driverrun, renderchild): no
SQLAlchemy imported, the same database, version rows and output as a run through
SQLAlchemy; what the stream does not carry (a statement left for SQLAlchemy, a changeset
that fails, a history that changed meanwhile) goes on through SQLAlchemy as before."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, reflect, rows
from test_driver_run import _cli, _kept, _untimed, _version_rows
from test_plancache import _data, _history, _kept_plans
from test_render_child import forks_watch

from schemaflow import parallel, renderchild

pytestmark = pytest.mark.skipif(parallel.workers() < 2,
                                reason="one core: every run renders in its own process")

# A run that says whether the render process streamed its plan (before the command line's
# own output, which ends with whether it imported SQLAlchemy: `_cli`).
STREAMED = ("from schemaflow import renderchild\n"
            "real_open = renderchild.RenderChild.open_stream\n"
            "def open_stream(self, request):\n"
            "    recipe = real_open(self, request)\n"
            "    print('streamed', recipe is not None)\n"
            "    return recipe\n"
            "renderchild.RenderChild.open_stream = open_stream\n")


@pytest.fixture
def known(tmp_path: Path) -> tuple[Project, list[str], tuple[Any, ...], dict[str, str]]:
    """A history applied and rolled back once through SQLAlchemy (its plans known to
    render), what the apply built and said, and the environment of runs whose state folder
    cannot be made (their plans are neither kept nor read)."""
    p = make_project(tmp_path / "proj")
    ids = _history(p)
    built, output = _kept(p)
    (tmp_path / "file").write_text("")
    return p, ids, (*built, output), {"SCHEMAFLOW_STATE_DIR": str(tmp_path / "file" / "x")}


def _run(p: Project, *args: str, env: dict[str, str]) -> tuple[Any, bool, bool]:
    """`schemaflow ARGS`, whether the render process streamed its plan, and whether this
    process imported SQLAlchemy."""
    import test_driver_run

    says = test_driver_run.SAYS
    test_driver_run.SAYS = STREAMED + says
    try:
        done, imported = _cli(p, *args, env=env)
    finally:
        test_driver_run.SAYS = says
    streamed = "streamed True" in done.stdout
    done.stdout = done.stdout.replace("streamed True\n", "").replace("streamed False\n", "")
    return done, streamed, imported


def test_a_plan_known_to_render_is_streamed_through_the_driver(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    p, ids, built, env = known
    (p.root / "app.db").unlink()  # from nothing at all: the version table is made too
    done, streamed, imported = _run(p, "apply", env=env)
    assert done.returncode == 0 and streamed and not imported, done.stderr
    assert _untimed(done.stderr) == _untimed(built[4])
    assert (reflect(p.url), _version_rows(p.url), _data(p.url), rows(
        p.url, "SELECT sql FROM sqlite_master WHERE name = 'schemaflow_version'")) == built[:4]
    done, streamed, imported = _run(p, "rollback", "base", env=env)
    assert done.returncode == 0 and streamed and not imported, done.stderr
    assert f"Rolled back {len(ids)} changesets" in done.stderr
    assert reflect(p.url) == {} and _version_rows(p.url) == []
    # On an empty version table, and from a changeset applied before the run.
    assert p.cli("apply", ids[2], env=env).returncode == 0
    done, streamed, imported = _run(p, "apply", env=env)
    assert done.returncode == 0 and streamed and not imported, done.stderr
    assert _version_rows(p.url)[3:] == built[1][3:] and reflect(p.url) == built[0]
    # One core: rendered in this process, through SQLAlchemy, as before.
    done, streamed, imported = _run(p, "rollback", "base",
                                    env={**env, "SCHEMAFLOW_JOBS": "1"})
    assert done.returncode == 0 and not streamed and imported, done.stderr
    assert reflect(p.url) == {}


def test_a_failing_changeset_goes_on_through_sqlalchemy_and_is_reported_as_always(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    p, ids, _, env = known
    reports = []
    plans = {x.name for x in _kept_plans(p)}
    # The ninth changeset creates t2: made by hand, it stops the run there. Where plans are
    # kept (a state folder of its own: the plans there are not signed with its key), the
    # plan that did not run whole is not kept.
    writable = {"SCHEMAFLOW_STATE_DIR": str(p.root / "state")}
    for extra, was_streamed in (({}, True), ({"SCHEMAFLOW_JOBS": "1"}, False),
                                (writable, True)):
        (p.root / "app.db").unlink(missing_ok=True)
        with sqlite3.connect(p.root / "app.db") as conn:
            conn.execute("CREATE TABLE t2 (x INTEGER)")
        done, streamed, _ = _run(p, "apply", env={**env, **extra})
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert streamed == was_streamed
        reports.append(_untimed(done.stderr))
        assert [v[0] for v in _version_rows(p.url)] == ids[:8]
    assert reports[0] == reports[1] == reports[2]
    assert "table t2 already exists" in "\n".join(reports[0])
    assert {x.name for x in _kept_plans(p)} == plans


def test_a_statement_left_for_sqlalchemy_goes_on_through_sqlalchemy(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    p, ids, built, env = known
    # The plan known to render, with a changeset of raw SQL (sent by SQLAlchemy's
    # execution, not as a batch) at its end.
    raw = "raw"
    p.write(raw, [{"sql": {"up": "CREATE TABLE raw (x INTEGER)",
                                   "down": "DROP TABLE raw"}}], parents=[ids[-1]])
    assert p.cli("apply", env={"SCHEMAFLOW_JOBS": "1"}).returncode == 0
    assert p.cli("rollback", "base", env={"SCHEMAFLOW_JOBS": "1"}).returncode == 0
    done, streamed, imported = _run(p, "apply", env=env)
    assert done.returncode == 0 and streamed and imported, done.stderr
    assert [v[0] for v in _version_rows(p.url)] == [*ids, raw]
    assert ("raw", "CREATE TABLE raw (x INTEGER)") in rows(
        p.url, "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    assert reflect(p.url)["t2"] == built[0]["t2"]
    done, streamed, _ = _run(p, "rollback", "base", env=env)
    assert done.returncode == 0 and streamed, done.stderr
    assert reflect(p.url) == {} and _version_rows(p.url) == []


def _with(p: Project, pre: str, *args: str, env: dict[str, str]) -> tuple[Any, bool]:
    """`schemaflow ARGS` with `pre` run first in its process (and so in the render process
    it forks), whether the render process streamed the plan, and whether this process
    imported SQLAlchemy."""
    import test_driver_run

    says = test_driver_run.SAYS
    test_driver_run.SAYS = pre + STREAMED + says
    try:
        done, imported = _cli(p, *args, env=env)
    finally:
        test_driver_run.SAYS = says
    return done, imported


def _edit(path: Path, indent: str) -> str:
    """Lines of a script that edit the changeset file at `path` (a bigint column made
    text), indented by `indent`."""
    return (f"{indent}import pathlib\n{indent}path = pathlib.Path({str(path)!r})\n"
            f"{indent}path.write_text(path.read_text().replace('bigint', 'text'))\n")


def _refused_as_changed(p: Project, done: Any, cid: str) -> None:
    """The run said that `cid`'s file changed meanwhile, and nothing of the edit (a bigint
    column made text) reached the database."""
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert f"{cid}_change.yaml changed meanwhile" in done.stderr or (
        f"changeset {cid} " in done.stderr and "file changed meanwhile" in done.stderr)
    assert not any(name.startswith("c") and kind == "TEXT"
                   for t in reflect(p.url).values() for name, (kind, *_) in t["columns"].items())


def test_a_file_changed_after_the_run_read_it_is_never_run(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    p, ids, _, env = known
    assert p.cli("apply", ids[2], env=env).returncode == 0
    path = next(p.changesets.glob(f"{ids[-3]}_*"))
    # Edited once the run loaded and checked the history, before the render process loads
    # it (on the run's request: the database exists): that process finds another history
    # and streams nothing; the run renders in its own process and finds the file changed.
    edit = ("from schemaflow import renderchild\n"
            "before = renderchild.RenderChild.open_stream\n"
            "def open_stream(self, request):\n"
            f"{_edit(path, '    ')}"
            "    return before(self, request)\n"
            "renderchild.RenderChild.open_stream = open_stream\n")
    done, imported = _with(p, edit, "apply", env=env)
    assert "streamed False" in done.stdout and imported
    _refused_as_changed(p, done, ids[-3])
    assert ids[-3] not in [v[0] for v in _version_rows(p.url)]


def test_a_file_changed_while_it_streams_is_never_run(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    p, ids, _, env = known
    (p.root / "app.db").unlink()
    path = next(p.changesets.glob(f"{ids[-3]}_*"))
    # Edited as the render process comes to read it: the changesets before it run through
    # the driver, then the run goes on in its own process and finds the file changed.
    edit = ("from schemaflow.history import History\n"
            "before = History.from_file\n"
            "def from_file(self, cid, **kwargs):\n"
            f"    if cid == {ids[-3]!r}:\n"
            f"{_edit(path, '        ')}"
            "    return before(self, cid, **kwargs)\n"
            "History.from_file = from_file\n")
    done, imported = _with(p, edit, "apply", env=env)
    assert "streamed True" in done.stdout and imported
    _refused_as_changed(p, done, ids[-3])
    assert [v[0] for v in _version_rows(p.url)] == ids[:-3]


def test_a_signal_while_it_waits_for_the_stream_stops_it(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    # The render process sends nothing more (as a process that hangs) and the run gets
    # SIGTERM while it waits: it stops at once, as between any two changesets, and does not
    # go on in its own process.
    p, ids, _, env = known
    (p.root / "app.db").unlink()
    hang = ("import os, signal, time\n"
            "from schemaflow import renderchild\n"
            "calls = []\nbefore = renderchild.RenderChild.next_item\n"
            "def next_item(self, stop):\n"
            "    calls.append(1)\n"
            "    if len(calls) == 20:\n"
            "        self.stream.ready = lambda timeout: time.sleep(timeout) or False\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "    return before(self, stop)\n"
            "renderchild.RenderChild.next_item = next_item\n")
    started = time.monotonic()
    done, _ = _with(p, hang, "apply", env=env)
    assert time.monotonic() - started < renderchild.WAIT
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr
    assert f"interrupted by SIGTERM after changeset {ids[18]}, which is applied and " \
        "recorded" in done.stderr
    assert [v[0] for v in _version_rows(p.url)] == ids[:19]


def test_the_command_line_forks_the_process_before_it_imports_itself(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    # `schemaflow` and `python -m schemaflow` start the render process before the command
    # line's imports (`launch`); the run takes that one, and starts none of its own.
    p, _, _, env = known
    watch = forks_watch("typer")  # (as whether the command line was imported then)
    for args, forks in ((["apply"], "[False]"), (["rollback", "base"], "[False]"),
                        (["apply", "--sql"], "[]"), (["current"], "[]")):
        done = subprocess.run([sys.executable, "-c", STREAMED + watch, *args], cwd=p.root,
                              env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert f"forked {forks}" in done.stdout
        assert ("streamed True" in done.stdout) == (args[0] != "current" and forks != "[]")
    assert reflect(p.url) == {} and _version_rows(p.url) == []
    # A command that fails before it runs anything: its process is stopped as it exits.
    done = subprocess.run([sys.executable, "-c", watch, "apply", "--url", "nosuch://x"],
                          cwd=p.root, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "forked [False]" in done.stdout


def test_a_closed_standard_output_is_no_matter(
        known: tuple[Project, list[str], tuple[Any, ...], dict[str, str]]) -> None:
    # `schemaflow apply >&-` (a deploy script's): nothing to flush before the fork.
    p, _, _, env = known
    for args in (["apply"], ["rollback", "base"], ["apply", "--url", "nosuch://x"]):
        done = subprocess.run(["sh", "-c", f'"{sys.executable}" -m schemaflow "$@" >&-', "sh",
                               *args], cwd=p.root, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == (2 if "--url" in args else 0), done.stderr
    assert _version_rows(p.url) == []

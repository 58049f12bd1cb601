"""A long run's plan rendered on two cores (planstream): whole before anything runs, half by
a forked process, until every item of it is known to render on this database; then by the
forked process while the run executes each item as it arrives (where the plan is not kept
whole: tests/test_plancache.py). Either way the database it
builds is the one a plan rendered in one process builds; an item that does not render stops
the run before anything ran (rendered whole) or there (streamed) with the same error;
Ctrl-C stops a streamed run between changesets."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI_MAIN, Project, make_project, record_calls, reflect, rows

import schemaflow
from schemaflow import parallel, planstream
from schemaflow.errors import Interrupted, UsageError

N = planstream.MIN_ITEMS + 8
BAD = 22  # the changeset of `_history(bad=True)` that SQLite cannot store

pytestmark = pytest.mark.skipif(parallel.workers() < 2, reason="streams only with 2 cores")


@pytest.fixture(autouse=True)
def _no_kept_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans are rendered in each run here, never taken whole from the cache (`plancache`):
    a state folder that cannot be made turns that off, as on a machine without one."""
    blocked = tmp_path / "no-state"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("SCHEMAFLOW_STATE_DIR", str(blocked / "schemaflow"))


def _history(p: Project, n: int = N, *, bad: bool = False, bad_at: int = BAD) -> list[str]:
    """Tables, columns, indexes and rows, one or two operations a changeset; `bad`: the
    `bad_at`-th (from 0; one that inserts rows) with a value SQLite cannot store."""
    ops: list[list[Any]] = []
    for i in range(1, n + 1):
        t = f"t{(i - 1) // 4}"
        match i % 4:
            case 1:
                ops.append([{"create_table": {"name": t, "columns": [
                    {"name": "id", "type": "integer", "primary_key": True},
                    {"name": "name", "type": "string(40)", "nullable": False},
                    {"name": "n", "type": "bigint"}]}}])
            case 2:
                ops.append([{"add_column": {"table": t, "column": {
                    "name": f"c{i}", "type": "numeric(10,2)"}}},
                    {"create_index": {"table": t, "name": f"ix_{t}_c{i}",
                                      "columns": [f"c{i}"]}}])
            case 3:
                value = 2 ** 70 if bad and i == bad_at + 1 else i
                ops.append([{"insert_rows": {"table": t, "rows": [
                    {"id": 1, "name": "it's", "n": value}, {"id": 2, "name": "%s", "n": None}]}}])
            case _:
                ops.append([{"alter_column": {"table": t, "name": "name",
                                              "type": "string(80)"}}])
    return p.chain(*ops)


def _versions(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, checksum, exec_order FROM schemaflow_version ORDER BY id")


def _watch(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """From now on, the forked processes started (any) and the runs streamed."""
    return (record_calls(monkeypatch, parallel, "fork_stream"),
            record_calls(monkeypatch, planstream, "Streamed"))


def test_streamed_once_known_and_builds_the_same_database(project: Project,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    ids = _history(project)
    with monkeypatch.context() as m:  # the reference: one process, nothing remembered
        m.setenv("SCHEMAFLOW_JOBS", "1")
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        alone = project.api().apply()
        schema, versions = reflect(project.url), _versions(project.url)
        project.api().rollback("base")
    forks, streams = _watch(monkeypatch)
    api = project.api()
    first = api.apply()  # not known yet: rendered whole on two cores, then remembered
    assert len(forks) == 1 and streams == []
    assert reflect(project.url) == schema and _versions(project.url) == versions
    api.rollback("base")
    assert len(forks) == 2 and streams == []
    again = project.api().apply()  # every item known: streamed
    assert len(forks) == 3 and len(streams) == 1
    assert reflect(project.url) == schema and _versions(project.url) == versions
    assert [r.id for r in again.results] == [r.id for r in first.results] == ids
    steps = [[i.steps for i in r.plan.items] if r.plan else None for r in (alone, first, again)]
    assert steps[0] is not None and steps[1] == steps[0] and steps[2] == steps[0]
    project.api().rollback("base")
    assert len(streams) == 2
    assert reflect(project.url) == {}
    assert _versions(project.url) == []
    assert multiprocessing.active_children() == []


def test_a_plan_on_top_of_applied_changesets_is_known_by_what_it_builds_on(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project, N + planstream.MIN_ITEMS)
    project.api().apply()
    schema = reflect(project.url)
    project.api().rollback(ids[7])
    _, streams = _watch(monkeypatch)
    project.api().apply()  # the same changesets on the same schema as the first apply's
    assert len(streams) == 1
    assert reflect(project.url) == schema


def test_nothing_is_forked_on_one_core(project: Project,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _history(project)
    project.api().apply()
    project.api().rollback("base")
    monkeypatch.setenv("SCHEMAFLOW_JOBS", "1")
    forks, _ = _watch(monkeypatch)
    project.api().apply()
    assert forks == []
    assert len(_versions(project.url)) == N


def test_an_edited_changeset_is_not_known(project: Project,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    project.api().apply()
    project.api().rollback("base")
    path = next(project.changesets.glob(f"{ids[-1]}_*.yaml"))
    path.write_text(path.read_text().replace("string(80)", "string(90)"))
    forks, streams = _watch(monkeypatch)
    project.api().apply()
    assert len(forks) == 1 and streams == []  # rendered whole: it never rendered before
    assert ("name", "VARCHAR(90)") in [
        (c[1], c[2]) for c in rows(project.url, "PRAGMA table_info(t9)")]


@pytest.mark.parametrize("where", ["first half", "second half"])
def test_rendered_whole_an_item_that_does_not_render_stops_it_before_anything_ran(
        where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(tmp_path / "proj")
    bad = 6 if where == "first half" else BAD  # (the forked process renders from N // 2)
    ids = _history(p, bad=True, bad_at=bad)
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_JOBS", "1")
        with pytest.raises(UsageError) as alone:
            p.api().apply()
    forks, streams = _watch(monkeypatch)
    with pytest.raises(UsageError) as caught:
        p.api().apply()
    assert len(forks) == 1 and streams == []
    assert caught.value.message == alone.value.message
    assert f"changeset {ids[bad]} " in caught.value.message
    # Nothing at all: not even the version table is made for a plan refused.
    assert rows(p.url, "SELECT name FROM sqlite_master") == []
    assert multiprocessing.active_children() == []


def _claim_rendered(p: Project, ids: list[str]) -> None:
    """The memo made to say, wrongly, that every item of applying `ids` on an empty database
    renders (what a memo of another build, or forged, could say)."""
    from schemaflow.dialects.connect import create_engine, session

    api = p.api()
    engine = create_engine(p.url)
    try:
        with session(engine) as (conn, dialect):
            ctx = planstream.context(dialect, planstream.sa_facts(
                dialect, conn.dialect, conn.connection.dbapi_connection, True))
    finally:
        engine.dispose()
    assert ctx is not None
    g = api.history.graph
    api.history.memo.mark_rendered(ctx, planstream.item_keys(g, "apply", [], ids, ctx))


def test_an_item_that_does_not_render_after_all_stops_the_run_there(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project, bad=True)
    with pytest.raises(UsageError) as whole:
        project.api().apply()
    assert reflect(project.url) == {}  # rendered whole: nothing ran
    _claim_rendered(project, ids)
    _, streams = _watch(monkeypatch)
    with pytest.raises(UsageError) as streamed:
        project.api().apply()
    assert len(streams) == 1
    assert streamed.value.message == whole.value.message
    assert f"changeset {ids[BAD]} " in streamed.value.message
    assert "is out of range on sqlite" in streamed.value.message
    # What came before it ran, each changeset whole; nothing of it or after it.
    assert [r[0] for r in _versions(project.url)] == ids[:BAD]
    assert multiprocessing.active_children() == []


def test_the_command_line_reports_it_after_what_ran(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    ids = _history(p, bad=True)
    _claim_rendered(p, ids)
    got = p.cli("apply")
    assert got.returncode == 2 and "Traceback" not in got.stderr
    assert f"error: changeset {ids[BAD]} (changesets/{ids[BAD]}_change.yaml): operation 1 " \
           "(insert_rows) cannot be rendered for sqlite" in got.stderr
    assert f"{ids[BAD - 1]}" in got.stdout + got.stderr
    assert [r[0] for r in _versions(p.url)] == ids[:BAD]


def test_ctrl_c_stops_a_streamed_run_between_changesets(project: Project,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    ids = _history(project)
    project.api().apply()
    project.api().rollback("base")
    _, streams = _watch(monkeypatch)

    def third_done(result: object) -> None:
        if getattr(result, "id", None) == ids[2]:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as caught:
        project.api().apply(on_item=third_done)
    assert len(streams) == 1
    assert caught.value.message == (
        f"interrupted by SIGINT after changeset {ids[2]}, which is applied and recorded; "
        f"{ids[3]}, {ids[4]}, {ids[5]} and {N - 6} more did not start")
    assert [r[0] for r in _versions(project.url)] == ids[:3]
    assert multiprocessing.active_children() == []
    project.api().apply()  # goes on from there
    assert len(_versions(project.url)) == N


@pytest.mark.parametrize("kind", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                  pytest.param("mysql", marks=pytest.mark.mysql)])
def test_streamed_on_a_server(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL: each changeset in two round trips; MySQL: its DDL under the journal.
    url = str(request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url"))
    p = make_project(tmp_path / "proj", url)
    ids = _history(p)
    p.api().apply()
    schema, versions = reflect(url), _versions(url)
    p.api().rollback("base")
    _, streams = _watch(monkeypatch)
    p.api().apply()
    assert len(streams) == 1
    assert reflect(url) == schema and _versions(url) == versions
    assert [r[0] for r in _versions(url)] == ids
    p.api().rollback("base")
    assert len(streams) == 2 and reflect(url) == {} and _versions(url) == []


# `schemaflow ARGS` in one process, as on a terminal (the live status line's thread runs),
# then how many streams it started.
# Counts the plans streamed: by `execute` (planstream.Streamed), or through the driver
# from the render process (RenderChild.open_stream answered).
_COUNTING = """
from schemaflow import planstream, renderchild
real, started = planstream.Streamed, []
def counting(*args):
    started.append(args)
    return real(*args)
planstream.Streamed = counting
real_open = renderchild.RenderChild.open_stream
def open_stream(self, request):
    recipe = real_open(self, request)
    if recipe is not None:
        started.append(request)
    return recipe
renderchild.RenderChild.open_stream = open_stream
""" + CLI_MAIN + """print(f"STREAMS={len(started)} EXIT={code}")
"""


def test_on_a_terminal_with_the_live_status_line(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    _history(p)
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"NO_COLOR": "1", "FORCE_COLOR": "1", "TERM": "xterm", "COLUMNS": "200"})
    counts = []
    for args in (["apply"], ["rollback", "base"], ["apply"], ["rollback", "base"]):
        got = subprocess.run([sys.executable, "-c", _COUNTING, *args], cwd=p.root, env=env,
                             capture_output=True, text=True, timeout=120)
        assert got.stdout.rstrip().endswith(" EXIT=0"), got.stdout + got.stderr
        assert "Traceback" not in got.stderr
        counts.append(got.stdout.rstrip().rpartition("STREAMS=")[2].split()[0])
    assert counts == ["0", "0", "1", "1"]
    assert reflect(p.url) == {} and _versions(p.url) == []


def test_a_reinstall_of_the_same_code_keeps_what_is_known(tmp_path: Path) -> None:
    """What is known is tied to schemaflow's code by its content: a fresh install of the
    same code (new files, new times: a CI job's, with its cache folder kept) still streams,
    and a changed module does not."""
    source = Path(schemaflow.__file__).resolve().parent
    site = tmp_path / "site"

    def install() -> None:  # new files, the same bytes
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(source, site / "schemaflow", copy_function=shutil.copyfile,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(source.parent / "schemas", site / "schemas")

    p = make_project(tmp_path / "proj")
    _history(p)
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env["PYTHONPATH"] = str(site)

    def streams(*args: str) -> str:
        script = "import schemaflow\nprint('FROM=' + schemaflow.__file__)\n" + _COUNTING
        got = subprocess.run([sys.executable, "-c", script, *args], cwd=p.root, env=env,
                             capture_output=True, text=True, timeout=120)
        assert got.stdout.rstrip().endswith(" EXIT=0"), got.stdout + got.stderr
        assert f"FROM={site}" in got.stdout, got.stdout  # (the installed copy ran)
        return got.stdout.rstrip().rpartition("STREAMS=")[2].split()[0]

    install()
    assert [streams("apply"), streams("rollback", "base")] == ["0", "0"]
    install()
    assert [streams("apply"), streams("rollback", "base")] == ["1", "1"]
    module = site / "schemaflow" / "describe.py"
    module.write_text(module.read_text() + "\n# changed\n")
    assert streams("apply") == "0"
    assert len(_versions(p.url)) == N

"""A deploy's few pending changesets on SQLite: rendered by a process forked as the run
starts (renderchild), run through the driver by the run itself (driverrun), which never
imports SQLAlchemy; the database, version rows and output are those of a run that renders
in its own process, and whatever that process cannot do goes on through SQLAlchemy."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from typing import Any

import pytest
from conftest import Project
from test_fast_apply import TABLE, _applied, _column, _python

from schemaflow import parallel

ALONE = {"SCHEMAFLOW_JOBS": "1"}  # one process: rendered and run through SQLAlchemy
# The render process is for a machine with a core to spare (on one, runs render themselves).
pytestmark = pytest.mark.skipif(parallel.workers() < 2, reason="one core: no render process")

RUN = ("import os, sys\nfrom schemaflow.api import Project\n"
       "r = Project.from_config().apply()\n"
       "try:\n    os.waitpid(-1, os.WNOHANG); left = True\n"
       "except ChildProcessError:\n    left = False\n"
       "print([x.id for x in r.results], 'sqlalchemy' in sys.modules, left)")


# The plan a run ran (each item's id, transaction mode, checksum and statements), and whether
# the process imported SQLAlchemy; `PRE` runs first.
PLAN = ("import json, sys\nfrom schemaflow.api import Project\nPRE\n"
        "r = Project.from_config().apply()\n"
        "print(json.dumps([[[i.changeset.id, i.transactional, i.checksum, [repr(getattr("
        "s.sql, 'sql', s.sql)) + repr(getattr(s.sql, 'params', None)) for s in i.steps]] "
        "for i in r.plan.items], 'sqlalchemy' in sys.modules]))")


def _plan(p: Project, env: dict[str, str] | None = None, pre: str = "") -> Any:
    return json.loads(_python(p, PLAN.replace("PRE", pre), env).splitlines()[-1])


def _both(p: Project, child: bool = True) -> None:
    """The pending changesets applied through the render process (`child`; else where it
    is not used), and from the same database in one process: the same plan, database and
    version rows."""
    shutil.copy(p.root / "app.db", p.root / "before.db")
    there, imported = _plan(p)
    built = _schema(p), [r[:2] for r in _rows(p)]
    shutil.copy(p.root / "before.db", p.root / "app.db")
    here, _ = _plan(p, ALONE)
    assert imported is not child and there == here
    assert (_schema(p), [r[:2] for r in _rows(p)]) == built


def _schema(p: Project) -> list[tuple[Any, ...]]:
    with sqlite3.connect(p.root / "app.db") as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE "
                            "'schemaflow%' ORDER BY name").fetchall()


def _rows(p: Project) -> list[tuple[Any, ...]]:
    with sqlite3.connect(p.root / "app.db") as conn:
        return conn.execute("SELECT id, checksum, message, applied_by, schemaflow_version, "
                            "exec_order FROM schemaflow_version ORDER BY exec_order").fetchall()


def _untimed(text: str) -> list[str]:
    return [re.sub(r" \(\d+ ms\)$| in [\d.]+ s$", "", line) for line in text.splitlines()]


PENDING = [  # what a deploy brings: a table, a column, an index, rows
    [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "t_id", "type": "integer"},
        {"name": "note", "type": "string(50)", "default": "x"}],
        "foreign_keys": [{"columns": ["t_id"], "references": {"table": "t",
                                                               "columns": ["id"]}}]}}],
    [_column("d"), {"create_index": {"table": "t", "name": "ix_t_d", "columns": ["d"]}}],
    [{"insert_rows": {"table": "u", "rows": [{"id": 1, "note": "it's"}, {"id": 2}]}}],
]


def _pending(p: Project, ids: list[str], count: int = len(PENDING)) -> list[str]:
    new: list[str] = []
    for i, ops in enumerate(PENDING[:count], 1):
        p.write(f"d{i:03d}", ops, parents=[(new or ids)[-1]])
        new.append(f"d{i:03d}")
    return new


@pytest.mark.parametrize("count", [1, 3])
def test_a_deploy_renders_in_the_other_process_and_runs_without_sqlalchemy(
        project: Project, count: int) -> None:
    ids = _applied(project)
    new = _pending(project, ids, count)
    assert _python(project, RUN) == f"{new} False False"
    built, recorded = _schema(project), _rows(project)
    # The same changesets rendered and run in one process, through SQLAlchemy.
    assert project.cli("rollback", ids[-1]).returncode == 0
    done = project.cli("apply", env=ALONE)
    assert done.returncode == 0, done.stderr
    assert (_schema(project), _rows(project)) == (built, recorded)
    # And from the command line: the same output.
    assert project.cli("rollback", ids[-1]).returncode == 0
    again = project.cli("apply")
    assert again.returncode == 0 and _untimed(again.stderr) == _untimed(done.stderr)
    assert (_schema(project), _rows(project)) == (built, recorded)


def test_nothing_pending_stops_the_process(project: Project) -> None:
    _applied(project)
    started = ("from schemaflow import renderchild\n"
               "real_start = renderchild.RenderChild.start.__func__\n"
               "def start(cls, *args, **kwargs):\n"
               "    child = real_start(cls, *args, **kwargs)\n"
               "    print('started', child is not None)\n"
               "    return child\n"
               "renderchild.RenderChild.start = classmethod(start)\n")
    assert _python(project, started + RUN) == "started True\n[] False False"


def test_what_it_does_not_render_goes_through_sqlalchemy(project: Project) -> None:
    ids = _applied(project)
    project.write("d001", [{"sql": {"up": "CREATE TABLE raw (x INTEGER)",
                                    "down": "DROP TABLE raw"}}], parents=[ids[-1]])
    assert _python(project, RUN) == "['d001'] True False"
    assert ("table", "raw", "CREATE TABLE raw (x INTEGER)") in _schema(project)


def test_a_failing_changeset_is_reported_as_always(project: Project) -> None:
    ids = _applied(project)
    _pending(project, ids)
    reports = []
    for env in (None, ALONE):
        with sqlite3.connect(project.root / "app.db") as conn:
            conn.execute("CREATE TABLE u (x INTEGER)")  # what d001 creates
        done = project.cli("apply", env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "table u already exists" in done.stderr
        reports.append(_untimed(done.stderr))
        assert [r[0] for r in _rows(project)] == ids
        with sqlite3.connect(project.root / "app.db") as conn:
            conn.execute("DROP TABLE u")
    assert reports[0] == reports[1]


def test_the_schema_they_end_on_is_what_the_next_run_plans_on(project: Project) -> None:
    # Applied to a target below the head, the schema after the target is remembered; the
    # next run, rendering in its own process, plans the rest on it.
    ids = _applied(project)
    new = _pending(project, ids)
    assert _python(project, RUN.replace(".apply()", f".apply('{new[0]}')")) == (
        f"{new[:1]} False False")  # (the history check remembers the head and its parent)
    done = project.cli("apply", env=ALONE)
    assert done.returncode == 0, done.stderr
    built, recorded = _schema(project), _rows(project)
    assert [r[0] for r in recorded] == ids + new
    assert project.cli("rollback", ids[-1], env=ALONE).returncode == 0
    assert project.cli("apply", env={**ALONE, "SCHEMAFLOW_NO_CACHE": "1"}).returncode == 0
    assert (_schema(project), [r[:-1] for r in _rows(project)]) == (
        built, [r[:-1] for r in recorded])


def test_a_process_that_imported_sqlalchemy_renders_itself(project: Project) -> None:
    # (an API caller's: rendering there costs no import, a fork would cost its memory)
    ids = _applied(project)
    _pending(project, ids, 1)
    code = RUN.replace("import os, sys\n", "import os, sys, sqlalchemy\n"
                       "from schemaflow import parallel\n"
                       "def no(*a, **k):\n    raise AssertionError('forked')\n"
                       "parallel.fork_server = no\n")
    assert _python(project, code) == "['d001'] True False"


def test_what_it_renders_is_what_one_process_renders(project: Project) -> None:
    ids = _applied(project)
    # A table rebuild on the last applied changeset's column, a merge of a pending branch.
    project.write("e001", [{"alter_column": {"table": "t", "name": "c3", "type": "bigint"}}],
                  parents=[ids[-1]])
    project.write("b001", [_column("b")], parents=[ids[0]])
    project.write("m001", [{"rename_column": {"table": "t", "name": "b", "new_name": "bb"}}],
                  parents=["e001", "b001"])
    _both(project)
    _pending(project, ["m001"])
    _both(project)
    # One that runs outside a transaction is not a batch: it goes through SQLAlchemy.
    project.write("n001", [_column("n")], parents=["d003"], transactional=False)
    _both(project, child=False)


def test_a_file_changed_meanwhile_is_not_what_runs(project: Project) -> None:
    ids = _applied(project)
    project.write("d001", [_column("x0")], parents=[ids[-1]])
    assert project.cli("validate").returncode == 0  # (the history served from the cache)
    edit = ("from schemaflow import renderchild\n"
            "real = renderchild.RenderChild.render\n"
            "def render(self, request):\n"
            "    path = request.files[0]\n"
            "    path.write_text(path.read_text().replace('x0', 'x9'))\n"
            "    return real(self, request)\n"
            "renderchild.RenderChild.render = render\n")
    done = subprocess.run([sys.executable, "-c", PLAN.replace("PRE", edit)], cwd=project.root,
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "is not what was loaded: its file changed" in done.stderr
    assert "x9" not in str(_schema(project)) and [r[0] for r in _rows(project)] == ids


def test_it_is_stopped_before_anything_runs(project: Project) -> None:
    # A plan kept whole (an apply after `rollback base` on the same database): the process
    # forked as the run started is stopped and reaped before the first changeset runs.
    project.chain(*([_column(f"a{i}")] if i else [TABLE] for i in range(40)))
    for args in (["apply"], ["rollback", "base"]):
        assert project.cli(*args).returncode == 0
    watch = ("import os\nfrom schemaflow import driverrun, renderchild\n"
             "started = []\nreal_start = renderchild.RenderChild.start.__func__\n"
             "def start(cls, *args, **kwargs):\n"
             "    child = real_start(cls, *args, **kwargs)\n"
             "    started.append(child)\n"
             "    return child\n"
             "renderchild.RenderChild.start = classmethod(start)\n"
             "real_run = driverrun.DriverRunner.run\n"
             "def run(self, *args):\n"
             "    assert started[0] is not None and not os.path.exists("
             "f'/proc/{started[0].stream.pid}')\n"
             "    return real_run(self, *args)\n"
             "driverrun.DriverRunner.run = run\n")
    there, imported = _plan(project, pre=watch)
    assert len(there) == 40 and not imported


def test_the_schema_read_ahead_is_only_a_guess(project: Project) -> None:
    # The run has the process read the schema the deploy meets as soon as it knows what is
    # pending (before its lock); a guess another run made wrong (here: a key nothing holds)
    # costs a second read, and the process renders on the schema the request names.
    ids = _applied(project)
    _pending(project, ids)
    seen = ("from schemaflow import renderchild\n"
            "real = renderchild.RenderChild.prefetch\n"
            "def prefetch(self, g, applied, memo):\n"
            "    print('prefetch', sorted(applied) == sorted(g.by_id)[:len(applied)])\n"
            "    self.stream.send(renderchild.Prefetch('0' * 32), renderchild.WAIT)\n"
            "    real(self, g, set(list(applied)[:-1]), memo)\n"
            "renderchild.RenderChild.prefetch = prefetch\n")
    shutil.copy(project.root / "app.db", project.root / "before.db")
    out = _python(project, PLAN.replace("PRE", seen)).splitlines()
    assert out[0] == "prefetch True"
    there, imported = json.loads(out[-1])
    built = _schema(project), [r[:2] for r in _rows(project)]
    shutil.copy(project.root / "before.db", project.root / "app.db")
    here, _ = _plan(project, ALONE)
    assert not imported and there == here
    assert (_schema(project), [r[:2] for r in _rows(project)]) == built


def forks_watch(module: str) -> str:
    """A script that runs the command line on its words (as `schemaflow` does, through
    `launch`) and prints, as it exits, each process forked to render
    (`parallel.fork_server`) as whether `module` was imported then."""
    return ("import sys\nfrom schemaflow import parallel\n"
            "forked = []\nreal_fork = parallel.fork_server\n"
            "def fork_server(fn):\n"
            f"    forked.append({module!r} in sys.modules)\n"
            "    return real_fork(fn)\n"
            "parallel.fork_server = fork_server\n"
            "import atexit\natexit.register(lambda: print('forked', forked))\n"
            "sys.argv = ['schemaflow', *sys.argv[1:]]\n"
            "from schemaflow.launch import main\nmain()\n")


def test_a_rollback_to_an_id_or_of_a_few_starts_no_render_process(project: Project) -> None:
    """Only a stream (a long plan) of a rollback is rendered there, which only `base` and
    `-N` for a long N promise: a rollback to an id, a tag or `-1` starts no process that
    would import SQLAlchemy for nothing; the database is what the rollback leaves either
    way."""
    from schemaflow import renderchild

    ids = _applied(project, renderchild.MIN_ITEMS + 8)

    def rollback(*words: str) -> str:
        done = subprocess.run([sys.executable, "-c", forks_watch("sqlalchemy"),
                               "rollback", *words],
                              cwd=project.root, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout.splitlines()[-1]

    assert rollback(ids[-3]) == "forked []"
    assert [r[0] for r in _rows(project)] == ids[:-2]
    assert rollback("--lock-timeout", "5", "-1") == "forked []"
    assert [r[0] for r in _rows(project)] == ids[:-3]
    # A relative target long enough for a stream, or base: forked as the command starts.
    assert rollback(f"-{renderchild.MIN_ITEMS}") == "forked [False]"
    assert [r[0] for r in _rows(project)] == ids[:5]
    assert rollback("base") == "forked [False]"
    assert _rows(project) == [] and [r[1] for r in _schema(project) if r[0] == "table"] == []
    assert [renderchild.rollback_served(t) for t in ("base", "-32", "-31", "-1", "x", "-")] \
        == [True, True, False, False, False, False]

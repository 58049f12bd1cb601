"""The benchmark's own environment: what it installs, where, and the commands it times.

Choice: no virtualenv. The benchmark times the interpreter that runs ``bench/run.py``, with
schemaflow as the README installs it (``pip install -e .``) — that is what a developer has
and what CI runs. What the project's test extras lack is installed into a private folder,
never into that interpreter:

* **Alembic** (with Mako and MarkupSafe, its only dependencies besides SQLAlchemy and
  typing-extensions, which schemaflow already brings) goes into ``bench/.work/pydeps`` with
  ``pip install --target ... --no-deps``, so Alembic runs on the very same SQLAlchemy as
  schemaflow. That folder is put on ``PYTHONPATH`` for the Alembic processes only. It takes a
  second or two on the first run and is reused afterwards (``bench/.work/`` is git-ignored).
  If the interpreter already has Alembic, that one is used and nothing is installed.
* **schemaflow** itself: if it is not installed in this interpreter, the harness runs the
  README's ``pip install -e '.[postgresql]'`` first.
* **psycopg** (the test extras have it): if it is missing, the PostgreSQL rows are skipped.

A building venv would cost ~20 s per fresh machine and would time a second copy of the
dependencies; the ``--target`` folder costs ~1 s and changes nothing for anyone else.

Every measured command runs as its own process, found next to ``sys.executable`` (so a
pyenv or other shim's start-up is not counted): the ``schemaflow`` console script, the
``alembic`` console script, and ``python bench/raw.py`` for the raw-SQL floor.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
PYDEPS = WORK / "pydeps"
ALEMBIC_REQUIREMENTS = ["alembic>=1.13,<2", "mako>=1.3", "markupsafe>=2.1"]


class EnvironmentProblem(Exception):
    pass


@dataclass
class Tools:
    """How to start each tool, and the environment for it."""

    python: str
    schemaflow: list[str]
    alembic: list[str] | None
    alembic_env: dict[str, str] = field(default_factory=dict)
    alembic_problem: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    schemaflow_env: dict[str, str] = field(default_factory=dict)

    def env(self, tool: str) -> dict[str, str]:
        """A clean environment for `tool` (no inherited database URLs or cache settings)."""
        env = _clean_env()
        if tool == "alembic":
            env.update(self.alembic_env)
        if tool == "schemaflow":
            env.update(self.schemaflow_env)
        return env


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCHEMAFLOW_URL", "DATABASE_URL", "PYTHONPATH", "ALEMBIC_CONFIG",
                        "SCHEMAFLOW_CACHE_DIR", "SCHEMAFLOW_NO_CACHE",
                        # A user's Python keeps bytecode; without it every start
                        # compiles the editable checkout's sources again.
                        "PYTHONDONTWRITEBYTECODE")}
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    print(f"[bench] installing: {' '.join(args)}", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise EnvironmentProblem(f"pip install {' '.join(args)} failed:\n"
                                 + (done.stderr or done.stdout)[-2000:])


def _script(name: str) -> str | None:
    """A console script of this interpreter (next to sys.executable, not through a shim)."""
    for folder in (Path(sys.executable).parent, Path(sys.prefix) / "bin"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _probe(code: str, env: dict[str, str] | None = None) -> str | None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def prepare(need_alembic: bool = True) -> Tools:
    """Make sure every tool is there (installing what is missing); return how to start them."""
    WORK.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {"python": sys.version.split()[0]}

    if importlib.util.find_spec("schemaflow") is None or _script("schemaflow") is None:
        _pip("-e", f"{REPO}[postgresql]")
    sf = _script("schemaflow")
    if sf is None:
        raise EnvironmentProblem("the schemaflow command is not installed; run: pip install -e .")
    # The checkout this harness lives in is what it measures, even when the interpreter's
    # editable install points at another checkout (a git worktree of a branch).
    checkout = {"PYTHONPATH": str(REPO)}
    probe = _probe("import schemaflow, sqlalchemy, sqlite3; "
                   "print(schemaflow.__version__, sqlalchemy.__version__, sqlite3.sqlite_version)",
                   _clean_env() | checkout)
    if probe is None:
        raise EnvironmentProblem("cannot import schemaflow in this interpreter")
    # An installed wheel ships compiled bytecode; the editable checkout gets it here, so that
    # no timed run pays for compiling.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "schemaflow")],
                   check=False, capture_output=True)
    versions["schemaflow"], versions["sqlalchemy"], versions["sqlite"] = probe.split()

    tools = Tools(python=sys.executable, schemaflow=[sf], alembic=None, versions=versions,
                  schemaflow_env=checkout)
    if not need_alembic:
        return tools

    code = "import alembic, mako; print(alembic.__version__)"
    found = _probe(code)
    if found is not None and _script("alembic"):
        tools.alembic = [str(_script("alembic"))]
        versions["alembic"] = found
        return tools
    env = tools.env("schemaflow") | {"PYTHONPATH": str(PYDEPS)}
    found = _probe(code, env) if PYDEPS.is_dir() else None
    if found is None:
        try:
            shutil.rmtree(PYDEPS, ignore_errors=True)
            _pip("--target", str(PYDEPS), "--no-deps", *ALEMBIC_REQUIREMENTS)
            found = _probe(code, env)
        except (EnvironmentProblem, subprocess.TimeoutExpired) as exc:
            tools.alembic_problem = str(exc)
            return tools
    if found is None:
        tools.alembic_problem = f"Alembic installed in {PYDEPS} does not import"
        return tools
    script = PYDEPS / "bin" / "alembic"
    tools.alembic = ([sys.executable, str(script)] if script.is_file()
                     else [sys.executable, "-m", "alembic"])
    tools.alembic_env = {"PYTHONPATH": str(PYDEPS)}
    versions["alembic"] = found
    return tools

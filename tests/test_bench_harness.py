"""The benchmark harness (bench/run.py): a command is run with the environment of the program
it starts, whatever column it is timed for. The floor of the no-op apply rows is schemaflow's
own `current`, timed in the "raw" column: run with the raw column's environment it had no
SCHEMAFLOW_CACHE_DIR (and not the checkout on PYTHONPATH), so it parsed the whole history
into the user's cache folder (4.3 s instead of 0.5 s on 10,000 changesets)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench_run(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    import run  # type: ignore[import-not-found]

    return run


# A stand-in "schemaflow" that prints the environment it was given.
SHOW_ENV = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in "
            "('SCHEMAFLOW_CACHE_DIR', 'PYTHONPATH')}))")


def _bench(run: Any, tmp_path: Path) -> Any:
    import environment  # type: ignore[import-not-found]

    tools = environment.Tools(python=sys.executable,
                              schemaflow=[sys.executable, "-c", SHOW_ENV], alembic=None,
                              schemaflow_env={"SCHEMAFLOW_CACHE_DIR": str(tmp_path / "cache"),
                                              "PYTHONPATH": "/the/checkout"})
    args = argparse.Namespace(repeat=1, max_minutes=10.0)
    return run.Bench(args, tools, None, tmp_path)  # no database is used here


@pytest.mark.parametrize("column", ["schemaflow", "raw"])
def test_schemaflow_gets_its_environment_in_any_column(bench_run: Any, tmp_path: Path,
                                                       column: str) -> None:
    bench = _bench(bench_run, tmp_path)
    out = bench.run(column, bench.cmd("schemaflow", "current"), tmp_path)
    assert out.ok, out.output
    assert json.loads(out.stdout) == {"SCHEMAFLOW_CACHE_DIR": str(tmp_path / "cache"),
                                      "PYTHONPATH": "/the/checkout"}


def test_other_programs_get_a_clean_environment(bench_run: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMAFLOW_CACHE_DIR", "/not/for/the/floor")
    bench = _bench(bench_run, tmp_path)
    out = bench.run("raw", bench.cmd("python", "-c", SHOW_ENV + "  # not schemaflow"),
                    tmp_path)
    assert out.ok, out.output
    assert json.loads(out.stdout) == {"SCHEMAFLOW_CACHE_DIR": None, "PYTHONPATH": None}

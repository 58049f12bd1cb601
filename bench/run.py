"""schemaflow's benchmark: one command, its own environment, one table.

    python bench/run.py                    # the full run (3 repetitions; < 15 min on 2 cores)
    python bench/run.py --quick            # 1 repetition, N=100 applies, 1,000-changeset listings
    python bench/run.py --only apply-sqlite:1000 --repeat 5
    python bench/run.py --only startup,listings
    python bench/run.py --autogenerate     # also autogenerate/check on PostgreSQL

What it does (see bench/README.md for the rows and budgets):

1. Environment (`environment.py`): installs Alembic into ``bench/.work/pydeps`` if this
   interpreter lacks it (schemaflow itself too, with the README's ``pip install -e``).
2. Workload (`workload.py`): a seeded history of N changesets mixing create_table,
   add_column, create_index, rename_column, alter_column, drop_column and insert_rows, written
   as a schemaflow project (YAML files + schemaflow.toml) and as the equivalent Alembic project
   (`alembic_env.py`); the raw-SQL floor's script is schemaflow's own ``apply --sql`` /
   ``rollback base --sql`` cut per changeset (`raw.py`).
3. Measurement: every measured command is a fresh process, timed from start to exit like a
   user would see it, on a fresh database per repetition; tools are interleaved within each
   repetition (schemaflow, alembic, raw, schemaflow, ...); each row shows the median.
   Before a time counts, the database is read back and must hold exactly the tables, columns,
   indexes and rows the workload describes (after apply), or nothing but the version table
   (after rollback) — for every tool.
4. Output: the table on stdout, and ``bench/.work/results.json`` / ``results.md``.

Selection names for ``--only`` (comma-separated or repeated, each optionally ``:N``):
``startup``, ``apply-sqlite``, ``apply-postgresql``, ``listings``, ``validate``,
``autogenerate`` (the last is not in the default run; ``--autogenerate`` adds it).

Exit status: 0 when the table was produced (budgets missed or rows failed are in the table,
not in the exit status), 2 when the environment cannot be prepared or PostgreSQL is required
and unreachable, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import alembic_env
import autogen
import dbs
import environment
import raw
import workload
from report import Budget, Row, markdown, text_table

SEED = 20240601
TIMEOUT = 300.0                 # any one measured command
ALEMBIC_LISTING_TIMEOUT = 60.0  # Alembic's listings on big histories: "> 60 s" past that
GROUPS = ("startup", "apply-sqlite", "apply-postgresql", "listings", "validate", "autogenerate")
TOOLS = ("schemaflow", "alembic", "raw")   # --tools chooses among them
DEFAULT_GROUPS = GROUPS[:-1]   # autogenerate is opt-in (--autogenerate or --only): +3-5 min
FULL_SIZES = {"startup": [10], "apply-sqlite": [100, 1000], "apply-postgresql": [100, 1000],
              "listings": [1000, 10000], "validate": [10000], "autogenerate": [300, 1000]}
QUICK_SIZES = {"startup": [10], "apply-sqlite": [100], "apply-postgresql": [100],
               "listings": [1000], "validate": [1000], "autogenerate": [300]}
# The "done when" of issue 15, one budget per row (sf/floor: the row's floor column).
APPLY_BUDGET = {("sqlite", 1000): Budget(max_vs_raw=1.2),
                ("postgresql", 1000): Budget(max_vs_raw=1.2)}
NOOP_BUDGET = Budget(max_vs_raw=1.5)          # no-op apply vs schemaflow's own current
LISTING_BUDGET = {("current", 10000): Budget(max_seconds=0.3),
                  ("heads", 10000): Budget(max_seconds=0.3),
                  ("status", 10000): Budget(max_seconds=0.3),
                  ("validate", 10000): Budget(max_seconds=1.0),
                  ("validate (no cache)", 10000): Budget(max_seconds=3.0)}
ONE_PENDING_BUDGET = Budget(max_vs_raw=1.0)   # vs current + its own execution time + 0.1 s
HELP_BUDGET = Budget(max_seconds=0.15)
# "autogenerate / check on 1,000 PostgreSQL tables: within 0.3x Alembic's time"
AUTOGEN_BUDGET = {1000: Budget(max_vs_alembic=0.3)}
PENDING_ID = "zzzz_bench_pending"   # the one pending changeset (sorts after every id)

T0 = time.perf_counter()

# Seconds on an idle 2-core machine, per group and size: (setup + first repetition, each
# further repetition). Only used to fit the run into --max-minutes on a slower or busier machine.
COST: dict[tuple[str, int], tuple[float, float]] = {
    ("startup", 10): (8, 4),
    ("apply-sqlite", 100): (14, 8), ("apply-sqlite", 1000): (85, 63),
    ("apply-postgresql", 100): (21, 14), ("apply-postgresql", 1000): (105, 77),
    # listings include validate (and its one empty-cache run) when both are selected; at
    # 10,000: stamp ~40 s, alembic current's 60 s time-out, validate ~40 s warm + ~40 s cold
    # + per repetition: no-op and one-pending apply (7 commands), stamp base/heads per tool
    ("listings", 1000): (40, 25), ("listings", 10000): (300, 150),
    ("validate", 1000): (10, 4), ("validate", 10000): (90, 30),
    ("autogenerate", 300): (40, 15), ("autogenerate", 1000): (120, 45),
}


def cost(key: tuple[str, int]) -> tuple[float, float]:
    if key in COST:
        return COST[key]
    group, n = key
    sizes = [k[1] for k in COST if k[0] == group]
    base = min(sizes, key=lambda x: abs(x - n)) if sizes else n
    first, more = COST.get((group, base), (10.0, 5.0))
    return first * n / max(base, 1), more * n / max(base, 1)


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --- running commands --------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    ok: bool
    timed_out: bool = False
    output: str = ""     # stderr, then the end of stdout
    stdout: str = ""
    cpu: float = 0.0     # user + system seconds of the process (and what it waited for)
    peak_mb: float = 0.0  # its peak resident memory

    def why(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        tail = "\n".join(self.output.strip().splitlines()[-6:])
        return f"exit status != 0: {tail}"


class Bench:
    """Shared state of one benchmark run."""

    def __init__(self, args: argparse.Namespace, tools: environment.Tools,
                 databases: dbs.Databases, work: Path) -> None:
        self.args = args
        self.tools = tools
        self.dbs = databases
        self.work = work
        self.reps: int = args.repeat
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self._workloads: dict[int, workload.Workload] = {}
        self.pending: list[tuple[str, int]] = []   # groups not started yet
        self.started = time.perf_counter()
        self.expected_done = 0.0                    # COST of what is done

    # commands

    def cmd(self, tool: str, *args: str) -> list[str]:
        if tool == "schemaflow":
            return [*self.tools.schemaflow, *args]
        if tool == "alembic":
            assert self.tools.alembic is not None
            return [*self.tools.alembic, *args]
        if tool == "raw":
            return [self.tools.python, str(environment.BENCH / "raw.py"), *args]
        if tool == "python":
            return [self.tools.python, *args]
        raise AssertionError(tool)

    def program(self, argv: list[str]) -> str | None:
        """Which tool `argv` starts ("schemaflow", "alembic"), or None for another program."""
        for name, start in (("schemaflow", self.tools.schemaflow),
                            ("alembic", self.tools.alembic)):
            if start and argv[:len(start)] == start:
                return name
        return None

    def run(self, tool: str, argv: list[str], cwd: Path, timeout: float = TIMEOUT,
            extra_env: dict[str, str] | None = None) -> Outcome:
        """Run one command as a fresh process; its wall time from start to exit. `tool` is
        the column it is measured for; its environment is that of the program it starts (a
        floor column can time schemaflow itself, with schemaflow's cache folder)."""
        env = self.tools.env(self.program(argv) or tool) | (extra_env or {})
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                tempfile.TemporaryDirectory() as tmp:
            # through bench/peak.py: the command's own peak memory, not the harness's
            measured = Path(tmp) / "measured.json"
            launcher = [sys.executable, str(environment.BENCH / "peak.py"), str(measured)]
            start = time.perf_counter()
            proc = subprocess.Popen([*launcher, *argv], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)

            def kill() -> None:  # the launcher and the command it runs
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)

            killer = threading.Timer(timeout, kill)
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if seconds >= timeout:
                return Outcome(seconds, False, True)
            try:
                got = json.loads(measured.read_text(encoding="utf-8"))
                seconds, cpu, peak = got["seconds"], got["cpu"], got["peak_mb"]
            except (OSError, ValueError, KeyError):  # the launcher itself failed
                cpu = usage.ru_utime + usage.ru_stime
                peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            output = err.read().decode(errors="replace") + stdout[-2000:]
        return Outcome(seconds, proc.returncode == 0, False, output, stdout, cpu, peak)

    def measure(self, row: Row, tool: str, argv: list[str], cwd: Path,
                timeout: float = TIMEOUT, extra_env: dict[str, str] | None = None) -> Outcome:
        out = self.run(tool, argv, cwd, timeout, extra_env)
        if out.timed_out:
            row.timeout[tool] = timeout
        elif not out.ok:
            row.failed[tool] = out.why()
            row.notes.append(f"{tool} failed: {out.why()}")
        else:
            row.add(tool, out.seconds, out.cpu, out.peak_mb)
        shown = ("> " if out.timed_out else "") + f"{out.seconds:.3f} s" + (
            "" if out.ok or out.timed_out else " FAILED") + (
            f" (CPU {out.cpu:.3f} s, peak {out.peak_mb:.0f} MB)" if out.ok else "")
        log(f"  {row.benchmark} N={row.n}: {tool} {shown}")
        return out

    def setup(self, what: str, tool: str, argv: list[str], cwd: Path,
              timeout: float = TIMEOUT) -> Outcome:
        """An untimed preparation step; logs it."""
        out = self.run(tool, argv, cwd, timeout)
        status = "ok" if out.ok else ("timed out" if out.timed_out else "FAILED")
        log(f"  setup: {what}: {status} ({out.seconds:.1f} s)")
        if not out.ok:
            self.notes.append(f"setup step `{what}` failed: {out.why()[:600]}")
        return out

    def speed(self) -> float:
        """How much slower (> 1) or faster (< 1) than the COST estimates this run goes."""
        if self.expected_done <= 0:
            return 1.0
        return max(0.6, (time.perf_counter() - self.started) / self.expected_done)

    def repetitions(self, what: str, key: tuple[str, int]) -> Iterator[int]:
        """0..K-1; after the first, only while the run can still end within --max-minutes.

        The projection: time so far, plus this group's next repetition and the setup and first
        repetition of every group still to come (COST, scaled by how slow this run goes).
        """
        first, more = cost(key)
        limit = self.args.max_minutes * 60
        for rep in range(self.reps):
            if rep > 0:
                ahead = more + sum(cost(k)[0] for k in self.pending)
                projected = time.perf_counter() - T0 + self.speed() * ahead
                if projected > limit:
                    self.notes.append(
                        f"{what}: {rep} of {self.reps} repetitions only, so that the run ends "
                        f"within --max-minutes={self.args.max_minutes:g} (this machine ran "
                        f"{self.speed():.1f}x slower than the estimates in run.py's COST)")
                    log(f" stopping after {rep} repetition(s) to end within --max-minutes")
                    return
            log(f" repetition {rep + 1}/{self.reps}")
            yield rep
            self.expected_done += first if rep == 0 else more

    def workload(self, n: int) -> workload.Workload:
        if n not in self._workloads:
            self._workloads[n] = workload.generate(n, SEED)
        return self._workloads[n]

    def add_row(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    # --- start-up ------------------------------------------------------------------------

    def startup(self, n: int) -> None:
        log(f"start-up (project of {n} changesets, SQLite)")
        w = self.workload(n)
        root = self.work / f"startup-{n}"
        sf_dir, al_dir = root / "schemaflow", root / "alembic"
        sf_url, al_url = self.dbs.new("sqlite", "startup_sf"), self.dbs.new("sqlite", "startup_al")
        workload.write_schemaflow(w, sf_dir, sf_url)
        ok = self.setup("schemaflow apply", "schemaflow", self.cmd("schemaflow", "apply"),
                        sf_dir).ok
        have_alembic = self.tools.alembic is not None
        if have_alembic:
            alembic_env.write_project(w, al_dir, al_url)
            have_alembic = self.setup("alembic upgrade head", "alembic",
                                      self.cmd("alembic", "upgrade", "head"), al_dir).ok
        sf_path = sf_url.split(":///", 1)[1]
        floor_read = ("import sqlite3; sqlite3.connect(" + repr(sf_path) +
                      ").execute('SELECT id, exec_order FROM schemaflow_version').fetchall()")
        help_row = self.add_row(Row(
            "startup", "start-up: --help", None,
            {"schemaflow": "schemaflow --help", "raw": "python -c pass",
             **({"alembic": "alembic --help"} if have_alembic else {})},
            HELP_BUDGET))
        cur_row = self.add_row(Row(
            "startup", "start-up: current", n,
            {"schemaflow": "schemaflow current",
             "raw": "python -c 'import sqlite3; <read the version table>'",
             **({"alembic": "alembic current"} if have_alembic else {})}))
        if not ok:
            cur_row.failed["schemaflow"] = "setup (schemaflow apply) failed"
        for _rep in self.repetitions(f"start-up N={n}", ("startup", n)):
            self.measure(help_row, "schemaflow", self.cmd("schemaflow", "--help"), sf_dir)
            if have_alembic:
                self.measure(help_row, "alembic", self.cmd("alembic", "--help"), al_dir)
            self.measure(help_row, "raw", self.cmd("python", "-c", "pass"), sf_dir)
            if ok:
                self.measure(cur_row, "schemaflow", self.cmd("schemaflow", "current"), sf_dir)
            if have_alembic:
                self.measure(cur_row, "alembic", self.cmd("alembic", "current"), al_dir)
            self.measure(cur_row, "raw", self.cmd("python", "-c", floor_read), sf_dir)
        self.dbs.drop(sf_url)
        self.dbs.drop(al_url)

    # --- apply / rollback ----------------------------------------------------------------

    def apply(self, dialect: str, n: int) -> None:
        log(f"apply / rollback base, {dialect}, N={n}")
        w = self.workload(n)
        expected = w.expected_schema()
        root = self.work / f"apply-{dialect}-{n}"
        sf_dir, al_dir, raw_dir = root / "schemaflow", root / "alembic", root / "raw"
        placeholder = "sqlite:///unused.db" if dialect == "sqlite" else "postgresql://unused/db"
        workload.write_schemaflow(w, sf_dir, placeholder)
        tools = ["schemaflow"]
        if self.tools.alembic is not None:
            alembic_env.write_project(w, al_dir, placeholder)
            warm = self.setup("alembic heads (compiles the revision files once)", "alembic",
                              self.cmd("alembic", "heads"), al_dir)
            if warm.ok:
                tools.append("alembic")
        # the raw floor: schemaflow's own offline SQL, cut per changeset (untimed)
        raw_dir.mkdir(parents=True, exist_ok=True)
        scripts: dict[str, Path] = {}
        for direction, argv in (("apply", ["apply", "--sql", "--dialect", dialect]),
                                ("rollback", ["rollback", "base", "--sql", "--dialect",
                                              dialect])):
            out = self.setup(f"schemaflow {' '.join(argv)}", "schemaflow",
                             self.cmd("schemaflow", *argv), sf_dir)
            if not out.ok:
                self.notes.append(f"schemaflow {' '.join(argv)} (N={n}) failed: {out.why()}")
                break
            blocks = raw.split_script(out.stdout)
            scripts[direction] = raw_dir / f"{direction}.json"
            scripts[direction].write_text(json.dumps(blocks), encoding="utf-8")
        if len(scripts) == 2 and "raw" in self.args.tools:
            tools.append("raw")

        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[dialect]
        commands_up = {"schemaflow": "schemaflow apply", "alembic": "alembic upgrade head",
                       "raw": "python bench/raw.py URL apply.json"}
        commands_down = {"schemaflow": "schemaflow rollback base",
                         "alembic": "alembic downgrade base",
                         "raw": "python bench/raw.py URL rollback.json"}
        up_row = self.add_row(Row(f"apply-{dialect}", f"apply from empty ({label})", n,
                                  {t: commands_up[t] for t in ("schemaflow", "alembic", "raw")
                                   if t in tools or t == "schemaflow"},
                                  APPLY_BUDGET.get((dialect, n))))
        down_row = self.add_row(Row(f"apply-{dialect}", f"rollback to base ({label})", n,
                                    {t: commands_down[t] for t in up_row.commands},
                                    APPLY_BUDGET.get((dialect, n))))
        # The same runs where the plan is not kept whole (`plancache`), as on a CI job's
        # machine with its cache folder restored (the plans in it signed elsewhere): the
        # plan is known to render, and streamed (`planstream`). Here with a state folder
        # that cannot be made, so that these runs neither use nor replace the kept plans.
        fresh_rows = tuple(
            self.add_row(Row(f"apply-{dialect}", f"{what}, plan not kept ({label})", n, {
                "schemaflow": f"{commands['schemaflow']} (no SCHEMAFLOW_STATE_DIR)",
                **{t: commands[t] for t in ("raw",) if t in tools}},
                APPLY_BUDGET.get((dialect, n))))
            for what, commands in (("apply from empty", commands_up),
                                   ("rollback to base", commands_down)))
        noop_row = self.add_row(Row(
            f"apply-{dialect}", f"apply, nothing pending ({label})", n,
            {"schemaflow": "schemaflow apply (at head)",
             "raw": "floor: schemaflow current on the same database"}, NOOP_BUDGET))
        # The memory budget: 2x the raw script's own memory, plus the interpreter with
        # SQLAlchemy imported (peaks of `python -c pass` and `python -c 'import sqlalchemy'`).
        bare = self.run("python", self.cmd("python", "-c", "pass"), sf_dir)
        with_sa = self.run("python", self.cmd("python", "-c", "import sqlalchemy"), sf_dir)
        if "alembic" not in tools and "alembic" in up_row.commands:
            for r in (up_row, down_row):
                r.failed["alembic"] = "setup failed"
        if "raw" not in self.args.tools:
            for r in (up_row, down_row):
                r.failed["raw"] = "left out (--tools)"
        elif "raw" not in tools:
            for r in (up_row, down_row):
                r.failed["raw"] = "schemaflow's --sql failed, so there is no raw script"

        # Once untimed, so that every measured run finds the plans kept (`plancache`), as a
        # developer's or a test machine's runs after the first do.
        url = self.dbs.new(dialect, "schemaflow")
        try:
            workload.set_schemaflow_url(sf_dir, url)
            for argv in (["apply"], ["rollback", "base"]):
                self.setup(f"schemaflow {' '.join(argv)} (keeps its plan)", "schemaflow",
                           self.cmd("schemaflow", *argv), sf_dir)
        finally:
            self.dbs.drop(url)
        for _ in self.repetitions(f"apply/rollback {dialect} N={n}",
                                    (f"apply-{dialect}", n)):
            for tool in tools:
                if tool in up_row.failed or tool in up_row.timeout:
                    continue
                url = self.dbs.new(dialect, tool)
                try:
                    self._apply_once(tool, url, n, expected, sf_dir, al_dir, raw_dir, scripts,
                                     up_row, down_row, noop_row)
                finally:
                    self.dbs.drop(url)
                if tool == "schemaflow" and tool not in up_row.failed:
                    url = self.dbs.new(dialect, tool)
                    try:
                        self._not_kept(url, n, expected, sf_dir, *fresh_rows)
                    finally:
                        self.dbs.drop(url)
        for fresh, kept in zip(fresh_rows, (up_row, down_row), strict=True):
            if "raw" in kept.times:  # (the raw floor is the same runs')
                fresh.times["raw"] = kept.times["raw"]
                fresh.cpu["raw"] = kept.cpu.get("raw", [])
                fresh.peak["raw"] = kept.peak.get("raw", [])
            if "raw" in kept.failed:
                fresh.failed["raw"] = kept.failed["raw"]
        for row in (up_row, down_row, *fresh_rows) if (dialect, n) in APPLY_BUDGET else ():
            raw_peak = row.peak_mb("raw")
            if raw_peak is not None and bare.ok and with_sa.ok:
                limit = 2 * max(raw_peak - bare.peak_mb, 0) + with_sa.peak_mb
                row.budget = dataclasses.replace(row.budget or Budget(), max_peak_mb=limit)
                row.notes.append(
                    f"peak memory budget {limit:.0f} MB = 2 x (raw script {raw_peak:.0f} MB - "
                    f"bare interpreter {bare.peak_mb:.0f} MB) + interpreter with SQLAlchemy "
                    f"imported {with_sa.peak_mb:.0f} MB")

    def _apply_once(self, tool: str, url: str, n: int, expected: dbs.Schema, sf_dir: Path,
                    al_dir: Path, raw_dir: Path, scripts: dict[str, Path], up_row: Row,
                    down_row: Row, noop_row: Row) -> None:
        if tool == "schemaflow":
            workload.set_schemaflow_url(sf_dir, url)
            up, down, cwd = ["apply"], ["rollback", "base"], sf_dir
            version = {"schemaflow_version": n}
        elif tool == "alembic":
            alembic_env.set_url(al_dir, url)
            up, down, cwd = ["upgrade", "head"], ["downgrade", "base"], al_dir
            version = {"alembic_version": 1}
        else:
            up, down, cwd = [url, str(scripts["apply"])], [url, str(scripts["rollback"])], raw_dir
            version = {"schemaflow_version": n}
        if not self.measure(up_row, tool, self.cmd(tool, *up), cwd).ok:
            return
        if not self._check(up_row, tool, url, expected, version, "apply"):
            return
        if tool == "schemaflow":  # at head: apply with nothing to do, against current
            self.measure(noop_row, "schemaflow", self.cmd(tool, "apply"), cwd)
            self.measure(noop_row, "raw", self.cmd(tool, "current"), cwd)
        if not self.measure(down_row, tool, self.cmd(tool, *down), cwd).ok:
            return
        empty = dict.fromkeys(version, 0)
        self._check(down_row, tool, url, {}, empty, "rollback to base")

    def _not_kept(self, url: str, n: int, expected: dbs.Schema, sf_dir: Path, up_row: Row,
                  down_row: Row) -> None:
        """schemaflow's apply and rollback without a state folder: no plan kept for them
        (`plancache`)."""
        workload.set_schemaflow_url(sf_dir, url)
        blocked = self.work / "sf-no-state"
        blocked.touch()
        env = {"SCHEMAFLOW_STATE_DIR": str(blocked / "schemaflow")}
        version = {"schemaflow_version": n}
        for row, argv, want, rows_left, what in (
                (up_row, ["apply"], expected, version, "apply"),
                (down_row, ["rollback", "base"], {}, dict.fromkeys(version, 0),
                 "rollback to base")):
            if not self.measure(row, "schemaflow", self.cmd("schemaflow", *argv), sf_dir,
                                extra_env=env).ok:
                return
            if not self._check(row, "schemaflow", url, want, rows_left, what):
                return

    def _check(self, row: Row, tool: str, url: str, expected: dbs.Schema,
               version: dict[str, int], what: str) -> bool:
        """The database must hold what the workload describes; otherwise the time is void."""
        schema, versions = dbs.inspect(url)
        problems = dbs.diff(expected, schema)
        for table, count in version.items():
            if versions.get(table) != count:
                problems.append(f"{table} has {versions.get(table)} rows, expected {count}")
        if not problems:
            return True
        _void(row, tool, f"wrong database after {what}: " + "; ".join(problems))
        return False

    # --- listings and validate -----------------------------------------------------------

    def listings(self, n: int, names: list[str]) -> None:
        log(f"listings on a history of {n} changesets ({', '.join(names)})")
        w = self.workload(n)
        root = self.work / f"listings-{n}"
        sf_dir, al_dir = root / "schemaflow", root / "alembic"
        sf_url = self.dbs.new("sqlite", f"listings_sf_{n}")
        workload.write_schemaflow(w, sf_dir, sf_url)
        stamp = self.setup("schemaflow stamp heads", "schemaflow",
                           self.cmd("schemaflow", "stamp", "heads"), sf_dir)
        stamp_note = (f"setup of the {n:,}-changeset listings: `schemaflow stamp heads` took "
                      f"{stamp.seconds:.1f} s" + ("" if stamp.ok else " and FAILED"))
        self.notes.append(stamp_note)
        have_alembic = False
        al_url = ""
        if self.tools.alembic is not None:
            al_url = self.dbs.new("sqlite", f"listings_al_{n}")
            alembic_env.write_project(w, al_dir, al_url)
            out = self.setup("alembic stamp head", "alembic", self.cmd("alembic", "stamp", "head"),
                             al_dir)
            have_alembic = out.ok
            self.notes.append(f"setup of the {n:,}-changeset listings: `alembic stamp head` took "
                              f"{out.seconds:.1f} s" + ("" if out.ok else " and FAILED"))
        alembic_cmd = {"current": ["current"], "heads": ["heads"], "history": ["history"]}
        rows: dict[str, Row] = {}
        for name in names:
            commands = {"schemaflow": f"schemaflow {name}"}
            if have_alembic and name in alembic_cmd:
                commands["alembic"] = "alembic " + " ".join(alembic_cmd[name])
            key = "validate" if name == "validate" else "listings"
            rows[name] = self.add_row(Row(key, name, n, commands, LISTING_BUDGET.get((name, n))))
            if not stamp.ok and name in ("current", "status"):
                rows[name].failed["schemaflow"] = "setup (schemaflow stamp heads) failed"
        if "validate" in rows:
            rows["validate (no cache)"] = self.add_row(Row(
                "validate", "validate (empty cache, 1 run)", n,
                {"schemaflow": "SCHEMAFLOW_CACHE_DIR=<new folder> schemaflow validate"},
                LISTING_BUDGET.get(("validate (no cache)", n))))
        deploy = names != ["validate"] and stamp.ok
        if deploy:
            noop = self.add_row(Row(
                "listings", "apply, nothing pending (SQLite)", n,
                {"schemaflow": "schemaflow apply (at head)",
                 "raw": "floor: schemaflow current"}, NOOP_BUDGET))
            pending = self.add_row(Row(
                "listings", "apply, one changeset pending (SQLite)", n,
                {"schemaflow": "schemaflow apply (one new create_table)",
                 "raw": "floor: current + the changeset's execution_ms + 0.1 s"},
                ONE_PENDING_BUDGET))
            restamp = self.add_row(Row(
                "listings", "stamp heads (from an empty version table)", n,
                {"schemaflow": "schemaflow stamp heads",
                 **({"alembic": "alembic stamp head"} if have_alembic else {})}))
            # Once untimed, so that every measured run finds the caches a developer's machine
            # has (the replayed schema at the head is kept by content, whatever the folder).
            self._deploy(n, sf_dir, sf_url, w.changesets[-1].id, None, None)
        if "validate" in rows:
            # Warm means what an earlier validate left: the parse cache and the history
            # check's findings (the deploy above leaves only what apply's check needs).
            self.setup("schemaflow validate (fills the cache)", "schemaflow",
                       self.cmd("schemaflow", "validate"), sf_dir)
        for rep in self.repetitions(f"listings N={n}",
                                      ("listings" if names != ["validate"] else "validate", n)):
            for name, row in rows.items():
                if name == "validate (no cache)":
                    if rep > 0:     # slow by nature; one run says it
                        continue
                    cold = self.work / f"cold-cache-{n}-{rep}"
                    self.measure(row, "schemaflow", self.cmd("schemaflow", "validate"), sf_dir,
                                 extra_env={"SCHEMAFLOW_CACHE_DIR": str(cold)})
                    shutil.rmtree(cold, ignore_errors=True)
                    continue
                if "schemaflow" not in row.failed:
                    self.measure(row, "schemaflow", self.cmd("schemaflow", name), sf_dir)
                if "alembic" in row.commands and "alembic" not in row.timeout \
                        and "alembic" not in row.failed:
                    self.measure(row, "alembic", self.cmd("alembic", *alembic_cmd[name]), al_dir,
                                 timeout=ALEMBIC_LISTING_TIMEOUT)
            if deploy:
                self._deploy(n, sf_dir, sf_url, w.changesets[-1].id, noop, pending)
                self._restamp(restamp, sf_dir, al_dir if have_alembic else None)
        self.dbs.drop(sf_url)
        if al_url:
            self.dbs.drop(al_url)


    def _deploy(self, n: int, sf_dir: Path, sf_url: str, head: str, noop: Row | None,
                pending: Row | None) -> None:
        """A deploy on a long history: apply with nothing pending, then with one pending
        changeset (against current plus that changeset's own time plus 0.1 s). Rows None:
        the same untimed. The pending file is written, then removed again; each time an
        untimed listing refreshes the folder index, as the `status` a developer runs first."""
        def run(row: Row | None, tool: str, what: str, *argv: str) -> Outcome:
            if row is None:
                return self.setup(what, "schemaflow", self.cmd("schemaflow", *argv), sf_dir)
            return self.measure(row, tool, self.cmd("schemaflow", *argv), sf_dir)

        run(noop, "schemaflow", "schemaflow apply (at head)", "apply")
        run(noop, "raw", "schemaflow current", "current")
        write_pending(sf_dir, head)
        try:
            self.setup("schemaflow status (one pending)", "schemaflow",
                       self.cmd("schemaflow", "status"), sf_dir)
            current = self.run("schemaflow", self.cmd("schemaflow", "current"), sf_dir)
            out = run(pending, "schemaflow", "schemaflow apply (one pending)", "apply")
            if out.ok:
                own_ms = dbs.execution_ms(sf_url, PENDING_ID)
                if pending is not None and current.ok and own_ms is not None:
                    pending.add("raw", current.seconds + own_ms / 1000 + 0.1)
                self.setup("schemaflow rollback (the pending changeset)", "schemaflow",
                           self.cmd("schemaflow", "rollback", head), sf_dir)
        finally:
            (sf_dir / "changesets" / f"{PENDING_ID}.yaml").unlink()
        self.setup("schemaflow heads", "schemaflow", self.cmd("schemaflow", "heads"), sf_dir)

    def _restamp(self, row: Row, sf_dir: Path, al_dir: Path | None) -> None:
        """stamp heads from an empty version table (the untimed `stamp base` empties it)."""
        for tool, folder, clear, stamp in (
                ("schemaflow", sf_dir, ["stamp", "base"], ["stamp", "heads"]),
                ("alembic", al_dir, ["stamp", "base"], ["stamp", "head"])):
            if folder is None or tool in row.failed or tool in row.timeout:
                continue
            if self.setup(f"{tool} stamp base", tool, self.cmd(tool, *clear), folder).ok:
                self.measure(row, tool, self.cmd(tool, *stamp), folder)

    # --- autogenerate and check --------------------------------------------------------

    def autogenerate(self, t: int) -> None:
        log(f"autogenerate / check, PostgreSQL, {t} tables")
        tables = autogen.make(t)
        root = self.work / f"autogen-{t}"
        sf_dir, al_dir = root / "schemaflow", root / "alembic"
        sync_url, drift_url = self.dbs.new("postgresql"), self.dbs.new("postgresql")
        last_create, _ = autogen.write_schemaflow(tables, sf_dir, sync_url)
        ok = self.setup("schemaflow apply (the database in sync with the models)",
                        "schemaflow", self.cmd("schemaflow", "apply"), sf_dir).ok
        autogen.set_url(sf_dir, drift_url)
        ok = ok and self.setup(f"schemaflow apply {last_create} (the drifted database: "
                               f"{autogen.DRIFT} columns missing)", "schemaflow",
                               self.cmd("schemaflow", "apply", last_create), sf_dir).ok
        have_alembic = self.tools.alembic is not None
        if have_alembic:
            autogen.write_alembic(al_dir, drift_url)
        ag = ["new", "-m", "drift", "--autogenerate", "--against-db"]
        al_ag = ["revision", "--autogenerate", "-m", "drift"]
        ag_row = self.add_row(Row(
            "autogenerate", "autogenerate vs database (PostgreSQL)", t,
            {"schemaflow": "schemaflow " + " ".join(ag),
             **({"alembic": "alembic " + " ".join(al_ag)} if have_alembic else {})},
            AUTOGEN_BUDGET.get(t)))
        ck_row = self.add_row(Row(
            "autogenerate", "check vs database (PostgreSQL)", t,
            {"schemaflow": "schemaflow check --against-db",
             **({"alembic": "alembic check"} if have_alembic else {})},
            AUTOGEN_BUDGET.get(t)))
        cc_row = self.add_row(Row("autogenerate", "check vs changesets", t,
                                  {"schemaflow": "schemaflow check"}))
        if not ok:
            for r in (ag_row, ck_row, cc_row):
                r.failed["schemaflow"] = r.failed["alembic"] = "setup failed"
        for _ in self.repetitions(f"autogenerate {t} tables", ("autogenerate", t)):
            # autogenerate on the drifted database: exactly DRIFT add_column each
            for tool, folder, argv in (("schemaflow", sf_dir / "changesets", ag),
                                       ("alembic", al_dir / "versions", al_ag)):
                if tool not in ag_row.commands or tool in ag_row.failed:
                    continue
                if tool == "schemaflow":
                    autogen.set_url(sf_dir, drift_url)
                else:
                    autogen.set_alembic_url(al_dir, drift_url)
                before = set(folder.iterdir())
                out = self.measure(ag_row, tool, self.cmd(tool, *argv), folder.parent)
                made = sorted(p for p in set(folder.iterdir()) - before if p.is_file())
                adds, total = 0, 0
                for p in made:
                    a, t_ = autogen.count_operations(tool, p.read_text(encoding="utf-8"))
                    adds, total = adds + a, total + t_
                    p.unlink()
                for p in set(folder.iterdir()) - before:   # __pycache__ and the like
                    shutil.rmtree(p, ignore_errors=True)
                if out.ok and (adds, total) != (autogen.DRIFT, autogen.DRIFT):
                    _void(ag_row, tool, f"autogenerate wrote {total} operations "
                                        f"({adds} add_column) in {len(made)} file(s) instead "
                                        f"of {autogen.DRIFT} add_column")
            # check on the database in sync: must pass
            for tool, argv, cwd in (("schemaflow", ["check", "--against-db"], sf_dir),
                                    ("alembic", ["check"], al_dir)):
                if tool not in ck_row.commands or tool in ck_row.failed:
                    continue
                if tool == "schemaflow":
                    autogen.set_url(sf_dir, sync_url)
                else:
                    autogen.set_alembic_url(al_dir, sync_url)
                self.measure(ck_row, tool, self.cmd(tool, *argv), cwd)
            if "schemaflow" not in cc_row.failed:
                self.measure(cc_row, "schemaflow", self.cmd("schemaflow", "check"), sf_dir)
        self.dbs.drop(sync_url)
        self.dbs.drop(drift_url)


def write_pending(sf_dir: Path, head: str) -> None:
    """The one pending changeset of the deploy rows: a new table on the last head."""
    (sf_dir / "changesets" / f"{PENDING_ID}.yaml").write_text(
        f"schemaflow: 1\nid: {PENDING_ID}\nparents: [{head}]\nmessage: one pending\n"
        "operations:\n  - create_table:\n      name: bench_pending\n      columns:\n"
        "        - {name: id, type: integer, primary_key: true}\n"
        "        - {name: note, type: string(50)}\n", encoding="utf-8")


# --- selection, metadata, main -------------------------------------------------------------------


def _void(row: Row, tool: str, why: str) -> None:
    """A measured run that did not do its job: its time does not count."""
    row.failed[tool] = why
    if row.times.get(tool):
        row.times[tool].pop()
    row.notes.append(f"{tool}: {why}")
    log(f"  {tool}: {why}")


def selection(args: argparse.Namespace) -> dict[str, list[int]]:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if not args.only:
        groups = GROUPS if args.autogenerate else DEFAULT_GROUPS
        return {g: list(sizes[g]) for g in groups}
    chosen: dict[str, list[int]] = {}
    for item in ",".join(args.only).split(","):
        item = item.strip()
        if not item:
            continue
        name, _, n = item.partition(":")
        if name not in GROUPS:
            raise SystemExit(f"run.py: unknown benchmark '{name}' (choose from: "
                             f"{', '.join(GROUPS)})")
        wanted = [int(n.replace("_", "").replace(",", ""))] if n else sizes[name]
        chosen.setdefault(name, [])
        chosen[name] += [x for x in wanted if x not in chosen[name]]
    return {g: chosen[g] for g in GROUPS if g in chosen}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark schemaflow against Alembic and a raw-SQL floor.")
    p.add_argument("--quick", action="store_true",
                   help="1 repetition, applies of N=100, listings/validate on 1,000 changesets")
    p.add_argument("--only", action="append", metavar="NAME[:N]",
                   help=f"run only these ({', '.join(GROUPS)}), optionally at size N; "
                        "comma-separated or repeated")
    p.add_argument("--repeat", type=int, metavar="K",
                   help="repetitions per measurement (default 3, 1 with --quick)")
    p.add_argument("--autogenerate", action="store_true",
                   help="also run the autogenerate/check rows (PostgreSQL, 300 and 1,000 "
                        "tables; 300 with --quick)")
    p.add_argument("--require-postgres", action="store_true",
                   help="fail (exit 2) instead of skipping when PostgreSQL is unreachable")
    p.add_argument("--sqlite-dir", type=Path,
                   help="folder for the SQLite files (default: /dev/shm, a tmpfs)")
    p.add_argument("--max-minutes", type=float, default=13.5, metavar="M",
                   help="fewer repetitions (never less than one) where the run would "
                        "otherwise end after M minutes (default 13.5)")
    p.add_argument("--tools", default=",".join(TOOLS), metavar="LIST",
                   help="the tools to run, comma-separated (schemaflow always runs: it is "
                        "the measured tool and the floor of several rows); e.g. "
                        "--tools schemaflow,raw leaves Alembic out (default: all of "
                        f"{','.join(TOOLS)})")
    p.add_argument("--keep", action="store_true",
                   help="keep the generated projects in bench/.work/run-<pid>/")
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    chosen = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TOOLS]
    if unknown:
        p.error(f"--tools: unknown tool {', '.join(unknown)} (choose from {', '.join(TOOLS)})")
    args.tools = {"schemaflow", *chosen}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = selection(args)
    wants_pg = "apply-postgresql" in chosen or "autogenerate" in chosen
    started_at = dt.datetime.now(dt.UTC)
    load_start = load_average()

    try:
        tools = environment.prepare(need_alembic="alembic" in args.tools)
    except environment.EnvironmentProblem as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    notes: list[str] = []
    if "alembic" not in args.tools:
        tools.alembic = None
        notes.append("Alembic left out (--tools): its column is empty")
    elif tools.alembic is None:
        notes.append(f"Alembic is unavailable, its column is empty: {tools.alembic_problem}")

    sqlite_dir = args.sqlite_dir or dbs.default_sqlite_dir() or environment.WORK
    sqlite_dir = Path(sqlite_dir).resolve()
    sqlite_dir.mkdir(parents=True, exist_ok=True)
    pg_url = os.environ.get("SCHEMAFLOW_BENCH_POSTGRES_URL", dbs.DEFAULT_POSTGRES_URL)
    databases = dbs.Databases(sqlite_dir, pg_url)
    pg_status = "not used"
    if wants_pg:
        try:
            version = databases.check_postgres()
            pg_status = f"{version} at {dbs.hide_password(pg_url)}"
            tools.versions["postgresql"] = version
        except dbs.PostgresUnavailable as exc:
            if args.require_postgres:
                print(f"run.py: PostgreSQL is required but unreachable: {exc}", file=sys.stderr)
                return 2
            pg_status = f"unreachable ({exc}); its rows were skipped"
            notes.append(f"PostgreSQL rows skipped: {exc} (set SCHEMAFLOW_BENCH_POSTGRES_URL, "
                         "or pass --require-postgres to make this an error)")
            log(f"PostgreSQL unreachable, skipping its rows: {exc}")
            chosen.pop("apply-postgresql", None)
            chosen.pop("autogenerate", None)

    work = environment.WORK / f"run-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # schemaflow's parse cache: the benchmark's own (warmed by the untimed setup steps),
    # never the user's
    tools.schemaflow_env["SCHEMAFLOW_CACHE_DIR"] = str(work / "sf-cache")
    # and the key its kept plans are signed with (plancache), not the user's either
    tools.schemaflow_env["SCHEMAFLOW_STATE_DIR"] = str(work / "sf-state")
    bench = Bench(args, tools, databases, work)
    log(f"schemaflow {tools.versions.get('schemaflow')}, alembic "
        f"{tools.versions.get('alembic', '-')}, SQLAlchemy {tools.versions.get('sqlalchemy')}; "
        f"{args.repeat} repetition(s); SQLite files in {sqlite_dir}")
    interrupted = False
    bench.pending = [(g, n) for g, sizes in chosen.items() for n in sizes
                     if not (g == "validate" and n in chosen.get("listings", []))]
    bench.started = time.perf_counter()
    try:
        for group, sizes in chosen.items():
            for n in sizes:
                if (group, n) in bench.pending:
                    bench.pending.remove((group, n))
                if group == "startup":
                    bench.startup(n)
                elif group.startswith("apply-"):
                    bench.apply(group.removeprefix("apply-"), n)
                elif group == "listings":
                    names = ["current", "heads", "status", "history"]
                    if n in chosen.get("validate", []):
                        names.append("validate")
                    bench.listings(n, names)
                elif group == "validate" and n not in chosen.get("listings", []):
                    bench.listings(n, ["validate"])
                elif group == "autogenerate":
                    bench.autogenerate(n)
    except KeyboardInterrupt:
        interrupted = True
        notes.append("interrupted: the table is incomplete")
        log("interrupted; cleaning up")
    finally:
        databases.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    notes += bench.notes
    for row in bench.rows:
        notes += [f"{row.benchmark} N={row.n}: {note[:400]}" for note in row.notes]
    notes += [
        "Each time is one fresh process, from start to exit; median of the repetitions. "
        "Every tool's database is read back after apply and after rollback and must hold "
        "exactly the workload's tables, columns, indexes and rows, else the time is void.",
        "raw SQL = schemaflow's own `apply --sql` / `rollback base --sql` statements run by "
        "bench/raw.py (plain sqlite3/psycopg, one transaction and one version row per "
        "changeset); for start-up rows it is `python -c pass` and a script reading the "
        "version table.",
        "Alembic: hand-written-style revisions, batch_alter_table for type/nullability "
        "changes, env.py with transaction_per_migration=True.",
        f"SQLite files live in {sqlite_dir}" + (" (tmpfs: no disk flushes are timed)"
                                                if str(sqlite_dir).startswith("/dev/shm")
                                                else "") + ".",
    ]
    if "autogenerate" not in chosen:
        notes.append("autogenerate/check (PostgreSQL, 300 and 1,000 tables) not run: add "
                     "--autogenerate.")
    elapsed = time.perf_counter() - T0
    meta: dict[str, Any] = {
        "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py " + " ".join(shlex.quote(a) for a in (
            argv if argv is not None else sys.argv[1:])),
        "repetitions": args.repeat,
        "quick": args.quick,
        "elapsed_s": elapsed,
        "sqlite_dir": str(sqlite_dir),
        "postgresql": pg_status,
        "versions": tools.versions,
        "environment": {"cpu": cpu_model(), "cores": os.cpu_count(),
                        "load_start": load_start, "load_end": load_average(),
                        "platform": platform.platform()},
    }
    table = text_table(bench.rows)
    print()
    print(table)
    print()
    for note in notes:
        print(f"* {note}")
    environment.WORK.mkdir(parents=True, exist_ok=True)
    (environment.WORK / "results.json").write_text(json.dumps(
        {"meta": meta, "rows": [r.as_dict() for r in bench.rows], "notes": notes}, indent=2),
        encoding="utf-8")
    (environment.WORK / "results.md").write_text(markdown(bench.rows, meta, notes),
                                                 encoding="utf-8")
    print(f"\nwrote {environment.WORK / 'results.json'} and {environment.WORK / 'results.md'}"
          f" ({elapsed:.0f} s)")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())

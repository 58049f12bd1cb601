"""Rows of results, and printing them: a plain-text table, JSON, and a Markdown table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

TOOLS = ("schemaflow", "alembic", "raw")


@dataclass
class Budget:
    """What the issue asks of a row: an absolute limit and/or ratios."""

    max_seconds: float | None = None
    max_vs_raw: float | None = None      # "raw" is the row's floor (raw SQL, or as noted)
    max_vs_alembic: float | None = None
    # peak memory limit in MB, computed in the run (2x the raw script's own memory plus the
    # interpreter with SQLAlchemy imported)
    max_peak_mb: float | None = None

    def text(self) -> str:
        parts = []
        if self.max_seconds is not None:
            parts.append(f"<= {self.max_seconds:g} s")
        if self.max_vs_raw is not None:
            parts.append(f"sf/floor <= {self.max_vs_raw:g}")
        if self.max_vs_alembic is not None:
            parts.append(f"sf/alembic <= {self.max_vs_alembic:g}")
        if self.max_peak_mb is not None:
            parts.append(f"peak <= {self.max_peak_mb:.0f} MB")
        return ", ".join(parts)


@dataclass
class Row:
    """One benchmark at one size: every repetition's seconds per tool."""

    key: str                      # e.g. "apply-sqlite"
    benchmark: str                # shown name
    n: int | None
    commands: dict[str, str]      # tool -> the command line (tools not compared are absent)
    budget: Budget | None = None
    times: dict[str, list[float]] = field(default_factory=dict)
    timeout: dict[str, float] = field(default_factory=dict)   # tool -> limit it exceeded
    failed: dict[str, str] = field(default_factory=dict)      # tool -> why
    notes: list[str] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)    # user + system seconds
    peak: dict[str, list[float]] = field(default_factory=dict)   # peak memory, MB

    def add(self, tool: str, seconds: float, cpu: float | None = None,
            peak_mb: float | None = None) -> None:
        self.times.setdefault(tool, []).append(seconds)
        if cpu is not None:
            self.cpu.setdefault(tool, []).append(cpu)
        if peak_mb:
            self.peak.setdefault(tool, []).append(peak_mb)

    def peak_mb(self, tool: str) -> float | None:
        values = self.peak.get(tool)
        return max(values) if values and tool not in self.failed else None

    def peak_cell(self) -> str:
        cells = [f"{p:.0f}" if (p := self.peak_mb(t)) is not None else "-" for t in TOOLS]
        return "/".join(cells) if any(c != "-" for c in cells) else ""

    def cpu_ratio(self, other: str) -> float | None:
        sf, o = self.cpu.get("schemaflow"), self.cpu.get(other)
        if not sf or not o or "schemaflow" in self.failed or other in self.failed:
            return None
        low = statistics.median(o)
        return statistics.median(sf) / low if low > 0 else None

    def median(self, tool: str) -> float | None:
        values = self.times.get(tool)
        if tool in self.failed or tool in self.timeout or not values:
            return None
        return statistics.median(values)

    def cell(self, tool: str) -> str:
        if tool not in self.commands:
            return "-"
        if tool in self.failed:
            return "failed"
        if tool in self.timeout:
            return f"> {self.timeout[tool]:g} s"
        m = self.median(tool)
        return "?" if m is None else fmt_seconds(m)

    def ratio(self, other: str) -> float | None:
        sf, o = self.median("schemaflow"), self.median(other)
        if sf is None or o is None or o <= 0:
            return None
        return sf / o

    def ratio_cell(self, other: str) -> str:
        r = self.ratio(other)
        if r is not None:
            return f"{r:.2f}x"
        sf = self.median("schemaflow")
        if sf is not None and other in self.timeout:
            return f"< {sf / self.timeout[other]:.2f}x"
        return "-"

    def met(self) -> bool | None:
        """Whether the budget is met; None when there is no budget or not enough data."""
        b = self.budget
        if b is None:
            return None
        sf = self.median("schemaflow")
        if sf is None:
            return None
        checks: list[bool] = []
        if b.max_seconds is not None:
            checks.append(sf <= b.max_seconds)
        if b.max_peak_mb is not None:
            peak = self.peak_mb("schemaflow")
            if peak is None:
                return None
            checks.append(peak <= b.max_peak_mb)
        for other, limit in (("raw", b.max_vs_raw), ("alembic", b.max_vs_alembic)):
            if limit is None:
                continue
            r = self.ratio(other)
            if r is None:
                if other in self.timeout:   # the other tool took longer than its limit
                    checks.append(sf / self.timeout[other] <= limit)
                    continue
                return None
            checks.append(r <= limit)
        return all(checks)

    def met_cell(self) -> str:
        m = self.met()
        if self.budget is None:
            return ""
        return "n/a" if m is None else ("yes" if m else "NO")

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "benchmark": self.benchmark, "n": self.n,
            "commands": self.commands, "times": self.times,
            "median": {t: self.median(t) for t in TOOLS if t in self.commands},
            "timeout": self.timeout, "failed": self.failed,
            "sf_over_alembic": self.ratio("alembic"), "sf_over_raw": self.ratio("raw"),
            "cpu": self.cpu, "cpu_sf_over_raw": self.cpu_ratio("raw"),
            "peak_mb": {t: self.peak_mb(t) for t in TOOLS if t in self.commands},
            "budget": self.budget.text() if self.budget else None,
            "met": self.met(), "notes": self.notes,
        }


HEADER = ("benchmark", "N", "schemaflow (s)", "alembic (s)", "raw / floor (s)", "sf/alembic",
          "sf/floor", "peak MB sf/al/raw", "budget", "met?")


def fmt_seconds(s: float) -> str:
    return f"{s:.3f}" if s < 10 else f"{s:.2f}"


def _cells(row: Row) -> list[str]:
    return [row.benchmark, "" if row.n is None else f"{row.n:,}", row.cell("schemaflow"),
            row.cell("alembic"), row.cell("raw"), row.ratio_cell("alembic"),
            row.ratio_cell("raw"), row.peak_cell(), row.budget.text() if row.budget else "",
            row.met_cell()]


def text_table(rows: list[Row]) -> str:
    body = [list(HEADER)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    right = {1, 2, 3, 4, 5, 6, 7}

    def fmt(line: list[str]) -> str:
        return " | ".join(c.rjust(w) if i in right else c.ljust(w)
                          for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt(body[0]), sep, *(fmt(line) for line in body[1:])])


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i in (1, 2, 3, 4, 5, 6, 7) else "---"
                            for i in range(len(HEADER))) + "|"]
    for r in rows:
        cells = [c.replace("|", "\\|") for c in _cells(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[Row], meta: dict[str, Any], notes: list[str]) -> str:
    env = meta["environment"]
    out = [
        f"### schemaflow benchmark — {meta['date']}",
        "",
        f"- machine: {env['cpu']}, {env['cores']} cores; load average at start "
        f"{env['load_start']}, at end {env['load_end']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- command: `{meta['command']}` — {meta['repetitions']} repetition(s), median "
        f"shown; total {meta['elapsed_s']:.0f} s",
        f"- SQLite files in `{meta['sqlite_dir']}`; PostgreSQL: {meta['postgresql']}",
        "",
        markdown_table(rows),
        "",
    ]
    out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"

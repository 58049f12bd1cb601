"""What a run keeps in memory: apply and rollback load nothing they do not use (rich's table
of emoji codes, ~1 MB resident, only for a text that holds an emoji code), and print what
they printed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import Project

# `schemaflow ARGS` in one process, then its output and whether the modules named in
# $WATCH were imported.
_IN_PROCESS = """
import os, sys
sys.argv = ["schemaflow", *sys.argv[1:]]
from schemaflow.cli import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
watched = [m for m in os.environ["WATCH"].split(",") if m in sys.modules]
print(f"\\nIMPORTED={','.join(watched)}")
"""


def run_watching(p: Project, *args: str, watch: tuple[str, ...],
                 env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """(stdout and stderr, the modules of `watch` imported) of `schemaflow ARGS` in `p`."""
    full = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    full.update({"COLUMNS": "200", "WATCH": ",".join(watch), **(env or {})})
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, *args], cwd=p.root, env=full,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out, _, tail = done.stdout.rpartition("\nIMPORTED=")
    return out + done.stderr, [m for m in tail.strip().split(",") if m]


EMOJI = ("rich._emoji_codes",)
TERMINALS: list[dict[str, str]] = [{"NO_COLOR": "1"}, {"FORCE_COLOR": "1", "TERM": "xterm"}]


@pytest.mark.parametrize("env", TERMINALS, ids=["pipe", "terminal"])
def test_a_run_without_emoji_codes_loads_no_emoji_table(project: Project,
                                                        env: dict[str, str]) -> None:
    project.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"add_column": {"table": "t", "column": {"name": "c", "type": "string(10)"}}}])
    for args in (("apply",), ("rollback", "base")):
        out, imported = run_watching(project, *args, watch=EMOJI, env=env)
        assert "c002" in out and "database: sqlite:///" in out, out
        assert imported == [], (args, out)


@pytest.mark.parametrize("text", [
    "database: sqlite:////tmp/a.db (from schemaflow.toml)", "ship it :rocket: at 10:30",
    "[bold]done[/bold] :thumbs_up:", ":smile-text: and :smile-emoji:", "a:b c:d 10:30:45",
    ":not_an_emoji:", "::", "[dim]postgresql://u:***@h:5432/db[/dim]"])
@pytest.mark.parametrize("color", [None, "truecolor"])
def test_the_console_renders_as_rich_does_emoji_codes_included(text: str,
                                                                color: str | None) -> None:
    from rich.console import Console
    from rich.text import Text

    from schemaflow.cli.output.terminal import SafeConsole, markup

    def shown(console_type: type[Console]) -> str:
        console = console_type(record=True, width=100, color_system=color,  # type: ignore[arg-type]
                               force_terminal=color is not None, highlight=False)
        with console.capture() as capture:
            console.print(text)
        return capture.get()

    assert shown(SafeConsole) == shown(Console)
    assert markup(text) == Text.from_markup(text)  # what a status line shows
    if ":rocket:" in text:
        assert "\U0001f680" in shown(SafeConsole)

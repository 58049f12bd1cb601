"""Control characters from changesets (an untrusted pull request) are shown, never sent: no
screen clearing, retitled terminal or faked annotation, whatever the command or format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Project

from schemaflow.cli.output import safe
from schemaflow.cli.output.diagnostics import _annotation
from schemaflow.errors import Diagnostic

# Clear screen, set the window title (OSC ... BEL), a C1 CSI, a right-to-left override.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eZ"
RAW = ("\x1b[2J", "\x1b]0;", "\x07", "\x9b", "\u202e")


def _write(project: Project, *, broken: bool) -> None:
    project.write("c001", [{"create_table": {"name": "t" + HOSTILE, "columns": [
        {"name": "id" + HOSTILE, "type": "integer", "primary_key": True}]}}],
        message="hello " + HOSTILE + " [red]markup[/red] [/]", author="me" + HOSTILE)
    if broken:
        project.write("c002", [{"drop_table": {"name": "nope" + HOSTILE}}], parents=["c001"],
                      message="bye\r" + HOSTILE)


def _assert_shown_not_sent(args: tuple[str, ...], out: str) -> None:
    assert "Traceback" not in out, (args, out)
    for raw in RAW:
        assert raw not in out, (args, raw, out)
    assert "\\x1b[2J" in out, (args, out)


TERMINALS: list[dict[str, str]] = [{}, {"FORCE_COLOR": "1", "TERM": "xterm"}]


@pytest.mark.parametrize("env", TERMINALS, ids=["pipe", "terminal"])
def test_listings_and_runs_escape_control_characters(project: Project,
                                                     env: dict[str, str]) -> None:
    _write(project, broken=False)
    for args in [("history",), ("history", "-v"), ("history", "--graph"), ("status",),
                 ("show", "c001"), ("apply",), ("current",), ("current", "-v"), ("heads",),
                 ("rollback", "base")]:
        done = project.cli(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        _assert_shown_not_sent(args, done.stdout + done.stderr)


@pytest.mark.parametrize("env", TERMINALS, ids=["pipe", "terminal"])
def test_diagnostics_escape_control_characters(project: Project, env: dict[str, str]) -> None:
    _write(project, broken=True)
    for args in [("validate",), ("validate", "--format", "github"), ("apply",)]:
        done = project.cli(*args, env=env)
        assert done.returncode == 1, (args, done.stderr)
        _assert_shown_not_sent(args, done.stdout + done.stderr)
    github = project.cli("validate", "--format", "github").stdout
    assert github and all(line.startswith("::error ") for line in github.splitlines())


def test_json_stays_valid_json_with_the_text_intact(project: Project) -> None:
    _write(project, broken=True)
    done = project.cli("validate", "--format", "json")
    doc: dict[str, Any] = json.loads(done.stdout)
    assert HOSTILE in doc["diagnostics"][0]["message"]
    listed = json.loads(project.cli("history", "--format", "json").stdout)
    assert {c["message"] for c in listed["changesets"]} >= {"bye\r" + HOSTILE}


def test_safe_shows_controls_and_keeps_lines() -> None:
    assert safe("a\x1b[2Jb\tc\nd\x7f\x85") == "a\\x1b[2Jb\tc\nd\\x7f\\x85"
    assert safe("plain text: ünïcödé ✓") == "plain text: ünïcödé ✓"


def test_annotation_properties_and_message_cannot_break_out() -> None:
    d = Diagnostic(code="SF101", severity="error", message="x\n::error::forged\x1b[2J",
                   file="changesets/a,title=forged::b.yaml", line=3)
    line = _annotation(d)
    assert line.count("\n") == 1
    assert line.startswith("::error file=changesets/a%2Ctitle=forged%3A%3Ab.yaml,line=3,"
                           "title=SF101::x%0A::error::forged\\x1b[2J")

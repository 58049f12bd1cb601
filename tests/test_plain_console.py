"""Into a pipe, the consoles print markup without rich (`cli.output.plain`): the same text
rich prints there, to the byte, for what the commands print; and rich's `escape`."""

from __future__ import annotations

import io
import sys
from typing import TypedDict, Unpack

import pytest
from rich.markup import escape as rich_escape

from schemaflow.cli.output import safe
from schemaflow.cli.output.plain import PlainConsole, escape, strip_markup
from schemaflow.cli.output.terminal import SafeConsole

TEXTS = [
    "", "plain words", "[bold]id[/bold] applied", "[dim](head, pending)[/dim], seed",
    "[red]error:[/red] a [b]nested [i]tag[/i][/b] and [u]closed by [/]",
    "a list [1, 2] and x[0] stay",
    "[@click=go]meta[/]", "[#ff0000]colour[/#ff0000]", "\\[not a tag]", "\\\\[bold]b[/bold]",
    "\\\\\\[text]", "ends in a backslash \\", "trailing spaces   ", "wide 表 and é",
    "a line\nand another", "control \x1b[31m and \u202e reversed", "[a=b c]x[/a]",
    "x" * 300, "[bold]" + "y " * 100 + "[/bold]",
]
ESCAPED = ["[bold]", "\\[bold]", "a\\", "a\\\\", "[/]", "[x] [y]", "q[0]", "\\\\[red]",
           "[@x]", "[#1]", "path\\to\\", "no brackets at all", "[[", "]"]


@pytest.mark.parametrize("text", ESCAPED)
def test_escape_is_riches(text: str) -> None:
    from rich.text import Text

    assert escape(text) == rich_escape(text)
    assert strip_markup(escape(text)) == Text.from_markup(escape(text)).plain


class _PrintOptions(TypedDict, total=False):
    """What the tests pass to both consoles' `print`."""

    sep: str
    end: str
    markup: bool


def _rich(*objects: str, **kwargs: Unpack[_PrintOptions]) -> str:
    buf = io.StringIO()
    SafeConsole(file=buf, highlight=False, soft_wrap=True).print(*objects, **kwargs)
    return buf.getvalue()


def _plain(monkeypatch: pytest.MonkeyPatch, *objects: str,
           **kwargs: Unpack[_PrintOptions]) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    PlainConsole(safe, highlight=False, soft_wrap=True).print(*objects, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize("text", TEXTS + [f"x {escape(t)} y" for t in TEXTS + ESCAPED])
def test_a_markup_string_prints_as_rich_prints_it_into_a_pipe(
        monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    assert _plain(monkeypatch, text) == _rich(text)
    assert _plain(monkeypatch, text, markup=False) == _rich(text, markup=False)


def test_several_strings_and_line_ends_print_as_rich_prints_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[str, ...], _PrintOptions]] = [
        (("[b]a[/b]", "b"), {}), (("a", "b"), {"sep": ", ", "end": ""}),
        (("a\tb",), {}), (("an :x: emoji code",), {}), ((":smile:",), {})]
    for args, kwargs in calls:
        assert _plain(monkeypatch, *args, **kwargs) == _rich(*args, **kwargs), args


def test_what_it_cannot_print_itself_goes_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.table import Table

    table = Table("id")
    table.add_row("abc")
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    PlainConsole(safe, highlight=False, soft_wrap=True).print(table)
    assert "abc" in buf.getvalue() and "id" in buf.getvalue()


def test_quiet_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    PlainConsole(safe, stderr=True, quiet=True).print("[red]x[/red]")
    assert buf.getvalue() == ""

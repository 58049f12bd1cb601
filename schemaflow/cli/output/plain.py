"""Console markup without rich, for streams that are not terminals.

Into a pipe, a file or a CI log, rich prints a markup string as its text without the tags:
no colours, no wrapping (the consoles soft-wrap), nothing else. `PlainConsole` does that
itself, so that a command whose output is not a terminal (every deploy, CI job and script)
does not import rich (~35 ms, a tenth of a listing on a long history). What it does not
print the same way (anything but plain strings, a tab, an emoji code) it hands to the rich
console it stands for, made when first needed. `escape` is rich's, for the same reason.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# rich's markup: a tag is `[` then a letter, `#`, `/` or `@`, up to the next `]` with no
# `[` before it; an odd number of backslashes before it makes it text (rich.markup).
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
# What rich renders other than as written in a plain string: tabs (expanded by cell
# width) and emoji codes (`:name:`, replaced).
_RICH_ONLY = re.compile(r"\t|:\S*?:")


def escape(text: str) -> str:
    """`text` that markup shows as written (rich.markup.escape): each tag-like bracket
    escaped, its backslashes doubled; a trailing backslash doubled, so that it cannot
    escape a tag written after it."""
    text = _TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def strip_markup(text: str) -> str:
    """The text markup `text` shows: tags left out, escaped tags as written, each pair of
    backslashes before a tag one backslash (as rich renders it)."""
    if "[" not in text:
        return text
    out: list[str] = []
    position = 0
    for m in _TAG.finditer(text):
        out.append(text[position:m.start()])
        pairs, escaped = divmod(len(m.group(1)), 2)
        out.append("\\" * pairs)
        if escaped:
            out.append(m.group(2))
        position = m.end()
    out.append(text[position:])
    return "".join(out)


def is_terminal(stream: TextIO) -> bool | None:
    """Whether rich would take `stream` for a terminal: None where it would decide by more
    than the stream (the environment forces or rules out a terminal, IDLE)."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ or \
            getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return None
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # closed
        return False


class PlainConsole:
    """A console on a stream that is not a terminal: `print` of markup strings written as
    rich writes them there; anything else passed to the rich console (`rich()`)."""

    is_terminal = False
    color_system = None

    def __init__(self, safe: Any, stderr: bool = False, quiet: bool = False,
                 **rich_options: Any) -> None:
        self._safe = safe
        self.stderr = stderr
        self.quiet = quiet
        self._options = {"stderr": stderr, "quiet": quiet, **rich_options}
        self._rich: Console | None = None

    @property
    def file(self) -> TextIO:
        # (looked up when written to, as rich does: a test's captured stream)
        return sys.stderr if self.stderr else sys.stdout

    def rich(self) -> Console:
        """The rich console this one stands for."""
        if self._rich is None:
            from .terminal import SafeConsole

            self._rich = SafeConsole(**self._options)
        return self._rich

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", markup: bool | None = None,
              highlight: bool | None = None, **more: Any) -> None:
        """What `rich.console.Console.print` prints for these strings into a pipe."""
        if more or highlight or not all(type(o) is str for o in objects):
            self.rich().print(*objects, sep=sep, end=end, markup=markup, highlight=highlight,
                              **more)
            return
        text = sep.join(objects)
        if _RICH_ONLY.search(text):
            self.rich().print(text, end=end, markup=markup, highlight=highlight)
            return
        if self.quiet:
            return
        text = self._safe(text)  # (first, as the rich console does)
        file = self.file
        file.write((text if markup is False else strip_markup(text)) + end)
        file.flush()  # (as rich does: a line on stdout keeps its place among stderr's)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich(), name)

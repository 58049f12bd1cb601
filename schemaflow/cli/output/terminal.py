"""The console every command prints through: each string it renders passes `safe` first."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text

from . import safe

# What rich's emoji replacement looks for (`:name:`, `:name-emoji:`): a string without it
# renders alike with the replacement off, and rich's table of emoji codes (~1 MB resident)
# is then never loaded.
_EMOJI_CODE = re.compile(r":\S*?:")


def markup(text: str) -> Text:
    """`text` (console markup) as rich renders a string given to a status line or spinner,
    rich's emoji table loaded only when the text holds an emoji code."""
    return Text.from_markup(text, emoji=bool(_EMOJI_CODE.search(text)))


class SafeConsole(Console):
    """A rich console that escapes control characters in everything it renders: markup
    strings, table cells, status lines (rich turns every string into Text here)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        text = safe(text)
        if kwargs.get("emoji") is not False and not _EMOJI_CODE.search(text):
            kwargs["emoji"] = False
        return super().render_str(text, **kwargs)

"""The console every command prints through: each string it renders passes `safe` first."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from . import safe


class SafeConsole(Console):
    """A rich console that escapes control characters in everything it renders: markup
    strings, table cells, status lines (rich turns every string into Text here)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(safe(text), **kwargs)

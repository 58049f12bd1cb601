"""A document path (`operations.2.create_table.name`) back to the line and column of a file
(YAML through the loader's own positions; TOML, which keeps no positions, by reading its
text)."""

from __future__ import annotations

import re
from typing import Any

from .reading import DocPath, SourceFile
from .yamlfind import locate_loaded
from .yamlload import Pos, yaml_positions


def locate(src: SourceFile, path: DocPath) -> tuple[int | None, int | None]:
    """1-based (line, col) of the value (or, for a missing key, its parent) at `path`.

    The file is parsed once, on its first call (the result kept in `src.memo`): locating many
    findings in one file costs one parse, not one per finding. In a text known to load
    (`src.memo["loads"]`, set by whoever checked that it is the text that loaded), the first
    finding is located by reading only up to it (`locate_loaded`): most files with a finding
    have one."""
    if src.format == "yaml":
        if "yaml" not in src.memo:
            if src.memo.pop("loads", False):
                found = locate_loaded(src.text, path)
                if found is not None:
                    return found
            src.memo["yaml"] = yaml_positions(src.text)
        return _locate_yaml(src.memo["yaml"], path)
    if "toml" not in src.memo:
        src.memo["toml"] = _TomlIndex(src.text)
    index: _TomlIndex = src.memo["toml"]
    return index.locate(path)


def _locate_yaml(root: Pos | None, path: DocPath) -> tuple[int | None, int | None]:
    if root is None:
        return None, None
    line, col, _ = _walk(root, path)[0]
    return line, col


def _walk(root: Pos, path: DocPath) -> tuple[Pos, int]:
    """The deepest position along `path`, and how many of its steps were found."""
    here, found = root, 0
    for step in path:
        children = here[2]
        item: Pos | None = None
        if isinstance(children, dict):
            item = children.get(step)
        elif isinstance(children, list) and isinstance(step, int) and 0 <= step < len(children):
            item = children[step]
        if item is None:
            break
        here, found = item, found + 1
    return here, found


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_\-]+)\s*=')


def _toml_key_path(dotted: str) -> list[str]:
    return [p.strip().strip('"') for p in dotted.split(".")]


class _TomlIndex:
    """The table headers and keys of a TOML text, read once (tomllib keeps no positions).
    Table headers and top-level keys are followed exactly (counting [[arrays of tables]]);
    an inline value (arrays, inline tables) is read once, on its first lookup."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # The document path a header or key line stands for → (line index, col, is a key);
        # the first line wins.
        self.entries: dict[tuple[str | int, ...], tuple[int, int, bool]] = {}
        self.values: dict[int, Pos | None] = {}  # line index of a key → its inline value
        counters: dict[tuple[str | int, ...], int] = {}
        current: list[str | int] = []
        for i, line in enumerate(self.lines):
            if line.lstrip().startswith("#"):
                continue
            header = _TOML_HEADER.match(line)
            km = _TOML_KEY.match(line)
            if header and not km:
                resolved: list[str | int] = []
                keys = _toml_key_path(header.group(2))
                for depth, key in enumerate(keys):
                    resolved.append(key)
                    if header.group(1) == "[[" and depth == len(keys) - 1:
                        n = counters.get(tuple(resolved), -1) + 1
                        counters[tuple(resolved)] = n
                        resolved.append(n)
                    elif tuple(resolved) in counters:
                        resolved.append(counters[tuple(resolved)])
                current = resolved
                self.entries.setdefault(tuple(current), (i, len(line) - len(line.lstrip()) + 1,
                                                         False))
            elif km:
                full = (*current, km.group(1).strip('"'))
                self.entries.setdefault(full, (i, line.index(km.group(1)) + 1, True))

    def locate(self, path: DocPath) -> tuple[int, int]:
        target = list(path)
        found = [(entry, n) for n in range(1, len(target) + 1)
                 if (entry := self.entries.get(tuple(target[:n]))) is not None]
        found.sort(key=lambda e: e[0][0])  # in file order, as a reader meets them
        best: tuple[int, int, int] = (0, 1, 1)  # (matched length, line, col)
        for (i, col, is_key), n in found:
            if n > best[0]:
                best = (n, i + 1, col)
                if is_key and n < len(target):
                    inner = self._inline(i, target[n:])
                    if inner:
                        return inner
        return best[1], best[2]

    def _inline(self, i: int, rest: list[str | int]) -> tuple[int, int] | None:
        """Where `rest` leads inside the inline value of the key on line `i`."""
        if i not in self.values:
            km = _TOML_KEY.match(self.lines[i])
            self.values[i] = _InlineReader(self.lines, i, km.end() if km else 0).read()
        value = self.values[i]
        if value is None:
            return None
        (line, col, _), steps = _walk(value, rest)
        return (line, col) if steps else None


class _InlineReader:
    """Positions inside one inline TOML value (arrays, inline tables, and what they hold),
    read in one pass without recursion. Good enough for text tomllib accepted."""

    def __init__(self, lines: list[str], line: int, col: int) -> None:
        self.lines, self.j, self.c = lines, line, col

    def _char(self) -> str:
        """The next significant character (whitespace, line ends and comments skipped);
        "" at the end of the text."""
        while self.j < len(self.lines):
            text = self.lines[self.j]
            while self.c < len(text) and text[self.c] in " \t":
                self.c += 1
            if self.c < len(text) and text[self.c] != "#":
                return text[self.c]
            self.j, self.c = self.j + 1, 0
        return ""

    def _token(self) -> str:
        """Skip one string or bare word; return its text (quotes removed)."""
        text = self.lines[self.j]
        quote = text[self.c]
        if quote not in "\"'":
            start = self.c
            while self.c < len(text) and text[self.c] not in " \t,]}=#":
                self.c += 1
            return text[start:self.c]
        if text.startswith(quote * 3, self.c):  # a multi-line string
            self.c += 3
            while self.j < len(self.lines):
                end = self.lines[self.j].find(quote * 3, self.c)
                if end >= 0:
                    self.c = end + 3
                    while self.lines[self.j].startswith(quote, self.c):
                        self.c += 1
                    return ""
                self.j, self.c = self.j + 1, 0
            return ""
        start = self.c = self.c + 1
        while self.c < len(text) and text[self.c] != quote:
            self.c += 2 if quote == '"' and text[self.c] == "\\" else 1
        self.c += 1
        return text[start:self.c - 1]

    def read(self) -> Pos | None:
        # Each open container: its children, and (for a table) the key read last and where.
        stack: list[tuple[dict[Any, Pos] | list[Pos], list[Any]]] = []
        root: Pos | None = None
        while (ch := self._char()) != "":
            at = (self.j + 1, self.c + 1)
            top = stack[-1] if stack else None
            if ch in ",=":
                self.c += 1
                continue
            if ch in "]}":
                self.c += 1
                stack.pop()
                if not stack:
                    return root
                continue
            if isinstance(top, tuple) and isinstance(top[0], dict) and top[1][0] is None:
                top[1][0], top[1][1] = self._token(), at  # a key of an inline table
                continue
            children: dict[Any, Pos] | list[Pos] | None = None
            if ch in "[{":
                self.c += 1
                children = {} if ch == "{" else []
            else:
                self._token()
            if top is None:
                root = (at[0], at[1], children)
            elif isinstance(top[0], list):
                top[0].append((at[0], at[1], children))
            else:
                key_line, key_col = top[1][1]
                top[0][top[1][0]] = (key_line, key_col, children)
                top[1][0] = None
            if children is None:
                if top is None:
                    return root
            else:
                stack.append((children, [None, at]))
        return root

"""A document path (`operations.2.create_table.name`) back to the line and column of a file
(YAML through the composer's marks; TOML, which keeps no positions, by reading its text)."""

from __future__ import annotations

import re

import yaml

from .reading import DocPath, SourceFile, _Loader


def locate(src: SourceFile, path: DocPath) -> tuple[int | None, int | None]:
    """1-based (line, col) of the value (or, for a missing key, its parent) at `path`."""
    if src.format == "yaml":
        return _locate_yaml(src.text, path)
    return _locate_toml(src.text, path)


def _locate_yaml(text: str, path: DocPath) -> tuple[int | None, int | None]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None, None
    if node is None:
        return 1, 1
    mark = node.start_mark
    for step in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == step:
                    mark = key_node.start_mark
                    node = value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
            mark = node.start_mark
        else:
            break
    return mark.line + 1, mark.column + 1


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_\-]+)\s*=')


def _toml_key_path(dotted: str) -> list[str]:
    return [p.strip().strip('"') for p in dotted.split(".")]


def _locate_toml(text: str, path: DocPath) -> tuple[int | None, int | None]:
    # tomllib keeps no positions. Table headers and top-level keys are followed exactly
    # (counting [[arrays of tables]]); inside an inline value, the n-th occurrence of the
    # next key is taken, which is exact for how changesets are written.
    lines = text.splitlines()
    target = list(path)
    counters: dict[tuple[str | int, ...], int] = {}
    current: list[str | int] = []
    best: tuple[int, int, int] = (0, 1, 1)  # (matched length, line, col)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        header = _TOML_HEADER.match(line)
        if header and not _TOML_KEY.match(line):
            keys = _toml_key_path(header.group(2))
            resolved: list[str | int] = []
            for depth, key in enumerate(keys):
                resolved.append(key)
                if header.group(1) == "[[" and depth == len(keys) - 1:
                    n = counters.get(tuple(resolved), -1) + 1
                    counters[tuple(resolved)] = n
                    resolved.append(n)
                elif tuple(resolved) in counters:
                    resolved.append(counters[tuple(resolved)])
            current = resolved
            n = _common(current, target)
            if n == len(current) and n > best[0]:
                best = (n, i + 1, len(line) - len(line.lstrip()) + 1)
            continue
        km = _TOML_KEY.match(line)
        if not km:
            continue
        full = [*current, km.group(1).strip('"')]
        n = _common(full, target)
        if n == len(full) and n > best[0]:
            best = (n, i + 1, line.index(km.group(1)) + 1)
            if n < len(target):
                inner = _inline(lines, i, target[n:])
                if inner:
                    return inner
    return best[1], best[2]


def _common(a: list[str | int], b: list[str | int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


Char = tuple[int, int, str]


def _inline(lines: list[str], start: int, rest: list[str | int]) -> tuple[int, int] | None:
    """Position of `rest` inside the inline value whose key is on line `start`."""
    chars: list[Char] = []
    for j in range(start, len(lines)):
        line = lines[j]
        offset = line.index("=") + 1 if j == start else 0
        chars += [(j, c, line[c]) for c in range(offset, len(line))]
        chars.append((j, len(line), "\n"))
    pos: int | None = 0
    found: Char | None = None
    for step in rest:
        pos = _skip(chars, pos or 0)
        if pos >= len(chars):
            return None
        if isinstance(step, int):
            pos = _nth_member(chars, pos, "[", step, None) if chars[pos][2] == "[" else None
            if pos is None:
                return None
            found = chars[pos]
        else:
            pos = _nth_member(chars, pos, "{", 0, step) if chars[pos][2] == "{" else None
            if pos is None:
                return None
            found = chars[pos]
            while pos < len(chars) and chars[pos][2] != "=":
                pos += 1
            pos += 1
    return (found[0] + 1, found[1] + 1) if found else None


def _skip(chars: list[Char], pos: int) -> int:
    while pos < len(chars) and chars[pos][2] in " \t\n":
        pos += 1
    return pos


def _nth_member(chars: list[Char], pos: int, opener: str, n: int,
                key: str | None) -> int | None:
    """Start of the n-th element of an array (or of member `key` of an inline table)."""
    closer = "]" if opener == "[" else "}"
    depth, quote, index = 0, "", 0
    expect = False
    p = pos
    while p < len(chars):
        ch = chars[p][2]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            if expect and depth == 1:
                if _hit(chars, p, index, n, key):
                    return p
                expect = False
            quote = ch
        elif ch in "[{":
            if expect and depth == 1:
                if _hit(chars, p, index, n, key):
                    return p
                expect = False
            depth += 1
            if depth == 1 and ch == opener:
                expect = True
        elif ch in "]}":
            depth -= 1
            if depth == 0 and ch == closer:
                return None
        elif ch == "," and depth == 1:
            index += 1
            expect = True
        elif ch not in " \t\n" and expect and depth == 1:
            if _hit(chars, p, index, n, key):
                return p
            expect = False
        p += 1
    return None


def _hit(chars: list[Char], p: int, index: int, n: int, key: str | None) -> bool:
    if key is None:
        return index == n
    text = ""
    q = p
    while q < len(chars) and chars[q][2] not in "=\n":
        text += chars[q][2]
        q += 1
    return text.strip().strip("\"'") == key



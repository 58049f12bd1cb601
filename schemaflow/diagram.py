"""ER diagrams of a replayed schema: Mermaid `erDiagram` and Graphviz DOT."""

from __future__ import annotations

import html
import re

from .state import SchemaState, Table


def _ident(name: str) -> str:
    """A Mermaid entity or type token: letters, digits and underscores only."""
    token = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return token or "_"


def _type_token(t: Table, column: str) -> str:
    col = t.column(column)
    assert col is not None
    spec = col.type
    if spec.name in ("datetime", "time") and spec.kwarg("timezone") == "true":
        return f"{spec.name}_tz"
    if spec.name == "enum":
        return "enum"
    return _ident(str(spec))


def _keys(t: Table, column: str) -> list[str]:
    keys = []
    if t.primary_key and column in t.primary_key.columns:
        keys.append("PK")
    if any(column in f.columns for f in t.foreign_keys):
        keys.append("FK")
    if any(u.columns == (column,) for u in t.uniques):
        keys.append("UK")
    return keys


def _tables(state: SchemaState) -> list[Table]:
    return sorted(state.tables.values(), key=lambda t: (t.schema or "", t.name))


def mermaid(state: SchemaState) -> str:
    """The schema as a Mermaid erDiagram."""
    lines = ["erDiagram"]
    for t in _tables(state):
        lines.append(f"    {_ident(t.name)} {{")
        for c in t.columns:
            keys = _keys(t, c.name)
            note = "" if c.is_nullable else ' "not null"'
            lines.append(f"        {_type_token(t, c.name)} {_ident(c.name)}"
                         f"{' ' + ','.join(keys) if keys else ''}{note}")
        lines.append("    }")
    for t in _tables(state):
        for f in t.foreign_keys:
            optional = all(t.column(c) is not None and t.column(c).is_nullable  # type: ignore[union-attr]
                           for c in f.columns)
            left = "|o" if optional else "||"
            lines.append(f"    {_ident(f.references.table)} {left}--o{{ {_ident(t.name)} : "
                         f'"{f.name}"')
    return "\n".join(lines) + "\n"


def dot(state: SchemaState) -> str:
    """The schema as a Graphviz digraph with one HTML-table node per table."""
    lines = ["digraph schema {", "    rankdir=LR;",
             '    node [shape=plaintext, fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];']
    for t in _tables(state):
        rows = [f'<TR><TD BGCOLOR="lightgrey" COLSPAN="2"><B>{html.escape(t.name)}</B></TD></TR>']
        for c in t.columns:
            keys = " ".join(_keys(t, c.name))
            name = html.escape(c.name) + (f" <I>{keys}</I>" if keys else "")
            kind = html.escape(str(c.type)) + ("" if c.is_nullable else " NOT NULL")
            rows.append(f'<TR><TD ALIGN="LEFT" PORT="{_ident(c.name)}">{name}</TD>'
                        f'<TD ALIGN="LEFT">{kind}</TD></TR>')
        label = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">' + "".join(rows) + "</TABLE>"
        lines.append(f'    "{_dot_id(t.name)}" [label=<{label}>];')
    for t in _tables(state):
        for f in t.foreign_keys:
            lines.append(f'    "{_dot_id(t.name)}" -> "{_dot_id(f.references.table)}" '
                         f'[label="{_dot_id(f.name or "")}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def graph_lines(order: list[str],
                parents: dict[str, tuple[str, ...]]) -> list[tuple[str, str | None]]:
    """`git log --graph`-style rows, newest first: (lane drawing, changeset id or None)."""
    rows: list[tuple[str, str | None]] = []
    lanes: list[str] = []
    for cid in reversed(order):
        if cid not in lanes:
            lanes.append(cid)
        col = lanes.index(cid)
        rows.append((" ".join("*" if i == col else "|" for i in range(len(lanes))), cid))
        ps = list(parents[cid])
        if not ps:
            del lanes[col]
            continue
        first, extra = ps[0], ps[1:]
        if first in lanes and lanes.index(first) != col:
            # Another lane already waits for this parent: the two join in the leftmost.
            j = lanes.index(first)
            keep, drop = min(col, j), max(col, j)
            lanes[keep] = first
            del lanes[drop]
            rows.append((" ".join("|" for _ in range(drop)) + "/", None))
        else:
            lanes[col] = first
        for p in extra:
            if p not in lanes:
                lanes.append(p)
                rows.append((" ".join("|" for _ in lanes[:-1]) + "\\", None))
    return rows

"""Importing a Flyway folder: each versioned script `V<version>__<description>.sql` becomes a
changeset holding its statements as `sql`, in version order; an undo script `U<version>__...`
becomes that `sql`'s `down`. Repeatable scripts (`R__...`) and files Flyway would not run are
listed, not imported."""

from __future__ import annotations

import re
from pathlib import Path

from .. import ir
from . import Finding, Imported, ImportFailed, flyway_id

_NAME = re.compile(r"^(?P<kind>[VUR])(?P<version>[0-9][0-9._]*)?__(?P<desc>.+)\.sql$")
# One token of an SQL script: a quoted string or identifier, a dollar-quoted body, a
# comment, or a run of anything else.
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|(\$\w*\$)[\s\S]*?\1|--[^\n]*|/\*[\s\S]*?\*/
                        |;|[^'"$;/-]+|.""", re.X)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.split(r"[._]", version) if p)


def split_statements(script: str) -> tuple[str, ...]:
    """The statements of an SQL script, split at `;` outside strings, comments and
    dollar-quoted bodies; pieces that hold only comments are left out."""
    out: list[str] = []
    current: list[str] = []
    for m in _TOKEN.finditer(script):
        token = m.group(0)
        if token == ";":
            out.append("".join(current))
            current = []
        else:
            current.append(token)
    out.append("".join(current))
    code = [s.strip() for s in out]
    return tuple(s for s in code if _TOKEN_CODE.sub("", s).strip())


_TOKEN_CODE = re.compile(r"--[^\n]*|/\*[\s\S]*?\*/")


def import_flyway(folder: Path) -> Imported:
    """The changesets a Flyway folder becomes (nothing is written here)."""
    if not folder.is_dir():
        raise ImportFailed(f"{folder}: no such folder", hint="give Flyway's migrations folder")
    result = Imported()
    versions: dict[str, tuple[Path, str]] = {}
    undo: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.sql")):
        shown = str(path.relative_to(folder))
        m = _NAME.match(path.name)
        if m is None or (m["kind"] != "R" and not m["version"]):
            result.findings.append(Finding(path.stem, shown, "upgrade", "not a Flyway "
                                           "migration name (V<version>__<description>.sql): "
                                           "not imported"))
            continue
        if m["kind"] == "R":
            result.findings.append(Finding(path.stem, shown, "upgrade", "a repeatable "
                                           "migration: not imported; run it with a `sql` "
                                           "changeset of your own"))
            continue
        version = m["version"].strip("._")
        key = flyway_id(version)
        if m["kind"] == "U":
            undo[key] = path
            continue
        if key in versions:
            raise ImportFailed(f"{shown} and {versions[key][0].relative_to(folder)} both have "
                               f"the version {version}")
        versions[key] = (path, m["desc"].replace("_", " "))
    for key in sorted(set(undo) - set(versions)):
        result.findings.append(Finding(key, str(undo[key].relative_to(folder)), "downgrade",
                                       "an undo script without its versioned script: not "
                                       "imported"))
    order = sorted(versions, key=lambda k: _version_key(k[1:]))
    parent: tuple[str, ...] = ()
    for key in order:
        path, description = versions[key]
        up = split_statements(_read(path))
        down = split_statements(_read(undo[key])) if key in undo else None
        ops = (ir.Sql(up=up, down=down or None),) if up else ()
        ignore = ("SF201",) if up and not down else ()  # forward-only, as in Flyway
        cs = ir.Changeset(id=key, parents=parent, message=description, operations=ops,
                          lint_ignore=ignore + (() if up else ("SF014",)))
        undone = f" (undo: {undo[key].name})" if key in undo else ""
        result.changesets.append(
            (cs, f"# Imported from Flyway migration {path.relative_to(folder)}{undone}.\n"))
        parent = (key,)
    return result


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"{path}: cannot be read: {exc}") from None

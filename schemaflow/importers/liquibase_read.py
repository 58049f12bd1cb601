"""Reading a Liquibase changelog (XML, YAML, JSON, formatted SQL) and the changelogs it
includes into one list of changeSets in changelog order, each in the shape of Liquibase's
YAML format (`{"createTable": {"tableName": ..., "columns": [{"column": {...}}]}}`), whatever
format it was written in. XML is read with the standard library and refuses DTDs and
entities; YAML and JSON with the project's plain-data loader."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ImportFailed
from .flyway import split_statements

EXTENSIONS = (".xml", ".yaml", ".yml", ".json", ".sql")
# Attributes whose XML text content is the value (`<sql>...</sql>`, `<where>...</where>`).
_TEXT_CHANGES = {"sql": "sql", "createProcedure": "procedureText", "createView": "selectQuery"}


@dataclass
class ChangeSet:
    """One Liquibase changeSet: its identity (id, author, file as Liquibase records it), its
    attributes, its changes and its rollback (None when it has no rollback block)."""

    id: str
    author: str
    file: str
    attrs: dict[str, Any]
    changes: list[tuple[str, dict[str, Any]]]
    rollback: list[tuple[str, dict[str, Any]]] | None = None
    folder: Path = field(default_factory=Path)


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve().parent
        self.out: list[ChangeSet] = []
        self.notes: list[tuple[str, str]] = []  # changelog-level entries: (kind, file)
        self.stack: list[Path] = []
        self.names: dict[Path, str] = {}  # files outside the root's folder: their given path

    def shown(self, path: Path) -> str:
        """A changelog's file as the identity uses it: its path from the root changelog's
        folder or, outside that folder, the path the include gave (as Liquibase records)."""
        real = path.resolve()
        try:
            return real.relative_to(self.root).as_posix()
        except ValueError:
            return self.names.get(real, path.as_posix())

    def read(self, path: Path) -> None:
        real = path.resolve()
        if real in self.stack:
            chain = " -> ".join(self.shown(p) for p in [*self.stack, real])
            raise ImportFailed(f"{self.shown(path)}: the changelog includes itself ({chain})")
        if not path.is_file():
            raise ImportFailed(f"{path}: no such changelog file",
                               hint="give Liquibase's root changelog (XML, YAML, JSON or SQL)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFailed(f"{path}: cannot be read: {exc}") from None
        self.stack.append(real)
        suffix = path.suffix.lower()
        if suffix == ".sql":
            self._formatted_sql(path, text)
        elif suffix == ".xml":
            self._document(path, _xml(text, self.shown(path)))
        elif suffix in (".yaml", ".yml", ".json"):
            self._document(path, _yaml(text, self.shown(path)))
        else:
            raise ImportFailed(f"{self.shown(path)}: not a Liquibase changelog (expected "
                               ".xml, .yaml, .yml, .json or .sql)")
        self.stack.pop()

    def _document(self, path: Path, doc: Any) -> None:
        shown = self.shown(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("databaseChangeLog"), list):
            raise ImportFailed(f"{shown}: not a Liquibase changelog (no databaseChangeLog "
                               "list at the top)")
        logical: str | None = None
        for n, entry in enumerate(doc["databaseChangeLog"], 1):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ImportFailed(f"{shown}: entry {n} of databaseChangeLog is not one "
                                   "`kind: {...}` mapping")
            (kind, body), = entry.items()
            if not isinstance(body, dict):
                raise ImportFailed(f"{shown}: {kind} (entry {n}) is not a mapping")
            if kind == "logicalFilePath":  # the changelog's own attribute (as XML has it)
                logical = str(body.get("path", "")) or None
            elif kind == "changeSet":
                self._changeset(path, body, logical, n)
            elif kind == "include":
                self._include(path, body, n)
            elif kind == "includeAll":
                self._include_all(path, body, n)
            elif kind in ("property", "preConditions", "modifyChangeSets",
                          "removeChangeSetProperty"):
                self.notes.append((kind, shown))
            else:
                raise ImportFailed(f"{shown}: unknown databaseChangeLog entry {kind!r} "
                                   f"(entry {n})")

    def _changeset(self, path: Path, body: dict[str, Any], logical: str | None,
                   n: int) -> None:
        shown = self.shown(path)
        if "id" not in body or "author" not in body:
            raise ImportFailed(f"{shown}: changeSet (entry {n}) lacks its id or author")
        changes = [self._located(path, _one(c, shown, str(body["id"])))
                   for c in body.get("changes") or []]
        rollback = body.get("rollback")
        back: list[tuple[str, dict[str, Any]]] | None = None
        if rollback is not None:
            items = rollback if isinstance(rollback, list) else [rollback]
            back = [("sql", {"sql": r}) if isinstance(r, str) else
                    (self._located(path, _one(r, shown, str(body["id"])))
                     if len(r) == 1 or "changeSetId" not in r
                     else ("changeSetReference", r)) for r in items if r not in ("", None)]
        attrs = {k: v for k, v in body.items() if k not in ("id", "author", "changes",
                                                            "rollback")}
        file = str(body.get("logicalFilePath") or logical or shown)
        self.out.append(ChangeSet(str(body["id"]), str(body["author"]), file, attrs, changes,
                                  back, path.parent))

    def _located(self, path: Path, change: tuple[str, dict[str, Any]],
                 ) -> tuple[str, dict[str, Any]]:
        """An `sqlFile` or `loadData` change with its file resolved as an include's is (left
        as written when there is no such file: the translation reports it)."""
        kind, body = change
        key = {"sqlFile": "path", "loadData": "file"}.get(kind, "")
        if isinstance(body.get(key), str):
            name = body[key].removeprefix("classpath:")
            relative = str(body.get("relativeToChangelogFile", "")).lower() == "true"
            for base in ([path.parent] if relative else [self.root, path.parent]):
                if (base / name).is_file():
                    return kind, {**body, key: str(base / name)}
        return change

    def _target(self, path: Path, body: dict[str, Any], key: str, n: int) -> Path:
        name = body.get(key)
        if not isinstance(name, str) or not name:
            raise ImportFailed(f"{self.shown(path)}: include (entry {n}) has no {key}")
        name = name.removeprefix("classpath:")
        relative = str(body.get("relativeToChangelogFile", "")).lower() == "true"
        # Relative to the including file when asked; otherwise relative to the root
        # changelog's folder or a folder above it (Liquibase's search path), then to the
        # including file.
        bases = [path.parent] if relative else [self.root, *self.root.parents, path.parent]
        for base in bases:
            if (base / name).exists():
                given = posixpath.normpath(posixpath.join(
                    posixpath.dirname(self.shown(path)), name) if relative else name)
                self.names.setdefault((base / name).resolve(), given.lstrip("/"))
                return base / name
        raise ImportFailed(f"{self.shown(path)}: included {name} does not exist",
                           hint="Liquibase resolves it from the root changelog's folder, or "
                                "from the including file with relativeToChangelogFile")

    def _include(self, path: Path, body: dict[str, Any], n: int) -> None:
        self.read(self._target(path, body, "file", n))

    def _include_all(self, path: Path, body: dict[str, Any], n: int) -> None:
        folder = self._target(path, body, "path", n)
        if not folder.is_dir():
            raise ImportFailed(f"{self.shown(path)}: includeAll path {folder} is not a folder")
        for f in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
            if f.is_file() and f.suffix.lower() in EXTENSIONS:
                self.names.setdefault(f.resolve(), posixpath.join(
                    self.shown(folder), f.relative_to(folder).as_posix()))
                self.read(f)

    def _formatted_sql(self, path: Path, text: str) -> None:
        shown = self.shown(path)
        lines = text.splitlines()
        if not lines or not re.match(r"^\s*--\s*liquibase\s+formatted\s+sql", lines[0], re.I):
            raise ImportFailed(f"{shown}:1: not a formatted SQL changelog (the first line "
                               "must be `--liquibase formatted sql`)")
        current: dict[str, Any] | None = None
        pending: list[dict[str, Any]] = []
        for number, line in enumerate(lines[1:], 2):
            head = re.match(r"^\s*--\s*changeset\s+(\S+)(.*)$", line, re.I)
            if head:
                current = _sql_changeset(shown, number, head[1], head[2], path)
                pending.append(current)
                continue
            if current is None:
                continue
            extra = re.match(r"^\s*--\s*(rollback|comment|precondition[-\w]*|validCheckSum)"
                             r"\b:?\s?(.*)$", line, re.I)
            if extra:
                kind = extra[1].lower()
                if kind == "rollback":
                    current["rollback"].append(extra[2])
                elif kind == "comment":
                    current["attrs"]["comment"] = extra[2].strip()
                elif kind != "validchecksum":
                    current["attrs"].setdefault("preConditions", []).append(line.strip())
                continue
            current["body"].append(line)
        for cs in pending:
            self._finish_sql(cs)

    def _finish_sql(self, cs: dict[str, Any]) -> None:
        attrs = cs["attrs"]
        body = "\n".join(cs["body"])
        change = {"sql": body, "splitStatements": attrs.pop("splitStatements", "true"),
                  "endDelimiter": attrs.pop("endDelimiter", ";")}
        attrs.pop("stripComments", None)
        back = "\n".join(cs["rollback"]).strip()
        rollback = None
        if cs["rollback"]:
            rollback = ([("sql", {"sql": back})] if back and not re.fullmatch(
                r"(?is)\s*(not\s+required|empty)\s*;?", back) else [])
        self.out.append(ChangeSet(cs["id"], cs["author"], cs["file"], attrs,
                                  [("sql", change)] if body.strip() else [], rollback,
                                  cs["folder"]))


def _sql_changeset(shown: str, number: int, ident: str, rest: str,
                   path: Path) -> dict[str, Any]:
    author, sep, cs_id = ident.partition(":")
    if not sep or not author or not cs_id:
        raise ImportFailed(f"{shown}:{number}: `--changeset {ident}` is not "
                           "`--changeset author:id`")
    attrs: dict[str, Any] = {}
    for m in re.finditer(r"(\w+):(\"[^\"]*\"|\S+)", rest):
        attrs[m[1]] = m[2].strip('"')
    return {"id": cs_id, "author": author, "attrs": attrs, "body": [], "rollback": [],
            "file": str(attrs.pop("logicalFilePath", shown)), "folder": path.parent}


def _one(change: Any, shown: str, cs_id: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(change, dict) or len(change) != 1:
        raise ImportFailed(f"{shown}: changeSet {cs_id}: a change is not one `type: {{...}}` "
                           "mapping")
    (kind, body), = change.items()
    if isinstance(body, str) and kind == "sql":
        body = {"sql": body}
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ImportFailed(f"{shown}: changeSet {cs_id}: change {kind} is not a mapping")
    return str(kind), body


def read_changelog(path: Path) -> tuple[list[ChangeSet], list[tuple[str, str]]]:
    """Every changeSet of the changelog at `path` and those it includes, in order; and the
    changelog-level entries (properties, preconditions) as (kind, file)."""
    reader = _Reader(path)
    reader.read(path)
    return reader.out, reader.notes


def statements(text: str, change: dict[str, Any]) -> tuple[str, ...]:
    """The statements of a `sql` change's text, split as Liquibase splits them."""
    if str(change.get("splitStatements", "true")).lower() == "false":
        return (text.strip(),) if text.strip() else ()
    delimiter = str(change.get("endDelimiter") or ";")
    if delimiter in (";", "\\n;"):
        return split_statements(text)
    parts = re.split(re.escape(delimiter) if not delimiter.startswith("\\n")
                     else r"\n" + re.escape(delimiter[2:]), text)
    return tuple(p.strip() for p in parts if p.strip())


# -- XML ---------------------------------------------------------------------------------

def _xml(text: str, shown: str) -> Any:
    """An XML changelog as the YAML format's data; DTDs and entities are refused."""
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.I):
        raise ImportFailed(f"{shown}: the XML declares a DTD or entities, which the "
                           "importer does not read", hint="remove the <!DOCTYPE ...>")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ImportFailed(f"{shown}:{line}:{col + 1}: XML syntax error: "
                           f"{str(exc).split(':')[0]}") from None
    if _tag(root) != "databaseChangeLog":
        raise ImportFailed(f"{shown}: not a Liquibase changelog (the root element is "
                           f"<{_tag(root)}>, not <databaseChangeLog>)")
    entries: list[dict[str, Any]] = []
    if root.get("logicalFilePath"):
        entries.append({"logicalFilePath": {"path": root.get("logicalFilePath")}})
    for child in root:
        kind = _tag(child)
        if kind == "changeSet":
            entries.append({"changeSet": _changeset(child)})
        else:
            entries.append({kind: _element(child)})
    return {"databaseChangeLog": entries}


def _tag(e: ET.Element) -> str:
    return e.tag.rsplit("}", 1)[-1] if isinstance(e.tag, str) else str(e.tag)


def _changeset(e: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = dict(e.attrib)
    changes: list[dict[str, Any]] = []
    for child in e:
        kind = _tag(child)
        if kind == "rollback":
            items = [{_tag(c): _element(c)} for c in child]
            text = (child.text or "").strip()
            if child.get("changeSetId"):
                items.append({"changeSetReference": dict(child.attrib)})
            out["rollback"] = ([text] if text else []) + items
        elif kind in ("comment", "validCheckSum"):
            out[kind] = (child.text or "").strip()
        elif kind == "preConditions":
            out["preConditions"] = _element(child)
        elif isinstance(child.tag, str):
            changes.append({kind: _element(child)})
    out["changes"] = changes
    return out


def _element(e: ET.Element) -> dict[str, Any]:
    """One change element: attributes as keys, `<column>` children as `columns`, nested
    elements (`constraints`, `where`) as keys, and text as the change's text key."""
    out: dict[str, Any] = dict(e.attrib)
    kind = _tag(e)
    text = (e.text or "").strip()
    if text:
        out[_TEXT_CHANGES.get(kind, "value" if kind == "column" else "text")] = text
    for child in e:
        name = _tag(child)
        if not isinstance(child.tag, str):
            continue
        if name == "column":
            out.setdefault("columns", []).append({"column": _element(child)})
        elif name in ("where", "comment"):
            out[name] = (child.text or "").strip()
        elif name == "constraints":
            out["constraints"] = _element(child)
        else:
            out.setdefault("children", []).append({name: _element(child)})
    return out


def _yaml(text: str, shown: str) -> Any:
    from ..source.reading import SourceError, loads

    try:
        return loads(text, "yaml", shown)
    except SourceError as exc:
        d = exc.diagnostic
        where = f":{d.line}" if d.line else ""
        message = d.message.replace("YAML", "JSON") if shown.endswith(".json") else d.message
        raise ImportFailed(f"{shown}{where}: {message}") from None

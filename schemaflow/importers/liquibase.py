"""Importing a Liquibase changelog: one changeset per changeSet, in changelog order, each the
child of the one before. The changeset id is derived from Liquibase's identity of the
changeSet (id, author, file) by `liquibase_id`, so that `stamp --from-liquibase` finds each
row of DATABASECHANGELOG again. Changes are translated into operations; rollback blocks
are kept where they differ from the automatic inverse; what has no translation (and
contexts, labels, preconditions, runAlways, runOnChange) becomes a marked TODO note."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from .. import ir
from ..errors import StateError
from ..ir.parts import Dialect
from ..state import SchemaState, apply
from . import TODO_MARK, Finding, Imported, ImportFailed, explicit_rollback, note
from .liquibase_columns import Opaque
from .liquibase_ops import translate
from .liquibase_read import ChangeSet, read_changelog

_DIALECTS: tuple[Dialect, ...] = get_args(Dialect)
# changeSet attributes that change nothing schemaflow does.
_HARMLESS = {"comment", "created", "objectQuotingStrategy", "validCheckSum", "logicalFilePath",
             "runInTransaction", "onValidationFail", "dbms", "failOnError"}
_NEEDS_HAND = {"context": "runs only in context", "contextFilter": "runs only in context",
               "labels": "runs only with labels", "runAlways": "runs on every update",
               "runOnChange": "runs again when it changes", "preConditions": "has preconditions",
               "runOrder": "has runOrder", "ignore": "is ignored by Liquibase"}


def normal_file(file: str) -> str:
    """A changelog path as the identity uses it: `/` separators, no `classpath:` or leading
    `./` or `/`."""
    path = file.strip().removeprefix("classpath:").replace("\\", "/")
    while path.startswith(("./", "/")):
        path = path[1:] if path.startswith("/") else path[2:]
    return path


def liquibase_id(cs_id: str, author: str, file: str) -> str:
    """The changeset id of Liquibase changeSet (id, author, file): `lb_`, the id with every
    character outside [A-Za-z0-9_] made `_` (at most 40 of them), `_`, and the first 10 hex
    digits of SHA-1 of `file + "::" + id + "::" + author` (file as `normal_file` gives it)."""
    digest = hashlib.sha1(f"{normal_file(file)}::{cs_id}::{author}".encode()).hexdigest()
    return f"lb_{re.sub(r'[^A-Za-z0-9_]', '_', cs_id)[:40]}_{digest[:10]}"


def scope_of(dbms: str) -> tuple[Dialect, ...] | None:
    """The databases a Liquibase `dbms` list names among schemaflow's (None: all of them)."""
    names = [n.strip().lower() for n in dbms.split(",") if n.strip()]
    wanted = [n for n in names if not n.startswith("!")]
    base = set(_DIALECTS) if not wanted or "all" in wanted else set(wanted) & set(_DIALECTS)
    if "none" in wanted:
        base = set()
    base -= {n[1:] for n in names if n.startswith("!")}
    return None if base == set(_DIALECTS) else tuple(d for d in _DIALECTS if d in base)


class _ChangeSet:
    """Translating one changeSet."""

    def __init__(self, cs: ChangeSet, result: Imported) -> None:
        self.cs, self.result = cs, result
        self.name = f"{cs.id} by {cs.author}"

    def todo(self, what: str, direction: str = "") -> ir.Sql:
        self.result.findings.append(Finding(self.name, self.cs.file, direction, what))
        return note(f"{TODO_MARK}: Liquibase changeSet {self.cs.id} by "
                    f"{self.cs.author} ({self.cs.file}): {what}\nTranslate this by hand into "
                    "operations or SQL, then delete this note.")

    def ops(self, changes: list[tuple[str, dict[str, Any]]], direction: str,
            scope: tuple[Dialect, ...] | None) -> list[ir.Operation]:
        out: list[ir.Operation] = []
        for kind, change in changes:
            try:
                if kind == "changeSetReference":
                    raise Opaque(f"the rollback names changeSet {change.get('changeSetId')}")
                ops = translate(kind, change, self.cs.folder)
                own = scope_of(str(change["dbms"])) if change.get("dbms") else None
                both = own if scope is None else tuple(
                    d for d in scope if own is None or d in own)
                if both is not None:
                    ops = self.scoped(ops, kind, both)
            except Opaque as exc:
                ops = [self.todo(str(exc), direction)]
            out.extend(ops)
        return out

    def scoped(self, ops: list[ir.Operation], kind: str,
               scope: tuple[Dialect, ...]) -> list[ir.Operation]:
        if not scope:
            return [ir.Sql(up=(f"-- Liquibase runs this {kind} only on databases schemaflow "
                               "does not support: nothing to do",),
                           down=("-- nothing to undo",))]
        if all(isinstance(op, ir.Sql) for op in ops):
            return [replace(op, dialects=scope) for op in ops if isinstance(op, ir.Sql)]
        raise Opaque(f"{kind} runs only on {', '.join(scope)}: schemaflow scopes only `sql` "
                     "to databases; write it as SQL for each")

    def changeset(self, parent: tuple[str, ...], state: SchemaState,
                  ) -> tuple[ir.Changeset, SchemaState]:
        cs = self.cs
        attrs = cs.attrs
        scope = scope_of(str(attrs["dbms"])) if attrs.get("dbms") else None
        ops: list[ir.Operation] = []
        for key, what in _NEEDS_HAND.items():
            if attrs.get(key) not in (None, "", False, "false", []):
                ops.append(self.todo(f"the changeSet {what} ({key}: {attrs[key]}); schemaflow "
                                     "runs each changeset once, everywhere"))
        if str(attrs.get("failOnError", "true")).lower() == "false":
            ops.append(self.todo("failOnError false: schemaflow stops on any error"))
        for key in sorted(set(attrs) - _HARMLESS - set(_NEEDS_HAND)):
            ops.append(self.todo(f"changeSet attribute {key} has no translation"))
        if "${" in repr((cs.changes, cs.rollback)):
            ops.append(self.todo("it uses changelog properties (${...}), which the import "
                                 "does not substitute: the text is kept as written"))
        tag = next((str(c.get("tag")) for k, c in cs.changes if k == "tagDatabase"), None)
        changes = [(k, c) for k, c in cs.changes if k != "tagDatabase"]
        ops += self.ops(changes, "", scope)
        after = state
        for op in ops:
            try:
                after = apply(after, op)
            except StateError as exc:
                self.result.findings.append(Finding(
                    self.name, cs.file, "", f"{op.kind} does not fit the schema replayed so "
                    f"far: {exc.message}"))
        rollback: tuple[ir.Operation, ...] | None = None
        if cs.rollback is not None:
            down = self.ops(cs.rollback, "rollback", scope) or [
                ir.Sql(up=("-- nothing: the Liquibase rollback block is empty",))]
            rollback = explicit_rollback(ops, down, state, after)
        irreversible = rollback is None and any(isinstance(op, ir.Sql) and op.down is None
                                                for op in ops)
        cid = liquibase_id(cs.id, cs.author, cs.file)
        message = " ".join(str(attrs.get("comment") or "").split()) or (
            f"Liquibase changeSet {cs.id} by {cs.author}")
        transactional = (False if str(attrs.get("runInTransaction", "")).lower() == "false"
                         else None)
        return ir.Changeset(
            id=cid, parents=parent, message=message, operations=tuple(ops), author=cs.author,
            rollback=rollback, tag=tag, transactional=transactional,
            lint_ignore=(("SF201",) if irreversible else ()) + (() if ops else ("SF014",)),
        ), after


def import_liquibase(path: Path) -> Imported:
    """The changesets a Liquibase changelog becomes (nothing is written here)."""
    result = Imported()
    seen: dict[str, ChangeSet] = {}
    parent: tuple[str, ...] = ()
    state = SchemaState()
    changesets, notes = read_changelog(path)
    for cs in changesets:
        cid = liquibase_id(cs.id, cs.author, cs.file)
        if cid in seen:
            raise ImportFailed(f"{cs.file}: changeSet {cs.id} by {cs.author} appears twice "
                               f"(also in {seen[cid].file})")
        seen[cid] = cs
        changeset, state = _ChangeSet(cs, result).changeset(parent, state)
        result.changesets.append((changeset, f"# Imported from Liquibase changeSet id={cs.id} "
                                  f"author={cs.author} file={cs.file}\n"))
        parent = (cid,)
    for kind, file in notes:
        result.findings.append(Finding(kind, file, "", f"changelog-level {kind}: not "
                                       "imported; check it by hand"))
    if not result.changesets:
        raise ImportFailed(f"{path}: the changelog has no changeSets")
    return result

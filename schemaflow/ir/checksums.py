"""A changeset's checksum: a versioned hash of the dump of what it does to the database, and
the recorded checksums that still match it (default nullability written out or left out)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .changeset import Changeset
from .codec import dump

CHECKSUM_VERSION = "v1"


def checksum(cs: Changeset) -> str:
    """Versioned hash of what a changeset does to the database: its operations, rollback and
    transactional flag. Formatting, comments, the message and its place in the graph don't
    count (so squashing, or re-parenting in a merge, leaves applied checksums valid).
    Computed once per changeset: the parse cache keeps it with the changeset."""
    deferred = cs.deferred
    if deferred is not None:
        return deferred.checksum
    known: str | None = getattr(cs, "_checksum", None)
    if known is not None:
        return known
    value = _digest(_checksummed(cs))
    object.__setattr__(cs, "_checksum", value)  # a frozen dataclass's memo, as in __init__
    return value


def _checksummed(cs: Changeset) -> dict[str, Any]:
    doc = dump(cs)
    for key in ("id", "parents", "depends_on", "replaces", "message", "author", "tag",
                "branch_labels", "lint"):
        doc.pop(key, None)
    return doc


def _digest(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{CHECKSUM_VERSION}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def same_checksum(recorded: str, cs: Changeset) -> bool:
    """Whether `recorded` is the checksum of `cs`, or of `cs` written with its columns'
    default nullability (`nullable: true`, false on a primary key) all left out or all
    written out: saying the default is not an edit. The checksum itself is unchanged, so
    the rows of every version table keep matching."""
    if recorded == checksum(cs):
        return True
    doc = _checksummed(cs)
    return recorded in {_digest(_nullability(doc, explicit)) for explicit in (False, True)}


def _nullability(doc: dict[str, Any], explicit: bool) -> dict[str, Any]:
    """`doc` with every new column's default nullability written out, or left out."""
    def column(col: dict[str, Any]) -> dict[str, Any]:
        default = not col.get("primary_key", False)
        rest = {k: v for k, v in col.items() if k != "nullable"}
        if col.get("nullable", default) != default:
            return col
        return {**rest, "nullable": default} if explicit else rest

    def operation(op: dict[str, Any]) -> dict[str, Any]:
        (kind, body), = op.items()
        if kind == "create_table":
            body = {**body, "columns": [column(c) for c in body.get("columns", ())]}
        elif kind == "add_column":
            body = {**body, "column": column(body["column"])}
        return {kind: body}

    return {**doc, **{key: [operation(op) for op in doc[key]]
                      for key in ("operations", "rollback") if key in doc}}

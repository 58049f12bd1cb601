"""A changeset: its header, and its body (operations and rollback), given or deferred."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar, overload

if TYPE_CHECKING:
    from .operations import Operation
else:
    # Not imported to run: a changeset revived from the cache needs no operation class (the
    # 48 dataclasses of `operations` cost a listing's start-up ~40 ms). What the annotations
    # of the body fields resolve to for typing.get_type_hints (codec reads the header's).
    Operation = typing.Any

Body: TypeAlias = "tuple[tuple[Operation, ...], tuple[Operation, ...] | None]"  # ops, rollback
T = TypeVar("T")


class Deferred:
    """A changeset's body still to be loaded, and what is known of it meanwhile: a cache
    revives each changeset with one (a subclass that says how to `load` it), so that listings
    never decode operations."""

    __slots__ = ("checksum", "kinds")

    def __init__(self, kinds: tuple[str, ...], checksum: str) -> None:
        self.kinds = kinds
        self.checksum = checksum

    def load(self) -> Body:
        """The operations and rollback."""
        raise NotImplementedError


class _BodyField(Generic[T]):
    """`Changeset.operations` and `.rollback`: the value given, or a Deferred that the first
    read of either loads for both. The value lives in the instance dict as `_<name>`, written
    there as functools.cached_property writes its value: a frozen dataclass refuses setattr,
    and object.__setattr__ made reviving 10,000 cached changesets 10% slower."""

    def __init__(self, index: int, *default: T) -> None:
        self.index, self.default = index, default

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = f"_{name}"

    @overload
    def __get__(self, cs: None, owner: type) -> _BodyField[T]: ...
    @overload
    def __get__(self, cs: Changeset, owner: type) -> T: ...
    def __get__(self, cs: Changeset | None, owner: type) -> T | _BodyField[T]:
        if cs is None:  # the dataclass asking for a default: only rollback has one
            if self.default:
                return self.default[0]
            raise AttributeError(self.attr)
        stored = cs.__dict__
        value = stored[self.attr]
        if isinstance(value, Deferred):
            body = value.load()
            # Both body fields at once, and the checksum they leave known.
            stored["_operations"], stored["_rollback"] = body
            object.__setattr__(cs, "_checksum", value.checksum)
            value = body[self.index]
        return typing.cast(T, value)

    def __set__(self, cs: Changeset, value: T | Deferred) -> None:
        cs.__dict__[self.attr] = value


# Not slotted: `operations` and `rollback` are descriptors, which a slot of the same name
# would replace. There is one Changeset per file; the operations are slotted.
@dataclass(frozen=True, kw_only=True)
class Changeset:
    """One changeset file, parsed."""

    id: str
    parents: tuple[str, ...]
    message: str
    operations: _BodyField[tuple[Operation, ...]] = _BodyField(0)
    author: str | None = None
    depends_on: tuple[str, ...] = ()
    branch_labels: tuple[str, ...] = ()
    tag: str | None = None
    transactional: bool | None = None
    rollback: _BodyField[tuple[Operation, ...] | None] = _BodyField(1, None)
    lint_ignore: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    path: str | None = field(default=None, compare=False)
    # `checksum` once known (unset until then, which keeps construction cheap); replace()
    # starts over, as it may change the operations.
    _checksum: str = field(init=False, repr=False, compare=False)

    @property
    def deferred(self) -> Deferred | None:
        """The body as given to be loaded later, until it is loaded."""
        value = self.__dict__["_operations"]  # the field's storage (see _BodyField)
        return value if isinstance(value, Deferred) else None

    @property
    def operation_kinds(self) -> tuple[str, ...]:
        """The kinds of its operations (known without loading a deferred body)."""
        value = self.__dict__["_operations"]
        if isinstance(value, Deferred):
            return value.kinds
        return tuple(op.kind for op in self.operations)

    @property
    def all_parents(self) -> tuple[str, ...]:
        """Parents and cross-branch dependencies: everything that must be applied first."""
        return self.parents + tuple(d for d in self.depends_on if d not in self.parents)



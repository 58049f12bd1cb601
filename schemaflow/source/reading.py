"""Reading changeset files: listing a folder, decoding, and parsing YAML (the C loader, YAML 1.2
scalars, duplicate keys refused) and TOML into plain documents."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import Diagnostic

Format = Literal["yaml", "toml"]
DocPath = Sequence[str | int]
EXTENSIONS: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
YAML_HEADER = "# yaml-language-server: $schema={schema}\n"
TOML_HEADER = "#:schema {schema}\n"

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader with YAML 1.2 core-schema scalars and duplicate keys rejected."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key}' appears twice", key_node.start_mark)
            seen.add(key)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


# YAML 1.2 core schema: only true/false are booleans, so a column named `on` or `no` stays a
# string, and dates stay strings.
_Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _yaml_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.lower().startswith("0x"):
        return int(text, 16)
    if text.lower().startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


_TOO_DEEP = "the document is nested too deeply (a changeset needs a few levels, at most 64)"
_MAX_DEPTH = 64
_MAX_VALUES = 200_000


def _checked_shape(doc: Any, path: str) -> Any:
    """Refuse documents no changeset looks like: very deep nesting, or aliases that expand to
    an enormous number of values (a 'billion laughs' file). Iterative, and stops early."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > _MAX_DEPTH:
            raise SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                         message=_TOO_DEEP))
        if seen > _MAX_VALUES:
            raise SourceError(Diagnostic(
                code="SF001", file=path, line=1, col=1,
                message=f"the document expands to more than {_MAX_VALUES:,} values (YAML "
                        "aliases repeating each other?)"))
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return doc


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file's text and its loaded document."""

    path: str
    text: str
    format: Format
    doc: Any


class SourceError(Exception):
    """A file that cannot be read or parsed; carries its Diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def format_of(path: Path) -> Format | None:
    """The format a file name implies, or None for other files."""
    return EXTENSIONS.get(path.suffix.lower())


StatKey = tuple[int, int, int, int]  # (size, mtime_ns, ctime_ns, inode)


def stat_key(st: os.stat_result) -> StatKey:
    """What a cache trusts a file by. The ctime too: restoring an mtime after an edit
    (touch -d, some sync tools) changes it."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _candidates(folder: Path) -> list[os.DirEntry[str]]:
    # Plain string work: pathlib costs show at 10,000 files.
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    # The extension as os.path.splitext gives it for a name that does not start with a dot,
    # without its three Python calls per file.
    return [e for e in entries if not e.name.startswith(".")
            and e.name[e.name.rfind("."):].lower() in EXTENSIONS]


def scan(folder: Path) -> list[tuple[str, StatKey | None]]:
    """Changeset files in `folder` sorted by name (hidden files ignored), each with its stat
    (None when it cannot be taken: reading the file will report why)."""
    found: list[tuple[str, StatKey | None]] = []
    for entry in _candidates(folder):
        try:
            st = entry.stat()
        except OSError:  # a dangling symlink or a loop: listed, so that reading it reports it
            found.append((entry.name, None))
            continue
        # Regular files only: a FIFO would block a read forever.
        if stat.S_ISREG(st.st_mode):
            found.append((entry.name, stat_key(st)))
    found.sort(key=itemgetter(0))  # names are unique: comparing them alone is cheaper
    return found


def list_files(folder: Path) -> list[Path]:
    """Changeset files in `folder`, sorted by name (hidden files ignored): the names alone,
    without a stat per file."""
    def is_file(entry: os.DirEntry[str]) -> bool:
        try:
            return entry.is_file()
        except OSError:  # a symlink loop: listed, so that reading it reports it
            return True

    return [folder / name for name in sorted(e.name for e in _candidates(folder) if is_file(e))]


def loads(text: str, fmt: Format, path: str) -> Any:
    """Parse text as YAML or TOML; raise SourceError with a position on a syntax error."""
    if fmt == "toml":
        try:
            return _checked_shape(tomllib.loads(text), path)
        except RecursionError:
            raise SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                         message=_TOO_DEEP)) from None
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
            if m:
                line, col = int(m.group(1)), int(m.group(2))
            else:  # "at end of document": the last line
                lines = text.splitlines() or [""]
                line, col = len(lines), len(lines[-1]) + 1
            raise SourceError(Diagnostic(
                code="SF001", message=f"TOML syntax error: {msg}", file=path, line=line,
                col=col)) from None
    try:
        return _checked_shape(yaml.load(text, Loader=_Loader), path)  # _Loader is safe
    except RecursionError:
        raise SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                     message=_TOO_DEEP)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(Diagnostic(
            code="SF001", message=f"YAML syntax error: {problem}", file=path,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
        )) from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        # Explicit tags (!!int abc, !!timestamp '') fail inside PyYAML's constructors.
        raise SourceError(Diagnostic(
            code="SF001", file=path,
            message=f"YAML error: {type(exc).__name__}: {exc}")) from None


def read(path: Path) -> SourceFile:
    """Read and parse one changeset file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(Diagnostic(code="SF001", message=f"cannot read the file: "
                                     f"{exc.strerror}", file=display_path(path))) from None
    return decode(path, raw)


def decode(path: Path, raw: bytes) -> SourceFile:
    """Parse the bytes of a changeset file."""
    shown = display_path(path)
    fmt = format_of(path) or "yaml"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(Diagnostic(code="SF001", message="the file is not UTF-8 text",
                                     file=shown, line=line)) from None
    return SourceFile(shown, text, fmt, loads(text, fmt, shown))

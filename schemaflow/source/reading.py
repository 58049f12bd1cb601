"""Reading changeset files: listing a folder, decoding, and parsing YAML (the C loader, YAML 1.2
scalars, duplicate keys refused) and TOML into plain documents."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from ..errors import Diagnostic

# Here rather than in yamlload: reading a file's bytes, its stat and TOML needs no yaml import
# (listings served from the cache never parse YAML).
# Keys whose value (or whose list's items) is a name, an id or free text, never a number.
NAME_KEYS = frozenset({
    "id", "parents", "depends_on", "replaces", "branch_labels", "tag", "message", "author",
    "name", "new_name", "table", "schema", "columns", "include", "comment", "collation"})
DATA_KEYS = frozenset({"rows"})  # below these, values are data: typed as YAML reads them
MAX_DEPTH = 64
TOO_DEEP = ("the document is nested too deeply (a changeset needs a few levels, at most "
            f"{MAX_DEPTH})")

Format = Literal["yaml", "toml"]
DocPath = Sequence[str | int]
EXTENSIONS: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
YAML_HEADER = "# yaml-language-server: $schema={schema}\n"
TOML_HEADER = "#:schema {schema}\n"

DEFAULT_MAX_BYTES = 10_000_000


class _Written(float):
    """A TOML float that remembers the text it was written as (tomllib's parse_float hook):
    `id = 73e773485570` is the id "73e773485570", not inf."""

    text: str

    def __new__(cls, text: str) -> _Written:
        value = super().__new__(cls, text)
        value.text = text
        return value


def _as_text(value: Any) -> Any:
    """A scalar where a name or an id goes, as the text written (as the YAML loader reads
    plain scalars there); a bare integer is its decimal digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Written):
        return value.text
    return str(value) if isinstance(value, int) else value


def _toml_plain(doc: Any, path: str) -> Any:
    """A parsed TOML document as the YAML loader gives one: values under NAME_KEYS (and the
    items of lists under them) as the text written, outside rows of data; other floats plain.
    Refuses a document nested deeper than a changeset is (YAML is checked as it is read).
    Iterative, and stops early."""
    # (container, depth, inside rows of data)
    stack: list[tuple[Any, int, bool]] = [(doc, 0, False)]
    while stack:
        value, depth, data = stack.pop()
        if depth > MAX_DEPTH:
            raise SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                         message=TOO_DEEP))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in list(items):
            named = not data and isinstance(value, dict) and key in NAME_KEYS
            if isinstance(item, (dict, list)):
                if named and isinstance(item, list):
                    item[:] = [v if isinstance(v, (dict, list)) else _as_text(v) for v in item]
                stack.append((item, depth + 1, data or key in DATA_KEYS))
            elif named:
                value[key] = _as_text(item)
            elif isinstance(item, _Written):
                value[key] = float(item)
    return doc


@dataclass(frozen=True, slots=True)
class Limits:
    """What a changeset file may be: at most `max_bytes` long, and, when it is a symbolic
    link, pointing inside one of the folders `within` (real paths; none given: the link's own
    folder)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    within: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file's text and its loaded document."""

    path: str
    text: str
    format: Format
    doc: Any
    # What positions.locate works out once per file (the value positions of a YAML document).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


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


def _inside(real: str, within: tuple[str, ...]) -> bool:
    return any(real == w or real.startswith(w.rstrip(os.sep) + os.sep) for w in within)


def _escapes(entry_path: str, limits: Limits) -> bool:
    """True for a symbolic link whose target lies outside the folders it may point into."""
    within = limits.within or (os.path.realpath(os.path.dirname(entry_path) or "."),)
    return not _inside(os.path.realpath(entry_path), within)


def scan(folder: Path, limits: Limits | None = None) -> list[tuple[str, StatKey | None]]:
    """Changeset files in `folder` sorted by name (hidden files ignored), each with its stat
    (None when it cannot be taken, or for a symbolic link out of the project: reading the
    file will report why)."""
    limits = limits or Limits()
    found: list[tuple[str, StatKey | None]] = []
    for entry in _candidates(folder):
        try:
            if entry.is_symlink() and _escapes(entry.path, limits):
                found.append((entry.name, None))
                continue
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


def _toml(text: str, path: str) -> Any:
    try:
        return _toml_plain(tomllib.loads(text, parse_float=_Written), path)
    except RecursionError:
        raise SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                     message=TOO_DEEP)) from None
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


def loads(text: str, fmt: Format, path: str) -> Any:
    """Parse text as YAML or TOML; every failure is a SourceError whose Diagnostic has the
    position when one is known."""
    if fmt == "toml":
        return _toml(text, path)
    from .yamlload import load_yaml

    try:
        return load_yaml(text)
    except Exception as exc:
        refused = _yaml_refused(exc, text, path)
        if refused is None:
            raise
        raise refused from None


def _yaml_refused(exc: Exception, text: str, path: str) -> SourceError | None:
    """What the YAML loader raised, as a SourceError (None: not a refusal of the text). Its
    classes are imported here, not on every file that loads."""
    import yaml
    from yaml.parser import ParserError
    from yaml.reader import ReaderError
    from yaml.scanner import ScannerError

    if isinstance(exc, RecursionError):
        # Not expected (the loader is iterative): a clean error all the same.
        return SourceError(Diagnostic(code="SF001", file=path, line=1, col=1,
                                      message=TOO_DEEP))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, (ScannerError, ParserError)):
            problem = f"YAML syntax error: {problem}"
        else:
            problem = f"YAML error: {problem}"
        return SourceError(Diagnostic(
            code="SF001", message=problem, file=path,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
        ))
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character or "?")
        return SourceError(Diagnostic(
            code="SF001", file=path, line=line, col=col,
            message=f"YAML does not allow the character U+{char:04X} in a file"))
    if isinstance(exc, yaml.YAMLError):
        return SourceError(Diagnostic(code="SF001", file=path,
                                      message=f"YAML error: {type(exc).__name__}"))
    return None


def _too_big(size: int | None, limits: Limits, path: str) -> SourceError:
    what = "the file" if size is None else f"the file ({size / 1e6:,.1f} MB)"
    return SourceError(Diagnostic(
        code="SF001", file=path,
        message=f"{what} is larger than the {limits.max_bytes / 1e6:g} MB a changeset file "
                "may be: not read",
        hint="split it into several changesets, or raise max_file_mb in schemaflow.toml"))


def check_size(size: int, limits: Limits, path: str) -> None:
    """Refuse a file larger than the limit, from its size alone (before reading it)."""
    if size > limits.max_bytes:
        raise _too_big(size, limits, path)


def check_link(path: Path, limits: Limits, shown: str | None = None) -> None:
    """Refuse a symbolic link that points out of the project; the message names the link,
    never what it points to."""
    name = os.fspath(path)
    if os.path.islink(name) and _escapes(name, limits):
        raise SourceError(Diagnostic(
            code="SF001", file=shown or display_path(path),
            message="the file is a symbolic link to a file outside the project: schemaflow "
                    "does not follow it",
            hint="commit the changeset itself in the changesets folder"))


def read_bytes(path: Path, limits: Limits | None = None, shown: str | None = None) -> bytes:
    """The bytes of a changeset file: a symbolic link out of the project, anything but a
    regular file, and a file over the size limit refused before anything is read."""
    limits = limits or Limits()
    shown = shown or display_path(path)
    check_link(path, limits, shown)
    try:
        # Plain os.read: Path.read_bytes builds a buffered file object, which shows at
        # 10,000 files. O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(Diagnostic(code="SF001", file=shown,
                                     message=f"cannot read the file: {exc.strerror}")) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(Diagnostic(code="SF001", file=shown,
                                         message="not a regular file"))
        check_size(st.st_size, limits, shown)
        chunks = []
        left = limits.max_bytes + 1  # a file that grew since fstat is still cut short
        while left > 0 and (chunk := os.read(fd, min(1 << 16, left))):
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise _too_big(None, limits, shown)
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(Diagnostic(code="SF001", file=shown,
                                     message=f"cannot read the file: {exc.strerror}")) from None
    finally:
        os.close(fd)


def read(path: Path, limits: Limits | None = None) -> SourceFile:
    """Read and parse one changeset file."""
    return decode(path, read_bytes(path, limits))


def decode(path: Path, raw: bytes, shown: str | None = None) -> SourceFile:
    """Parse the bytes of a changeset file (`shown`: its `display_path`, when known)."""
    shown = shown or display_path(path)
    fmt = format_of(path) or "yaml"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(Diagnostic(code="SF001", message="the file is not UTF-8 text",
                                     file=shown, line=line)) from None
    return SourceFile(shown, text, fmt, loads(text, fmt, shown))

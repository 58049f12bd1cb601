"""Reading and writing changeset files, and mapping a document path back to file:line:col."""

from __future__ import annotations

import io
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

from .errors import Diagnostic

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


# --- positions -------------------------------------------------------------------------------


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


# --- writing ---------------------------------------------------------------------------------


def _resolves_to_non_string(text: str) -> bool:
    for tag, regexp in _Loader.yaml_implicit_resolvers.get(text[:1], []):
        if tag != "tag:yaml.org,2002:str" and regexp.match(text):
            return True
    return False


class _Dumper(yaml.SafeDumper):
    """Block style for structure, flow style for short leaf mappings and lists."""

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> Any:
        node = super().represent_mapping(tag, mapping, flow_style)
        leaf = all(isinstance(v, yaml.ScalarNode) or (
            isinstance(v, yaml.SequenceNode) and all(isinstance(i, yaml.ScalarNode)
                                                      for i in v.value))
            for _, v in node.value)
        node.flow_style = leaf and sum(len(str(v.value)) for _, v in node.value) < 80
        return node

    def represent_sequence(self, tag: str, sequence: Any, flow_style: bool | None = None) -> Any:
        node = super().represent_sequence(tag, sequence, flow_style)
        node.flow_style = all(isinstance(i, yaml.ScalarNode) for i in node.value)
        return node

    def represent_str(self, data: str) -> Any:  # registered for str below
        node = super().represent_str(data)
        # The writer quotes by YAML 1.1 rules; our reader resolves by 1.2 ones: quote anything
        # the reader would not read back as this same string ("4e12", "019", "-.5").
        if node.style is None and _resolves_to_non_string(data):
            node.style = "'"
        return node

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


_Dumper.add_representer(str, _Dumper.represent_str)


def dumps(doc: Any, fmt: Format, schema_ref: str | None = None) -> str:
    """Serialise a changeset document, with the editor's schema hook-up as a first line."""
    if fmt == "toml":
        import tomli_w

        body = tomli_w.dumps(_toml_ready(doc))
        return (TOML_HEADER.format(schema=schema_ref) if schema_ref else "") + body
    stream = io.StringIO()
    dumper = _Dumper(stream, sort_keys=False, allow_unicode=True, width=100)
    try:
        dumper.open()
        root: Any = dumper.represent_data(doc)
        root.flow_style = False  # the document itself is always block style
        dumper.serialize(root)
        dumper.close()
    finally:
        dumper.dispose()
    body = stream.getvalue()
    return (YAML_HEADER.format(schema=schema_ref) if schema_ref else "") + body


def _toml_ready(value: Any) -> Any:
    # TOML has no null: keys whose value is None are left out (None means "not given").
    if isinstance(value, dict):
        return {k: _toml_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_ready(v) for v in value]
    return value


def write(path: Path, text: str) -> None:
    """Write a new file, refusing to overwrite one that exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)

"""Reading and writing changeset files, and mapping a document path back to file:line:col."""

from __future__ import annotations

import io
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
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
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
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
    return int(text, 16) if text.lower().startswith("0x") else int(text, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


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


def list_files(folder: Path) -> list[Path]:
    """Changeset files in `folder`, sorted by name (hidden files ignored)."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return sorted(
        (Path(e.path) for e in entries
         if not e.name.startswith(".") and format_of(Path(e.name)) and e.is_file()),
        key=lambda p: p.name,
    )


def loads(text: str, fmt: Format, path: str) -> Any:
    """Parse text as YAML or TOML; raise SourceError with a position on a syntax error."""
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise SourceError(Diagnostic(
                code="SF001", message=f"TOML syntax error: {msg}", file=path,
                line=int(m.group(1)) if m else None, col=int(m.group(2)) if m else None,
            )) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(Diagnostic(
            code="SF001", message=f"YAML syntax error: {problem}", file=path,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
        )) from None
    except yaml.YAMLError as exc:
        raise SourceError(Diagnostic(code="SF001", message=f"YAML error: {exc}",
                                     file=path)) from None


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


def _locate_toml(text: str, path: DocPath) -> tuple[int | None, int | None]:
    # tomllib keeps no positions; the last named key is found in the text instead, which is
    # exact for the keys changesets use (each appears in few places).
    keys = [s for s in path if isinstance(s, str)]
    lines = text.splitlines()
    for key in reversed(keys):
        pattern = re.compile(r'(?:^|[\s{,.\[])"?' + re.escape(key) + r'"?\s*(?:=|\])')
        for i, line in enumerate(lines):
            if line.lstrip().startswith("#"):
                continue
            m = pattern.search(line)
            if m:
                return i + 1, m.start() + 1 + (1 if m.group(0)[0] in " {,.[\t" else 0)
    return 1, 1


# --- writing ---------------------------------------------------------------------------------


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

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


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

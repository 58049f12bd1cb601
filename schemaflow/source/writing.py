"""Writing changeset files: YAML that reads like a hand-written one, or TOML, with the editor's
schema hook-up on the first line; written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from .reading import TOML_HEADER, YAML_HEADER, Format
from .yamlload import resolve


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
        if node.style is None and resolve(data) != "str":
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
    """Write a new file, refusing to overwrite one that exists (UsageError, as for a file
    that cannot be written)."""
    from ..errors import UsageError
    from .reading import display_path

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "x", encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileExistsError:
        raise UsageError(f"{display_path(path)} exists already: a changeset file is never "
                         "overwritten", hint="move it away, or write into another folder"
                         ) from None
    except OSError as exc:
        raise UsageError(f"cannot write {display_path(path)}: {exc.strerror}") from None
    try:
        with fh:
            fh.write(text)
    except OSError as exc:  # no half-written changeset is left (a full disk)
        path.unlink(missing_ok=True)
        raise UsageError(f"cannot write {display_path(path)}: {exc.strerror}") from None

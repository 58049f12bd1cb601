"""The catalogue of diagnostic codes: one registration per code, all of them documented."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from schemaflow.errors import CODES, Code, Diagnostic, catalogue

DOCS = ROOT / "docs" / "rules.md"
SOURCES = ROOT / "schemaflow"
TABLE_ROW = re.compile(r"^\| (SF\d{3}) \| (\w+) \| ([\w-]+) \| (.+?) \|$", re.M)


def test_codes_are_well_formed() -> None:
    for key, c in CODES.items():
        assert re.fullmatch(r"SF\d{3}", key) and c.code == key
        assert c.severity in ("error", "warning", "info")
        assert c.title and "\n" not in c.title, key


def test_every_code_in_the_sources_is_registered() -> None:
    found: dict[str, str] = {}
    for path in sorted(SOURCES.rglob("*.py")):
        for code in re.findall(r"\bSF\d{3}\b", path.read_text(encoding="utf-8")):
            found.setdefault(code, str(path.relative_to(ROOT)))
    assert "SF108" in found and "SF301" in found  # the scan sees the sources
    unregistered = {code: where for code, where in found.items() if code not in CODES}
    assert unregistered == {}


def test_docs_list_every_registered_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [code for code in CODES if not re.search(rf"\b{code}\b", text)]
    assert missing == [], f"missing from docs/rules.md: {missing}"


def test_docs_table_matches_the_catalogue() -> None:
    rows = TABLE_ROW.findall(DOCS.read_text(encoding="utf-8"))
    listed = [code for code, *_ in rows]
    assert sorted(listed) == sorted(set(listed)), "a code is listed twice"
    for code, severity, group, meaning in rows:
        assert (severity, group, meaning) == (
            CODES[code].severity, CODES[code].group, CODES[code].title), code
    assert set(listed) == {code for code, c in CODES.items() if c.group}


def test_registering_a_code_twice_raises() -> None:
    # CODES is built by catalogue() at import: a duplicate there stops the import.
    with pytest.raises(ValueError, match="SF001 is registered twice: 'one' and 'two'"):
        catalogue(Code("SF001", "error", "one"), Code("SF002", "error", "other"),
                  Code("SF001", "error", "two"))


def test_a_diagnostic_needs_a_registered_code() -> None:
    with pytest.raises(ValueError, match="SF999"):
        Diagnostic(code="SF999", message="never registered")
    assert Diagnostic(code="SF101", message="registered").code == "SF101"

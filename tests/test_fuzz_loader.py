"""A seeded fuzz of the changeset loader: thousands of generated files (random bytes,
truncations and mutations of valid changesets, odd tags, other encodings, deep nesting, alias
bombs) through the loader and the linter in-process, and a sample of them through the real
command line. The only acceptable outcomes are a loaded history or schemaflow's own errors
(diagnostics with a message); anything else is a traceback a user would see.

The seed is fixed, so a failure repeats; each failure names its case (category and number)."""

from __future__ import annotations

import codecs
import json
import os
import random
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
import tomli_w
import yaml
from conftest import DEMO, make_project
from test_hostile import BASE_DOCS, TEXT_TAGS, _text_mutate, cli, gen_case

SEED = 20_260_517
Case = tuple[str, dict[str, bytes]]  # (name, files of a changesets folder)

_VALID: list[tuple[str, bytes]] = sorted((f.suffix, f.read_bytes()) for f in DEMO.iterdir()) + [
    (".yaml", yaml.safe_dump(d, sort_keys=False).encode()) for d in BASE_DOCS] + [
    (".toml", tomli_w.dumps(d).encode()) for d in BASE_DOCS]

ODD_TAGS = ["!!bool maybe", "!!bool ''", "!!bool yes", "!!int abc", "!!int ''", "!!int 1.5",
            "!!int " + "9" * 5000, "!!float x", "!!float ''", "!!float 1:30", "!!float .inf",
            "!!timestamp ''", "!!timestamp 2001-12-14", "!!timestamp 2001-99-99",
            "!!binary aGVsbG8=", "!!binary '%%%'", "!!set {a, b}", "!!omap [a: 1]",
            "!!pairs [a: 1]", "!!null x", "!!str {a: 1}", "!!map [1]", "!!seq {a: 1}",
            "!!value x", "!!merge x", "!local x", "!<tag:example.com,2000:x> y", "! 12",
            "!!python/name:os.getcwd", "!!python/object/apply:os.getcwd []",
            "!!python/object/new:str [x]", "&a [*a]", "&a {k: *a}", "*undefined", "&x 1",
            "? [a]\n  : 1", "? {a: 1}\n  : 1", "? !!set {a}\n  : 1", *TEXT_TAGS]
ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "utf-8-sig",
             "utf-7", "shift_jis"]


def _cut(data: bytes, rnd: random.Random) -> bytes:
    return data[: rnd.randrange(len(data) + 1)]


def _random_bytes(rnd: random.Random) -> Case:
    data = rnd.randbytes(rnd.randrange(600))
    if rnd.random() < 0.3:  # printable noise parses further
        data = bytes(rnd.choice(b" \n\t:-[]{},'\"#&*!|>?%@`abcxyz019") for _ in data)
    return rnd.choice(["r001_x.yaml", "r001_x.toml", "r001_x.yml"]), {"": data}


def _truncated(rnd: random.Random) -> Case:
    ext, data = rnd.choice(_VALID)
    return f"t001_cut{ext}", {"": _cut(data, rnd)}


def _mutated(rnd: random.Random, marker: Path) -> Case:
    return "", gen_case(rnd, marker)


def _text_mutated(rnd: random.Random, marker: Path) -> Case:
    ext, data = rnd.choice(_VALID)
    for _ in range(rnd.randint(1, 3)):
        try:
            data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # made no longer UTF-8: enough
            break
        data = _text_mutate(data, ext, rnd, marker)
    return f"m001_text{ext}", {"": data}


def _odd_tag(rnd: random.Random, marker: Path) -> Case:
    ext, data = rnd.choice([v for v in _VALID if v[0] != ".toml"])
    lines = data.decode().splitlines(keepends=True)
    tag = rnd.choice(ODD_TAGS).replace("{marker}", str(marker))
    candidates = [i for i, line in enumerate(lines) if ": " in line] or [0]
    i = rnd.choice(candidates)
    key = lines[i].split(": ", 1)[0] if ": " in lines[i] else "x"
    lines[i] = f"{key}: {tag}\n"
    return f"o001_tag{ext}", {"": "".join(lines).encode()}


def _encoded(rnd: random.Random) -> Case:
    ext, data = rnd.choice(_VALID)
    text = data.decode().replace("message: ", "message: caf\u00e9 \u00fcber ", 1)
    encoding = rnd.choice(ENCODINGS)
    raw = codecs.encode(text, encoding, "replace")
    if rnd.random() < 0.3:
        raw = raw.replace(b"\n", rnd.choice([b"\r\n", b"\r", b"\x00\n", b"\x85", b"\n\x00"]))
    return f"e001_enc{ext}", {"": raw}


def _deep(rnd: random.Random) -> Case:
    depth = rnd.choice([10, 63, 64, 65, 66, 100, 1000, 10_000, 100_000, 300_000])
    prefix = "schemaflow: 1\nid: d001\nparents: []\nmessage: m\noperations: "
    shape = rnd.randrange(6)
    if shape == 0:
        text = prefix + "[" * depth + "]" * depth
    elif shape == 1:
        text = prefix + "[" * depth  # never closed
    elif shape == 2:
        text = prefix + "\n" + "- " * depth + "x\n"  # compact block sequences
    elif shape == 3:
        text = prefix + "{a: " * depth + "1" + "}" * depth
    elif shape == 4:
        depth = min(depth, 2_000)  # tomllib recurses: refused by its own recursion limit
        return "d001_deep.toml", {"": (
            'schemaflow = 1\nid = "d001"\nparents = []\nmessage = "m"\noperations = '
            + "[" * depth + "]" * depth + "\n").encode()}
    else:
        depth = min(depth, 2_000)
        text = prefix + "\n" + "".join("  " * i + "- k:\n" for i in range(depth))
    return "d001_deep.yaml", {"": text.encode()}


def _aliases(rnd: random.Random) -> Case:
    fan, levels = rnd.randint(2, 12), rnd.randint(2, 10)
    rows = [f"l0: &l0 [{', '.join(['lol'] * fan)}]"]
    for i in range(1, levels):
        rows.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]")
    where = rnd.choice(["operations:\n  - sql: {up: *l%d}\n", "author: *l%d\noperations: []\n",
                        "operations: *l%d\n", "lint: {ignore: *l%d}\noperations: []\n"])
    text = ("schemaflow: 1\nid: b001\nparents: []\nmessage: m\nx:\n"
            + "".join(f"  {r}\n" for r in rows) + where % (levels - 1))
    if rnd.random() < 0.2:  # a long string repeated instead
        text = ("schemaflow: 1\nid: b001\nparents: []\nmessage: &s " + "x" * 50_000
                + "\noperations: [" + ", ".join(["{sql: {up: *s}}"] * fan * 50) + "]\n")
    return "b001_alias.yaml", {"": text.encode()}


def generate(n_files: int, marker: Path) -> Iterator[Case]:
    """Seeded cases, each a changesets folder, holding `n_files` files in all."""
    rnd = random.Random(SEED)
    makers: list[tuple[str, int, Callable[[random.Random], Case]]] = [
        ("random bytes", 14, _random_bytes), ("truncated", 12, _truncated),
        ("mutated history", 10, lambda r: _mutated(r, marker)),
        ("mutated text", 16, lambda r: _text_mutated(r, marker)),
        ("odd tag", 16, lambda r: _odd_tag(r, marker)), ("encoding", 8, _encoded),
        ("deep", 8, _deep), ("aliases", 6, _aliases)]
    made = 0
    number = 0
    while made < n_files:
        kind, _, maker = rnd.choices(makers, [w for _, w, _ in makers])[0]
        name, files = maker(rnd)
        if "" in files:  # a single file named by its maker
            files = {name: files[""]}
        number += 1
        made += len(files)
        yield f"{kind} #{number}", files


def _write(folder: Path, files: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def _problem(folder: Path) -> str | None:
    """None when loading and linting the folder ends in a history or schemaflow's own errors;
    else the traceback."""
    from schemaflow.errors import Diagnostic, SchemaflowError, ValidationFailed
    from schemaflow.history import load
    from schemaflow.lint import check

    def well_formed(diags: list[Diagnostic]) -> str | None:
        for d in diags:
            if not (isinstance(d, Diagnostic) and isinstance(d.message, str) and d.message):
                return f"not a diagnostic: {d!r}"
            json.dumps(d.as_dict())
        return None

    try:
        history = load(folder)
    except ValidationFailed as exc:
        return well_formed(exc.diagnostics) if exc.diagnostics else "no diagnostics"
    except SchemaflowError:
        return None
    except BaseException:  # anything else is what the fuzz looks for
        return traceback.format_exc(limit=-6)
    try:
        return well_formed(check(history))
    except SchemaflowError:
        return None
    except BaseException:
        return traceback.format_exc(limit=-6)


@pytest.fixture
def scratch() -> Iterator[Path]:
    # In memory where possible: the folder is rewritten thousands of times.
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="sf-fuzz-", dir=base))
    try:
        with mock.patch.dict(os.environ, {"SCHEMAFLOW_NO_CACHE": "1"}):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_five_thousand_generated_files_load_cleanly(scratch: Path) -> None:
    marker = scratch / "pwned"
    folder = scratch / "changesets"
    problems: list[str] = []
    kinds: dict[str, int] = {}
    files = 0
    for label, case in generate(5_000, marker):
        _write(folder, case)
        kind = label.split(" #")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        files += len(case)
        problem = _problem(folder)
        if problem:
            problems.append(f"{label} {sorted(case)}:\n{problem}")
    assert files >= 5_000
    # The seeded stream holds every kind of case, each many times.
    assert len(kinds) == 8 and min(kinds.values()) >= 100, kinds
    assert not marker.exists(), "a tag ran code"
    assert not problems, (f"{len(problems)} of {sum(kinds.values())} cases ended in a "
                          "traceback:\n" + "\n".join(problems[:10]))


def test_a_sample_of_generated_files_through_the_real_command_line(tmp_path: Path) -> None:
    """One case of each kind, as a user runs it: a clear outcome, no traceback."""
    picks: dict[str, tuple[str, dict[str, bytes]]] = {}
    for label, case in generate(400, tmp_path / "m"):
        picks.setdefault(label.split(" #")[0], (label, case))
    assert len(picks) == 8, sorted(picks)
    for kind, (label, case) in sorted(picks.items()):
        project = make_project(tmp_path / kind.replace(" ", "_"))
        for name, data in case.items():
            (project.changesets / name).write_bytes(data)
        args = ["apply"] if kind == "odd tag" else ["validate"]
        result = cli(project.root, *args, timeout=60)
        out = result.stdout + result.stderr
        assert "Traceback" not in out, (label, args, out[-2000:])
        assert result.returncode in (0, 1), (label, args, result.returncode, out[-2000:])
        assert result.returncode == 0 or out.strip(), "a failure must say why"

"""Each changeset file of a folder through the parse cache: found by its stat or its content,
else read, schema-checked and parsed (on every core when many miss), every problem as a
Diagnostic. `history` builds the graph from what this finds."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple

from . import ir, parallel
from .cache import Packed, ParseCache, file_key, pack
from .errors import Diagnostic
from .source import DocPath, Limits, SourceError, SourceFile, StatKey
from .source.reading import check_link, check_size, decode, read, read_bytes, stat_key


def locate(src: SourceFile, path: DocPath) -> tuple[int | None, int | None]:
    """`source.locate`, imported when a position is wanted: it needs yaml, which a history
    served from the cache does not."""
    from .source.positions import locate as find

    return find(src, path)


def load_file(path: Path, limits: Limits | None = None
              ) -> tuple[SourceFile | None, ir.Changeset | None, list[Diagnostic]]:
    """One file through the schema check and the IR parse; every problem as a Diagnostic."""
    try:
        src = read(path, limits)
    except SourceError as exc:
        return None, None, [exc.diagnostic]
    return (src, *_parse_source(src, path))


def _parse_source(src: SourceFile, path: Path) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    from .validate import check_document  # jsonschema is only imported on a cache miss

    diags = check_document(src)
    if diags:
        return None, diags
    try:
        cs = ir.parse(src.doc, path=src.path)
    except ir.IRError as exc:
        line, col = locate(src, exc.path)
        return None, [Diagnostic(code="SF004", message=exc.message, file=src.path,
                                 line=line, col=col)]
    return cs, []


class _Miss(NamedTuple):
    """A file the parse cache does not know: its bytes are read (or, `key` empty, left for
    the worker process that parses it to read), it is still to be parsed."""

    path: Path
    name: str
    stat: StatKey
    key: str
    data: bytes
    shown: str


def _lookup(path: Path, shown: str, cache: ParseCache, known: StatKey | None,
            limits: Limits, defer: bool = False
            ) -> tuple[ir.Changeset | None, list[Diagnostic]] | _Miss:
    """One file from the parse cache (trusted by `known`, its stat from the folder scan, or
    a fresh one), else its bytes, to be parsed. A symbolic link out of the project and a file
    over the size limit are refused before the cache is asked. With `defer` (the cache holds
    no entry: its content key cannot find one), a file its stat does not find is left
    unread, for a worker process to read."""
    name = os.fspath(path)
    try:
        if known is None:
            check_link(path, limits, shown)
        stat = known or stat_key(os.stat(name))
        check_size(stat[0], limits, shown)
        key = cache.key_by_stat(name, stat)
        cached = cache.get(key, shown) if key else None
        if cached is None:
            if defer:
                return _Miss(path, name, stat, "", b"", shown)
            data = read_bytes(path, limits, shown)
            key = file_key(path, data)
            cached = cache.get(key, shown)
    except SourceError as exc:
        return None, [exc.diagnostic]
    except OSError as exc:
        return None, [_unreadable(shown, exc)]
    if cached is not None and key is not None:
        cache.remember_stat(name, stat, key)
        return cached, []
    assert key is not None  # a miss: the key of the bytes just read
    return _Miss(path, name, stat, key, data, shown)


def _unreadable(shown: str, exc: OSError) -> Diagnostic:
    return Diagnostic(code="SF001", file=shown, message=f"cannot read the file: {exc.strerror}")


def _parse_bytes(path: Path, data: bytes, shown: str
                 ) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    try:
        src = decode(path, data, shown)
    except SourceError as exc:
        return None, [exc.diagnostic]
    return _parse_source(src, path)


def _parse_packed(limits: Limits, miss: _Miss) -> tuple[Packed | None, list[Diagnostic], bytes]:
    """A miss read (when `_lookup` left it unread) and parsed in a worker process: the
    changeset packed as the cache keeps it, plain data that crosses back to the loading
    process, and the content key of the file's bytes (as bytes: the text would come back
    as the very object the packed entry holds, and the cache file, where marshal then
    writes it once, would no longer be what a parse in one process writes)."""
    key, data = miss.key, miss.data
    if not key:  # what `_lookup` does with the file, here
        try:
            data = read_bytes(miss.path, limits, miss.shown)
        except SourceError as exc:
            return None, [exc.diagnostic], b""
        except OSError as exc:
            return None, [_unreadable(miss.shown, exc)], b""
        key = file_key(miss.path, data)
    cs, diags = _parse_bytes(miss.path, data, miss.shown)
    return (None if cs is None else pack(cs, key)), diags, key.encode()


def _parse_miss(miss: _Miss, cache: ParseCache) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    """A miss parsed in this process, and kept in the cache."""
    cs, diags = _parse_bytes(miss.path, miss.data, miss.shown)
    if cs is not None:
        cache.put(miss.key, cs)
        cache.remember_stat(miss.name, miss.stat, miss.key)
    return cs, diags


def load_cached(path: Path, shown: str, cache: ParseCache, known: StatKey | None,
                 limits: Limits) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    """One file from the parse cache, else read, checked and parsed (see `_lookup`)."""
    found = _lookup(path, shown, cache, known, limits)
    return _parse_miss(found, cache) if isinstance(found, _Miss) else found


def load_files(files: list[tuple[Path, str, StatKey | None]], cache: ParseCache,
              limits: Limits) -> list[tuple[ir.Changeset | None, list[Diagnostic]]]:
    """Every file from the parse cache or parsed; many misses (a fresh clone, a new
    schemaflow) are parsed on every core (`parallel`), each worker handing back the packed
    changeset the cache stores anyway."""
    # A fresh clone (or a new schemaflow): the cache holds no entry, so every file its stat
    # does not find is parsed, and the workers read them too (~0.3 s less here on 10,000).
    defer = not cache.entries and len(files) >= parallel.MIN_ITEMS and parallel.workers() > 1
    found = [_lookup(path, shown, cache, stat, limits, defer) for path, shown, stat in files]
    misses = [f for f in found if isinstance(f, _Miss)]

    def here(f: _Miss) -> tuple[ir.Changeset | None, list[Diagnostic]]:
        if f.key:
            return _parse_miss(f, cache)
        return load_cached(f.path, f.shown, cache, f.stat, limits)  # read here after all

    if len(misses) < parallel.MIN_ITEMS or parallel.workers() < 2:
        return [here(f) if isinstance(f, _Miss) else f for f in found]
    from .validate import fast_check

    fast_check("changeset.schema.json")  # compiled once, before the workers fork
    parsed = parallel.iter_items(functools.partial(_parse_packed, limits), misses)
    out: list[tuple[ir.Changeset | None, list[Diagnostic]]] = []
    for f in found:
        if not isinstance(f, _Miss):
            out.append(f)
            continue
        packed, diags, sent = next(parsed)
        key = sent.decode()
        cs = None if packed is None else cache.put_packed(key, packed)
        if packed is not None and cs is None:  # not expected: parsed here, as without workers
            out.append(here(f))
            continue
        if cs is not None:
            cache.remember_stat(f.name, f.stat, key)
        out.append((cs, diags))
    return out

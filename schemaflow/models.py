"""Loading the project's SQLAlchemy models (`package.module:attribute`) for autogenerate.

The models are the project's own modules, imported from its folder. A process may load
several projects (the API, the pytest plugin, a test suite) and load one again after its
files changed, so nothing of an import stays behind: sys.path is restored, and the
project's modules are taken out of sys.modules again (a module of the same name that another
project or the process itself loaded is set aside meanwhile and put back). A second load of
files that have not changed returns the models loaded the first time: declaring the same
classes twice on a base shared with the process (a library's registry) would fail.

The project's modules are compiled once: their bytecode is kept in the project's
`__pycache__` as Python keeps it, but checked against a hash of the source (PEP 552's
checked-hash .pyc) rather than its mtime and size, so an edit is always seen, even one made
within the same second at the same size. Compiling a models module of a thousand tables
cost as much as reading its tables.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ModelError

if TYPE_CHECKING:
    import sqlalchemy as sa

# One import at a time: sys.path and sys.modules are the process's.
_LOCK = threading.Lock()
# (root, spec) -> (the project's files as loaded: path -> (mtime_ns, size), the MetaData)
_LOADED: dict[tuple[str, str], tuple[dict[str, tuple[int, int]], Any]] = {}


def load_metadata(spec: str, root: Path) -> sa.MetaData:
    """The MetaData named by `spec` (a MetaData, or anything with a `.metadata`), imported
    with the project folder `root` first on sys.path, as `python -m` run from it would."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ModelError(f"models = '{spec}' must look like package.module:attribute")
    key = (str(root), spec)
    with _LOCK:
        cached = _LOADED.get(key)
        if cached is not None and cached[0] == _fingerprint(cached[0]):
            metadata: sa.MetaData = cached[1]
            return metadata
        with _isolated(root, module_name) as loaded:
            obj = _import(module_name, spec, root)
            metadata = _metadata_of(obj, spec, module_name, attr)
        _LOADED[key] = (_fingerprint(loaded), metadata)
        return metadata


def _import(module_name: str, spec: str, root: Path) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        where = _where(exc, root)
        raise ModelError(f"the models ({spec}) cannot be imported: module '{module_name}'"
                         f"{where}: {type(exc).__name__}: {exc}",
                         hint=f"it is imported with {root} first on sys.path") from None


def _metadata_of(obj: Any, spec: str, module_name: str, attr: str) -> sa.MetaData:
    import sqlalchemy as sa

    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"the models module '{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    if isinstance(obj, sa.MetaData):
        return obj
    metadata = getattr(obj, "metadata", None)
    if isinstance(metadata, sa.MetaData):
        return metadata
    raise ModelError(f"models = '{spec}' is a {type(obj).__name__}, not a SQLAlchemy "
                     "MetaData or declarative base")


def _where(exc: BaseException, root: Path) -> str:
    """` (file, line N)` of the innermost frame in the project's own files, if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({_shown(exc.filename, root)}, line {exc.lineno})"
    inside = [f for f in traceback.extract_tb(exc.__traceback__) if _within(f.filename, root)]
    if not inside:
        return ""
    return f" ({_shown(inside[-1].filename, root)}, line {inside[-1].lineno})"


def _shown(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return path


def _within(path: str | None, root: Path) -> bool:
    """Whether a file is one of the project's own modules: under `root`, and not inside a
    virtual environment or an installed package kept there."""
    if not path:
        return False
    try:
        rel = Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not any(p in ("site-packages", "dist-packages") or p.startswith(".")
                   for p in rel.parts[:-1])


def _module_file(module: ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) else None


def _fingerprint(files: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of each file now; (-1, -1) for a file gone."""
    out = {}
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            out[path] = (-1, -1)
        else:
            out[path] = (st.st_mtime_ns, st.st_size)
    return out


@contextmanager
def _isolated(root: Path, module_name: str) -> Iterator[dict[str, None]]:
    """sys.path with `root` first and no other project's module of that name, for the
    block; afterwards sys.path as it was, and sys.modules without the project's modules
    imported meanwhile. Yields (filled on exit) the files of those modules."""
    saved_path = list(sys.path)
    top = module_name.split(".")[0]
    aside = {name: m for name, m in sys.modules.items()
             if (name == top or name.startswith(top + "."))
             and not _within(_module_file(m), root)}
    for name in aside:
        del sys.modules[name]
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    # No mtime-checked bytecode written: a file edited within the same second at the same
    # size would otherwise be read back from a stale .pyc by the next load. The project's
    # own modules are compiled to hash-checked bytecode instead (_HashChecked).
    saved_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    finder = _ProjectFinder(root, write=not saved_bytecode)
    if importlib.machinery.PathFinder in sys.meta_path:
        sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder), finder)
    files: dict[str, None] = {}
    try:
        yield files
    finally:
        sys.dont_write_bytecode = saved_bytecode
        if finder in sys.meta_path:  # (an import hook the models added stays)
            sys.meta_path.remove(finder)
        sys.path[:] = saved_path
        for name in set(sys.modules) - before:
            path = _module_file(sys.modules[name])
            if _within(path, root) or name == top or name.startswith(top + "."):
                if path:
                    files[path] = None
                del sys.modules[name]
        for name, module in aside.items():
            sys.modules.setdefault(name, module)


# A PEP 552 .pyc's flags: hash-based (bit 0), checked against the source (bit 1).
_CHECKED_HASH = (0b11).to_bytes(4, "little")


class _ProjectFinder:
    """Finds modules as the path finder does; the project's own source files are loaded
    with `_HashChecked`."""

    def __init__(self, root: Path, *, write: bool) -> None:
        self.root, self.write = root, write

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None:
            return None
        loader = spec.loader
        if type(loader) is importlib.machinery.SourceFileLoader and _within(spec.origin,
                                                                            self.root):
            spec.loader = _HashChecked(loader.name, loader.path, write=self.write)
        return spec


class _HashChecked(importlib.machinery.SourceFileLoader):
    """A project module's code: from its .pyc when that was compiled from these very bytes
    (the source's hash, as Python's own checked-hash .pyc records it), else compiled, and
    that .pyc written (unless bytecode writing is off)."""

    def __init__(self, fullname: str, path: str, *, write: bool) -> None:
        super().__init__(fullname, path)
        self.write = write

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        head = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + importlib.util.source_hash(source)
        try:
            pyc: str | None = importlib.util.cache_from_source(path)
        except NotImplementedError:  # sys.implementation.cache_tag is None
            pyc = None
        if pyc is not None:
            try:
                with open(pyc, "rb") as fh:
                    data = fh.read()
            except OSError:
                data = b""
            if data[:16] == head:
                try:
                    code = marshal.loads(memoryview(data)[16:])
                except (EOFError, ValueError, TypeError):
                    code = None
                if isinstance(code, CodeType):
                    return code
        code = self.source_to_code(source, path)
        if pyc is not None and self.write:
            self.set_data(pyc, head + marshal.dumps(code))  # atomic; errors ignored
        return code

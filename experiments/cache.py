"""Self-verifying cell files: what a cached result was computed from, checked before it is believed.

Each finished cell of a sweep is one parquet file whose schema metadata holds a *cell record*:

* ``key`` -- the cell's identity (:func:`experiments.runner.cell_key`), so a file copied
  over another cell's name is recognised;
* ``fingerprint`` -- the code that computed it (:func:`code_fingerprint`), so a rerun after
  the experiment's code changed recomputes instead of returning the old numbers;
* ``n_rows`` and ``checksum`` -- a SHA-256 of the column names and every value, so an
  edited, truncated or emptied file is recognised.

Why a hash of the source instead of a version number that people bump by hand: a version
that someone forgets to bump returns stale results silently, while a hash cannot be
forgotten.  The price is recomputation after edits that do not change any number (a comment,
a figure label in the same module); the sweep then says how many cells it recomputes and why.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import marshal
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from models.files import atomic_write

__all__ = ["PROJECT_PACKAGES", "code_fingerprint", "source_files", "write_cell", "read_cell", "CellStatus"]

#: Top-level packages whose source counts as "the code that computes a cell" (besides the
#: package of ``run_cell`` itself).  Third-party libraries are pinned by the provenance
#: record (torch version and so on), not hashed.
PROJECT_PACKAGES = ("models", "energy", "experiments")
RECORD_KEY = b"hopfield-testbed/cell"
RECORD_VERSION = 1
# Registry strings such as "models.classical:ClassicalHopfield": modules reached by name, not by import.
_REGISTRY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?$")


# -- code fingerprint --------------------------------------------------------------------


def _origin(name: str) -> Path | None:
    """Source file of module ``name`` (None for names that are not modules, or not Python source)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def _imported_names(tree: ast.AST, package: str) -> set[str]:
    """Module names an AST imports (with their parent packages) or names in registry strings."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _REGISTRY.match(node.value):
            names.add(node.value.split(":")[0])
    with_parents = set()
    for name in names:
        parts = name.split(".")
        with_parents.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return {n for n in with_parents if n}


def source_files(module: str, file: Path, packages: tuple[str, ...] = PROJECT_PACKAGES) -> dict[str, Path]:
    """Module name -> source file for ``module`` and every project module it reaches by import.

    Imports anywhere in a file count (inside functions too), and so do strings that name a
    project module (registries such as ``models.MODELS``), because both decide what runs.
    """
    tops = set(packages) | {module.split(".")[0]}
    found: dict[str, Path] = {}
    stack = [(module, file)]
    while stack:
        name, path = stack.pop()
        if name in found:
            continue
        found[name] = path
        tree = ast.parse(path.read_bytes(), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for other in sorted(_imported_names(tree, package)):
            if other.split(".")[0] in tops and other not in found:
                origin = _origin(other)
                if origin is not None:
                    stack.append((other, origin))
    return found


def code_fingerprint(func: Callable[..., Any], packages: tuple[str, ...] = PROJECT_PACKAGES) -> str:
    """16-hex hash of the source of ``func``'s module and of the project modules it imports.

    Line endings are normalised, so a checkout on another system gives the same fingerprint.
    A function without a source file (``python -c``, an interactive session) is hashed by
    its compiled code instead.
    """
    func = getattr(func, "func", func)  # functools.partial
    name = getattr(func, "__module__", None) or "__main__"
    file = getattr(sys.modules.get(name), "__file__", None)
    h = hashlib.sha256()
    if file is None or not str(file).endswith(".py"):
        h.update(marshal.dumps(func.__code__))
        return "code-" + h.hexdigest()[:11]
    for mod, path in sorted(source_files(name, Path(file), packages).items()):
        h.update(f"{mod}\n".encode())
        h.update(path.read_bytes().replace(b"\r\n", b"\n"))
        h.update(b"\0")
    return h.hexdigest()[:16]


# -- cell files --------------------------------------------------------------------------


def _checksum(table) -> str:
    """SHA-256 of the column names, every value (exact: floats by ``repr``) and the pandas metadata.

    The pandas metadata decides the column names and types ``to_pandas`` gives back, so it is
    part of what a cell says, even though the values themselves are Arrow's.
    """
    pandas_meta = (table.schema.metadata or {}).get(b"pandas", b"").decode("utf-8", "replace")
    blob = json.dumps([table.column_names, table.to_pydict(), pandas_meta], default=repr, allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_cell(path: Path, key: str, fingerprint: str, rows: list[dict]) -> None:
    """Write the rows of one cell (with a leading ``cell`` column) and its record, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(rows)
    df.insert(0, "cell", key)
    table = pa.Table.from_pandas(df, preserve_index=False)
    record = {
        "version": RECORD_VERSION,
        "key": key,
        "fingerprint": fingerprint,
        "n_rows": table.num_rows,
        "checksum": _checksum(table),
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), RECORD_KEY: json.dumps(record).encode()})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


@dataclass(frozen=True)
class CellStatus:
    """Outcome of reading one cell file.

    ``frame`` is set when the file is valid; otherwise ``problem`` says why not, and
    ``stale`` tells a file of other code (expected after an edit) from a damaged one.
    A missing file has neither.
    """

    frame: pd.DataFrame | None = None
    problem: str | None = None
    stale: bool = False


def read_cell(path: Path, key: str, fingerprint: str) -> CellStatus:
    """Read a cell file and verify its record against ``key``, ``fingerprint`` and its rows.

    Never raises for a damaged file: whatever the damage (also where pyarrow parses a file
    whose names or metadata no longer decode), the result is a :class:`CellStatus` naming it.
    """
    import pyarrow.parquet as pq

    if not path.exists():
        return CellStatus()
    try:
        table = pq.read_table(path)
        return _verify(table, key, fingerprint)
    except Exception as err:  # ArrowInvalid, OSError, UnicodeDecodeError...: empty, cut, flipped bytes
        return CellStatus(problem=f"is unreadable ({type(err).__name__}: {str(err)[:120]})")


def _verify(table, key: str, fingerprint: str) -> CellStatus:
    raw = (table.schema.metadata or {}).get(RECORD_KEY)
    if raw is None:
        return CellStatus(problem="has no cell record (written by an older runner)", stale=True)
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return CellStatus(problem="has a damaged cell record")
    if record.get("key") != key:
        return CellStatus(problem=f"holds cell {record.get('key')!r} (copied from another cell?)")
    if record.get("n_rows") != table.num_rows:
        return CellStatus(problem=f"has {table.num_rows} rows where its record says {record.get('n_rows')}")
    if record.get("checksum") != _checksum(table):
        return CellStatus(problem="has rows that do not match their checksum (edited or damaged)")
    if record.get("fingerprint") != fingerprint:
        return CellStatus(problem="was computed by other code (the fingerprint of its source differs)", stale=True)
    return CellStatus(frame=table.to_pandas())

"""The output folder of a study: one run at a time, only results of one configuration, a history.

``OUT/<experiment>/`` receives a run's results only when it is empty or holds results of the
same *configuration* (the resolved config and the list of cells); otherwise
:class:`OutputConflictError` names the difference and the way out (``overwrite=True``,
``--overwrite`` on the command line, or another ``--out``).  A lock file (``.lock``, through
``filelock``; the operating system releases it when a process dies) keeps a second run out
of a busy folder.  ``run.json`` keeps a ``history`` of every invocation instead of being
overwritten: start time, command line, code fingerprint, then cells computed / reused /
recomputed, wall time and whether it finished (a run that was killed reads "interrupted").
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from models.files import atomic_write

__all__ = ["OutputConflictError", "RUN_JSON", "RESULTS", "LOCK", "identity", "lock_folder", "start", "write_record"]


class OutputConflictError(ValueError):
    """An output folder that another run holds, or that holds results of another configuration."""


RUN_JSON, RESULTS, LOCK = "run.json", "results.parquet", ".lock"
_HINT = "pass overwrite=True (command line: --overwrite) to replace them, or choose another output directory (--out)"


def now() -> str:
    """UTC time stamp to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Config keys that say how a config was chosen, not what it is (the preset's name, the
#: command-line overrides): two runs that differ only in them compute the same table.
LABELS = ("preset", "overrides")


def _essence(config: Any) -> Any:
    return {k: v for k, v in config.items() if k not in LABELS} if isinstance(config, dict) else config


def identity(config: Any, keys: list[str]) -> dict[str, Any]:
    """What makes two runs "the same configuration": the resolved config and the list of cells.

    ``config`` is plain data (dicts, lists, numbers, strings); a run without a config
    (``None``) is judged by its cells alone.
    """
    return {
        "config": json.loads(json.dumps(config, default=str)),
        "cells_sha256": hashlib.sha256(",".join(keys).encode()).hexdigest()[:16],
    }


def _read_record(root: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``run.json`` with a ``history`` list, or why it cannot be read.

    A record of an older runner (no history) becomes the first entry of its history.
    """
    path = root / RUN_JSON
    if not path.exists():
        return None, None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return None, f"{path} is unreadable ({err}), so the results beside it are of unknown configuration"
    if not isinstance(record.get("history"), list):  # written before run.json kept a history
        old = {k: record.get(k) for k in ("git_commit", "backend", "jobs", "n_cells_run_now", "wall_time_s")}
        record["history"] = [{"status": "finished", "started": None, **old}]
    return record, None


def _differences(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        diff = [
            f"{k}: {old.get(k, '(unset)')!r} there, {new.get(k, '(unset)')!r} here"
            for k in keys
            if old.get(k) != new.get(k)
        ]
        return "; ".join(diff[:5]) + ("; ..." if len(diff) > 5 else "")
    return f"{old!r} there, {new!r} here"


def _conflict(root: Path, record: dict[str, Any] | None, ident: dict[str, Any]) -> str | None:
    """Why the folder may not receive this run's results (None: it may)."""
    if record is None:
        return (
            f"{root} holds {RESULTS} without a {RUN_JSON}, so of unknown configuration"
            if (root / RESULTS).exists()
            else None
        )
    old, new = _essence(record.get("config")), _essence(ident["config"])
    if new is not None and old != new:
        return f"{root} holds results of another configuration ({_differences(old, new)})"
    old_cells = record.get("cells_sha256")
    if old_cells is not None and old_cells != ident["cells_sha256"]:
        return f"{root} holds results of the same configuration but other cells (did the code change the sweep?)"
    return None


def lock_folder(root: Path) -> FileLock:
    """Take the lock of an output folder at once, or raise :class:`OutputConflictError`."""
    lock = FileLock(str(root / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputConflictError(
            f"{root} is in use by another run (it holds {root / LOCK}); wait for it to finish or choose another "
            "output directory (--out)"
        ) from None
    return lock


def start(root: Path, ident: dict[str, Any], overwrite: bool, entry: dict[str, Any]) -> dict[str, Any]:
    """Check the folder, record this invocation in ``run.json`` and return the record."""
    record, problem = _read_record(root)
    problem = problem or _conflict(root, record, ident)
    if problem and not overwrite:
        raise OutputConflictError(f"{problem}; {_HINT}")
    history = record["history"] if record else []
    for old in history:
        if old.get("status") == "running":  # this run holds the lock, so that one is gone
            old["status"] = "interrupted"
    if problem:
        entry["replaced"] = problem
        (root / RESULTS).unlink(missing_ok=True)  # never pair this configuration with the old table
        record = None
    if ident["config"] is None and record is not None:  # a run that states no config keeps the folder's
        ident = {**ident, "config": record.get("config")}
    record = {**(record or {}), **ident, "history": [*history, entry]}
    write_record(record, root)
    return record


def write_record(record: dict[str, Any], root: Path) -> None:
    """Write ``run.json`` whole (plain data; other values by ``str``)."""
    text = json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(root / RUN_JSON, lambda tmp: tmp.write_text(text, encoding="utf-8"))

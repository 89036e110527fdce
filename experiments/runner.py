"""Sweeps of cells -> tidy rows, with verified resume, guarded outputs and provenance.

A *sweep* is a list of cells (frozen dataclasses).  A cell runs one model on one
pattern set under one condition, through a pure, module-level function
``run_cell(cell) -> list[dict]``.  The runner

* writes each finished cell atomically to ``OUT/<experiment>/cells/<key>.parquet`` with a
  record of its key, the code that computed it, its row count and a checksum
  (:mod:`experiments.cache`); a rerun reuses only the cells whose record checks out and
  recomputes the others, with one warning line per damaged file;
* runs cells with one of three backends: ``serial`` (in process), ``joblib``
  (processes, one torch thread each) or ``submitit`` (SLURM job arrays through
  ``submitit.AutoExecutor``; without a cluster it runs local subprocesses);
* when every cell is done, concatenates them *in cell order* into
  ``OUT/<experiment>/results.parquet`` (so every backend gives the same table);
* keeps ``OUT/<experiment>/run.json``: the resolved config and provenance of the results,
  and a ``history`` of every invocation (time, command line, cells computed and reused);
* refuses to write into a folder that another run holds (a lock file) or that holds results
  of another configuration, unless ``overwrite=True`` (the command line's ``--overwrite``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.cache import code_fingerprint, read_cell, write_cell
from experiments.outputs import RESULTS, OutputConflictError, identity, lock_folder, now, start, write_record
from models.files import atomic_write

__all__ = [
    "BACKENDS",
    "OutputConflictError",
    "cell_key",
    "run_sweep",
    "provenance",
    "read_results",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "atomic_write_json",
]

BACKENDS = ("serial", "joblib", "submitit")
log = logging.getLogger(__name__)


# -- identity of a cell ---------------------------------------------------------------


def _plain(x: Any) -> Any:
    """JSON-ready version of dataclasses, tuples, paths and numpy scalars."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and callable(x.item):  # numpy / torch scalars
        return x.item()
    return x


def cell_key(cell: Any) -> str:
    """Stable 16-hex key of a cell: sha256 of its class name and fields as sorted JSON."""
    if not dataclasses.is_dataclass(cell) or isinstance(cell, type):
        raise TypeError(f"cells must be dataclass instances, got {type(cell).__name__}")
    blob = json.dumps({"type": type(cell).__name__, "fields": _plain(cell)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# -- atomic files -----------------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """``df.to_parquet`` through a temporary file and ``os.replace``."""
    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def atomic_write_json(obj: Any, path: Path) -> None:
    """Pretty JSON, written atomically."""
    atomic_write_bytes(Path(path), (json.dumps(_plain(obj), indent=2, sort_keys=True, default=str) + "\n").encode())


# -- provenance -------------------------------------------------------------------------


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        commit = out.stdout.strip() or None
        if commit:
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            if dirty:
                commit += "-dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return None


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hopfield-testbed")
    except PackageNotFoundError:
        return "unknown (not installed)"


def provenance(config: Any = None, *, device: str = "cpu") -> dict[str, Any]:
    """Package version, git commit, torch/python versions, machine and the resolved config."""
    import torch

    return {
        "package": "hopfield-testbed",
        "package_version": _package_version(),
        "git_commit": _git_commit(),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "config": _plain(config) if config is not None else None,
    }


# -- backends ---------------------------------------------------------------------------


def _call_cell(run_cell: Callable[[Any], list[dict]], cell: Any) -> list[dict]:
    """Run one cell with one torch thread: tiny models are faster that way on few cores."""
    from models.threads import torch_threads

    with torch_threads(1):
        rows = run_cell(cell)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"run_cell must return a list of dicts, got {type(rows).__name__}")
    return rows


def _serial(run_cell, todo):
    for key, cell in todo:
        yield key, _call_cell(run_cell, cell)


def _joblib(run_cell, todo, jobs):
    from joblib import Parallel, delayed

    def task(key, cell):
        return key, _call_cell(run_cell, cell)

    par = Parallel(n_jobs=jobs, return_as="generator_unordered")
    yield from par(delayed(task)(key, cell) for key, cell in todo)


def _submitit(run_cell, todo, jobs, folder: Path, slurm: dict | None):
    try:
        import submitit
    except ImportError as err:
        raise ImportError("backend='submitit' needs the 'slurm' extra: pip install 'hopfield-testbed[slurm]'") from err
    executor = submitit.AutoExecutor(folder=str(folder))
    params = {"timeout_min": 60, "slurm_array_parallelism": max(jobs, 1)}
    params.update(slurm or {})
    if executor.cluster != "slurm":
        # Without SLURM, AutoExecutor runs each job as a local subprocess; SLURM-only
        # options would be rejected there.
        params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
    executor.update_parameters(**params)
    keys = [k for k, _ in todo]
    cells = [c for _, c in todo]
    jobs_ = executor.map_array(_call_cell, [run_cell] * len(cells), cells)
    pending = dict(zip(keys, jobs_, strict=True))
    while pending:
        done = [k for k, j in pending.items() if j.done()]
        for k in done:
            yield k, pending.pop(k).result()
        if not done:
            time.sleep(0.2)


def _cached_cells(experiment: str, cell_dir: Path, keys: list[str], fingerprint: str) -> tuple[dict, dict]:
    """Verified frames of the finished cells, and counts of reused / damaged / stale cells.

    Each damaged file gets one warning line naming it; stale cells (other code, older runner)
    get one line per reason, naming the first few.
    """
    frames: dict[str, pd.DataFrame] = {}
    counts = {"reused": 0, "damaged": 0, "stale": 0}
    stale: dict[str, list[str]] = {}
    for key in keys:
        path = cell_dir / f"{key}.parquet"
        status = read_cell(path, key, fingerprint)
        if status.frame is not None:
            frames[key] = status.frame
            counts["reused"] += 1
        elif status.stale:
            stale.setdefault(status.problem, []).append(key)
        elif status.problem:
            counts["damaged"] += 1
            log.warning("%s: cell %s (%s) %s; recomputing it", experiment, key, path, status.problem)
    for problem, which in stale.items():
        counts["stale"] += len(which)
        named = ", ".join(which[:3]) + (f" and {len(which) - 3} more" if len(which) > 3 else "")
        log.warning("%s: %d cached cell(s) (%s) %s; recomputing", experiment, len(which), named, problem)
    return frames, counts


# -- the sweep --------------------------------------------------------------------------


def read_results(out_dir: Path | str, experiment: str) -> pd.DataFrame:
    """Read ``OUT/<experiment>/results.parquet`` with a clear error when it is missing."""
    path = Path(out_dir) / experiment / "results.parquet"
    if not path.exists():
        hint = f"run `python -m experiments {experiment}` first"
        raise FileNotFoundError(f"no results for {experiment!r} at {path}; {hint}")
    return pd.read_parquet(path)


def run_sweep(
    experiment: str,
    cells: Sequence[Any],
    run_cell: Callable[[Any], list[dict]],
    out_dir: Path | str,
    *,
    config: Any = None,
    backend: str = "serial",
    jobs: int = 1,
    progress: bool | None = None,
    slurm: dict | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    fingerprint: str | None = None,
) -> pd.DataFrame:
    """Run every cell without a valid cached result and return the full tidy table.

    Parameters
    ----------
    experiment : str
        Name of the experiment; results go to ``out_dir / experiment``.
    cells : sequence of dataclass instances
        The sweep. Cell order fixes the row order of the final table.
    run_cell : callable
        Pure, module-level (picklable) function ``cell -> list[dict]``.
    out_dir : path
        Root output directory.
    config : dataclass or dict, optional
        Resolved config, stored in ``run.json``; with the cells, the *configuration* of the results.
    backend : {"serial", "joblib", "submitit"}
    jobs : int
        Parallel workers (joblib processes, or SLURM array parallelism).
    progress : bool or None
        tqdm progress bar over cells; ``None`` shows it only on a terminal.
    slurm : dict, optional
        Extra ``submitit`` parameters (partition, timeout_min, ...).
    overwrite : bool
        Replace results of another configuration in the folder (otherwise refused).
    fingerprint : str, optional
        Identity of the code that computes the cells; default
        :func:`experiments.cache.code_fingerprint` of ``run_cell``.

    Returns
    -------
    pandas.DataFrame
        Rows of every cell in cell order, with a ``cell`` column holding the cell key.

    Raises
    ------
    OutputConflictError
        (a ``ValueError``) if another run holds the folder, or it holds another configuration.
    """
    keys = _check_sweep(experiment, cells, backend, jobs, overwrite)
    fingerprint = code_fingerprint(run_cell) if fingerprint is None else str(fingerprint)
    root = Path(out_dir) / experiment
    root.mkdir(parents=True, exist_ok=True)
    lock = lock_folder(root)
    try:
        for stale in [*root.glob(".*.tmp"), *(root / "cells").glob(".*.tmp")]:  # left by a killed run
            stale.unlink(missing_ok=True)
        entry = {"started": now(), "status": "running", "command": shlex.join(sys.argv), "fingerprint": fingerprint}
        record = start(root, identity(_plain(config), keys), overwrite, entry)
        started = time.time()
        frames, counts = _cached_cells(experiment, root / "cells", keys, fingerprint)
        todo = [(k, c) for k, c in zip(keys, cells, strict=True) if k not in frames]
        _compute(experiment, run_cell, todo, frames, fingerprint, root, backend, jobs, progress, slurm, len(cells))
        results = pd.concat([frames[k] for k in keys], ignore_index=True) if keys else pd.DataFrame()
        atomic_write_parquet(results, root / RESULTS)
        counts.update(computed=len(todo), seconds=time.time() - started)
        run = {"experiment": experiment, "backend": backend, "jobs": jobs, "fingerprint": fingerprint}
        _finish(root, record, entry, results, counts, run, device)
    finally:
        lock.release()
    return results


def _check_sweep(experiment: str, cells: Sequence[Any], backend: str, jobs: int, overwrite: bool) -> list[str]:
    """Validate the arguments of :func:`run_sweep`; return the cell keys."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {type(overwrite).__name__}")
    keys = [cell_key(c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{experiment}: the sweep contains duplicate cells")
    return keys


def _finish(root, record, entry, results, counts, run, device) -> None:
    """Close this invocation's history entry and describe the new table in ``run.json``."""
    entry.update(
        status="finished",
        finished=now(),
        backend=run["backend"],
        jobs=run["jobs"],
        n_cells=len(results["cell"].unique()) if "cell" in results else 0,
        cells_computed=counts["computed"],
        cells_reused=counts["reused"],
        cells_damaged=counts["damaged"],
        cells_stale=counts["stale"],
        wall_time_s=round(counts["seconds"], 3),
        git_commit=_git_commit(),
    )
    record.update(provenance(record["config"], device=device))
    record.update(
        **run,
        n_cells=entry["n_cells"],
        n_cells_run_now=counts["computed"],
        n_rows=len(results),
        wall_time_s=round(sum(float(h.get("wall_time_s") or 0) for h in record["history"]), 3),
        pattern_set_hashes=sorted(results["pattern_hash"].unique().tolist()) if "pattern_hash" in results else [],
    )
    write_record(record, root)


def _compute(experiment, run_cell, todo, frames, fingerprint, root, backend, jobs, progress, slurm, n_cells) -> None:
    """Run the cells of ``todo``, write each one as it finishes and read it back verified into ``frames``."""
    from tqdm.auto import tqdm

    cell_dir = root / "cells"
    disable = None if progress is None else not progress  # None: only on a terminal
    bar = tqdm(total=n_cells, initial=n_cells - len(todo), desc=experiment, unit="cell", disable=disable)
    try:
        if not todo:
            return
        if backend == "serial":
            stream = _serial(run_cell, todo)
        elif backend == "joblib":
            stream = _joblib(run_cell, todo, jobs)
        else:
            stream = _submitit(run_cell, todo, jobs, root / "submitit", slurm)
        for key, rows in stream:
            path = cell_dir / f"{key}.parquet"
            write_cell(path, key, fingerprint, rows)
            status = read_cell(path, key, fingerprint)
            if status.frame is None:  # another process is writing here, or the disk lies
                raise OSError(f"{experiment}: cell {key} written to {path} does not read back: it {status.problem}")
            frames[key] = status.frame
            bar.update(1)
    finally:
        bar.close()

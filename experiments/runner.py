"""Sweeps of cells -> tidy rows, with resume, atomic writes and provenance.

A *sweep* is a list of cells (frozen dataclasses).  A cell runs one model on one
pattern set under one condition, through a pure, module-level function
``run_cell(cell) -> list[dict]``.  The runner

* writes each finished cell atomically to ``OUT/<experiment>/cells/<key>.parquet``
  (temporary file + ``os.replace``), so Ctrl-C or a killed job never leaves a
  half-written result, and rerunning the same command skips finished cells;
* runs cells with one of three backends: ``serial`` (in process), ``joblib``
  (processes, one torch thread each) or ``submitit`` (SLURM job arrays through
  ``submitit.AutoExecutor``; without a cluster it runs local subprocesses);
* when every cell is done, concatenates them *in cell order* into
  ``OUT/<experiment>/results.parquet`` (so every backend gives the same table) and
  writes provenance to ``OUT/<experiment>/run.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "BACKENDS",
    "cell_key",
    "run_sweep",
    "provenance",
    "read_results",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "atomic_write_json",
]

BACKENDS = ("serial", "joblib", "submitit")


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """``df.to_parquet`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
) -> pd.DataFrame:
    """Run every unfinished cell and return the full tidy table.

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
    config : dataclass, optional
        Resolved experiment config, stored in ``run.json``.
    backend : {"serial", "joblib", "submitit"}
    jobs : int
        Parallel workers (joblib processes, or SLURM array parallelism).
    progress : bool or None
        tqdm progress bar over cells; ``None`` shows it only on a terminal.
    slurm : dict, optional
        Extra ``submitit`` parameters (partition, timeout_min, ...).

    Returns
    -------
    pandas.DataFrame
        Rows of every cell in cell order, with a ``cell`` column holding the cell key.
    """
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    root = Path(out_dir) / experiment
    cell_dir = root / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    keys = [cell_key(c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{experiment}: the sweep contains duplicate cells")
    todo = [(k, c) for k, c in zip(keys, cells, strict=True) if not (cell_dir / f"{k}.parquet").exists()]

    started = time.time()
    disable = None if progress is None else not progress  # None: only on a terminal
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=experiment, unit="cell", disable=disable)
    try:
        if todo:
            if backend == "serial":
                stream = _serial(run_cell, todo)
            elif backend == "joblib":
                stream = _joblib(run_cell, todo, jobs)
            else:
                stream = _submitit(run_cell, todo, jobs, root / "submitit", slurm)
            for key, rows in stream:
                df = pd.DataFrame(rows)
                df.insert(0, "cell", key)
                atomic_write_parquet(df, cell_dir / f"{key}.parquet")
                bar.update(1)
    finally:
        bar.close()

    frames = [pd.read_parquet(cell_dir / f"{k}.parquet") for k in keys]
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    atomic_write_parquet(results, root / "results.parquet")
    prov = provenance(config, device=device)
    prov.update(
        {
            "experiment": experiment,
            "backend": backend,
            "jobs": jobs,
            "n_cells": len(cells),
            "n_cells_run_now": len(todo),
            "n_rows": len(results),
            "wall_time_s": round(time.time() - started, 3),
            "pattern_set_hashes": sorted(results["pattern_hash"].unique().tolist())
            if "pattern_hash" in results
            else [],
        }
    )
    atomic_write_json(prov, root / "run.json")
    return results

"""Evaluation of one transition cell: the exact and fast samplers against the memories' own calls, side by side.

Setting: the quick preset's K = 128 cell (div4, V = L = 32, seed 0; 1024 train and 1024 test
queries at t = 0.1 / 0.25 / 0.5 restored by the learned network, the oracle and the classical
net, 128 generations per memory, the entropies and the divergence), one torch thread.  The
network is trained once (about two minutes) or loaded from ``--checkpoint-root`` (default: the
CLI's ``results/transition/checkpoints``, so that a quick run's network is reused), then the whole
evaluation, ``experiments.transition.run_cell``, is timed ``repeats`` times per path in
alternation, each run in a fresh Python process (the optimised path tunes the C allocator for
the rest of its process, which would otherwise speed up a reference run after it):

* ``before``: ``run_cell(cell, chunk=None)``, every diffusion memory through its own
  ``retrieve`` / ``generate`` / ``denoise`` on whole batches (the evaluation as it was);
* ``exact``: ``run_cell(cell)`` with ``sampler = "exact"``, the row-chunked samplers of
  ``experiments/transition/sampling.py`` drawing the memories' own samples;
* ``fast``: the same with ``sampler = "fast"`` (fused network, bfloat16 matmuls where the CPU
  has native bfloat16, one uniform per token);
* ``fast, with diagnostics``: the fast path with the ``nelbo``, ``fixed_point`` and
  ``entropy_t`` rows, which the other three leave out (the cell as it was before them).

Rows give the best wall and CPU (user + system) seconds of each (inside the process, start-up
excluded), the speed-ups ``before / fast`` and ``before / exact`` as ratios, whether the exact
path's table equals the reference's (every column but the timings, number for number), whether
the fast path's rows without draws do, the fast path's largest recovery difference in standard
errors (:func:`recovery_gap`) and the diagnostics' CPU seconds.  ``--quick``: a tiny cell
(V = L = 8, K = 6, 20 training steps) in seconds.  Run ``python -m benchmarks.transition_eval``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.timing import print_rows, row
from experiments import transition as tr
from experiments.transition.sampling import CHUNK
from models.threads import torch_threads

__all__ = ["run", "quick_cell", "tables_identical", "evaluate"]

LABEL = "transition cell evaluation optimised vs before"
ROOT = Path(__file__).resolve().parents[1]


def quick_cell(quick: bool, checkpoint_root: str | None, diagnostics: bool = True, sampler: str = "exact"):
    """The cell to evaluate: the quick preset at K = 128 (or a tiny one), seed 0; optionally without diagnostics."""
    if quick:
        config = tr.Config(Ks=(6,), N=8, V=8, train_steps=20, batch_size=16, d_model=16, n_heads=2, n_layers=1)
        config = dataclasses.replace(config, ts=(0.1, 0.5), n_eval=200, n_generate=32)
    else:
        config = dataclasses.replace(tr.PRESETS["quick"], Ks=(128,), seeds=(0,))
    if not diagnostics:
        config = dataclasses.replace(config, entropy_ts=(), fixed_point_t=None, nelbo_times=0)
    return tr.cells(dataclasses.replace(config, checkpoint_root=checkpoint_root, sampler=sampler))[0]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def evaluate(spec: dict) -> dict:
    """One timed ``run_cell`` (the body of a fresh process): its rows go to ``spec["out"]``.

    ``spec``: ``quick``, ``root`` (checkpoint root), ``chunk`` (None: reference path),
    ``diagnostics``, ``sampler``, ``threads``, ``out`` (pickle path).  Returns ``{"wall", "cpu"}`` seconds.
    """
    cell = quick_cell(spec["quick"], spec["root"], spec["diagnostics"], spec.get("sampler", "exact"))
    with torch_threads(spec["threads"]):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        rows = tr.run_cell(cell, chunk=spec["chunk"])
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    Path(spec["out"]).write_bytes(pickle.dumps(rows))
    return {"wall": wall, "cpu": cpu}


def _in_a_fresh_process(spec: dict) -> tuple[dict, list[dict]]:
    code = (
        "import json, sys; from benchmarks.transition_eval import evaluate; "
        "print(json.dumps(evaluate(json.loads(sys.argv[1]))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the timed evaluation failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return times, pickle.loads(Path(spec["out"]).read_bytes())


def recovery_gap(a: list[dict], b: list[dict]) -> float:
    """Largest difference of two tables' recovery rows in standard errors of that difference.

    Per (model, split, t): ``|r_a - r_b| / sqrt((s_a^2 + s_b^2) / n)`` with ``s`` the per-query
    standard deviation; two independent samplers of the same distribution give about a standard
    normal per row (the largest of 18 rows: about 2).  The classical rows (no draws) are 0.
    """
    key = ["model", "split", "t"]
    ra, rb = (pd.DataFrame(x).query("kind == 'recovery'").set_index(key) for x in (a, b))
    se = ((ra["recovery_std"] ** 2 + rb["recovery_std"] ** 2) / ra["n"]) ** 0.5
    z = (ra["recovery"] - rb["recovery"]).abs() / se.where(se > 0)
    return float(z.fillna(0.0).max())


def deterministic_rows_identical(a: list[dict], b: list[dict]) -> bool:
    """The rows no draw touches (entropy of clean sequences, divergence, NELBO, training) equal number for number."""

    def keep(rows: list[dict]) -> list[dict]:
        kinds = ("divergence", "nelbo", "training")
        return [r for r in rows if r["kind"] in kinds or (r["kind"] == "entropy" and r["split"] != "generated")]

    return tables_identical(keep(a), keep(b))


def tables_identical(a: list[dict], b: list[dict]) -> bool:
    """The same rows in the same order, every column but ``wall_s`` (and the training timing) equal."""
    skip = ["wall_s", "train_seconds", "loaded"]
    left, right = pd.DataFrame(a).drop(columns=skip), pd.DataFrame(b).drop(columns=skip)
    try:
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    except AssertionError:
        return False
    return True


def run(
    quick: bool = False, threads: int | None = 1, repeats: int | None = None, checkpoint_root: str | None = None
) -> list[dict]:
    """Time the evaluation of one cell by both paths, in alternation, each run in a fresh process.

    Parameters
    ----------
    quick : bool
        A tiny cell (seconds) instead of the quick preset's K = 128 cell (minutes).
    threads : int or None
        Torch intra-op threads of the timed runs; ``None`` keeps torch's default.
    repeats : int, optional
        Evaluations per path (default 1 quick, 3 full).
    checkpoint_root : str, optional
        Where the cell's network is kept (default ``results/transition/checkpoints``; quick:
        a temporary directory).

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}``; ``ratio`` is ``before / optimised``.
    """
    repeats = repeats or (1 if quick else 3)
    with tempfile.TemporaryDirectory(prefix="transition_eval_") as tmp:
        root = checkpoint_root or (tmp if quick else str(ROOT / "results" / tr.NAME / "checkpoints"))
        cell = quick_cell(quick, root)
        with torch_threads(threads):
            train_start = time.perf_counter()
            ps = tr.make_patterns(cell.data, cell.K)
            tr.build_memory("diffusion", cell).fit(ps.train, vocab_size=ps.vocab_size)  # trains, or finds it
            train_seconds = time.perf_counter() - train_start
        runs = {
            "before": (None, False, "exact"),
            "exact": (CHUNK, False, "exact"),
            "fast": (CHUNK, False, "fast"),
            "fast, with diagnostics": (CHUNK, True, "fast"),
        }
        best = {name: [math.inf, math.inf] for name in runs}
        tables = {}
        for _ in range(repeats):
            for name, (chunk, diagnostics, sampler) in runs.items():
                spec = {"quick": quick, "root": root, "chunk": chunk, "diagnostics": diagnostics, "threads": threads}
                spec = {**spec, "sampler": sampler, "out": str(Path(tmp) / "rows.pkl")}
                times, tables[name] = _in_a_fresh_process(spec)
                best[name] = [min(best[name][0], times["wall"]), min(best[name][1], times["cpu"])]
    return _rows(cell, repeats, best, tables, train_seconds)


def _rows(cell, repeats: int, best: dict, tables: dict, train_seconds: float) -> list[dict]:
    size = f"K={cell.K}, V={cell.data.V}, N={cell.data.N}, {cell.evaluation.n_eval} queries"
    (bw, bc), (ew, ec), (fw, fc), (_, dc) = best.values()
    precision = pd.DataFrame(tables["fast"]).query("kind == 'recovery' and model == 'diffusion'")["sampler"].iloc[0]
    return [
        row(f"{LABEL} ({size}), fast sampler [{precision}], wall, best of {repeats}", fw, "s", bw / fw),
        row(f"{LABEL} ({size}), fast sampler [{precision}], CPU, best of {repeats}", fc, "s", bc / fc),
        row(f"{LABEL} ({size}), exact sampler, wall, best of {repeats}", ew, "s", bw / ew),
        row(f"{LABEL} ({size}), exact sampler, CPU, best of {repeats}", ec, "s", bc / ec),
        row(f"transition cell evaluation before ({size}), wall", bw, "s"),
        row(f"transition cell evaluation before ({size}), CPU", bc, "s"),
        row(
            "transition cell tables identical, exact sampler vs before",
            float(tables_identical(tables["before"], tables["exact"])),
            "bool",
        ),
        row(
            "transition cell rows without draws identical, fast sampler vs before",
            float(deterministic_rows_identical(tables["before"], tables["fast"])),
            "bool",
        ),
        row(
            "transition cell recovery, fast vs before, largest |difference| (18 rows)",
            recovery_gap(tables["before"], tables["fast"]),
            "SE",
        ),
        row("transition cell diagnostics (NELBO, fixed points, entropy at 5 t), fast, CPU", dc - fc, "s"),
        row("transition cell network training or loading", train_seconds, "s"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny cell: seconds")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: shared machine)")
    parser.add_argument("--repeats", type=int, help="evaluations per path (default 3; quick 1)")
    parser.add_argument("--checkpoint-root", help="where the cell's network is kept")
    args = parser.parse_args(argv)
    print_rows(run(args.quick, args.threads, args.repeats, args.checkpoint_root), "before / optimised")


if __name__ == "__main__":
    main()

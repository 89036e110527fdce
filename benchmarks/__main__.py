"""Run every benchmark, print one table and optionally write it as markdown.

``python -m benchmarks [--quick] [--out FILE] [--threads N] [--only KEY ...]``

Sections, in order (each a module with ``run(quick=False) -> list[dict]``):

* ``classical``: classical Hopfield async/sync queries/s, sync step FLOP/s vs matmul;
* ``dense_modern``: dense and modern memories, modern update FLOP/s vs matmul;
* ``kernels``: compiled (numba) asynchronous sweeps vs the torch loops, and their compile cost;
* ``diffusion``: diffusion training tokens/s and FLOP/s vs matmul, oracle queries/s vs K;
* ``peers``: hopfieldkit, hopfieldnetwork, dhnn (and hflayers) on identical workloads;
* ``limits``: sync step at N = B = 1024, what limits it, async dispatch cost, modern update;
* ``scaling``: fitted cost exponents of every memory in N, K and B;
* ``transition_eval``: one transition cell evaluated by the row-chunked samplers and by the
  memories' own calls, side by side (trains the quick K = 128 network once if not found).

The markdown (``--out``) adds the machine's description, the performance targets
and the machine-limit summary.  ``docs/benchmarks.md`` is this output for the reference
machine: ``python -m benchmarks --out docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import time
from datetime import UTC, datetime

from benchmarks import report
from benchmarks.machine import describe, load_average
from models.threads import torch_threads

#: (key, title, what the ratio column means)
SECTIONS = (
    (
        "classical",
        "Classical Hopfield retrieval (N=1000, K=100, B=1024, 10 % flips)",
        "sync step FLOP/s as a fraction of plain matmuls of the same shapes and dtype (Hebbian low rank, float32)",
    ),
    ("dense_modern", "Dense and modern memories", "modern update FLOP/s as a fraction of a plain float64 matmul"),
    (
        "kernels",
        "Compiled asynchronous sweeps against the torch loops",
        "the compiled path's speed-up over the torch loop, both timed in alternation in this run",
    ),
    (
        "diffusion",
        "Diffusion memory: training and retrieval",
        "training FLOP/s as a fraction of a float32 matmul (square 1024, or the model's own shape)",
    ),
    (
        "peers",
        "Peers on identical workloads (Hebb, K = 0.1 N, B = 256, 10 % flips)",
        "our queries/s over the peer's (our speed-up); on our rows, over the fastest peer",
    ),
    ("limits", "The machine's limit", "fraction of the plain matmul's FLOP/s unless the row says otherwise"),
    (
        "scaling",
        "Scaling of retrieval cost in N (or L), K and B",
        "per-query-step exponent over the arithmetic exponent (where that is not 0)",
    ),
    (
        "transition_eval",
        "Transition cell evaluation (quick preset, K = 128): optimised samplers vs before",
        "speed-up: seconds before over seconds optimised, timed in alternation",
    ),
)
KEYS = tuple(key for key, _, _ in SECTIONS)


def run_sections(quick: bool, threads: int, only: tuple[str, ...] | None = None, log=None) -> list[dict]:
    """Run the benchmark modules and collect their rows.

    Parameters
    ----------
    quick : bool
        Pass ``quick=True`` to every module (smoke sizes).
    threads : int
        Torch intra-op threads for all of them (restored afterwards); modules that take a
        ``threads`` argument get it too.
    only : tuple of str, optional
        Keys of :data:`SECTIONS` to run (default: all).
    log : file-like, optional
        Progress messages go here (default: none).

    Returns
    -------
    list of dict
        Sections ``{"key", "title", "module", "ratio", "rows", "seconds", "load"}``.
    """
    sections = []
    with torch_threads(threads):
        for key, title, ratio in SECTIONS:
            if only is not None and key not in only:
                continue
            module = importlib.import_module(f"benchmarks.{key}")
            kwargs = {"quick": quick}
            if "threads" in inspect.signature(module.run).parameters:
                kwargs["threads"] = threads
            load = load_average()
            if log is not None:
                print(f"[benchmarks] {key} (load {load}) ...", file=log, flush=True)
            t0 = time.perf_counter()
            rows = module.run(**kwargs)
            sections.append(
                {
                    "key": key,
                    "title": title,
                    "module": f"benchmarks.{key}",
                    "ratio": ratio,
                    "rows": rows,
                    "seconds": time.perf_counter() - t0,
                    "load": load,
                }
            )
    return sections


#: A line in the markdown report after which hand-written notes (measurements made outside
#: ``python -m benchmarks``, e.g. experiment wall times) survive regeneration.
KEEP_MARKER = "<!-- hand-written below: kept when python -m benchmarks rewrites this file -->"


def _kept_tail(path: str) -> str:
    """The hand-written tail of an existing report (from :data:`KEEP_MARKER` on), or ``""``."""
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        return ""
    at = old.find(KEEP_MARKER)
    return "" if at < 0 else "\n" + old[at:]


def main(argv: list[str] | None = None) -> list[dict]:
    """Command-line entry point; returns the sections (for tests)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes for every benchmark (seconds)")
    parser.add_argument("--out", help="also write the report as markdown to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1: shared machine)")
    parser.add_argument("--only", nargs="+", choices=KEYS, help="run only these sections")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    args = parser.parse_args(argv)

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load_average()
    t0 = time.perf_counter()
    sections = run_sections(
        args.quick, args.threads, tuple(args.only) if args.only else None, None if args.quiet else sys.stderr
    )
    total = time.perf_counter() - t0

    with torch_threads(args.threads):  # so the description shows the threads the benchmarks used
        machine = describe()
    machine["load average"] = f"{load_start} at start, {load_average()} at end (1 / 5 / 15 min)"
    machine["benchmark threads"] = f"{args.threads} (torch intra-op and numpy BLAS)"

    print(f"machine: {machine['cpu']}, {machine['cores']}, torch {machine['torch']}, load {machine['load average']}")
    print(report.text_table(sections))
    print()
    for t in report.targets(sections):
        met = {True: "MET", False: "MISSED", None: "n/a"}[t["met"]]
        print(f"target [{met}] {t['target']}: {t['measured']}")
    if args.out:
        command = "python -m benchmarks" + (" --quick" if args.quick else "") + f" --out {args.out}"
        if args.threads != 1:
            command += f" --threads {args.threads}"
        if args.only:
            command += " --only " + " ".join(args.only)
        text = report.markdown(machine, sections, command, started, total) + _kept_tail(args.out)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"\nwrote {args.out}")
    return sections


if __name__ == "__main__":
    main()

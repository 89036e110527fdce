"""Compiled (numba) asynchronous sweeps against the torch loops they replace, and what they cost to compile.

Rows (the ratio column is the compiled path's speed-up over the torch loop, both timed in one
run, in alternation, as best of several calls; the retrievals agree, which the row checks):

* ``classical async compiled vs torch``: Hebbian classical memory, ``K = 0.1 N``, queries with
  10 % of the spins flipped, ``N = 1024, B = 256`` and ``N = 256, B = 256`` (the peers'
  workloads, :mod:`benchmarks.peers`); then the compiled path on two threads against one;
* ``dense x^3 compiled vs torch``: ``F = x^3``, ``N = K = 1000``, ``B = 1024`` (the dense
  benchmark's workload, :mod:`benchmarks.dense_modern`), and ``F = exp`` (``beta = 1``) at
  ``B = 128``;
* compile cost: a fresh process retrieving once with every compiled kernel the memories use
  (classical spins in float32 and float64, Potts, dense spins, dense tokens, dense exp), with an
  empty on-disk cache (numba compiles), with the cache just written (numba loads), and with
  ``kernel="torch"`` (nothing to compile), in seconds.

``python -m benchmarks.kernels [--quick]``; :func:`run` returns the rows for ``python -m benchmarks``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import torch

import models
from benchmarks.dense_modern import _problem
from benchmarks.timing import flipped_queries, interleaved_best, module_parser, print_rows, row
from models.threads import torch_threads

__all__ = ["run"]

#: Retrieves once with every compiled kernel (the compile-cost probe, run in a fresh process).
_PROBE = """
import time, torch, models
t0 = time.perf_counter()
g = torch.Generator().manual_seed(0)
for name, hyper, V in [("classical", {}, 2), ("classical", {"rule": "storkey"}, 2), ("classical", {}, 3),
                       ("dense", {}, 2), ("dense", {}, 3), ("dense", {"F": "exp"}, 2)]:
    P = torch.randint(0, V, (4, 32), generator=g)
    models.make(name, kernel=KERNEL, **hyper).fit(P, vocab_size=V).retrieve(P)
print(time.perf_counter() - t0)
"""


def _probe_seconds(kernel: str, cache_dir: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    code = _PROBE.replace("KERNEL", repr(kernel))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _compile_rows() -> list[dict]:
    with tempfile.TemporaryDirectory() as cache:
        cold = _probe_seconds("numba", cache)
        warm = _probe_seconds("numba", cache)
        plain = _probe_seconds("torch", cache)
    return [
        row("compiled kernels: first retrievals in a fresh process, empty cache (numba compiles)", cold, "s"),
        row("compiled kernels: first retrievals in a fresh process, on-disk cache (numba loads)", warm, "s"),
        row("same first retrievals with kernel='torch' (nothing to compile)", plain, "s"),
    ]


def _compare(memories: dict, queries: torch.Tensor, repeats: int, inner: dict | None = None) -> tuple[dict, dict]:
    """Time the ``"numba"`` and ``"torch"`` retrievals in alternation; check that they agree.

    A two-query call first loads the compiled code (and the first call's allocations), so the
    timed calls are all warm; the last result of each memory is compared.
    """
    outs = {}

    def call(kernel: str, q: torch.Tensor) -> None:
        outs[kernel] = memories[kernel].retrieve(q, generator=torch.Generator().manual_seed(1))

    for kernel in memories:
        call(kernel, queries[:2])
    t = interleaved_best({k: (lambda k=k: call(k, queries)) for k in memories}, repeats, warmup=False, inner=inner)
    same = torch.equal(outs["numba"].states, outs["torch"].states)
    return t, {"same": same, "steps": float(outs["numba"].steps.double().mean())}


def _classical(N: int, B: int, repeats: int) -> list[dict]:
    K = round(0.1 * N)
    g = torch.Generator().manual_seed(N)  # the peers benchmark's patterns and queries
    patterns = torch.randint(0, 2, (K, N), generator=g)
    queries, _ = flipped_queries(patterns, B, 0.1, g)
    memories = {k: models.make("classical", rule="hebb", kernel=k).fit(patterns) for k in ("numba", "torch")}
    t, info = _compare(memories, queries, repeats, inner={"numba": 5})
    compiled = memories["numba"]
    with torch_threads(2):
        two = interleaved_best({"numba": lambda: compiled.retrieve(queries)}, repeats, inner={"numba": 5})["numba"]
    tag = f"N={N} K={K} B={B}"
    agree = "same states" if info["same"] else "STATES DIFFER"
    return [
        row(
            f"classical async compiled vs torch, {tag} ({info['steps']:.2g} sweeps per query, {agree}; "
            "ratio: speed-up)",
            B / t["numba"],
            "queries/s",
            t["torch"] / t["numba"],
        ),
        row(f"classical async torch loop, {tag}", B / t["torch"], "queries/s"),
        row(
            f"classical async compiled on 2 threads, {tag} (ratio: over 1 thread)",
            B / two,
            "queries/s",
            t["numba"] / two,
        ),
    ]


def _dense(N: int, K: int, B: int, F: str, repeats: int) -> list[dict]:
    patterns, _, queries = _problem(N, K, B)
    memories = {k: models.make("dense", F=F, n=3, beta=1.0, kernel=k).fit(patterns) for k in ("numba", "torch")}
    t, info = _compare(memories, queries, repeats)
    label = "x^3" if F == "poly" else "exp (beta=1)"
    agree = "same states" if info["same"] else "STATES DIFFER"
    return [
        row(
            f"dense {label} compiled vs torch, N={N} K={K} B={B} ({info['steps']:.2g} sweeps per query, {agree}; "
            "ratio: speed-up)",
            B / t["numba"],
            "queries/s",
            t["torch"] / t["numba"],
        ),
        row(f"dense {label} torch loop, N={N} K={K} B={B}", B / t["torch"], "queries/s"),
    ]


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Compiled sweeps against the torch loops, and the compile cost.

    Parameters
    ----------
    quick : bool
        Small sizes (``N = 256``, dense ``N = K = 200``, ``B = 64``), one repeat, no compile probe.
    threads : int or None
        Torch intra-op threads, which the compiled sweeps follow (restored afterwards).

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}``.
    """
    with torch_threads(threads):
        if quick:
            return _classical(256, 64, 1) + _dense(200, 200, 64, "poly", 1) + _dense(200, 200, 32, "exp", 1)
        rows = _classical(1024, 256, 3) + _classical(256, 256, 3)
        rows += _dense(1000, 1000, 1024, "poly", 1) + _dense(1000, 1000, 128, "exp", 1)
        start = time.perf_counter()
        rows += _compile_rows()
        rows.append(row("compile-cost probe, wall time", time.perf_counter() - start, "s"))
        return rows


def main(argv: list[str] | None = None) -> None:
    args = module_parser(__doc__, "small sizes, no compile probe: seconds").parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()

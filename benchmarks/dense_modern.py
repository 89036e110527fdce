"""Throughput of the dense and modern memories, and the modern update's FLOP/s against a plain matmul.

Setting: ``N = 1000`` spins, ``K = 1000`` random stored patterns, a batch of
``B = 1024`` queries, each a stored pattern with exactly 10 % of its spins flipped.

* Dense (``F = x^3``, the default kernel: compiled sweeps on the CPU, :mod:`benchmarks.kernels`
  compares them with the torch loop): queries/second for a full retrieval (until a sweep changes nothing)
  and for one sweep only (``max_steps=1``, "sweep-limited"); exponential dense
  (``beta = 1``) for one sweep. One asynchronous sweep visits
  all ``N`` sites in turn, each site an ``O(B K)`` step, so a sweep is ``N`` small steps
  that cannot be fused into one matmul.
* Modern (``beta = 1``): queries/second for a full retrieval (float64 iteration to
  ``tol``), and the FLOP/s of one update ``X^T softmax(beta X xi)`` (``4 B N K`` flops:
  two matmuls) as a fraction of the FLOP/s of one plain float64 ``torch.matmul`` of shape
  ``(B, N) @ (N, K)`` (``2 B N K`` flops), timed in the same run.

Run ``python -m benchmarks.dense_modern`` (add ``--quick`` for a small smoke run).
"""

from __future__ import annotations

import time

import torch

import models
from benchmarks.timing import best_time, module_parser, print_rows, row
from models.threads import torch_threads

__all__ = ["run"]


def _problem(N: int, K: int, B: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random binary patterns ``(K, N)``, targets ``(B, N)`` and queries with 10 % flipped tokens."""
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (K, N), generator=g)  # (K, N)
    targets = patterns[torch.arange(B) % K]  # (B, N)
    flip_at = torch.argsort(torch.rand(B, N, generator=g), dim=1)[:, : N // 10]  # (B, N/10) exactly 10 %
    queries = targets.clone()
    queries.scatter_(1, flip_at, 1 - targets.gather(1, flip_at))
    return patterns, targets, queries


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Measure throughput and FLOP/s.

    Parameters
    ----------
    quick : bool
        Small sizes (``N = K = 200``, ``B = 128``) for a seconds-long smoke run.
    threads : int or None
        Torch intra-op threads for the measurement (restored afterwards); ``None`` keeps
        the current setting.

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}``. ``ratio`` is the modern update's
        FLOP/s as a fraction of the plain matmul's, and ``None`` on the other rows.
    """
    N, K, B = (200, 200, 128) if quick else (1000, 1000, 1024)
    repeats = 2 if quick else 3
    with torch_threads(threads):
        patterns, targets, queries = _problem(N, K, B)
        rows = [
            row("N", N, "spins"),
            row("K", K, "patterns"),
            row("B", B, "queries"),
            row("threads", torch.get_num_threads(), "threads"),
        ]

        dense = models.make("dense", F="poly", n=3).fit(patterns)
        dense.retrieve(queries[:2])  # loads the compiled sweeps (benchmarks.kernels times their compilation)
        t0 = time.perf_counter()
        full = dense.retrieve(queries, generator=torch.Generator().manual_seed(0))
        t_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        dense.retrieve(queries, max_steps=1, generator=torch.Generator().manual_seed(0))
        t_sweep = time.perf_counter() - t0
        rows += [
            row("dense_poly3_retrieve_full", B / t_full, "queries/s"),
            row("dense_poly3_sweeps_used", full.steps.double().mean(), "sweeps"),
            row("dense_poly3_exact", (full.states == targets).all(1).double().mean(), "fraction"),
            row("dense_poly3_retrieve_one_sweep", B / t_sweep, "queries/s"),
        ]
        dense_exp = models.make("dense", F="exp", beta=1.0).fit(patterns)
        dense_exp.retrieve(queries[:2])
        t0 = time.perf_counter()
        dense_exp.retrieve(queries, max_steps=1, generator=torch.Generator().manual_seed(0))
        rows.append(row("dense_exp_retrieve_one_sweep", B / (time.perf_counter() - t0), "queries/s"))

        modern = models.make("modern", beta=1.0).fit(patterns)
        t_modern = best_time(lambda: modern.retrieve(queries), repeats)
        out = modern.retrieve(queries)
        rows += [
            row("modern_retrieve_full", B / t_modern, "queries/s"),
            row("modern_updates_used", out.steps.double().mean(), "updates"),
            row("modern_exact", (out.states == targets).all(1).double().mean(), "fraction"),
        ]

        xi = modern.encode(queries)  # (B, N) float64
        X = modern.stored_patterns_  # (K, N) float64
        t_update = best_time(lambda: modern.update(xi), repeats)
        t_matmul = best_time(lambda: torch.matmul(xi, X.T), repeats)
        update_flops = 4.0 * B * N * K / t_update  # two matmuls; softmax is O(B K), not counted
        matmul_flops = 2.0 * B * N * K / t_matmul
        rows += [
            row("matmul_float64", matmul_flops / 1e9, "GFLOP/s"),
            row("modern_update_float64", update_flops / 1e9, "GFLOP/s", update_flops / matmul_flops),
        ]
        return rows


def main(argv: list[str] | None = None) -> None:
    args = module_parser(__doc__, "small sizes, seconds").parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()

"""Throughput of classical Hopfield retrieval.

``python -m benchmarks.classical [--quick]`` prints queries per second of asynchronous and
synchronous retrieval (Hebb, ``N = 1000``, ``K = 100``, ``B = 1024`` queries with 10 % of the
bits flipped) and the synchronous step's achieved FLOP/s (``2 A N^2`` per step, ``A`` the
states still moving) as a fraction of plain ``torch.matmul`` calls of the same shapes and
dtype timed in the same run.

:func:`run` returns the rows, so ``python -m benchmarks`` can collect them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from models.classical import ClassicalHopfield

N, K, B, FLIP = 1000, 100, 1024, 0.1


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls (seconds); the best is the least disturbed run."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _queries(patterns: torch.Tensor, n_queries: int, g: torch.Generator) -> torch.Tensor:
    """``long (n_queries, N)`` stored patterns (cycled) with ``FLIP * N`` bits flipped each."""
    q = patterns[torch.arange(n_queries) % patterns.shape[0]]  # (B, N)
    pos = torch.argsort(torch.rand(q.shape, generator=g), dim=1)[:, : round(FLIP * N)]  # (B, n_flip)
    return q.scatter(1, pos, 1 - q.gather(1, pos))


def _timed_retrieval(update: str, patterns: torch.Tensor, queries: torch.Tensor, repeats: int):
    """Fit a Hebbian memory; return it, one retrieval of ``queries`` and its best time (s)."""
    model = ClassicalHopfield(rule="hebb", update=update).fit(patterns)
    model.retrieve(queries[:8])  # warm-up: first-call allocations, BLAS initialisation

    def call():
        return model.retrieve(queries, generator=torch.Generator().manual_seed(1))

    return model, call(), _best_time(call, repeats)


def run(quick: bool = False) -> list[dict]:
    """Measure retrieval throughput.

    Parameters
    ----------
    quick : bool
        Use 128 queries and fewer repeats (for smoke tests); the default is the full size.

    Returns
    -------
    list of dict
        Rows with keys ``name``, ``value``, ``unit`` and ``ratio``: for the FLOP/s rows, the
        fraction of the plain matmul's FLOP/s; None for the queries/s rows.
    """
    n_queries, repeats = (128, 1) if quick else (B, 3)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)  # (K, N)
    queries = _queries(patterns, n_queries, g)  # (B, N)
    _, _, async_seconds = _timed_retrieval("async", patterns, queries, repeats)
    model, result, sync_seconds = _timed_retrieval("sync", patterns, queries, repeats)
    # The sync loop multiplies the states still moving: step t has as many rows as states
    # that used at least t steps.  The plain matmul is timed on exactly those shapes.
    steps = result.steps
    active_rows = [int((steps >= t).sum()) for t in range(1, int(steps.max()) + 1)]
    flop = 2 * N * N * sum(active_rows)
    sync_flops = flop / sync_seconds

    W = model.weights_  # (N, N) float64, as the dynamics use it
    X = torch.sign(torch.randn(n_queries, N, generator=g, dtype=W.dtype))  # (B, N)
    matmul_seconds = _best_time(lambda: [X[:a] @ W for a in active_rows], 5 * repeats)
    matmul_flops = flop / matmul_seconds
    return [
        dict(name="classical async retrieval", value=n_queries / async_seconds, unit="queries/s", ratio=None),
        dict(name="classical sync retrieval", value=n_queries / sync_seconds, unit="queries/s", ratio=None),
        dict(name="classical sync step", value=sync_flops, unit="FLOP/s", ratio=sync_flops / matmul_flops),
        dict(name="plain torch.matmul, same shapes", value=matmul_flops, unit="FLOP/s", ratio=1.0),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 queries, one repeat")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"N={N} K={K} B={128 if args.quick else B} flips={FLIP:.0%} float64, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s)"
    )
    for row in run(quick=args.quick):
        ratio = "" if row["ratio"] is None else f"  ({row['ratio']:.2f} of matmul)"
        print(f"{row['name']:<40} {row['value']:>12.4g} {row['unit']}{ratio}")


if __name__ == "__main__":
    main()

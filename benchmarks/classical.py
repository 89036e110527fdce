"""Throughput of classical Hopfield retrieval.

``python -m benchmarks.classical [--quick]`` prints queries per second of asynchronous and
synchronous retrieval (Hebb, ``N = 1000``, ``K = 100``, ``B = 1024`` queries with 10 % of the
bits flipped) and the synchronous step's achieved FLOP/s as a fraction of plain
``torch.matmul`` calls of the same shapes and dtype timed in the same run.  The flops counted
are those the model does: Hebbian sync fields go through the patterns, ``(s xi^T) xi``, two
float32 products ``(A, N) @ (N, K)`` and ``(A, K) @ (K, N)``, ``4 A N K`` flops per step for
the ``A`` states still moving (``models.classical``); the plain matmuls are those two products.
The dense float64 step (``2 A N^2``) is measured by :mod:`benchmarks.limits`.

:func:`run` returns the rows, so ``python -m benchmarks`` can collect them.
"""

from __future__ import annotations

import torch

from benchmarks.machine import load_average
from benchmarks.timing import best_time, flipped_queries, interleaved_best, module_parser, print_rows, row
from models.classical import ClassicalHopfield

N, K, B, FLIP = 1000, 100, 1024, 0.1


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
    queries, _ = flipped_queries(patterns, n_queries, FLIP, g)  # (B, N)
    memories = {update: ClassicalHopfield(rule="hebb", update=update).fit(patterns) for update in ("async", "sync")}

    def retrieve(update: str):
        return memories[update].retrieve(queries, generator=torch.Generator().manual_seed(1))

    async_seconds = best_time(lambda: retrieve("async"), repeats)
    # The sync loop multiplies the states still moving: step t has as many rows as states
    # that used at least t steps.  The plain matmuls are timed on exactly those shapes, in
    # alternation with the retrieval so that load from other processes hits both alike.
    steps = retrieve("sync").steps
    active_rows = [int((steps >= t).sum()) for t in range(1, int(steps.max()) + 1)]
    xi = (2 * patterns - 1).float()  # (K, N) the factors the Hebbian fields are computed from
    X = torch.sign(torch.randn(n_queries, N, generator=g))  # (B, N) float32
    seconds = interleaved_best(
        {"sync": lambda: retrieve("sync"), "matmul": lambda: [(X[:a] @ xi.mT) @ xi for a in active_rows]},
        repeats,
    )
    flop = 4 * N * K * sum(active_rows)
    sync_flops, matmul_flops = flop / seconds["sync"], flop / seconds["matmul"]
    return [
        row("classical async retrieval", n_queries / async_seconds, "queries/s"),
        row("classical sync retrieval", n_queries / seconds["sync"], "queries/s"),
        row("classical sync step", sync_flops, "FLOP/s", sync_flops / matmul_flops),
        row("plain torch.matmul, same shapes", matmul_flops, "FLOP/s", 1.0),
    ]


def main(argv: list[str] | None = None) -> None:
    args = module_parser(__doc__, "128 queries, one repeat").parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"N={N} K={K} B={128 if args.quick else B} flips={FLIP:.0%}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {load_average()}"
    )
    print_rows(run(quick=args.quick), ratio_label="of matmul:")


if __name__ == "__main__":
    main()

"""How each memory's retrieval cost grows with the pattern length ``N``, the store ``K`` and the batch ``B``.

For every memory one variable is varied at a time around a base point (a few points,
factors of 2 to 4 apart), the retrieval is timed, and the exponent ``a`` of
``time ~ x^a`` is fitted by least squares on a log-log scale
(:func:`benchmarks.timing.loglog_slope`).  Two exponents are reported:

* of the **retrieval time** (what a user pays: it includes the number of steps, which
  can itself change with ``N`` and ``K``, e.g. with the load ``K/N`` of a classical net;
  the classical nets therefore vary ``N`` at a fixed load ``K = 0.1 N``);
* of the **time per query-step**, the retrieval time divided by ``sum_b steps_b`` (updates,
  sweeps or sampler steps summed over the batch), next to the exponent the arithmetic
  predicts.  Where the measured exponent is below the arithmetic one, fixed per-step or
  per-site overhead still dominates at these sizes; a per-query-step exponent below 0
  in ``B`` is that overhead being shared by more queries.

Memories, cost models (FLOPs per query-step) and base points; binary memories use random
patterns and queries with 10 % of the spins flipped, the diffusion memories ``V = 8``
tokens corrupted at ``t = 0.25`` and the ancestral sampler (26 steps):

===================  =====================  ================================
memory               arithmetic per step    base (``N``/``L``, ``K``, ``B``)
===================  =====================  ================================
classical sync       ``4 N K`` (Hebb)       1024, 102, 256
classical async      ``N + 2 N x flips``    512, 51, 128
dense ``x^3`` async  ``~ N K``              256, 256, 64
modern               ``4 N K``              512, 512, 256
oracle               ``~ L K V``            16, 512, 64
diffusion (learned)  ``~ L`` (network)      16, 8, 32
===================  =====================  ================================

:func:`run` returns rows ``{"name", "value", "unit", "ratio"}``: one per memory and
variable with the fitted exponent as ``value`` (unit ``exponent``), and ``ratio`` the
per-query-step exponent over the arithmetic one where that is not 0; and one row per
memory with the time per query-step at the base point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchmarks.timing import best_time, flipped_queries, loglog_slope, module_parser, print_rows, row
from models.threads import torch_threads

__all__ = ["run", "CASES"]


@dataclass(frozen=True)
class _Case:
    """One memory: how to build it, its base point, the grid per variable, its cost model."""

    label: str
    name: str  # registry name for models.make
    hyper: dict
    base: dict  # {"N": ..., "K": ..., "B": ...}
    grid: dict  # variable -> values (full run)
    quick_base: dict
    quick_grid: dict
    cost: dict  # variable -> arithmetic exponent per query-step
    vocab: int = 2
    length: str = "N"  # what the pattern length is called for this memory
    load: float | None = None  # when set, K = round(load * N) as N varies (classical nets: fixed load)


CASES = (
    _Case(
        "classical sync",
        "classical",
        {"rule": "hebb", "update": "sync"},
        {"N": 1024, "K": 102, "B": 256},
        {"N": (256, 512, 1024, 2048), "K": (51, 102, 204), "B": (64, 256, 1024)},
        {"N": 64, "K": 6, "B": 32},
        {"N": (64, 128), "K": (6, 12), "B": (16, 64)},
        # Hebbian sync fields go through the patterns, (s xi^T) xi: 4 N K per query-step
        # (models.classical), which at the fixed load K = 0.1 N is still N^2.
        {"N": 2, "K": 1, "B": 0},
        load=0.1,
    ),
    _Case(
        "classical async",
        "classical",
        {"rule": "hebb", "update": "async"},
        {"N": 512, "K": 51, "B": 128},
        {"N": (256, 512, 1024), "K": (26, 51, 102), "B": (32, 128, 512)},
        {"N": 64, "K": 6, "B": 16},
        {"N": (32, 64), "K": (3, 6), "B": (8, 16)},
        {"N": 2, "K": 0, "B": 0},
        load=0.1,
    ),
    _Case(
        "dense x^3 async",
        "dense",
        {"F": "poly", "n": 3},
        {"N": 256, "K": 256, "B": 64},
        {"N": (128, 256, 512), "K": (128, 256, 512, 1024), "B": (16, 64, 256)},
        {"N": 32, "K": 32, "B": 16},
        {"N": (16, 32), "K": (16, 32), "B": (8, 16)},
        {"N": 1, "K": 1, "B": 0},
    ),
    _Case(
        "modern",
        "modern",
        {"beta": 1.0},
        {"N": 512, "K": 512, "B": 256},
        {"N": (256, 512, 1024, 2048), "K": (256, 512, 1024, 2048), "B": (64, 256, 1024)},
        {"N": 64, "K": 64, "B": 32},
        {"N": (32, 64), "K": (32, 64), "B": (16, 32)},
        {"N": 1, "K": 1, "B": 0},
    ),
    _Case(
        "oracle",
        "oracle",
        {},
        {"N": 16, "K": 512, "B": 64},
        {"N": (8, 16, 32), "K": (256, 1024, 4096), "B": (16, 64, 256)},
        {"N": 8, "K": 16, "B": 8},
        {"N": (4, 8), "K": (8, 16), "B": (4, 8)},
        {"N": 1, "K": 1, "B": 0},
        vocab=8,
        length="L",
    ),
    _Case(
        "diffusion (learned)",
        "diffusion",
        {"train_steps": 1},  # retrieval cost does not depend on how well it is trained
        {"N": 16, "K": 8, "B": 32},
        {"N": (8, 16, 32), "K": (8, 64, 512), "B": (8, 32, 128)},
        {"N": 8, "K": 8, "B": 8},
        {"N": (4, 8), "K": (4, 8), "B": (4, 8)},
        {"N": 1, "K": 0, "B": 0},
        vocab=8,
        length="L",
    ),
)


def _problem(case: _Case, N: int, K: int, B: int) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    """Stored patterns ``(K, N)``, queries ``(B, N)`` and the noise level to pass to retrieve."""
    g = torch.Generator().manual_seed(N * 7919 + K * 31 + B)
    patterns = torch.randint(0, case.vocab, (K, N), generator=g)
    if case.vocab == 2:
        queries, _ = flipped_queries(patterns, B, 0.1, g)
        return patterns, queries, None
    from models.diffusion.process import corrupt

    queries = corrupt(patterns[torch.arange(B) % K], 0.25, case.vocab, generator=g)
    return patterns, queries, 0.25


def _measure(case: _Case, N: int, K: int, B: int, repeats: int) -> tuple[float, int]:
    """Best retrieval time (s) and ``sum_b steps_b`` at one point."""
    import models

    patterns, queries, noise = _problem(case, N, K, B)
    memory = models.make(case.name, **case.hyper).fit(patterns, vocab_size=case.vocab)

    def call():
        return memory.retrieve(queries, noise=noise, generator=torch.Generator().manual_seed(1))

    seconds = best_time(call, repeats)
    return seconds, int(call().steps.sum())


def run(quick: bool = False, threads: int | None = 1, cases: tuple[str, ...] | None = None) -> list[dict]:
    """Fit the cost exponents of every memory in ``N``, ``K`` and ``B``.

    Parameters
    ----------
    quick : bool
        Two tiny points per variable, one repeat (a smoke run of seconds; the exponents
        then mostly measure overhead).
    threads : int or None
        Torch intra-op threads (restored afterwards); ``None`` keeps the current setting.
    cases : tuple of str, optional
        Labels of the memories to run (default: all of :data:`CASES`).

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}`` (see the module docstring).
    """
    repeats = 1 if quick else 2
    rows: list[dict] = []
    with torch_threads(threads):
        for case in CASES:
            if cases is not None and case.label not in cases:
                continue
            rows += _case_rows(case, quick, repeats)
    return rows


def _case_rows(case: _Case, quick: bool, repeats: int) -> list[dict]:
    base = case.quick_base if quick else case.base
    grid = case.quick_grid if quick else case.grid
    measure: Callable[[dict], tuple[float, int]] = lambda p: _measure(case, p["N"], p["K"], p["B"], repeats)  # noqa: E731
    cache: dict[tuple[int, int, int], tuple[float, int]] = {}
    rows = []
    seconds, query_steps = cache.setdefault(tuple(base.values()), measure(base))
    where = ", ".join(f"{case.length if k == 'N' else k}={v}" for k, v in base.items())
    rows.append(row(f"{case.label}: time per query-step at {where}", seconds / query_steps * 1e6, "us"))
    for var, values in grid.items():
        times, per_step = [], []
        for v in values:
            point = {**base, var: v}
            if var == "N" and case.load is not None:
                point["K"] = max(1, round(case.load * v))  # same load K/N, so the same dynamics
            key = tuple(point.values())
            if key not in cache:
                cache[key] = measure(point)
            t, s = cache[key]
            times.append(t)
            per_step.append(t / s)
        span = f"{case.length if var == 'N' else var} in {values[0]}..{values[-1]}"
        if var == "N" and case.load is not None:
            span += f" at K/N={case.load:g}"
        model_exponent = case.cost[var]
        slope = loglog_slope(list(values), per_step)
        rows += [
            row(f"{case.label}: retrieval time vs {span}", loglog_slope(list(values), times), "exponent"),
            row(
                f"{case.label}: time per query-step vs {span} (arithmetic: {model_exponent:g})",
                slope,
                "exponent",
                slope / model_exponent if model_exponent else None,
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = module_parser(__doc__, "tiny sizes: seconds")
    parser.add_argument("--case", action="append", help="memory label to run (repeatable; default all)")
    args = parser.parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads, cases=tuple(args.case) if args.case else None))


if __name__ == "__main__":
    main()

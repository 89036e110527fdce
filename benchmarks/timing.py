"""Small helpers shared by the benchmark modules: timing, rows, workloads, log-log fits.

Timings on a shared machine are noisy: other processes steal cycles at random.  The
helpers here therefore take the *minimum* over repeats (the least disturbed run) and,
where two things are compared, time them in alternation (:func:`interleaved_best`) so
that a burst of load hits both sides, and the reported ratio is a like-for-like one.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterable, Mapping

import torch

__all__ = [
    "row",
    "print_rows",
    "module_parser",
    "best_time",
    "interleaved_best",
    "calls_for",
    "loglog_slope",
    "flipped_queries",
]


def row(name: str, value: float, unit: str, ratio: float | None = None) -> dict:
    """One result row ``{"name", "value", "unit", "ratio"}`` (the benchmarks' common format).

    Parameters
    ----------
    name : str
        What was measured, with the setting (sizes, peer) that distinguishes it.
    value : float
        The measurement; NaN for a measurement that was skipped.
    unit : str
        Unit of ``value`` (``"queries/s"``, ``"FLOP/s"``, ``"exponent"``, ...).
    ratio : float, optional
        A dimensionless comparison; its meaning is given by the section the row belongs to.

    Returns
    -------
    dict
    """
    return {"name": name, "value": float(value), "unit": unit, "ratio": None if ratio is None else float(ratio)}


def print_rows(rows: Iterable[dict], ratio_label: str = "ratio") -> None:
    """Print result rows as aligned text: name, value, unit and the ratio when there is one."""
    rows = list(rows)
    width = max((len(r["name"]) for r in rows), default=0) + 2
    for r in rows:
        ratio = "" if r["ratio"] is None else f"  ({ratio_label} {r['ratio']:.3g})"
        print(f"{r['name']:<{width}}{r['value']:>12.4g} {r['unit']}{ratio}")


def module_parser(
    doc: str, quick_help: str, threads_help: str = "torch intra-op threads (default 1: shared machine)"
) -> argparse.ArgumentParser:
    """``--quick`` and ``--threads`` for running one benchmark module on its own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--threads", type=int, default=1, help=threads_help)
    return parser


def best_time(fn: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """Best wall time of ``repeats`` calls of ``fn``, in seconds.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    repeats : int
        Number of timed calls (at least 1).
    warmup : bool
        Make one untimed call first (first-call allocations, BLAS initialisation).

    Returns
    -------
    float
    """
    if warmup:
        fn()
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved_best(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: bool = True,
    inner: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """Best wall time of each function, the functions called in turn ``repeats`` times.

    Alternating the calls makes a burst of load from other processes land on every
    function alike, so ratios of the returned times are much steadier than ratios of
    separately timed blocks.

    Parameters
    ----------
    fns : mapping of str to callable
        Functions to time, called with no arguments.
    repeats : int
        Rounds; each round calls every function once (or ``inner[name]`` times).
    warmup : bool
        One untimed round first.
    inner : mapping of str to int, optional
        Calls per round of each named function, each timed on its own: short functions
        get more samples per round, so their minimum is as trustworthy as a long one's.

    Returns
    -------
    dict of str to float
        Best seconds of one call, per function.
    """
    if warmup:
        for fn in fns.values():
            fn()
    inner = inner or {}
    best = dict.fromkeys(fns, math.inf)
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            for _ in range(max(1, inner.get(name, 1))):
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
    return best


def calls_for(seconds: float, budget: float = 0.25, most: int = 20) -> int:
    """How many timed calls of a ``seconds``-long function fit in ``budget`` seconds (1 to ``most``)."""
    return max(1, min(most, math.ceil(budget / max(seconds, 1e-9))))


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``a`` in ``y ~ x^a``.

    Parameters
    ----------
    x, y : list of float
        Positive values, at least two distinct ``x``.

    Returns
    -------
    float
    """
    lx = [math.log(v) for v in x]
    ly = [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError(f"x must hold at least two distinct values, got {x!r}")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx


def flipped_queries(
    patterns: torch.Tensor, n_queries: int, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries that are stored binary patterns with exactly ``round(fraction * N)`` bits flipped.

    Parameters
    ----------
    patterns : Tensor
        ``long (K, N)`` stored patterns with tokens in ``{0, 1}``.
    n_queries : int
        Number of queries ``B``; query ``b`` starts from pattern ``b mod K``.
    fraction : float
        Fraction of the ``N`` bits flipped in every query.
    generator : torch.Generator
        Source of the flip positions.

    Returns
    -------
    queries, targets : Tensor
        ``long (B, N)`` each: the corrupted queries and the patterns they came from.
    """
    K, N = patterns.shape
    targets = patterns[torch.arange(n_queries) % K]  # (B, N)
    pos = torch.argsort(torch.rand(n_queries, N, generator=generator), dim=1)[:, : round(fraction * N)]  # (B, F)
    return targets.scatter(1, pos, 1 - targets.gather(1, pos)), targets

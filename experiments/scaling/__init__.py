"""Scaling: how the capacity ``K_max`` of each memory grows with the number of units ``N``.

For every memory, pattern length ``N`` and seed, the largest number of random patterns
``K_max`` that still passes a criterion is found by doubling ``K`` and bisecting the
integers (:mod:`.search`), for two criteria (:mod:`.criteria`):

* ``exact``: every stored pattern is an exact fixed point of one update pass;
* ``m95``: at least 90 % of the probed patterns are retrieved with final overlap
  ``m >= 0.95`` from queries with 10 % of the tokens flipped.

The pattern set of ``(N, K, seed)`` is the same for every memory and its hash is in every
row.  A cell is ``(model, N, seed)``; its rows are the evaluations of both searches (the
bisection trace), each carrying the cell's ``K_max_exact`` and ``K_max_m95``.  Fitted
exponents (:mod:`.fits`) and the figures (:mod:`.figures`) read only that table; the
theory curves come from :mod:`experiments.theory`.

Each memory has its own ``N`` grid per criterion, chosen so that it fails inside it in
minutes of CPU: ``N`` up to 1000 for the classical nets, up to 200 / 60 for the dense
memories of degree 3 / 4, ``N <= 30`` for the exponential ones.  ``N`` is a multiple of 10
on every ``m95`` grid so that ``flip N`` is an integer: a query has exactly 10 % flipped
tokens at every ``N`` (``round(0.1 N)`` would swing between 7 % and 13 % at small ``N``
and move ``K_max`` by as much as the seeds do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from experiments import zoo
from experiments.scaling.criteria import CRITERIA, evaluate
from experiments.scaling.figures import plot
from experiments.scaling.fits import SCALE, capacities, exponents, summary
from experiments.scaling.search import find_capacity

__all__ = [
    "NAME",
    "MODEL_CHOICES",
    "Config",
    "PRESETS",
    "Cell",
    "cells",
    "run_cell",
    "plot",
    "summary",
    "exponents",
    "capacities",
    "SCALE",
]

NAME = "scaling"
MODEL_CHOICES = zoo.HOPFIELD_MODELS

Grid = tuple[str, str, tuple[int, ...]]  # (model, criterion, N values)
OVERLAP_MODEL = "classical-hebb"  # the memory AGS solved
OVERLAP = "overlap"  # ``criterion`` of the fixed-load rows


def _both(model: str, Ns: tuple[int, ...]) -> tuple[Grid, Grid]:
    return (model, "exact", Ns), (model, "m95", Ns)


# Quick grids, measured on one core (seed 0, rtol 0.03): the classical nets fail at
# K <= N, dense n = 3 at K ~ 10^3 for N = 200, dense n = 4 at K ~ 10^3 for N = 60, the
# exponential memories at K ~ 10^4 for N = 30.  The modern nets and the oracle have no
# exact grid: their stored patterns are fixed points at any K (docs/scaling.md), so that
# search only ever stops at k_cap.
QUICK_GRIDS: tuple[Grid, ...] = (
    *_both("classical-hebb", (40, 60, 100, 150, 250, 400, 600, 1000)),
    *_both("classical-pseudoinverse", (20, 40, 60, 100, 150, 250, 400)),
    *_both("classical-storkey", (20, 40, 60, 100, 150, 250, 400)),
    *_both("dense-n2", (20, 40, 60, 100, 150)),
    *_both("dense-n3", (20, 30, 40, 60, 80, 120, 200)),
    *_both("dense-n4", (10, 20, 30, 40, 50, 60)),
    ("dense-exp", "exact", (8, 10, 12, 14, 16, 18, 20)),
    ("dense-exp", "m95", (10, 20, 30)),
    ("modern-b0.02", "m95", (200, 300, 400, 500, 600)),
    ("modern-b0.1", "m95", (40, 60, 80, 100, 120)),
    ("modern-b1", "m95", (10, 20, 30)),
    ("oracle", "m95", (10, 20, 30)),
)

PAPER_GRIDS: tuple[Grid, ...] = (
    *_both("classical-hebb", (40, 60, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000)),
    *_both("classical-pseudoinverse", (20, 40, 60, 100, 150, 250, 400, 600, 1000)),
    *_both("classical-storkey", (20, 40, 60, 100, 150, 250, 400, 600)),
    *_both("dense-n2", (20, 40, 60, 100, 150, 250, 400)),
    *_both("dense-n3", (20, 30, 40, 60, 80, 120, 200, 300, 400)),
    *_both("dense-n4", (10, 20, 30, 40, 50, 60, 80, 100)),
    ("dense-exp", "exact", (8, 10, 12, 14, 16, 18, 20, 22, 24)),
    ("dense-exp", "m95", (10, 20, 30)),
    ("modern-b0.02", "m95", (200, 300, 400, 500, 600, 700)),
    ("modern-b0.1", "m95", (40, 60, 80, 100, 120, 140)),
    ("modern-b1", "m95", (10, 20, 30)),
    ("oracle", "m95", (10, 20, 30)),
)


@dataclass(frozen=True)
class Config:
    """Capacity searches: ``(model, criterion, N grid)`` x seeds.

    ``models`` selects rows of ``grids`` (a model in ``models`` without a grid raises).
    ``k_cap`` bounds every search (a search that passes there is reported as censored);
    ``fixed_point_cap`` bounds the stored patterns checked by ``exact``; ``rtol`` is the
    relative width at which the bisection stops (:func:`.search.find_capacity`).
    ``overlap_N`` x ``overlap_loads``: the Hebbian net's final overlap at fixed loads, for
    the comparison with the AGS overlap ``m(alpha)`` (empty: none; run when
    ``classical-hebb`` is among ``models``).
    """

    models: tuple[str, ...] = zoo.HOPFIELD_MODELS
    grids: tuple[Grid, ...] = QUICK_GRIDS
    flip: float = 0.1
    n_probe: int = 100
    fixed_point_cap: int = 4096
    k_cap: int = 1 << 18
    rtol: float = 0.03
    overlap_N: tuple[int, ...] = (250, 1000)
    overlap_loads: tuple[float, ...] = (0.02, 0.05, 0.08, 0.1, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.2, 0.25, 0.3)
    seeds: tuple[int, ...] = (0, 1, 2)


PRESETS = {
    "quick": Config(),
    "paper": Config(
        grids=PAPER_GRIDS, n_probe=200, k_cap=1 << 19, rtol=0.02, overlap_N=(250, 1000, 4000), seeds=tuple(range(10))
    ),
}


@dataclass(frozen=True)
class Cell:
    model: str
    N: int
    criteria: tuple[str, ...]
    flip: float
    n_probe: int
    fixed_point_cap: int
    k_cap: int
    rtol: float
    seed: int


@dataclass(frozen=True)
class OverlapCell:
    """The Hebbian net at one fixed load: final overlap from ``flip`` queries (the AGS comparison)."""

    model: str
    N: int
    load: float
    flip: float
    n_probe: int
    seed: int


def _check_config(config: Config) -> None:
    known = {g[0] for g in config.grids}
    missing = [m for m in config.models if m not in known]
    if missing:
        raise ValueError(f"models {missing} have no N grid in Config.grids; models with one: {sorted(known)}")
    for model, criterion, Ns in config.grids:
        zoo.spec(model)
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r} for {model}")
        bad = [N for N in Ns if not isinstance(N, int) or N < 2]
        if bad or not Ns:
            raise ValueError(f"the N grid of {model}/{criterion} must be integers >= 2, got {Ns}")
        odd = [N for N in Ns if criterion == "m95" and not math.isclose(config.flip * N, round(config.flip * N))]
        if odd:
            raise ValueError(f"flip * N must be an integer on m95 grids (exactly flip N flips); {model}: {odd}")


def cells(config: Config) -> list[Cell | OverlapCell]:
    """One cell per ``(model, N, seed)`` with the criteria whose grid holds ``N``, then the overlap cells."""
    _check_config(config)
    by_cell: dict[tuple[str, int], list[str]] = {}
    for model, criterion, Ns in config.grids:
        if model in config.models:
            for N in Ns:
                by_cell.setdefault((model, N), []).append(criterion)
    overlap = [
        OverlapCell(OVERLAP_MODEL, N, load, config.flip, config.n_probe, s)
        for N in config.overlap_N
        for load in config.overlap_loads
        for s in config.seeds
        if OVERLAP_MODEL in config.models
    ]
    return [
        Cell(
            m,
            N,
            tuple(c for c in CRITERIA if c in crit),
            config.flip,
            config.n_probe,
            config.fixed_point_cap,
            config.k_cap,
            config.rtol,
            s,
        )
        for (m, N), crit in by_cell.items()
        for s in config.seeds
    ] + overlap


def _overlap_row(cell: OverlapCell) -> dict:
    K = max(1, round(cell.load * cell.N))
    o = evaluate(cell.model, cell.N, K, cell.seed, "m95", flip=cell.flip, n_probe=cell.n_probe, fixed_point_cap=1)
    return {
        "model": cell.model,
        "family": zoo.family(cell.model),
        "scale": SCALE[cell.model],
        "N": cell.N,
        "K": K,
        "load": K / cell.N,
        "seed": cell.seed,
        "flip": cell.flip,
        "criterion": OVERLAP,
        "passed": o.passed,
        "share": o.share,
        "mean_overlap": o.mean_overlap,
        "n_checked": o.n_checked,
        "pattern_hash": o.pattern_hash,
        "wall_s": o.wall_s,
        "cpu_s": o.cpu_s,
    }


def run_cell(cell: Cell | OverlapCell) -> list[dict]:
    """Both capacity searches of one ``(model, N, seed)`` (a row per evaluation), or one overlap row."""
    if isinstance(cell, OverlapCell):
        return [_overlap_row(cell)]
    rows: list[dict] = []
    result: dict[str, float] = {}
    for criterion in cell.criteria:
        outcomes: dict[int, object] = {}

        def passes(K: int, criterion: str = criterion, outcomes: dict = outcomes) -> bool:
            outcomes[K] = evaluate(
                cell.model,
                cell.N,
                K,
                cell.seed,
                criterion,
                flip=cell.flip,
                n_probe=cell.n_probe,
                fixed_point_cap=cell.fixed_point_cap,
            )
            return outcomes[K].passed

        search = find_capacity(passes, k_cap=cell.k_cap, rtol=cell.rtol)
        result[f"K_max_{criterion}"] = float(search.K_max)
        result[f"censored_{criterion}"] = search.censored
        for step, probe in enumerate(search.trace):
            o = outcomes[probe.K]
            rows.append(
                {
                    "model": cell.model,
                    "family": zoo.family(cell.model),
                    "scale": SCALE[cell.model],
                    "N": cell.N,
                    "K": probe.K,
                    "load": probe.K / cell.N,
                    "seed": cell.seed,
                    "flip": cell.flip,
                    "criterion": criterion,
                    "phase": probe.phase,
                    "step": step,
                    "passed": probe.passed,
                    "share": o.share,
                    "mean_overlap": o.mean_overlap,
                    "n_checked": o.n_checked,
                    "pattern_hash": o.pattern_hash,
                    "wall_s": o.wall_s,
                    "cpu_s": o.cpu_s,
                }
            )
    for c in CRITERIA:
        result.setdefault(f"K_max_{c}", math.nan)
        result.setdefault(f"censored_{c}", False)
    return [{**row, **result} for row in rows]

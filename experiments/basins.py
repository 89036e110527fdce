"""Basins of attraction: how much corruption each memory undoes, for stored and held-out patterns.

For every memory, pattern set and load ``K/N`` (the same pattern set for every memory
at a given ``(dataset, N, K, seed)``; its hash is in every row), each probed pattern is
corrupted by flipping exactly ``flip N`` positions, ``n_trials`` times per level of a
grid of ``flip``, and the memory settles from each query.  Per pattern and ``flip`` the
table holds

* ``recovery``: share of the flipped positions restored (``metrics.recovery_rate``,
  the token-recovery measure of Pham et al. 2026), mean over trials;
* ``frac_exact``: share of trials that end exactly on the pattern;
* ``frac_m95``: share of trials ending with overlap ``m >= 0.95``, the retrieval criterion
  of the capacity study.

Probes come from the stored patterns (``split = "train"``) and from a held-out set
drawn the same way (``split = "test"``): on random patterns a held-out pattern is
no attractor, on structured sets (prototypes, digits) it may lie in the basin of a
stored neighbour or of the prototype they share (train basins shrink and test basins
grow as a memory generalises, Pham et al. 2026).

The per-pattern *critical radius* (largest ``flip`` retrieved exactly in >= 90 % of the
trials) is derived from the table by :func:`critical_radii`.  The oracle conditions on
``t = noise_for_flip(flip)`` (column ``t``), the diffusion time whose expected changed
fraction is ``flip``; the Hopfield nets ignore it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import torch

from experiments import zoo
from experiments.basins_figures import plot as plot_basins
from experiments.basins_radii import _SPLIT_LABELS, SPLITS, THRESHOLD, critical_radii  # noqa: F401 - this study's API
from experiments.corruption import flip, noise_for_flip
from experiments.metrics import exact_match, recovery_rate
from experiments.patterns import BINARY_DATASETS, binary_set
from experiments.seeds import derive_seed
from experiments.theory import mceliece_radius  # noqa: F401 - part of this study's API (tests, notebooks)

NAME = "basins"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
DEFAULT_MODELS = zoo.REPRESENTATIVE_MODELS
DATASETS = BINARY_DATASETS
# What ``python -m experiments basins --help`` says besides the presets.
ROWS = "per model x dataset x load x seed x split x pattern x flip"
FIGURES = ("basins_recovery", "basins_exact", "basins_radius")
RUNTIME = {
    "quick": "about 35 s, serial on 2 shared CPU cores (33 s measured)",
    "paper": "not measured (N = 200, 6 loads, 19 flips, 20 trials, 40 probes, 3 seeds)",
}
EXAMPLES = (
    "python -m experiments basins --preset quick --out results",
    "python -m experiments basins --set datasets=digits --set flips=0.1,0.2,0.3 --models classical-hebb,modern-b1",
)


@dataclass(frozen=True)
class Config:
    """Basin sweep: models x datasets x loads x seeds, each over a grid of flip fractions ``flips``.

    ``loads`` are ``K / N`` for every dataset (``N = 64`` for the digits).
    ``prototype_p_change``: per-position change probability of a prototype's examples.
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    datasets: tuple[str, ...] = DATASETS
    N: int = 100
    loads: tuple[float, ...] = (0.05, 0.1, 0.14)
    flips: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
    n_trials: int = 10
    n_probe: int = 20  # patterns probed per split (the first ones; all sets are interleaved / i.i.d.)
    n_prototypes: int = 3
    prototype_p_change: float = 0.1
    seeds: tuple[int, ...] = (0,)
    device: str = "cpu"


PRESETS = {
    "quick": Config(),
    "paper": Config(
        N=200,
        loads=(0.02, 0.05, 0.1, 0.14, 0.2, 0.3),
        flips=tuple(round(0.025 * i, 3) for i in range(1, 20)),
        n_trials=20,
        n_probe=40,
        n_prototypes=4,
        seeds=(0, 1, 2),
    ),
}


@dataclass(frozen=True)
class Cell:
    model: str
    dataset: str
    N: int
    load: float
    flips: tuple[float, ...]
    n_trials: int
    n_probe: int
    n_prototypes: int
    prototype_p_change: float
    seed: int
    device: str = "cpu"


def cells(config: Config) -> list[Cell]:
    unknown = [d for d in config.datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    shared = {
        "N": config.N,
        "flips": tuple(config.flips),
        "n_trials": config.n_trials,
        "n_probe": config.n_probe,
        "n_prototypes": config.n_prototypes,
        "prototype_p_change": config.prototype_p_change,
        "device": config.device,
    }
    return [
        Cell(model=m, dataset=d, load=load, seed=s, **shared)
        for m in config.models
        for d in config.datasets
        for load in config.loads
        for s in config.seeds
    ]


def run_cell(cell: Cell) -> list[dict]:
    """Store the cell's patterns, then for each flip fraction: corrupt every probe ``n_trials`` times and settle."""
    start = time.perf_counter()
    ps = binary_set(
        cell.dataset, cell.N, cell.load, cell.seed, n_prototypes=cell.n_prototypes, p_change=cell.prototype_p_change
    )
    net = zoo.build(cell.model, device=cell.device).fit(ps.train, vocab_size=2)
    P = min(ps.n_train, cell.n_probe)
    targets = torch.cat([ps.train[:P], ps.test[:P]])  # (2P, N): probes of both splits
    reps = targets.repeat_interleave(cell.n_trials, dim=0)  # (2P*T, N), trials of a pattern are adjacent
    base = {
        "model": cell.model,
        "family": zoo.family(cell.model),
        "dataset": cell.dataset,
        "N": ps.length,
        "K": ps.n_train,
        "load": cell.load,
        "seed": cell.seed,
        "pattern_hash": ps.hash,
        "n_trials": cell.n_trials,
    }
    rows = []
    for j, f in enumerate(cell.flips):
        rows += _level_rows(net, cell, reps, P, j, f, base)
    wall = time.perf_counter() - start
    for row in rows:
        row["wall_s"] = wall
    return rows


def _level_rows(net, cell: Cell, reps: torch.Tensor, P: int, j: int, f: float, base: dict) -> list[dict]:
    """One flip fraction: identical queries for every model, then per-probe shares over the trials."""
    N, K, T = base["N"], base["K"], cell.n_trials
    k = round(f * N)
    t = noise_for_flip(f)  # the oracle conditions on it; the Hopfield nets ignore it
    # The generator depends on the data and the level, not on the model: every model
    # gets identical queries (paired comparison), and levels are independent draws.
    g = torch.Generator().manual_seed(derive_seed(cell.seed, DATASETS.index(cell.dataset), N, K, j))
    queries = flip(reps, k, 2, generator=g)
    r = net.retrieve(queries, noise=t, generator=g)
    rec = recovery_rate(r.states, reps, queries).view(2 * P, T)
    exact = exact_match(r.states, reps).double().view(2 * P, T)
    m = (2.0 * (r.states == reps).double().mean(dim=1) - 1.0).view(2 * P, T)  # overlap with own target
    conv = r.converged.double().view(2 * P, T)
    return [
        {
            **base,
            "split": SPLITS[i // P],
            "pattern": i % P,
            "flip": float(f),
            "n_flip": k,
            "t": t,
            "recovery": float(rec[i].mean()),
            "frac_exact": float(exact[i].mean()),
            "frac_m95": float((m[i] >= 0.95).double().mean()),
            "mean_overlap": float(m[i].mean()),
            "frac_converged": float(conv[i].mean()),
        }
        for i in range(2 * P)
    ]


# -- derived quantities ------------------------------------------------------------------


def summary(results: pd.DataFrame) -> str:
    radii = critical_radii(results)
    keys = ["dataset", "load", "split", "model"]
    exact = radii.groupby(keys, sort=False)["critical_radius"].mean()
    rec = radii.groupby(keys, sort=False)["recovery_radius"].mean()
    lines = [
        "mean per-pattern radius: exact (>= 90% of trials exact) and recovery (mean recovery >= 0.9) radius,",
        "stored (train) | held-out (test) recovery radius:",
    ]
    for dataset in radii["dataset"].unique():
        for load in sorted(radii.loc[radii["dataset"] == dataset, "load"].unique()):
            lines.append(f"  {dataset}, load {load:g}:")
            for model in radii["model"].unique():
                e = exact.get((dataset, load, "train", model), math.nan)
                r = rec.get((dataset, load, "train", model), math.nan)
                h = rec.get((dataset, load, "test", model), math.nan)
                lines.append(f"    {model:24s} exact {e:5.3f}  recovery {r:5.3f} | held-out {h:5.3f}")
    return "\n".join(lines)


# -- figures -------------------------------------------------------------------------------


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    """Recovery and exact-retrieval curves and the basin-radius figure (:mod:`experiments.basins_figures`)."""
    return plot_basins(results, run_info)

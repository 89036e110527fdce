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
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments import zoo
from experiments.corruption import flip, noise_for_flip
from experiments.metrics import critical_radius, exact_match, recovery_rate
from experiments.patterns import BINARY_DATASETS, binary_set
from experiments.seeds import derive_seed
from experiments.theory import mceliece_radius

NAME = "basins"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
DEFAULT_MODELS = zoo.REPRESENTATIVE_MODELS
DATASETS = BINARY_DATASETS
SPLITS = ("train", "test")  # stored patterns / held-out patterns drawn the same way
_SPLIT_LABELS = {"train": "stored", "test": "held-out"}
THRESHOLD = 0.9  # share of exact trials that counts a pattern as retrieved at a level
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

_PATTERN_KEYS = ["model", "dataset", "N", "load", "seed", "split", "pattern"]


def critical_radii(results: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per-pattern basin radii from the basins table.

    * ``critical_radius``: largest ``flip`` with exact retrieval in ``>= threshold`` of
      the trials (the basin of the pattern as an attractor);
    * ``recovery_radius``: largest ``flip`` with mean recovery ``>= threshold``, the
      basin-size scalar ``t*`` of Pham et al. (2026).  It is the informative one for
      held-out patterns, which are never retrieved exactly unless they are attractors
      themselves, but may sit in a basin that restores most of what was flipped.

    The scan over the grid stops at the first failing level (``contiguous=True`` in
    :func:`experiments.metrics.critical_radius`): with ten trials per level a lucky
    success above a failure is Monte-Carlo noise, not basin.

    Parameters
    ----------
    results : DataFrame
        The basins table (columns ``model, dataset, N, load, seed, split,
        pattern, flip, frac_exact, recovery``).
    threshold : float
        Share (of exact trials, of restored positions) that counts as retrieved.

    Returns
    -------
    DataFrame
        One row per pattern: the keys above, ``critical_radius`` and
        ``recovery_radius`` (0 where even the smallest level fails) and
        ``below_grid`` / ``recovery_below_grid`` flagging those cases.
    """
    out = None
    for value, name, flag in (
        ("frac_exact", "critical_radius", "below_grid"),
        ("recovery", "recovery_radius", "recovery_below_grid"),
    ):
        wide = results.pivot_table(index=_PATTERN_KEYS, columns="flip", values=value, aggfunc="mean", sort=True)
        levels = [float(c) for c in wide.columns]
        radius = critical_radius(torch.tensor(wide.to_numpy()), levels, threshold, contiguous=True).numpy()
        if out is None:
            out = wide.index.to_frame(index=False)
        out[name] = np.nan_to_num(radius, nan=0.0)
        out[flag] = np.isnan(radius)
    return out


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


def _axes_of(results: pd.DataFrame):
    """Models, datasets, loads and one colour per load (the axes of both figures)."""
    import seaborn as sns

    loads = sorted(results["load"].unique())
    colours = dict(zip(loads, sns.color_palette("viridis_r", n_colors=len(loads)), strict=True))
    return list(dict.fromkeys(results["model"])), [d for d in DATASETS if d in set(results["dataset"])], loads, colours


def _curves(results: pd.DataFrame, value: str, label: str):
    """Rows = models, columns = datasets; colour = load, solid = stored (train), dashed = held-out (test)."""
    import matplotlib.pyplot as plt

    models, datasets, loads, colours = _axes_of(results)
    fig, axes = plt.subplots(
        len(models),
        len(datasets),
        figsize=(3.3 * len(datasets), 1.9 * len(models) + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    mean = results.groupby(["model", "dataset", "load", "split", "flip"], sort=False)[value].mean().reset_index()
    for i, model in enumerate(models):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            sub = mean[(mean["model"] == model) & (mean["dataset"] == dataset)]
            for load in loads:
                for split, ls in zip(SPLITS, ("-", "--"), strict=True):
                    cur = sub[(sub["load"] == load) & (sub["split"] == split)].sort_values("flip")
                    ax.plot(cur["flip"], cur[value], ls=ls, color=colours[load], marker="o", ms=2.5, lw=1.2)
            if model == "classical-hebb" and dataset == "random":
                N = int(results.loc[results["dataset"] == "random", "N"].iloc[0])
                for load in loads:
                    r = mceliece_radius(load, N)
                    if not math.isnan(r):
                        ax.axvline(r, color=colours[load], ls=":", lw=1)
            ax.set_ylim(-0.03, 1.03)
            if i == 0:
                N = int(results.loc[results["dataset"] == dataset, "N"].iloc[0])
                ax.set_title(f"{dataset} (N = {N})")
            if j == 0:
                ax.set_ylabel(f"{model}\n{label}", fontsize=8)
            if i == len(models) - 1:
                ax.set_xlabel("flipped fraction (flip)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[ld], marker="o", ms=3, label=f"load {ld:g}") for ld in loads]
    handles += [
        Line2D([], [], color="0.3", ls=ls, label=_SPLIT_LABELS[split])
        for split, ls in zip(SPLITS, ("-", "--"), strict=True)
    ]
    if "classical-hebb" in models and "random" in datasets:
        handles.append(Line2D([], [], color="0.3", ls=":", label="McEliece radius (Hebb)"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


_RADIUS_ROWS = (
    ("train", "critical_radius", "stored: exact in >= 90% of trials"),
    ("train", "recovery_radius", "stored: mean recovery >= 0.9"),
    ("test", "recovery_radius", "held-out: mean recovery >= 0.9"),
)


def _radius_figure(results: pd.DataFrame):
    """Distribution of per-pattern radii: rows = (split, measure), columns = datasets, colour = load."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    radii = critical_radii(results)
    models, datasets, loads, colours = _axes_of(results)
    width = max(3.5, 0.16 * len(models) * (len(loads) + 1))
    fig, axes = plt.subplots(
        len(_RADIUS_ROWS),
        len(datasets),
        figsize=(width * len(datasets), 2.3 * len(_RADIUS_ROWS) + 1.2),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for i, (split, column, label) in enumerate(_RADIUS_ROWS):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            sub = radii[(radii["dataset"] == dataset) & (radii["split"] == split)]
            with warnings.catch_warnings():
                # seaborn <= 0.13 passes matplotlib's deprecated ``vert=`` to ``bxp``; not ours to fix.
                warnings.simplefilter("ignore", category=DeprecationWarning)
                sns.boxplot(
                    data=sub,
                    x="model",
                    y=column,
                    hue="load",
                    order=models,
                    hue_order=loads,
                    palette=colours,
                    fliersize=1.5,
                    linewidth=0.8,
                    ax=ax,
                    legend=i == 0 and j == len(datasets) - 1,
                )
            if i == 0:
                N = int(results.loc[results["dataset"] == dataset, "N"].iloc[0])
                ax.set_title(f"{dataset} (N = {N})")
            ax.set_xlabel("")
            ax.set_ylabel(label.replace(": ", ":\n") if j == 0 else "", fontsize=8)
            ax.tick_params(axis="x", rotation=60, labelsize=7)
            for lbl in ax.get_xticklabels():
                lbl.set_horizontalalignment("right")
    leg = axes[0, -1].get_legend()
    if leg is not None:
        sns.move_legend(
            axes[0, -1], "upper left", bbox_to_anchor=(1.0, 1.0), title="load", fontsize=7, title_fontsize=7
        )
    top = float(results["flip"].max())
    fig.suptitle(
        f"Per-pattern basin radius: largest flip fraction retrieved (0 = below the grid, {top:g} = the whole grid)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    recovery = _curves(results, "recovery", "recovery")
    recovery.suptitle("Share of flipped positions restored (solid: stored, dashed: held-out)", y=1.0 + 0.3 / 14)
    exact = _curves(results, "frac_exact", "exact")
    exact.suptitle("Share of queries retrieved exactly (solid: stored, dashed: held-out)", y=1.0 + 0.3 / 14)
    return {"basins_recovery": recovery, "basins_exact": exact, "basins_radius": _radius_figure(results)}

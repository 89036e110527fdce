"""Basins of attraction: how much corruption each memory undoes, for stored and held-out patterns.

For every memory, pattern set and load ``K/N`` (the same pattern set for every memory
at a given ``(dataset, N, K, seed)``; its hash is in every row), each probed pattern is
corrupted by flipping exactly ``rho N`` positions, ``n_trials`` times per level of a
grid of ``rho``, and the memory settles from each query.  Per pattern and ``rho`` the
table holds

* ``recovery``: share of the flipped positions restored (``metrics.recovery_rate``,
  the token-recovery measure of reference/paper.md section 2), mean over trials;
* ``exact``: share of trials that end exactly on the pattern;
* ``m95``: share of trials ending with overlap ``m >= 0.95``, the retrieval criterion
  of theory.md C7a-c.

Probes come from the stored patterns (``split = "stored"``) and from a held-out set
drawn the same way (``split = "held-out"``): on random patterns a held-out pattern is
no attractor, on structured sets (prototypes, digits) it may lie in the basin of a
stored neighbour or of the prototype they share (reference/paper.md 2.8: train basins
shrink and test basins grow as a memory generalises).

The per-pattern *critical radius* (paper.md 2.8 and 4.3) is the largest ``rho`` up to
which the pattern is retrieved exactly in at least 90 % of the trials; it is computed
from the table by :func:`critical_radii`, not stored in it.

The exact Bayes denoiser ("oracle") conditions on the corruption level: it gets
``noise = corruption.noise_for_flip(rho)``, the diffusion time whose expected changed
fraction is ``rho``.  The Hopfield nets ignore ``noise``.
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
from experiments.patterns import PatternSet, digit_patterns, prototype_patterns, random_patterns
from experiments.seeds import derive_seed

NAME = "basins"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
DEFAULT_MODELS = (
    "classical-hebb",
    "classical-pseudoinverse",
    "classical-storkey",
    "dense-n3",
    "dense-exp",
    "modern-b1",
    "oracle",
)
DATASETS = ("random", "prototypes", "digits")
SPLITS = ("stored", "held-out")
THRESHOLD = 0.9  # share of exact trials that counts a pattern as retrieved at a level
DIGIT_UNITS = 64  # scikit-learn's 8x8 digits; n_units does not apply to them


@dataclass(frozen=True)
class Config:
    """Basin sweep: models x datasets x loads x seeds, each over a grid of flip fractions.

    ``loads`` are ``K / N`` for every dataset (``N = 64`` for the digits), so correlated
    and random patterns are compared at the same load.
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    datasets: tuple[str, ...] = DATASETS
    n_units: int = 100
    loads: tuple[float, ...] = (0.05, 0.1, 0.14)
    rhos: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
    n_trials: int = 10
    n_probe: int = 20  # patterns probed per split (the first ones; all sets are interleaved / i.i.d.)
    n_prototypes: int = 3
    prototype_flip: float = 0.1
    seeds: tuple[int, ...] = (0,)


PRESETS = {
    "quick": Config(),
    "paper": Config(
        n_units=200,
        loads=(0.02, 0.05, 0.1, 0.14, 0.2, 0.3),
        rhos=tuple(round(0.025 * i, 3) for i in range(1, 20)),
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
    n_units: int
    load: float
    rhos: tuple[float, ...]
    n_trials: int
    n_probe: int
    n_prototypes: int
    prototype_flip: float
    seed: int


def cells(config: Config) -> list[Cell]:
    unknown = [d for d in config.datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    return [
        Cell(
            m,
            d,
            config.n_units,
            load,
            tuple(config.rhos),
            config.n_trials,
            config.n_probe,
            config.n_prototypes,
            config.prototype_flip,
            s,
        )
        for m in config.models
        for d in config.datasets
        for load in config.loads
        for s in config.seeds
    ]


def pattern_set(dataset: str, n_units: int, load: float, seed: int, *, n_prototypes: int = 3, flip: float = 0.1):
    """The pattern set of a cell: ``K = round(load * N)`` stored and ``K`` held-out patterns.

    Parameters
    ----------
    dataset : {"random", "prototypes", "digits"}
        Unbiased random spins; noisy examples of ``n_prototypes`` random prototypes
        (each position changed with probability ``flip``); binarised 8x8 digits
        (``N = 64`` whatever ``n_units`` says).
    n_units : int
        Pattern length ``N`` of the synthetic sets.
    load : float
        ``K / N``.
    seed : int
        Seed of the generator.
    n_prototypes : int
        Number of prototypes of the ``"prototypes"`` set.
    flip : float
        Per-position change probability of a prototype example.

    Returns
    -------
    PatternSet
        ``train`` long ``(K, N)``, ``test`` long ``(K, N)``.  Depends only on the
        arguments, so every model of a sweep sees the same set.
    """
    N = DIGIT_UNITS if dataset == "digits" else n_units
    K = max(1, round(load * N))
    if dataset == "random":
        return random_patterns(K, N, vocab_size=2, n_test=K, seed=seed)
    if dataset == "prototypes":
        per = math.ceil(K / n_prototypes)
        ps = prototype_patterns(n_prototypes, per, N, flip=flip, n_test=K, seed=seed)
    elif dataset == "digits":
        if K > 10 * 90:
            raise ValueError(f"load {load} asks for {K} digits; at most 900 fit with held-out copies")
        per = math.ceil(K / 10)
        ps = digit_patterns(per_class=per, n_test_per_class=per, seed=seed)
    else:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    # Rows are interleaved by prototype / class, so the first K cover them evenly.
    return PatternSet(
        train=ps.train[:K].clone(),
        test=ps.test[:K].clone(),
        vocab_size=2,
        name=ps.name,
        params={**ps.params, "K": K},
    )


def run_cell(cell: Cell) -> list[dict]:
    start = time.perf_counter()
    ps = pattern_set(
        cell.dataset, cell.n_units, cell.load, cell.seed, n_prototypes=cell.n_prototypes, flip=cell.prototype_flip
    )
    K, N = ps.n_train, ps.length
    net = zoo.build(cell.model).fit(ps.train, vocab_size=2)
    P = min(K, cell.n_probe)
    targets = torch.cat([ps.train[:P], ps.test[:P]])  # (2P, N)
    split = [SPLITS[0]] * P + [SPLITS[1]] * P
    index = list(range(P)) * 2
    T = cell.n_trials
    reps = targets.repeat_interleave(T, dim=0)  # (2P*T, N), trials of a pattern are adjacent
    base = {
        "model": cell.model,
        "family": zoo.family(cell.model),
        "dataset": cell.dataset,
        "n_units": N,
        "n_patterns": K,
        "load": cell.load,
        "seed": cell.seed,
        "pattern_hash": ps.hash,
        "n_trials": T,
    }
    rows = []
    for j, rho in enumerate(cell.rhos):
        k = round(rho * N)
        t = noise_for_flip(rho)
        # The generator depends on the data and the level, not on the model: every model
        # gets identical queries (paired comparison), and levels are independent draws.
        g = torch.Generator().manual_seed(derive_seed(cell.seed, DATASETS.index(cell.dataset), N, K, j))
        queries = flip(reps, k, 2, generator=g)
        r = net.retrieve(queries, noise=t, generator=g)
        rec = recovery_rate(r.states, reps, queries).view(2 * P, T)
        exact = exact_match(r.states, reps).double().view(2 * P, T)
        m = (2.0 * (r.states == reps).double().mean(dim=1) - 1.0).view(2 * P, T)  # overlap with own target
        conv = r.converged.double().view(2 * P, T)
        for i in range(2 * P):
            rows.append(
                {
                    **base,
                    "split": split[i],
                    "pattern": index[i],
                    "rho": float(rho),
                    "n_flips": k,
                    "noise": t,
                    "recovery": float(rec[i].mean()),
                    "exact": float(exact[i].mean()),
                    "m95": float((m[i] >= 0.95).double().mean()),
                    "mean_overlap": float(m[i].mean()),
                    "frac_converged": float(conv[i].mean()),
                }
            )
    wall = time.perf_counter() - start
    for row in rows:
        row["wall_s"] = wall
    return rows


# -- derived quantities ------------------------------------------------------------------

_PATTERN_KEYS = ["model", "dataset", "n_units", "load", "seed", "split", "pattern"]


def critical_radii(results: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per-pattern basin radii from the basins table.

    * ``critical_radius``: largest ``rho`` with exact retrieval in ``>= threshold`` of
      the trials (the basin of the pattern as an attractor);
    * ``recovery_radius``: largest ``rho`` with mean recovery ``>= threshold``, the
      scalar ``t*`` suggested in reference/paper.md 2.8.  It is the informative one for
      held-out patterns, which are never retrieved exactly unless they are attractors
      themselves, but may sit in a basin that restores most of what was flipped.

    The scan over the grid stops at the first failing level (``contiguous=True`` in
    :func:`experiments.metrics.critical_radius`): with ten trials per level a lucky
    success above a failure is Monte-Carlo noise, not basin.

    Parameters
    ----------
    results : DataFrame
        The basins table (columns ``model, dataset, n_units, load, seed, split,
        pattern, rho, exact, recovery``).
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
        ("exact", "critical_radius", "below_grid"),
        ("recovery", "recovery_radius", "recovery_below_grid"),
    ):
        wide = results.pivot_table(index=_PATTERN_KEYS, columns="rho", values=value, aggfunc="mean", sort=True)
        levels = [float(c) for c in wide.columns]
        radius = critical_radius(torch.tensor(wide.to_numpy()), levels, threshold, contiguous=True).numpy()
        if out is None:
            out = wide.index.to_frame(index=False)
        out[name] = np.nan_to_num(radius, nan=0.0)
        out[flag] = np.isnan(radius)
    return out


def mceliece_radius(load: float, n_units: int) -> float:
    """Flip fraction up to which most Hebbian memories are recalled exactly (lit., theory.md 2.1).

    From the radius version of McEliece et al.'s capacity, ``K = (1 - 2 rho)^2 N / (2 ln N)``,
    solved for ``rho``; ``nan`` when the load exceeds ``1 / (2 ln N)`` (no basin left).
    """
    x = math.sqrt(load * 2 * math.log(n_units))
    return (1 - x) / 2 if x < 1 else math.nan


def summary(results: pd.DataFrame) -> str:
    radii = critical_radii(results)
    keys = ["dataset", "load", "split", "model"]
    exact = radii.groupby(keys, sort=False)["critical_radius"].mean()
    rec = radii.groupby(keys, sort=False)["recovery_radius"].mean()
    lines = [
        "mean per-pattern radius: exact (>= 90% of trials exact) and recovery (mean recovery >= 0.9) radius,",
        "stored | held-out recovery radius:",
    ]
    for dataset in radii["dataset"].unique():
        for load in sorted(radii.loc[radii["dataset"] == dataset, "load"].unique()):
            lines.append(f"  {dataset}, load {load:g}:")
            for model in radii["model"].unique():
                e = exact.get((dataset, load, "stored", model), math.nan)
                r = rec.get((dataset, load, "stored", model), math.nan)
                h = rec.get((dataset, load, "held-out", model), math.nan)
                lines.append(f"    {model:24s} exact {e:5.3f}  recovery {r:5.3f} | held-out {h:5.3f}")
    return "\n".join(lines)


# -- figures -------------------------------------------------------------------------------


def _curves(results: pd.DataFrame, value: str, label: str):
    """Rows = models, columns = datasets; colour = load, solid = stored, dashed = held-out."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    models = list(dict.fromkeys(results["model"]))
    datasets = [d for d in DATASETS if d in set(results["dataset"])]
    loads = sorted(results["load"].unique())
    colours = dict(zip(loads, sns.color_palette("viridis_r", n_colors=len(loads)), strict=True))
    fig, axes = plt.subplots(
        len(models),
        len(datasets),
        figsize=(3.3 * len(datasets), 1.9 * len(models) + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    mean = results.groupby(["model", "dataset", "load", "split", "rho"], sort=False)[value].mean().reset_index()
    for i, model in enumerate(models):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            sub = mean[(mean["model"] == model) & (mean["dataset"] == dataset)]
            for load in loads:
                for split, ls in zip(SPLITS, ("-", "--"), strict=True):
                    cur = sub[(sub["load"] == load) & (sub["split"] == split)].sort_values("rho")
                    ax.plot(cur["rho"], cur[value], ls=ls, color=colours[load], marker="o", ms=2.5, lw=1.2)
            if model == "classical-hebb" and dataset == "random":
                n_units = int(results.loc[results["dataset"] == "random", "n_units"].iloc[0])
                for load in loads:
                    r = mceliece_radius(load, n_units)
                    if not math.isnan(r):
                        ax.axvline(r, color=colours[load], ls=":", lw=1)
            ax.set_ylim(-0.03, 1.03)
            if i == 0:
                n_units = int(results.loc[results["dataset"] == dataset, "n_units"].iloc[0])
                ax.set_title(f"{dataset} (N = {n_units})")
            if j == 0:
                ax.set_ylabel(f"{model}\n{label}", fontsize=8)
            if i == len(models) - 1:
                ax.set_xlabel("flipped fraction rho")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[ld], marker="o", ms=3, label=f"load {ld:g}") for ld in loads]
    handles += [Line2D([], [], color="0.3", ls=ls, label=split) for split, ls in zip(SPLITS, ("-", "--"), strict=True)]
    if "classical-hebb" in models and "random" in datasets:
        handles.append(Line2D([], [], color="0.3", ls=":", label="McEliece radius (Hebb)"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


_RADIUS_ROWS = (
    ("stored", "critical_radius", "stored: exact in >= 90% of trials"),
    ("stored", "recovery_radius", "stored: mean recovery >= 0.9"),
    ("held-out", "recovery_radius", "held-out: mean recovery >= 0.9"),
)


def _radius_figure(results: pd.DataFrame):
    """Distribution of per-pattern radii: rows = (split, measure), columns = datasets, colour = load."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    radii = critical_radii(results)
    models = list(dict.fromkeys(results["model"]))
    datasets = [d for d in DATASETS if d in set(radii["dataset"])]
    loads = sorted(radii["load"].unique())
    colours = dict(zip(loads, sns.color_palette("viridis_r", n_colors=len(loads)), strict=True))
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
                n_units = int(results.loc[results["dataset"] == dataset, "n_units"].iloc[0])
                ax.set_title(f"{dataset} (N = {n_units})")
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
    top = float(results["rho"].max())
    fig.suptitle(
        f"Per-pattern basin radius: largest flip fraction rho retrieved (0 = below the grid, {top:g} = the whole grid)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    recovery = _curves(results, "recovery", "recovery")
    recovery.suptitle("Share of flipped positions restored (solid: stored, dashed: held-out)", y=1.0 + 0.3 / 14)
    exact = _curves(results, "exact", "exact")
    exact.suptitle("Share of queries retrieved exactly (solid: stored, dashed: held-out)", y=1.0 + 0.3 / 14)
    return {"basins_recovery": recovery, "basins_exact": exact, "basins_radius": _radius_figure(results)}

"""Figures of the basins study, rebuilt from its results table alone.

* ``basins_recovery`` / ``basins_exact``: recovery (share of flipped positions restored) and
  exact retrieval against the flipped fraction; rows = memories, columns = datasets, one colour
  per load, solid = stored (train), dashed = held-out (test), the chance level of a random guess
  and the McEliece radius of the Hebbian net on random patterns;
* ``basins_radius``: per-pattern basin radius (:func:`experiments.basins.critical_radii`) as
  the mean and range per memory and load, memories dodged.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.basins_radii import _SPLIT_LABELS, SPLITS, critical_radii
from experiments.figures import PAGE_WIDTH, alternate_markers, dodge, legend_below, seed_band
from experiments.patterns import BINARY_DATASETS as DATASETS
from experiments.style import model_label, model_style, series_colour
from experiments.theory import mceliece_radius

__all__ = ["plot", "CHANCE_RECOVERY"]

_SPLIT_LINES = {"train": "-", "test": "--"}
#: Recovery of a random guess: each flipped bit is right with probability 1/2 (binary patterns).
CHANCE_RECOVERY = 0.5
_CHANCE = "chance (random guess): 1/2"
_MCELIECE = "McEliece radius (Hebb)"


def _axes_of(results: pd.DataFrame):
    """Models, datasets, loads and one colour per load (the axes of both figures)."""

    loads = sorted(results["load"].unique())
    colours = {load: series_colour(i) for i, load in enumerate(loads)}
    return list(dict.fromkeys(results["model"])), [d for d in DATASETS if d in set(results["dataset"])], loads, colours


def _counts(results: pd.DataFrame) -> str:
    """What every point of the curves averages, for the caption."""
    n_seeds = results["seed"].nunique()
    n_pat = int(results.groupby(["dataset", "load", "seed", "split"])["pattern"].nunique().max())
    trials = int(results["n_trials"].iloc[0]) if "n_trials" in results else 1
    seeds = f"{n_seeds} seed{'s' if n_seeds > 1 else ''}"
    band = " (band: range over the seeds)" if n_seeds > 1 else ""
    return f"Mean over up to {n_pat} probed patterns per split x {trials} trials, {seeds}{band}."


def _curves(results: pd.DataFrame, value: str, ylabel: str):
    """Rows = models, columns = datasets; colour = load, solid = stored (train), dashed = held-out (test)."""
    import matplotlib.pyplot as plt

    models, datasets, loads, colours = _axes_of(results)
    fig, axes = plt.subplots(
        len(models),
        len(datasets),
        figsize=(PAGE_WIDTH, 1.05 * len(models) + 0.5),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    per_seed = results.groupby(["model", "dataset", "load", "split", "seed", "flip"], sort=False)[value].mean()
    per_seed = per_seed.reset_index()
    for i, model in enumerate(models):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            sub = per_seed[(per_seed["model"] == model) & (per_seed["dataset"] == dataset)]
            means = sub.groupby(["load", "split", "flip"])[value].mean()
            keys = [(ld, sp) for ld in loads for sp in _SPLIT_LINES if (ld, sp) in means.index.droplevel("flip")]
            marks = alternate_markers({k: means.loc[k].to_dict() for k in keys})
            for load, split in keys:
                cur = sub[(sub["load"] == load) & (sub["split"] == split)]
                label = f"load K/N = {load:g}, {_SPLIT_LABELS[split]}"
                style = {"colour": colours[load], "marker": "o", "label": label, "marks": marks[(load, split)]}
                seed_band(ax, cur, "flip", value, **style, shift=0.0, log=False, ls=_SPLIT_LINES[split], ms=2.2, lw=1)
            if value == "recovery":
                ax.axhline(CHANCE_RECOVERY, color="0.5", lw=0.8, ls=":", label=_CHANCE, zorder=0.5)
            if model == "classical-hebb" and dataset == "random":
                _mceliece_lines(ax, results, loads, colours)
            ax.set_ylim(-0.03, 1.03)
            if i == 0:
                N = int(results.loc[results["dataset"] == dataset, "N"].iloc[0])
                ax.set_title(f"{dataset} (N = {N})")
            ax.set_ylabel(model_label(model) if j == 0 else "")
            ax.set_xlabel("flipped fraction" if i == len(models) - 1 else "")
    fig.supylabel(ylabel, fontsize=8)
    return fig, axes


def _mceliece_lines(ax, results: pd.DataFrame, loads, colours) -> None:
    N = int(results.loc[results["dataset"] == "random", "N"].iloc[0])
    for load in loads:
        r = mceliece_radius(load, N)
        if not math.isnan(r):
            ax.axvline(r, color=colours[load], ls=(0, (1, 1.5)), lw=1.0, label=_MCELIECE)


def _curve_legend(fig, axes, results: pd.DataFrame, caption: str) -> None:
    from matplotlib.lines import Line2D

    _, _, loads, colours = _axes_of(results)
    columns = [[f"load K/N = {ld:g}, {_SPLIT_LABELS[s]}" for s in SPLITS] for ld in loads]
    columns.append([_CHANCE, _MCELIECE])
    proxies = {_MCELIECE: Line2D([], [], color="0.3", ls=(0, (1, 1.5)), lw=1.0)}
    fig.tight_layout(h_pad=0.4, w_pad=0.6)
    legend_below(fig, axes.ravel(), caption_text=caption, columns=columns, proxies=proxies)


_RADIUS_ROWS = (
    ("train", "critical_radius", "stored: exact in\n≥ 90 % of trials"),
    ("train", "recovery_radius", "stored: mean\nrecovery ≥ 0.9"),
    ("test", "recovery_radius", "held-out: mean\nrecovery ≥ 0.9"),
)


def range_bars(mean, low, high) -> np.ndarray:
    """``(2, n)`` lower and upper error-bar lengths from a mean to the ends of its range.

    Clipped at 0: the mean of equal values can land an ulp outside their range (pandas' mean
    of three radii of 0.475 is 0.4749999999999999), which matplotlib refuses as a negative bar.
    """
    return np.clip([np.asarray(mean) - np.asarray(low), np.asarray(high) - np.asarray(mean)], 0.0, None)


def _radius_figure(results: pd.DataFrame):
    """Mean per-pattern radius against load (categories), one dodged marker per memory, bars = range."""
    import matplotlib.pyplot as plt

    radii = critical_radii(results)
    models, datasets, loads, _ = _axes_of(results)
    top = float(results["flip"].max())
    fig, axes = plt.subplots(
        len(_RADIUS_ROWS),
        len(datasets),
        figsize=(PAGE_WIDTH, 1.35 * len(_RADIUS_ROWS) + 0.4),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for i, (split, column, label) in enumerate(_RADIUS_ROWS):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            sub = radii[(radii["dataset"] == dataset) & (radii["split"] == split)]
            stats = sub.groupby(["model", "load"])[column].agg(["mean", "min", "max"])
            for k, model in enumerate(models):
                st = model_style(model)
                if model not in stats.index.get_level_values(0):
                    continue
                m = stats.loc[model].reindex(loads)
                x = [loads.index(ld) + dodge(k, len(models), 0.8 / len(models), log=False) for ld in m.index]
                ax.errorbar(
                    x,
                    m["mean"],
                    yerr=range_bars(m["mean"], m["min"], m["max"]),
                    fmt=st.marker,
                    color=st.colour,
                    ms=3.5,
                    lw=0.8,
                    capsize=0,
                    label=st.label,
                )
            ax.axhline(top, color="0.5", lw=0.8, ls=":", label=f"largest flip of the grid ({top:g})", zorder=0.5)
            ax.set_xticks(range(len(loads)), [f"{ld:g}" for ld in loads])
            ax.set_xlim(-0.5, len(loads) - 0.5)
            ax.set_ylim(-0.02, top + 0.04)
            if i == 0:
                N = int(results.loc[results["dataset"] == dataset, "N"].iloc[0])
                ax.set_title(f"{dataset} (N = {N})")
            ax.set_ylabel(label if j == 0 else "")
            ax.set_xlabel("load K/N" if i == len(_RADIUS_ROWS) - 1 else "")
    fig.supylabel("radius: largest flipped fraction", fontsize=8)
    fig.tight_layout(h_pad=0.5)
    n = int(results.groupby(["dataset", "load", "seed", "split"])["pattern"].nunique().max())
    n_seeds = results["seed"].nunique()
    caption = (
        f"Per-pattern basin radius: the largest flip fraction up to which a pattern is retrieved (scan stops at the "
        f"first failing level; 0 = fails at the smallest level, {top:g} = the whole grid). Markers: mean over up to "
        f"{n} patterns x {n_seeds} seed{'s' if n_seeds > 1 else ''}; bars: range over them."
    )
    order = [model_style(m).label for m in models]
    legend_below(fig, axes.ravel(), caption_text=caption, ncol=4, order=order)
    fig.suptitle("Basin radius per pattern", y=1.0 + 0.1 / fig.get_figheight())
    return fig


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    figures = {}
    for name, value, ylabel, what in (
        ("basins_recovery", "recovery", "share of flipped positions restored", "Recovery"),
        ("basins_exact", "frac_exact", "share of queries retrieved exactly", "Exact retrieval"),
    ):
        fig, axes = _curves(results, value, ylabel)
        caption = (
            _counts(results) + " Solid: stored (train) patterns; dashed: held-out (test) patterns; where curves"
            " coincide they take turns showing their marker."
            " Dotted colour lines (Hebb, random patterns): the flipped fraction up to which McEliece et al. (1987)"
            " predict exact recall at that load, from K = (1 - 2 flip)² N / (2 ln N)."
        )
        if value == "recovery":
            caption += " Dotted grey: a random guess restores half of the flipped bits."
        if value == "frac_exact":
            caption += " Chance of guessing a pattern exactly: 2^-N, about 0."
        _curve_legend(fig, axes, results, caption)
        fig.suptitle(f"{what} of corrupted queries against the flipped fraction", y=1.0 + 0.1 / fig.get_figheight())
        figures[name] = fig
    figures["basins_radius"] = _radius_figure(results)
    return figures

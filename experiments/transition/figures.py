"""Figures of the transition, rebuilt from the results table alone.

Recovery against ``K`` per memory (train solid, test dashed, one colour per ``t``; the peak of
the learned model's held-out NELBO dashed grey), conditional entropy and its train gap, the
classes of generations, and the divergence of the learned prediction from the exact one; the
diagnostics' figures are in :mod:`.diagnostic_figures`.
"""

from __future__ import annotations

import math

import pandas as pd

from experiments.figures import PAGE_WIDTH, alternate_markers, legend_below
from experiments.metrics import GENERATION_CLASSES
from experiments.style import generation_colour, model_label, series_colour, split_colour
from experiments.transition.acceptance import SMALL_K_ENTROPY, nelbo_peak
from experiments.transition.crossing import crossing_k
from experiments.transition.diagnostic_figures import (
    crossing_figure,
    entropy_t_figure,
    fixed_point_figure,
    log_k_axis,
    nelbo_figure,
)
from experiments.transition.training import MODEL_CHOICES

__all__ = ["plot"]

_ENTROPY_LINE = f"memorised: entropy ≤ {SMALL_K_ENTROPY:g} nats"


def _seeds(df: pd.DataFrame) -> str:
    """``"mean over n seeds"`` for a title or caption."""
    n = int(df["seed"].nunique()) if "seed" in df else 1
    return f"mean over {n} seed{'s' if n != 1 else ''}"


def _recovery_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    rec = results[results["kind"] == "recovery"]
    datasets = list(dict.fromkeys(rec["dataset"]))
    mods = [m for m in MODEL_CHOICES if m in set(rec["model"])]
    ts = sorted(rec["t"].unique())
    colours = {t: series_colour(i) for i, t in enumerate(ts)}
    peaks = nelbo_peak(results)
    peaks = peaks[peaks["interior"].astype(bool)]  # an end point of the K range is no peak
    fig, axes = plt.subplots(
        len(datasets), len(mods), figsize=(PAGE_WIDTH, 2.1 * len(datasets)), sharey=True, squeeze=False
    )
    for i, ds in enumerate(datasets):
        sub = rec[rec["dataset"] == ds]
        mean = sub.groupby(["model", "split", "t", "K"])["recovery"].mean()
        ks = sorted(sub["K"].unique())
        for j, model in enumerate(mods):
            ax = axes[i, j]
            keys = [(t, sp) for t in ts for sp in ("train", "test") if (model, sp, t) in mean.index.droplevel("K")]
            # coinciding curves take turns showing their marker, so none hides another
            marks = alternate_markers({key: mean.loc[(model, key[1], key[0])].to_dict() for key in keys})
            for t, split in keys:
                y = mean.loc[(model, split, t)]
                every = [n for n, k in enumerate(y.index) if k in set(marks[(t, split)])]
                ls = "-" if split == "train" else "--"
                ax.plot(y.index, y.values, ls=ls, marker="o", markevery=every, ms=3.5, color=colours[t], lw=1.4)
                ax.lines[-1].set_label(f"t = {t:g}, {split}")
            if model == "diffusion" and "oracle" in mods:
                # the memory's floor on held-out data: what shared tokens alone restore
                y = mean.loc[("oracle", "test", ts[0])]
                ax.plot(y.index, y.values, ls=":", color="0.55", lw=1.0, label=f"oracle test, t = {ts[0]:g}")
            if model == "diffusion":  # as in Pham et al. (2026): the held-out NELBO's peak on the K axis
                for k_peak in peaks.loc[peaks["dataset"] == ds, "K_peak"]:
                    ax.axvline(k_peak, color="0.5", ls="--", lw=0.8, label="held-out NELBO peak")
            log_k_axis(ax, ks)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model_label(model)} ({ds})")
            ax.set_xlabel("training sequences K" if i == len(datasets) - 1 else "")
            ax.set_ylabel("token recovery" if j == 0 else "")
    fig.suptitle(f"Token recovery against the number of training sequences ({_seeds(rec)})")
    fig.tight_layout()
    columns = [[f"t = {t:g}, {split}" for split in ("train", "test")] for t in ts]
    legend_below(fig, axes.ravel(), columns=columns)
    return fig


def _entropy_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    ent = results[results["kind"] == "entropy"]
    datasets = list(dict.fromkeys(ent["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(PAGE_WIDTH, 2.6 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        mean = ent[ent["dataset"] == ds].groupby(["model", "split", "K"])["entropy"].mean()
        ks = sorted(ent.loc[ent["dataset"] == ds, "K"].unique())
        ax, gap_ax = axes[i]
        for split in ("train", "test", "generated"):
            if ("diffusion", split) in mean.index.droplevel("K"):
                y = mean.loc[("diffusion", split)]
                ax.plot(y.index, y.values, marker="o", ms=3.5, color=split_colour(split), label=f"learned, {split}")
            if ("oracle", split) in mean.index.droplevel("K"):
                y = mean.loc[("oracle", split)]
                ax.plot(y.index, y.values, color=split_colour(split), lw=0.8, ls=":", label=f"oracle, {split}")
        ax.axhline(SMALL_K_ENTROPY, color="0.7", lw=0.8, label=_ENTROPY_LINE)
        ax.set_ylabel("mean conditional entropy (nats)")
        ax.set_title(rf"entropy of $p(x_0^i \mid x^{{-i}})$, t = 1e-5 ({ds}; {_seeds(ent)})")
        if ("diffusion", "train") in mean.index.droplevel("K"):
            tr = mean.loc[("diffusion", "train")]
            for split in ("test", "generated"):
                if ("diffusion", split) in mean.index.droplevel("K"):
                    y = mean.loc[("diffusion", split)] - tr
                    gap_ax.plot(
                        y.index, y.values, marker="o", ms=3.5, color=split_colour(split), label=f"{split} - train"
                    )
        gap_ax.axhline(0.0, color="0.6", lw=0.8, label="no gap")
        gap_ax.set_ylabel("entropy gap (nats)")
        gap_ax.set_title("learned model: gap to the training sequences")
        for a in (ax, gap_ax):
            log_k_axis(a, ks)
            a.set_xlabel("training sequences K" if i == len(datasets) - 1 else "")
    fig.tight_layout()
    splits = ("train", "test", "generated")
    columns = [[f"learned, {s}" for s in splits], [f"oracle, {s}" for s in splits]]
    columns += [[f"{s} - train" for s in splits[1:]] + ["no gap"], [_ENTROPY_LINE]]
    legend_below(fig, axes.ravel(), columns=columns)
    return fig


def _generation_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    gen = results[results["kind"] == "generation"]
    datasets = list(dict.fromkeys(gen["dataset"]))
    mods = [m for m in MODEL_CHOICES if m in set(gen["model"])]
    fig, axes = plt.subplots(
        len(datasets), len(mods), figsize=(PAGE_WIDTH, 2.1 * len(datasets)), sharey=True, squeeze=False
    )
    cols = [*GENERATION_CLASSES, "copy", "rule_fraction", "rule_valid"]
    for i, ds in enumerate(datasets):
        for j, model in enumerate(mods):
            ax = axes[i, j]
            mean = gen[(gen["dataset"] == ds) & (gen["model"] == model)].groupby("K")[cols].mean().sort_index()
            ks = mean.index.to_numpy()
            ax.stackplot(
                ks,
                *(mean[c].to_numpy() for c in GENERATION_CLASSES),
                labels=list(GENERATION_CLASSES),
                colors=[generation_colour(c) for c in GENERATION_CLASSES],
                alpha=0.85,
            )
            ax.plot(ks, mean["copy"], color="0.1", ls=":", marker="x", ms=4, label="exact copies")
            if mean["rule_fraction"].notna().any():
                label = "words in corpus" if ds == "text" else "pairs obeying the rule"
                ax.plot(ks, mean["rule_fraction"], color="k", marker="o", ms=3.5, label=label)
                label = "all words in corpus" if ds == "text" else "rule-valid sequences"
                ax.plot(ks, mean["rule_valid"], color="k", ls="--", marker="s", ms=3, label=label)
            log_k_axis(ax, list(ks))
            if len(ks) > 1:
                ax.set_xlim(ks[0], ks[-1])
            ax.set_ylim(0, 1)
            ax.set_title(f"{model_label(model)} ({ds})")
            ax.set_xlabel("training sequences K" if i == len(datasets) - 1 else "")
            ax.set_ylabel("share of generations" if j == 0 else "")
    fig.suptitle(f"Generations from pure noise, classed by Hamming thresholds ({_seeds(gen)})")
    fig.tight_layout()
    legend_below(fig, axes.ravel(), ncol=4)  # every label once, from all panels (datasets differ)
    return fig


def _divergence_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    div = results[results["kind"] == "divergence"]
    datasets = list(dict.fromkeys(div["dataset"]))
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 2.6))
    for k, ds in enumerate(datasets):
        sub = div[div["dataset"] == ds]
        mean = sub.groupby(["split", "K"])[["kl", "tv"]].mean()
        for ax, col in zip(axes, ("kl", "tv"), strict=True):
            for split, ls in (("train", "-"), ("test", "--")):
                if split in mean.index.get_level_values(0):
                    y = mean.loc[split, col]
                    colour = series_colour(k)
                    ax.plot(y.index, y.values, ls=ls, marker="o", ms=3.5, color=colour, label=f"{ds}, {split}")
    t = div["t"].iloc[0] if len(div) else math.nan
    ks = sorted(div["K"].unique())
    for ax, label in zip(axes, ("KL(oracle || learned) (nats)", "total variation"), strict=True):
        log_k_axis(ax, ks)
        ax.set_xlabel("training sequences K")
        ax.set_ylabel(label)
    axes[0].set_title(f"learned vs oracle prediction, t = {t:g} ({_seeds(div)})")
    axes[1].set_title("solid: corrupted train, dashed: corrupted test")
    fig.tight_layout()
    legend_below(fig, axes, ncol=len(datasets))
    return fig


def _figures(results: pd.DataFrame) -> dict:
    figures = {}
    kinds = set(results["kind"])
    if "recovery" in kinds:
        figures["transition_recovery"] = _recovery_figure(results)
    if "entropy" in kinds:
        figures["transition_entropy"] = _entropy_figure(results)
    if "generation" in kinds:
        figures["transition_generations"] = _generation_figure(results)
    if "divergence" in kinds:
        figures["transition_divergence"] = _divergence_figure(results)
    if "nelbo" in kinds:
        figures["transition_nelbo"] = nelbo_figure(results)
    if "fixed_point" in kinds:
        figures["transition_fixed_points"] = fixed_point_figure(results)
    if "entropy_t" in kinds:
        figures["transition_entropy_t"] = entropy_t_figure(results)
    return figures


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    """Every figure of a results table; a table of several network widths gets one set per width
    (names suffixed ``_d<width>``) and one crossing figure over all widths."""
    widths = sorted(results["d_model"].unique()) if "d_model" in results else []
    if len(widths) > 1:
        figures = {}
        for width in widths:
            one = _figures(results[results["d_model"] == width])
            figures.update({f"{name}_d{width}": fig for name, fig in one.items()})
    else:
        figures = _figures(results)
    if "recovery" in set(results["kind"]) and len(crossing_k(results)):
        figures["transition_crossing"] = crossing_figure(results)
    return figures

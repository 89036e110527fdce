"""Figures of the diagnostics (:mod:`.diagnostics`, :mod:`.crossing`), rebuilt from the results table alone.

* ``transition_nelbo``: the learned model's NELBO per token (right axis: perplexity
  ``exp(NELBO)``) on train and test sequences against ``K``, the peak of the held-out NELBO marked;
* ``transition_fixed_points``: share of clean train / test sequences that the deterministic
  denoiser leaves unchanged, learned model and oracle;
* ``transition_entropy_t``: the conditional-entropy probe against the corruption time ``t``,
  one line per ``K``, one panel per split (train / test / generated);
* ``transition_crossing``: the train - test recovery gap at ``t = 0.1`` against ``K`` per network
  width, with the threshold and the crossing ``K`` of :func:`.crossing.crossing_k`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.figures import PAGE_WIDTH
from experiments.style import model_label, series_colour, split_colour
from experiments.transition.acceptance import nelbo_peak
from experiments.transition.crossing import CROSSING_GAP, CROSSING_T, crossing_k

__all__ = ["nelbo_figure", "fixed_point_figure", "entropy_t_figure", "crossing_figure", "log_k_axis"]

_SPLIT_STYLE = {"train": "-", "test": "--", "generated": ":"}


def log_k_axis(ax, ks) -> None:
    """A log2 ``K`` axis with one labelled tick per ``K`` of the sweep."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks], fontsize=7)
    ax.minorticks_off()


def _seeds(df: pd.DataFrame) -> str:
    """``"mean over n seeds"`` for a title."""
    n = int(df["seed"].nunique()) if "seed" in df else 1
    return f"mean over {n} seed{'s' if n != 1 else ''}"


def _at_most(ks: list, n: int) -> list:
    """At most ``n`` of the sorted ``ks``, evenly spaced in rank, the first and the last kept."""
    if len(ks) <= n:
        return ks
    picks = np.unique(np.round(np.linspace(0, len(ks) - 1, n)).astype(int))
    return [ks[i] for i in picks]


def _datasets(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["dataset"]))


def nelbo_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    nel = results[results["kind"] == "nelbo"]
    datasets = _datasets(nel)
    widths = sorted(nel["d_model"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(PAGE_WIDTH, 2.8), squeeze=False)
    peaks = nelbo_peak(results)
    peaks = peaks[peaks["interior"].astype(bool)]  # an end point of the K range is no peak
    for ax, ds in zip(axes[0], datasets, strict=True):
        sub = nel[nel["dataset"] == ds]
        for i, width in enumerate(widths):
            mean = sub[sub["d_model"] == width].groupby(["split", "K"])["nelbo"].mean()
            for split in ("train", "test"):
                if split in mean.index.get_level_values(0):
                    y = mean.loc[split]
                    label = f"{split}" + (f", d_model {width}" if len(widths) > 1 else "")
                    colour = series_colour(i) if len(widths) > 1 else split_colour(split)
                    ax.plot(y.index, y.values, ls=_SPLIT_STYLE[split], marker="o", ms=3.5, color=colour, label=label)
        for p in peaks[peaks["dataset"] == ds].itertuples():
            ax.axvline(p.K_peak, color="0.5", ls="--", lw=0.8, label="held-out NELBO peak")
            where = (p.K_peak, p.nelbo_peak)
            ax.annotate(f"test peak K={p.K_peak}", where, fontsize=7, xytext=(4, 4), textcoords="offset points")
        log_k_axis(ax, sorted(sub["K"].unique()))
        ax.set_xlabel("training sequences K")
        ax.set_ylabel("NELBO (nats / token)")
        ppl = ax.secondary_yaxis("right", functions=(np.exp, lambda p: np.log(np.clip(p, 1e-300, None))))
        ppl.set_ylabel("perplexity exp(NELBO)")
        ppl.set_yticks([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])  # readable where exp crowds the ticks
        ax.set_title(f"learned model: NELBO per token, train and held-out ({ds}, {_seeds(sub)})", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def fixed_point_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    fp = results[results["kind"] == "fixed_point"]
    datasets = _datasets(fp)
    models = [m for m in ("diffusion", "oracle") if m in set(fp["model"])]
    fig, axes = plt.subplots(
        len(datasets), len(models), figsize=(PAGE_WIDTH, 2.4 * len(datasets)), sharey=True, squeeze=False
    )
    t = fp["t"].iloc[0] if len(fp) else math.nan
    for i, ds in enumerate(datasets):
        sub = fp[fp["dataset"] == ds]
        mean = sub.groupby(["model", "split", "K"])[["frac_fixed", "frac_to_train"]].mean()
        for j, model in enumerate(models):
            ax = axes[i, j]
            for split in ("train", "test"):
                if (model, split) in mean.index.droplevel("K"):
                    y = mean.loc[(model, split)]
                    colour = split_colour(split)
                    ax.plot(y.index, y["frac_fixed"], marker="o", ms=3.5, color=colour, label=f"{split}: fixed points")
            if (model, "test") in mean.index.droplevel("K"):
                y = mean.loc[(model, "test"), "frac_to_train"]
                ax.plot(
                    y.index, y.values, ls=":", color=split_colour("test"), label="test: ends on a training sequence"
                )
            log_k_axis(ax, sorted(sub["K"].unique()))
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model_label(model)} ({ds}), t = {t:g}", fontsize=9)
            ax.set_xlabel("training sequences K" if i == len(datasets) - 1 else "")
            ax.set_ylabel("share of clean sequences" if j == 0 else "")
            if j == 0:
                ax.legend(fontsize=7, frameon=False, loc="center right")
    title = r"Clean sequences under $x \leftarrow \arg\max_v p(x_0^i = v \mid x)$: unchanged by one update"
    fig.suptitle(f"{title} ({_seeds(fp)})", y=1.0)
    fig.tight_layout()
    return fig


def entropy_t_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    sel = results["kind"].isin(["entropy", "entropy_t"]) & (results["model"] == "diffusion")
    ent = results[sel]
    datasets = _datasets(ent)
    splits = [s for s in ("train", "test", "generated") if s in set(ent["split"])]
    fig, axes = plt.subplots(
        len(datasets), len(splits), figsize=(PAGE_WIDTH, 2.4 * len(datasets)), sharey=True, squeeze=False
    )
    for i, ds in enumerate(datasets):
        sub = ent[ent["dataset"] == ds]
        ks = _at_most(sorted(sub["K"].unique()), 7)
        colours = {K: series_colour(n) for n, K in enumerate(ks)}
        mean = sub.groupby(["split", "K", "t"])["entropy"].mean()
        for j, split in enumerate(splits):
            ax = axes[i, j]
            for K in ks:
                if (split, K) in mean.index.droplevel("t"):
                    y = mean.loc[(split, K)]
                    ax.plot(y.index, y.values, marker="o", ms=3, color=colours[K], label=f"K = {K}")
            ax.set_xscale("log")
            ax.set_title(f"{split} sequences ({ds})", fontsize=9)
            ax.set_xlabel("corruption time t of x_t" if i == len(datasets) - 1 else "")
            ax.set_ylabel("mean conditional entropy (nats)" if j == 0 else "")
        axes[i, -1].legend(fontsize=6, frameon=False, ncol=2)
    title = r"Learned model: entropy of $p(x_0^i \mid x_t^{-i})$ against t (leftmost: clean, t = 1e-5)"
    fig.suptitle(f"{title}, {_seeds(ent)}", y=1.0)
    fig.tight_layout()
    return fig


def crossing_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    rec = results[(results["kind"] == "recovery") & (results["model"] == "diffusion")]
    rec = rec[np.isclose(rec["t"].astype(float), CROSSING_T)]
    wide = rec.pivot_table(index=["dataset", "d_model", "seed", "K"], columns="split", values="recovery")
    gap = (wide["train"] - wide["test"]).rename("gap").reset_index()
    cross = crossing_k(results)
    datasets = _datasets(gap)
    fig, axes = plt.subplots(1, len(datasets), figsize=(PAGE_WIDTH, 2.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        sub = gap[gap["dataset"] == ds]
        for i, (width, g) in enumerate(sub.groupby("d_model")):
            stats = g.groupby("K")["gap"].agg(["mean", "std"]).fillna({"std": 0.0})
            colour = series_colour(i)
            ax.plot(stats.index, stats["mean"], marker="o", ms=3.5, color=colour, label=f"d_model {width}")
            low, high = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
            ax.fill_between(stats.index, low, high, color=colour, alpha=0.2, lw=0, label="± 1 sd over seeds")
            k = cross.loc[(cross["dataset"] == ds) & (cross["d_model"] == width) & (cross["censored"] == ""), "K_cross"]
            if len(k):
                ax.axvline(float(k.mean()), color=colour, ls=":", lw=1.0, label="crossing K (mean over seeds)")
        ax.axhline(CROSSING_GAP, color="0.5", lw=0.8, label=f"threshold {CROSSING_GAP:g}")
        log_k_axis(ax, sorted(sub["K"].unique()))
        ax.set_xlabel("training sequences K")
        ax.set_ylabel(f"train - test recovery, t = {CROSSING_T:g}")
        ax.set_title(f"crossing K: gap below {CROSSING_GAP:g} ({ds}, {_seeds(sub)})", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig

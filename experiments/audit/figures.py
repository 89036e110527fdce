"""Figures of the audit, rebuilt from the results table and ``run.json`` alone.

* ``audit_basin_vs_extraction``: basin width ``t*`` against prompted extraction, one panel
  per ``K``, one point per audited sequence and seed (training and held-out, learned model;
  the oracle's training sequences as the reference of perfect memorisation);
* ``audit_auc``: membership ROC AUC of each signal against ``K`` (mean and range over seeds),
  the transition's crossing ``K`` marked when ``run.json`` names a transition table;
* ``audit_duplication``: ``t*``, prompted extraction and unprompted copy rate against the
  multiplicity of a sequence in the duplication arm's training set.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.audit.analysis import SIGNALS, dose_response, key_numbers, transition_crossing
from experiments.figures import PAGE_WIDTH, legend_below, seed_band
from experiments.style import model_style, series_colour, split_colour
from experiments.transition.diagnostic_figures import log_k_axis

__all__ = ["plot"]

_SIGNAL_LABELS = {"t_star": "basin width t*", "entropy": "entropy (lower = member)", "nelbo": "NELBO (lower = member)"}


def _n_seeds(df: pd.DataFrame) -> str:
    """``"n seed(s)"`` of a table."""
    n = int(df["seed"].nunique()) if len(df) else 0
    return f"{n} seed{'s' if n != 1 else ''}"


def _scatter_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    tr = results[results["regime"] == "transition"]
    ks = sorted(tr["K"].unique())
    fig, axes = plt.subplots(1, max(len(ks), 1), figsize=(PAGE_WIDTH, 2.4), sharex=True, sharey=True, squeeze=False)
    jitter = np.random.default_rng(0)  # only spreads coinciding points on the plot
    for ax, K in zip(axes[0], ks, strict=False):
        sub = tr[tr["K"] == K]
        for model, split, label in (
            ("diffusion", "test", "learned, held-out"),
            ("diffusion", "train", "learned, training"),
            ("oracle", "train", "oracle, training"),
        ):
            pts = sub[(sub["model"] == model) & (sub["split"] == split)]
            if pts.empty:
                continue
            y = pts["extract_prompted"].to_numpy() + jitter.uniform(-0.02, 0.02, len(pts))
            style = dict(color=split_colour(split), marker="o", s=7, alpha=0.5)
            if model == "oracle":
                style = dict(color=model_style("oracle").colour, marker="x", s=9, alpha=0.6)
            ax.scatter(pts["t_star"], y, label=label, **style)
        ax.set_title(f"K = {K}")
        ax.set_xlabel("basin width t*")
        ax.set_ylim(-0.05, 1.05)
    axes[0, 0].set_ylabel("prompted extraction rate")
    fig.tight_layout()
    legend_below(
        fig,
        axes.ravel(),
        caption_text=f"One point per audited sequence and seed ({_n_seeds(tr)}); extraction rates jittered "
        "by ±0.02 so that equal values stay visible.",
    )
    return fig


def _auc_figure(results: pd.DataFrame, run_info: dict):
    import matplotlib.pyplot as plt

    kn = key_numbers(results[results["regime"] == "transition"])
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 2.6), sharex=True, squeeze=False)
    ax, rho_ax = axes[0]
    learned = kn[kn["model"] == "diffusion"]
    ks = sorted(learned["K"].unique())
    for i, name in enumerate(SIGNALS):
        seed_band(ax, learned, "K", f"auc_{name}", colour=series_colour(i), marker="o", label=_SIGNAL_LABELS[name])
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":", label="chance (AUC 0.5)")
    ax.set_ylabel("membership ROC AUC")
    ax.set_ylim(0.0, 1.05)
    seed_band(
        rho_ax,
        learned.dropna(subset=["spearman"]),
        "K",
        "spearman",
        colour=series_colour(3),
        marker="s",
        label="Spearman rho(t*, prompted extraction)",
    )
    rho_ax.axhline(0.0, color="0.6", lw=0.8, ls=":", label="no correlation")
    rho_ax.set_ylabel("rank correlation (training sequences)")
    k_cross = transition_crossing((run_info or {}).get("config", run_info or {}).get("transition_results"))
    for a in (ax, rho_ax):
        if ks:
            log_k_axis(a, ks)
        a.set_xlabel("training sequences K")
        if not math.isnan(k_cross):
            a.axvline(k_cross, color="0.4", ls="--", lw=0.9, label="transition crossing K")
    fig.tight_layout()
    legend_below(
        fig,
        axes.ravel(),
        caption_text=f"Learned model, mean over {_n_seeds(learned)} with their range; rho is undefined "
        "(left out) where every training sequence has the same extraction rate.",
    )
    return fig


def _duplication_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    dr = dose_response(results)
    columns = (
        ("t_star", "basin width t*"),
        ("extract_prompted", "prompted extraction"),
        ("unprompted_rate", "unprompted copy rate"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(PAGE_WIDTH, 2.4), squeeze=False)
    for ax, (col, label) in zip(axes[0], columns, strict=True):
        for model in ("diffusion", "oracle"):
            sub = dr[dr["model"] == model]
            if sub.empty:
                continue
            style = model_style(model)
            # multiplicity 0 (held-out) sits at x = 0.5 on the log axis
            shown = sub.assign(x=sub["multiplicity"].where(sub["multiplicity"] > 0, 0.5))
            seed_band(ax, shown, "x", col, colour=style.colour, marker=style.marker, label=style.label)
        ax.set_xscale("log", base=2)
        ticks = sorted(dr["multiplicity"].unique())
        ax.set_xticks([m if m > 0 else 0.5 for m in ticks])
        ax.set_xticklabels([str(m) if m > 0 else "held-out" for m in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("multiplicity in the training set")
        ax.set_title(label)
    fig.tight_layout()
    K = sorted(results.loc[results["regime"] == "duplication", "K"].unique())
    legend_below(
        fig,
        axes.ravel(),
        caption_text=f"Duplication arm (K = {', '.join(map(str, K))} distinct sequences), mean over "
        f"{_n_seeds(dr)} with their range.",
    )
    return fig


def plot(results: pd.DataFrame, run_info: dict | None = None) -> dict:
    """``{name: Figure}`` of the audit (figures whose data are missing are left out)."""
    figs = {}
    if (results["regime"] == "transition").any():
        figs["audit_basin_vs_extraction"] = _scatter_figure(results)
        figs["audit_auc"] = _auc_figure(results, run_info or {})
    if (results["regime"] == "duplication").any():
        figs["audit_duplication"] = _duplication_figure(results)
    return figs

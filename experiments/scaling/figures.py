"""Figures of the scaling study, drawn from the results table alone.

* ``scaling``: ``K_max`` against ``N`` per family (rows: criterion; columns: classical,
  polynomial dense, exponential memories at small ``N``, modern nets at small ``beta``);
  log-log for the power families, log-linear for the exponential ones.  Line: geometric
  mean over seeds; band: smallest to largest seed; dashed / dotted: theory.
* ``ags_overlap``: the final overlap of the Hebbian net at fixed loads (the overlap
  cells) against the AGS retrieval branch ``m(alpha)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments import theory
from experiments.figures import palette
from experiments.scaling.fits import SCALE, capacities, theory_curves
from experiments.style import series_colour

__all__ = ["plot", "PANELS"]

#: (title, models, x scale) of the figure's columns.
PANELS = (
    ("classical nets", ("classical-hebb", "classical-pseudoinverse", "classical-storkey", "dense-n2"), "log"),
    ("dense, polynomial F", ("dense-n3", "dense-n4"), "log"),
    ("exponential memories", ("dense-exp", "modern-b1", "oracle"), "linear"),
    ("modern nets, small beta", ("modern-b0.1", "modern-b0.02"), "linear"),
)
ROWS = (("exact", "all stored patterns fixed points"), ("m95", "90 % retrieved with m >= 0.95"))
_NO_THEORY_TWICE = {"dense-n2"}  # its theory curves are the Hebbian ones, already drawn


def _draw_model(ax, caps: pd.DataFrame, model: str, criterion: str, colour, flip: float) -> None:
    df = caps[(caps["model"] == model) & (caps["criterion"] == criterion)]
    if df.empty:
        return
    ok = df[(df["K_max"] > 0) & ~df["censored"]]
    g = ok.groupby("N")["K_max"]
    mean = np.exp(g.apply(lambda k: np.log(k).mean()))
    ax.plot(mean.index, mean.to_numpy(), "o-", color=colour, ms=3.5, lw=1.4, label=model)
    ax.fill_between(mean.index, g.min().to_numpy(), g.max().to_numpy(), color=colour, alpha=0.2, lw=0)
    cens = df[df["censored"]]
    if len(cens):
        ax.plot(cens["N"], cens["K_max"], "^", color=colour, ms=5, mfc="none", label=f"{model}: no failure")
    if model in _NO_THEORY_TWICE:
        return
    Ns = np.linspace(df["N"].min(), df["N"].max(), 60)
    for i, (label, curve) in enumerate(theory_curves(model, criterion, flip)):
        K = np.asarray(curve(Ns), dtype=float)
        label += "" if (K >= 1).any() else " (< 1 on this range)"
        ax.plot(Ns, np.where(K >= 1, K, np.nan), ls=("--", ":")[min(i, 1)], color=colour, lw=1.0, label=label)


def _axes_style(ax, xscale: str) -> None:
    """Log ``K`` axis; plain numbers on the ticks (1, 2, 5 per decade on a log ``N`` axis)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plain)
    ax.set_xscale(xscale)
    if xscale == "log":
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())


def _scaling_figure(caps: pd.DataFrame, flip: float):
    import matplotlib.pyplot as plt

    colours = palette(caps["model"].unique())
    panels = [p for p in PANELS if caps["model"].isin(p[1]).any()]
    fig, axes = plt.subplots(2, len(panels), figsize=(4.3 * len(panels), 7.4), squeeze=False)
    for j, (title, models, xscale) in enumerate(panels):
        for i, (criterion, label) in enumerate(ROWS):
            ax = axes[i, j]
            for model in models:
                _draw_model(ax, caps, model, criterion, colours.get(model), flip)
            _axes_style(ax, xscale)
            if not ax.lines:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(
                    0.5,
                    0.5,
                    "not searched:\nstored patterns are\nfixed points at any K",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="0.4",
                )
            else:
                ax.legend(fontsize=5.5, loc="upper left", frameon=False)
            ax.set_title(f"{title}\n{label}" if i == 0 else label, fontsize=9)
            ax.set_xlabel("N" if i == 1 else "")
            ax.set_ylabel("K_max" if j == 0 else "")
    fig.suptitle(
        f"Capacity against N: line = geometric mean over seeds, band = min-max; "
        f"dashed = theory; queries with {flip:.0%} flips",
        y=1.0,
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _ags_figure(results: pd.DataFrame):
    import matplotlib.pyplot as plt

    df = results[(results["model"] == "classical-hebb") & (results["criterion"] == "overlap")]
    alpha_c, m_c = theory.ags_critical()
    a = np.linspace(1e-3, alpha_c, 200)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8))
    for ax in axes:
        ax.plot(a, theory.ags_overlap(a), color="k", lw=1.6, label="AGS retrieval branch m(alpha), T = 0", zorder=4)
        ax.plot([alpha_c], [m_c], "ko", ms=4, zorder=4)
        ax.axvline(alpha_c, color="0.4", ls=":", lw=1)
        for i, (N, d) in enumerate(df.groupby("N")):
            g = d.groupby("load")["mean_overlap"]
            colour = series_colour(i)
            mean = g.mean()
            ax.plot(mean.index, mean.to_numpy(), "o-", color=colour, ms=3.5, lw=1.2, label=f"Hebbian net, N = {N}")
            ax.fill_between(g.mean().index, g.min().to_numpy(), g.max().to_numpy(), color=colour, alpha=0.2, lw=0)
        ax.set_xlabel("load alpha = K/N")
    axes[0].set_ylim(0, 1.03)
    axes[0].set_ylabel("final overlap m (mean over probes)")
    axes[0].set_title("from 10 % flips (line: mean over seeds, band: min-max)", fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].set_xlim(0, alpha_c + 0.02)
    axes[1].set_ylim(0.94, 1.002)
    axes[1].set_title(f"below alpha_c = {alpha_c:.4f} (m_c = {m_c:.3f}, dot)", fontsize=9)
    fig.tight_layout()
    return fig


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    """``{"scaling": Figure, "ags_overlap": Figure}`` from the results table (``run_info`` unused)."""
    del run_info
    flip = float(results["flip"].iloc[0])
    caps = capacities(results)
    caps = caps[caps["model"].isin(SCALE)]
    figures = {"scaling": _scaling_figure(caps, flip)}
    if (results["criterion"] == "overlap").any():
        figures["ags_overlap"] = _ags_figure(results)
    return figures

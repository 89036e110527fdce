"""Capacity: how many random patterns each memory stores, against theory.

For every memory and load ``K/N`` on unbiased random binary patterns (the same
pattern set for every memory at a given ``(N, K, seed)``):

* ``frac_stable``: stored patterns that are exact fixed points of one update;
* ``frac_exact``: patterns retrieved exactly from queries with 10 % of the bits flipped;
* ``frac_m95``: patterns retrieved with final overlap ``m >= 0.95`` (at most 2.5 %
  wrong bits), the sense of "retrieval" in Amit-Gutfreund-Sompolinsky's
  ``alpha_c = 0.138`` (retrieval with < 1.5 % errors, docs/theory.md §2.1).

The capacity estimate of a memory is the largest load up to which at least 90 % of
the probes are retrieved (``frac_m95``; ``frac_exact`` is reported beside it and
compares with McEliece's ``N / (2 ln N)``, which is about exact recall).  It is taken on
the curve averaged over seeds; :func:`seed_estimates` takes it on each seed alone, and the
summary gives both (the spread over seeds), as the figure gives the range over seeds as a band.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments import zoo
from experiments.corruption import flip, noise_for_flip
from experiments.figures import (
    PAGE_WIDTH,
    alternate_markers,
    band_label,
    label_vlines,
    legend_below,
    renderer_of,
    seed_band,
)
from experiments.patterns import random_patterns
from experiments.seeds import derive_seed
from experiments.style import MEMORIES, model_label, model_style
from experiments.theory import theory_loads

NAME = "capacity"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
THRESHOLD = 0.9  # share of probes that must be retrieved for a load to count as stored
# What ``python -m experiments capacity --help`` says besides the presets.
ROWS = "per model x load x seed"
FIGURES = ("capacity",)
RUNTIME = {
    "quick": "about 30 s, serial on 2 shared CPU cores (28-31 s measured)",
    "paper": "not measured (N = 500, 24 loads, 5 seeds, 200 probes: several times quick)",
}
EXAMPLES = (
    "python -m experiments capacity --preset quick --out results --backend joblib --jobs 2",
    "python -m experiments capacity --preset quick --set N=64 --set flip=0.2 --device cpu",
    "python -m experiments capacity --models classical-hebb,classical-storkey,modern-b1 --seeds 0,1",
)


@dataclass(frozen=True)
class Config:
    """Capacity sweep: models x loads x seeds on random +-1 patterns of ``N`` bits.

    ``loads`` and ``loads_high`` are ``K / N`` (both are swept; the high ones only for the
    memories whose capacity is not quadratic).  ``flip`` is the fraction of bits flipped
    (exactly) in every query; ``n_probe`` stored patterns are probed per cell.
    ``max_quadratic_load`` caps the loads given to the quadratic-energy memories
    (classical nets and dense n = 2): none of them stores more than ``N`` patterns
    (the pseudo-inverse bound, docs/theory.md §2.4), so larger loads only cost time.
    """

    models: tuple[str, ...] = zoo.HOPFIELD_MODELS
    N: int = 200
    loads: tuple[float, ...] = (0.05, 0.08, 0.1, 0.11, 0.12, 0.13, 0.14, 0.16, 0.2, 0.3, 0.5, 0.7, 1.0)
    loads_high: tuple[float, ...] = (1.5, 2.0, 3.0, 5.0, 8.0)
    max_quadratic_load: float = 1.0
    flip: float = 0.1
    n_probe: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)
    device: str = "cpu"


PRESETS = {
    "quick": Config(),
    "paper": Config(
        N=500,
        loads=(0.02, 0.05, 0.08, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0),
        loads_high=(1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0),
        n_probe=200,
        seeds=(0, 1, 2, 3, 4),
    ),
}

QUADRATIC = ("classical", "dense-n2")


@dataclass(frozen=True)
class Cell:
    model: str
    N: int
    load: float
    flip: float
    n_probe: int
    seed: int
    device: str = "cpu"


def cells(config: Config) -> list[Cell]:
    return [
        Cell(model=m, N=config.N, load=load, flip=config.flip, n_probe=config.n_probe, seed=s, device=config.device)
        for m in config.models
        for load in config.loads + config.loads_high
        if not (m.startswith(QUADRATIC) and load > config.max_quadratic_load)
        for s in config.seeds
    ]


def run_cell(cell: Cell) -> list[dict]:
    """Store ``K = load N`` random patterns, then probe: one update from each, and retrieval from flipped copies."""
    start = time.perf_counter()
    N = cell.N
    K = max(1, round(cell.load * N))
    ps = random_patterns(K, N, vocab_size=2, seed=cell.seed)  # same set for every model
    net = zoo.build(cell.model, device=cell.device).fit(ps.train, vocab_size=2)
    targets = ps.train[: min(K, cell.n_probe)]  # i.i.d. patterns: the first ones are a random sample
    t = noise_for_flip(cell.flip)
    g = torch.Generator().manual_seed(derive_seed(cell.seed, N, K))

    # Draw the queries before any model draws from ``g`` (async nets take their update
    # order from it): every memory then gets identical queries, not just identical patterns.
    queries = flip(targets, round(cell.flip * N), 2, generator=g)

    one = net.retrieve(targets, noise=t, max_steps=1, generator=g)  # stability: one update from the pattern
    stable = (one.states == targets).all(dim=1)

    r = net.retrieve(queries, noise=t, generator=g)  # retrieval from the flipped copies
    m = 2.0 * (r.states == targets).double().mean(dim=1) - 1.0  # overlap of +-1 codes
    return [
        {
            "model": cell.model,
            "family": zoo.family(cell.model),
            "N": N,
            "K": K,
            "load": cell.load,
            "flip": cell.flip,
            "seed": cell.seed,
            "pattern_hash": ps.hash,
            "n_probe": len(targets),
            "frac_stable": float(stable.double().mean()),
            "frac_exact": float((r.states == targets).all(dim=1).double().mean()),
            "frac_m95": float((m >= 0.95).double().mean()),
            "mean_overlap": float(m.mean()),
            "frac_converged": float(r.converged.double().mean()),
            "mean_steps": float(r.steps.double().mean()),
            "wall_s": time.perf_counter() - start,
        }
    ]


# -- derived quantities ----------------------------------------------------------------


def capacity_estimates(results: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per model: the largest load up to which the mean retrieved share stays >= threshold.

    Loads are scanned upwards and the scan stops at the first failing load, so one
    lucky load above a failure does not count.  ``nan`` when even the smallest load fails.
    """
    rows = []
    for (model, N), df in results.groupby(["model", "N"], sort=False):
        mean = df.groupby("load")[["frac_m95", "frac_exact"]].mean().sort_index()
        est = {}
        for col in ("frac_m95", "frac_exact"):
            ok = (mean[col] >= threshold).to_numpy()
            fail = np.flatnonzero(~ok)
            upto = len(ok) if fail.size == 0 else fail[0]
            est[col] = float(mean.index[upto - 1]) if upto > 0 else float("nan")
            est[col + "_censored"] = bool(fail.size == 0)  # never failed: capacity beyond the grid
        rows.append(
            {
                "model": model,
                "N": N,
                "capacity_load": est["frac_m95"],
                "capacity_load_exact": est["frac_exact"],
                "beyond_grid": est["frac_m95_censored"],
                "beyond_grid_exact": est["frac_exact_censored"],
            }
        )
    return pd.DataFrame(rows)


def seed_estimates(results: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """:func:`capacity_estimates` of every seed alone, with a ``seed`` column (one row per model x seed)."""
    if "seed" not in results:
        return capacity_estimates(results, threshold).assign(seed=None)
    parts = [capacity_estimates(df, threshold).assign(seed=s) for s, df in results.groupby("seed", sort=True)]
    return pd.concat(parts, ignore_index=True)


def summary(results: pd.DataFrame) -> str:
    """Capacity estimate of every model from the seed-mean curves and, over several seeds, of each seed alone."""
    est = capacity_estimates(results)
    per_seed = seed_estimates(results)
    n_seeds = int(results["seed"].nunique()) if "seed" in results else 1
    smallest = float(results["load"].min())
    lines = ["capacity estimates (largest load K/N with >= 90% of probes retrieved from 10% flips):"]
    if n_seeds > 1:
        lines[0] = lines[0][:-1] + f", from the mean over {n_seeds} seeds; [each seed alone]:"
    for r in est.itertuples():
        largest = float(results.loc[results["model"] == r.model, "load"].max())
        m95 = _estimate_text(r.capacity_load, r.beyond_grid, smallest, largest)
        exact = _estimate_text(r.capacity_load_exact, r.beyond_grid_exact, smallest, largest)
        if n_seeds > 1:
            mine = per_seed[per_seed["model"] == r.model]
            grid = (smallest, largest)
            m95 += " " + _spread_text(m95, mine["capacity_load"], mine["beyond_grid"], *grid)
            exact += " " + _spread_text(exact, mine["capacity_load_exact"], mine["beyond_grid_exact"], *grid)
        lines.append(f"  {r.model:24s} m>=0.95: {m95:42s} exact: {exact}")
    return "\n".join(lines)


def _spread_text(pooled: str, loads: pd.Series, beyond: pd.Series, smallest: float, largest: float) -> str:
    """The per-seed estimates in brackets: mean +- sd and range when all lie inside the grid, else each one."""
    texts = [_estimate_text(v, b, smallest, largest) for v, b in zip(loads, beyond, strict=True)]
    if set(texts) == {pooled}:
        return f"[same on all {len(texts)}]"
    if len(set(texts)) == 1:
        return f"[{texts[0]} on all {len(texts)}]"
    if loads.isna().any() or beyond.any():
        return "[" + "; ".join(texts) + "]"
    return f"[{loads.mean():.3g} ± {loads.std():.2g} N, {loads.min():g}-{loads.max():g}]"


def _estimate_text(load: float, beyond: bool, smallest: float, largest: float) -> str:
    """A capacity estimate as text: a load, or where it lies when the grid does not bracket it."""
    if math.isnan(load):
        return f"below the grid (< {smallest:g} N)"
    if beyond:
        return f">= {largest:g} N (beyond the grid)"
    return f"{load:g} N"


# -- figure ----------------------------------------------------------------------------

#: Panel per family: title and the theory lines drawn in it (keys of ``theory_loads``).
_PANELS = {
    "classical": (
        "classical",
        ("AGS 0.138 N", "McEliece N/(2 ln N)", "Storkey N/sqrt(2 ln N)", "pseudo-inverse N"),
    ),
    "dense": ("dense", ("McEliece N/(2 ln N)", "Krotov-Hopfield n=3", "Krotov-Hopfield n=4")),
    "modern": ("modern", ()),
    "oracle": ("Bayes oracle", ()),
}
#: Name of each theory line at its end (the caption gives the formulas and sources).
_SHORT = {
    "AGS 0.138 N": "AGS",
    "McEliece N/(2 ln N)": "McEliece",
    "Storkey N/sqrt(2 ln N)": "Storkey",
    "pseudo-inverse N": "pseudo-inv.",
    "Krotov-Hopfield n=3": "KH n = 3",
    "Krotov-Hopfield n=4": "KH n = 4",
}
_THEORY_CAPTION = (
    "Dashed grey lines: theoretical capacities as loads K/N. AGS: 0.138 N, retrieval with < 1.5 % errors "
    "(Amit, Gutfreund & Sompolinsky 1985); McEliece: N/(2 ln N), exact recall (McEliece et al. 1987); "
    "Storkey: N/sqrt(2 ln N) (Storkey 1997); pseudo-inv.: N (Personnaz et al. 1985); KH n: "
    "N^(n-1)/(2 (2n-3)!! ln N) for the polynomial energy of degree n (Krotov & Hopfield 2016)."
)
_CRITERION = f"{THRESHOLD:g} criterion (capacity estimate)"
_ROWS = (("frac_stable", "stored patterns that\nare fixed points"), ("frac_m95", "probes retrieved\n(m ≥ 0.95)"))


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    """Fixed points and retrieval against load: one column per family, members dodged, theory at line ends."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    N = int(results["N"].iloc[0])
    theory = theory_loads(N)
    fams = [f for f in _PANELS if f in set(results["family"])]
    width = PAGE_WIDTH * min(1.0, 0.3 + 0.25 * len(fams))
    fig, axes = plt.subplots(2, len(fams), figsize=(width, 3.9), sharey=True, squeeze=False)
    n_seeds, shown, off_grid = 1, {}, []
    for j, fam in enumerate(fams):
        sub = results[results["family"] == fam]
        lo, hi = float(sub["load"].min()), float(sub["load"].max())
        lines = _PANELS[fam][1]
        shown[fam] = {_SHORT[n]: theory[n] for n in lines if lo / 1.2 <= theory[n] <= hi * 1.2}
        off_grid += [f"{_SHORT[n]} ({theory[n]:.3g} N)" for n in lines if _SHORT[n] not in shown[fam]]
        for i, (col, ylabel) in enumerate(_ROWS):
            n_seeds = max(n_seeds, _panel(axes[i, j], sub, col))
            axes[i, j].set_xlim(lo / 1.2, max([hi, *shown[fam].values()]) * 1.2)
            axes[i, j].set_ylabel(ylabel if j == 0 else "")
            axes[i, j].set_xlabel("load K/N" if i == 1 else "")
    fig.tight_layout()
    for j, fam in enumerate(fams):
        panel_width = axes[0, j].get_position().width * width
        label_vlines(axes[0, j], shown[fam], panel_width=panel_width)
        label_vlines(axes[1, j], shown[fam], panel_width=panel_width, names=False)  # named at the top
    pad = max(_strip_height(fig, ax) for ax in axes[0]) + 4
    for j, fam in enumerate(fams):
        axes[0, j].set_title(_PANELS[fam][0], pad=pad)
    fig.tight_layout()
    proxies = {band_label(n_seeds): Patch(color="0.6", alpha=0.4, lw=0)} if n_seeds > 1 else {}
    flip_ = float(results["flip"].iloc[0])
    text = (
        f"Random ±1 patterns, N = {N}; queries with {flip_:.0%} of the bits flipped; mean over {n_seeds} "
        f"seed{'s' if n_seeds > 1 else ''}" + (" (band: range over the seeds)" if n_seeds > 1 else "") + ". "
        "Where members of a family coincide, they take turns showing their marker. "
        + _THEORY_CAPTION
        + (f" Beyond the largest load: {', '.join(off_grid)}." if off_grid else "")
    )
    columns = [[s.label for s in MEMORIES.values() if s.family == f] for f in ("classical", "dense", "modern")]
    columns.append([model_label("oracle"), band_label(n_seeds), _CRITERION])
    legend_below(fig, axes.ravel(), caption_text=text, columns=columns, proxies=proxies)
    fig.suptitle(f"Capacity on random patterns (N = {N})", y=1.0 + 0.1 / fig.get_figheight())
    return {"capacity": fig}


def _panel(ax, sub: pd.DataFrame, col: str) -> int:
    """Every member of one family in ``ax`` (mean over seeds with its range, dodged); returns the seed count."""
    from matplotlib.ticker import FuncFormatter

    members = [m for m in MEMORIES if m in set(sub["model"])]
    means = sub.groupby(["model", "load"])[col].mean()
    marks = alternate_markers({m: means.loc[m].to_dict() for m in members})
    n_seeds = 1
    for model in members:
        st = model_style(model)
        df = sub[sub["model"] == model]
        n = seed_band(
            ax, df, "load", col, colour=st.colour, marker=st.marker, label=st.label, marks=marks[model], ms=3.5
        )
        n_seeds = max(n_seeds, n)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(-0.04, 1.04)
    ax.axhline(THRESHOLD, color="0.55", lw=0.8, ls=":", label=_CRITERION, zorder=0.6)
    return n_seeds


def _strip_height(fig, ax) -> float:
    """Height in points of the theory names standing above ``ax`` (0 when none)."""

    renderer = renderer_of(fig)
    tops = [t.get_window_extent(renderer).y1 for t in ax.texts]
    if not tops:
        return 0.0
    return (max(tops) - ax.get_window_extent(renderer).y1) * 72 / fig.dpi

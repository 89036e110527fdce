"""Capacity: how many random patterns each memory stores, against theory.

For every memory and load ``K/N`` on unbiased random binary patterns (the same
pattern set for every memory at a given ``(N, K, seed)``):

* ``frac_stable``: stored patterns that are exact fixed points of one update;
* ``frac_exact``: patterns retrieved exactly from queries with 10 % of the bits flipped;
* ``frac_m95``: patterns retrieved with final overlap ``m >= 0.95`` (at most 2.5 %
  wrong bits), the sense of "retrieval" in Amit-Gutfreund-Sompolinsky's
  ``alpha_c = 0.138`` (retrieval with < 1.5 % errors, theory.md 2.1).

The capacity estimate of a memory is the largest load up to which at least 90 % of
the probes are retrieved (``frac_m95``; ``frac_exact`` is reported beside it and
compares with McEliece's ``N / (2 ln N)``, which is about exact recall).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments import zoo
from experiments.corruption import flip, noise_for_flip
from experiments.figures import palette
from experiments.patterns import random_patterns
from experiments.seeds import capacity_query_seed
from experiments.theory import theory_loads

NAME = "capacity"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
THRESHOLD = 0.9  # share of probes that must be retrieved for a load to count as stored
# What ``python -m experiments capacity --help`` says besides the presets.
ROWS = "per model x load x seed"
FIGURES = ("capacity",)
RUNTIME = {
    "quick": "about 2.5 min, serial on 2 shared CPU cores (145 s measured)",
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
    (the pseudo-inverse bound, theory.md 2.4), so larger loads only cost time.
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
    g = torch.Generator().manual_seed(capacity_query_seed(cell.seed, K))

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
            }
        )
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> str:
    est = capacity_estimates(results)
    lines = ["capacity estimates (largest load K/N with >= 90% of probes retrieved from 10% flips):"]
    for r in est.itertuples():
        more = " (no failure on the grid)" if r.beyond_grid else ""
        lines.append(f"  {r.model:24s} m>=0.95: {r.capacity_load:6.3g} N{more}   exact: {r.capacity_load_exact:6.3g} N")
    return "\n".join(lines)


# -- figure ----------------------------------------------------------------------------

_PANELS = {
    "classical": (
        "Classical (Hebb / pseudo-inverse / Storkey)",
        ("AGS 0.138 N", "McEliece N/(2 ln N)", "Storkey N/sqrt(2 ln N)", "pseudo-inverse N"),
    ),
    "dense": ("Dense associative memory", ("McEliece N/(2 ln N)", "Krotov-Hopfield n=3", "Krotov-Hopfield n=4")),
    "modern": ("Modern Hopfield and Bayes oracle", ()),
}


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    import matplotlib.pyplot as plt
    import seaborn as sns

    N = int(results["N"].iloc[0])
    theory = theory_loads(N)
    colours = palette(results["model"].unique())
    fams = [f for f in _PANELS if f in set(results["family"].replace({"oracle": "modern"}))]
    fig, axes = plt.subplots(2, len(fams), figsize=(4.2 * len(fams), 6.4), sharex=True, sharey=True, squeeze=False)
    df = results.assign(panel=results["family"].replace({"oracle": "modern"}))
    for j, fam in enumerate(fams):
        sub = df[df["panel"] == fam]
        title, lines = _PANELS[fam]
        for i, (col, label) in enumerate(
            (("frac_stable", "exact fixed points"), ("frac_m95", "retrieved (m >= 0.95)"))
        ):
            ax = axes[i, j]
            sns.lineplot(
                data=sub,
                x="load",
                y=col,
                hue="model",
                style="model",
                palette=colours,
                markers=True,
                dashes=False,
                errorbar="se",
                ax=ax,
                legend=i == 1,
            )
            for k, name in enumerate(lines):
                ax.axvline(theory[name], color="0.4", ls=(0, (4, 2 + k)), lw=1)
                if i == 0:
                    # vertical labels along the lines never collide with each other
                    ax.text(
                        theory[name],
                        0.5,
                        name + " ",
                        rotation=90,
                        fontsize=6.5,
                        ha="right",
                        va="center",
                        color="0.3",
                        transform=ax.get_xaxis_transform(),
                    )
            ax.set_xscale("log")
            ax.axhline(THRESHOLD, color="0.8", lw=0.8)
            ax.set_ylabel(label if j == 0 else "")
            ax.set_xlabel("load K/N" if i == 1 else "")
            if i == 0:
                ax.set_title(title)
        leg = axes[1, j].get_legend()
        if leg is not None:
            leg.set_title(None)
            for t in leg.get_texts():
                t.set_fontsize(7)
    fig.suptitle(f"Capacity on random patterns, N = {N}, queries with {results['flip'].iloc[0]:.0%} flips", y=1.02)
    fig.tight_layout()
    return {"capacity": fig}

"""Where the transition happens: the crossing ``K`` at which train and test recovery meet, per network width.

Pham et al. (2026) find that the train and test recovery curves meet at a training-set size
that grows with the model.  Here the crossing of one replicate (dataset, ``d_model``, seed) is

    the first K at which the learned model's train - test recovery gap at t = 0.1 falls below
    ``CROSSING_GAP`` = 0.1, interpolated linearly in log K between that K and the one before.

Why 0.1: on the quick preset the gap is 0.23 at K = 64 (seed 0) and 0.03-0.07 at K = 128 (seeds
0-2, docs/transition.md), and the gap's measurement standard deviation with 1024 queries per
split is ~0.013, so a threshold of 0.1 is crossed once, at least five standard deviations above
the noise floor of the generalising regime; the 0.07 of the acceptance check lies within it.
A replicate whose gap is already below the threshold at its smallest K is *left-censored*
(``K_cross`` = that K, an upper bound); one whose gap never falls below it is
*right-censored* (``K_cross`` = NaN).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

__all__ = ["CROSSING_GAP", "CROSSING_T", "interpolate_crossing", "crossing_k", "crossing_summary"]

CROSSING_GAP = 0.1
CROSSING_T = 0.1


def interpolate_crossing(ks, gaps, threshold: float = CROSSING_GAP) -> tuple[float, str]:
    """First crossing of ``gaps`` below ``threshold``, interpolated linearly in ``log K``.

    Parameters
    ----------
    ks : sequence of float
        Increasing training-set sizes.
    gaps : sequence of float
        The gap at each ``K`` (NaN entries are skipped).
    threshold : float

    Returns
    -------
    (float, str)
        ``K_cross`` and ``""``, ``"left"`` (below at the smallest ``K``: ``K_cross`` = that ``K``)
        or ``"right"`` (never below: NaN).
    """
    pairs = [(float(k), float(g)) for k, g in zip(ks, gaps, strict=True) if not math.isnan(float(g))]
    if any(b[0] <= a[0] for a, b in itertools.pairwise(pairs)):
        raise ValueError(f"ks must be increasing, got {list(ks)!r}")
    for i, (k, g) in enumerate(pairs):
        if g < threshold:
            if i == 0:
                return k, "left"
            k0, g0 = pairs[i - 1]
            frac = (g0 - threshold) / (g0 - g)  # in (0, 1]: g0 >= threshold > g
            return float(math.exp(math.log(k0) + frac * (math.log(k) - math.log(k0)))), ""
    return math.nan, "right"


def crossing_k(results: pd.DataFrame, threshold: float = CROSSING_GAP, t: float = CROSSING_T) -> pd.DataFrame:
    """The crossing ``K`` of every (dataset, ``d_model``, seed) replicate of a results table.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``d_model``, ``seed``, ``K_cross``, ``censored`` (see
        :func:`interpolate_crossing`); empty without learned recovery rows at ``t``.
    """
    columns = ["dataset", "d_model", "seed", "K_cross", "censored"]
    rec = results[(results["kind"] == "recovery") & (results["model"] == "diffusion")]
    rec = rec[np.isclose(rec["t"].astype(float), t)]
    # a table without the width or seed column (hand-made or older) is one width (0: unknown), one seed
    rec = rec.assign(**{c: rec[c] if c in rec else 0 for c in ("d_model", "seed")})
    if rec.empty:
        return pd.DataFrame(columns=columns)
    wide = rec.pivot_table(index=["dataset", "d_model", "seed", "K"], columns="split", values="recovery")
    if not {"train", "test"} <= set(wide.columns):
        return pd.DataFrame(columns=columns)
    gap = (wide["train"] - wide["test"]).sort_index()
    rows = []
    for (dataset, d_model, seed), g in gap.groupby(level=["dataset", "d_model", "seed"]):
        k_cross, censored = interpolate_crossing(g.index.get_level_values("K"), g.to_numpy(), threshold)
        rows.append({"dataset": dataset, "d_model": d_model, "seed": seed, "K_cross": k_cross, "censored": censored})
    return pd.DataFrame(rows, columns=columns)


def crossing_summary(results: pd.DataFrame, threshold: float = CROSSING_GAP, t: float = CROSSING_T) -> list[str]:
    """One line per (dataset, ``d_model``): mean and standard deviation of ``K_cross`` over seeds.

    Censored replicates are counted and left out of the mean (a left-censored one is only an
    upper bound, a right-censored one has no value).
    """
    table = crossing_k(results, threshold, t)
    lines = []
    for (dataset, d_model), g in table.groupby(["dataset", "d_model"]):
        values = g.loc[g["censored"] == "", "K_cross"].to_numpy(dtype=float)
        spread = f" ± {values.std(ddof=1):.0f}" if len(values) > 1 else ""
        value = f"{values.mean():.0f}{spread}" if len(values) else "n/a"
        notes = [f"{(g['censored'] == side).sum()} {side}-censored" for side in ("left", "right")]
        notes = [n for n in notes if not n.startswith("0 ")]
        extra = f"; {', '.join(notes)}" if notes else ""
        lines.append(
            f"{dataset} d_model={d_model}: crossing K (train - test recovery < {threshold:g} at t = {t:g}) "
            f"{value} over {len(values)} of {len(g)} seeds{extra}"
        )
    return lines

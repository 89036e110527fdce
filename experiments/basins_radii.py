"""Per-pattern basin radii of the basins study, from its table alone (no model runs).

Beside :mod:`experiments.basins` rather than in it so that the study's figures
(:mod:`experiments.basins_figures`) and the report read radii without importing the study.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from experiments.metrics import critical_radius

__all__ = ["SPLITS", "THRESHOLD", "critical_radii"]

SPLITS = ("train", "test")  # stored patterns / held-out patterns drawn the same way
_SPLIT_LABELS = {"train": "stored", "test": "held-out"}
THRESHOLD = 0.9  # share of exact trials that counts a pattern as retrieved at a level
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

"""Small statistics of the audit: ROC AUC, Spearman correlation and percentile bootstrap intervals.

The AUC is the Mann-Whitney statistic (ties count one half), so it needs no classifier
library; :func:`spearman` is :func:`scipy.stats.spearmanr` with the undefined cases (fewer
than three pairs, a constant input) returned as NaN instead of a warning.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

__all__ = ["roc_auc", "spearman", "bootstrap_ci"]


def _finite(name: str, values) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite numbers, got {a[~np.isfinite(a)][:3].tolist()} among them")
    return a


def roc_auc(positive, negative) -> float:
    """Area under the ROC curve of a score that should be larger for ``positive`` than ``negative``.

    ``P(s_pos > s_neg) + P(s_pos = s_neg) / 2`` over all pairs, from the ranks of the pooled
    scores (Mann & Whitney 1947): 1 separates perfectly, 0.5 is chance, 0 separates the wrong way.

    Parameters
    ----------
    positive, negative : array_like
        ``(n_pos,)`` and ``(n_neg,)`` finite scores (e.g. members and non-members).

    Returns
    -------
    float
        The AUC in ``[0, 1]``; NaN when either group is empty.
    """
    pos, neg = _finite("positive", positive), _finite("negative", negative)
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    ranks = stats.rankdata(np.concatenate([pos, neg]))  # average ranks for ties
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def spearman(x, y) -> float:
    """Spearman's rank correlation of paired samples; NaN when undefined (n < 3 or a constant input)."""
    a, b = _finite("x", x), _finite("y", y)
    if len(a) != len(b):
        raise ValueError(f"x and y must have the same length, got {len(a)} and {len(b)}")
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(a, b).statistic)


def bootstrap_ci(fn, *samples, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``fn(*samples)``, resampling the rows of every sample together.

    Parameters
    ----------
    fn : callable
        ``fn(*arrays) -> float`` (e.g. :func:`spearman` of two paired arrays).
    *samples : array_like
        Arrays of the same length ``n``; one index draw resamples all of them (paired data).
    n_boot : int
        Bootstrap replicates; replicates where ``fn`` is NaN are dropped.
    level : float
        Coverage of the interval, in ``(0, 1)``.
    seed : int
        Seed of the index draws.

    Returns
    -------
    (float, float)
        Lower and upper bound; NaN when fewer than half of the replicates are defined.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    arrays = [np.asarray(s, dtype=float) for s in samples]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"samples must have the same length, got {[len(a) for a in arrays]}")
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    values = np.array([fn(*(a[i] for a in arrays)) for i in idx], dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < n_boot / 2:
        return math.nan, math.nan
    tail = (1 - level) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(lo), float(hi)

"""How much of a corrupted query a memory restored, and up to which corruption it still does.

The recovery rates follow the token-recovery protocol of Pham et al. (2026), section 2:
a query differs from its clean pattern at the *perturbed* positions; a final state
*recovers* those it sets back and *breaks* unperturbed ones it changes.  The critical
radius turns success rates over a grid of corruption levels into one basin size per pattern.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import torch
from torch import Tensor

from experiments.metrics.distances import check_same_shape, check_states

__all__ = ["recovery_rate", "unstable_rate", "perturbation_rate", "exact_match", "critical_radius"]


def _masks(final: Tensor, original: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    for x, name in ((final, "final"), (original, "original"), (query, "query")):
        check_states(x, name, 0)
    check_same_shape(final, original, ("final", "original"))
    check_same_shape(query, original, ("query", "original"))
    perturbed = query != original  # (B, L)
    correct = final == original  # (B, L)
    return perturbed, correct


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    num, den = num.sum(dim=1).to(torch.float64), den.sum(dim=1).to(torch.float64)
    return torch.where(den > 0, num / den.clamp(min=1), torch.full_like(den, math.nan))


def recovery_rate(final: Tensor, original: Tensor, query: Tensor) -> Tensor:
    """Fraction of perturbed positions restored: ``#(perturbed and correct) / #perturbed``.

    Parameters
    ----------
    final, original, query : Tensor
        ``long (B, L)``: final states, clean patterns, corrupted queries.

    Returns
    -------
    Tensor
        ``float64 (B,)``; NaN where the query equals the original (nothing perturbed).
    """
    perturbed, correct = _masks(final, original, query)
    return _ratio(perturbed & correct, perturbed)


def unstable_rate(final: Tensor, original: Tensor, query: Tensor) -> Tensor:
    """Fraction of unperturbed positions broken: ``#(not perturbed and not correct) / #not perturbed``.

    Returns
    -------
    Tensor
        ``float64 (B,)``; NaN where every position was perturbed.
    """
    perturbed, correct = _masks(final, original, query)
    return _ratio(~perturbed & ~correct, ~perturbed)


def perturbation_rate(query: Tensor, original: Tensor) -> Tensor:
    """Fraction of positions where the query differs from the original, ``float64 (B,)``."""
    check_states(query, "query", 0)
    check_states(original, "original", 0)
    check_same_shape(query, original, ("query", "original"))
    return (query != original).to(torch.float64).mean(dim=1)


def exact_match(final: Tensor, original: Tensor) -> Tensor:
    """Whether the whole sequence was restored, ``bool (B,)``."""
    check_states(final, "final", 0)
    check_states(original, "original", 0)
    check_same_shape(final, original, ("final", "original"))
    return (final == original).all(dim=1)


def critical_radius(
    success: Tensor,
    levels: Sequence[float] | Tensor,
    threshold: float = 0.9,
    *,
    contiguous: bool = False,
) -> Tensor:
    """Largest corruption level at which each pattern is still recovered with rate ``>= threshold``.

    The basin-size scalar of docs/theory.md §6.4 (``t*``) and the predecessor's critical
    time: a number of flips ``k`` or a diffusion time ``t`` per pattern.

    Parameters
    ----------
    success : Tensor
        ``(P, M)`` success rates (or bools) of ``P`` patterns at ``M`` corruption levels.
    levels : sequence of float or Tensor
        ``(M,)`` strictly increasing corruption levels.
    threshold : float
        Success rate that counts as recovered.
    contiguous : bool
        If true, the largest level such that *every* level up to it succeeds (the
        scan stops at the first failure); otherwise the largest succeeding level.

    Returns
    -------
    Tensor
        ``float64 (P,)``; NaN where no level succeeds.
    """
    if not isinstance(success, Tensor) or success.dim() != 2:
        raise TypeError(f"success must be a (P, M) tensor of rates, got {type(success).__name__}")
    lv = torch.as_tensor(levels, dtype=torch.float64).cpu()
    if lv.dim() != 1 or lv.shape[0] != success.shape[1]:
        raise ValueError(f"levels must have shape ({success.shape[1]},) to match success, got {tuple(lv.shape)}")
    if lv.numel() > 1 and not bool((lv[1:] > lv[:-1]).all()):
        raise ValueError("levels must be strictly increasing")
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be a rate in [0, 1], got {threshold!r}")
    ok = success.cpu().to(torch.float64) >= threshold  # (P, M); NaN rates fail
    if contiguous:
        ok = ok.long().cumprod(dim=1).bool()
    M = ok.shape[1]
    # Index of the last True: flip, take the first True, flip back.
    last = M - 1 - ok.flip(dims=[1]).long().argmax(dim=1)  # (P,)
    out = lv[last] if M else torch.zeros(ok.shape[0], dtype=torch.float64)
    return torch.where(ok.any(dim=1), out, torch.full_like(out, math.nan))

"""What a final state *is*: retrieved, another stored pattern, reversed, mixture-like, spin-glass-like.

The classes follow the phase picture of Amit, Gutfreund and Sompolinsky (1985): a state is
*pure* when its largest overlap with a stored pattern is near 1, *mixture-like* at
intermediate overlap and *spin-glass-like* when it overlaps no pattern.  Also
:func:`symmetric_mixtures`, the classic spurious states ``sign(xi^1 + xi^2 + xi^3)``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from experiments.metrics.distances import check_same_length, check_same_shape, hamming
from models.checks import check_generator, check_int, check_tokens
from models.codes import to_spins

__all__ = ["OUTCOMES", "outcome_codes", "outcome_classes", "symmetric_mixtures"]

#: Outcome classes of a final state, in the order of their integer codes.
OUTCOMES: tuple[str, ...] = (
    "retrieved",
    "other stored",
    "reversed",
    "unseen test",
    "near stored",
    "mixture-like",
    "spin-glass-like",
    "not converged",
)


def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as err:
        raise TypeError(f"bounds must be two numbers (low, high), got {bounds!r}") from err
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"bounds must satisfy 0 <= low < high <= 1, got {bounds!r}")
    return lo, hi


def outcome_codes(
    final: Tensor,
    targets: Tensor,
    stored: Tensor,
    test: Tensor | None = None,
    converged: Tensor | None = None,
    vocab_size: int = 2,
    *,
    tol: float = 0.0,
    bounds: tuple[float, float] = (0.3, 0.9),
) -> Tensor:
    """Classify each final state; integer codes into :data:`OUTCOMES`.

    The first rule that applies wins ("matches" means Hamming distance
    ``<= tol * L``; ``tol = 0`` asks for equality):

    0. ``retrieved``: matches its target;
    1. ``other stored``: matches another stored pattern;
    2. ``reversed`` (``V = 2``): matches the spin flip of a stored pattern;
    3. ``unseen test``: matches a held-out test pattern;
    7. ``not converged``: matches none of these and ``converged`` is false;
    4. ``near stored``: largest overlap with the stored patterns ``> high``
       (``|m|`` for ``V = 2``, so near-reversed states count) without matching within
       ``tol``; empty for ``V = 2`` when ``tol >= (1 - high) / 2``, e.g. ``tol = 0.05``
       reproduces the theory's "pure state: max|m| > 0.9";
    5. ``mixture-like``: ``low < max overlap <= high``;
    6. ``spin-glass-like``: ``max overlap <= low``.

    A state that matches a pattern is classified by that match whatever ``converged``
    says.  Overlaps are those of :func:`overlap` (chance level 0 for ``V > 2``, where
    the maximum of ``m`` rather than of ``|m|`` is used: there is no reversed state).

    Parameters
    ----------
    final : Tensor
        ``long (B, L)`` final states.
    targets : Tensor
        ``long (B, L)`` the pattern each query was made from.
    stored : Tensor
        ``long (K, L)`` stored patterns.
    test : Tensor, optional
        ``long (K_test, L)`` held-out patterns.
    converged : Tensor, optional
        ``bool (B,)`` from ``Retrieval.converged``; all true when omitted.
    vocab_size : int
        ``V``.
    tol : float
        Hamming fraction in ``[0, 1)`` within which a state matches a pattern.
    bounds : (float, float)
        ``(low, high)`` overlap thresholds, default ``(0.3, 0.9)`` (docs/theory.md §2.3).

    Returns
    -------
    Tensor
        ``long (B,)`` codes; ``OUTCOMES[code]`` is the name.
    """
    V = check_int("vocab_size", vocab_size, 2)
    converged = _check_outcome_args(final, targets, stored, test, converged, V, tol)
    lo, hi = _check_bounds(bounds)
    limit = float(tol) * final.shape[1] + 1e-9  # a distance d matches when d <= tol * L
    d_stored = hamming(final, stored)  # (B, K)
    codes = _overlap_codes(d_stored, final.shape[1], V, lo, hi)
    if converged is not None:
        codes = torch.where(converged, codes, 7)
    rules = _match_rules(final, targets, d_stored, test, V, limit)
    # Apply the matching rules from the lowest priority to the highest so that the
    # highest one present is what remains.
    for code in (3, 2, 1, 0):
        codes = torch.where(rules[code], code, codes)
    return codes.long()


def _check_outcome_args(final, targets, stored, test, converged, V: int, tol) -> Tensor | None:
    """Validate the arguments of :func:`outcome_codes`; ``converged`` moved to the device of ``final``."""
    check_tokens(final, "final", vocab_size=V, min_rows=0)
    check_tokens(targets, "targets", vocab_size=V, min_rows=0)
    check_tokens(stored, "stored", vocab_size=V)
    check_same_shape(final, targets, ("final", "targets"))
    check_same_length(final, stored, ("final", "stored"))
    if test is not None and test.shape[0] > 0:
        check_tokens(test, "test", vocab_size=V, min_rows=0)
        check_same_length(final, test, ("final", "test"))
    if isinstance(tol, bool) or not isinstance(tol, Real) or not 0.0 <= float(tol) < 1.0:
        raise ValueError(f"tol must be a Hamming fraction in [0, 1), got {tol!r}")
    B = final.shape[0]
    if converged is None:
        return None
    if not isinstance(converged, Tensor) or converged.dtype != torch.bool or converged.shape != (B,):
        got = f"{getattr(converged, 'dtype', type(converged).__name__)} {tuple(getattr(converged, 'shape', ()))}"
        raise TypeError(f"converged must be a bool tensor of shape ({B},), got {got}")
    return converged.to(final.device)


def _overlap_codes(d_stored: Tensor, L: int, V: int, lo: float, hi: float) -> Tensor:
    """Codes 4 / 5 / 6 (near stored / mixture-like / spin-glass-like) from the largest overlap, ``long (B,)``."""
    m = (V * (1 - d_stored.to(torch.float64) / L) - 1) / (V - 1)  # (B, K), as overlap()
    m_max = (m.abs() if V == 2 else m).max(dim=1).values  # (B,)
    return torch.where(m_max > hi, 4, torch.where(m_max > lo, 5, 6))


def _match_rules(final: Tensor, targets: Tensor, d_stored: Tensor, test, V: int, limit: float) -> list[Tensor]:
    """``bool (B,)`` per matching rule, in code order: retrieved, other stored, reversed, unseen test."""
    B, L = final.shape
    rules = [
        (final != targets.to(final.device)).sum(dim=1) <= limit,  # retrieved
        (d_stored <= limit).any(dim=1),  # other stored
        (L - d_stored <= limit).any(dim=1) if V == 2 else torch.zeros(B, dtype=torch.bool),  # reversed
    ]
    if test is not None and test.shape[0] > 0:
        rules.append((hamming(final, test) <= limit).any(dim=1))  # unseen test
    else:
        rules.append(torch.zeros(B, dtype=torch.bool))
    return [r.to(final.device) for r in rules]


def outcome_classes(
    final: Tensor,
    targets: Tensor,
    stored: Tensor,
    test: Tensor | None = None,
    converged: Tensor | None = None,
    vocab_size: int = 2,
    *,
    tol: float = 0.0,
    bounds: tuple[float, float] = (0.3, 0.9),
) -> pd.Categorical:
    """:func:`outcome_codes` as a ``pandas.Categorical`` with categories :data:`OUTCOMES`.

    Every class is a category even when absent, so ``value_counts()`` reports zeros.
    """
    codes = outcome_codes(final, targets, stored, test, converged, vocab_size, tol=tol, bounds=bounds)
    return pd.Categorical.from_codes(codes.cpu().numpy(), categories=list(OUTCOMES))


def symmetric_mixtures(
    patterns: Tensor, s: int = 3, n: int | None = None, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Symmetric mixture states ``sign(xi^1 + ... + xi^s)`` of binary patterns (docs/theory.md §2.3).

    For random patterns the overlap of a 3-mixture with each component is 1/2 in
    expectation (``2^(1-s) C(s-1, (s-1)/2)`` in general).

    Parameters
    ----------
    patterns : Tensor
        ``long (K, L)`` binary tokens (``V = 2``).
    s : int
        Odd number of components (odd so that the sum is never 0), ``1 <= s <= K``.
    n : int, optional
        Number of mixtures.  ``None``: the ``K // s`` disjoint groups of consecutive
        patterns ``(0..s-1), (s..2s-1), ...``.  An int: ``n`` uniformly random sets of
        ``s`` distinct patterns, drawn with ``generator``.
    generator : torch.Generator, optional
        CPU generator for the random sets.

    Returns
    -------
    states : Tensor
        ``long (n, L)`` mixture states as tokens.
    components : Tensor
        ``long (n, s)`` indices of the mixed patterns.
    """
    check_tokens(patterns, "patterns", vocab_size=2)
    if isinstance(s, bool) or not isinstance(s, Integral):
        raise TypeError(f"s must be an odd int >= 1, got {type(s).__name__} {s!r}")
    K = patterns.shape[0]
    if s < 1 or s % 2 == 0 or s > K:
        raise ValueError(f"s must be an odd int in [1, K={K}], got {s!r}")
    check_generator(generator)
    if n is None:
        components = torch.arange((K // s) * s).reshape(-1, s)
    else:
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise ValueError(f"n must be None or an int >= 0, got {n!r}")
        components = torch.rand((int(n), K), generator=generator).argsort(dim=1)[:, :s]  # distinct per row
    components = components.to(patterns.device)
    total = to_spins(patterns)[components].sum(dim=1)  # (n, L), odd sums: never 0
    return (total > 0).long(), components

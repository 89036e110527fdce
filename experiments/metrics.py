"""Metrics: pure, batched functions on token tensors.

Shapes: ``B`` states (queries / final states / samples), ``K`` stored patterns, ``L``
positions, ``V`` tokens.  Binary patterns are ``V = 2`` with token 0 = spin -1.

* distances and overlaps: :func:`hamming`, :func:`overlap`, :func:`nearest`;
* recovery (reference/paper.md section 2): :func:`recovery_rate`, :func:`unstable_rate`,
  :func:`perturbation_rate`, :func:`exact_match`;
* what a state *is* (theory.md section 2.3): :func:`outcome_codes` /
  :func:`outcome_classes`, and :func:`symmetric_mixtures` to build mixture states;
* what a generation is (paper.md sections 4.3, 6.3): :func:`classify_generations`;
* basins: :func:`critical_radius`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from energy.diffusion import agreements, onehot_codes
from models.checks import check_generator, check_int, check_tokens
from models.codes import to_spins

__all__ = [
    "OUTCOMES",
    "GENERATION_CLASSES",
    "hamming",
    "overlap",
    "nearest",
    "recovery_rate",
    "unstable_rate",
    "perturbation_rate",
    "exact_match",
    "outcome_codes",
    "outcome_classes",
    "symmetric_mixtures",
    "generation_distances",
    "classify_generations",
    "critical_radius",
]

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
#: Classes of generated samples (paper.md section 4.3), in code order.
GENERATION_CLASSES: tuple[str, ...] = ("memorised", "spurious", "generalised")


def _tokens(x: Any, name: str, min_rows: int = 1) -> Tensor:
    return check_tokens(x, name, min_rows=min_rows)


def _same_shape(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (B, L), got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _same_length(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length L, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _agreements(a: Tensor, b: Tensor) -> Tensor:
    """``long (B, K)``: number of positions where ``a[i]`` and ``b[j]`` agree."""
    V = max(int(a.max()) if a.numel() else 0, int(b.max()) if b.numel() else 0) + 1
    # One matmul of one-hot codes instead of a (B, K, L) comparison tensor (exact integers).
    b = b.to(a.device)
    return agreements(a, b, onehot_codes(b, V)).round().long()


# ----------------------------------------------------------------------------------
# Distances and overlaps.
# ----------------------------------------------------------------------------------


def hamming(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise Hamming distances.

    Parameters
    ----------
    a : Tensor
        ``long (B, L)``.
    b : Tensor
        ``long (K, L)``.

    Returns
    -------
    Tensor
        ``long (B, K)``: number of positions where ``a[i]`` and ``b[j]`` differ.
    """
    _tokens(a, "a", 0)
    _tokens(b, "b", 0)
    _same_length(a, b, ("a", "b"))
    return a.shape[1] - _agreements(a, b)


def overlap(states: Tensor, patterns: Tensor, vocab_size: int = 2) -> Tensor:
    """Overlaps ``m`` between states and patterns, normalised so that chance is 0.

    For ``V = 2`` this is the Hopfield overlap ``m = xi . s / N`` of the spins, in
    ``[-1, 1]`` (``-1`` for the reversed pattern).  For ``V > 2`` it is the agreement
    fraction ``a`` rescaled as ``(V a - 1) / (V - 1)``: 1 for equality, 0 for an
    unrelated uniform state (the same formula gives the spin overlap at ``V = 2``).

    Parameters
    ----------
    states : Tensor
        ``long (B, L)``.
    patterns : Tensor
        ``long (K, L)``.
    vocab_size : int
        ``V``; tokens must be below it.

    Returns
    -------
    Tensor
        ``float64 (B, K)``.
    """
    V = check_int("vocab_size", vocab_size, 2)
    check_tokens(states, "states", vocab_size=V, min_rows=0)
    check_tokens(patterns, "patterns", vocab_size=V, min_rows=0)
    _same_length(states, patterns, ("states", "patterns"))
    if V == 2:
        return to_spins(states) @ to_spins(patterns.to(states.device)).T / states.shape[1]
    a = _agreements(states, patterns).to(torch.float64) / states.shape[1]
    return (V * a - 1) / (V - 1)


def nearest(states: Tensor, patterns: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest pattern of each state in Hamming distance (ties: the lowest index).

    Parameters
    ----------
    states : Tensor
        ``long (B, L)``.
    patterns : Tensor
        ``long (K, L)``, ``K >= 1``.

    Returns
    -------
    index : Tensor
        ``long (B,)`` row of ``patterns``.
    distance : Tensor
        ``long (B,)`` Hamming distance to it.
    """
    _tokens(patterns, "patterns")
    d = hamming(states, patterns)  # (B, K)
    distance, index = d.min(dim=1)
    return index, distance


# ----------------------------------------------------------------------------------
# Recovery (reference/paper.md section 2, step 5).
# ----------------------------------------------------------------------------------


def _masks(final: Tensor, original: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    for x, name in ((final, "final"), (original, "original"), (query, "query")):
        _tokens(x, name, 0)
    _same_shape(final, original, ("final", "original"))
    _same_shape(query, original, ("query", "original"))
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
    _tokens(query, "query", 0)
    _tokens(original, "original", 0)
    _same_shape(query, original, ("query", "original"))
    return (query != original).to(torch.float64).mean(dim=1)


def exact_match(final: Tensor, original: Tensor) -> Tensor:
    """Whether the whole sequence was restored, ``bool (B,)``."""
    _tokens(final, "final", 0)
    _tokens(original, "original", 0)
    _same_shape(final, original, ("final", "original"))
    return (final == original).all(dim=1)


# ----------------------------------------------------------------------------------
# Outcome classes of final states (theory.md section 2.3).
# ----------------------------------------------------------------------------------


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
        ``(low, high)`` overlap thresholds, default ``(0.3, 0.9)`` (theory.md 2.3).

    Returns
    -------
    Tensor
        ``long (B,)`` codes; ``OUTCOMES[code]`` is the name.
    """
    V = check_int("vocab_size", vocab_size, 2)
    check_tokens(final, "final", vocab_size=V, min_rows=0)
    check_tokens(targets, "targets", vocab_size=V, min_rows=0)
    check_tokens(stored, "stored", vocab_size=V)
    _same_shape(final, targets, ("final", "targets"))
    _same_length(final, stored, ("final", "stored"))
    if isinstance(tol, bool) or not isinstance(tol, Real) or not 0.0 <= float(tol) < 1.0:
        raise ValueError(f"tol must be a Hamming fraction in [0, 1), got {tol!r}")
    lo, hi = _check_bounds(bounds)
    B, L = final.shape
    if converged is not None:
        if not isinstance(converged, Tensor) or converged.dtype != torch.bool or converged.shape != (B,):
            got = f"{getattr(converged, 'dtype', type(converged).__name__)} {tuple(getattr(converged, 'shape', ()))}"
            raise TypeError(f"converged must be a bool tensor of shape ({B},), got {got}")
        converged = converged.to(final.device)
    limit = float(tol) * L + 1e-9  # a distance d matches when d <= tol * L

    d_stored = hamming(final, stored)  # (B, K)
    rules = [
        (final != targets.to(final.device)).sum(dim=1) <= limit,  # retrieved
        (d_stored <= limit).any(dim=1),  # other stored
    ]
    rules.append((L - d_stored <= limit).any(dim=1) if V == 2 else torch.zeros(B, dtype=torch.bool))  # reversed
    if test is not None and test.shape[0] > 0:
        check_tokens(test, "test", vocab_size=V, min_rows=0)
        _same_length(final, test, ("final", "test"))
        rules.append((hamming(final, test) <= limit).any(dim=1))  # unseen test
    else:
        rules.append(torch.zeros(B, dtype=torch.bool))
    rules = [r.to(final.device) for r in rules]

    m = (V * (1 - d_stored.to(torch.float64) / L) - 1) / (V - 1)  # (B, K), as overlap()
    m_max = (m.abs() if V == 2 else m).max(dim=1).values  # (B,)
    codes = torch.where(m_max > hi, 4, torch.where(m_max > lo, 5, 6))
    if converged is not None:
        codes = torch.where(converged, codes, 7)
    # Apply the matching rules from the lowest priority to the highest so that the
    # highest one present is what remains.
    for code in (3, 2, 1, 0):
        codes = torch.where(rules[code], code, codes)
    return codes.long()


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
    """Symmetric mixture states ``sign(xi^1 + ... + xi^s)`` of binary patterns (theory.md 2.3).

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


# ----------------------------------------------------------------------------------
# Generations: memorised / spurious / generalised (paper.md sections 4.3 and 6.3).
# ----------------------------------------------------------------------------------


def generation_distances(samples: Tensor, train: Tensor) -> tuple[Tensor, Tensor]:
    """Hamming fractions from each sample to the nearest training pattern and nearest other sample.

    Parameters
    ----------
    samples : Tensor
        ``long (B, L)`` generated sequences.
    train : Tensor
        ``long (K, L)`` training patterns.

    Returns
    -------
    to_train : Tensor
        ``float64 (B,)`` ``min_j d_H(samples[i], train[j]) / L``.
    to_other : Tensor
        ``float64 (B,)`` ``min_{j != i} d_H(samples[i], samples[j]) / L`` (``inf`` when ``B = 1``).
        Duplicated samples are at distance 0 from each other.
    """
    _tokens(samples, "samples", 0)
    _tokens(train, "train")
    _same_length(samples, train, ("samples", "train"))
    L = samples.shape[1]
    to_train = hamming(samples, train).min(dim=1).values.to(torch.float64) / L
    d = hamming(samples, samples).to(torch.float64)  # (B, B)
    d.fill_diagonal_(math.inf)  # exclude each sample itself, not its duplicates
    to_other = d.min(dim=1).values / L if samples.shape[0] > 1 else torch.full_like(to_train, math.inf)
    return to_train, to_other


def classify_generations(samples: Tensor, train: Tensor, delta_m: float = 0.1, delta_s: float = 0.1) -> pd.Categorical:
    """Memorised / spurious / generalised, the discrete analogue of paper.md section 4.3.

    A sample is *memorised* if its Hamming fraction to the nearest training pattern is
    ``<= delta_m``; *spurious* if not memorised and its Hamming fraction to the nearest
    other sample is ``<= delta_s`` (several generations fell into the same
    non-training attractor); *generalised* otherwise.

    Parameters
    ----------
    samples : Tensor
        ``long (B, L)``.
    train : Tensor
        ``long (K, L)``.
    delta_m, delta_s : float
        Thresholds as Hamming fractions in ``[0, 1]``.

    Returns
    -------
    pandas.Categorical
        Length ``B``, categories :data:`GENERATION_CLASSES`.
    """
    for name, value in (("delta_m", delta_m), ("delta_s", delta_s)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be a Hamming fraction in [0, 1], got {value!r}")
    to_train, to_other = generation_distances(samples, train)
    memorised = to_train <= delta_m + 1e-12
    spurious = ~memorised & (to_other <= delta_s + 1e-12)
    codes = torch.where(memorised, 0, torch.where(spurious, 1, 2))
    return pd.Categorical.from_codes(codes.cpu().numpy(), categories=list(GENERATION_CLASSES))


# ----------------------------------------------------------------------------------
# Basins.
# ----------------------------------------------------------------------------------


def critical_radius(
    success: Tensor,
    levels: Sequence[float] | Tensor,
    threshold: float = 0.9,
    *,
    contiguous: bool = False,
) -> Tensor:
    """Largest corruption level at which each pattern is still recovered with rate ``>= threshold``.

    The basin-size scalar of paper.md section 2 (``t*``) and the predecessor's critical
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

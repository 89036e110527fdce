"""Energies of dense associative memories and of the modern (continuous) Hopfield net.

Pure functions, no state: every function takes the stored patterns as an argument.
All arithmetic is float64.

* Dense associative memory (Krotov & Hopfield 2016; Demircigil et al. 2017 for the
  exponential case): ``E(s) = -sum_mu F(o_mu(s))`` with ``o_mu`` the overlap of the
  state with pattern ``mu`` and ``F`` one of

  - ``"poly"``:   ``F(x) = x**n``;
  - ``"repoly"``: ``F(x) = max(x, 0)**n`` (rectified polynomial);
  - ``"exp"``:    ``F(x) = exp(beta x)``.

  For ``"exp"`` the raw energy ``-sum exp(beta o)`` overflows already at ``beta * o``
  around 710, so the form used everywhere in the testbed is its monotone log,
  ``E = -(1/beta) logsumexp(beta o)``: it orders states identically and has the same
  local minima, so the dynamics and the "energy never increases" property are unchanged.

* Modern Hopfield net (Ramsauer et al. 2021, Eq. 2; docs/theory.md §2.8)::

      E(xi) = -lse(beta, X xi) + 1/2 xi.xi + beta^-1 ln K + 1/2 M^2,
      lse(beta, z) = beta^-1 ln sum_mu exp(beta z_mu),   M = max_mu |x_mu|,

  with the stored patterns as the rows of ``X (K, D)``. The constants make ``E >= 0``.

Overlaps between token sequences use the code shared by all families: spins for
``V = 2`` (``o = s . xi`` in ``[-L, L]``) and one-hot for ``V > 2`` (``o`` = number of
positions where the two sequences agree, in ``[0, L]``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from energy.diffusion import agreements, onehot_codes

__all__ = [
    "DENSE_FUNCTIONS",
    "token_overlaps",
    "interaction",
    "lse",
    "dense_energy_from_overlaps",
    "dense_energy",
    "modern_energy",
]

#: Interaction functions of the dense associative memory.
DENSE_FUNCTIONS = ("poly", "repoly", "exp")


def token_overlaps(states: Tensor, patterns: Tensor, vocab_size: int) -> Tensor:
    """Overlap of every state with every stored pattern.

    Parameters
    ----------
    states : Tensor
        ``long (B, L)`` token sequences.
    patterns : Tensor
        ``long (K, L)`` stored token sequences.
    vocab_size : int
        Alphabet size ``V``.

    Returns
    -------
    Tensor
        ``float64 (B, K)``: for ``V = 2`` the spin overlap ``s . xi`` (token 0 is spin
        -1), for ``V > 2`` the one-hot overlap, i.e. the number of agreeing positions.
        Both are integers, hence exact in float64.
    """
    if vocab_size == 2:
        s = states.to(torch.float64) * 2 - 1  # (B, L)
        x = patterns.to(torch.float64) * 2 - 1  # (K, L)
        return s @ x.T  # (B, K)
    # The one-hot overlap is the agreement count.  (For V = 2 the spin product above is
    # faster than 2 A - L from the one-hot counts.)
    return agreements(states, patterns, onehot_codes(patterns, vocab_size))  # (B, K)


def interaction(x: Tensor, F: str, n: int) -> Tensor:
    """Polynomial interaction function applied elementwise.

    Parameters
    ----------
    x : Tensor
        Overlaps, any shape, float64.
    F : {"poly", "repoly"}
        ``x**n`` or ``max(x, 0)**n``.
    n : int
        Degree, ``n >= 2``.

    Returns
    -------
    Tensor
        ``F(x)``, same shape as ``x``. On integer overlaps the result is an exact
        integer while it stays below ``2**53``.
    """
    if F == "poly":
        return x.pow(n)
    if F == "repoly":
        return x.clamp(min=0).pow(n)
    raise ValueError(f"F must be 'poly' or 'repoly' for a polynomial interaction, got {F!r}")


def lse(z: Tensor, beta: float, dim: int = -1) -> Tensor:
    """Ramsauer's ``lse(beta, z) = beta^-1 ln sum exp(beta z)``, computed stably.

    Parameters
    ----------
    z : Tensor
        Scores, float64, reduced over ``dim``.
    beta : float
        Inverse temperature, ``> 0``.

    Returns
    -------
    Tensor
        ``z`` with ``dim`` reduced.
    """
    # logsumexp subtracts the maximum first, so nothing overflows for any beta * z.
    return torch.logsumexp(beta * z, dim=dim) / beta


def dense_energy_from_overlaps(overlaps: Tensor, F: str = "poly", n: int = 3, beta: float = 1.0) -> Tensor:
    """Dense associative memory energy from precomputed overlaps.

    Parameters
    ----------
    overlaps : Tensor
        ``float64 (..., K)`` overlaps with the ``K`` stored patterns.
    F : {"poly", "repoly", "exp"}
        Interaction function.
    n : int
        Degree for the polynomial functions (ignored for ``"exp"``).
    beta : float
        Inverse temperature for ``"exp"`` (ignored otherwise).

    Returns
    -------
    Tensor
        ``float64 (...)``: ``-sum_mu F(o_mu)`` for the polynomials, and the monotone log
        form ``-(1/beta) logsumexp(beta o)`` of ``-sum_mu exp(beta o_mu)`` for ``"exp"``.
    """
    if F == "exp":
        return -lse(overlaps, beta)
    return -interaction(overlaps, F, n).sum(-1)


def dense_energy(
    states: Tensor,
    patterns: Tensor,
    vocab_size: int,
    *,
    F: str = "poly",
    n: int = 3,
    beta: float = 1.0,
) -> Tensor:
    """Dense associative memory energy of token states.

    Parameters
    ----------
    states : Tensor
        ``long (B, L)`` states.
    patterns : Tensor
        ``long (K, L)`` stored patterns.
    vocab_size : int
        Alphabet size ``V`` (spin overlaps for ``V = 2``, one-hot overlaps otherwise).
    F, n, beta
        As in :func:`dense_energy_from_overlaps`.

    Returns
    -------
    Tensor
        ``float64 (B,)`` energies.
    """
    return dense_energy_from_overlaps(token_overlaps(states, patterns, vocab_size), F, n, beta)


def modern_energy(xi: Tensor, X: Tensor, beta: float) -> Tensor:
    """Ramsauer's modern Hopfield energy, with its constants.

    Parameters
    ----------
    xi : Tensor
        ``float64 (B, D)`` state patterns.
    X : Tensor
        ``float64 (K, D)`` stored patterns (rows).
    beta : float
        Inverse temperature, ``> 0``.

    Returns
    -------
    Tensor
        ``float64 (B,)``: ``-lse(beta, X xi) + xi.xi / 2 + ln(K) / beta + M^2 / 2`` with
        ``M = max_mu |x_mu|``. Always ``>= 0`` (``-lse >= -M |xi|``).
    """
    K = X.shape[0]
    M2 = float((X * X).sum(-1).max())  # M^2 = max_mu |x_mu|^2
    scores = xi @ X.T  # (B, K)
    return -lse(scores, beta) + 0.5 * (xi * xi).sum(-1) + math.log(K) / beta + 0.5 * M2

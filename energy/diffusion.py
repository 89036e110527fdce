"""Energies and entropies of uniform discrete diffusion over a stored set (pure functions).

For a stored set ``{xi_mu}`` with uniform prior and uniform-noise corruption at keep
probability ``alpha``, the noisy marginal is (docs/theory.md §4.2)::

    p_t(x) = ((1 - alpha) / V)^L / K * sum_mu exp(beta A_mu(x)),   beta = log(1 + V alpha / (1 - alpha))

with ``A_mu(x) = #{i : x^i = xi_mu^i}`` the agreements (the one-hot inner product).  So
``-log p_t`` is, up to a constant, the log-sum-exp (DenseAM / modern Hopfield) energy
``E_beta(x) = -log sum_mu exp(beta A_mu(x))``.  Single-site leave-one-out argmax updates
never increase it (docs/theory.md §4.4).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["agreements", "onehot_codes", "lse_energy", "log_marginal", "conditional_entropy"]


def onehot_codes(patterns: Tensor, vocab_size: int) -> Tensor:
    """One-hot codes of the stored patterns, ``float32 (K, L*V)``, for :func:`agreements`.

    Parameters
    ----------
    patterns : Tensor
        ``long (K, L)`` with values in ``0..vocab_size-1``.
    vocab_size : int
        Alphabet size ``V``.

    Returns
    -------
    Tensor
        ``float32 (K, L*V)`` with ``codes[mu, i*V + v] = [xi_mu^i = v]``.
    """
    return F.one_hot(patterns, vocab_size).to(torch.float32).flatten(1)


def agreements(states: Tensor, patterns: Tensor, codes: Tensor | None = None) -> Tensor:
    """Number of positions where each state equals each stored pattern.

    Parameters
    ----------
    states : Tensor
        ``long (B, L)``.
    patterns : Tensor
        ``long (K, L)``.
    codes : Tensor, optional
        ``onehot_codes(patterns, V)``, ``(K, L*V)``.  With them the counts are one matrix
        product, ``A = onehot(states) codes^T``, instead of a ``(B, K, L)`` comparison: the
        same numbers (integers ``<= L``, summed exactly in float32 while ``L < 2^24``; 0/1
        factors are exact even in reduced-precision matmul modes) at a fraction of the
        memory traffic, for alphabets small enough that ``2 V`` flops per comparison pay
        (the oracle uses them for ``V <= 128``).

    Returns
    -------
    Tensor
        ``float64 (B, K)``: ``L - Hamming(state, pattern)``.
    """
    if codes is None:
        return (states[:, None, :] == patterns[None, :, :]).sum(-1, dtype=torch.float64)  # (B, K)
    B, L = states.shape
    if codes.dim() != 2 or codes.shape[1] % L or codes.shape[0] != patterns.shape[0]:
        raise ValueError(
            f"codes must be onehot_codes(patterns, V) of shape (K, L*V) = ({patterns.shape[0]}, {L}*V), "
            f"got {tuple(codes.shape)}"
        )
    x = F.one_hot(states, codes.shape[1] // L).to(codes.dtype).flatten(1)  # (B, L*V)
    return (x @ codes.mT).to(torch.float64)  # (B, K)


def lse_energy(states: Tensor, patterns: Tensor, beta: float | Tensor, codes: Tensor | None = None) -> Tensor:
    """Log-sum-exp energy ``E_beta(x) = -log sum_mu exp(beta A_mu(x))``, float64.

    Not divided by ``beta``: in this form ``E_beta = -log p_t(x) + const`` exactly, and
    ``E(x^{i<-v}) = -log Z^{(-i)} - log(1 + (e^beta - 1) pi^i(v))`` (docs/theory.md §4.4).

    Parameters
    ----------
    states : Tensor
        ``long (B, L)``.
    patterns : Tensor
        ``long (K, L)``.
    beta : float or Tensor
        Inverse temperature; a ``(B,)`` tensor gives one per state.
    codes : Tensor, optional
        ``onehot_codes(patterns, V)``: the agreements as a matrix product (:func:`agreements`).

    Returns
    -------
    Tensor
        ``float64 (B,)``.
    """
    _check_beta(beta)
    if isinstance(beta, Tensor):
        beta = beta.to(device=states.device, dtype=torch.float64).reshape(-1, 1)
    return -torch.logsumexp(beta * agreements(states, patterns, codes), dim=-1)  # (B,)


def _check_beta(beta: float | Tensor) -> None:
    """A finite, non-negative inverse temperature: ``inf`` (from ``alpha_t`` rounding to 1) gives ``-inf`` energies."""
    finite = (
        bool(torch.isfinite(beta).all() and (beta >= 0).all()) if isinstance(beta, Tensor) else 0 <= beta < math.inf
    )
    if not finite:
        shown = (
            beta if not isinstance(beta, Tensor) else f"a tensor with min {float(beta.min())}, max {float(beta.max())}"
        )
        raise ValueError(
            f"beta must be finite and >= 0, got {shown}; an infinite beta comes from a diffusion time "
            "below the smallest float64 resolves (models.diffusion.process.min_time)"
        )


def log_marginal(states: Tensor, patterns: Tensor, alpha: float, vocab_size: int) -> Tensor:
    """Exact ``log p_t(x)`` of the stored set under uniform noise with keep probability ``alpha < 1``.

    Returns
    -------
    Tensor
        ``float64 (B,)``.
    """
    if not 0.0 <= alpha < 1.0:  # alpha = 1 (no noise) has no density: beta = inf
        raise ValueError(f"alpha must lie in [0, 1), got {alpha!r}")
    K, L = patterns.shape
    beta = math.log1p(vocab_size * alpha / (1.0 - alpha))
    const = L * math.log((1.0 - alpha) / vocab_size) - math.log(K)
    return const - lse_energy(states, patterns, beta)


def conditional_entropy(log_probs: Tensor) -> Tensor:
    """Mean over positions of the per-token entropy ``-sum_v p log p`` in nats.

    This is the memorisation probe of docs/theory.md §6.5: applied to a NELBO-trained network at
    ``t ~ 0`` it measures the *context-only* (leave-one-out) uncertainty of each token.

    Parameters
    ----------
    log_probs : Tensor
        ``(B, L, V)`` log-probabilities (``-inf`` allowed: ``0 log 0 = 0``).

    Returns
    -------
    Tensor
        ``float64 (B,)``.
    """
    lp = log_probs.to(torch.float64)
    p = lp.exp()
    h = -torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(-1)  # (B, L)
    return h.mean(-1)

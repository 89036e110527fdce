"""Log-linear noise schedule of uniform discrete diffusion (UDLM / DUO convention).

``alpha(t) = 1 - (1 - eps) t`` with ``eps = 1e-3`` is the probability that a token is
*kept*; with probability ``1 - alpha(t)`` it is redrawn uniformly from all ``V``
tokens (possibly itself).  ``sigma(t) = -log alpha(t)`` is the total noise the
denoiser is conditioned on, and ``beta(t) = log(1 + V alpha / (1 - alpha))`` is the
inverse temperature at which the exact Bayes denoiser of a stored set is a modern
Hopfield update on one-hot codes (docs/theory.md §4.1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

EPS = 1e-3

__all__ = ["EPS", "alpha", "dalpha", "sigma", "beta"]


def alpha(t: float | Tensor, eps: float = EPS) -> float | Tensor:
    """Keep probability ``alpha_t = 1 - (1 - eps) t``; ``t`` in ``[0, 1]``."""
    return 1.0 - (1.0 - eps) * t


def dalpha(t: float | Tensor, eps: float = EPS) -> float | Tensor:
    """Time derivative ``d alpha_t / dt = -(1 - eps)`` (same shape as ``t``)."""
    if isinstance(t, Tensor):
        return torch.full_like(t, -(1.0 - eps))
    return -(1.0 - eps)


def sigma(t: float | Tensor, eps: float = EPS) -> float | Tensor:
    """Total noise ``sigma_t = -log alpha_t`` (the denoiser's time input)."""
    a = alpha(t, eps)
    return -torch.log(a) if isinstance(a, Tensor) else -math.log(a)


def beta(t: float | Tensor, vocab_size: int, eps: float = EPS) -> float | Tensor:
    """Inverse temperature ``beta_t = log(1 + V alpha_t / (1 - alpha_t))``.

    Written as ``log1p`` of the ratio so that small ``t`` (alpha close to 1) stays
    accurate; ``t = 0`` gives ``inf`` (nearest-pattern retrieval).
    """
    a = alpha(t, eps)
    if isinstance(a, Tensor):
        return torch.log1p(vocab_size * a / (1.0 - a))
    if a >= 1.0:
        return math.inf
    return math.log1p(vocab_size * a / (1.0 - a))

"""Codes shared by the families: spins for ``V = 2``, one-hot for ``V > 2``.

Binary patterns are spins, token 0 = spin -1 and token 1 = spin +1; a Potts site (``V > 2``)
is a one-hot row of length ``V``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["to_spins", "from_spins", "one_hot"]


def to_spins(tokens: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """Map binary tokens ``{0, 1}`` to spins ``{-1, +1}`` (token 0 is spin -1)."""
    return tokens.to(dtype, copy=True).mul_(2).sub_(1)  # a new tensor, then in place: one allocation


def from_spins(spins: Tensor) -> Tensor:
    """Map spins to tokens: ``+1 -> 1``, ``-1 -> 0`` (a spin of exactly 0 maps to 0)."""
    return (spins > 0).long()


def one_hot(tokens: Tensor, vocab_size: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """One-hot code ``(..., L) -> (..., L, V)`` in ``dtype``."""
    return torch.nn.functional.one_hot(tokens, vocab_size).to(dtype)

"""Distances and overlaps between states and patterns: Hamming, Hopfield overlap, nearest pattern.

Shapes: ``B`` states, ``K`` patterns, ``L`` positions, ``V`` tokens.  Binary patterns are
``V = 2`` with token 0 = spin -1.  Also the input checks the other metric files share.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from energy.diffusion import agreements, onehot_codes
from models.checks import check_int, check_tokens
from models.codes import to_spins

__all__ = ["hamming", "overlap", "nearest"]


def check_states(x: Any, name: str, min_rows: int = 1) -> Tensor:
    return check_tokens(x, name, min_rows=min_rows)


def check_same_shape(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (B, L), got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_same_length(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
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
    check_states(a, "a", 0)
    check_states(b, "b", 0)
    check_same_length(a, b, ("a", "b"))
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
    check_same_length(states, patterns, ("states", "patterns"))
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
    check_states(patterns, "patterns")
    d = hamming(states, patterns)  # (B, K)
    distance, index = d.min(dim=1)
    return index, distance

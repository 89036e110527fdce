"""Corrupting patterns into queries.

Two noise models, one per tradition, and so two corruption quantities in the tables
(docs/results.md): ``flip``, the fraction of positions changed exactly, and ``t``, the
diffusion time; :func:`noise_for_flip` maps one to the other in expectation.

* :func:`flip` changes *exactly* ``k`` positions per row to a different token: the
  Hopfield basin probe (Hamming distance ``k`` from the pattern, no more, no less).
* :func:`resample` redraws each position uniformly with probability ``1 - alpha_t``:
  the forward process of uniform discrete diffusion at time ``t`` (it reuses
  :func:`models.diffusion.process.corrupt`, so queries match what the models were
  trained on).

All functions are batched (no loop over rows), take randomness only from
``generator`` (a CPU ``torch.Generator``; draws are made on the CPU so a seed gives the
same queries on any device), and never modify their inputs.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

from models.checks import check_generator, check_tokens
from models.diffusion.process import corrupt
from models.diffusion.schedule import EPS

__all__ = ["flip", "flip_fraction", "resample", "erase", "random_states"]


def _check_vocab(vocab_size: Any) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, Integral):
        raise TypeError(f"vocab_size must be an int >= 2, got {type(vocab_size).__name__} {vocab_size!r}")
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
    return int(vocab_size)


def _check_patterns(patterns: Any, vocab_size: int) -> Tensor:
    return check_tokens(patterns, "patterns", vocab_size=vocab_size, min_rows=0)


def _check_k(k: Any, B: int, L: int) -> Tensor:
    """``k`` as ``long (B, 1)`` on the CPU, each in ``[0, L]``."""
    if isinstance(k, Tensor):
        if k.dtype != torch.long or k.dim() > 1 or (k.dim() == 1 and k.shape[0] != B):
            raise TypeError(f"k must be an int or a long tensor of shape ({B},), got {k.dtype} {tuple(k.shape)}")
        k_t = k.cpu().reshape(-1, 1).expand(B, 1)
    elif isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"k must be an int or a long tensor of shape (B,), got {type(k).__name__} {k!r}")
    else:
        k_t = torch.full((B, 1), int(k), dtype=torch.long)
    if k_t.numel() and (int(k_t.min()) < 0 or int(k_t.max()) > L):
        raise ValueError(f"k must lie in [0, L={L}] (number of positions to change), got {k!r}")
    return k_t


def flip(patterns: Tensor, k: int | Tensor, vocab_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Change exactly ``k`` positions of each row to a different token.

    The positions are uniform without replacement; each new token is uniform among
    the ``V - 1`` tokens other than the current one (for ``V = 2``: a spin flip).

    Parameters
    ----------
    patterns : Tensor
        ``long (B, L)`` token sequences (not modified).
    k : int or Tensor
        Number of positions to change, ``0 <= k <= L``; a ``long (B,)`` tensor gives
        one count per row.
    vocab_size : int
        Alphabet size ``V >= 2``.
    generator : torch.Generator, optional
        CPU generator for all draws.

    Returns
    -------
    Tensor
        ``long (B, L)`` on the device of ``patterns``, at Hamming distance exactly
        ``k`` from ``patterns`` in every row.
    """
    V = _check_vocab(vocab_size)
    _check_patterns(patterns, V)
    check_generator(generator)
    B, L = patterns.shape
    k_t = _check_k(k, B, L)  # (B, 1)
    # Rank the positions of each row by i.i.d. uniforms: the k smallest ranks are a
    # uniform k-subset.  Offsets in 1..V-1 (mod V) never return the current token.
    ranks = torch.rand((B, L), generator=generator).argsort(dim=1).argsort(dim=1)  # (B, L)
    offsets = torch.randint(1, V, (B, L), generator=generator)  # (B, L)
    change = (ranks < k_t).to(patterns.device)
    return torch.where(change, (patterns + offsets.to(patterns.device)) % V, patterns)


def flip_fraction(
    patterns: Tensor, fraction: float, vocab_size: int, generator: torch.Generator | None = None
) -> Tensor:
    """:func:`flip` with ``k = round(fraction * L)`` positions per row.

    Parameters
    ----------
    fraction : float
        Fraction of positions to change, in ``[0, 1]``.

    Returns
    -------
    Tensor
        ``long (B, L)``.
    """
    f = _check_unit("fraction", fraction)
    _check_patterns(patterns, _check_vocab(vocab_size))
    return flip(patterns, int(round(f * patterns.shape[1])), vocab_size, generator)


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {type(value).__name__} {value!r}")
    v = float(value)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def resample(patterns: Tensor, t: float | Tensor, vocab_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Uniform-diffusion corruption at time ``t``: ``x_t ~ q(x_t | x_0)``.

    Each position is redrawn uniformly from all ``V`` tokens with probability
    ``1 - alpha_t``, ``alpha_t = 1 - (1 - 1e-3) t``; the expected fraction that actually
    changes is ``(1 - alpha_t)(1 - 1/V)``.  This is
    :func:`models.diffusion.process.corrupt` with checked arguments.

    Parameters
    ----------
    patterns : Tensor
        ``long (B, L)`` clean sequences (not modified).
    t : float or Tensor
        Diffusion time in ``[0, 1]``; a float tensor of shape ``(B,)`` gives one time per row.
    vocab_size : int
        Alphabet size ``V >= 2``.
    generator : torch.Generator, optional
        CPU generator.

    Returns
    -------
    Tensor
        ``long (B, L)`` on the device of ``patterns``.
    """
    V = _check_vocab(vocab_size)
    _check_patterns(patterns, V)
    check_generator(generator)
    if isinstance(t, Tensor):
        if not t.is_floating_point() or t.dim() != 1 or t.shape[0] != patterns.shape[0]:
            raise TypeError(
                f"t must be a float or a float tensor of shape ({patterns.shape[0]},), got {t.dtype} {tuple(t.shape)}"
            )
        if t.numel() and not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError("t must lie in [0, 1] (diffusion time) in every row")
    else:
        t = _check_unit("t", t)
    return corrupt(patterns, t, V, generator=generator)


def erase(
    patterns: Tensor,
    fraction: float,
    fill_token: int,
    *,
    where: str = "end",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Overwrite one contiguous block of ``round(fraction * L)`` positions with ``fill_token``.

    For images flattened row by row, ``where="end"`` erases the bottom rows (with
    ``fraction=0.5`` on a square grid with an even side: the bottom half), the
    classic "complete the picture" demo.

    Parameters
    ----------
    patterns : Tensor
        ``long (B, L)`` (not modified).
    fraction : float
        Fraction of positions to overwrite, in ``[0, 1]``.
    fill_token : int
        Token written into the block (e.g. 0, blank / spin -1), in ``0..max token``.
    where : {"end", "start", "random"}
        Block at the end, at the start, or at a uniform offset per row (``generator``).
    generator : torch.Generator, optional
        CPU generator, used by ``where="random"``.

    Returns
    -------
    Tensor
        ``long (B, L)``.
    """
    check_tokens(patterns, "patterns", min_rows=0)
    f = _check_unit("fraction", fraction)
    if isinstance(fill_token, bool) or not isinstance(fill_token, Integral):
        raise TypeError(f"fill_token must be an int >= 0 (a token id), got {type(fill_token).__name__} {fill_token!r}")
    if fill_token < 0:
        raise ValueError(f"fill_token must be an int >= 0 (a token id), got {fill_token!r}")
    if where not in ("end", "start", "random"):
        raise ValueError(f"where must be one of ('end', 'start', 'random'), got {where!r}")
    check_generator(generator)
    B, L = patterns.shape
    n = int(round(f * L))
    if where == "end":
        start = torch.full((B, 1), L - n)
    elif where == "start":
        start = torch.zeros(B, 1, dtype=torch.long)
    else:
        start = torch.randint(0, L - n + 1, (B, 1), generator=generator)
    pos = torch.arange(L).unsqueeze(0)  # (1, L)
    block = ((pos >= start) & (pos < start + n)).to(patterns.device)  # (B, L)
    return torch.where(block, torch.full_like(patterns, int(fill_token)), patterns)


def random_states(B: int, L: int, vocab_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Uniform random token sequences, ``long (B, L)``: the "start anywhere" probe of spurious attractors."""
    for name, value, low in (("B", B, 0), ("L", L, 1)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int >= {low}, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    V = _check_vocab(vocab_size)
    check_generator(generator)
    return torch.randint(0, V, (int(B), int(L)), generator=generator)


def noise_for_flip(flip: float, vocab_size: int = 2) -> float:
    """Diffusion time ``t`` whose expected changed fraction ``(1 - alpha_t)(1 - 1/V)`` is ``flip``.

    The bridge between the two corruption quantities of the testbed (docs/results.md):
    "flip exactly a fraction ``flip`` of the positions" (Hopfield queries) and the diffusion
    time ``t`` a diffusion memory conditions on (passed as ``retrieve(noise=t)``):
    ``1 - alpha = flip V / (V - 1)`` and ``alpha_t = 1 - (1 - eps) t``.

    Parameters
    ----------
    flip : float
        Fraction of changed positions, in ``[0, (V - 1) / V]``.
    vocab_size : int
        Alphabet size ``V``.

    Returns
    -------
    float
        ``t`` in ``[1e-5, 1]`` (``flip = 0`` maps to the smallest time the samplers use).
    """
    V = _check_vocab(vocab_size)
    f = _check_unit("flip", flip)
    if f > (V - 1) / V + 1e-12:
        raise ValueError(f"flip must be <= (V-1)/V = {(V - 1) / V:.4g} (uniform noise changes no more), got {f}")
    one_minus_alpha = min(f * V / (V - 1), 1.0)
    return min(max(one_minus_alpha / (1.0 - EPS), 1e-5), 1.0)

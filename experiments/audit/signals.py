"""Per-sequence memorisation signals: basin width ``t*``, conditional entropy and NELBO.

Basin width
-----------
For a sequence ``x`` and a memory with a stochastic restore map (the ancestral sampler of a
diffusion memory from time ``t``; the classical net's own dynamics), let ``p(t)`` be the
probability that a copy corrupted at ``t`` (:func:`experiments.corruption.resample`) comes
back *exactly* as ``x``.  On an increasing grid ``t_1 < ... < t_G`` each ``p(t_j)`` is
estimated from ``c`` independently corrupted (and independently restored) copies, ``p_j``.
The critical corruption level is

* ``t* = 0`` (left-censored) when ``p_1 < 1/2``: the basin is narrower than the first grid point;
* otherwise, with ``j`` the first grid index with ``p_j < 1/2``, the linear interpolation of
  the crossing of 1/2 between ``(t_{j-1}, p_{j-1})`` and ``(t_j, p_j)``:
  ``t* = t_{j-1} + (p_{j-1} - 1/2) / (p_{j-1} - p_j) (t_j - t_{j-1})``;
* ``t* = t_G`` (right-censored) when no grid point falls below 1/2.

This is the first down-crossing of 1/2; for a ``p(t)`` that decreases with ``t`` (the case
of a basin) it is the largest ``t`` with ``p(t) >= 1/2``.  Taking the first crossing lets a
sequence stop being evaluated once it has failed (:func:`basin_width` only restores the
sequences still "alive"), which makes held-out sequences of a memorising model cheap.

Precision: each ``p_j`` is a binomial share of ``c`` copies, standard deviation
``sqrt(p (1 - p) / c)`` (0.18 at ``p = 1/2`` with ``c = 8``).  A grid point whose true ``p`` is
0.75 (0.25) is put on the wrong side of 1/2 with probability ``P(Bin(8, 0.75) < 4) = 0.027``
(``P(Bin(8, 0.25) >= 4) = 0.114``) at ``c = 8``; within an interval ``t*`` moves in steps of
``(t_j - t_{j-1}) / c`` at most, and beyond that is known to about one grid spacing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from experiments.corruption import resample
from experiments.transition.diagnostics import nelbo_per_sequence
from experiments.transition.sampling import Engine

__all__ = ["Restore", "THRESHOLD", "crossing_time", "basin_width", "engine_restore", "entropy", "nelbo"]

#: ``p(t*) = 1/2``: "at least half of the corrupted copies come back".
THRESHOLD = 0.5

#: ``(queries long (B, L), t, generator) -> long (B, L)`` restored states.
Restore = Callable[[Tensor, float, torch.Generator], Tensor]


def crossing_time(grid, p) -> tuple[float, str]:
    """``t*`` of one sequence from its success shares on the grid (module docstring).

    Parameters
    ----------
    grid : sequence of float
        Increasing corruption levels ``t_1 < ... < t_G``.
    p : sequence of float
        Success shares ``p_j``; entries after the first below :data:`THRESHOLD` are ignored
        (they may be NaN: not evaluated).

    Returns
    -------
    (float, str)
        ``t*`` and ``""``, ``"left"`` (``t* = 0``) or ``"right"`` (``t* = t_G``).
    """
    grid = [float(t) for t in grid]
    p = [float(v) for v in p]
    if len(grid) != len(p) or not grid:
        raise ValueError(f"grid and p must be non-empty and of the same length, got {len(grid)} and {len(p)}")
    for j, pj in enumerate(p):
        if pj < THRESHOLD:
            if j == 0:
                return 0.0, "left"
            p0, t0 = p[j - 1], grid[j - 1]
            return t0 + (p0 - THRESHOLD) / (p0 - pj) * (grid[j] - t0), ""
    return grid[-1], "right"


def engine_restore(engine: Engine) -> Restore:
    """The ancestral sampler of a diffusion or oracle memory (its :class:`Engine`) as a :data:`Restore`."""
    return lambda queries, t, generator: engine.restore(queries, t, generator)[0]


def basin_width(
    restore: Restore, x0: Tensor, vocab_size: int, grid, copies: int, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``t*`` of every sequence of ``x0`` (module docstring), restoring only sequences not yet failed.

    Parameters
    ----------
    restore : Restore
        The memory's restore map.
    x0 : Tensor
        ``long (B, L)`` sequences.
    vocab_size : int
    grid : sequence of float
        Increasing corruption levels in ``(0, 1]``.
    copies : int
        Independently corrupted copies per sequence and grid point, ``c``.
    generator : torch.Generator
        Source of the corruptions and of the sampler's draws (one stream, grid point after
        grid point, so the result depends on which sequences are still evaluated).

    Returns
    -------
    t_star : ndarray
        ``float64 (B,)``.
    p : ndarray
        ``float64 (B, G)`` success shares, NaN where not evaluated.
    censored : list of str
        Per sequence ``""``, ``"left"`` or ``"right"``.
    """
    grid = [float(t) for t in grid]
    if not grid or any(not 0 < t <= 1 for t in grid) or any(b <= a for a, b in zip(grid, grid[1:], strict=False)):
        raise ValueError(f"grid must be increasing diffusion times in (0, 1], got {grid!r}")
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be an int >= 1, got {copies!r}")
    B = x0.shape[0]
    p = np.full((B, len(grid)), np.nan)
    alive = torch.ones(B, dtype=torch.bool)
    for j, t in enumerate(grid):
        rows = alive.nonzero().squeeze(1)
        if len(rows) == 0:
            break
        target = x0[rows].repeat_interleave(copies, dim=0)  # (n * c, L): the copies of a row are adjacent
        states = restore(resample(target, t, vocab_size, generator=generator), t, generator)
        hits = (states == target).all(-1).view(len(rows), copies).double().mean(-1)  # (n,)
        p[rows.numpy(), j] = hits.numpy()
        alive[rows] = hits >= THRESHOLD
    found = [crossing_time(grid, row) for row in p]
    return np.array([f[0] for f in found]), p, [f[1] for f in found]


def entropy(engine: Engine, x0: Tensor) -> np.ndarray:
    """Mean conditional entropy per token (nats) of the leave-one-out prediction at ``t = 1e-5``, ``(B,)``.

    The transition's probe (:func:`energy.diffusion.conditional_entropy` of ``mem.denoise``
    at :data:`models.diffusion.memory.ENTROPY_TIME` on the clean sequence): near 0 for a
    sequence the memory has stored, large for one it must guess.
    """
    return engine.entropy(x0).numpy()


def nelbo(engine: Engine, x0: Tensor, n_times: int, generator: torch.Generator) -> np.ndarray:
    """Per-sequence NELBO per token (nats), the training objective (:func:`.diagnostics.nelbo_per_sequence`)."""
    return nelbo_per_sequence(engine, x0, n_times, generator).numpy()

"""What every teaching demo shares: the :class:`Demo` record, seeded generators, outcome helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.metrics import nearest, outcome_classes, overlap
from experiments.seeds import derive_seed

__all__ = ["Demo", "generator", "outcomes", "nearest_targets", "count", "padded", "mean_overlap"]


@dataclass
class Demo:
    """What a demo produced.

    Attributes
    ----------
    paths : list of Path
        Files written (the PNG gallery first, then the GIF, then any extras).
    notes : list of str
        The lines printed for the viewer.
    numbers : dict
        The measured quantities quoted in the notes (checked by the tests).
    seconds : float
        Wall time of the demo.
    """

    paths: list[Path]
    notes: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def generator(seed: int, stream: int = 0) -> torch.Generator:
    """A fresh generator per use, so that adding a draw in one place does not change another."""
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def outcomes(final: Tensor, targets: Tensor, stored: Tensor, converged: Tensor | None = None) -> list[str]:
    """Outcome class name of every final state (exact matches; overlap bounds 0.3 / 0.9)."""
    return list(outcome_classes(final, targets, stored, converged=converged, vocab_size=2))


def nearest_targets(states: Tensor, stored: Tensor) -> Tensor:
    """The stored pattern nearest to each state (the 'target' of a start with no target)."""
    return stored[nearest(states, stored)[0]]


def count(names: list[str], *wanted: str) -> int:
    """How many of ``names`` are among ``wanted``."""
    return sum(o in wanted for o in names)


def padded(r, T: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory ``(T, B, L)`` and energies ``(T, B)`` of a recorded retrieval as arrays."""
    traj, energies = r.trajectory.numpy(), r.energies.numpy()
    if T is not None and traj.shape[0] < T:  # rows that finished early hold their final state
        extra = T - traj.shape[0]
        traj = np.concatenate([traj, np.repeat(traj[-1:], extra, 0)])
        energies = np.concatenate([energies, np.repeat(energies[-1:], extra, 0)])
    return traj, energies


def mean_overlap(X: Tensor) -> float:
    """Mean ``|m|`` over distinct pairs of patterns: how correlated a stored set is."""
    m = overlap(X, X).abs()
    k = m.shape[0]
    return float((m.sum() - m.diagonal().sum()) / (k * (k - 1)))

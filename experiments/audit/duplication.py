"""The duplication arm: a training set in which chosen sequences appear several times.

Of the ``K`` distinct training sequences of a transition cell, the first ``per_count`` get
multiplicity ``counts[0]``, the next ``per_count`` multiplicity ``counts[1]``, and so on; the
rest appear once.  The network is trained by the cell's recipe (:class:`NetSpec`, seed) on the
rows with their repeats: the training loop draws rows uniformly, so a sequence with
multiplicity ``c`` is seen ``c`` times as often.  Its checkpoint key extends the transition's
with the multiplicities, so it never collides with the transition network of the same ``K``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

import models
from experiments.transition.training import checkpoint_key

__all__ = ["multiplicities", "duplicated_rows", "dup_checkpoint_key", "build_dup_memory"]


def multiplicities(K: int, dup) -> Tensor:
    """``long (K,)``: how often each of the ``K`` distinct sequences appears in the training set."""
    m = torch.ones(K, dtype=torch.long)
    for i, c in enumerate(dup.counts):
        m[i * dup.per_count : (i + 1) * dup.per_count] = c
    return m


def duplicated_rows(train: Tensor, dup) -> Tensor:
    """The training rows: every distinct sequence repeated by its multiplicity, ``long (sum m, L)``."""
    return train.repeat_interleave(multiplicities(train.shape[0], dup), dim=0)


def dup_checkpoint_key(cell) -> str:
    """The transition key of the network cell with a hash of the multiplicities appended."""
    blob = json.dumps({"counts": list(cell.dup.counts), "per_count": cell.dup.per_count})
    return f"{checkpoint_key(cell.net)}-dup{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def build_dup_memory(cell) -> models.AssociativeMemory:
    """A fresh diffusion memory with the transition recipe and the duplication arm's checkpoint directory."""
    net = cell.net
    return models.make(
        "diffusion",
        **asdict(net.net),
        sampler="ancestral",
        dt=net.evaluation.dt,
        checkpoint=str(Path(net.checkpoint_root) / dup_checkpoint_key(cell)),
        seed=net.seed,
        device=net.device,
    )

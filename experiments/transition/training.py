"""The transition's memories: what trains the network of a cell, where it is kept, and the three memories.

:class:`NetSpec` holds everything that determines the trained network besides the data and
the seed; its fields are the :class:`~models.diffusion.memory.DiffusionMemory`
hyperparameters of the same names and are passed to ``models.make`` whole.  Networks are
kept per cell under ``checkpoint_root / checkpoint_key(cell)``, so a rerun with other
evaluation settings loads them instead of training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import models

__all__ = ["MODEL_CHOICES", "NetSpec", "checkpoint_key", "build_memory"]

MODEL_CHOICES = ("diffusion", "oracle", "classical")
#: Checkpoint keys hash the data spec under the field names it had when the first networks
#: were trained (``vocab_size``, ``length``), so that networks trained before ``V`` / ``N``
#: were adopted are still found.
_KEY_NAMES = {"V": "vocab_size", "N": "length"}


@dataclass(frozen=True)
class NetSpec:
    """Everything that determines the trained network besides the data and the seed."""

    d_model: int
    n_layers: int
    n_heads: int
    train_steps: int
    batch_size: int
    lr: float
    dropout: float = 0.0


def checkpoint_key(cell) -> str:
    """Directory name of the network of a cell: dataset, ``K`` and a hash of what trains it.

    Only training-relevant fields enter the hash (data, ``K``, network, seed), not the
    evaluation settings, the size of the test set, the models evaluated or the device.

    Parameters
    ----------
    cell : experiments.transition.config.Cell
    """
    data = {_KEY_NAMES.get(k, k): v for k, v in asdict(cell.data).items()}
    del data["n_test"]  # every generator draws the training rows independently of the test rows
    blob = json.dumps({"data": data, "K": cell.K, "net": asdict(cell.net), "seed": cell.seed})
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return f"{cell.data.name}-K{cell.K}-s{cell.seed}-{digest}"


def build_memory(model: str, cell) -> models.AssociativeMemory:
    """A fresh memory of a cell, through the registry.

    * ``diffusion``: a :class:`~models.diffusion.memory.DiffusionMemory` with the cell's
      :class:`NetSpec`, ancestral sampler and its checkpoint directory;
    * ``oracle``: the exact Bayes denoiser of the stored set through the same sampler;
    * ``classical``: the Potts Hebbian net (``V > 2``), asynchronous updates (they always converge).
    """
    ev = cell.evaluation
    if model == "diffusion":
        return models.make(
            "diffusion",
            **asdict(cell.net),
            sampler="ancestral",
            dt=ev.dt,
            checkpoint=str(Path(cell.checkpoint_root) / checkpoint_key(cell)),
            seed=cell.seed,
            device=cell.device,
        )
    if model == "oracle":
        return models.make("oracle", sampler="ancestral", dt=ev.dt, seed=cell.seed, device=cell.device)
    if model == "classical":
        return models.make("classical", rule="hebb", update="async", device=cell.device)
    raise ValueError(f"unknown model {model!r}; choose from {list(MODEL_CHOICES)}")

"""Associative memories behind one contract (see :mod:`models.base`).

``MODELS`` maps a registry name to ``"module:Class"``; classes are imported only
when :func:`make` or :func:`get` asks for them, so importing :mod:`models` stays
cheap and a new model is one file plus one line here.

>>> import models
>>> net = models.make("classical", rule="hebb")
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from models._version import __version__
from models.base import AssociativeMemory, NotFittedError, Retrieval
from models.persist import SavedMemoryError, read_saved

__all__ = [
    "MODELS",
    "make",
    "get",
    "load",
    "AssociativeMemory",
    "Retrieval",
    "NotFittedError",
    "SavedMemoryError",
    "__version__",
]

MODELS: dict[str, str] = {
    "classical": "models.classical:ClassicalHopfield",
    "dense": "models.dense:DenseHopfield",
    "modern": "models.modern:ModernHopfield",
    "diffusion": "models.diffusion.memory:DiffusionMemory",
    "oracle": "models.diffusion.memory:OracleMemory",
}


def get(name: str) -> type[AssociativeMemory]:
    """Return the class registered as ``name``."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered models are {sorted(MODELS)}")
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make(name: str, **hyperparameters: Any) -> AssociativeMemory:
    """Build the model registered as ``name`` with the given hyperparameters.

    Unknown hyperparameter names raise ``TypeError`` naming the accepted ones.
    """
    cls = get(name)
    try:
        return cls(**hyperparameters)
    except TypeError as err:
        import inspect

        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise TypeError(f"{name}: {err}; accepted hyperparameters are {accepted}") from err


def load(path: str | os.PathLike, *, device: str | None = None) -> AssociativeMemory:
    """Load a memory written by ``memory.save(path)``; it retrieves exactly what the saved one did.

    Parameters
    ----------
    path : path
        The saved directory (``memory.json`` + ``state.safetensors``).
    device : str, optional
        Device to load onto (default: the saved ``device`` hyperparameter).

    Raises
    ------
    models.SavedMemoryError
        Missing or damaged files, or a state file whose hash does not match its manifest.
    """
    manifest, patterns, tensors = read_saved(path)
    params = dict(manifest["params"])
    if device is not None:
        params["device"] = device
    memory = make(manifest["model"], **params)
    memory._restore(patterns, int(manifest["vocab_size"]), tensors)
    return memory

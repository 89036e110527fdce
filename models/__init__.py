"""Associative memories behind one contract (see :mod:`models.base`).

``MODELS`` maps a registry name to ``"module:Class"``; classes are imported only
when :func:`make` or :func:`get` asks for them, so importing :mod:`models` stays
cheap and a new model is one file plus one line here.

>>> import models
>>> net = models.make("classical", rule="hebb")
"""

from __future__ import annotations

import importlib
from typing import Any

from models._version import __version__
from models.base import AssociativeMemory, NotFittedError, Retrieval

__all__ = ["MODELS", "make", "get", "AssociativeMemory", "Retrieval", "NotFittedError", "__version__"]

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

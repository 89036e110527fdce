"""The memories compared by the experiments, by display name.

One place maps a display name (a table row's ``model`` column) to a registry name and
hyperparameters, so every experiment puts the same models on the same axes and a
new variant is one line here.
"""

from __future__ import annotations

from typing import Any

import models

__all__ = ["MODEL_SPECS", "HOPFIELD_MODELS", "REPRESENTATIVE_MODELS", "build", "family", "spec"]

#: display name -> (registry name, hyperparameters)
MODEL_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "classical-hebb": ("classical", {"rule": "hebb"}),
    "classical-pseudoinverse": ("classical", {"rule": "pseudoinverse"}),
    "classical-storkey": ("classical", {"rule": "storkey"}),
    "dense-n2": ("dense", {"F": "poly", "n": 2}),
    "dense-n3": ("dense", {"F": "poly", "n": 3}),
    "dense-n4": ("dense", {"F": "poly", "n": 4}),
    "dense-exp": ("dense", {"F": "exp", "beta": 1.0}),
    "modern-b0.02": ("modern", {"beta": 0.02}),
    "modern-b0.1": ("modern", {"beta": 0.1}),
    "modern-b1": ("modern", {"beta": 1.0}),
    # The exact Bayes denoiser of uniform diffusion; greedy fixed-point read-out so that
    # "fixed point" means the same thing as for the Hopfield nets.
    "oracle": ("oracle", {"sampler": "fixed_point"}),
}

#: Memories that need no training (every experiment but the transition can afford them).
HOPFIELD_MODELS = tuple(MODEL_SPECS)
#: One or two of each family: the default of the studies that plot a panel per memory (basins, spurious).
REPRESENTATIVE_MODELS = (
    "classical-hebb",
    "classical-pseudoinverse",
    "classical-storkey",
    "dense-n3",
    "dense-exp",
    "modern-b1",
    "oracle",
)


def spec(name: str) -> tuple[str, dict[str, Any]]:
    """Registry name and hyperparameters of a display name, with a clear error."""
    if name not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODEL_SPECS)}")
    return MODEL_SPECS[name]


def family(name: str) -> str:
    """``classical`` / ``dense`` / ``modern`` / ``oracle`` for a display name."""
    return spec(name)[0]


def build(name: str, **overrides: Any) -> models.AssociativeMemory:
    """A fresh, unfitted model for a display name."""
    registry, hyper = spec(name)
    return models.make(registry, **{**hyper, **overrides})

"""Teaching demos: ``python -m experiments demo <letters|digits|beta|diffusion> --out DIR``.

Each demo stores a small real pattern set, runs the memories of :mod:`models` on it
through the contract only (``models.make``, ``DiffusionMemory.from_checkpoint``, ``fit``,
``retrieve(record=True)``, ``energy``), writes a PNG gallery and an animated GIF of the
retrieval trajectories (energy or conditional entropy beside the states) and prints a few
lines of what the viewer should notice, with the numbers measured in that run.

One file per demo, named after its command:

letters.py
    the textbook demo: a few letters in a classical Hebbian net, retrieved from noise and
    from half-erased copies; all 26 letters overload it (mixtures, reversed states) while a
    dense and a modern net still retrieve them.
digits.py
    correlated patterns break the classical net long before ``0.138 N``; the modern net and
    the exact Bayes denoiser (oracle) still separate them.
beta.py
    the modern net's inverse temperature, from the global average through metastable class
    averages to single-pattern retrieval.
diffusion.py
    a diffusion memory of a few sentences restores a training sentence and has ~0
    conditional entropy; one trained on many restores unseen sentences and writes new ones
    (its network ships in ``weights/``, see ``pretrained.py``).

``common.py`` holds the :class:`Demo` record and seeded generators, ``drawing.py`` the
galleries and ``animation.py`` the GIFs; colours, markers and labels come from
:mod:`experiments.style`.  Every demo runs in well under a minute on 2 CPU cores (one torch
thread), needs no network, and is deterministic given ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.demos.beta import beta
from experiments.demos.common import Demo
from experiments.demos.diffusion import diffusion
from experiments.demos.digits import digits
from experiments.demos.letters import letters
from models.threads import torch_threads

__all__ = ["Demo", "DEMO_FUNCTIONS", "run", "letters", "digits", "beta", "diffusion"]

DEMO_FUNCTIONS: dict[str, Callable[..., Demo]] = {
    "letters": letters,
    "digits": digits,
    "beta": beta,
    "diffusion": diffusion,
}


def run(name: str, out_dir: Path | str, seed: int = 0, **options: Any) -> list[Path]:
    """Run the demo ``name``, print what to notice, and return the files written.

    Parameters
    ----------
    name : {"letters", "digits", "beta", "diffusion"}
        Which demo.
    out_dir : path
        Output directory (created).
    seed : int
        Random seed.
    **options
        Keyword arguments of the demo function (e.g. faster settings for tests).

    Returns
    -------
    list of Path
        The PNG gallery, the GIF and any further files.
    """
    if name not in DEMO_FUNCTIONS:
        raise ValueError(f"unknown demo {name!r}; choose from {sorted(DEMO_FUNCTIONS)}")
    with torch_threads(1):  # tiny kernels: OpenMP overhead dominates
        demo = DEMO_FUNCTIONS[name](out_dir, seed, **options)
    print(f"== demo {name}: {demo.seconds:.1f} s")
    for line in demo.notes:
        print(f" * {line}")
    return demo.paths

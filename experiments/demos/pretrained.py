"""The diffusion demo's shipped network: a diffusion memory of 2000 English sentences.

Character-level English needs far more optimiser steps than a one-minute demo has on 2 CPU
cores, so the generalising model of :mod:`experiments.demos.diffusion` ships pretrained:
``weights/text_diffusion_L24/`` holds a weights-only checkpoint (``model.safetensors`` +
``config.json``, 0.74 MB) that :func:`load_pretrained` opens behind the memory contract
(:meth:`~models.diffusion.memory.DiffusionMemory.from_checkpoint`, which checks that it was
trained on exactly the given sentences).  :func:`pretrain` reproduces it
(``python -m experiments demo diffusion --pretrain``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import models
from experiments.patterns import PatternSet, text_patterns
from models.diffusion.memory import DiffusionMemory
from models.threads import torch_threads

__all__ = ["PRETRAINED", "TEXT_L", "N_TEST", "MANY", "FALLBACK_STEPS", "text_set", "pretrain", "load_pretrained"]

#: Characters per sentence: short sequences keep training and sampling cheap.
TEXT_L = 24
#: Held-out sentences of the text pattern set (its last rows; never trained on).
N_TEST = 128
#: The generalising model: training set size and DiffusionMemory hyperparameters.
MANY: dict[str, Any] = {
    "K": 2000,
    "memory": {
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 4,
        "train_steps": 20_000,
        "batch_size": 64,
        "lr": 2e-3,
        "seed": 0,
    },
}
#: Steps of the stand-in generalising model when the pretrained one cannot be used (keeps the demo
#: within its minute; it is undertrained, and the demo says so).
FALLBACK_STEPS = 300
#: Weights-only checkpoint (``model.safetensors`` + ``config.json``) of the generalising model.
PRETRAINED = Path(__file__).resolve().parent / "weights" / "text_diffusion_L24"
_EXPORTED = ("model.safetensors", "config.json")


def text_set(K: int, source: str = "auto") -> PatternSet:
    """The demo's text pattern set: ``K`` training sentences, the fixed held-out set, ``L = TEXT_L``."""
    return text_patterns(K=K, L=TEXT_L, source=source, n_test=N_TEST, seed=0)


def pretrain(out: Path | str = PRETRAINED, *, checkpoint: Path | str | None = None, progress: bool = True) -> Path:
    """Train the generalising model from scratch and export its weights-only checkpoint.

    Deterministic: one CPU thread, every draw from the seeded generator of
    :mod:`models.diffusion.train`, so the same torch version on the same kind of CPU
    gives the same weights.  Training takes roughly 20-40 minutes on one CPU core.

    Parameters
    ----------
    out : path
        Directory that receives ``model.safetensors`` and ``config.json``.
    checkpoint : path, optional
        Full training checkpoint directory (kept, so an interrupted run resumes);
        a temporary directory when omitted.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out``.
    """
    patterns = text_set(MANY["K"], source="lee")
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(checkpoint) if checkpoint is not None else Path(tmp)
        with torch_threads(1):
            memory = models.make("diffusion", **MANY["memory"], checkpoint=ckpt, progress=progress)
            memory.fit(patterns.train, vocab_size=patterns.vocab_size)
        out.mkdir(parents=True, exist_ok=True)
        for name in _EXPORTED:
            shutil.copyfile(ckpt / name, out / name)
    losses = memory.train_result_.losses
    print(f"exported {out} (patterns {patterns.hash}, final NELBO/token {float(losses[-500:].mean()):.3f})")
    return out


def load_pretrained(
    patterns: PatternSet, directory: Path | str = PRETRAINED, *, sampler: str = "fixed_point", dt: float = 0.01
) -> DiffusionMemory | None:
    """The pretrained memory, if its files exist and it was trained on exactly ``patterns``.

    Parameters
    ----------
    patterns : PatternSet
        The sentences it must have been trained on (its ``train`` rows).
    directory : path
        Weights-only checkpoint.
    sampler, dt
        Retrieval settings of the memory.

    Returns
    -------
    DiffusionMemory or None
        A fitted memory (CPU); ``None`` when the files are missing or belong to another
        pattern set (e.g. without gensim the text source is Python's own documentation, not
        the Lee corpus the weights were trained on).
    """
    directory = Path(directory)
    if not all((directory / name).is_file() for name in _EXPORTED):
        return None
    try:
        return DiffusionMemory.from_checkpoint(
            directory, patterns.train, vocab_size=patterns.vocab_size, sampler=sampler, dt=dt
        )
    except ValueError:  # trained on other sentences (or with settings this memory cannot express)
        return None

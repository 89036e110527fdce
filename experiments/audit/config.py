"""The audit's configuration, presets and cells.

A cell is one trained network of the transition sweep (same data pool, recipe and checkpoint
key: :func:`experiments.transition.config.cells` on the transition preset named by
``transition``, restricted to ``Ks`` and ``seeds``), or, for the duplication arm, a network
trained by the same recipe on ``dup_K`` distinct sequences of the same pool of which
``dup_per_count`` chosen ones appear ``c`` times for every ``c`` in ``dup_counts``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from experiments.transition import config as transition_config

__all__ = ["NAME", "RECIPE", "MODEL_CHOICES", "Config", "PRESETS", "AuditSpec", "DupSpec", "Cell", "cells"]

NAME = "audit"
#: Transition config fields an audit config may replace (None keeps the preset's).
RECIPE = ("V", "N", "d_model", "n_layers", "n_heads", "train_steps", "batch_size")
MODEL_CHOICES = ("diffusion", "oracle")


@dataclass(frozen=True)
class Config:
    """Audit sweep: transition networks at ``Ks`` x ``seeds`` (and the duplication arm), per-sequence signals.

    ``n_seq`` training sequences per cell (the first ``n_seq`` of the training set: the pool
    is a random draw, so these are a deterministic random sample) and as many held-out ones
    are audited.  ``grid`` and ``copies`` set the basin width (:mod:`.signals`), ``dt`` the
    sampler's step for every restore, completion and generation, ``prompt_samples`` the
    inpainted completions per sequence and prompt, ``n_generate`` the generations from noise,
    ``nelbo_times`` the times of the per-sequence NELBO.  ``dup_K = 0`` switches the
    duplication arm off.  ``checkpoint_root`` is where the transition's networks are (and
    missing ones are trained; default ``OUT/transition/checkpoints``); ``transition_results``
    optionally names a transition ``results.parquet`` whose crossing ``K`` the figures mark.
    The fields of :data:`RECIPE` replace the transition preset's when set (tiny test networks);
    a changed recipe trains networks of its own.
    """

    models: tuple[str, ...] = MODEL_CHOICES
    # the smallest K, the first K past the transition's crossing (about 105) and the largest
    Ks: tuple[int, ...] = (4, 128, 1024)
    seeds: tuple[int, ...] = (0, 1, 2)
    transition: str = "quick"
    n_seq: int = 64
    # dense at small t, where the basins of a generalising network end
    grid: tuple[float, ...] = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    copies: int = 8
    dt: float = 0.05
    prompt_samples: int = 4
    n_generate: int = 512
    nelbo_times: int = 8
    dup_K: int = 256
    dup_counts: tuple[int, ...] = (1, 2, 4, 8, 16)
    dup_per_count: int = 8
    # the transition recipe's data and network fields, None: the preset's (tests shrink them)
    V: int | None = None
    N: int | None = None
    d_model: int | None = None
    n_layers: int | None = None
    n_heads: int | None = None
    train_steps: int | None = None
    batch_size: int | None = None
    checkpoint_root: str | None = None
    transition_results: str | None = None
    device: str = "cpu"


PRESETS = {
    # 3 K of the transition quick sweep at its seed 0 (networks that ``reproduce`` has just
    # trained) plus 1 duplication network; docs/audit.md's table is ``--seeds 0,1,2``.
    "quick": Config(seeds=(0,)),
    # All K of the transition, more sequences, copies and samples, 5 seeds: not run (hours on CPU).
    "paper": Config(
        Ks=(4, 8, 16, 32, 64, 128, 256, 1024),
        seeds=(0, 1, 2, 3, 4),
        n_seq=128,
        grid=(0.0125, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        copies=16,
        dt=0.02,
        prompt_samples=8,
        n_generate=2048,
        dup_per_count=16,
    ),
}


@dataclass(frozen=True)
class AuditSpec:
    """What is measured per sequence (changing it reuses every network)."""

    n_seq: int
    grid: tuple[float, ...]
    copies: int
    dt: float
    prompt_samples: int
    n_generate: int
    nelbo_times: int


@dataclass(frozen=True)
class DupSpec:
    """The duplication arm: ``per_count`` sequences appear ``c`` times for each ``c`` in ``counts``."""

    counts: tuple[int, ...]
    per_count: int


@dataclass(frozen=True)
class Cell:
    net: transition_config.Cell
    audit: AuditSpec
    models: tuple[str, ...]
    dup: DupSpec | None = None


def _check(config: Config) -> None:
    if config.transition not in transition_config.PRESETS:
        raise ValueError(
            f"transition must name a transition preset {sorted(transition_config.PRESETS)}, got {config.transition!r}"
        )
    bad = [m for m in config.models if m not in MODEL_CHOICES]
    if bad or not config.models:
        raise ValueError(f"models must be a non-empty subset of {MODEL_CHOICES}, got {config.models!r}")
    grid = list(config.grid)
    if not grid or any(not 0 < t <= 1 for t in grid) or grid != sorted(set(grid)):
        raise ValueError(f"grid must be increasing diffusion times in (0, 1], got {config.grid!r}")
    for name in ("n_seq", "copies", "prompt_samples", "n_generate", "dup_per_count"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if config.dup_K < 0 or any(c < 1 for c in config.dup_counts):
        raise ValueError(f"dup_K must be >= 0 and dup_counts >= 1, got {config.dup_K!r}, {config.dup_counts!r}")
    if config.dup_K and config.dup_per_count * len(config.dup_counts) > config.dup_K:
        raise ValueError(
            f"dup_per_count * len(dup_counts) = {config.dup_per_count * len(config.dup_counts)} sequences "
            f"do not fit among dup_K = {config.dup_K}"
        )


def cells(config: Config, out: str | Path | None = None) -> list[Cell]:
    """The duplication cells first (they train), then one cell per (``K``, seed), ascending ``K``.

    The networks are those of :func:`experiments.transition.config.cells` on the transition
    preset, so an audit finds the transition's checkpoints under ``checkpoint_root``.
    """
    _check(config)
    root = config.checkpoint_root or str(Path(out if out is not None else "results") / "transition" / "checkpoints")
    Ks = tuple(sorted(set(config.Ks) | ({config.dup_K} if config.dup_K else set())))
    recipe = {name: getattr(config, name) for name in RECIPE if getattr(config, name) is not None}
    base = dataclasses.replace(
        transition_config.PRESETS[config.transition],
        **recipe,
        Ks=Ks,
        seeds=tuple(config.seeds),
        checkpoint_root=root,
        dt=float(config.dt),
        device=config.device,
    )
    spec = AuditSpec(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(AuditSpec) if f.name != "grid"},
        grid=tuple(float(t) for t in config.grid),
    )
    models = tuple(config.models)
    plain, dup = [], []
    for net in transition_config.cells(base):
        if net.K in config.Ks:
            plain.append(Cell(net=net, audit=spec, models=models))
        if config.dup_K and net.K == config.dup_K:
            dup.append(
                Cell(net=net, audit=spec, models=models, dup=DupSpec(tuple(config.dup_counts), config.dup_per_count))
            )
    return dup + plain

"""One transition cell: train (or load) the network, then measure every memory on the same queries.

:func:`run_cell` is the protocol; each step is a function below that returns table rows:

1. the pattern set of the cell and the corrupted queries every memory gets;
2. per memory: fit (the diffusion network trains or loads its checkpoint), then
   ``recovery`` rows (restore corrupted train / test sequences), one ``generation`` row
   (samples from pure noise, classified), ``entropy`` rows (conditional entropy on clean
   and generated sequences), and the diagnostics of :mod:`.diagnostics`: ``entropy_t`` rows
   (the same probe on sequences corrupted at several ``t``) and ``fixed_point`` rows (clean
   sequences under the deterministic denoiser);
3. ``divergence`` rows: the learned leave-one-out prediction against the exact one;
   ``nelbo`` rows: the learned model's NELBO per token on train and test sequences.

The diffusion memories run through the row-chunked samplers of :mod:`.sampling`: ``exact``
gives the samples of their own ``retrieve`` / ``generate``; ``fast`` (the config's default),
the same distributions about twice as fast on a CPU.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

import models
from experiments.corruption import random_states, resample
from experiments.metrics import (
    GENERATION_CLASSES,
    classify_generations,
    exact_match,
    generation_distances,
    perturbation_rate,
    recovery_rate,
    unstable_rate,
)
from experiments.patterns import PatternSet
from experiments.seeds import query_generator
from experiments.transition import diagnostics, sampling
from experiments.transition.config import Cell
from experiments.transition.data import make_patterns, rule_scores
from experiments.transition.sampling import CHUNK
from experiments.transition.training import build_memory
from models.diffusion.memory import ENTROPY_TIME

__all__ = ["run_cell", "divergence"]

SPLITS = ("train", "test")


def _gen(*parts) -> torch.Generator:
    return query_generator(*parts)


def run_cell(cell: Cell, *, chunk: int | None = CHUNK) -> list[dict]:
    """All rows of one (dataset, width, ``K``, seed) cell; see the module docstring for the steps.

    ``chunk``: rows per denoiser call of the diffusion memories (:mod:`.sampling`: with
    ``cell.evaluation.sampler == "exact"`` the same numbers, faster); ``None`` runs them through
    their own ``retrieve`` / ``generate`` / ``denoise`` on whole batches, the reference the
    benchmark and the tests compare with.
    """
    start = time.perf_counter()
    ps = make_patterns(cell.data, cell.K)
    base = _base_row(cell, ps)
    originals, queries = _queries(cell, ps)
    rows: list[dict] = []
    learned = None
    for model in cell.models:
        mem = build_memory(model, cell).fit(ps.train, vocab_size=ps.vocab_size)
        # how a diffusion memory is run (the network traced once, see .sampling); classical: itself
        engine = None if model == "classical" else sampling.Engine(mem, chunk, cell.evaluation.sampler)
        if model == "diffusion":
            learned = engine
            rows.append(_training_row(mem))
        rows += _memory_rows(mem, engine, model, cell, ps, originals, queries)
    if learned is not None:
        rows += _divergence_rows(learned, cell, ps, originals, queries)
        if cell.evaluation.nelbo_times > 0:
            rows += diagnostics.nelbo_rows(learned, originals, cell)
    wall = time.perf_counter() - start
    return [{**base, **row, "wall_s": wall} for row in rows]


def _memory_rows(mem, engine, model: str, cell: Cell, ps: PatternSet, originals: dict, queries: dict) -> list[dict]:
    """Recovery, generation and (diffusion memories, run by ``engine``) entropy and fixed-point rows of a memory."""
    rows = _recovery_rows(mem, engine, model, cell, originals, queries)
    samples = _generate(mem, engine, model, cell, ps)
    rows.append({**_generation_row(model, samples, ps, cell.evaluation.delta), **_sampler_column(engine)})
    if engine is None:
        return rows
    clean = {"train": ps.train[: cell.evaluation.n_eval], "test": ps.test[: cell.evaluation.n_eval]}
    rows += _entropy_rows(engine, model, {**clean, "generated": samples})
    rows += diagnostics.entropy_t_rows(engine, model, {**originals, "generated": samples}, cell)
    if cell.evaluation.fixed_point_t is not None:
        rows += diagnostics.fixed_point_rows(engine, model, clean, ps.train, cell.evaluation.fixed_point_t)
    return rows


def _base_row(cell: Cell, ps: PatternSet) -> dict:
    """Columns every row of the cell carries."""
    return {
        "dataset": cell.data.name,
        "K": ps.n_train,
        "seed": cell.seed,
        "pattern_hash": ps.hash,
        "V": ps.vocab_size,
        "N": ps.length,
        "d_model": cell.net.d_model,
        "n_layers": cell.net.n_layers,
        "train_steps": cell.net.train_steps,
    }


def _queries(cell: Cell, ps: PatternSet) -> tuple[dict, dict]:
    """Clean sequences per split and their corrupted queries per ``(split, t)``, shared by every memory.

    Small training sets are cycled up to ``n_eval`` rows (each copy corrupted independently)
    so that every ``K`` averages over as many queries.
    """
    n = cell.evaluation.n_eval
    originals = {"train": ps.train[torch.arange(n) % ps.n_train], "test": ps.test[:n]}
    queries = {
        (split, t): _corrupt(x0, t, ps.vocab_size, cell, split)
        for split, x0 in originals.items()
        for t in cell.evaluation.ts
    }
    return originals, queries


def _corrupt(x0: torch.Tensor, t: float, V: int, cell: Cell, split: str) -> torch.Tensor:
    return resample(x0, t, V, generator=_gen("query", cell.data.name, split, t, cell.seed))


def _training_row(mem) -> dict:
    tr = mem.train_result_
    return {
        "kind": "training",
        "model": "diffusion",
        "loss": float(tr.losses[-min(100, len(tr.losses)) :].mean()),
        "train_seconds": float(tr.info.get("train_seconds_total", tr.seconds)),
        "loaded": bool(tr.loaded),
        "n_params": sum(p.numel() for p in mem.model_.parameters()),
    }


def _recovery_rows(mem, engine, model: str, cell: Cell, originals: dict, queries: dict) -> list[dict]:
    """Restore every corrupted query: token recovery, exact matches, broken tokens, steps.

    Diffusion memories through their :class:`.sampling.Engine`, the classical net (``engine``
    None) through its own dynamics.
    """
    rows = []
    for (split, t), q in queries.items():
        x0 = originals[split]
        g = _gen("sampler", model, split, t, cell.seed)
        if engine is None:  # its own dynamics, which ignore t; no entropy
            r = mem.retrieve(q, noise=t, generator=g)
            states, steps, entropy = r.states, r.steps, r.entropy
        else:
            states, steps, entropy = engine.restore(q, t, g)
        rec = recovery_rate(states, x0, q).numpy()
        rows.append(
            {
                "kind": "recovery",
                "model": model,
                "split": split,
                "t": t,
                "recovery": float(np.nanmean(rec)),
                "recovery_std": float(np.nanstd(rec)),
                "frac_exact": float(exact_match(states, x0).double().mean()),
                "unstable": float(np.nanmean(unstable_rate(states, x0, q).numpy())),
                "perturbed": float(perturbation_rate(q, x0).mean()),
                "entropy": float(entropy.mean()) if entropy is not None else math.nan,
                "mean_steps": float(steps.double().mean()),
                "n": int(q.shape[0]),
                **_sampler_column(engine),
            }
        )
    return rows


def _generate(mem, engine, model: str, cell: Cell, ps: PatternSet) -> torch.Tensor:
    """Samples from pure noise (diffusion memories), or final states from uniform random states (classical)."""
    g = _gen("generate", model, cell.seed)
    n = cell.evaluation.n_generate
    if engine is None:  # the classical net's analogue of "sampling"
        return mem.retrieve(random_states(n, ps.length, ps.vocab_size, generator=g), generator=g).states
    return engine.generate(n, g)


def _sampler_column(engine) -> dict:
    """``{"sampler": "exact (float32)"}`` and the like for a diffusion memory's draws; nothing for the classical net."""
    return {} if engine is None else {"sampler": f"{engine.sampler} ({engine.precision})"}


def _generation_row(model: str, samples: torch.Tensor, ps: PatternSet, delta: float) -> dict:
    """Memorised / spurious / generalised shares (Hamming threshold ``delta``), copies, duplicates, rule validity."""
    classes = classify_generations(samples, ps.train, delta, delta)
    to_train, to_other = generation_distances(samples, ps.train)
    frac, valid = rule_scores(samples, ps)
    shares = pd.Series(classes).value_counts(normalize=True)
    return {
        "kind": "generation",
        "model": model,
        "split": "generated",
        "t": 1.0,
        **{c: float(shares.get(c, 0.0)) for c in GENERATION_CLASSES},
        "copy": float((to_train == 0).double().mean()),
        "duplicate": float((to_other == 0).double().mean()),
        "distinct": float(torch.unique(samples, dim=0).shape[0] / samples.shape[0]),
        "d_train": float(to_train.mean()),
        "d_other": float(to_other.mean()),
        "rule_fraction": float(np.nanmean(frac)) if np.isfinite(frac).any() else math.nan,
        "rule_valid": float(valid.mean()),
        "n": int(samples.shape[0]),
    }


def _entropy_rows(engine, model: str, sets: dict) -> list[dict]:
    """Mean conditional entropy of the leave-one-out prediction at ``t = 1e-5`` on each set of sequences.

    Pham et al. (2026) draw ``x_t`` at ``t = 1e-5`` first; over ``1024 x 32`` tokens that
    resamples 0.3 tokens on average, so the clean sequences are used as they are.
    """
    rows = []
    for split, x in sets.items():
        h = engine.entropy(x)
        rows.append(
            {
                "kind": "entropy",
                "model": model,
                "split": split,
                "t": ENTROPY_TIME,
                "entropy": float(h.mean()),
                "entropy_std": float(h.std(unbiased=False)),
                "n": int(x.shape[0]),
            }
        )
    return rows


def _divergence_rows(learned, cell: Cell, ps: PatternSet, originals: dict, queries: dict) -> list[dict]:
    """``KL(oracle || learned)`` and total variation of the leave-one-out predictions at ``divergence_t``.

    ``learned`` is the learned memory's :class:`.sampling.Engine`; the oracle runs the same way.
    """
    memory = models.make("oracle", device=cell.device).fit(ps.train, vocab_size=ps.vocab_size)
    oracle = sampling.Engine(memory, learned.chunk)
    t = cell.evaluation.divergence_t
    rows = []
    for split, x0 in originals.items():
        q = queries.get((split, t))
        if q is None:
            q = _corrupt(x0, t, ps.vocab_size, cell, split)
        kl, tv = divergence(oracle.denoise(q, t), learned.denoise(q, t))
        rows.append(
            {"kind": "divergence", "model": "diffusion", "split": split, "t": t, "kl": kl, "tv": tv, "n": len(q)}
        )
    return rows


def divergence(log_p: torch.Tensor, log_q: torch.Tensor) -> tuple[float, float]:
    """Mean over rows and positions of ``KL(p || q)`` and of the total variation.

    Parameters
    ----------
    log_p, log_q : Tensor
        ``(B, L, V)`` log-probabilities; ``log_p`` may hold ``-inf`` (``0 log 0 = 0``).

    Returns
    -------
    (float, float)
        Mean KL in nats and mean total variation in ``[0, 1]``.
    """
    p = log_p.exp()
    kl = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum(-1)  # (B, L)
    tv = 0.5 * (p - log_q.exp()).abs().sum(-1)  # (B, L)
    return float(kl.mean()), float(tv.mean())

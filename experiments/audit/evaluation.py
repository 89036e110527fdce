"""One audit cell: load (or train) the network, then measure every signal on every audited sequence.

:func:`run_cell` returns one row per (model, split, sequence): the basin width ``t*``
(:mod:`.signals`), the conditional entropy and NELBO, the prompted extraction rates and the
unprompted copies (:mod:`.extraction`).  The audited sequences are the first ``n_seq``
training sequences (duplication arm: the sequences with a chosen multiplicity) and as many
held-out ones (the first of the transition's test set).  Every random draw comes from a
generator named after the probe, the model, the split and the seed, not ``K``.
"""

from __future__ import annotations

import time

import torch

from experiments.audit import extraction, signals
from experiments.audit.config import Cell
from experiments.audit.duplication import build_dup_memory, duplicated_rows, multiplicities
from experiments.seeds import query_generator
from experiments.transition.data import make_patterns
from experiments.transition.sampling import Engine
from experiments.transition.training import build_memory

__all__ = ["SPLITS", "run_cell", "audited"]

SPLITS = ("train", "test")


def audited(cell: Cell, train: torch.Tensor, test: torch.Tensor) -> tuple[dict, dict, torch.Tensor]:
    """The audited sequences per split, their multiplicities in the training set, and the training rows.

    Returns
    -------
    sets : dict
        ``split -> long (n, L)``.
    mult : dict
        ``split -> long (n,)`` (held-out sequences: 0).
    rows : Tensor
        ``long (R, L)`` what the memories are fitted on (with repeats in the duplication arm).
    """
    if cell.dup is None:
        n = min(cell.audit.n_seq, train.shape[0])
        m, rows = torch.ones(n, dtype=torch.long), train
    else:
        n = cell.dup.per_count * len(cell.dup.counts)
        m, rows = multiplicities(train.shape[0], cell.dup)[:n], duplicated_rows(train, cell.dup)
    if test.shape[0] < n:
        raise ValueError(f"the held-out set has {test.shape[0]} sequences, fewer than the {n} audited")
    sets = {"train": train[:n], "test": test[:n]}
    return sets, {"train": m, "test": torch.zeros(n, dtype=torch.long)}, rows


def _fit(model: str, cell: Cell, rows: torch.Tensor, V: int):
    if model == "diffusion" and cell.dup is not None:
        return build_dup_memory(cell).fit(rows, vocab_size=V)
    return build_memory(model, cell.net).fit(rows, vocab_size=V)


def _sequence_rows(engine: Engine, model: str, split: str, x0: torch.Tensor, cell: Cell, gens) -> dict:
    """Every signal of the sequences ``x0`` of one split, as columns."""
    a, s, V = cell.audit, cell.net.seed, engine.mem.vocab_size_
    restore = signals.engine_restore(engine)
    t_star, _, censored = signals.basin_width(
        restore, x0, V, a.grid, a.copies, query_generator("audit-basin", model, split, s)
    )
    prompted = {
        kind: extraction.prompted_rate(
            engine, x0, kind, a.prompt_samples, query_generator("audit-prompt", kind, model, split, s)
        )
        for kind in extraction.PROMPTS
    }
    copies = extraction.unprompted_copies(gens, x0)
    return {
        "t_star": t_star,
        "t_star_censored": censored,
        "entropy": signals.entropy(engine, x0),
        "nelbo": signals.nelbo(engine, x0, a.nelbo_times, query_generator("audit-nelbo", model, split, s)),
        "extract_prefix": prompted["prefix"],
        "extract_random": prompted["random"],
        "extract_prompted": (prompted["prefix"] + prompted["random"]) / 2,
        "unprompted": copies,
        "unprompted_rate": copies / gens.shape[0],
    }


def run_cell(cell: Cell) -> list[dict]:
    """All rows of one audit cell (one row per model, split and audited sequence)."""
    start = time.perf_counter()
    ps = make_patterns(cell.net.data, cell.net.K)
    sets, mult, rows_fit = audited(cell, ps.train, ps.test)
    base = {
        "regime": "transition" if cell.dup is None else "duplication",
        "dataset": cell.net.data.name,
        "K": ps.n_train,
        "seed": cell.net.seed,
        "pattern_hash": ps.hash,
        "V": ps.vocab_size,
        "N": ps.length,
        "d_model": cell.net.net.d_model,
        "train_steps": cell.net.net.train_steps,
        "copies": cell.audit.copies,
        "n_generate": cell.audit.n_generate,
    }
    out: list[dict] = []
    for model in cell.models:
        mem = _fit(model, cell, rows_fit, ps.vocab_size)
        engine = Engine(mem)
        gens = engine.generate(cell.audit.n_generate, query_generator("audit-generate", model, cell.net.seed))
        loaded = bool(mem.train_result_.loaded) if model == "diffusion" else True
        for split, x0 in sets.items():
            columns = _sequence_rows(engine, model, split, x0, cell, gens)
            for i in range(x0.shape[0]):
                row = {k: (v[i] if isinstance(v, list) else v[i].item()) for k, v in columns.items()}
                out.append(
                    {
                        **base,
                        "model": model,
                        "split": split,
                        "seq": i,
                        "multiplicity": int(mult[split][i]),
                        **row,
                        "loaded": loaded,
                    }
                )
    wall = time.perf_counter() - start
    return [{**row, "wall_s": wall} for row in out]

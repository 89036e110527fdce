"""Memorisation -> generalisation: a diffusion memory trained on more and more sequences.

The laptop-scale version of the headline experiment of Pham et al. 2026
(docs/theory.md §6.4-6.7 and the CPU recipe of §7).  For every training
set size ``K`` (nested subsets: the first ``K`` sequences of one fixed pool, one fixed
held-out test set) a :class:`~models.diffusion.memory.DiffusionMemory` is trained for the
*same* number of steps, and three memories are evaluated on the same queries:

* ``diffusion``: the learned network (checkpoint kept per ``K`` under
  ``OUT/transition/checkpoints/``, so that a rerun with other evaluation settings only
  evaluates);
* ``oracle``: the exact Bayes denoiser of the same ``K`` sequences (a modern Hopfield
  update on one-hot codes at ``beta(t)``) through the same sampler: pure memory retrieval,
  the control that never generalises;
* ``classical``: the Potts classical Hopfield net (Hebbian couplings, asynchronous
  updates) on the same tokens.

Per cell (dataset, ``K``, model size, steps, seed, evaluation settings) the table gets

* ``kind="recovery"``: token recovery and exact match of train and test sequences
  corrupted at ``t`` (:func:`experiments.corruption.resample`) and restored by each memory
  (diffusion / oracle: the stochastic ancestral sampler from ``t``, step ``dt``, final
  noise removal; classical: asynchronous dynamics, which ignore ``t``);
* ``kind="entropy"``: mean conditional entropy of the leave-one-out prediction at
  ``t = 1e-5`` (docs/theory.md §6.5) on clean train, test and generated sequences;
* ``kind="generation"``: ``n_generate`` samples from pure noise (classical: from uniform
  random states) classified memorised / spurious / generalised by Hamming thresholds
  (:func:`experiments.metrics.classify_generations`, ``delta_m = delta_s = delta``), plus
  exact copies and rule validity (div4 / Markov rule; for text, the share of complete
  words that occur in the corpus);
* ``kind="divergence"``: how far the learned prediction is from the memory's, as ``K``
  grows: the mean over positions and sequences of ``KL(oracle || learned)`` between the
  two leave-one-out predictions ``p(x_0^i | x_t^{-i})`` on train and test sequences
  corrupted at ``divergence_t`` (the total variation is stored beside it).  The direction
  oracle -> learned keeps the divergence finite where the oracle has zeros (tokens no
  stored sequence has at a position) and weighs the oracle's modes: it grows when the
  network stops reproducing the stored sequences;
* ``kind="training"``: final training loss, training time, whether the checkpoint was
  reused;
* ``kind="nelbo"``: the learned model's NELBO per token (and ``ppl = exp(nelbo)``) on train
  and test sequences, with times and corruptions shared by every ``K``;
* ``kind="fixed_point"``: the share of clean train / test sequences that the deterministic
  denoiser (MAP of the full posterior at ``fixed_point_t``) leaves unchanged, learned and oracle;
* ``kind="entropy_t"``: the conditional-entropy probe on train, test and generated
  sequences corrupted at each ``t`` of ``entropy_ts``.

Every row carries the content hash of its pattern set (train + test).

Files: ``config.py`` (Config, presets, cells), ``data.py`` (pattern pools, rule scores),
``training.py`` (network spec, checkpoint keys, the three memories), ``evaluation.py``
(one cell, step by step), ``sampling.py`` (the row-chunked samplers it runs the diffusion
memories with: ``exact`` and ``fast``), ``fused.py`` (the network fused for the fast sampler),
``diagnostics.py`` (NELBO, fixed points, entropy against ``t``),
``acceptance.py`` (key numbers, acceptance checks, summary), ``crossing.py`` (the crossing
``K`` per network width), ``figures.py`` and ``diagnostic_figures.py``.
"""

from __future__ import annotations

from experiments.transition.acceptance import (
    LARGE_K,
    LARGE_K_ENTROPY_RATIO,
    LARGE_K_GAP,
    LARGE_K_MARGIN,
    ORACLE_RECOVERY,
    SMALL_K,
    SMALL_K_COPIES,
    SMALL_K_ENTROPY,
    SMALL_K_FLOOR,
    SMALL_K_RECOVERY,
    acceptance,
    key_numbers,
    nelbo_peak,
    summary,
)
from experiments.transition.config import (
    DATA_SEED_STRIDE,
    EXAMPLES,
    FIGURES,
    NAME,
    PRESETS,
    ROWS,
    RUNTIME,
    Cell,
    Config,
    EvalSpec,
    cells,
)
from experiments.transition.crossing import CROSSING_GAP, CROSSING_T, crossing_k, crossing_summary, interpolate_crossing
from experiments.transition.data import DATASETS, DataSpec, make_patterns, rule_scores
from experiments.transition.diagnostics import fixed_point_rows, nelbo_per_sequence
from experiments.transition.evaluation import SPLITS, divergence, run_cell
from experiments.transition.figures import plot
from experiments.transition.sampling import CHUNK
from experiments.transition.training import MODEL_CHOICES, NetSpec, build_memory, checkpoint_key

__all__ = [
    "NAME",
    "MODEL_CHOICES",
    "ROWS",
    "FIGURES",
    "RUNTIME",
    "EXAMPLES",
    "DATASETS",
    "SPLITS",
    "DATA_SEED_STRIDE",
    "Config",
    "PRESETS",
    "Cell",
    "DataSpec",
    "NetSpec",
    "EvalSpec",
    "cells",
    "make_patterns",
    "rule_scores",
    "checkpoint_key",
    "build_memory",
    "run_cell",
    "divergence",
    "key_numbers",
    "acceptance",
    "summary",
    "nelbo_peak",
    "crossing_k",
    "crossing_summary",
    "interpolate_crossing",
    "nelbo_per_sequence",
    "fixed_point_rows",
    "plot",
    "CHUNK",
    "CROSSING_GAP",
    "CROSSING_T",
    "LARGE_K",
    "LARGE_K_ENTROPY_RATIO",
    "LARGE_K_GAP",
    "LARGE_K_MARGIN",
    "ORACLE_RECOVERY",
    "SMALL_K",
    "SMALL_K_COPIES",
    "SMALL_K_ENTROPY",
    "SMALL_K_FLOOR",
    "SMALL_K_RECOVERY",
]

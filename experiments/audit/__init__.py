"""Audit: does the width of a training sequence's basin predict whether the model leaks it?

For the networks of the transition sweep (:mod:`experiments.transition`: a small uniform-noise
diffusion model trained on ``K`` div4 sequences; it memorises small ``K`` and generalises
from ``K`` about 128) and for each of a capped number of training and as many held-out
sequences, per ``K`` and seed:

* **basin width** ``t*``: the corruption level up to which at least half of the sequence's
  corrupted copies come back exactly under the model's ancestral sampler (:mod:`.signals`);
* **conditional entropy** of the leave-one-out prediction at ``t = 1e-5`` and the
  per-sequence **NELBO** (the training objective);
* **extraction** (:mod:`.extraction`): exact completions from half of the sequence (prefix or
  a random half, inpainting) and exact copies among generations from noise;
* a **duplication** arm: a network trained on ``dup_K`` sequences of which some appear
  1, 2, 4, 8 and 16 times (:mod:`.duplication`).

:mod:`.analysis` turns the per-sequence rows into the answers: Spearman correlation of
``t*`` with prompted extraction (bootstrap interval), membership ROC AUC of ``t*``, entropy
and NELBO (training vs held-out), and the dose-response of the duplication arm.  The exact
Bayes denoiser (``oracle``) of the same set runs beside the network as the reference for
perfect memorisation.  docs/audit.md has the protocol and the measured numbers.
"""

from __future__ import annotations

from experiments.audit.analysis import dose_response, key_numbers, summary
from experiments.audit.config import MODEL_CHOICES, NAME, PRESETS, RECIPE, AuditSpec, Cell, Config, DupSpec, cells
from experiments.audit.evaluation import SPLITS, audited, run_cell
from experiments.audit.figures import plot

__all__ = [
    "NAME",
    "MODEL_CHOICES",
    "RECIPE",
    "ROWS",
    "FIGURES",
    "RUNTIME",
    "EXAMPLES",
    "SPLITS",
    "Config",
    "PRESETS",
    "AuditSpec",
    "DupSpec",
    "Cell",
    "cells",
    "audited",
    "run_cell",
    "key_numbers",
    "dose_response",
    "summary",
    "plot",
]

ROWS = "per regime (transition / duplication) x K x seed x model x split x audited sequence"
FIGURES = ("audit_basin_vs_extraction", "audit_auc", "audit_duplication")
RUNTIME = {
    "quick": "93 s with --backend joblib --jobs 2 on 2 CPU cores inside reproduce (seed 0: the transition's 3 "
    "networks exist, 1 duplication network trained; measured from a fresh clone); with --seeds 0,1,2: 226 s "
    "when its 12 networks exist, 21 min measured when 8 of them were trained by the run (160-300 s each)",
    "paper": "hours on CPU (not measured)",
}
EXAMPLES = (
    "python -m experiments audit --preset quick --out results --backend joblib --jobs 2",
    "python -m experiments audit --set checkpoint_root=results/transition/checkpoints --set dup_K=0",
)

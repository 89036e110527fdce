"""Metrics: pure, batched functions on token tensors, one file per question.

Shapes: ``B`` states (queries / final states / samples), ``K`` stored patterns, ``L``
positions, ``V`` tokens.  Binary patterns are ``V = 2`` with token 0 = spin -1.

distances.py
    :func:`hamming`, :func:`overlap`, :func:`nearest`.
recovery.py
    how much of a query was restored: :func:`recovery_rate`, :func:`unstable_rate`,
    :func:`perturbation_rate`, :func:`exact_match`; basin size: :func:`critical_radius`.
outcomes.py
    what a final state is: :data:`OUTCOMES`, :func:`outcome_codes` /
    :func:`outcome_classes`, and :func:`symmetric_mixtures` to build mixture states.
generations.py
    what a generated sample is: :data:`GENERATION_CLASSES`, :func:`classify_generations`.
"""

from __future__ import annotations

from experiments.metrics.distances import hamming, nearest, overlap
from experiments.metrics.generations import GENERATION_CLASSES, classify_generations, generation_distances
from experiments.metrics.outcomes import OUTCOMES, outcome_classes, outcome_codes, symmetric_mixtures
from experiments.metrics.recovery import critical_radius, exact_match, perturbation_rate, recovery_rate, unstable_rate

__all__ = [
    "OUTCOMES",
    "GENERATION_CLASSES",
    "hamming",
    "overlap",
    "nearest",
    "recovery_rate",
    "unstable_rate",
    "perturbation_rate",
    "exact_match",
    "outcome_codes",
    "outcome_classes",
    "symmetric_mixtures",
    "generation_distances",
    "classify_generations",
    "critical_radius",
]

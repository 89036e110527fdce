"""Binary pattern sets by name at a given load: the stored and held-out sets of the Hopfield studies.

``binary_set(dataset, N, load, seed)`` returns ``K = round(load * N)`` stored patterns and
``K`` held-out ones of one of :data:`BINARY_DATASETS`, so that random, correlated and real
patterns are compared at the same load.
"""

from __future__ import annotations

import math

from experiments.patterns.images import digit_patterns
from experiments.patterns.pattern_set import PatternSet
from experiments.patterns.synthetic import prototype_patterns, random_patterns

__all__ = ["BINARY_DATASETS", "DIGIT_UNITS", "binary_set"]

#: Dataset names, in a fixed order (studies derive query seeds from the index).
BINARY_DATASETS = ("random", "prototypes", "digits")
DIGIT_UNITS = 64  # scikit-learn's 8x8 digits; the N asked for does not apply to them


def binary_set(
    dataset: str, N: int, load: float, seed: int, *, n_prototypes: int = 3, p_change: float = 0.1
) -> PatternSet:
    """A binary pattern set: ``K = round(load * N)`` stored and ``K`` held-out patterns.

    Parameters
    ----------
    dataset : {"random", "prototypes", "digits"}
        Unbiased random spins; noisy examples of ``n_prototypes`` random prototypes
        (each position changed with probability ``p_change``); binarised 8x8 digits
        (``N = 64`` whatever ``N`` says).
    N : int
        Pattern length of the synthetic sets.
    load : float
        ``K / N``.
    seed : int
        Seed of the generator.
    n_prototypes : int
        Number of prototypes of the ``"prototypes"`` set.
    p_change : float
        Per-position change probability of a prototype example.

    Returns
    -------
    PatternSet
        ``train`` long ``(K, N)``, ``test`` long ``(K, N)``.  Depends only on the
        arguments, so every model of a sweep sees the same set.
    """
    N = DIGIT_UNITS if dataset == "digits" else N
    K = max(1, round(load * N))
    if dataset == "random":
        return random_patterns(K, N, vocab_size=2, n_test=K, seed=seed)
    if dataset == "prototypes":
        per = math.ceil(K / n_prototypes)
        ps = prototype_patterns(n_prototypes, per, N, p_change=p_change, n_test=K, seed=seed)
    elif dataset == "digits":
        if K > 10 * 90:
            raise ValueError(f"load {load} asks for {K} digits; at most 900 fit with held-out copies")
        per = math.ceil(K / 10)
        ps = digit_patterns(per_class=per, n_test_per_class=per, seed=seed)
    else:
        raise ValueError(f"dataset must be one of {list(BINARY_DATASETS)}, got {dataset!r}")
    # Rows are interleaved by prototype / class, so the first K cover them evenly.
    return PatternSet(
        train=ps.train[:K].clone(),
        test=ps.test[:K].clone(),
        vocab_size=2,
        name=ps.name,
        params={**ps.params, "K": K},
    )

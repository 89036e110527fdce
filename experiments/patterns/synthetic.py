"""Synthetic pattern sets: i.i.d. random tokens, biased binary patterns, noisy prototypes.

The capacity, basin and spurious-state studies store these.  Every generator is
deterministic from its ``seed`` (NumPy ``Generator`` streams, never the global RNG), returns
a :class:`~experiments.patterns.pattern_set.PatternSet` with a held-out test set drawn the
same way, and is *nested*: the first ``k`` training rows do not depend on how many were
asked for.  Binary sets use ``V = 2`` (token 1 is spin +1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from experiments.patterns.pattern_set import (
    AUX,
    TEST,
    TRAIN,
    PatternSet,
    check_fraction,
    check_int,
    draw_rows,
    from_arrays,
)

__all__ = ["random_patterns", "biased_patterns", "prototype_patterns", "prototype_centres"]


def random_patterns(K: int, L: int, vocab_size: int = 2, n_test: int = 0, seed: int = 0) -> PatternSet:
    """I.i.d. uniform tokens: the capacity-test patterns.

    Parameters
    ----------
    K, L : int
        Number and length of training patterns.
    vocab_size : int
        ``V >= 2``.
    n_test : int
        Held-out patterns drawn the same way (from another stream of ``seed``).
    seed : int
        Seed, ``>= 0``.

    Returns
    -------
    PatternSet
        ``train`` long ``(K, L)``, ``test`` long ``(n_test, L)``, ``name="random"``.
    """
    K, L = check_int("K", K, 1), check_int("L", L, 1)
    V = check_int("vocab_size", vocab_size, 2)
    n_test, seed = check_int("n_test", n_test, 0), check_int("seed", seed, 0)

    def draw(rng: np.random.Generator, m: int) -> np.ndarray:
        return rng.integers(0, V, size=(m, L))

    params = {"K": K, "L": L, "vocab_size": V, "n_test": n_test, "seed": seed}
    return from_arrays("random", draw_rows(seed, TRAIN, K, draw), draw_rows(seed, TEST, n_test, draw), V, params)


def biased_patterns(K: int, N: int, activity: float = 0.5, n_test: int = 0, seed: int = 0) -> PatternSet:
    """Binary patterns with ``P(token 1) = activity`` (sparse / biased Hopfield patterns).

    Parameters
    ----------
    K, N : int
        Number and length of training patterns.
    activity : float
        Probability of token 1 (spin +1) at each position, in ``[0, 1]``.
    n_test, seed : int
        As in :func:`random_patterns`.

    Returns
    -------
    PatternSet
        ``V = 2``, ``name="biased"``.
    """
    K, N = check_int("K", K, 1), check_int("N", N, 1)
    a = check_fraction("activity", activity)
    n_test, seed = check_int("n_test", n_test, 0), check_int("seed", seed, 0)

    def draw(rng: np.random.Generator, m: int) -> np.ndarray:
        return (rng.random((m, N)) < a).astype(np.int64)

    params = {"K": K, "N": N, "activity": a, "n_test": n_test, "seed": seed}
    return from_arrays("biased", draw_rows(seed, TRAIN, K, draw), draw_rows(seed, TEST, n_test, draw), 2, params)


def _prototypes(n_prototypes: int, N: int, vocab_size: int, seed: int) -> np.ndarray:
    return draw_rows(seed, AUX, n_prototypes, lambda rng, m: rng.integers(0, vocab_size, size=(m, N)))


def prototype_patterns(
    n_prototypes: int,
    per_prototype: int,
    N: int,
    p_change: float = 0.1,
    vocab_size: int = 2,
    n_test: int = 0,
    seed: int = 0,
) -> PatternSet:
    """Correlated patterns: noisy examples of a few random prototypes.

    Each example copies its prototype and changes every position independently with
    probability ``p_change`` to a uniformly chosen *different* token (a Bernoulli spread
    around the prototype, not the exact flips of :func:`experiments.corruption.flip`).  Rows are interleaved
    by prototype: row ``i`` (train or test) is an example of prototype
    ``i % n_prototypes``, so every prefix covers the prototypes evenly.  The prototypes
    themselves are not stored; :func:`prototype_centres` regenerates them.

    Parameters
    ----------
    n_prototypes, per_prototype : int
        ``K = n_prototypes * per_prototype`` training examples.
    N : int
        Pattern length.
    p_change : float
        Per-position change probability, in ``[0, 1]``.
    vocab_size : int
        ``V >= 2``.
    n_test : int
        Held-out examples (interleaved the same way).
    seed : int
        Seed of prototypes and examples.

    Returns
    -------
    PatternSet
        ``name="prototypes"``.
    """
    p = check_int("n_prototypes", n_prototypes, 1)
    per = check_int("per_prototype", per_prototype, 1)
    N, V = check_int("N", N, 1), check_int("vocab_size", vocab_size, 2)
    q = check_fraction("p_change", p_change)
    n_test, seed = check_int("n_test", n_test, 0), check_int("seed", seed, 0)
    centres = _prototypes(p, N, V, seed)  # (p, N)

    def noise(rng: np.random.Generator, m: int) -> np.ndarray:
        # Change mask and offset in 1..V-1 side by side, (m, 2N); the offset never maps a token to itself.
        return np.concatenate([rng.random((m, N)) < q, rng.integers(1, V, size=(m, N))], axis=1)

    def examples(stream: int, n: int) -> np.ndarray:
        z = draw_rows(seed, stream, n, noise)
        base = centres[np.arange(n) % p]  # (n, N)
        return np.where(z[:, :N] == 1, (base + z[:, N:]) % V, base)

    params = {"n_prototypes": p, "per_prototype": per, "N": N, "p_change": q, "vocab_size": V}
    params.update(n_test=n_test, seed=seed)
    return from_arrays("prototypes", examples(TRAIN, p * per), examples(TEST, n_test), V, params)


def prototype_centres(patterns: PatternSet) -> Tensor:
    """The prototypes behind a :func:`prototype_patterns` set, ``long (n_prototypes, N)``."""
    if not isinstance(patterns, PatternSet) or patterns.name != "prototypes":
        raise TypeError(f"patterns must be a PatternSet made by prototype_patterns, got {patterns!r}")
    p = patterns.params
    return torch.from_numpy(_prototypes(p["n_prototypes"], p["N"], p["vocab_size"], p["seed"]))

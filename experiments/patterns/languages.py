"""Synthetic languages with a rule to learn: the "divide by 4" language and sparse Markov chains.

I.i.d. random patterns have no rule, so a diffusion model trained on them can only
memorise; these languages give the memorisation -> generalisation transition something
to generalise to (docs/theory.md §6.3 and §7.1).  Each generator comes with a
validity checker and a per-adjacent-pair rule fraction, used to score generations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.patterns.pattern_set import AUX, TEST, TRAIN, PatternSet, check_int, draw_rows

__all__ = [
    "div4_language",
    "div4_valid",
    "div4_rule_fraction",
    "markov_language",
    "markov_valid",
    "markov_rule_fraction",
]


def _check_seqs(seqs: Any, name: str = "seqs", min_length: int = 2) -> Tensor:
    if not isinstance(seqs, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of dtype torch.long, got {type(seqs).__name__}")
    if seqs.dtype != torch.long:
        raise TypeError(f"{name} must have dtype torch.long (token ids), got {seqs.dtype}")
    if seqs.dim() != 2 or seqs.shape[1] < min_length:
        raise ValueError(f"{name} must be 2-D (B, L) with L >= {min_length}, got shape {tuple(seqs.shape)}")
    return seqs


# ----------------------------------------------------------------------------------
# The "divide by 4" language (DUO's synthetic data with V and L as parameters).
# ----------------------------------------------------------------------------------


def div4_language(
    K: int, L: int = 32, vocab_size: int = 32, n_test: int = 128, seed: int = 42, test_seed: int = 41
) -> PatternSet:
    """Sequences of the synthetic "divide by 4" language (docs/theory.md §6.3).

    Position 0 is BOS ``= V - 2`` and position ``L - 1`` is EOS ``= V - 1``.  The
    interior is filled right to left: start from a uniform ``r`` in ``[0, V - 3]``,
    write ``r, r // 4, r // 16, ...`` down to 0, and after writing a 0 draw a fresh
    value.  Equivalently, for neighbours ``(left, right)`` inside the sequence:
    ``left = right // 4`` unless ``right = 0``.

    Parameters
    ----------
    K : int
        Number of training sequences: the first ``K`` of the pool drawn from ``seed``
        (pools are nested, so smaller ``K`` gives a prefix).
    L : int
        Sequence length including BOS and EOS, ``L >= 3``.
    vocab_size : int
        ``V >= 3``: values ``0..V-3`` plus BOS and EOS.  The paper uses 256; the CPU
        recipe recommends 32.
    n_test : int
        Number of held-out sequences, drawn the same way from ``test_seed``.
    seed, test_seed : int
        Seeds of the train and test pools (42 and 41 as in the paper).  The test pool
        of ``test_seed=s`` equals the train pool of ``seed=s``.

    Returns
    -------
    PatternSet
        ``train`` long ``(K, L)``, ``test`` long ``(n_test, L)``, ``name="div4"``.
    """
    K = check_int("K", K, minimum=1)
    L = check_int("L", L, minimum=3)
    V = check_int("vocab_size", vocab_size, minimum=3)
    n_test = check_int("n_test", n_test, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    test_seed = check_int("test_seed", test_seed, minimum=0)

    def draw(rng: np.random.Generator, m: int) -> np.ndarray:
        seq = np.empty((m, L), dtype=np.int64)
        seq[:, 0], seq[:, -1] = V - 2, V - 1
        cur = rng.integers(0, V - 2, size=m)
        # One position at a time for the whole chunk; a fresh value is drawn for every
        # row at every step (and used only after a 0) so that the stream stays in step.
        for pos in range(L - 2, 0, -1):
            seq[:, pos] = cur
            fresh = rng.integers(0, V - 2, size=m)
            cur = np.where(cur == 0, fresh, cur // 4)
        return seq

    params = {"K": K, "L": L, "vocab_size": V, "n_test": n_test, "seed": seed, "test_seed": test_seed}
    params.update(bos=V - 2, eos=V - 1)
    return PatternSet(
        train=torch.from_numpy(draw_rows(seed, TRAIN, K, draw)),
        test=torch.from_numpy(draw_rows(test_seed, TRAIN, n_test, draw)),
        vocab_size=V,
        name="div4",
        params=params,
    )


def _div4_pairs(seqs: Tensor, vocab_size: int) -> Tensor:
    """``bool (B, L-1)``: whether each adjacent pair obeys the div4 rule (BOS/EOS pairs included)."""
    V = vocab_size
    inner = seqs[:, 1:-1]  # (B, L-2)
    ok = (inner >= 0) & (inner <= V - 3)  # interior values are never BOS/EOS
    first = (seqs[:, :1] == V - 2) & ok[:, :1]  # (BOS, x_1)
    last = ok[:, -1:] & (seqs[:, -1:] == V - 1)  # (x_{L-2}, EOS)
    left, right = inner[:, :-1], inner[:, 1:]  # (B, L-3) each
    middle = ok[:, :-1] & ok[:, 1:] & ((right == 0) | (left == torch.div(right, 4, rounding_mode="floor")))
    return torch.cat([first, middle, last], dim=1)


def div4_valid(seqs: Tensor, vocab_size: int) -> Tensor:
    """Whether each sequence belongs to the div4 language of :func:`div4_language`.

    Parameters
    ----------
    seqs : Tensor
        ``long (B, L)``, ``L >= 3``.
    vocab_size : int
        ``V`` of the language.

    Returns
    -------
    Tensor
        ``bool (B,)``; true exactly when :func:`div4_rule_fraction` is 1.
    """
    _check_seqs(seqs, min_length=3)
    V = check_int("vocab_size", vocab_size, minimum=3)
    return _div4_pairs(seqs, V).all(dim=1)


def div4_rule_fraction(seqs: Tensor, vocab_size: int) -> Tensor:
    """Fraction of the ``L - 1`` adjacent pairs that obey the div4 rule.

    A pair ``(left, right)`` obeys it when both are interior values and
    ``right == 0 or left == right // 4``; the first pair must be (BOS, interior value)
    and the last (interior value, EOS).  The score of generalisation quality for
    generated sequences (docs/theory.md §7.1).

    Returns
    -------
    Tensor
        ``float64 (B,)`` in ``[0, 1]``.
    """
    _check_seqs(seqs, min_length=3)
    V = check_int("vocab_size", vocab_size, minimum=3)
    return _div4_pairs(seqs, V).to(torch.float64).mean(dim=1)


# ----------------------------------------------------------------------------------
# Sparse random Markov chain language.
# ----------------------------------------------------------------------------------


def markov_language(
    K: int, L: int, vocab_size: int, n_successors: int = 2, n_test: int = 128, seed: int = 0
) -> PatternSet:
    """Sequences of a sparse random Markov chain.

    A random transition table gives each token ``n_successors`` distinct allowed
    successors; a sequence starts from a uniform token and moves to a uniform allowed
    successor at each step.  The table is drawn from ``seed`` and stored in
    ``params["successors"]`` (a ``V x n_successors`` list) for :func:`markov_valid`.

    Parameters
    ----------
    K : int
        Number of training sequences (nested in ``K``).
    L : int
        Sequence length, ``L >= 2``.
    vocab_size : int
        ``V >= 2``.
    n_successors : int
        Allowed successors per token, ``1 <= n_successors <= V``; ``V`` gives i.i.d. tokens.
    n_test : int
        Held-out sequences from the same chain (another random stream of ``seed``).
    seed : int
        Seed of the table, the train and the test streams.

    Returns
    -------
    PatternSet
        ``name="markov"``.
    """
    K = check_int("K", K, minimum=1)
    L = check_int("L", L, minimum=2)
    V = check_int("vocab_size", vocab_size, minimum=2)
    n_s = check_int("n_successors", n_successors, minimum=1)
    if n_s > V:
        raise ValueError(f"n_successors must be at most vocab_size={V}, got {n_s}")
    n_test = check_int("n_test", n_test, minimum=0)
    seed = check_int("seed", seed, minimum=0)

    def draw_table(rng: np.random.Generator, m: int) -> np.ndarray:
        rows = [np.sort(rng.choice(V, size=n_s, replace=False)) for _ in range(m)]
        return np.stack(rows) if rows else np.empty((0, n_s), dtype=np.int64)

    table = draw_rows(seed, AUX, V, draw_table, chunk=max(V, 1))  # (V, n_s): one stream, table independent of K

    def draw(rng: np.random.Generator, m: int) -> np.ndarray:
        seq = np.empty((m, L), dtype=np.int64)
        seq[:, 0] = rng.integers(0, V, size=m)
        for pos in range(1, L):
            seq[:, pos] = table[seq[:, pos - 1], rng.integers(0, n_s, size=m)]
        return seq

    params = {"K": K, "L": L, "vocab_size": V, "n_successors": n_s, "n_test": n_test, "seed": seed}
    params["successors"] = table.tolist()
    return PatternSet(
        train=torch.from_numpy(draw_rows(seed, TRAIN, K, draw)),
        test=torch.from_numpy(draw_rows(seed, TEST, n_test, draw)),
        vocab_size=V,
        name="markov",
        params=params,
    )


def _markov_pairs(seqs: Tensor, successors: Any) -> Tensor:
    """``bool (B, L-1)``: whether each transition is allowed by the table."""
    table = torch.as_tensor(np.asarray(successors), dtype=torch.long)
    if table.dim() != 2 or table.shape[0] < 2 or table.shape[1] < 1:
        raise ValueError(f"successors must be a (V, n_successors) table with V >= 2, got shape {tuple(table.shape)}")
    V = table.shape[0]
    if int(table.min()) < 0 or int(table.max()) >= V:
        raise ValueError(f"successors must hold tokens in [0, {V - 1}], got [{int(table.min())}, {int(table.max())}]")
    allowed = torch.zeros(V, V, dtype=torch.bool)
    allowed[torch.arange(V).unsqueeze(1), table] = True  # (V, V): allowed[a, b] iff a -> b
    seqs = seqs.cpu()
    in_range = (seqs >= 0) & (seqs < V)
    s = seqs.clamp(0, V - 1)  # out-of-range tokens are made invalid by in_range below
    return allowed[s[:, :-1], s[:, 1:]] & in_range[:, :-1] & in_range[:, 1:]


def markov_valid(seqs: Tensor, successors: Any) -> Tensor:
    """Whether every transition of each sequence is allowed.

    Parameters
    ----------
    seqs : Tensor
        ``long (B, L)``, ``L >= 2``.
    successors : array-like
        ``(V, n_successors)`` table, e.g. ``pattern_set.params["successors"]``.

    Returns
    -------
    Tensor
        ``bool (B,)`` (on the CPU).
    """
    _check_seqs(seqs)
    return _markov_pairs(seqs, successors).all(dim=1)


def markov_rule_fraction(seqs: Tensor, successors: Any) -> Tensor:
    """Fraction of the ``L - 1`` transitions of each sequence that the table allows; ``float64 (B,)``."""
    _check_seqs(seqs)
    return _markov_pairs(seqs, successors).to(torch.float64).mean(dim=1)

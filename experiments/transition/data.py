"""The transition's data: which pattern pool a cell trains on, and how rule-abiding a sequence is.

A :class:`DataSpec` names a pool (``K`` aside); :func:`make_patterns` cuts its first ``K``
training sequences and its fixed held-out test set.  :func:`rule_scores` scores generated
sequences against the rule of their language (div4, Markov) or, for English text, against
the words of the corpus.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from experiments.patterns import (
    PatternSet,
    decode_text,
    div4_language,
    div4_rule_fraction,
    load_sentences,
    markov_language,
    markov_rule_fraction,
    text_patterns,
)

__all__ = ["DATASETS", "DataSpec", "make_patterns", "rule_scores"]

DATASETS = ("div4", "markov", "text")


@dataclass(frozen=True)
class DataSpec:
    """Which pattern pool (``K`` aside): name and generator parameters (``N`` tokens of ``V`` symbols)."""

    name: str
    V: int
    N: int
    seed: int
    test_seed: int
    n_test: int
    source: str = "auto"
    n_successors: int = 2


def make_patterns(data: DataSpec, K: int) -> PatternSet:
    """The first ``K`` training sequences of the pool and the fixed test set."""
    if data.name == "div4":
        return div4_language(K, data.N, data.V, data.n_test, seed=data.seed, test_seed=data.test_seed)
    if data.name == "markov":
        return markov_language(K, data.N, data.V, data.n_successors, data.n_test, seed=data.seed)
    if data.name == "text":
        return text_patterns(K, data.N, source=data.source, n_test=data.n_test, seed=data.seed)
    raise ValueError(f"unknown dataset {data.name!r}; choose from {list(DATASETS)}")


@functools.lru_cache(maxsize=4)
def _corpus_words(source: str) -> frozenset[str]:
    return frozenset(w for s in load_sentences(source) for w in _WORD.findall(s.lower()))


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _word_scores(seqs: torch.Tensor, ps: PatternSet) -> tuple[np.ndarray, np.ndarray]:
    """Text "rule": share of complete words found in the corpus, and whether all are.

    A word is complete when a character follows it inside the sequence (the last word
    may have been cut at ``L``).  Rows without a complete word score NaN / False.
    """
    words = _corpus_words(ps.params["source"])
    fractions, valid = [], []
    for text in decode_text(seqs.cpu(), ps.params, strip=False):
        found = [m.group() in words for m in _WORD.finditer(text) if m.end() < len(text)]
        fractions.append(float(np.mean(found)) if found else math.nan)
        valid.append(bool(found) and all(found))
    return np.asarray(fractions), np.asarray(valid)


def rule_scores(seqs: torch.Tensor, ps: PatternSet) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: fraction of rule-abiding adjacent pairs (or words) and full validity.

    div4 and Markov: :func:`~experiments.patterns.languages.div4_rule_fraction` /
    :func:`~experiments.patterns.languages.markov_rule_fraction`; a sequence is valid when every
    pair is.  Text: see :func:`_word_scores`.

    Returns
    -------
    (ndarray, ndarray)
        ``float64 (B,)`` fractions and ``bool (B,)`` validity.
    """
    if ps.name == "div4":
        frac = div4_rule_fraction(seqs.cpu(), ps.vocab_size).numpy()
    elif ps.name == "markov":
        frac = markov_rule_fraction(seqs.cpu(), ps.params["successors"]).numpy()
    elif ps.name == "text":
        return _word_scores(seqs, ps)
    else:
        nan = np.full(seqs.shape[0], math.nan)
        return nan, np.zeros(seqs.shape[0], dtype=bool)
    return frac, frac >= 1.0 - 1e-12

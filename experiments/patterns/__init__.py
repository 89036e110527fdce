"""Pattern sets: what every memory of a comparison stores, and where they come from.

:class:`PatternSet` (``pattern_set.py``) is the container every study hands to every
model: stored patterns ``train (K, N)``, a held-out ``test`` set drawn the same way, the
alphabet size ``V`` and a content hash that every results row carries.  Its sources, one
file each:

synthetic.py
    random, biased, prototypes: binary / token patterns for capacity, basins and
    spurious states.
images.py
    digits (scikit-learn's 8x8) and letters (A-Z rendered with Pillow's default font).
languages.py
    synthetic languages with a rule: "divide by 4" and sparse Markov chains.
text.py
    character-level English sentences.
binary.py
    :func:`binary_set`: ``K`` stored and ``K`` held-out binary patterns of a named
    dataset (random, prototypes, digits) at a given load.

``GENERATORS`` maps names to generators and ``make_patterns(name, **kwargs)`` calls one.
Every generator is deterministic from its seed and *nested*: the first ``k`` training
rows do not depend on how many were asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experiments.patterns.binary import BINARY_DATASETS, binary_set
from experiments.patterns.images import digit_patterns, letter_patterns
from experiments.patterns.languages import (
    div4_language,
    div4_rule_fraction,
    div4_valid,
    markov_language,
    markov_rule_fraction,
    markov_valid,
)
from experiments.patterns.pattern_set import PatternSet
from experiments.patterns.synthetic import biased_patterns, prototype_centres, prototype_patterns, random_patterns
from experiments.patterns.text import TEXT_VOCAB, decode_text, load_sentences, text_patterns

__all__ = [
    "PatternSet",
    "GENERATORS",
    "make_patterns",
    "random_patterns",
    "biased_patterns",
    "prototype_patterns",
    "prototype_centres",
    "digit_patterns",
    "letter_patterns",
    "div4_language",
    "div4_valid",
    "div4_rule_fraction",
    "markov_language",
    "markov_valid",
    "markov_rule_fraction",
    "text_patterns",
    "decode_text",
    "load_sentences",
    "TEXT_VOCAB",
    "BINARY_DATASETS",
    "binary_set",
]

GENERATORS: dict[str, Callable[..., PatternSet]] = {
    "random": random_patterns,
    "biased": biased_patterns,
    "prototypes": prototype_patterns,
    "digits": digit_patterns,
    "letters": letter_patterns,
    "div4": div4_language,
    "markov": markov_language,
    "text": text_patterns,
}


def make_patterns(name: str, **kwargs: Any) -> PatternSet:
    """Call the generator registered as ``name`` with ``kwargs``.

    Examples
    --------
    >>> make_patterns("random", K=10, L=100, seed=1).train.shape
    torch.Size([10, 100])
    """
    if name not in GENERATORS:
        raise ValueError(f"name must be one of {tuple(GENERATORS)}, got {name!r}")
    return GENERATORS[name](**kwargs)

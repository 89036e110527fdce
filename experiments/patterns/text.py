"""Real English text as character-level token sequences.

Two offline sources (docs/theory.md §7.1):

* ``"lee"``: the Lee news corpus that ships inside the gensim wheel.  Only its data file
  is read; gensim itself is never imported (its dependencies need not work).
* ``"pydoc"``: the prose of Python's own ``pydoc_data.topics``, present on every machine
  (the test fallback; a technical register, and it changes with the Python version).

Sentences are mapped to a small character vocabulary, cut or padded to ``L``,
de-duplicated, shuffled once with the seed and split into a fixed test set and a train
pool whose prefixes are the nested training subsets.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import string
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.patterns.pattern_set import PatternSet, check_int

__all__ = ["TEXT_VOCAB", "load_sentences", "encode_text", "decode_text", "text_patterns"]

#: Display character of each token: pad, space, a-z, a few punctuation marks, "other".
_PUNCTUATION = (".", ",", "'", '"', "-", "?", "!", ":", ";", "(", ")")
TEXT_VOCAB: tuple[str, ...] = ("_", " ", *string.ascii_lowercase, *_PUNCTUATION, "#")
PAD, OTHER = 0, len(TEXT_VOCAB) - 1
_CODE = {c: i for i, c in enumerate(TEXT_VOCAB) if i not in (PAD, OTHER)}

#: Sentences shorter than this are dropped (headings, fragments).
MIN_CHARS = 12
#: Sentences with more than this fraction of "other" characters are dropped (code, numbers).
MAX_OTHER = 0.05
SOURCES = ("auto", "lee", "pydoc")
_LEE_FILE = ("test", "test_data", "lee_background.cor")


# ----------------------------------------------------------------------------------
# Sentences from the two sources.
# ----------------------------------------------------------------------------------


def _split_sentences(text: str) -> list[str]:
    text = " ".join(text.split())  # collapse line breaks and runs of spaces
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _lee_path() -> Path | None:
    spec = importlib.util.find_spec("gensim")  # finds the folder without importing gensim
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]).joinpath(*_LEE_FILE)
    return path if path.is_file() else None


def _lee_sentences(path: Path) -> list[str]:
    # One document per line; the file is declared Latin-1 in the ecosystem notes.
    lines = path.read_text(encoding="latin-1").splitlines()
    return [s for line in lines for s in _split_sentences(line)]


def _pydoc_sentences() -> list[str]:
    from pydoc_data.topics import topics  # 0.5 MB of text, read only when this source is used

    sentences = []
    for key in sorted(topics):
        for para in re.split(r"\n\s*\n", topics[key]):
            lines = para.split("\n")
            # Prose paragraphs start at column 0; indented ones are code, grammar or
            # definition lists, and a line of *** / === / --- marks a heading.
            if not lines[0] or lines[0][0].isspace() or any(re.fullmatch(r"[*=\-~^]{3,}", x) for x in lines):
                continue
            sentences.extend(_split_sentences(para))
    return sentences


def _resolve_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "pydoc":
        return source
    if _lee_path() is not None:
        return "lee"
    if source == "lee":
        raise ImportError(
            "source='lee' reads the Lee corpus bundled with gensim, which is not installed: install the "
            "'text' extra (pip install 'hopfield-testbed[text]') or pass source='pydoc'"
        )
    return "pydoc"


@functools.lru_cache(maxsize=4)
def _clean_sentences(source: str) -> tuple[str, ...]:
    raw = _lee_sentences(_lee_path()) if source == "lee" else _pydoc_sentences()
    keep = []
    for s in raw:
        low = s.lower()
        n_other = sum(c not in _CODE for c in low)
        if len(s) >= MIN_CHARS and n_other <= MAX_OTHER * len(s):
            keep.append(s)
    return tuple(keep)


def load_sentences(source: str = "auto") -> tuple[str, ...]:
    """Cleaned sentences of a text source, in corpus order.

    Parameters
    ----------
    source : {"auto", "lee", "pydoc"}
        ``"auto"`` uses the Lee corpus when gensim is installed, else ``pydoc_data``.

    Returns
    -------
    tuple of str
        Sentences of at least ``MIN_CHARS`` characters with at most ``MAX_OTHER`` of
        them outside the vocabulary.
    """
    return _clean_sentences(_resolve_source(source))


# ----------------------------------------------------------------------------------
# Encoding and decoding.
# ----------------------------------------------------------------------------------


def encode_text(sentences: list[str] | tuple[str, ...], L: int) -> Tensor:
    """Map sentences to ``long (n, L)`` tokens: lower-cased, cut to ``L``, padded with the pad token."""
    L = check_int("L", L, minimum=1)
    out = np.full((len(sentences), L), PAD, dtype=np.int64)
    for i, s in enumerate(sentences):
        codes = [_CODE.get(c, OTHER) for c in s.lower()[:L]]
        out[i, : len(codes)] = codes
    return torch.from_numpy(out)


def decode_text(tokens: Tensor, params: dict[str, Any] | None = None, *, strip: bool = True) -> str | list[str]:
    """Turn tokens back into text.

    Parameters
    ----------
    tokens : Tensor
        ``long (L,)`` or ``long (B, L)``.
    params : dict, optional
        ``PatternSet.params`` of a text pattern set (its ``"vocab"``); defaults to
        :data:`TEXT_VOCAB`.
    strip : bool
        Drop trailing pad tokens.

    Returns
    -------
    str or list of str
        One string per sequence; pad shows as ``_`` and "other" as ``#``.
    """
    vocab = list((params or {}).get("vocab", TEXT_VOCAB))
    if not isinstance(tokens, Tensor) or tokens.dtype != torch.long:
        raise TypeError(f"tokens must be a torch.long tensor, got {getattr(tokens, 'dtype', type(tokens).__name__)}")
    if tokens.dim() not in (1, 2):
        raise ValueError(f"tokens must have shape (L,) or (B, L), got shape {tuple(tokens.shape)}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= len(vocab)):
        raise ValueError(f"tokens must lie in [0, {len(vocab) - 1}] for this vocabulary")
    rows = [tokens.tolist()] if tokens.dim() == 1 else tokens.tolist()
    pad = (params or {}).get("pad_token", PAD)
    texts = []
    for row in rows:
        if strip:
            while row and row[-1] == pad:
                row = row[:-1]
        texts.append("".join(vocab[t] for t in row))
    return texts[0] if tokens.dim() == 1 else texts


# ----------------------------------------------------------------------------------
# The generator.
# ----------------------------------------------------------------------------------


def text_patterns(K: int, L: int = 32, source: str = "auto", n_test: int = 128, seed: int = 0) -> PatternSet:
    """Character-level English sentences as a pattern set.

    Each sentence is lower-cased, mapped to :data:`TEXT_VOCAB` (``V = 40``), cut or
    padded to ``L``; identical sequences are kept once.  The pool is shuffled once with
    ``seed``; its last ``n_test`` rows are the test set and its first ``K`` rows the
    training set, so training sets are nested in ``K`` and never share a sequence with
    the test set.

    Parameters
    ----------
    K : int
        Number of training sequences.
    L : int
        Characters per sequence.
    source : {"auto", "lee", "pydoc"}
        Text source; ``"auto"`` prefers the Lee corpus (gensim) and falls back to
        ``pydoc_data``.  The resolved source is recorded in ``params["source"]``.
    n_test : int
        Held-out sequences.
    seed : int
        Shuffle seed.

    Returns
    -------
    PatternSet
        ``name="text"``; ``params["vocab"]`` decodes the tokens (see :func:`decode_text`).

    Raises
    ------
    ImportError
        If ``source="lee"`` is asked for and gensim is not installed.
    """
    K = check_int("K", K, minimum=1)
    L = check_int("L", L, minimum=1)
    n_test = check_int("n_test", n_test, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    resolved = _resolve_source(source)
    tokens = encode_text(load_sentences(resolved), L).numpy()
    # Keep the first occurrence of each distinct sequence, in corpus order, so that no
    # test sequence is also a training sequence after cutting to L.
    _, first = np.unique(tokens, axis=0, return_index=True)
    pool = tokens[np.sort(first)]
    pool = pool[np.random.default_rng(np.random.SeedSequence(seed)).permutation(len(pool))]
    if K + n_test > len(pool):
        hint = " (the Lee corpus is larger: pip install 'hopfield-testbed[text]')" if resolved == "pydoc" else ""
        raise ValueError(
            f"K + n_test must be at most the {len(pool)} distinct sentences of source {resolved!r} at L={L}, "
            f"got K={K}, n_test={n_test}{hint}"
        )
    params = {"K": K, "L": L, "source": resolved, "n_test": n_test, "seed": seed, "pool_size": len(pool)}
    params.update(vocab=list(TEXT_VOCAB), pad_token=PAD, other_token=OTHER)
    return PatternSet(
        train=torch.from_numpy(pool[:K].copy()),
        test=torch.from_numpy(pool[len(pool) - n_test :].copy()),
        vocab_size=len(TEXT_VOCAB),
        name="text",
        params=params,
    )

"""Pattern sets and their generators.

Every generator is deterministic from its ``seed`` (NumPy ``Generator`` streams, never
the global RNG), returns a :class:`~experiments.pattern_set.PatternSet` with a held-out
test set drawn the same way, and is *nested*: the first ``k`` training rows do not
depend on how many were asked for.  Binary sets use ``V = 2`` (token 1 is spin +1).

Families
--------
random, biased, prototypes
    Synthetic binary / token patterns for capacity, basins and prototype extraction.
digits, letters
    Small real images (scikit-learn's 8x8 digits; A-Z rendered with Pillow's default
    font); ``params["shape"]`` gives the grid so demos can draw them.
div4, markov
    Synthetic languages with a rule (:mod:`experiments.languages`).
text
    Character-level English sentences (:mod:`experiments.text`).

``GENERATORS`` maps names to generators and ``make_patterns(name, **kwargs)`` calls one.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.languages import (
    div4_language,
    div4_rule_fraction,
    div4_valid,
    markov_language,
    markov_rule_fraction,
    markov_valid,
)
from experiments.pattern_set import PatternSet, check_fraction, check_int, draw_rows
from experiments.text import TEXT_VOCAB, decode_text, load_sentences, text_patterns

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
]

# Streams of one seed (see draw_rows): train rows, test rows, auxiliary draws.
_TRAIN, _TEST, _AUX = 0, 1, 2


def _finish(name: str, train: np.ndarray, test: np.ndarray, vocab_size: int, params: dict) -> PatternSet:
    return PatternSet(
        train=torch.from_numpy(train), test=torch.from_numpy(test), vocab_size=vocab_size, name=name, params=params
    )


# ----------------------------------------------------------------------------------
# Synthetic patterns.
# ----------------------------------------------------------------------------------


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
    return _finish("random", draw_rows(seed, _TRAIN, K, draw), draw_rows(seed, _TEST, n_test, draw), V, params)


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
    return _finish("biased", draw_rows(seed, _TRAIN, K, draw), draw_rows(seed, _TEST, n_test, draw), 2, params)


def _prototypes(n_prototypes: int, N: int, vocab_size: int, seed: int) -> np.ndarray:
    return draw_rows(seed, _AUX, n_prototypes, lambda rng, m: rng.integers(0, vocab_size, size=(m, N)))


def prototype_patterns(
    n_prototypes: int,
    per_prototype: int,
    N: int,
    flip: float = 0.1,
    vocab_size: int = 2,
    n_test: int = 0,
    seed: int = 0,
) -> PatternSet:
    """Correlated patterns: noisy examples of a few random prototypes.

    Each example copies its prototype and changes every position independently with
    probability ``flip`` to a uniformly chosen *different* token.  Rows are interleaved
    by prototype: row ``i`` (train or test) is an example of prototype
    ``i % n_prototypes``, so every prefix covers the prototypes evenly.  The prototypes
    themselves are not stored; :func:`prototype_centres` regenerates them.

    Parameters
    ----------
    n_prototypes, per_prototype : int
        ``K = n_prototypes * per_prototype`` training examples.
    N : int
        Pattern length.
    flip : float
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
    q = check_fraction("flip", flip)
    n_test, seed = check_int("n_test", n_test, 0), check_int("seed", seed, 0)
    centres = _prototypes(p, N, V, seed)  # (p, N)

    def noise(rng: np.random.Generator, m: int) -> np.ndarray:
        # Change mask and offset in 1..V-1 side by side, (m, 2N); the offset never maps a token to itself.
        return np.concatenate([rng.random((m, N)) < q, rng.integers(1, V, size=(m, N))], axis=1)

    def examples(stream: int, n: int) -> np.ndarray:
        z = draw_rows(seed, stream, n, noise)
        base = centres[np.arange(n) % p]  # (n, N)
        return np.where(z[:, :N] == 1, (base + z[:, N:]) % V, base)

    params = {"n_prototypes": p, "per_prototype": per, "N": N, "flip": q, "vocab_size": V}
    params.update(n_test=n_test, seed=seed)
    return _finish("prototypes", examples(_TRAIN, p * per), examples(_TEST, n_test), V, params)


def prototype_centres(patterns: PatternSet) -> Tensor:
    """The prototypes behind a :func:`prototype_patterns` set, ``long (n_prototypes, N)``."""
    if not isinstance(patterns, PatternSet) or patterns.name != "prototypes":
        raise TypeError(f"patterns must be a PatternSet made by prototype_patterns, got {patterns!r}")
    p = patterns.params
    return torch.from_numpy(_prototypes(p["n_prototypes"], p["N"], p["vocab_size"], p["seed"]))


# ----------------------------------------------------------------------------------
# Small images.
# ----------------------------------------------------------------------------------


def digit_patterns(
    per_class: int = 10,
    classes: Sequence[int] = tuple(range(10)),
    threshold: float = 7.0,
    n_test_per_class: int = 10,
    seed: int = 0,
) -> PatternSet:
    """Binarised 8x8 handwritten digits bundled with scikit-learn (``load_digits``).

    A pixel (grey level 0..16) is token 1 (ink, spin +1) when it is ``> threshold``.
    For each class the samples are shuffled with ``seed``; the first ``per_class`` are
    training patterns and the next ``n_test_per_class`` test patterns (other samples
    of the same classes).  Rows are interleaved by class: row ``i`` is a
    ``classes[i % len(classes)]``.

    Parameters
    ----------
    per_class : int
        Training samples per class, ``K = per_class * len(classes)``.
    classes : sequence of int
        Digits to use, distinct values in ``0..9``.
    threshold : float
        Binarisation threshold on the 0..16 grey levels.
    n_test_per_class : int
        Held-out samples per class.
    seed : int
        Seed of the per-class shuffles.

    Returns
    -------
    PatternSet
        ``V = 2``, ``L = 64``, ``params["shape"] = [8, 8]``, ``name="digits"``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("digit_patterns needs scikit-learn: install the 'data' extra") from err
    per = check_int("per_class", per_class, 1)
    n_te = check_int("n_test_per_class", n_test_per_class, 0)
    seed = check_int("seed", seed, 0)
    cls = [check_int("classes[i]", c, 0) for c in classes]
    if not cls or len(set(cls)) != len(cls) or max(cls) > 9:
        raise ValueError(f"classes must be distinct digits in 0..9, got {list(classes)!r}")
    thr = check_fraction("threshold", threshold, low=0.0, high=16.0)

    data = load_digits()
    images = (data.images.reshape(len(data.images), 64) > thr).astype(np.int64)  # (1797, 64)
    train, test = [], []
    for c in cls:
        idx = np.flatnonzero(data.target == c)
        if per + n_te > len(idx):
            raise ValueError(f"per_class + n_test_per_class must be at most {len(idx)} for digit {c}, got {per + n_te}")
        idx = idx[np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_AUX, c))).permutation(len(idx))]
        train.append(images[idx[:per]])
        test.append(images[idx[per : per + n_te]])
    # Stack as (per, classes, 64) before flattening to interleave the classes row by row.
    train_arr = np.stack(train, axis=1).reshape(-1, 64)
    test_arr = np.stack(test, axis=1).reshape(-1, 64)
    params = {"per_class": per, "classes": cls, "threshold": thr, "n_test_per_class": n_te, "seed": seed}
    params["shape"] = [8, 8]
    return _finish("digits", train_arr, test_arr, 2, params)


def _render_letter(ch: str, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    # Render large, crop to the glyph, centre it in a square and average down to the
    # grid: thin strokes survive better than rendering directly at grid size.  The
    # stroke widening keeps the strokes about one grid cell thick.
    scale = 6 * size
    stroke = max(1, size // 6)
    try:
        font = ImageFont.load_default(size=scale)  # scalable built-in font (Pillow >= 10.1 with FreeType)
    except (TypeError, ImportError, OSError):
        font, stroke = ImageFont.load_default(), 0  # old Pillow / no FreeType: the built-in bitmap font
    widen = {"stroke_width": stroke} if stroke else {}
    left, top, right, bottom = font.getbbox(ch, **widen)
    w, h = max(right - left, 1), max(bottom - top, 1)
    glyph = Image.new("L", (w, h), 0)
    ImageDraw.Draw(glyph).text((-left, -top), ch, fill=255, font=font, **widen)
    side = max(w, h)
    square = Image.new("L", (side, side), 0)
    square.paste(glyph, ((side - w) // 2, (side - h) // 2))
    cover = np.asarray(square.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0
    return (cover >= 0.4).astype(np.int64).reshape(-1)


def letter_patterns(letters: str = string.ascii_uppercase, size: int = 12) -> PatternSet:
    """Letters rendered with Pillow's built-in default font and binarised on a ``size x size`` grid.

    No data file is needed.  The bitmaps depend on the Pillow/FreeType build, so the
    hash may differ between machines (it is recorded with every result).  The test set
    is empty: there is one pattern per letter.

    Parameters
    ----------
    letters : str
        Distinct characters, one pattern each (default ``"A".."Z"``).
    size : int
        Grid side, ``>= 5`` (``L = size**2``); 10 to 16 gives readable letters.

    Returns
    -------
    PatternSet
        ``V = 2`` (ink = token 1), ``params["shape"] = [size, size]``, ``name="letters"``.
    """
    try:
        import PIL  # noqa: F401
    except ImportError as err:
        raise ImportError("letter_patterns needs Pillow: install the 'data' extra") from err
    if not isinstance(letters, str) or not letters:
        raise TypeError(f"letters must be a non-empty str, got {letters!r}")
    if len(set(letters)) != len(letters) or any(c.isspace() for c in letters):
        raise ValueError(f"letters must be distinct, non-space characters, got {letters!r}")
    size = check_int("size", size, 5)
    rows = np.stack([_render_letter(c, size) for c in letters])  # (n_letters, size*size)
    empty = [c for c, r in zip(letters, rows, strict=True) if not r.any()]
    if empty:
        raise ValueError(f"letters {empty!r} render as blank images at size={size}")
    params = {"letters": letters, "size": size, "shape": [size, size], "font": "PIL.ImageFont.load_default"}
    return _finish("letters", rows, np.empty((0, size * size), dtype=np.int64), 2, params)


# ----------------------------------------------------------------------------------
# Registry.
# ----------------------------------------------------------------------------------

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

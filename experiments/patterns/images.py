"""Small real images as binary pattern sets: scikit-learn's 8x8 digits and rendered letters.

``params["shape"]`` gives the grid so that demos can draw the patterns.  Neither needs a
download: the digits ship with scikit-learn, the letters are drawn with Pillow's built-in font.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np

from experiments.patterns.pattern_set import AUX, PatternSet, check_fraction, check_int, from_arrays

__all__ = ["digit_patterns", "letter_patterns"]


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
        idx = idx[np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(AUX, c))).permutation(len(idx))]
        train.append(images[idx[:per]])
        test.append(images[idx[per : per + n_te]])
    # Stack as (per, classes, 64) before flattening to interleave the classes row by row.
    train_arr = np.stack(train, axis=1).reshape(-1, 64)
    test_arr = np.stack(test, axis=1).reshape(-1, 64)
    params = {"per_class": per, "classes": cls, "threshold": thr, "n_test_per_class": n_te, "seed": seed}
    params["shape"] = [8, 8]
    return from_arrays("digits", train_arr, test_arr, 2, params)


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
    return from_arrays("letters", rows, np.empty((0, size * size), dtype=np.int64), 2, params)

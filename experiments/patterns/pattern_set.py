"""``PatternSet``: the stored patterns every experiment hands to every model.

A pattern set is a training set ``train`` (the patterns a memory stores), a held-out
``test`` set drawn the same way (possibly empty), the alphabet size ``V``, a name and
the generator parameters.  Its content hash makes "the same patterns" checkable: every
results row carries it.  The generators live beside this file in :mod:`experiments.patterns`;
this file holds the container, its persistence, the chunked draws that make every generator
nested, and the argument checks the generators share.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.checks import check_fraction, check_int, check_tokens  # check_fraction, check_int re-exported

__all__ = ["PatternSet", "from_arrays", "draw_rows", "check_int", "check_fraction", "TRAIN", "TEST", "AUX"]

#: Bumped when the file layout of :meth:`PatternSet.save` changes.
FORMAT_VERSION = 1
#: Length of the hex content hash.
HASH_CHARS = 16


#: Streams of one seed (see :func:`draw_rows`): train rows, test rows, auxiliary draws.
TRAIN, TEST, AUX = 0, 1, 2


def draw_rows(seed: int, stream: int, n: int, draw, chunk: int = 256) -> np.ndarray:
    """Draw ``n`` rows in fixed-size chunks, each chunk from its own seeded stream.

    Chunking makes every generator *nested*: the first ``k`` rows do not depend on
    ``n``, so ``gen(K=8).train`` equals ``gen(K=16).train[:8]`` and training subsets
    are prefixes of one pool (at the cost of drawing up to ``chunk - 1`` unused rows).
    Streams separate train (0), test (1) and auxiliary draws (2, ...) of the same seed,
    so the test set does not move when ``K`` changes.

    Parameters
    ----------
    seed, stream : int
        Seed of the pattern set and index of the stream.
    n : int
        Number of rows.
    draw : callable
        ``draw(rng: numpy.random.Generator, m: int) -> ndarray (m, L)``.
    chunk : int
        Rows per chunk.

    Returns
    -------
    ndarray
        ``int64 (n, L)``.
    """
    parts = []
    for c in range(math.ceil(n / chunk)):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream, c))))
        # Always draw a whole chunk and cut: vectorised draws interleave rows, so a
        # shorter draw would not be a prefix of a longer one.
        parts.append(np.asarray(draw(rng, chunk), dtype=np.int64)[: n - c * chunk])
    if not parts:
        # ``draw`` must still return shape (0, L) so that an empty test set knows its length.
        return np.asarray(draw(np.random.default_rng(0), 0), dtype=np.int64)
    return np.concatenate(parts, axis=0)


def from_arrays(name: str, train: np.ndarray, test: np.ndarray, vocab_size: int, params: dict) -> PatternSet:
    """A :class:`PatternSet` from ``int64`` arrays ``(K, L)`` and ``(K_test, L)`` (the generators' last step)."""
    return PatternSet(
        train=torch.from_numpy(train), test=torch.from_numpy(test), vocab_size=vocab_size, name=name, params=params
    )


def _jsonable(params: Any, name: str = "params") -> dict:
    """Normalise ``params`` to its JSON form (tuples become lists) so that save/load round-trips exactly."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    try:
        return json.loads(json.dumps(params, sort_keys=True))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be JSON-serialisable (numbers, strings, lists, dicts): {err}") from err


def _le_bytes(x: Tensor) -> bytes:
    # Fixed little-endian int64 so that the hash does not depend on the platform's byte order.
    return x.detach().cpu().contiguous().numpy().astype("<i8", copy=False).tobytes()


# ----------------------------------------------------------------------------------
# The container.
# ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PatternSet:
    """Stored patterns plus a held-out test set, with a content hash.

    Attributes
    ----------
    train : Tensor
        ``long (K, L)`` patterns to store, ``K >= 1``, tokens in ``0..V-1``.
    test : Tensor
        ``long (K_test, L)`` held-out patterns drawn the same way; may be ``(0, L)``.
    vocab_size : int
        Alphabet size ``V >= 2`` (``V = 2``: token 0 is spin -1, token 1 is spin +1).
    name : str
        Generator name (a key of ``experiments.patterns.GENERATORS``).
    params : dict
        JSON-serialisable generator parameters, including the seed.  Stored in JSON form
        (tuples become lists) so that :meth:`save` / :meth:`load` round-trip exactly.

    Notes
    -----
    The tensors are not copied; treat them as read-only (the hash is recomputed on
    every access, so it always describes the current content).  Equality compares
    content hash, vocabulary, name and parameters.
    """

    train: Tensor
    test: Tensor
    vocab_size: int
    name: str = "patterns"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocab_size", check_int("vocab_size", self.vocab_size, 2))
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        check_tokens(self.train, "train", vocab_size=self.vocab_size, min_rows=1)
        check_tokens(self.test, "test", vocab_size=self.vocab_size, min_rows=0)
        if self.test.shape[1] != self.train.shape[1]:
            raise ValueError(
                f"test must have the same length L as train ({self.train.shape[1]}), got shape {tuple(self.test.shape)}"
            )
        object.__setattr__(self, "params", _jsonable(self.params))

    # -- shape ---------------------------------------------------------------------

    @property
    def n_train(self) -> int:
        """Number of stored patterns ``K``."""
        return int(self.train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of held-out patterns."""
        return int(self.test.shape[0])

    @property
    def length(self) -> int:
        """Sequence length ``L`` (``N`` for binary patterns)."""
        return int(self.train.shape[1])

    # -- identity ------------------------------------------------------------------

    @property
    def hash(self) -> str:
        """Content hash: sha256 of ``V``, the shapes and the little-endian int64 bytes of train and test.

        Name and parameters are not part of it: two generators that produce the same
        tokens give the same hash.  Stable across processes, platforms and devices.
        """
        h = hashlib.sha256()
        header = {"format": "hopfield-testbed/PatternSet", "vocab_size": self.vocab_size}
        header["train_shape"] = list(self.train.shape)
        header["test_shape"] = list(self.test.shape)
        h.update(json.dumps(header, sort_keys=True).encode())
        h.update(_le_bytes(self.train))
        h.update(_le_bytes(self.test))
        return h.hexdigest()[:HASH_CHARS]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PatternSet):
            return NotImplemented
        return (self.hash, self.vocab_size, self.name, self.params) == (
            other.hash,
            other.vocab_size,
            other.name,
            other.params,
        )

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return (
            f"PatternSet(name={self.name!r}, K={self.n_train}, L={self.length}, V={self.vocab_size}, "
            f"n_test={self.n_test}, hash={self.hash!r})"
        )

    # -- derived sets --------------------------------------------------------------

    def subset(self, k: int) -> PatternSet:
        """The first ``k`` training patterns with the same test set (nested training subsets).

        ``params`` gains ``"subset": k`` so that the parent's parameters are kept; the
        hash changes with the content.
        """
        k = check_int("k", k, minimum=1)
        if k > self.n_train:
            raise ValueError(f"k must be at most the number of training patterns K={self.n_train}, got {k}")
        return PatternSet(
            train=self.train[:k].clone(),
            test=self.test.clone(),
            vocab_size=self.vocab_size,
            name=self.name,
            params={**self.params, "subset": k},
        )

    # -- persistence ---------------------------------------------------------------

    def save(self, path: str | PathLike) -> Path:
        """Write one safetensors file: the two tensors plus JSON metadata (no pickle).

        Returns
        -------
        Path
            The path written.
        """
        from safetensors.torch import save_file

        path = Path(path)
        meta = {
            "format_version": str(FORMAT_VERSION),
            "vocab_size": str(self.vocab_size),
            "name": self.name,
            "params": json.dumps(self.params, sort_keys=True),
            "hash": self.hash,
        }
        tensors = {"train": self.train.detach().cpu().contiguous(), "test": self.test.detach().cpu().contiguous()}
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | PathLike) -> PatternSet:
        """Read a file written by :meth:`save` and check its stored hash."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path {str(path)!r} does not exist")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format_version") != str(FORMAT_VERSION) or not {"train", "test"} <= set(f.keys()):
                raise ValueError(f"path {str(path)!r} is not a PatternSet file (format version {FORMAT_VERSION})")
            train, test = f.get_tensor("train"), f.get_tensor("test")
        ps = cls(
            train=train,
            test=test,
            vocab_size=int(meta["vocab_size"]),
            name=meta["name"],
            params=json.loads(meta["params"]),
        )
        if ps.hash != meta.get("hash"):
            raise ValueError(f"path {str(path)!r}: content hash {ps.hash} does not match the stored {meta.get('hash')}")
        return ps

"""Where the seeds of the experiments' random draws come from.

A row's ``seed`` names a whole replicate: its pattern set (through the generators of
:mod:`experiments.patterns`, which spawn NumPy streams from it), its queries and the
models' random choices.  Queries are drawn from a ``torch.Generator`` seeded with a number
derived from the replicate seed and the condition (load, corruption level, start kind),
never from the model, so that every memory of a comparison gets identical queries.

:func:`derive_seed` is the derivation: NumPy's ``SeedSequence`` hashes any tuple of
non-negative integers into well-mixed, independent seeds; names (``"query"``, a split) and
real numbers (a corruption level ``t``) enter as 64-bit hashes of their text and bits, so a
stream can be named (the transition's ``("query", dataset, split, t, seed)``).  Every study
(capacity, basins, spurious states, scaling, the transition, the teaching demos) uses it,
directly or through :func:`query_generator`; there is no other derivation.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import torch

__all__ = ["derive_seed", "query_generator"]


def _entropy(part: int | float | str) -> int:
    """A non-negative integer for ``SeedSequence``: integers as they are, names and reals hashed."""
    if isinstance(part, str):
        return int.from_bytes(hashlib.blake2b(part.encode(), digest_size=8).digest(), "little")
    if isinstance(part, float):  # its IEEE bits: 0.1 and 0.25 differ, 0.1 always gives the same
        return int.from_bytes(struct.pack("<d", part), "little")
    value = int(part)
    if value < 0 or isinstance(part, bool):
        raise ValueError(f"seed parts must be non-negative integers, names or reals, got {part!r}")
    return value


def derive_seed(*parts: int | float | str) -> int:
    """One deterministic 63-bit seed from the replicate seed and the condition's indices or names.

    Parameters
    ----------
    *parts : int, float or str
        The replicate seed and the condition: non-negative integers (e.g. seed, load,
        repeat), names (a stream, a split) and reals (a corruption level).  Integer parts
        give the same seeds as ``SeedSequence([parts...])``.

    Returns
    -------
    int
        In ``[0, 2**63)``: a valid ``torch.Generator.manual_seed`` argument.
    """
    return int(np.random.SeedSequence([_entropy(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> 1)


def query_generator(*parts: int | float | str) -> torch.Generator:
    """A CPU generator seeded with :func:`derive_seed` of ``parts``."""
    return torch.Generator().manual_seed(derive_seed(*parts))

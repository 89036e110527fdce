"""Where the seeds of the experiments' random draws come from.

A row's ``seed`` names a whole replicate: its pattern set (through the generators of
:mod:`experiments.patterns`, which spawn NumPy streams from it), its queries and the
models' random choices.  Queries are drawn from a ``torch.Generator`` seeded with a number
derived from the replicate seed and the condition (load, corruption level, start kind),
never from the model, so that every memory of a comparison gets identical queries.

:func:`derive_seed` is the derivation: NumPy's ``SeedSequence`` hashes any tuple of small
integers into well-mixed, independent seeds.  New studies use it (with
:func:`query_generator`).

Three older derivations stay frozen, each in the one study that uses it, because the
tables and the numbers quoted in the docs were computed with them; moving a study to
:func:`derive_seed` draws other (statistically equivalent) queries and changes its table:

* :func:`capacity_query_seed`: ``7919 seed + K`` (capacity);
* :func:`named_seed`: CRC-32 of the ``repr`` of names and numbers (transition, whose
  streams are named: ``("query", dataset, split, t, seed)``);
* :func:`demo_seed`: ``1000 seed + stream`` (teaching demos).
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

__all__ = ["derive_seed", "query_generator", "capacity_query_seed", "named_seed", "demo_seed"]


def derive_seed(*parts: int) -> int:
    """One deterministic 63-bit seed from small non-negative integers (e.g. seed, condition, repeat).

    Parameters
    ----------
    *parts : int
        The replicate seed and indices of the condition.

    Returns
    -------
    int
        In ``[0, 2**63)``: a valid ``torch.Generator.manual_seed`` argument.
    """
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> 1)


def query_generator(*parts: int) -> torch.Generator:
    """A CPU generator seeded with :func:`derive_seed` of ``parts``."""
    return torch.Generator().manual_seed(derive_seed(*parts))


def capacity_query_seed(seed: int, K: int) -> int:
    """Seed of the capacity study's queries at ``K`` stored patterns (frozen; see the module docstring)."""
    return seed * 7919 + K


def named_seed(*parts: object) -> int:
    """A deterministic seed from names and numbers, stable across processes (frozen; transition)."""
    return zlib.crc32(repr(parts).encode())


def demo_seed(seed: int, stream: int = 0) -> int:
    """Seed of draw number ``stream`` of a teaching demo (frozen; one generator per use)."""
    return 1000 * seed + stream

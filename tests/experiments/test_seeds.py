"""The one seed derivation of the experiments (``experiments.seeds.derive_seed``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.seeds import derive_seed, query_generator


def test_integer_parts_are_numpy_seed_sequences():
    for parts in [(0,), (3, 17), (1, 2, 3, 4), (2**40, 5)]:
        expected = int(np.random.SeedSequence(list(parts)).generate_state(2, dtype=np.uint64)[0] >> 1)
        assert derive_seed(*parts) == expected
        assert 0 <= expected < 2**63


def test_named_streams_are_stable_and_distinct():
    streams = [
        ("query", "div4", split, t, seed)
        for split in ("train", "test")
        for t in (0.05, 0.1, 0.25, 0.5, 0.9)
        for seed in range(5)
    ]
    seeds = [derive_seed(*s) for s in streams]
    assert seeds == [derive_seed(*s) for s in streams]  # deterministic (no per-process hash salt)
    assert len(set(seeds)) == len(seeds)
    # a numpy float and the Python float of the same value name the same stream
    assert derive_seed("q", np.float64(0.1)) == derive_seed("q", 0.1)
    assert derive_seed("q", 0.1) != derive_seed("q", 0.25)


@pytest.mark.parametrize("bad", [-1, True])
def test_negative_or_boolean_parts_are_refused(bad):
    with pytest.raises(ValueError, match="non-negative"):
        derive_seed(bad)


def test_query_generator_draws_what_its_seed_says():
    a = torch.rand(4, generator=query_generator("sampler", 0.1, 2))
    b = torch.rand(4, generator=torch.Generator().manual_seed(derive_seed("sampler", 0.1, 2)))
    assert torch.equal(a, b)

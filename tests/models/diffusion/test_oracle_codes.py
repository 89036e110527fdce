"""Agreement counts as a one-hot matrix product: the same numbers as the broadcast comparison.

:func:`energy.diffusion.agreements` with ``codes`` (cached by :class:`Oracle` for small
alphabets) must return exactly the counts of the ``(B, K, L)`` comparison, so every oracle
output is bit-for-bit what it was without them.
"""

from __future__ import annotations

import pytest
import torch

from energy.diffusion import agreements, lse_energy, onehot_codes
from models.diffusion.oracle import CODES_MAX_VOCAB, Oracle


def _draw(seed: int, K: int, L: int, V: int, B: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (K, L), generator=g), torch.randint(0, V, (B, L), generator=g)


@pytest.mark.parametrize("K,L,V,B", [(1, 1, 2, 1), (7, 5, 3, 4), (300, 16, 8, 33), (50, 40, 27, 9), (64, 8, 128, 5)])
def test_codes_give_the_broadcast_counts_exactly(K, L, V, B, seed):
    patterns, states = _draw(seed(K + L + V), K, L, V, B)
    states[0] = patterns[0]  # a full match: A = L
    codes = onehot_codes(patterns, V)
    assert codes.shape == (K, L * V) and codes.dtype == torch.float32
    A = agreements(states, patterns, codes)
    assert A.dtype == torch.float64 and torch.equal(A, agreements(states, patterns))
    assert float(A[0, 0]) == L
    beta = torch.rand(B, generator=torch.Generator().manual_seed(seed(B)), dtype=torch.float64) * 5
    assert torch.equal(lse_energy(states, patterns, beta, codes), lse_energy(states, patterns, beta))


def test_codes_of_the_wrong_shape_are_rejected(seed):
    patterns, states = _draw(seed(0), 6, 5, 4, 3)
    with pytest.raises(ValueError, match="codes"):
        agreements(states, patterns, onehot_codes(patterns[:, :4], 4))  # L*V does not match L = 5
    with pytest.raises(ValueError, match="codes"):
        agreements(states, patterns, onehot_codes(patterns[:3], 4))  # K does not match


@pytest.mark.parametrize("t", [1e-3, 0.3, 1.0])
def test_oracle_outputs_are_identical_with_and_without_codes(t, seed):
    patterns, states = _draw(seed(1), 500, 12, 6, 20)
    with_codes = Oracle(patterns, 6)
    without = Oracle(patterns, 6)
    without.codes = None  # the broadcast comparison
    assert with_codes.codes is not None
    ts = torch.full((20,), t)
    for method in ("__call__", "association", "posterior", "loo"):
        for time in (t, ts):
            assert torch.equal(getattr(with_codes, method)(states, time), getattr(without, method)(states, time))


def test_large_alphabets_keep_the_broadcast_comparison(seed):
    patterns, states = _draw(seed(2), 10, 4, CODES_MAX_VOCAB + 1, 3)
    oracle = Oracle(patterns, CODES_MAX_VOCAB + 1)
    assert oracle.codes is None
    assert oracle(states, 0.5).shape == (3, 4, CODES_MAX_VOCAB + 1)

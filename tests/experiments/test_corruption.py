"""Corruption: exact-k flips, diffusion resampling, erasing, random states."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.corruption import erase, flip, flip_fraction, random_states, resample
from experiments.patterns import random_patterns
from models.diffusion.schedule import alpha


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_flip_changes_exactly_k_to_other_tokens(seed):
    x = random_patterns(400, 20, vocab_size=5, seed=seed(0)).train
    before = x.clone()
    y = flip(x, 7, 5, generator=gen(seed(0)))
    assert torch.equal(x, before)  # input untouched
    assert y.dtype == torch.long and y.shape == x.shape and y.min() >= 0 and y.max() <= 4
    # Exactly 7 positions differ in every row: none was "changed" to itself.
    assert ((y != x).sum(dim=1) == 7).all()
    assert torch.equal(flip(x, 7, 5, generator=gen(seed(0))), y)  # same seed, same queries
    assert not torch.equal(flip(x, 7, 5, generator=gen(seed(1))), y)
    assert torch.equal(flip(x, 0, 5, generator=gen(seed(0))), x)
    assert (flip(x, 20, 5, generator=gen(seed(0))) != x).all()


def test_flip_is_uniform_over_positions_and_tokens(seed):
    x = torch.zeros(3000, 10, dtype=torch.long)
    y = flip(x, 3, 4, generator=gen(seed(2)))
    # Each position is chosen with probability 3/10: 3000 rows, sd 0.0084; 0.045 is 5.4 sd (P = 7e-7 for any of 10).
    per_position = (y != 0).double().mean(dim=0)
    assert (per_position - 0.3).abs().max() < 0.045
    # New tokens uniform over {1, 2, 3}: 9000 draws, sd 0.005 per share; 0.025 is 5 sd (P = 2e-6 for any).
    new = y[y != 0]
    shares = torch.bincount(new, minlength=4)[1:].double() / new.numel()
    assert (shares - 1 / 3).abs().max() < 0.025


def test_flip_binary_is_spin_flip_and_per_row_k(seed):
    x = random_patterns(6, 12, seed=seed(1)).train
    k = torch.tensor([0, 1, 2, 3, 12, 5])
    y = flip(x, k, 2, generator=gen(seed(0)))
    assert torch.equal((y != x).sum(dim=1), k)
    assert torch.equal(y[y != x], 1 - x[y != x])
    assert ((flip_fraction(x, 0.25, 2, generator=gen(seed(0))) != x).sum(dim=1) == 3).all()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: flip(x, 13, 2), ValueError, "k must lie in"),
        (lambda x: flip(x, -1, 2), ValueError, "k must lie in"),
        (lambda x: flip(x, 1.5, 2), TypeError, "k must be an int"),
        (lambda x: flip(x, torch.tensor([1, 2]), 2), TypeError, "k must be an int or a long tensor"),
        (lambda x: flip(x.double(), 1, 2), TypeError, "patterns must have dtype"),
        (lambda x: flip(x, 1, 1), ValueError, "vocab_size must"),
        (lambda x: flip(x + 2, 1, 2), ValueError, "patterns has token"),
        (lambda x: flip(x, 1, 2, generator=0), TypeError, "generator must"),
        (lambda x: flip_fraction(x, 1.5, 2), ValueError, "fraction must"),
        (lambda x: resample(x, 1.5, 2), ValueError, "t must lie in"),
        (lambda x: resample(x, -0.1, 2), ValueError, "t must lie in"),
        (lambda x: resample(x, float("nan"), 2), ValueError, "t must lie in"),
        (lambda x: resample(x, "0.5", 2), TypeError, "t must be a real"),
        (lambda x: resample(x, torch.tensor([0.5, 2.0, 0.1]), 2), ValueError, "t must lie in"),
        (lambda x: resample(x, torch.tensor([1, 0, 1]), 2), TypeError, "t must be a float"),
        (lambda x: erase(x, 0.5, -1), ValueError, "fill_token"),
        (lambda x: erase(x, 0.5, 0, where="middle"), ValueError, "where must"),
        (lambda x: random_states(-1, 3, 2), ValueError, "B must"),
        (lambda x: random_states(2, 3, 1), ValueError, "vocab_size must"),
    ],
)
def test_errors_name_the_argument(call, error, match, seed):
    x = random_patterns(3, 12, seed=seed(0)).train
    with pytest.raises(error, match=match):
        call(x)


@pytest.mark.parametrize("t, V", [(0.1, 2), (0.5, 32), (1.0, 5)])
def test_resample_changed_fraction_matches_the_schedule(t, V, seed):
    x = random_patterns(200, 100, vocab_size=V, seed=seed(3)).train
    y = resample(x, t, V, generator=gen(seed(4)))
    n = x.numel()
    p = (1 - alpha(t)) * (1 - 1 / V)  # each position changes independently with probability p
    # Binomial(n, p) count: 5 standard deviations is a false-alarm rate below 1e-6.
    tol = 5 * math.sqrt(p * (1 - p) / n)
    assert abs((y != x).double().mean().item() - p) < tol
    assert torch.equal(resample(x, t, V, generator=gen(seed(4))), y)


def test_resample_edge_cases_and_per_row_times(seed):
    x = random_patterns(50, 40, vocab_size=4, seed=seed(0)).train
    before = x.clone()
    assert torch.equal(resample(x, 0.0, 4, generator=gen(seed(0))), x)  # alpha_0 = 1
    t = torch.cat([torch.zeros(25), torch.ones(25)]).double()
    y = resample(x, t, 4, generator=gen(seed(0)))
    # t = 1 changes a token with probability 3/4: 1000 tokens, sd 0.014, so 0.6 is 11 sd away.
    assert torch.equal(y[:25], x[:25]) and (y[25:] != x[25:]).double().mean() > 0.6
    assert torch.equal(x, before)


def test_erase_bottom_half(seed):
    x = torch.ones(3, 144, dtype=torch.long)
    y = erase(x, 0.5, 0)
    grid = y.reshape(3, 12, 12)
    assert (grid[:, 6:] == 0).all() and (grid[:, :6] == 1).all() and x.eq(1).all()
    assert (erase(x, 0.25, 0, where="start")[:, :36] == 0).all()
    z = erase(x, 0.1, 0, where="random", generator=gen(seed(0)))
    zeros = (z == 0).long()
    assert (zeros.sum(dim=1) == 14).all()
    # One contiguous block: exactly one 1 -> 0 edge per row (or the block starts at 0).
    starts = (zeros[:, 1:] - zeros[:, :-1] == 1).sum(dim=1) + zeros[:, 0]
    assert (starts == 1).all()


def test_random_states(seed):
    s = random_states(7, 9, 3, generator=gen(seed(0)))
    assert s.shape == (7, 9) and s.dtype == torch.long and s.max() <= 2 and s.min() >= 0
    assert torch.equal(s, random_states(7, 9, 3, generator=gen(seed(0))))

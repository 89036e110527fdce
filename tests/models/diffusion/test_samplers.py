"""Samplers over any LOO denoiser: energy descent, cycle detection, ancestral and generation."""

from __future__ import annotations

import pytest
import torch

from energy.diffusion import lse_energy
from models.diffusion import samplers
from models.diffusion.oracle import Oracle
from models.diffusion.process import corrupt
from models.diffusion.schedule import beta


def _oracle(K=20, L=12, V=4, seed=0):
    pats = torch.randint(0, V, (K, L), generator=torch.Generator().manual_seed(seed))
    return pats, Oracle(pats, V), V


class Recording:
    """Wrap a denoiser and keep every state it is called on."""

    def __init__(self, denoiser):
        self.denoiser, self.calls = denoiser, []

    def __call__(self, x, t):
        self.calls.append(x.clone())
        return self.denoiser(x, t)


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_async_loo_coordinate_descent_never_increases_the_oracle_energy(t, seed):
    pats, oracle, V = _oracle(seed=seed(0))
    x = torch.randint(0, V, (32, pats.shape[1]), generator=torch.Generator().manual_seed(seed(1)))
    r = samplers.async_fixed_point(oracle, x, t, generator=torch.Generator().manual_seed(seed(2)), record=True)
    b = beta(t, V)
    T, B, L = r.trajectory.shape
    e = lse_energy(r.trajectory.reshape(T * B, L), pats, b).reshape(T, B)
    assert bool((e[1:] <= e[:-1] + 1e-12).all())
    assert bool(r.converged.all())
    # the result is a fixed point of single-site LOO argmax (ties keep the token)
    log_pi = oracle(r.states, torch.full((B,), t, dtype=torch.float64))
    here = log_pi.gather(-1, r.states[..., None]).squeeze(-1)
    assert bool((here >= log_pi.amax(-1) - 1e-12).all())


def test_async_energy_descends_at_every_single_site_update(seed):
    pats, oracle, V = _oracle(seed=seed(3))
    t = 0.5
    for q in range(4):  # one query at a time so that every call is one row's current state
        x = torch.randint(0, V, (1, pats.shape[1]), generator=torch.Generator().manual_seed(seed(10 + q)))
        rec = Recording(oracle)
        r = samplers.async_fixed_point(rec, x, t, generator=torch.Generator().manual_seed(seed(q)))
        states = torch.cat(rec.calls + [r.states])
        e = lse_energy(states, pats, beta(t, V))
        assert bool((e[1:] <= e[:-1] + 1e-12).all())


def test_async_is_batch_invariant_and_deterministic(seed):
    pats, oracle, V = _oracle(seed=seed(4))
    x = torch.randint(0, V, (6, pats.shape[1]), generator=torch.Generator().manual_seed(seed(5)))
    batch = samplers.async_fixed_point(oracle, x, 0.4, generator=torch.Generator().manual_seed(seed(6)))
    for i in range(6):
        one = samplers.async_fixed_point(oracle, x[i : i + 1], 0.4, generator=torch.Generator().manual_seed(seed(6)))
        assert torch.equal(one.states[0], batch.states[i]) and one.steps[0] == batch.steps[i]


def test_fixed_point_detects_two_cycles(seed):
    """A denoiser that is certain of the *other* binary token flips every state: a 2-cycle."""

    def flipper(x, t):
        other = torch.nn.functional.one_hot(1 - x, 2).double()
        return torch.log(other * (1 - 1e-300) + 1e-300)  # log pi: -690 on the current token

    x = torch.randint(0, 2, (3, 5), generator=torch.Generator().manual_seed(seed(0)))
    r = samplers.fixed_point(flipper, x, 0.5, max_steps=50, record=True)
    assert not bool(r.converged.any())
    assert r.steps.tolist() == [2, 2, 2]  # x -> 1 - x -> x: stopped on returning
    assert torch.equal(r.states, x) and r.trajectory.shape == (3, 3, 5)


def test_fixed_point_converges_on_the_oracle_and_uses_the_full_posterior(seed):
    pats, oracle, V = _oracle(K=8, L=16, V=8, seed=seed(7))
    x_t = corrupt(pats.repeat(4, 1), 0.25, V, generator=torch.Generator().manual_seed(seed(8)))
    r = samplers.fixed_point(oracle, x_t, 0.25, record=True)
    # Random patterns differ in ~14 of 16 sites, a query at t = 0.25 in ~3: every query returns
    # to its own pattern (offsets 0-39: all 32 queries, every offset).
    assert bool(r.converged.all()) and torch.equal(r.states, pats.repeat(4, 1))
    assert torch.equal(r.trajectory[0], x_t) and torch.equal(r.trajectory[-1], r.states)
    # stored patterns are fixed after one confirming evaluation
    s = samplers.fixed_point(oracle, pats, 0.25)
    assert torch.equal(s.states, pats) and s.steps.tolist() == [1] * 8


def test_argmax_reads_out_the_full_posterior_not_the_loo_prediction():
    """Two patterns differing only at position 0: LOO there is 50/50, the observed token decides the MAP."""
    pats = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0]])
    oracle = Oracle(pats, 2)
    q = torch.tensor([[1, 0, 0, 0]])
    loo = oracle(q, torch.tensor([0.5], dtype=torch.float64))
    assert torch.allclose(loo[0, 0].exp(), torch.tensor([0.5, 0.5], dtype=torch.float64))
    r = samplers.argmax(oracle, q, 0.5)
    assert torch.equal(r.states, q) and r.steps.tolist() == [1] and bool(r.converged.all())


def test_ancestral_grid_steps_and_float64(seed):
    grid = samplers.time_grid(0.25)
    assert grid.dtype == torch.float64 and len(grid) == 26 and grid[0] == 0.25 and grid[-1] == samplers.T_END
    assert (grid[:-1] - grid[1:]).max() <= 0.01 + 1e-12
    assert len(samplers.time_grid(1e-3)) == 2 and len(samplers.time_grid(1.0, max_steps=10)) == 11

    seen = []

    def spy(x, t):
        seen.append(t)
        return torch.zeros(*x.shape, 3, dtype=torch.float64) - torch.log(torch.tensor(3.0, dtype=torch.float64))

    x = torch.zeros(4, 5, dtype=torch.long)
    r = samplers.ancestral(spy, x, 0.25, generator=torch.Generator().manual_seed(seed(0)), record=True)
    assert all(t.dtype == torch.float64 and t.shape == (4,) for t in seen)
    assert r.steps.tolist() == [26] * 4 and r.trajectory.shape == (27, 4, 5) and bool(r.converged.all())
    assert torch.equal(r.trajectory[0], x) and torch.equal(r.trajectory[-1], r.states)


@pytest.mark.parametrize("noise_removal", ["ancestral", "greedy"])
def test_ancestral_oracle_recovers_corrupted_patterns(noise_removal, seed):
    pats, oracle, V = _oracle(K=8, L=16, V=8, seed=seed(9))
    x0 = pats.repeat(16, 1)
    x_t = corrupt(x0, 0.25, V, generator=torch.Generator().manual_seed(seed(10)))
    g = torch.Generator().manual_seed(seed(11))
    r = samplers.ancestral(oracle, x_t, 0.25, noise_removal=noise_removal, generator=g)
    perturbed = x_t != x0
    # Over offsets 0-99: recovery min 1.00 with both noise removals; bar 0.99.
    assert ((r.states == x0) & perturbed).sum() / perturbed.sum() >= 0.99
    g = torch.Generator().manual_seed(seed(11))
    again = samplers.ancestral(oracle, x_t, 0.25, noise_removal=noise_removal, generator=g)
    assert torch.equal(again.states, r.states)
    with pytest.raises(ValueError, match="noise_removal"):
        samplers.ancestral(oracle, x_t, 0.25, noise_removal="nope")


def test_generation_from_the_oracle_reproduces_the_stored_set(seed):
    """The exact reverse process of an empirical distribution lands on stored patterns, each ~1/K of the time."""
    # L = 10: two of the 4 patterns coincide with probability 6 / 4^10 = 6e-6.
    pats, oracle, V = _oracle(K=4, L=10, V=4, seed=seed(12))
    r = samplers.generate(oracle, 400, 10, V, generator=torch.Generator().manual_seed(seed(13)))
    assert r.states.shape == (400, 10)
    hits = (r.states[:, None, :] == pats[None]).all(-1)  # (n, K)
    assert hits.any(-1).double().mean() >= 0.95  # offsets 0-99: min 1.00
    freq = hits.double().mean(0)
    # Binomial sd 0.022 at n = 400: 0.1 is 4.6 sd, P(any of 4 outside) = 2e-5.  Offsets 0-99 (at L = 8):
    # largest deviation 0.073, mean 0.030.
    assert bool(((freq - 0.25).abs() < 0.1).all()), freq
    single = samplers.generate(Oracle(pats[:1], V), 5, 10, V, generator=torch.Generator().manual_seed(seed(0)))
    assert torch.equal(single.states, pats[:1].expand(5, -1))  # K = 1: the pattern, always

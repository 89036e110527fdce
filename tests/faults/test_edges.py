"""Extreme but valid inputs: a clear error naming the argument, or a sensible answer -- never NaN or zeros."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import models
from energy.diffusion import log_marginal, lse_energy
from models.diffusion import samplers
from models.diffusion.oracle import Oracle
from models.diffusion.process import T_MIN, check_time
from models.diffusion.schedule import alpha, beta

V, L, K = 4, 12, 5
PATTERNS = torch.randint(0, V, (K, L), generator=torch.Generator().manual_seed(0))
SAMPLERS = ("argmax", "fixed_point", "async_fixed_point", "ancestral")


def test_the_threshold_is_where_the_schedule_stops_resolving_time():
    # At T_MIN, 1 - alpha is one ulp of 1 and beta is finite; far enough below, alpha rounds to 1.
    assert 0 < 1.0 - alpha(T_MIN) <= 2 * math.ulp(1.0) and math.isfinite(beta(T_MIN, V))
    assert alpha(T_MIN / 4) == 1.0 and beta(T_MIN / 4, V) == math.inf


@given(noise=st.floats(min_value=0, max_value=1, exclude_min=True, allow_subnormal=True))
def test_any_noise_gives_an_error_naming_it_or_valid_states(noise):
    for sampler in SAMPLERS:
        memory = models.make("oracle", sampler=sampler, dt=0.05).fit(PATTERNS, vocab_size=V)
        if noise < T_MIN:
            with pytest.raises(ValueError, match="noise must be >= "):
                memory.retrieve(PATTERNS[:2], noise=noise)
            continue
        r = memory.retrieve(PATTERNS[:2], noise=noise)
        assert r.states.min() >= 0 and r.states.max() < V and bool(torch.isfinite(r.entropy).all())


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_noise_at_the_threshold_retrieves_the_stored_patterns(sampler):
    """The old fault: noise=1e-17 gave all-zero states from a NaN posterior, with no error."""
    memory = models.make("oracle", sampler=sampler).fit(PATTERNS, vocab_size=V)
    assert torch.equal(memory.retrieve(PATTERNS, noise=T_MIN).states, PATTERNS)
    with pytest.raises(ValueError, match="noise"):
        memory.retrieve(PATTERNS, noise=1e-17)


@given(t=st.floats(min_value=0, max_value=1, exclude_min=True, allow_subnormal=True))
def test_any_t_energy_gives_an_error_naming_it_or_finite_energies(t):
    memory = models.make("oracle", t_energy=t)
    if t < T_MIN:
        with pytest.raises(ValueError, match="t_energy must be >= "):
            memory.fit(PATTERNS, vocab_size=V)
    else:
        assert bool(torch.isfinite(memory.fit(PATTERNS, vocab_size=V).energy(PATTERNS)).all())


def test_pure_energy_functions_refuse_an_infinite_beta_or_alpha_one():
    with pytest.raises(ValueError, match="beta must be finite"):
        lse_energy(PATTERNS, PATTERNS, math.inf)
    with pytest.raises(ValueError, match="beta must be finite"):
        lse_energy(PATTERNS, PATTERNS, torch.tensor([1.0, math.inf] * (K // 2) + [1.0]))
    with pytest.raises(ValueError, match="alpha must lie in"):
        log_marginal(PATTERNS, PATTERNS, 1.0, V)


def test_times_below_the_threshold_are_refused_everywhere_they_enter():
    oracle = Oracle(PATTERNS, V)
    tiny = torch.tensor([0.5] * (K - 1) + [1e-20], dtype=torch.float64)
    for call in (
        lambda: oracle(PATTERNS, tiny),
        lambda: oracle.association(PATTERNS, 1e-18),
        lambda: samplers.argmax(oracle, PATTERNS, 0.0),
        lambda: samplers.fixed_point(oracle, PATTERNS, 1e-300),
        lambda: samplers.async_fixed_point(oracle, PATTERNS, float("nan")),
        lambda: models.make("oracle").fit(PATTERNS, vocab_size=V).denoise(PATTERNS, tiny),
    ):
        with pytest.raises(ValueError, match=r"\bt must be >= "):
            call()
    check_time(torch.full((3,), T_MIN, dtype=torch.float64))  # the threshold itself is accepted


@pytest.mark.parametrize("dt", [1e-7, 1e-12, 1e-300])
def test_a_step_count_past_the_limit_is_refused_naming_dt(dt):
    """The old fault: dt=1e-7 ran for minutes and dt=1e-12 asked for 1.6 TB."""
    for name, kw in (("oracle", {}), ("diffusion", {"train_steps": 1})):
        with pytest.raises(ValueError, match=rf"dt={dt!r} makes .* more than the limit of 100,000"):
            models.make(name, dt=dt, **kw).fit(PATTERNS, vocab_size=V)
    with pytest.raises(ValueError, match="dt="):
        samplers.time_grid(1.0, dt)
    assert len(samplers.time_grid(1.0, dt, max_steps=10)) == 11  # a cap makes it a coarse grid


def test_the_finest_accepted_grid_is_the_stated_limit():
    assert samplers.check_dt((1.0 - samplers.T_END) / samplers.MAX_GRID_STEPS) <= samplers.MAX_GRID_STEPS


@pytest.mark.parametrize(
    "name, kw, V_",
    [
        ("classical", {}, 10**6),  # the old fault: 512 TB asked of the allocator
        ("dense", {}, 10**6),  # 1 TB
        ("oracle", {}, 10**12),
        ("diffusion", {"train_steps": 1}, 10**9),
    ],
)
def test_a_vocabulary_too_large_for_memory_is_refused_before_allocating(name, kw, V_):
    patterns = torch.randint(0, 4, (3, 8), generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=rf"vocab_size={V_} needs ~[\d.]+ [kMGTP]?B .* more than the"):
        models.make(name, **kw).fit(patterns, vocab_size=V_)


def test_a_batch_too_large_for_memory_is_refused_naming_it():
    memory = models.make("oracle", sampler="argmax").fit(torch.randint(0, 10**6, (3, 8)), vocab_size=10**6)
    big = torch.zeros(10**5, 8, dtype=torch.long)
    with pytest.raises(ValueError, match="queries .a batch of 100000 states. needs .* split the batch"):
        memory.retrieve(big)
    with pytest.raises(ValueError, match="n=100000 needs"):
        memory.generate(10**5)


def _tie_instance(seed: int):
    """Patterns in pairs that differ only at position ``i`` (tokens ``a`` and ``b``): at ``i`` the two
    tokens have exactly equal posterior mass for any query whose token there is neither."""
    g = torch.Generator().manual_seed(seed)
    V_ = int(torch.randint(3, 40, (1,), generator=g))
    L_ = int(torch.randint(4, 30, (1,), generator=g))
    pairs = int(torch.randint(2, 30, (1,), generator=g))
    i = int(torch.randint(0, L_, (1,), generator=g))
    a, b, c = torch.randperm(V_, generator=g)[:3].tolist()
    base = torch.randint(0, V_, (pairs, L_), generator=g)
    first, second = base.clone(), base.clone()
    first[:, i], second[:, i] = a, b
    patterns = torch.cat([first, second])[torch.randperm(2 * pairs, generator=g)]
    query = torch.randint(0, V_, (1, L_), generator=g)
    query[0, i] = c
    t = float(torch.rand((), generator=g)) * 0.9 + 0.05
    return Oracle(patterns, V_), query, i, a, b, t


@given(seed=st.integers(0, 2**31 - 1))
def test_exact_ties_go_to_the_lowest_token_id(seed):
    """The old fault: the documented rule held at only 76-93 % of exact ties (rounding decided)."""
    oracle, query, i, a, b, t = _tie_instance(seed)
    assert samplers.map_estimate(oracle, query, t)[0, i].item() == min(a, b)


def test_the_asynchronous_update_keeps_the_current_token_at_a_rounding_tie():
    """A lower token ahead by rounding only (9 ulps) must not replace the current one."""
    x = torch.full((3, 5), 4)

    def denoiser(x_t, t):
        log_pi = torch.full((x_t.shape[0], 5, 6), -10.0, dtype=torch.float64)
        log_pi.scatter_(-1, x_t[..., None], -0.7)  # the current token
        log_pi[..., 1] = -0.7 + 1e-15
        return log_pi

    r = samplers.async_fixed_point(denoiser, x, 0.5)
    assert torch.equal(r.states, x) and bool(r.converged.all()) and r.steps.tolist() == [1, 1, 1]
    # A fresh choice among the same tied values takes the lowest id.
    assert samplers._first_max(denoiser(x, None)).unique().tolist() == [1]

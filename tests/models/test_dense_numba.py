"""The compiled dense sweeps (``kernel="numba"``) give the torch loop's results.

Every test runs the same memory with both kernels and asserts identical states, steps,
converged flags and generator state.  Polynomial gains in the exact regime are integers below
``2^53``, so the two agree bit for bit whatever the summation order.  Log-sum-exp gains and
scaled polynomial gains carry rounding (the compiled sweep sums in another order, reads
``exp`` from a table); a decision could differ only for a gain within ~1e-15 (relative) of the
tie tolerance, far below anything random patterns produce (exact ties, such as the
two-pattern midpoint below, sit at 0 +- rounding, well inside the tolerance on both paths),
so the tests assert equality on every row.

Also here: large degrees ``n`` (``2 K L^n >= 2^53``), where the polynomial differences are
computed on scaled overlaps (``scaled_``) and ``n = 171`` at ``L = 64`` no longer overflows.
"""

from __future__ import annotations

import pytest
import torch

import models
from experiments.corruption import flip


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def both(P: torch.Tensor, V: int, **hyper):
    return [models.make("dense", kernel=k, **hyper).fit(P, vocab_size=V) for k in ("numba", "torch")]


def assert_same(P, V, queries, seed=0, max_steps=None, **hyper) -> None:
    """Both kernels agree on everything ``retrieve`` returns and on the generator state."""
    out = []
    for model in both(P, V, **hyper):
        g = gen(seed)
        out.append((model.retrieve(queries, generator=g, max_steps=max_steps), g.get_state()))
    (a, ga), (b, gb) = out
    assert torch.equal(a.states, b.states)
    assert torch.equal(a.steps, b.steps)
    assert torch.equal(a.converged, b.converged)
    assert torch.equal(ga, gb)


def mixed_queries(P: torch.Tensor, V: int, seed: int, n: int = 10) -> torch.Tensor:
    """Random states, stored patterns, and patterns with 10 % and 30 % of the tokens redrawn."""
    g = gen(seed)
    K, L = P.shape
    base = P[torch.arange(n) % K]
    out = [torch.randint(0, V, (n, L), generator=g), P[:n]]
    for rate in (0.1, 0.3):
        noisy = base.clone()
        mask = torch.rand(n, L, generator=g) < rate
        noisy[mask] = torch.randint(0, V, (int(mask.sum()),), generator=g)
        out.append(noisy)
    return torch.cat(out)


HYPER = [
    {"F": "poly", "n": 2},
    {"F": "poly", "n": 3},
    {"F": "repoly", "n": 3},
    {"F": "repoly", "n": 4},
    {"F": "exp", "beta": 0.3},
    {"F": "exp", "beta": 2.0},
    {"F": "exp", "beta": 1e3},  # whole token groups below e^-708 of the best one
]


@pytest.mark.parametrize("V", [2, 3, 5])
@pytest.mark.parametrize("hyper", HYPER, ids=lambda h: "-".join(f"{k}{v}" for k, v in h.items()))
def test_numba_sweeps_equal_torch_loop_on_random_inputs(V, hyper):
    for seed in range(4):
        g = gen(100 + seed)
        L = int(torch.randint(6, 70, (1,), generator=g))
        K = int(torch.randint(1, 3 * L, (1,), generator=g))  # up to well above capacity
        P = torch.randint(0, V, (K, L), generator=g)
        q = mixed_queries(P, V, seed)
        for max_steps in (1, 2, None):
            assert_same(P, V, q, seed=seed, max_steps=max_steps, **hyper)


@pytest.mark.parametrize("F", ["poly", "repoly", "exp"])
def test_exact_ties_keep_the_token_on_both_kernels(F):
    # Two stored patterns that differ in site 0 only: at either of them site 0 is an exact tie.
    base = torch.randint(0, 2, (1, 16), generator=gen(7))
    P = base.repeat(2, 1)
    P[1, 0] = 1 - P[0, 0]
    for model in both(P, 2, F=F, n=2):
        r = model.retrieve(P, generator=gen(0))
        assert torch.equal(r.states, P) and bool(r.converged.all()) and r.steps.tolist() == [1, 1]
    # Even K, even L: overlaps and many exact zero gains on random states.
    P = torch.randint(0, 2, (4, 12), generator=gen(8))
    assert_same(P, 2, torch.randint(0, 2, (300, 12), generator=gen(9)), F=F, n=2)


def test_numba_sweeps_reach_the_same_states_at_scale():
    # Above capacity (K = 3 L): long trajectories through many sweeps, ending at spurious states.
    P = torch.randint(0, 2, (240, 80), generator=gen(10))
    assert_same(P, 2, mixed_queries(P, 2, 11, n=40), F="poly", n=3)


# -- large n: the scaled regime ---------------------------------------------------------


@pytest.mark.parametrize("V", [2, 4])
@pytest.mark.parametrize("n", [171, 1000])
def test_huge_degrees_retrieve_instead_of_overflowing(V, n):
    # 64^171 overflows float64: before the scaled regime, every gain was inf - inf = nan and
    # the corrupted queries came back unchanged, marked converged.  For n -> infinity the
    # dynamics copy the pattern of largest overlap, so 8 flipped sites of 64 are repaired.
    # (Checked: the unscaled computation retrieves none of these queries.)
    L, K = 64, 20
    P = torch.randint(0, V, (K, L), generator=gen(20 + V))
    q = flip(P, 8, V, gen(21))
    for model in both(P, V, F="poly", n=n):
        assert model.scaled_
        r = model.retrieve(q, generator=gen(22))
        assert torch.equal(r.states, P) and bool(r.converged.all())
        assert not model.unstable_sites(P).any()  # stored patterns are fixed points
        assert model.unstable_sites(q).any(dim=1).all()  # the corrupted ones are not
    assert_same(P, V, torch.cat([q, torch.randint(0, V, (40, L), generator=gen(23))]), F="poly", n=n)


@pytest.mark.parametrize("F", ["poly", "repoly"])
def test_scaled_gains_decide_as_the_exact_integers(F):
    # Where the integers are exact, the scaled regime must make the same moves: force it.
    V, L, K = 2, 40, 60
    P = torch.randint(0, V, (K, L), generator=gen(30))
    q = mixed_queries(P, V, 31, n=20)
    exact, scaled = (models.make("dense", F=F, n=5, kernel="torch").fit(P) for _ in range(2))
    assert not exact.scaled_
    scaled.scaled_ = True
    assert torch.equal(scaled.unstable_sites(q), exact.unstable_sites(q))
    a, b = exact.retrieve(q, generator=gen(32)), scaled.retrieve(q, generator=gen(32))
    assert torch.equal(a.states, b.states) and torch.equal(a.steps, b.steps)


def test_the_exact_regime_ends_where_the_integers_stop_being_exact():
    # 2 K L^n < 2^53 = 9.0e15: K = 10, L = 64 -> exact up to n = 8 (2 * 10 * 64^8 = 5.6e15), scaled from 9.
    P = torch.randint(0, 2, (10, 64), generator=gen(40))
    regimes = {n: models.make("dense", n=n).fit(P).scaled_ for n in (3, 8, 9, 171)}
    assert regimes == {3: False, 8: False, 9: True, 171: True}
    assert not models.make("dense", F="exp", n=500).fit(P).scaled_  # n is unused by exp

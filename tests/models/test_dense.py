"""Theory checks for the dense associative memory (``models.dense``).

Row ids (C10a, ...) and tolerances are those of docs/theory.md §5;
the sources are Krotov & Hopfield 2016 (docs/theory.md §2.6) and Demircigil et al. 2017 (§2.7).
Seeds come from the ``seed`` fixture; the comments give the spread of each checked number
over seed offsets (``--seed-offset``).  Every check runs in a second or two on one core.
"""

from __future__ import annotations

import math

import pytest
import torch

import models
from energy.dense import dense_energy, token_overlaps
from experiments.corruption import flip
from models.dense import DenseHopfield


def _tokens(K: int, L: int, V: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (K, L), generator=torch.Generator().manual_seed(seed))  # (K, L)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _phi(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# -- docs/theory.md §5 ---------------------------------------------------------------


@pytest.mark.parametrize("base", [101, 202, 303])
def test_c10a_cubic_memory_keeps_K_2N_patterns_stable(base, seed):
    # C10a (Krotov & Hopfield 2016; docs/theory.md §2.6): F = x^3, N = 100, K = 200 = 2N, far above
    # the classical 0.14 N; P_e = Phi(-sqrt(N^2 / 3K)) = 2e-5, so >= 97 % exactly stable.
    P = _tokens(200, 100, seed=seed(base))
    net = models.make("dense", F="poly", n=3).fit(P)
    r = net.retrieve(P, max_steps=1, generator=_gen(seed(base)))
    stable = (r.states == P).all(1) & r.converged  # a full sweep without any change
    assert float(stable.double().mean()) >= 0.97


def test_c10b_cubic_per_bit_instability_matches_signal_to_noise(seed):
    # C10b (docs/theory.md §2.6): F = x^3, N = 100, K = 500; per-bit instability at stored patterns
    # within x[0.5, 2] of Phi(-sqrt(N^(n-1) / ((2n-3)!! K))) = 0.0049. Averaged over 3 draws.
    N, K = 100, 500
    formula = _phi(-math.sqrt(N**2 / (3 * K)))
    rates = []
    for s in (11, 12, 13):
        P = _tokens(K, N, seed=seed(s))
        net = models.make("dense", F="poly", n=3).fit(P)
        rates.append(float(net.unstable_sites(P).double().mean()))
    measured = sum(rates) / len(rates)
    assert 0.5 * formula <= measured <= 2.0 * formula, (measured, formula)


def test_c10c_quadratic_memory_is_the_zero_diagonal_hebbian_net(seed):
    # C10c (docs/theory.md §2.6): n = 2, F = poly gives field = 4 N x Hebb field, exactly.
    N = 100
    P = _tokens(30, N, seed=seed(3))
    states = _tokens(16, N, seed=seed(4))
    fields = models.make("dense", F="poly", n=2).fit(P).local_fields(states)  # (B, N)
    X = P.double() * 2 - 1  # (K, N)
    W = X.T @ X / N  # (N, N) Hebb weights
    W.fill_diagonal_(0.0)
    hebb = (states.double() * 2 - 1) @ W  # (B, N)
    assert torch.allclose(fields, 4 * N * hebb, rtol=1e-12, atol=1e-9)


def test_c11_exponential_memory_stores_2_to_the_N_over_2_patterns(seed):
    # C11 (Demircigil et al. 2017; docs/theory.md §2.7): F = exp, N = 24, K = 4096 = 2^(N/2),
    # 100 probes: fraction of exactly stable stored patterns >= 0.95.
    P = _tokens(4096, 24, seed=seed(5))
    net = models.make("dense", F="exp", beta=1.0).fit(P)
    probes = P[:100]
    r = net.retrieve(probes, max_steps=1, generator=_gen(seed(5)))
    stable = (r.states == probes).all(1) & r.converged
    assert float(stable.double().mean()) >= 0.95


# -- identities and limits -------------------------------------------------------------


@pytest.mark.parametrize("F,beta", [("poly", 1.0), ("repoly", 1.0), ("exp", 0.7), ("exp", 1e3)])
@pytest.mark.parametrize("V", [2, 4])
def test_energy_gaps_equal_brute_force_energy_differences(F, beta, V, seed):
    # beta = 1e3 puts whole groups of patterns below exp(-708) of the best one: the gaps must
    # still be exact (log-space group masses), not underflow to "no pattern holds this token".
    P = _tokens(7, 12, V=V, seed=seed(6))
    net = models.make("dense", F=F, n=3, beta=beta).fit(P, vocab_size=V)
    S = _tokens(3, 12, V=V, seed=seed(7))
    gaps = net.energy_gaps(S)  # (B, L, V)
    E = net.energy(S)  # (B,)
    for i in range(S.shape[1]):
        for v in range(V):
            S2 = S.clone()
            S2[:, i] = v
            assert torch.allclose(gaps[:, i, v], E - net.energy(S2), rtol=0, atol=1e-12)


def test_energy_is_the_pure_function_of_energy_dense(seed):
    P = _tokens(9, 20, V=3, seed=seed(8))
    S = _tokens(4, 20, V=3, seed=seed(9))
    net = models.make("dense", F="repoly", n=4).fit(P, vocab_size=3)
    assert torch.equal(net.energy(S), dense_energy(S, P, 3, F="repoly", n=4))
    o = token_overlaps(S, P, 3)  # (B, K) agreement counts
    assert torch.equal(o, (S[:, None, :] == P[None]).sum(-1).double())


@pytest.mark.parametrize("update", ["async", "sync"])
@pytest.mark.parametrize("F", ["poly", "repoly", "exp"])
@pytest.mark.parametrize("V", [2, 4])
def test_energy_never_increases_along_async_trajectories(F, V, update, seed):
    # Async dynamics are a descent on E (docs/theory.md §2.2/§2.6); sync ones are only checked to run.
    L, K = 40, 60 if V == 2 else 30
    P = _tokens(K, L, V=V, seed=seed(10))
    net = models.make("dense", F=F, n=3, beta=0.5, update=update, max_steps=30).fit(P, vocab_size=V)
    queries = torch.cat([_tokens(16, L, V=V, seed=seed(11)), flip(P[:16], L // 3, V, _gen(seed(12)))])
    r = net.retrieve(queries, generator=_gen(seed(1)), record=True)
    E = r.energies  # (T, B)
    assert torch.allclose(E[-1], net.energy(r.states), rtol=1e-12, atol=1e-9)
    assert torch.equal(r.trajectory[-1], r.states)
    if update == "async":
        rise = (E[1:] - E[:-1]).max()
        assert float(rise) <= 1e-9 * (1 + float(E.abs().max()))
        assert bool(r.converged.all())


@pytest.mark.parametrize("V", [2, 4])
def test_large_beta_exponential_memory_retrieves_the_nearest_pattern(V, seed):
    # beta -> infinity: every site copies the nearest stored pattern (unique by a margin of
    # 2 positions, so excluding one site never changes which pattern is nearest).
    L, K = 40, 25
    P = _tokens(K, L, V=V, seed=seed(20))
    queries = _tokens(400, L, V=V, seed=seed(21))
    dist = (queries[:, None, :] != P[None]).sum(-1)  # (B, K) Hamming distances
    d2, idx = dist.topk(2, dim=1, largest=False)  # (B, 2)
    keep = d2[:, 1] - d2[:, 0] >= 2
    assert int(keep.sum()) >= 20  # offsets 0-19: min 114 of 400
    net = models.make("dense", F="exp", beta=200.0).fit(P, vocab_size=V)
    r = net.retrieve(queries[keep], generator=_gen(seed(2)))
    assert torch.equal(r.states, P[idx[keep, 0]])
    assert bool(torch.isfinite(net.energy(r.states)).all())


def test_ties_keep_the_current_state(seed):
    # Two stored patterns that differ in site 0 only: at the midpoint, site 0 is an exact
    # tie for every F and must not flip, so the state is a fixed point.
    base = _tokens(1, 16, seed=seed(22))
    P = base.repeat(2, 1)
    P[1, 0] = 1 - P[0, 0]
    for F in ("poly", "repoly", "exp"):
        net = models.make("dense", F=F, n=2).fit(P)
        for s in P:
            gaps = net.energy_gaps(s[None])  # (1, L, 2)
            assert float(gaps[0, 0].abs().max()) <= 1e-12
        r = net.retrieve(P, max_steps=1, generator=_gen(seed(0)))
        assert torch.equal(r.states, P) and bool(r.converged.all())


@pytest.mark.parametrize("V", [2, 5])
def test_retrieves_corrupted_patterns_at_moderate_load(V, seed):
    # Spins: K = 15 = 0.31 N, above the classical 0.14 N.  From 5 flips the overlap is
    # m = 38/48, which scales the C10 signal by m^2, so P_e ~ Phi(-m^2 sqrt(N^2 / 3K)) =
    # Phi(-4.5) = 3e-6 per bit, 0.002 expected errors over all 720 bits (K = 60, used before,
    # gives Phi(-2.3) = 0.01 per bit and failed in 143 of 200 random draws).  Potts (V = 5):
    # one-hot overlaps are not centred, so no closed form here; measured, K = 25 failed in 0
    # of 400 draws and K = 40 in 4 of 200.  With seeds from the fixture: offsets 0-1999 gave no
    # failure for either V.
    L, K = 48, 15 if V == 2 else 25
    P = _tokens(K, L, V=V, seed=seed(30))
    net = models.make("dense", F="poly", n=3).fit(P, vocab_size=V)
    r = net.retrieve(flip(P, 5, V, _gen(seed(31))), generator=_gen(seed(3)))
    assert torch.equal(r.states, P)
    assert bool(r.converged.all()) and int(r.steps.max()) <= 3


def test_steps_and_convergence_bookkeeping(seed):
    P = _tokens(10, 60, seed=seed(40))
    net = models.make("dense", F="poly", n=3).fit(P)
    queries = torch.cat([P[:3], flip(P[3:6], 10, 2, _gen(seed(41)))])
    r = net.retrieve(queries, generator=_gen(seed(4)), record=True)
    assert r.steps[:3].tolist() == [1, 1, 1]  # a stored pattern converges in one clean sweep
    assert bool((r.steps[3:] >= 2).all())  # one sweep repairs, one confirms
    assert r.trajectory.shape[0] == int(r.steps.max()) + 1
    one = net.retrieve(queries, max_steps=1, generator=_gen(seed(4)))
    assert one.converged.tolist() == [True] * 3 + [False] * 3
    assert one.steps.tolist() == [1] * 6


def test_exponential_memory_does_not_overflow_at_huge_beta(seed):
    P = _tokens(50, 100, seed=seed(50))
    net = models.make("dense", F="exp", beta=1e4).fit(P)
    r = net.retrieve(flip(P, 20, 2, _gen(seed(51))), generator=_gen(seed(5)), record=True)
    assert torch.equal(r.states, P)
    assert bool(torch.isfinite(r.energies).all())


def test_sync_updates_repair_and_keep_patterns(seed):
    P = _tokens(20, 100, seed=seed(60))
    net = models.make("dense", F="poly", n=3, update="sync").fit(P)
    r = net.retrieve(flip(P, 10, 2, _gen(seed(61))))
    assert torch.equal(r.states, P) and bool(r.converged.all())


# -- hyperparameters and introspection ---------------------------------------------------


@pytest.mark.parametrize(
    "hyper,error,match",
    [
        ({"n": 1}, ValueError, "n must be an int >= 2"),
        ({"n": 2.5}, TypeError, "n must be an int"),
        ({"n": True}, TypeError, "n must be an int"),
        ({"F": "cube"}, ValueError, "F must be one of"),
        ({"update": "random"}, ValueError, "update must be one of"),
        ({"beta": 0.0}, ValueError, "beta"),
        ({"beta": float("inf")}, ValueError, "beta"),
        ({"beta": "1"}, TypeError, "beta"),
        ({"max_steps": 2.0}, TypeError, "max_steps"),
        ({"device": "no-such-device"}, ValueError, "device"),
    ],
)
def test_bad_hyperparameters_raise_on_fit(hyper, error, match):
    net = models.make("dense", **hyper)  # __init__ only stores
    assert isinstance(net, DenseHopfield)
    with pytest.raises(error, match=match):
        net.fit(_tokens(3, 8))


def test_local_fields_need_spins_and_introspection_is_exposed(seed):
    # L = 40: stored patterns are fixed points at every offset (L = 10 left an unstable site at
    # 83 offsets of 2000, L = 20 at 6, L = 30 and 40 at none).
    P = _tokens(4, 40, V=3, seed=seed(70))
    net = models.make("dense").fit(P, vocab_size=3)
    with pytest.raises(ValueError, match="vocab_size=2"):
        net.local_fields(P)
    assert torch.equal(net.patterns_, P)
    assert net.overlaps(P).shape == (4, 4) and torch.equal(net.overlaps(P).diagonal(), torch.full((4,), 40.0))
    assert not net.unstable_sites(P).any()
    with pytest.raises(ValueError, match="states"):
        net.energy_gaps(P[:, :-1])

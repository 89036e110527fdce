"""The exact Bayes denoiser: brute force, modern Hopfield identity (docs/theory.md §5.4, C19), energy identities."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import models
from energy.diffusion import conditional_entropy, log_marginal, lse_energy
from models.diffusion.oracle import Oracle, full_posterior, loo_posterior, pattern_posterior
from models.diffusion.process import loo_to_posterior, posterior, posterior_to_loo
from models.diffusion.schedule import alpha, beta


def _setup(K=7, L=6, V=4, B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    pats = torch.randint(0, V, (K, L), generator=g)
    x = torch.randint(0, V, (B, L), generator=g)
    x[0] = pats[0]  # one query equal to a stored pattern
    return pats, x, V


def _likelihoods(x, pats, V, t):
    """q(x_t^i | xi_mu^i) per (B, K, L), straight from the forward process."""
    a = alpha(t)
    same = (x[:, None, :] == pats[None]).double()  # (B, K, L)
    return same * a + (1 - a) / V


@pytest.mark.parametrize("t", [1e-3, 0.25, 0.6, 1.0])
def test_oracle_equals_brute_force_enumeration_over_stored_patterns(t, seed):
    pats, x, V = _setup(seed=seed(0))
    lik = _likelihoods(x, pats, V, t)  # (B, K, L)
    joint = lik.prod(-1)  # (B, K) uniform prior over patterns
    w = joint / joint.sum(-1, keepdim=True)
    onehot = F.one_hot(pats, V).double()  # (K, L, V)
    want_full = torch.einsum("bk,klv->blv", w, onehot)
    L = pats.shape[1]
    want_loo = torch.empty_like(want_full)
    for i in range(L):  # p(x_0^i | x_t^{-i}): drop position i's likelihood
        wi = lik[:, :, [j for j in range(L) if j != i]].prod(-1)
        wi = wi / wi.sum(-1, keepdim=True)
        want_loo[:, i] = wi @ onehot[:, i]
    b = beta(t, V)
    torch.testing.assert_close(pattern_posterior(x, pats, b), w, atol=1e-13, rtol=0)
    torch.testing.assert_close(full_posterior(x, pats, b, V), want_full, atol=1e-13, rtol=0)
    torch.testing.assert_close(loo_posterior(x, pats, b, V), want_loo, atol=1e-13, rtol=0)
    torch.testing.assert_close(loo_posterior(x, pats, b, V, direct=True), want_loo, atol=1e-13, rtol=0)
    oracle = Oracle(pats, V)
    out = oracle(x, torch.full((x.shape[0],), t, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == want_loo.shape
    torch.testing.assert_close(out.exp(), want_loo, atol=1e-13, rtol=0)
    # the exact LOO <-> posterior conversion of docs/theory.md §4.3 links the two
    torch.testing.assert_close(loo_to_posterior(out, x, t).exp(), want_full, atol=1e-12, rtol=0)
    torch.testing.assert_close(posterior_to_loo(want_full.log(), x, t).exp(), want_loo, atol=1e-12, rtol=0)


def _c19_setup(seed=19):
    g = torch.Generator().manual_seed(seed)
    V, L, K = 5, 12, 40
    pats = torch.randint(0, V, (K, L), generator=g)
    x = torch.randint(0, V, (64, L), generator=g)
    x[:K] = torch.where(torch.rand(K, L, generator=g) < 0.3, x[:K], pats)  # some queries near stored patterns
    return pats, x, V


@pytest.mark.parametrize("t", [1e-3, 0.1, 0.25, 0.5, 0.9])
def test_oracle_equals_ramsauer_update_on_one_hot_codes(t, seed):
    """C19 against the formula: Xi softmax(beta Xi^T x) on flattened one-hot codes."""
    pats, x, V = _c19_setup(seed(19))
    K, L = pats.shape
    X = F.one_hot(pats, V).double().reshape(K, L * V)  # (K, L V) stored one-hot codes
    xi = F.one_hot(x, V).double().reshape(-1, L * V)  # (B, L V)
    b = beta(t, V)
    assoc = torch.softmax(b * xi @ X.T, dim=-1)  # (B, K)
    update = (assoc @ X).reshape(-1, L, V)  # (B, L, V)
    oracle = Oracle(pats, V)
    torch.testing.assert_close(oracle.association(x, t), assoc, atol=1e-12, rtol=0)
    torch.testing.assert_close(oracle.posterior(x, t), update, atol=1e-12, rtol=0)


@pytest.mark.skipif("modern" not in models.MODELS, reason="models.modern is not registered yet")
@pytest.mark.parametrize("t", [1e-3, 0.1, 0.25, 0.5, 0.9])
def test_oracle_equals_modern_hopfield_association(t, seed):
    """C19 (docs/theory.md): V = 5, L = 12, K = 40; the registered modern net at beta(t) on one-hot codes."""
    pats, x, V = _c19_setup(seed(19))
    modern = models.make("modern", beta=beta(t, V), encoding="onehot").fit(pats, vocab_size=V)
    oracle = models.make("oracle").fit(pats, vocab_size=V)
    torch.testing.assert_close(oracle.association(x, t), modern.association(x), atol=1e-10, rtol=0)
    assert modern.association(x).dtype == torch.float64


def test_plug_in_with_loo_is_the_true_reverse_step_and_with_the_posterior_is_not(seed):
    """sum_v p(x_0^i = v | x_t) q(x_s^i | x_t^i, v) == q(x_s | x_t, pi) (docs/theory.md §5.5, item 6)."""
    pats, x, V = _setup(K=9, L=5, V=4, B=6, seed=seed(3))
    s, t = 0.3, 0.5
    oracle = Oracle(pats, V)
    full, loo = oracle.posterior(x, t), oracle.loo(x, t)
    per_v = torch.stack([posterior(x, torch.full_like(x, v), s, t, V) for v in range(V)], dim=-2)  # (B, L, v, j)
    true_step = (full[..., None] * per_v).sum(-2)
    torch.testing.assert_close(posterior(x, loo, s, t, V), true_step, atol=1e-14, rtol=0)
    assert (posterior(x, full, s, t, V) - true_step).abs().max() > 1e-3  # offsets 0-499: min 0.156, mean 0.19


def test_log_marginal_and_energy_identities(seed):
    pats, x, V = _setup(K=6, L=5, V=3, B=8, seed=seed(4))
    t = 0.4
    a, b = alpha(t), beta(t, V)
    want = _likelihoods(x, pats, V, t).prod(-1).mean(-1).log()  # log (1/K) sum_mu prod_i q
    torch.testing.assert_close(log_marginal(x, pats, a, V), want, atol=1e-12, rtol=0)
    # E(x^{i<-v}) = -log Z^{(-i)} - log(1 + (e^beta - 1) pi^i(v))  (docs/theory.md §4.4)
    loo = loo_posterior(x, pats, b, V)
    K, L = pats.shape
    for i in range(L):
        match = (x[:, i : i + 1] == pats[None, :, i]).double()  # (B, K)
        A_loo = (x[:, None, :] == pats[None]).sum(-1).double() - match
        log_z = torch.logsumexp(b * A_loo, -1)  # (B,)
        for v in range(V):
            y = x.clone()
            y[:, i] = v
            want_e = -log_z - torch.log1p(math.expm1(b) * loo[:, i, v])
            torch.testing.assert_close(lse_energy(y, pats, b), want_e, atol=1e-12, rtol=0)


def test_conditional_entropy_handles_zero_probabilities():
    p = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]], dtype=torch.float64)
    h = conditional_entropy(p.log())
    torch.testing.assert_close(h, torch.tensor([math.log(2) / 2], dtype=torch.float64))


@pytest.mark.parametrize("t", [1e-5, 1e-3, 0.3, 1.0])
def test_fast_loo_equals_the_definition_with_per_row_beta(t, seed):
    """The conversion route and the direct per-position softmax agree, also at beta ~ 14 and near stored patterns."""
    pats, x, V = _setup(K=50, L=16, V=8, B=12, seed=seed(5))
    x[1] = pats[3]
    x[2, 1:] = pats[4, 1:]  # one token away from a stored pattern
    b = beta(torch.tensor([t] * 6 + [0.5] * 6, dtype=torch.float64), V)
    fast, direct = loo_posterior(x, pats, b, V), loo_posterior(x, pats, b, V, direct=True)
    torch.testing.assert_close(fast, direct, atol=1e-13, rtol=1e-10)


@pytest.mark.parametrize("t", [1e-3, 0.3, 1.0])
def test_cached_float64_codes_give_the_one_hot_table_result(t, seed):
    """Oracle's posterior and LOO from its cached float64 codes match the per-call one-hot table."""
    pats, x, V = _setup(K=40, L=10, V=6, B=9, seed=seed(7))
    oracle = Oracle(pats, V)
    b = oracle.beta(t)
    torch.testing.assert_close(oracle.posterior(x, t), full_posterior(x, pats, b, V), atol=1e-15, rtol=1e-13)
    torch.testing.assert_close(oracle.loo(x, t), loo_posterior(x, pats, b, V), atol=1e-15, rtol=1e-13)

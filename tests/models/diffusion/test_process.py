"""Identities of the uniform-noise process (docs/theory.md §5.5, items 1-3 and 6)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from models.diffusion.process import corrupt, loo_to_posterior, nelbo, posterior, posterior_to_loo
from models.diffusion.schedule import alpha, beta

V = 5


def _tokens(shape, seed):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


def _probs(shape, seed):
    return torch.softmax(2 * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), -1)


def _bayes_posterior(x_t, x0_probs, s, t):
    """Brute force: q(x_s = j | x_t, x_0) ∝ q(x_t | x_s = j) q(x_s = j | x_0), summed over x_0."""
    a_s, a_t = alpha(s), alpha(t)
    a_ts = a_t / a_s
    j = torch.arange(V)
    q_t_given_s = a_ts * (j[None, None, :] == x_t[..., None]).double() + (1 - a_ts) / V  # (B, L, V) over j
    q_s_given_0 = a_s * torch.eye(V, dtype=torch.float64) + (1 - a_s) / V  # (v, j)
    joint = x0_probs[..., :, None] * q_s_given_0 * q_t_given_s[..., None, :]  # (B, L, v, j)
    joint = joint.sum(-2)
    return joint / joint.sum(-1, keepdim=True)


@pytest.mark.parametrize("s,t", [(0.0, 0.3), (0.2, 0.7), (0.69, 0.7), (0.5, 1.0)])
def test_posterior_equals_brute_force_bayes(s, t, seed):
    x0, x_t = _tokens((4, 6), seed(0)), _tokens((4, 6), seed(1))
    got = posterior(x_t, x0, s, t, V)
    want = _bayes_posterior(x_t, F.one_hot(x0, V).double(), s, t)
    assert got.dtype == torch.float64 and got.shape == (4, 6, V)
    torch.testing.assert_close(got, want, atol=1e-14, rtol=0)
    torch.testing.assert_close(got.sum(-1), torch.ones(4, 6, dtype=torch.float64), atol=1e-14, rtol=0)


def test_posterior_accepts_one_time_per_row(seed):
    x0, x_t = _tokens((3, 5), seed(2)), _tokens((3, 5), seed(3))
    s, t = torch.tensor([0.1, 0.0, 0.4]), torch.tensor([0.2, 0.5, 0.9])
    got = posterior(x_t, x0, s, t, V)
    for b in range(3):
        torch.testing.assert_close(got[b], posterior(x_t[b : b + 1], x0[b : b + 1], float(s[b]), float(t[b]), V)[0])


def test_plug_in_posterior_equals_d3pm_mixture(seed):
    """Probability-vector x_0: the closed form equals sum_v x(v) den(v) q(x_s|x_t,v) / sum_v x(v) den(v)."""
    s, t = 0.3, 0.6
    x_t, p = _tokens((4, 6), seed(4)), _probs((4, 6, V), seed(5))
    got = posterior(x_t, p, s, t, V)
    a_t = alpha(t)
    den = V * a_t * F.one_hot(x_t, V).double() + 1 - a_t  # (B, L, v) = V q(x_t | x_0 = v)
    per_v = torch.stack([posterior(x_t, torch.full_like(x_t, v), s, t, V) for v in range(V)], dim=-2)  # (B, L, v, j)
    w = p * den
    want = (w[..., None] * per_v).sum(-2) / w.sum(-1, keepdim=True)
    torch.testing.assert_close(got, want, atol=1e-15, rtol=0)
    torch.testing.assert_close(got, _bayes_posterior(x_t, p, s, t), atol=1e-15, rtol=0)


@pytest.mark.parametrize("t", [0.05, 0.4, 0.9])
def test_nelbo_is_the_small_step_limit_of_the_per_step_kl(t, seed):
    x0, x_t = _tokens((3, 4), seed(6)), _tokens((3, 4), seed(7))
    log_p = torch.log(_probs((3, 4, V), seed(8)))
    loss = nelbo(log_p, x0, x_t, t)
    dt = 1e-6
    q = posterior(x_t, x0, t - dt, t, V)
    p = posterior(x_t, log_p.exp(), t - dt, t, V)
    kl_rate = (q * (q.log() - p.log())).sum(-1) / dt
    assert bool((loss > 0).all())
    torch.testing.assert_close(loss, kl_rate, rtol=1e-4, atol=0)


def test_nelbo_is_zero_at_a_perfect_prediction_and_per_row_times_work(seed):
    x0, x_t = _tokens((3, 4), seed(9)), _tokens((3, 4), seed(10))
    perfect = torch.log(F.one_hot(x0, V).double())  # -inf off the true token
    t = torch.tensor([0.1, 0.5, 0.99])
    assert nelbo(perfect, x0, x_t, t).abs().max() < 1e-14
    log_p = torch.log(_probs((3, 4, V), seed(11)))
    per_row = nelbo(log_p, x0, x_t, t)
    for b in range(3):
        torch.testing.assert_close(per_row[b], nelbo(log_p[b : b + 1], x0[b : b + 1], x_t[b : b + 1], float(t[b]))[0])
    # float32 (training precision) agrees with float64
    torch.testing.assert_close(nelbo(log_p.float(), x0, x_t, t.float()).double(), per_row, rtol=1e-4, atol=1e-5)


def test_nelbo_minimiser_is_the_leave_one_out_prediction_not_the_posterior(seed):
    """Minimise E_{x_0 ~ p(x_0|x_t)} l(x_theta) over x_theta: the optimum is pi ∝ p / (V a [v = z] + 1 - a)."""
    t = 0.4 / (1 - 1e-3)  # alpha_t = 0.6
    p = _probs((V,), seed(12))  # true posterior p(x_0^i = . | x_t)
    z = int(p.argmax())  # the observed token is the likeliest clean one (as it is under the forward process)
    x0 = torch.arange(V)[:, None]  # (V, 1): one row per possible clean token
    x_t = torch.full((V, 1), z)
    theta = torch.zeros(V, dtype=torch.float64, requires_grad=True)
    # Strong-Wolfe line search: without it LBFGS stopped short of 1e-7 at 23 of 200 offsets.
    opt = torch.optim.LBFGS(
        [theta], lr=1, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe"
    )

    def expected_loss():
        opt.zero_grad()
        log_x = torch.log_softmax(theta, -1).expand(V, 1, V)
        loss = (p * nelbo(log_x, x0, x_t, t)[:, 0]).sum()
        loss.backward()
        return loss

    opt.step(expected_loss)
    found = torch.softmax(theta.detach(), -1)
    a = alpha(t)
    loo = p / (V * a * F.one_hot(torch.tensor(z), V).double() + 1 - a)
    loo = loo / loo.sum()
    torch.testing.assert_close(found, loo, atol=1e-7, rtol=0)  # offsets 0-199: error max 1.6e-8
    # The posterior itself is not the optimum: it misses by 10^4 times the tolerance above.  With
    # z = argmax p, |loo - p| < 1e-3 has probability 2.5e-6 (2e6 draws of p; median 0.42).
    assert (found - p).abs().max() > 1e-3
    # and the library conversion gives the same LOO vector
    conv = posterior_to_loo(p.log()[None, None], x_t[:1], t)[0, 0].exp()
    torch.testing.assert_close(conv, loo, atol=1e-14, rtol=0)


def test_loo_and_posterior_conversions_are_inverse_and_exact(seed):
    x_t = _tokens((4, 6), seed(13))
    log_loo = torch.log(_probs((4, 6, V), seed(14)))
    t = torch.tensor([1e-5, 0.25, 0.5, 1.0], dtype=torch.float64)
    full = loo_to_posterior(log_loo, x_t, t)
    # p ∝ pi (V a [v = z] + 1 - a), the form of docs/theory.md §4.3
    a = alpha(t).double().reshape(-1, 1, 1)
    want = log_loo.exp() * (V * a * F.one_hot(x_t, V).double() + 1 - a)
    want = want / want.sum(-1, keepdim=True)
    torch.testing.assert_close(full.exp(), want, atol=1e-14, rtol=1e-12)
    torch.testing.assert_close(posterior_to_loo(full, x_t, t), log_loo, atol=1e-10, rtol=0)
    # scalar time == constant per-row time; beta is the log of the evidence ratio
    per_row = loo_to_posterior(log_loo, x_t, torch.full((4,), 0.25))
    torch.testing.assert_close(loo_to_posterior(log_loo, x_t, 0.25), per_row)
    assert math.isclose(beta(0.25, V), math.log(1 + V * alpha(0.25) / (1 - alpha(0.25))))


@pytest.mark.parametrize("t", [0.1, 0.25, 0.5, 1.0])
def test_corrupted_fraction_is_one_minus_alpha_times_one_minus_one_over_v(t, seed):
    """Binomial test: n tokens, rho = (1 - alpha)(1 - 1/V); 5 standard errors is a 6e-7 false-alarm rate."""
    B, L = 2000, 16
    x0 = _tokens((B, L), seed(15))
    x_t = corrupt(x0, t, V, generator=torch.Generator().manual_seed(seed(16)))
    n = B * L
    rho = (1 - alpha(t)) * (1 - 1 / V)
    tol = 5 * math.sqrt(rho * (1 - rho) / n)
    assert abs((x_t != x0).double().mean().item() - rho) < tol
    # per-row times: the fraction of each half follows its own rate
    times = torch.cat([torch.full((B // 2,), t), torch.full((B // 2,), t / 2)])
    x_t = corrupt(x0, times, V, generator=torch.Generator().manual_seed(seed(17)))
    rho2 = (1 - alpha(t / 2)) * (1 - 1 / V)
    tol2 = 5 * math.sqrt(rho2 * (1 - rho2) / (n / 2))
    assert abs((x_t[B // 2 :] != x0[B // 2 :]).double().mean().item() - rho2) < tol2

"""Forward process, reverse posterior, NELBO and leave-one-out conversion of uniform diffusion.

Per position, ``q(x_t | x_0) = Cat(alpha_t onehot(x_0) + (1 - alpha_t) / V)`` with the
log-linear schedule of :mod:`models.diffusion.schedule` (docs/theory.md §3.1).

* :func:`corrupt` samples the forward process.
* :func:`posterior` is the closed-form ``q(x_s | x_t, x_0)`` (docs/theory.md §3.2); given a
  probability vector for ``x_0`` it is the plug-in reverse step, which equals D3PM's
  x0-parameterised mixture because numerator and denominator are linear in ``x_0``.
* :func:`nelbo` is the UDLM continuous-time NELBO per token (docs/theory.md §3.3).
* :func:`min_time` / :func:`check_time`: the smallest diffusion time float64 resolves.
* :func:`loo_to_posterior` / :func:`posterior_to_loo` convert between the leave-one-out
  prediction ``pi^i(v) = p(x_0^i = v | x_t^{-i})`` that the NELBO is minimised by and the
  full posterior ``p(x_0^i = v | x_t)`` (docs/theory.md §4.3).  They differ by one factor
  ``exp(beta_t)`` on the observed token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from models.diffusion.schedule import EPS, alpha, beta, dalpha

__all__ = ["corrupt", "posterior", "nelbo", "loo_to_posterior", "posterior_to_loo", "min_time", "check_time", "T_MIN"]


def min_time(eps: float = EPS) -> float:
    """Smallest diffusion time whose noise level float64 resolves: ``(1 - eps) t >= ulp(1) = 2^-52``.

    Every quantity of the process goes through ``1 - alpha_t = (1 - eps) t`` computed as
    ``1 - alpha_t`` in float64.  Below ``2^-54 / (1 - eps)`` (about ``5.6e-17``) ``alpha_t``
    rounds to exactly 1: ``beta_t = inf`` and the posterior is ``0 / 0 = NaN``.  Between that and
    this threshold ``1 - alpha_t`` is off by up to 100 %.  From here on it is within 50 % (the
    relative error shrinks as ``2^-53 / t``), which moves ``beta_t`` (about 36 + log V here) by
    at most ``log 1.5``.
    """
    return math.ulp(1.0) / (1.0 - eps)


#: :func:`min_time` of the default schedule (about 2.2e-16).
T_MIN = min_time()


def check_time(t: float | Tensor, name: str = "t", eps: float = EPS) -> None:
    """Raise ``ValueError`` naming ``name`` when a time (scalar or any tensor) is below :func:`min_time`.

    ``NaN`` is rejected too; the upper end and the type are the callers' checks.
    """
    low = float(t.detach().min()) if isinstance(t, Tensor) and t.numel() else t
    if isinstance(low, int | float) and not low >= min_time(eps):
        raise ValueError(
            f"{name} must be >= {min_time(eps):.3g}, the smallest diffusion time float64 resolves "
            f"(below it alpha_t rounds to 1 and beta_t to inf), got {low!r}"
        )


def corrupt(
    x0: Tensor,
    t: float | Tensor,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
    eps: float = EPS,
) -> Tensor:
    """Sample ``x_t ~ q(x_t | x_0)``: each position is redrawn uniformly with prob. ``1 - alpha_t``.

    The redraw ranges over all ``V`` tokens and may return the original token, so
    the expected fraction of positions that actually change is
    ``(1 - alpha_t)(1 - 1/V)``.

    Parameters
    ----------
    x0 : Tensor
        ``long (B, L)`` clean sequences (not modified).
    t : float or Tensor
        Diffusion time in ``[0, 1]``; a tensor of shape ``(B,)`` gives one time per row.
    vocab_size : int
        Alphabet size ``V``.
    generator : torch.Generator, optional
        CPU generator for the random draws.

    Returns
    -------
    Tensor
        ``long (B, L)`` corrupted sequences on the device of ``x0``.
    """
    a = alpha(t, eps)
    if isinstance(a, Tensor):
        a = a.reshape(-1, 1).to(torch.float64).cpu()
    # Draw on the CPU so that a CPU generator gives the same corruption on any device.
    u = torch.rand(x0.shape, generator=generator, dtype=torch.float64)
    fresh = torch.randint(0, vocab_size, x0.shape, generator=generator)
    resample = (u >= a).to(x0.device)
    return torch.where(resample, fresh.to(x0.device), x0)


def _as(t: float | Tensor, like: Tensor) -> float | Tensor:
    """Times as ``like``'s dtype and device, so that schedule quantities are computed in that precision."""
    return t.to(device=like.device, dtype=like.dtype) if isinstance(t, Tensor) else t


def _per_row(value: float | Tensor, like: Tensor) -> float | Tensor:
    """Broadcast a scalar or a ``(B,)`` tensor against ``(B, L, V)`` tensors as ``(B, 1, 1)``."""
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=like.dtype).reshape(-1, 1, 1)
    return value


def _x0_vectors(x0: Tensor, vocab_size: int) -> Tensor:
    """Tokens ``(B, L)`` -> one-hot float64; probability vectors ``(B, L, V)`` pass through."""
    if x0.dtype == torch.long:
        return F.one_hot(x0, vocab_size).to(torch.float64)
    return x0


def posterior(
    x_t: Tensor,
    x0: Tensor,
    s: float | Tensor,
    t: float | Tensor,
    vocab_size: int,
    *,
    eps: float = EPS,
) -> Tensor:
    """Closed-form reverse posterior ``q(x_s | x_t, x_0)`` of uniform noise, ``0 <= s < t``.

    With ``z = onehot(x_t)`` and ``x = x_0`` per position (docs/theory.md §3.2)::

        num = V a_t (x * z) + (a_t|s - a_t) z + (a_s - a_t) x + (a_s - a_t)(1 - a_s) / (V a_s)
        q   = num / (V a_t <x, z> + 1 - a_t)

    Both are linear in ``x``, so passing a probability vector for ``x_0`` (the
    denoiser's prediction) gives the plug-in reverse step, i.e. D3PM's mixture
    ``sum_v x(v) q(x_t | v) q(x_s | x_t, v) / sum_v x(v) q(x_t | v)``.  Feed it the
    leave-one-out prediction: only then is it the true reverse transition (4.3).
    ``s = 0`` (``alpha_s = 1``) gives the final noise-removal step, which is the full
    posterior ``p(x_0 | x_t)`` computed from the prediction.

    Parameters
    ----------
    x_t : Tensor
        ``long (B, L)`` noisy tokens.
    x0 : Tensor
        ``long (B, L)`` clean tokens, or ``(B, L, V)`` probability vectors (plug-in).
    s, t : float or Tensor
        Times with ``0 <= s < t <= 1``; tensors of shape ``(B,)`` give one time per row.
    vocab_size : int
        Alphabet size ``V``.

    Returns
    -------
    Tensor
        ``(B, L, V)`` probabilities of ``x_s`` (float64 for token input, else the dtype of ``x0``).
    """
    x = _x0_vectors(x0, vocab_size)  # (B, L, V)
    z = F.one_hot(x_t, vocab_size).to(x.dtype)  # (B, L, V)
    V = vocab_size
    a_t = _per_row(alpha(_as(t, x), eps), x)
    a_s = _per_row(alpha(_as(s, x), eps), x)
    a_ts = a_t / a_s
    num = V * a_t * x * z + (a_ts - a_t) * z + (a_s - a_t) * x + (a_s - a_t) * (1 - a_s) / (V * a_s)  # (B, L, V)
    den = V * a_t * (x * z).sum(-1, keepdim=True) + 1 - a_t  # (B, L, 1)
    return num / den


def nelbo(
    log_x_theta: Tensor,
    x0: Tensor,
    x_t: Tensor,
    t: float | Tensor,
    *,
    eps: float = EPS,
) -> Tensor:
    """UDLM continuous-time NELBO integrand per token (docs/theory.md §3.3), in nats per unit time.

    With ``xbar = V a_t onehot(x_0) + (1 - a_t)``, ``xbar_theta = V a_t x_theta + (1 - a_t)``
    and ``z`` the observed noisy token::

        l = a'_t / (V a_t) * [ V / xbar_z - V / xbar_theta_z
                               - sum_j xbar_j / xbar_z * log(xbar_j xbar_theta_z / (xbar_theta_j xbar_z)) ]

    ``l >= 0``, it is zero when ``x_theta = onehot(x_0)``, and it equals the limit of
    ``KL(q(x_s|x_t,x_0) || p_theta(x_s|x_t)) / (t - s)`` as ``s -> t``.  Its minimiser
    over ``x_theta`` is the leave-one-out prediction, not ``p(x_0 | x_t)`` (4.3).

    Parameters
    ----------
    log_x_theta : Tensor
        ``(B, L, V)`` log-probabilities of the prediction (may contain ``-inf``).
    x0 : Tensor
        ``long (B, L)`` clean tokens.
    x_t : Tensor
        ``long (B, L)`` noisy tokens.
    t : float or Tensor
        Diffusion time; a ``(B,)`` tensor gives one time per row.

    Returns
    -------
    Tensor
        ``(B, L)`` per-token loss in the dtype of ``log_x_theta``.
    """
    V = log_x_theta.shape[-1]
    t = _as(t, log_x_theta)
    a, da = alpha(t, eps), dalpha(t, eps)
    if isinstance(a, Tensor):
        a, da = _per_row(a, log_x_theta), _per_row(da, log_x_theta)  # (B, 1, 1)
    else:
        a = torch.tensor(a, dtype=log_x_theta.dtype, device=log_x_theta.device)
        da = torch.tensor(da, dtype=log_x_theta.dtype, device=log_x_theta.device)
    # log xbar_theta = log(V a x_theta + 1 - a), computed from log-probabilities so that
    # confident predictions (x_theta ~ 0 for most tokens) stay accurate in float32.
    log_xt = torch.logaddexp(torch.log(V * a) + log_x_theta, torch.log1p(-a).expand_as(log_x_theta))  # (B, L, V)
    x = F.one_hot(x0, V).to(log_x_theta.dtype)  # (B, L, V)
    xbar = V * a * x + (1 - a)  # (B, L, V)
    zi = x_t.unsqueeze(-1)  # (B, L, 1)
    xbar_z = xbar.gather(-1, zi)  # (B, L, 1)
    log_xt_z = log_xt.gather(-1, zi)  # (B, L, 1)
    ratio = xbar / xbar_z  # (B, L, V)
    # The j = z term is log 1 = 0, so summing over every j is exact.
    log_term = (ratio * (torch.log(ratio) + log_xt_z - log_xt)).sum(-1, keepdim=True)  # (B, L, 1)
    bracket = V / xbar_z - V * torch.exp(-log_xt_z) - log_term  # (B, L, 1)
    return (da / (V * a) * bracket).squeeze(-1)  # (B, L)


def _beta_logits(x_t: Tensor, t: float | Tensor, like: Tensor, eps: float) -> Tensor:
    """``beta_t * onehot(x_t)`` as ``(B, L, V)`` in the dtype of ``like``."""
    V = like.shape[-1]
    b = beta(_as(t, like), V, eps)
    b = _per_row(b, like) if isinstance(b, Tensor) else b
    return F.one_hot(x_t, V).to(like.dtype) * b


def loo_to_posterior(log_loo: Tensor, x_t: Tensor, t: float | Tensor, *, eps: float = EPS) -> Tensor:
    """Full posterior ``log p(x_0^i | x_t)`` from the leave-one-out prediction (docs/theory.md §4.3).

    ``p(x_0^i = v | x_t) ∝ pi^i(v) exp(beta_t [v = x_t^i])``: the observed token is
    evidence worth a likelihood ratio ``e^beta = 1 + V a_t / (1 - a_t)``.  In logits,
    ``full = log_softmax(log_softmax(loo) + beta_t onehot(x_t))``.  Exact for any data
    distribution.  Use it for MAP (argmax) read-out; ancestral steps need the LOO form.

    Parameters
    ----------
    log_loo : Tensor
        ``(B, L, V)`` leave-one-out log-probabilities (or unnormalised logits).
    x_t : Tensor
        ``long (B, L)`` noisy tokens the prediction was made from.
    t : float or Tensor
        Diffusion time in ``(0, 1]``; a ``(B,)`` tensor gives one time per row.

    Returns
    -------
    Tensor
        ``(B, L, V)`` log-probabilities of the full posterior.
    """
    return torch.log_softmax(torch.log_softmax(log_loo, -1) + _beta_logits(x_t, t, log_loo, eps), -1)


def posterior_to_loo(log_post: Tensor, x_t: Tensor, t: float | Tensor, *, eps: float = EPS) -> Tensor:
    """Leave-one-out ``log pi^i`` from the full posterior: the inverse of :func:`loo_to_posterior`.

    ``pi^i(v) ∝ p(x_0^i = v | x_t) exp(-beta_t [v = x_t^i])``.  Use it to run a
    cross-entropy-trained denoiser (which learns the full posterior) through the
    ancestral sampler.

    Parameters
    ----------
    log_post : Tensor
        ``(B, L, V)`` full-posterior log-probabilities (or logits).
    x_t : Tensor
        ``long (B, L)`` noisy tokens.
    t : float or Tensor
        Diffusion time in ``(0, 1]``; a ``(B,)`` tensor gives one time per row.

    Returns
    -------
    Tensor
        ``(B, L, V)`` leave-one-out log-probabilities.
    """
    return torch.log_softmax(torch.log_softmax(log_post, -1) - _beta_logits(x_t, t, log_post, eps), -1)

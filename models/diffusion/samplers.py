"""Retrieval and generation samplers over any leave-one-out denoiser.

A *denoiser* is any callable ``denoiser(x_t, t) -> log pi`` taking ``long (B, L)`` tokens
and ``float64 (B,)`` times and returning the leave-one-out log-probabilities
``log p(x_0^i | x_t^{-i})`` of shape ``(B, L, V)``.  The trained network (through
:class:`NetworkDenoiser`) and the exact :class:`~models.diffusion.oracle.Oracle` both are.

Samplers (docs/theory.md §3.6):

* :func:`argmax` -- one network call, MAP read-out of the *full* posterior obtained from
  the LOO prediction (4.3); the analogue of one Hopfield update.
* :func:`fixed_point` -- iterate the MAP read-out at fixed ``t`` until nothing changes;
  synchronous, so it can 2-cycle like a synchronous Hopfield net: cycles are detected.
* :func:`async_fixed_point` -- single-site leave-one-out argmax, one position at a time
  (a random order per sweep, the same for every row).  For the oracle this is exact
  coordinate descent on the log-sum-exp energy at ``beta(t)`` (4.4), so it never increases
  it and always converges.
* :func:`ancestral` -- DDPM-style sampling from ``t`` down to ``t_end = 1e-5`` on a grid of
  step ``dt``, each step drawn from the plug-in posterior ``q(x_s | x_t, pi)`` (§3.2), then a
  final noise-removal step to ``t = 0``.  Posterior and Gumbel-max draws are float64
  (float32 sampling measurably biases discrete samplers).
* :func:`generate` -- ancestral sampling from pure noise (``t = 1``).

Every sampler is batched (one denoiser call per update for the whole batch, no loop over
queries), never modifies its input and takes its randomness from a ``torch.Generator``
(draws are made on the CPU, so results do not depend on the device).  ``steps`` counts
denoiser evaluations per row (sweeps for :func:`async_fixed_point`, each ``L`` evaluations).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from models.base import Retrieval
from models.diffusion.process import check_time, loo_to_posterior, posterior
from models.diffusion.schedule import EPS, sigma

__all__ = [
    "DenoiserFn",
    "NetworkDenoiser",
    "map_estimate",
    "argmax",
    "fixed_point",
    "async_fixed_point",
    "ancestral",
    "generate",
    "time_grid",
    "check_dt",
    "T_END",
    "TIE_ATOL",
    "MAX_GRID_STEPS",
]

#: ``(x_t long (B, L), t float64 (B,)) -> leave-one-out log-probabilities (B, L, V)``.
DenoiserFn = Callable[[Tensor, Tensor], Tensor]

#: Last time of the ancestral grid before the final noise-removal step (DUO / paper: 1e-5).
T_END = 1e-5
#: Log-probabilities within this of the largest count as tied (then the lowest token id wins,
#: or the current token in the asynchronous update).  The LOO -> posterior conversion and the
#: oracle's pattern sums round at ~1e-15; without a tolerance that rounding, not the rule,
#: picks among exactly tied tokens (measured: the lowest id won 78 % of exact ties).
TIE_ATOL = 1e-9
#: Most steps an ancestral time grid may have (each is one denoiser call for the whole batch):
#: ``dt = 1e-5`` from ``t = 1`` is the finest grid accepted.
MAX_GRID_STEPS = 100_000


class NetworkDenoiser:
    """Wrap a :class:`~models.diffusion.denoiser.Denoiser` as a sampler-compatible callable.

    Runs the network in eval mode without gradients on ``sigma(t)`` and returns its
    log-probabilities in float64 (the network computes in float32).
    """

    def __init__(self, model: torch.nn.Module, eps: float = EPS) -> None:
        self.model = model
        self.eps = eps

    @torch.inference_mode()
    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor:
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(x_t, sigma(t.to(torch.float64), self.eps).float())  # (B, L, V)
        finally:
            self.model.train(was_training)
        return out.double()


def _times(t: float | Tensor, x: Tensor) -> Tensor:
    """Scalar or ``(B,)`` time -> ``float64 (B,)`` on the device of ``x``."""
    if isinstance(t, Tensor):
        return t.to(device=x.device, dtype=torch.float64).expand(x.shape[0]).clone()
    return torch.full((x.shape[0],), float(t), dtype=torch.float64, device=x.device)


def _default_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator``, or a fresh CPU one seeded 0 (never the global RNG), as the models do."""
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _gumbel_argmax(log_probs: Tensor, generator: torch.Generator) -> Tensor:
    """One categorical draw per position by Gumbel-max, in float64; noise drawn on the CPU."""
    u = torch.rand(log_probs.shape, generator=generator, dtype=torch.float64).to(log_probs.device)
    gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(torch.float64).tiny)))
    return (log_probs.to(torch.float64) + gumbel).argmax(-1)


def _first_max(log_probs: Tensor) -> Tensor:
    """Lowest index among the entries within :data:`TIE_ATOL` of the maximum, ``long (...)``."""
    top = log_probs >= log_probs.amax(-1, keepdim=True) - TIE_ATOL  # (..., V) maximisers up to rounding
    return top.to(torch.uint8).argmax(-1)  # argmax returns the first of equal values


def _stack(trajectory: list[Tensor] | None) -> Tensor | None:
    return None if trajectory is None else torch.stack(trajectory)


def map_estimate(denoiser: DenoiserFn, x_t: Tensor, t: float | Tensor) -> Tensor:
    """``argmax_v p(x_0^i = v | x_t)`` with the full posterior from the LOO output, ``long (B, L)``.

    The LOO prediction ignores the observed token; the full posterior weighs it by
    ``e^beta`` (4.3).  Ties -- log-probabilities within :data:`TIE_ATOL` of the largest --
    go to the lowest token id.
    """
    check_time(t, "t")
    tt = _times(t, x_t)
    return _first_max(loo_to_posterior(denoiser(x_t, tt), x_t, tt))


def argmax(denoiser: DenoiserFn, x_t: Tensor, t: float | Tensor, *, record: bool = False) -> Retrieval:
    """One-shot MAP retrieval (one denoiser call).  ``converged`` is True by definition."""
    x = map_estimate(denoiser, x_t, t)
    B = x_t.shape[0]
    ones = torch.ones(B, dtype=torch.long, device=x.device)
    traj = torch.stack([x_t, x]) if record else None
    return Retrieval(states=x, steps=ones, converged=ones.bool(), trajectory=traj)


def fixed_point(
    denoiser: DenoiserFn, x_t: Tensor, t: float | Tensor, *, max_steps: int = 100, record: bool = False
) -> Retrieval:
    """Synchronous fixed-point iteration ``x <- argmax p(x_0 | x, t)`` at fixed ``t``.

    A row stops when an update leaves it unchanged (``converged = True``) or when it
    returns to the state of two iterations before, a 2-cycle (``converged = False``; the
    later state of the cycle is returned).  Rows that stopped are no longer evaluated.
    ``steps`` counts evaluations, including the one that confirmed the fixed point.

    Parameters
    ----------
    denoiser : callable
        ``(x_t, t) -> (B, L, V)`` LOO log-probabilities.
    x_t : Tensor
        ``long (B, L)`` queries (not modified).
    t : float or Tensor
        Diffusion time the iteration runs at (scalar or ``(B,)``).
    max_steps : int
        Cap on the number of iterations.
    record : bool
        Return the ``(T, B, L)`` trajectory (row 0 is the query).
    """
    check_time(t, "t")
    B = x_t.shape[0]
    tt = _times(t, x_t)
    x, prev = x_t.clone(), x_t.clone()
    steps = torch.zeros(B, dtype=torch.long, device=x.device)
    converged = torch.zeros(B, dtype=torch.bool, device=x.device)
    active = torch.ones(B, dtype=torch.bool, device=x.device)
    trajectory = [x_t.clone()] if record else None
    for k in range(max_steps):
        idx = active.nonzero().squeeze(-1)
        cur = x[idx]  # (A, L)
        new = map_estimate(denoiser, cur, tt[idx])  # (A, L)
        same = (new == cur).all(-1)  # (A,)
        cycle = (new == prev[idx]).all(-1) & ~same if k > 0 else torch.zeros_like(same)
        steps[idx] += 1
        converged[idx] = same
        prev[idx] = cur
        x[idx] = new
        active[idx] = ~(same | cycle)
        if record:
            trajectory.append(x.clone())
        if not bool(active.any()):
            break
    return Retrieval(states=x, steps=steps, converged=converged, trajectory=_stack(trajectory))


def async_fixed_point(
    denoiser: DenoiserFn,
    x_t: Tensor,
    t: float | Tensor,
    *,
    max_steps: int = 100,
    generator: torch.Generator | None = None,
    record: bool = False,
) -> Retrieval:
    """Asynchronous leave-one-out coordinate descent: ``x^i <- argmax_v pi^i(v | x^{-i})``.

    Each sweep visits every position once, in a random order drawn from ``generator``
    (default: a CPU generator seeded 0) and shared by all rows (each row is still
    updated one site at a time).  The current token is kept when it ties for the
    maximum (within :data:`TIE_ATOL`), so every change strictly lowers the oracle energy;
    otherwise the lowest token id among the maxima is taken.  A row has converged
    after a sweep that changes nothing.

    The single-site update uses the LOO prediction, not the full posterior: for the
    oracle, ``argmin_v E_beta(x^{i<-v}) = argmax_v pi^i(v)`` exactly (docs/theory.md §4.4).

    Returns
    -------
    Retrieval
        ``steps`` = sweeps run (each costs ``L`` denoiser calls); the trajectory has one
        row per sweep.
    """
    check_time(t, "t")
    B, L = x_t.shape
    generator = _default_generator(generator)
    tt = _times(t, x_t)
    x = x_t.clone()
    steps = torch.zeros(B, dtype=torch.long, device=x.device)
    converged = torch.zeros(B, dtype=torch.bool, device=x.device)
    trajectory = [x_t.clone()] if record else None
    for _ in range(max_steps):
        idx = (~converged).nonzero().squeeze(-1)
        cur = x[idx]  # (A, L)
        changed = torch.zeros(idx.shape[0], dtype=torch.bool, device=x.device)
        for i in torch.randperm(L, generator=generator).tolist():
            log_pi = denoiser(cur, tt[idx])[:, i]  # (A, V)
            here = cur[:, i]
            best = _first_max(log_pi)
            keep = log_pi.gather(-1, here[:, None]).squeeze(-1) >= log_pi.amax(-1) - TIE_ATOL
            new = torch.where(keep, here, best)
            changed |= new != here
            cur[:, i] = new
        x[idx] = cur
        steps[idx] += 1
        converged[idx] = ~changed
        if record:
            trajectory.append(x.clone())
        if bool(converged.all()):
            break
    return Retrieval(states=x, steps=steps, converged=converged, trajectory=_stack(trajectory))


def check_dt(dt: float, t: float = 1.0, t_end: float = T_END, max_steps: int | None = None) -> int:
    """Number of grid steps from ``t`` to ``t_end`` at step ``dt``; ``ValueError`` naming ``dt`` past the limit.

    The limit is :data:`MAX_GRID_STEPS` (a ``max_steps`` cap counts: a capped grid is coarser).
    """
    if isinstance(dt, bool) or not isinstance(dt, int | float) or not 0 < dt <= 1:
        raise ValueError(f"dt must be a number in (0, 1], got {dt!r}")
    n = max(1, math.ceil((t - t_end) / dt - 1e-9))
    if max_steps is not None:
        n = min(n, max_steps)
    if n > MAX_GRID_STEPS:
        raise ValueError(
            f"dt={dt!r} makes {n:,} ancestral steps from t={t:g} (one denoiser call each), more than the "
            f"limit of {MAX_GRID_STEPS:,}; use dt >= {(t - t_end) / MAX_GRID_STEPS:.3g} or cap max_steps"
        )
    return n


def time_grid(t: float, dt: float = 0.01, t_end: float = T_END, max_steps: int | None = None) -> Tensor:
    """Decreasing ``float64`` grid ``t = t_0 > ... > t_n = t_end`` with spacing at most ``dt``.

    ``n = ceil((t - t_end) / dt)`` (at least 1), capped at ``max_steps``; more than
    :data:`MAX_GRID_STEPS` steps raise ``ValueError`` (:func:`check_dt`).
    """
    n = check_dt(dt, t, t_end, max_steps)
    return torch.linspace(t, t_end, n + 1, dtype=torch.float64)


def ancestral(
    denoiser: DenoiserFn,
    x_t: Tensor,
    t: float,
    *,
    dt: float = 0.01,
    t_end: float = T_END,
    max_steps: int | None = None,
    noise_removal: str = "ancestral",
    generator: torch.Generator | None = None,
    record: bool = False,
) -> Retrieval:
    """Ancestral sampling from time ``t`` to 0 (docs/theory.md §3.6, §6.2).

    On the grid of :func:`time_grid`, each step draws
    ``x_s ~ q(x_s | x_t, x_0 = pi(x_t, t))``, the plug-in posterior with the LOO
    prediction, which is the exact reverse transition when ``pi`` is exact.  The final
    step goes from ``t_end`` to 0: ``noise_removal="ancestral"`` samples the same posterior
    with ``alpha_s = 1`` (i.e. the full posterior ``p(x_0 | x_t)``), ``"greedy"`` takes its
    argmax.  (DUO's greedy takes the argmax of ``x_theta``; we use the full posterior, the
    MAP estimate.)

    Parameters
    ----------
    denoiser : callable
        ``(x_t, t) -> (B, L, V)`` LOO log-probabilities.
    x_t : Tensor
        ``long (B, L)`` start states (not modified).
    t : float
        Start time in ``(t_end, 1]``.
    dt : float
        Largest grid step.
    max_steps : int, optional
        Cap on the number of grid steps (a coarser grid; the final step is extra).
    noise_removal : {"ancestral", "greedy"}
        Final step.
    generator : torch.Generator, optional
        Source of the Gumbel noise; default a CPU generator seeded 0.
    record : bool
        Return the ``(n + 2, B, L)`` trajectory.

    Returns
    -------
    Retrieval
        ``steps = n + 1`` denoiser calls per row; ``converged`` is True (it reached t = 0).
    """
    if noise_removal not in ("ancestral", "greedy"):
        raise ValueError(f"noise_removal must be 'ancestral' or 'greedy', got {noise_removal!r}")
    generator = _default_generator(generator)
    grid = time_grid(max(float(t), t_end), dt, t_end, max_steps).tolist()
    x = x_t.clone()
    trajectory = [x_t.clone()] if record else None
    for t_k, s_k in zip(grid[:-1], grid[1:], strict=True):
        pi = denoiser(x, _times(t_k, x)).exp()  # (B, L, V) float64 LOO probabilities
        x = _gumbel_argmax(torch.log(posterior(x, pi, s_k, t_k, pi.shape[-1])), generator)
        if record:
            trajectory.append(x)
    log_pi = denoiser(x, _times(t_end, x))  # (B, L, V)
    if noise_removal == "ancestral":
        x = _gumbel_argmax(torch.log(posterior(x, log_pi.exp(), 0.0, t_end, log_pi.shape[-1])), generator)
    else:
        x = _first_max(loo_to_posterior(log_pi, x, t_end))
    if record:
        trajectory.append(x)
    B = x_t.shape[0]
    steps = torch.full((B,), len(grid), dtype=torch.long, device=x.device)
    return Retrieval(
        states=x, steps=steps, converged=torch.ones(B, dtype=torch.bool, device=x.device), trajectory=_stack(trajectory)
    )


def generate(
    denoiser: DenoiserFn,
    n: int,
    length: int,
    vocab_size: int,
    *,
    dt: float = 0.01,
    noise_removal: str = "ancestral",
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    record: bool = False,
) -> Retrieval:
    """Sample ``n`` sequences from pure noise: ``x_1 ~ Uniform(V)^L``, then :func:`ancestral` from ``t = 1``."""
    generator = _default_generator(generator)
    x1 = torch.randint(0, vocab_size, (n, length), generator=generator).to(device)
    return ancestral(denoiser, x1, 1.0, dt=dt, noise_removal=noise_removal, generator=generator, record=record)

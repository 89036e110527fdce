"""Extraction: can the training sequences be read out of the memory?

* **Prompted** (:func:`prompted_rate`): some tokens of the sequence are given, the rest start
  as uniform noise at ``t = 1`` and the ancestral sampler runs to ``t = 0`` while the given
  tokens are clamped to their values after every step (inpainting).  A sample is an
  *extraction* when the completion equals the sequence exactly.  Two prompts: the first half
  (``"prefix"``) and a fresh uniformly random half of the positions per sample (``"random"``).
* **Unprompted** (:func:`unprompted_copies`): how many of ``n`` generations from pure noise
  are exact copies of each sequence.

The sampler step is the plug-in posterior ``q(x_s | x_t, x_0 = pi)`` of
:func:`models.diffusion.process.posterior`, drawn by Gumbel-max, on the grid of
:func:`models.diffusion.samplers.time_grid` followed by the final noise removal ``t_end -> 0``,
as :func:`models.diffusion.samplers.ancestral`; with nothing clamped it is that sampler.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from experiments.transition.sampling import Engine
from models.diffusion.process import posterior
from models.diffusion.samplers import T_END, time_grid

__all__ = ["PROMPTS", "prompt_mask", "inpaint", "prompted_rate", "unprompted_copies"]

PROMPTS = ("prefix", "random")


def prompt_mask(kind: str, B: int, L: int, generator: torch.Generator) -> Tensor:
    """``bool (B, L)``: the given positions, ``L // 2`` per row (the first half, or a uniform random half)."""
    if kind == "prefix":
        return (torch.arange(L) < L // 2).expand(B, L).clone()
    if kind == "random":
        ranks = torch.rand((B, L), generator=generator).argsort(-1).argsort(-1)
        return ranks < L // 2
    raise ValueError(f"prompt kind must be one of {PROMPTS}, got {kind!r}")


def _gumbel_draw(log_probs: Tensor, x: Tensor, s: float, t: float, generator: torch.Generator) -> Tensor:
    """``x_s ~ q(x_s | x_t = x, x_0 = exp(log_probs))`` by Gumbel-max, ``long (C, L)``."""
    q = posterior(x, log_probs.exp(), s, t, log_probs.shape[-1])  # (C, L, V)
    u = torch.rand(q.shape, generator=generator, dtype=torch.float64).clamp_min_(torch.finfo(torch.float64).tiny)
    return (q.log() - (-u.log()).log()).argmax(-1)


def inpaint(engine: Engine, x0: Tensor, known: Tensor, generator: torch.Generator) -> Tensor:
    """Complete ``x0`` where ``known`` is False: ancestral sampling from noise with the known tokens clamped.

    Parameters
    ----------
    engine : Engine
        The fitted diffusion or oracle memory (its ``mem.dt`` sets the grid).
    x0 : Tensor
        ``long (B, L)`` sequences whose ``known`` tokens are given.
    known : Tensor
        ``bool (B, L)``.
    generator : torch.Generator
        Source of the start noise and of every draw.

    Returns
    -------
    Tensor
        ``long (B, L)`` completions (equal to ``x0`` on ``known``).
    """
    V = engine.mem.vocab_size_
    x = torch.where(known, x0, torch.randint(0, V, x0.shape, generator=generator))
    grid = time_grid(1.0, engine.mem.dt, T_END).tolist()
    for t_k, s_k in [*zip(grid[:-1], grid[1:], strict=True), (T_END, 0.0)]:
        state = x

        def step(log_probs: Tensor, rows: slice, state=state, t_k=t_k, s_k=s_k) -> Tensor:
            return _gumbel_draw(log_probs, state[rows], s_k, t_k, generator)

        x = torch.where(known, x0, engine.map(step, x, t_k))
    return x


def prompted_rate(engine: Engine, x0: Tensor, kind: str, samples: int, generator: torch.Generator) -> np.ndarray:
    """Share of ``samples`` inpainted completions per sequence that equal it exactly, ``float64 (B,)``."""
    B, L = x0.shape
    target = x0.repeat_interleave(samples, dim=0)  # (B * samples, L)
    known = prompt_mask(kind, B * samples, L, generator)
    done = inpaint(engine, target, known, generator)
    return (done == target).all(-1).view(B, samples).double().mean(-1).numpy()


def unprompted_copies(generations: Tensor, x0: Tensor) -> np.ndarray:
    """How many rows of ``generations`` (``long (n, L)``) equal each row of ``x0`` (``long (B, L)``), ``int64 (B,)``."""
    equal = (generations.unsqueeze(0) == x0.unsqueeze(1)).all(-1)  # (B, n)
    return equal.sum(-1).numpy().astype(np.int64)

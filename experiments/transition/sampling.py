"""The evaluation's samplers on a CPU budget: the memories' own samples and numbers, about twice as fast.

A transition cell restores 1024 queries per split and corruption level with the ancestral
sampler: about 180 network calls on 1024 sequences, 70 of the cell's 87 CPU seconds before
this module (quick preset, K = 128, one thread).  Three things made them slow, none of them
the arithmetic of the network:

* **Page faults.**  At 1024 sequences every activation (``(B, L, 4 d)`` float32: 32 MB) and
  every float64 ``(B, L, V)`` tensor of the sampler (8 MB) is a fresh allocation that the C
  allocator maps from the kernel, which zero-fills it page by page: a third of the learned
  sampler's CPU time was system time.  Chunks of :data:`CHUNK` rows stay in cache and in the
  allocator's pool.
* **Python dispatch** of the eager network, ~15 % at 128 rows: the network is run as a frozen
  TorchScript trace (:func:`network_probabilities`), used only when it reproduces the module's
  output bit for bit on a probe batch.
* **Bookkeeping.**  ``samplers.ancestral`` materialises the posterior ``q(x_s | x_t, pi)`` in
  float64 (one-hot codes, a dozen passes), takes its log and adds Gumbel noise (two more
  logs).  :func:`_draw` makes the same draw from the same uniforms with four passes: the
  posterior's normaliser is constant per position and the observed token's extra mass is a
  gather / scatter on ``(B, L)``, so ``argmax_v log q_v + G_v = argmax_v num_v / E_v`` with
  ``E = -log U``.

So every step uses the network output and the uniforms of ``samplers.ancestral`` (drawn chunk
after chunk from the same generator, which on the CPU gives the numbers of one draw over the
whole batch); the two formulas pick different tokens only where two candidates tie to within
float64 rounding.  The rows of a cell equal those of the memories' own ``retrieve`` /
``generate`` / ``denoise`` (``chunk=None``, the reference path, kept for the tests and
``benchmarks/transition_eval.py``), checked bit for bit on a K = 128 quick cell and in
``tests/experiments_suite/test_transition_diagnostics.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from energy.diffusion import conditional_entropy
from models.diffusion.memory import ENTROPY_TIME, DiffusionMemory
from models.diffusion.samplers import T_END, time_grid
from models.diffusion.schedule import EPS, alpha, sigma
from models.diffusion.train import auto_threads
from models.threads import torch_threads

__all__ = ["CHUNK", "ProbFn", "probabilities", "network_probabilities", "denoise", "entropy", "restore", "generate"]

#: Rows per chunk.  On the reference machine 64-256 are equally fast (the activations of 128
#: sequences of 32 tokens, 4 MB, stay in its 32 MB L3 cache); 1024 is 1.4x slower.
CHUNK = 128

#: ``(x long (C, L), t float) -> float64 (C, L, V)`` leave-one-out probabilities ``pi``.
ProbFn = Callable[[Tensor, float], Tensor]


def _times(t: float, x: Tensor) -> Tensor:
    return torch.full((x.shape[0],), float(t), dtype=torch.float64, device=x.device)


def _chunks(x: Tensor, chunk: int):
    return (x[i : i + chunk] for i in range(0, x.shape[0], chunk))


def _frozen(model: torch.nn.Module, x: Tensor, s: Tensor) -> torch.nn.Module:
    """``model`` as a frozen TorchScript trace when that gives its output bit for bit on ``(x, s)``, else ``model``."""
    with torch.no_grad(), warnings.catch_warnings():
        # The trace fixes the sequence length and the number of attention heads, as the memory
        # does.  TorchScript is deprecated in favour of torch.compile, which costs minutes of
        # compilation per network here (and was slower once compiled); without it, the module runs.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            traced = torch.jit.freeze(torch.jit.trace(model, (x, s)))
        except (AttributeError, RuntimeError, TypeError):  # no TorchScript, or a network it cannot follow
            return model
        probe_x, probe_s = x.flip(0)[:3], s.flip(0)[:3]  # other rows, another batch size
        return traced if torch.equal(traced(probe_x, probe_s), model(probe_x, probe_s)) else model


def network_probabilities(mem: DiffusionMemory, chunk: int = CHUNK) -> ProbFn:
    """``pi`` of a trained network: ``exp`` of ``samplers.NetworkDenoiser``'s output, from a frozen trace.

    The trace is taken on ``chunk`` random sequences at random times and kept only if it
    reproduces the module on three other rows exactly.
    """
    model = mem.model_.eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, mem.vocab_size_, (chunk, mem.patterns_.shape[1]), generator=g).to(mem.device_)
    s = sigma(torch.rand(chunk, generator=g, dtype=torch.float64), EPS).float().to(mem.device_)
    net = _frozen(model, x, s)

    def probs(x: Tensor, t: float) -> Tensor:
        return net(x, sigma(_times(t, x), EPS).float()).double().exp_()  # (C, L, V)

    return probs


def probabilities(mem, chunk: int = CHUNK) -> ProbFn:
    """The leave-one-out probabilities of a fitted diffusion or oracle memory."""
    if isinstance(mem, DiffusionMemory):
        return network_probabilities(mem, chunk)
    oracle = mem.oracle_
    return lambda x, t: oracle.loo(x, _times(t, x))


def _threads(mem) -> int | None:
    """The thread count the memory's own calls use (one for a small network on a CPU)."""
    return auto_threads(mem.model_, mem.device_, None) if isinstance(mem, DiffusionMemory) else None


def denoise(mem, x: Tensor, t: float | Tensor, chunk: int | None = CHUNK) -> Tensor:
    """``mem.denoise(x, t)``, ``chunk`` rows at a time: ``float64 (B, L, V)`` leave-one-out log-probabilities.

    ``t`` is a time or a ``(B,)`` tensor of times, one per row.
    """
    if chunk is None:
        return mem.denoise(x, t)
    with torch_threads(_threads(mem)):
        if isinstance(t, Tensor) and t.dim() == 1:
            return torch.cat([mem.denoise(xc, tc) for xc, tc in zip(_chunks(x, chunk), _chunks(t, chunk), strict=True)])
        return torch.cat([mem.denoise(xc, t) for xc in _chunks(x, chunk)])


def entropy(mem, x: Tensor, chunk: int | None = CHUNK) -> Tensor:
    """Mean conditional entropy per sequence at ``t = 1e-5`` (``Retrieval.entropy``), ``float64 (B,)``."""
    if chunk is None:
        return conditional_entropy(mem.denoise(x, ENTROPY_TIME))
    with torch_threads(_threads(mem)):
        return torch.cat([conditional_entropy(mem.denoise(xc, ENTROPY_TIME)) for xc in _chunks(x, chunk)])


def _draw(x: Tensor, pi: Tensor, s: float, t: float, generator: torch.Generator) -> Tensor:
    """``x_s ~ q(x_s | x_t = x, x_0 = pi)`` by Gumbel-max, the draw of ``samplers.ancestral`` in four passes.

    With ``z`` the observed token, ``process.posterior`` is ``num / den`` with
    ``num_v = (a_s - a_t) pi_v + c + [v = z] (V a_t pi_z + a_t|s - a_t)`` and ``den`` the same for
    every ``v``; ``pi`` is overwritten.
    """
    V = pi.shape[-1]
    a_t, a_s = alpha(t, EPS), alpha(s, EPS)
    z = x.unsqueeze(-1)  # (C, L, 1)
    observed = pi.gather(-1, z).mul_(V * a_t).add_(a_t / a_s - a_t)  # (C, L, 1)
    num = pi.mul_(a_s - a_t).add_((a_s - a_t) * (1 - a_s) / (V * a_s)).scatter_add_(-1, z, observed)
    u = torch.rand(num.shape, generator=generator, dtype=torch.float64).to(num.device)
    # Gumbel-max: argmax log num + G with G = -log E, E = -log U ~ Exp(1), i.e. argmax num / E
    return num.div_(u.clamp_min_(torch.finfo(torch.float64).tiny).log_().neg_()).argmax(-1)


def _ancestral(probs: ProbFn, x: Tensor, t: float, dt: float, generator: torch.Generator, chunk: int):
    """States at ``t = 0`` (CPU) and the denoiser calls per row (grid steps + final noise removal)."""
    grid = time_grid(max(float(t), T_END), dt, T_END).tolist()
    with torch.inference_mode():
        # the grid's steps, then the ancestral noise removal t_end -> 0 (alpha_s = 1)
        for t_k, s_k in [*zip(grid[:-1], grid[1:], strict=True), (T_END, 0.0)]:
            x = torch.cat([_draw(xc, probs(xc, t_k), s_k, t_k, generator) for xc in _chunks(x, chunk)])
    return x.cpu().clone(), len(grid)  # a clone outside inference mode is an ordinary tensor


def restore(
    mem, queries: Tensor, t: float, generator: torch.Generator, chunk: int | None = CHUNK, probs: ProbFn | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Ancestral sampling with ``mem.dt`` from queries corrupted at ``t`` to ``t = 0``, as ``mem.retrieve``.

    Parameters
    ----------
    mem : DiffusionMemory or OracleMemory
        A fitted memory whose sampler is ``"ancestral"``.
    queries : Tensor
        ``long (B, L)`` corrupted sequences (not modified).
    t : float
        Their corruption time.
    generator : torch.Generator
        Source of the sampling noise.
    chunk : int, optional
        Rows per chunk; ``None``: ``mem.retrieve`` itself.
    probs : ProbFn, optional
        ``probabilities(mem, chunk)``, to build it once for several calls.

    Returns
    -------
    states, steps, entropy : Tensor
        ``long (B, L)`` restored sequences, ``long (B,)`` denoiser calls per row and ``float64 (B,)``
        conditional entropy of the restored sequences, as ``mem.retrieve`` returns them.
    """
    if chunk is None:
        r = mem.retrieve(queries, noise=t, generator=generator)
        return r.states, r.steps, r.entropy
    probs = probs or probabilities(mem, chunk)
    with torch_threads(_threads(mem)):
        states, n = _ancestral(probs, queries.to(mem.device_), t, mem.dt, generator, chunk)
    return states, torch.full((states.shape[0],), n, dtype=torch.long), entropy(mem, states, chunk)


def generate(mem, n: int, generator: torch.Generator, chunk: int | None = CHUNK, probs: ProbFn | None = None) -> Tensor:
    """``n`` samples from pure noise (``mem.generate``): ``x_1`` uniform, then ancestral from ``t = 1``.

    Returns
    -------
    Tensor
        ``long (n, L)`` on the CPU.
    """
    if chunk is None:
        return mem.generate(n, generator=generator).states
    probs = probs or probabilities(mem, chunk)
    x1 = torch.randint(0, mem.vocab_size_, (n, mem.patterns_.shape[1]), generator=generator).to(mem.device_)
    with torch_threads(_threads(mem)):
        return _ancestral(probs, x1, 1.0, mem.dt, generator, chunk)[0]

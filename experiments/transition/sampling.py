"""The evaluation's samplers on a CPU budget: the memories' own distributions, about twice as fast.

A transition cell restores 1024 queries per split and corruption level with the ancestral
sampler: about 180 network calls on 1024 sequences, 70 of the cell's 87 CPU seconds before
this module (quick preset, K = 128, one thread).  Four things made them slow, only the last
of them the arithmetic of the network:

* **Page faults.**  At 1024 sequences every activation (``(B, L, 4 d)`` float32: 32 MB) and
  every float64 ``(B, L, V)`` tensor of the sampler (8 MB) is a fresh allocation that the C
  allocator maps from the kernel, which zero-fills it page by page: a third of the learned
  sampler's CPU time was system time.  Chunks of :data:`CHUNK` rows stay in cache and in the
  allocator's pool.
* **Allocator churn** even in chunks: glibc returns the freed top of its heap to the kernel
  once it exceeds a threshold that follows the largest freed block, so every forward pass
  faulted its ~20 MB of activations in again (2.7 million page faults for the t = 0.5 restores
  of one cell).  :func:`keep_freed_memory` fixes the thresholds (Linux) so freed memory is
  reused: the learned model's restores take 39 s of CPU instead of 55 s.
* **Python dispatch** of the eager network, ~15 % at 128 rows: the network is run as a frozen
  TorchScript trace (:func:`log_probabilities`), used only when it reproduces the module's
  output bit for bit on a probe batch.
* **Bookkeeping and arithmetic.**  ``samplers.ancestral`` materialises the posterior
  ``q(x_s | x_t, pi)`` in float64 (one-hot codes, a dozen passes), takes its log and adds
  Gumbel noise (two more logs).  :func:`_draw` makes the same draw from the same uniforms with
  four passes: the posterior's normaliser is constant per position and the observed token's
  extra mass is a gather / scatter on ``(B, L)``, so ``argmax_v log q_v + G_v = argmax_v
  num_v / E_v`` with ``E = -log U``.

Two samplers (:data:`SAMPLERS`) share this.  ``exact`` uses the network output and the
uniforms of ``samplers.ancestral`` (drawn chunk after chunk from the same generator, which on
the CPU gives the numbers of one draw over the whole batch): the two formulas pick different
tokens only where two candidates tie to within float64 rounding, so its rows are the memories'
own, bit for bit (checked on the K = 128 quick cell and on 20 seeds of a tiny one,
``tests/experiments_suite/test_transition_diagnostics.py``).  ``fast`` (the transition's
default) also cuts the arithmetic: the network runs as :class:`.fused.FusedDenoiser` (fewer
element-wise passes; bfloat16 matmuls where the CPU has native bfloat16 dot products), the
draw inverts the running sum of the posterior with one float32 uniform per token
(:func:`_draw_inverse_cdf`) and the oracle hands over its probabilities without a log / exp
round trip.  Its draws follow the same distributions (up to the bfloat16 rounding of the
network's probabilities, ~1e-2) from other random numbers, so its rows agree with the exact
ones up to sampling noise; everything deterministic (denoising,
entropies of given sequences, NELBO, divergence, fixed points) uses the exact network under
both (``tests/experiments_suite/test_transition_fast.py``).  An :class:`Engine` bundles this
for one memory; with ``chunk=None`` it calls the memory's own ``retrieve`` / ``generate`` /
``denoise`` instead (the reference path, kept for the tests and
``benchmarks/transition_eval.py``).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from energy.diffusion import conditional_entropy
from experiments.transition.fused import FusedDenoiser, native_bf16
from models.diffusion.memory import ENTROPY_TIME, DiffusionMemory
from models.diffusion.samplers import T_END, time_grid
from models.diffusion.schedule import EPS, alpha, sigma
from models.diffusion.train import auto_threads
from models.threads import torch_threads

__all__ = ["CHUNK", "SAMPLERS", "LogProbFn", "log_probabilities", "fused_probabilities", "keep_freed_memory", "Engine"]

#: Rows per chunk.  On the reference machine 64-256 are equally fast (the activations of 128
#: sequences of 32 tokens, 4 MB, stay in its 32 MB L3 cache); 1024 is 1.4x slower.
CHUNK = 128

#: How the ancestral draws are made (:class:`Engine`): ``exact`` reproduces the memories' own
#: samples bit for bit; ``fast`` uses the fused network and one uniform per token (the same
#: distributions, other samples).
SAMPLERS = ("exact", "fast")

#: ``(x long (C, L), t float64 (C,)) -> float64 (C, L, V)`` leave-one-out log-probabilities.
LogProbFn = Callable[[Tensor, Tensor], Tensor]


# glibc's mallopt parameters (malloc.h) and the values set: allocations below 32 MB (its
# largest allowed mmap threshold) come from the heap, which keeps up to 256 MB of freed memory.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 256 * 2**20


@functools.cache
def keep_freed_memory() -> bool:
    """Have the C allocator keep freed memory for reuse instead of returning it to the kernel.

    glibc's default thresholds follow the largest block freed so far, and a forward pass that
    frees more than twice that at the top of the heap hands the memory back, to fault it in
    again, zero-filled, on the next pass.  Fixing both thresholds (``mallopt``) stops that.  It
    changes no number, only where memory comes from, for the rest of the process; it is done
    once, on Linux with glibc (elsewhere nothing happens).

    Returns
    -------
    bool
        True if the thresholds were set.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


def _times(t: float | Tensor, x: Tensor) -> Tensor:
    """A time or ``(B,)`` times as ``float64 (B,)`` on the device of ``x``."""
    if isinstance(t, Tensor) and t.dim() == 1:
        return t.to(device=x.device, dtype=torch.float64)
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
            # check_trace off: it reruns the network and compares through torch.testing (over a
            # second of imports); the probe below checks the trace against the module itself
            traced = torch.jit.freeze(torch.jit.trace(model, (x, s), check_trace=False))
        except (AttributeError, RuntimeError, TypeError):  # no TorchScript, or a network it cannot follow
            return model
        probe_x, probe_s = x.flip(0)[:3], s.flip(0)[:3]  # other rows, another batch size
        return traced if torch.equal(traced(probe_x, probe_s), model(probe_x, probe_s)) else model


def log_probabilities(mem, chunk: int = CHUNK) -> LogProbFn:
    """The leave-one-out log-probabilities of a fitted diffusion or oracle memory, as ``mem.denoise``.

    A trained network runs as a frozen trace taken on ``chunk`` random sequences at random
    times and kept only if it reproduces the module on three other rows exactly; it returns
    what ``samplers.NetworkDenoiser`` returns.  The oracle is its own ``Oracle`` callable.
    """
    if not isinstance(mem, DiffusionMemory):
        return mem.oracle_
    net = _frozen(mem.model_.eval(), *_trace_batch(mem, chunk))
    return lambda x, t: net(x, sigma(t, EPS).float()).double()  # (C, L, V)


def _trace_batch(mem: DiffusionMemory, chunk: int) -> tuple[Tensor, Tensor]:
    """``chunk`` random sequences and noise levels ``sigma`` at random times: the batch a network is traced on."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, mem.vocab_size_, (chunk, mem.patterns_.shape[1]), generator=g).to(mem.device_)
    s = sigma(torch.rand(chunk, generator=g, dtype=torch.float64), EPS).float().to(mem.device_)
    return x, s


def fused_probabilities(mem: DiffusionMemory, chunk: int = CHUNK) -> tuple[LogProbFn, str]:
    """The ``fast`` sampler's leave-one-out probabilities ``float32 (C, L, V)`` of a network, and their precision.

    The network runs as :class:`.fused.FusedDenoiser` (as a frozen trace when that reproduces
    it, see :func:`_frozen`), with bfloat16 matmuls (precision ``"bfloat16"``) where the CPU has
    native bfloat16 dot products, else in float32.
    """
    bf16 = mem.device_.type == "cpu" and native_bf16()
    net = _frozen(FusedDenoiser(mem.model_, bf16=bf16).eval(), *_trace_batch(mem, chunk))
    # float32 probabilities: the draw's arithmetic then runs in float32 as well (rounding ~1e-7,
    # far below the bfloat16 matmuls' ~1e-2)
    return (lambda x, t: net(x, sigma(t, EPS).float())), ("bfloat16" if bf16 else "float32")


def _numerator_(x: Tensor, pi: Tensor, s: float, t: float) -> Tensor:
    """``q(x_s | x_t = x, pi)`` up to its normaliser, ``(C, L, V)``, computed in place in ``pi``.

    ``num_v = (a_s - a_t) pi_v + c + [v = z] (V a_t pi_z + a_t|s - a_t)`` with ``z`` the observed
    token and ``c = (a_s - a_t)(1 - a_s) / (V a_s)``; the normaliser is the same for every ``v``
    (``process.posterior``).
    """
    V = pi.shape[-1]
    a_t, a_s = alpha(t, EPS), alpha(s, EPS)
    z = x.unsqueeze(-1)  # (C, L, 1)
    observed = pi.gather(-1, z).mul_(V * a_t).add_(a_t / a_s - a_t)  # (C, L, 1)
    return pi.mul_(a_s - a_t).add_((a_s - a_t) * (1 - a_s) / (V * a_s)).scatter_add_(-1, z, observed)


def _draw_inverse_cdf(x: Tensor, pi: Tensor, s: float, t: float, generator: torch.Generator) -> Tensor:
    """``x_s ~ q(x_s | x_t = x, x_0 = pi)`` by inversion: one uniform per token instead of ``V``.

    The unnormalised posterior (:func:`_numerator_`), summed along the vocabulary; the token
    is the first whose running sum exceeds ``u`` times the total.  The same distribution as
    the Gumbel-max draw, from other random numbers, in the dtype of ``pi`` (float32 or float64;
    ``pi`` is overwritten).
    """
    V = pi.shape[-1]
    cdf = _numerator_(x, pi, s, t).cumsum_(-1)
    u = torch.rand(cdf.shape[:-1] + (1,), generator=generator, dtype=cdf.dtype).to(cdf.device)
    # the first token whose running sum exceeds u * total (<=: a token of zero mass is never drawn)
    return (cdf <= u.mul_(cdf[..., -1:])).sum(-1).clamp_max_(V - 1)  # (C, L)


def _draw(x: Tensor, pi: Tensor, s: float, t: float, generator: torch.Generator) -> Tensor:
    """``x_s ~ q(x_s | x_t = x, x_0 = pi)`` by Gumbel-max, the draw of ``samplers.ancestral`` in four passes.

    ``process.posterior`` is :func:`_numerator_` over a normaliser that is the same for every
    ``v``, which the argmax ignores; ``pi`` is overwritten.
    """
    num = _numerator_(x, pi, s, t)
    u = torch.rand(num.shape, generator=generator, dtype=torch.float64).to(num.device)
    # Gumbel-max: argmax log num + G with G = -log E, E = -log U ~ Exp(1), i.e. argmax num / E
    return num.div_(u.clamp_min_(torch.finfo(torch.float64).tiny).log_().neg_()).argmax(-1)


class Engine:
    """How a cell runs one fitted diffusion or oracle memory.

    Parameters
    ----------
    mem : DiffusionMemory or OracleMemory
        A fitted memory with the ancestral sampler.
    chunk : int, optional
        Rows per denoiser call (the optimised path); ``None``: the memory's own methods on
        whole batches (the reference path).
    sampler : {"exact", "fast"}
        How the ancestral draws of :meth:`restore` and :meth:`generate` are made (with a
        ``chunk``): ``exact``, the memory's own samples bit for bit; ``fast``, a trained
        network through :func:`fused_probabilities` and one uniform per token
        (:func:`_draw_inverse_cdf`): the same distributions, other samples.  Denoising,
        entropies and every other deterministic output use the exact network either way.

    Every method takes and returns CPU tensors and leaves its inputs unchanged.  The optimised
    path calls :func:`keep_freed_memory` (once per process).
    """

    def __init__(self, mem, chunk: int | None = CHUNK, sampler: str = "exact") -> None:
        self.mem = mem
        self.chunk = chunk
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        self.sampler = "exact" if chunk is None else sampler
        if chunk is not None:
            keep_freed_memory()
        learned = isinstance(mem, DiffusionMemory)
        #: precision of the probabilities the draws use: float64 (the oracle), float32 or bfloat16
        self.precision = "float32" if learned else "float64"
        self._log_probs = self._probs = None
        if chunk is not None:
            self._log_probs = exact = log_probabilities(mem, chunk)
            self._probs = lambda x, t: exact(x, t).exp_()
            if self.sampler == "fast" and learned:
                self._probs, self.precision = fused_probabilities(mem, chunk)
            elif self.sampler == "fast":  # the oracle's probabilities as it computes them, not exp(log(.))
                self._probs = mem.oracle_.loo
        self._draw = _draw_inverse_cdf if self.sampler == "fast" else _draw
        self._threads = auto_threads(mem.model_, mem.device_, None) if learned else None

    def map(self, fn: Callable[[Tensor, slice], Tensor], x: Tensor, t: float | Tensor) -> Tensor:
        """``fn(log_probs, rows)`` on every chunk of ``x`` at ``t``, concatenated (on the CPU).

        ``log_probs`` are the ``float64 (C, L, V)`` leave-one-out log-probabilities of the rows
        ``rows`` of ``x``; ``t`` is a time or ``(B,)`` times.  Reference path: one call on the
        whole batch with ``mem.denoise``.
        """
        if self.chunk is None:
            return fn(self.mem.denoise(x, t), slice(None))
        x = x.to(self.mem.device_)
        times = _times(t, x)
        rows = [slice(i, i + self.chunk) for i in range(0, x.shape[0], self.chunk)]
        with torch_threads(self._threads), torch.inference_mode():
            out = [fn(self._log_probs(x[r], times[r]), r) for r in rows]
        return torch.cat(out).cpu().clone()  # a clone outside inference mode is an ordinary tensor

    def denoise(self, x: Tensor, t: float | Tensor) -> Tensor:
        """``mem.denoise(x, t)``: ``float64 (B, L, V)`` leave-one-out log-probabilities (``t``: scalar or ``(B,)``)."""
        return self.map(lambda log_probs, rows: log_probs, x, t)

    def entropy(self, x: Tensor, t: float = ENTROPY_TIME) -> Tensor:
        """Mean conditional entropy per sequence of the prediction at ``t`` (``Retrieval.entropy``), ``(B,)``."""
        return self.map(lambda log_probs, rows: conditional_entropy(log_probs), x, t)

    def _step(self, x: Tensor, t: float, s: float, generator: torch.Generator) -> Tensor:
        """One ancestral step ``t -> s`` of a chunk: the plug-in posterior's draw."""
        return self._draw(x, self._probs(x, _times(t, x)), s, t, generator)

    def _ancestral(self, x: Tensor, t: float, generator: torch.Generator) -> tuple[Tensor, int]:
        """States at ``t = 0`` and the denoiser calls per row (grid steps + final noise removal)."""
        grid = time_grid(max(float(t), T_END), self.mem.dt, T_END).tolist()
        x = x.to(self.mem.device_)
        with torch_threads(self._threads), torch.inference_mode():
            # the grid's steps, then the ancestral noise removal t_end -> 0 (alpha_s = 1)
            for t_k, s_k in [*zip(grid[:-1], grid[1:], strict=True), (T_END, 0.0)]:
                x = torch.cat([self._step(xc, t_k, s_k, generator) for xc in _chunks(x, self.chunk)])
        return x.cpu().clone(), len(grid)

    def restore(self, queries: Tensor, t: float, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Ancestral sampling with ``mem.dt`` from queries corrupted at ``t`` to ``t = 0``, as ``mem.retrieve``.

        Returns
        -------
        states, steps, entropy : Tensor
            ``long (B, L)`` restored sequences, ``long (B,)`` denoiser calls per row and
            ``float64 (B,)`` conditional entropy of the restored sequences.
        """
        if self.chunk is None:
            r = self.mem.retrieve(queries, noise=t, generator=generator)
            return r.states, r.steps, r.entropy
        states, n = self._ancestral(queries, t, generator)
        return states, torch.full((states.shape[0],), n, dtype=torch.long), self.entropy(states)

    def generate(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` samples from pure noise as ``mem.generate``: ``x_1`` uniform, then ancestral from ``t = 1``."""
        if self.chunk is None:
            return self.mem.generate(n, generator=generator).states
        x1 = torch.randint(0, self.mem.vocab_size_, (n, self.mem.patterns_.shape[1]), generator=generator)
        return self._ancestral(x1, 1.0, generator)[0]

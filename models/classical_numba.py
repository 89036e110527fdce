"""Compiled asynchronous sweeps of the classical memories (numba): one call per sweep for the batch.

The torch loops pay a few tensor operations, each a few microseconds of dispatch, per site
visit (:mod:`models.classical_loops`).  Here a sweep is one compiled call: every row walks the
sweep's site order on its own, in parallel over blocks of rows, and only its own state and
fields change.  The results are those of the generic loop, bit for bit:

* the same orders: one ``torch.randperm`` per sweep from the caller's generator, drawn before
  the sweep whatever the rows still moving, so the generator ends in the same state;
* the same decisions: spins flip iff ``h_i s_i < -tol``; a Potts site moves iff its current
  token is not among the maximisers ``h_v >= max h - tol``, to the lowest-index maximiser;
* the same fields: the spin fields and weights of :func:`models.classical_fields.async_fields`
  (integers ``N h`` in float32 where exact, else the float64 weights), and every flip adds the
  same numbers the torch loops add -- ``(-2 s_i) w_i`` for spins (a product with a power of
  two, exact, then one rounding), ``w_new - w_old`` for Potts (one rounding, then one more) --
  in the same order for each row;
* the same bookkeeping: a row has converged after a sweep that changed nothing, and leaves the
  working set; rows still moving after ``max_steps`` report ``max_steps`` and not converged.

Importing this module imports numba; :mod:`models.classical` does so only for ``kernel="numba"``.
Compiled code is cached on disk (``cache=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numba
import numpy as np
import torch
from torch import Tensor

from models import kernels
from models.base import Retrieval
from models.classical_fields import async_fields
from models.codes import from_spins

if TYPE_CHECKING:  # annotations only: models.classical imports this module
    from models.classical import ClassicalHopfield

__all__ = ["run_async_spins", "run_async_potts", "run_sweeps", "ROW_BLOCK"]

#: Rows that visit each site together: the weight row a flip adds (or, for the dense memories,
#: the site's pattern column) is read from memory once for all of them (W is N^2 numbers, far
#: larger than the core's cache at N = 1024).
ROW_BLOCK = 8
_BLOCK = ROW_BLOCK


@numba.njit(cache=True)
def _spin_block(order, x, h, W, tol, rows, changed, lo, hi):  # pragma: no cover - compiled
    """One sweep of the spin rows ``x[rows[lo:hi]]`` with fields ``h`` kept current, in place."""
    N = x.shape[1]
    for k in range(lo, hi):
        changed[k] = False
    for i in order:
        for k in range(lo, hi):
            b = rows[k]
            s = x[b, i]
            if h[b, i] * s < -tol:  # the field opposes the spin beyond a tie: flip
                m = -(s + s)  # -2 s in the array's dtype: m * W[i, j] is exact
                for j in range(N):
                    h[b, j] += m * W[i, j]
                x[b, i] = -s
                changed[k] = True


@numba.njit(cache=True)
def _potts_block(order, tokens, h, W, V, tol, rows, changed, lo, hi):  # pragma: no cover - compiled
    """One sweep of the Potts rows ``tokens[rows[lo:hi]]`` with fields ``h`` ``(A, L*V)``, in place."""
    LV = h.shape[1]
    for k in range(lo, hi):
        changed[k] = False
    for i in order:
        base = i * V
        for k in range(lo, hi):
            b = rows[k]
            top = h[b, base]
            for v in range(1, V):
                top = max(top, h[b, base + v])
            low = top - tol  # maximisers up to rounding: h_v >= max h - tol
            cur = tokens[b, i]
            if h[b, base + cur] < low:  # the current token is not among them: move
                new = 0
                while h[b, base + new] < low:  # the lowest-index maximiser
                    new += 1
                r_new, r_old = base + new, base + cur
                for j in range(LV):
                    h[b, j] += W[r_new, j] - W[r_old, j]
                tokens[b, i] = new
                changed[k] = True


# Each block function has a serial and a parallel driver over blocks of _BLOCK rows (two
# functions: numba's on-disk cache does not tell apart two compilations of one function).


@numba.njit(cache=True)
def _spin_serial(order, x, h, W, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _spin_block(order, x, h, W, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def _spin_parallel(order, x, h, W, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _spin_block(order, x, h, W, tol, rows, changed, block * _BLOCK, min(block * _BLOCK + _BLOCK, n))


@numba.njit(cache=True)
def _potts_serial(order, tokens, h, W, V, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _potts_block(order, tokens, h, W, V, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def _potts_parallel(order, tokens, h, W, V, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _potts_block(order, tokens, h, W, V, tol, rows, changed, block * _BLOCK, min(block * _BLOCK + _BLOCK, n))


def run_sweeps(
    sweep: Callable, B: int, N: int, max_steps: int, generator: torch.Generator, row_work: float
) -> tuple[Tensor, Tensor]:
    """Sweep until every row has had a sweep without change, or ``max_steps`` sweeps.

    Parameters
    ----------
    sweep : callable
        ``sweep(order, rows, changed, parallel)``: one compiled sweep of the batch rows ``rows``
        (``int64 (A,)``) in the site order ``order`` (``int64 (N,)``), setting ``changed``
        (``bool (A,)``) to whether each row moved, on numba's threads if ``parallel``.
    B, N : int
        Rows and sites.
    max_steps : int
        Most sweeps.
    generator : torch.Generator
        One ``torch.randperm(N)`` per sweep, as in the torch loops.
    row_work : float
        About the operations of one row's sweep: a sweep runs in parallel when there are
        threads and the rows still moving have :data:`models.kernels.PARALLEL_MIN_WORK` of it.

    Returns
    -------
    steps, converged : Tensor
        ``long (B,)`` sweeps evaluated and ``bool (B,)`` whether the last one changed nothing.
    """
    rows = np.arange(B, dtype=np.int64)  # (A,) the rows still moving
    steps = np.full(B, max_steps, dtype=np.int64)
    converged = np.zeros(B, dtype=np.bool_)
    changed = np.empty(B, dtype=np.bool_)
    with kernels.kernel_threads() as threads:
        for t in range(1, max_steps + 1):
            order = torch.randperm(N, generator=generator, device=generator.device).cpu().numpy()
            moved = changed[: len(rows)]
            parallel = threads > 1 and len(rows) > _BLOCK and len(rows) * row_work >= kernels.PARALLEL_MIN_WORK
            sweep(order, rows, moved, parallel)
            done = ~moved
            if done.any():
                steps[rows[done]] = t
                converged[rows[done]] = True
                rows = rows[moved]
                if not len(rows):
                    break
    return torch.from_numpy(steps), torch.from_numpy(converged)


def run_async_spins(net: ClassicalHopfield, tokens: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
    """Asynchronous retrieval of binary ``tokens`` ``(B, N)`` on the CPU: the generic loop's results."""
    B, N = tokens.shape
    x, h, W, tol = async_fields(net, tokens, max_steps)  # (B, N) new tensors: ours to update in place
    xs, hs, Ws = x.numpy(), h.numpy(), W.contiguous().numpy()
    tol = hs.dtype.type(tol)  # compare in the fields' dtype, as torch does

    def sweep(order: np.ndarray, rows: np.ndarray, changed: np.ndarray, parallel: bool) -> None:
        (_spin_parallel if parallel else _spin_serial)(order, xs, hs, Ws, tol, rows, changed)

    # A row's sweep: N visits and, from noisy queries, some 0.1 N flips of N additions each.
    steps, converged = run_sweeps(sweep, B, N, max_steps, generator, row_work=N + 0.1 * N * N)
    return Retrieval(states=from_spins(x), steps=steps, converged=converged)


def run_async_potts(net: ClassicalHopfield, tokens: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
    """Asynchronous retrieval of Potts ``tokens`` ``(B, L)`` on the CPU: the generic loop's results."""
    B, L = tokens.shape
    V = net.vocab_size_
    states = tokens.clone()  # (B, L) ours to update in place
    h = net._fields(net._encode(tokens)).reshape(B, L * V)  # (B, L*V) the generic loop's fields
    ts, hs, Ws = states.numpy(), h.numpy(), net._W.contiguous().numpy()

    def sweep(order: np.ndarray, rows: np.ndarray, changed: np.ndarray, parallel: bool) -> None:
        (_potts_parallel if parallel else _potts_serial)(order, ts, hs, Ws, V, net._tie_tol, rows, changed)

    steps, converged = run_sweeps(sweep, B, L, max_steps, generator, row_work=L * V + 0.1 * L * L * V)
    return Retrieval(states=states, steps=steps, converged=converged)

"""Compiled asynchronous sweeps of the dense memories (numba): one call per sweep for the batch.

The torch loop of :class:`models.dense.DenseHopfield` spends a dozen tensor operations over the
``(B, K)`` overlaps per site visit.  Here a sweep is one compiled call: every row walks the
sweep's site order on its own (in parallel over blocks of rows that share each site's pattern
column), with the same orders, the same tie rule and the same convergence bookkeeping as the
torch loop (:func:`models.classical_numba.run_sweeps`).

Polynomial interactions (``F = "poly"``, ``"repoly"``).  Setting site ``i`` from ``cur`` to ``v``
moves the overlap of every pattern holding ``v`` there by ``+c`` and of every pattern holding
``cur`` by ``-c`` (``c = 2`` for spins, 1 for one-hot), so with ``up = F(o + c) - F(o)`` and
``dn = F(o - c) - F(o)`` per pattern the energy decrease is
``gain(v) = sum_{holds v} up + sum_{holds cur} dn`` -- the torch loop's grouping.  Both are kept
per row and refreshed only when the row moves (read from tables over the integer overlaps in
the exact regime, :func:`_poly_tables`); for spins a visit is then one dot product,
``gain = sum up + P_i . (dn - up)`` at ``cur = 1`` and ``sum dn - P_i . (dn - up)`` at ``cur = 0``
(``P_i`` marks the patterns holding token 1).  In the exact regime every number is an integer
below ``2^53``, so the sums are exact in any order and the decisions are the torch loop's, bit
for bit.  In the scaled regime (large ``n``, :attr:`models.dense.DenseHopfield.scaled_`) the
same quantities are computed on overlaps divided by the row's largest ``|o| + c``; they carry
rounding, and so do the torch loop's, in another order: decisions can differ only where a gain
is within rounding of the tie tolerance.

Exponential interaction (``F = "exp"``).  The torch loop's log-sum-exp over token groups, each
group summed relative to its own maximum (:func:`models.dense_numba_exp._token_exp_block`); for spins at moderate
``beta`` the groups are summed relative to the row's largest overlap instead, so a visit is
one dot product (:func:`models.dense_numba_exp._spin_exp_block`).  Overlaps are integers, so ``exp(beta (o - top))``
is read from a table over the integer differences instead of computed per pattern.  These and
the summation order change the gains by rounding only, again below the tie tolerance
``1e-12 (1/beta + L)`` except on float ties.

Importing this module imports numba; :mod:`models.dense` does so only for ``kernel="numba"``.
Compiled code is cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
import torch
from torch import Tensor

from models import dense_numba_exp as exp
from models.base import Retrieval
from models.classical_numba import ROW_BLOCK as _BLOCK
from models.classical_numba import run_sweeps
from models.dense_numba_exp import FASTMATH, first_best, move_site

if TYPE_CHECKING:  # annotations only: models.dense imports this module
    from models.dense import DenseHopfield

__all__ = ["run_async"]

_FAST = FASTMATH


@numba.njit(cache=True, fastmath=_FAST)
def _refresh(o, up, dn, work, poly, c):  # pragma: no cover - compiled
    """``up = F(o + c) - F(o)``, ``dn = F(o - c) - F(o)`` of one row.

    ``poly = (n, rectified, scaled, UP, DN, offset)``.  Exact regime: read from the tables
    ``UP``, ``DN`` over the integer overlaps (index ``o + offset``).  Scaled regime: powers of
    the scaled overlaps by repeated squaring of whole arrays (``work``: ``(4, K)`` scratch).
    """
    n, rectified, scaled, UP, DN, offset = poly
    K = o.shape[0]
    if not scaled:
        for mu in range(K):
            j = int(o[mu]) + offset
            up[mu], dn[mu] = UP[j], DN[j]
        return
    big = 0.0  # the torch loop's scale: 1 / (max |o| + c)
    for mu in range(K):
        big = max(big, abs(o[mu]))
    inv = 1.0 / (big + c)
    x0, xu, xd, f0 = work[0], work[1], work[2], work[3]
    for mu in range(K):
        x0[mu], xu[mu], xd[mu] = o[mu] * inv, (o[mu] + c) * inv, (o[mu] - c) * inv
        if rectified:
            x0[mu], xu[mu], xd[mu] = max(x0[mu], 0.0), max(xu[mu], 0.0), max(xd[mu], 0.0)
        f0[mu], up[mu], dn[mu] = 1.0, 1.0, 1.0
    m = n
    while m:
        if m & 1:
            for mu in range(K):
                f0[mu] *= x0[mu]
                up[mu] *= xu[mu]
                dn[mu] *= xd[mu]
        m >>= 1
        if m:
            for mu in range(K):
                x0[mu] *= x0[mu]
                xu[mu] *= xu[mu]
                xd[mu] *= xd[mu]
    for mu in range(K):
        up[mu] -= f0[mu]
        dn[mu] -= f0[mu]


@numba.njit(cache=True, fastmath=_FAST)
def _spin_refresh(o, up, dn, e, work, poly):  # pragma: no cover - compiled
    """:func:`_refresh` for spins, then ``e = dn - up``; returns ``(sum up, sum dn)``."""
    _refresh(o, up, dn, work, poly, 2.0)
    su, sd = 0.0, 0.0
    for mu in range(o.shape[0]):
        e[mu] = dn[mu] - up[mu]
        su += up[mu]
        sd += dn[mu]
    return su, sd


@numba.njit(cache=True, fastmath=_FAST)
def _spin_poly_block(order, s, o, P, poly, tol, rows, changed, lo, hi):  # pragma: no cover
    """One sweep of the spin rows ``s[rows[lo:hi]]`` ``(L,)`` each, overlaps ``o`` ``(K,)`` each kept current."""
    K = o.shape[1]
    up, dn, e, work = np.empty(K), np.empty(K), np.empty((hi - lo, K)), np.empty((4, K))
    sums = np.empty((hi - lo, 2))
    for k in range(lo, hi):
        changed[k] = False
        sums[k - lo, 0], sums[k - lo, 1] = _spin_refresh(o[rows[k]], up, dn, e[k - lo], work, poly)
    for i in order:
        p = P[i]  # (K,) 1.0 where the pattern holds token 1 at site i
        for k in range(lo, hi):
            b, ek = rows[k], e[k - lo]
            q = 0.0
            for mu in range(K):
                q += p[mu] * ek[mu]
            cur = s[b, i]
            gain = sums[k - lo, 0] + q if cur == 1 else sums[k - lo, 1] - q
            if gain > tol:  # the other token lowers the energy beyond a tie
                step = 2.0 if cur == 0 else -2.0  # o += step * xi, xi = 2 p - 1
                ob = o[b]
                for mu in range(K):
                    ob[mu] += step * (2.0 * p[mu] - 1.0)
                s[b, i] = 1 - cur
                sums[k - lo, 0], sums[k - lo, 1] = _spin_refresh(ob, up, dn, ek, work, poly)
                changed[k] = True


@numba.njit(cache=True, fastmath=_FAST)
def _token_poly_block(order, s, o, cols, V, c, poly, tol, rows, changed, lo, hi):  # pragma: no cover
    """One sweep of the token rows ``s[rows[lo:hi]]`` (any ``V``), polynomial ``F``; ``cols`` ``(L, K)``."""
    K = o.shape[1]
    up, dn, work = np.empty((hi - lo, K)), np.empty((hi - lo, K)), np.empty((4, K))
    gains = np.empty(V)
    for k in range(lo, hi):
        changed[k] = False
        _refresh(o[rows[k]], up[k - lo], dn[k - lo], work, poly, c)
    for i in order:
        col = cols[i]
        for k in range(lo, hi):
            b, cur = rows[k], s[rows[k], i]
            gains[:] = 0.0
            held = 0.0  # sum of dn over the patterns holding cur
            for mu in range(K):
                t = col[mu]
                if t == cur:
                    held += dn[k - lo, mu]
                else:
                    gains[t] += up[k - lo, mu]
            for v in range(V):
                gains[v] = 0.0 if v == cur else gains[v] + held
            new, move = first_best(gains, tol)
            if move:
                move_site(o[b], col, cur, new, c)
                s[b, i] = new
                _refresh(o[b], up[k - lo], dn[k - lo], work, poly, c)
                changed[k] = True


# Serial and parallel drivers of each block function over blocks of _BLOCK rows (two functions:
# numba's on-disk cache does not tell apart two compilations of one function).


@numba.njit(cache=True)
def _spin_poly_serial(order, s, o, P, poly, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _spin_poly_block(order, s, o, P, poly, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def _spin_poly_parallel(order, s, o, P, poly, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        lo = block * _BLOCK
        _spin_poly_block(order, s, o, P, poly, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(cache=True)
def _token_poly_serial(order, s, o, cols, V, c, poly, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _token_poly_block(order, s, o, cols, V, c, poly, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def _token_poly_parallel(order, s, o, cols, V, c, poly, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _token_poly_block(
            order, s, o, cols, V, c, poly, tol, rows, changed, block * _BLOCK, min(block * _BLOCK + _BLOCK, n)
        )


def _poly_tables(net: DenseHopfield, L: int) -> tuple:
    """The ``poly`` argument of the compiled polynomial sweeps (:func:`_refresh`).

    In the exact regime, ``F(x + c) - F(x)`` and ``F(x - c) - F(x)`` for every integer overlap
    ``x`` in ``[-L, L]``, computed by repeated multiplication: exact integers, as the torch
    loop's (every number here is below ``2 L^n < 2^53``, the regime's condition).
    """
    c, n, rectified = net.step_, net.n_, net.F == "repoly"
    if net.scaled_:
        empty = np.zeros(1)
        return (n, rectified, True, empty, empty, 0)
    x = np.arange(-L - c, L + c + 1, dtype=np.float64)  # (2 L + 2 c + 1,) every overlap and its shifts
    base = np.maximum(x, 0.0) if rectified else x
    F = np.ones_like(x)
    with np.errstate(over="ignore", invalid="ignore"):  # only at L = 1 do unreachable ends overflow
        for _ in range(n):
            F *= base
    j = np.arange(int(c), len(x) - int(c))  # the overlaps -L .. L, whose shifts are in range
    return (n, rectified, False, F[j + int(c)] - F[j], F[j - int(c)] - F[j], L)


def run_async(net: DenseHopfield, queries: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
    """Asynchronous retrieval of ``queries`` ``(B, L)`` on the CPU: the torch loop's results."""
    B, L = queries.shape
    states = queries.clone()  # (B, L) ours to update in place
    overlaps = net.overlaps(states)  # (B, K) float64 integers
    # C-contiguous arrays: the compiled loops over patterns then read them with unit stride.
    s, o = states.numpy(), np.ascontiguousarray(overlaps.numpy())
    cols = np.ascontiguousarray(net.columns_.numpy())  # (L, K) token of each pattern at each site
    V, c, tol = net.vocab_size_, net.step_, net._tie_tolerance()
    P = np.ascontiguousarray(net._site_onehot[:, 1].numpy()) if V == 2 else None  # (L, K) 1.0: holds token 1
    if net.F == "exp":
        table = exp.exp_table(net.beta_, c, L)

        def sweep(order: np.ndarray, rows: np.ndarray, changed: np.ndarray, parallel: bool) -> None:
            if V == 2 and net.beta_ <= exp.SPIN_EXP_MAX_BETA:
                run = exp.spin_exp_parallel if parallel else exp.spin_exp_serial
                run(order, s, o, P, net.beta_, table, tol, rows, changed)
            else:
                run = exp.token_exp_parallel if parallel else exp.token_exp_serial
                run(order, s, o, cols, V, c, net.beta_, table, tol, rows, changed)

    else:
        poly = _poly_tables(net, L)

        def sweep(order: np.ndarray, rows: np.ndarray, changed: np.ndarray, parallel: bool) -> None:
            if V == 2:
                (_spin_poly_parallel if parallel else _spin_poly_serial)(order, s, o, P, poly, tol, rows, changed)
            else:
                run = _token_poly_parallel if parallel else _token_poly_serial
                run(order, s, o, cols, V, c, poly, tol, rows, changed)

    # A row's sweep: L visits over the K patterns, and some refreshes of K numbers.
    steps, converged = run_sweeps(sweep, B, L, max_steps, generator, row_work=2.0 * L * overlaps.shape[1])
    return Retrieval(states=states, steps=steps, converged=converged)

"""Compiled asynchronous sweeps of the dense memories with the exponential interaction (numba).

The kernels :func:`models.dense_numba.run_async` runs for ``F = "exp"`` (the module docstring
there says what they compute and how they relate to the torch loop), and the site decision
shared with the polynomial kernels for ``V > 2``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from models.classical_numba import ROW_BLOCK as _BLOCK

__all__ = [
    "SPIN_EXP_MAX_BETA",
    "FASTMATH",
    "exp_table",
    "first_best",
    "move_site",
    "spin_exp_serial",
    "spin_exp_parallel",
    "token_exp_serial",
    "token_exp_parallel",
]

#: Largest ``beta`` for the spin exponential sweep (:func:`_spin_exp_block`):
#: ``(668 - ln K) / (2 c)`` with ``c = 2`` and ``K`` up to ``10^6``; larger ``beta`` takes the
#: grouped sweep, which loses no group at any ``beta``.
SPIN_EXP_MAX_BETA = 150.0
#: Reassociation lets the dot products use vector registers: exact on the integer (exact) regime,
#: a different rounding (as any summation order) on the others.
FASTMATH = {"reassoc", "contract", "nsz"}
_FAST = FASTMATH


@numba.njit(cache=True)
def first_best(gains, tol):  # pragma: no cover - compiled
    """The lowest-index maximiser of ``gains`` and whether it beats the tie tolerance."""
    best = 0
    for v in range(1, gains.shape[0]):
        if gains[v] > gains[best]:
            best = v
    return best, gains[best] > tol


@numba.njit(cache=True)
def move_site(ob, col, cur, new, c):  # pragma: no cover - compiled
    """Overlaps after site ``i`` (pattern tokens ``col``) goes from ``cur`` to ``new``."""
    for mu in range(ob.shape[0]):
        if col[mu] == new:
            ob[mu] += c
        elif col[mu] == cur:
            ob[mu] -= c


@numba.njit(cache=True)
def _lse(x, skip_a=-1, skip_b=-1):  # pragma: no cover - compiled
    """``log sum exp`` of ``x`` without entries ``skip_a``, ``skip_b``; ``-inf`` if nothing is left."""
    top = -np.inf
    for v in range(x.shape[0]):
        if v != skip_a and v != skip_b:
            top = max(top, x[v])
    if top == -np.inf:
        return -np.inf
    total = 0.0
    for v in range(x.shape[0]):
        if v != skip_a and v != skip_b:
            total += math.exp(x[v] - top)
    return top + math.log(total)


@numba.njit(cache=True)
def _exp_gains(o, col, cur, beta, c, table, top, mass, m, terms, gains):  # pragma: no cover
    """Log-sum-exp gains ``(E(cur) - E(v))`` of every token at one site of one row, into ``gains``."""
    V = gains.shape[0]
    top[:] = -np.inf  # group maxima of the (integer) overlaps
    for mu in range(o.shape[0]):
        top[col[mu]] = max(top[col[mu]], o[mu])
    mass[:] = 0.0
    for mu in range(o.shape[0]):  # sum_{holds w} exp(beta (o - top_w)), from the table
        mass[col[mu]] += table[int(top[col[mu]] - o[mu])]
    for w in range(V):  # log masses; empty groups stay -inf
        m[w] = beta * top[w] + math.log(mass[w]) if mass[w] > 0.0 else -np.inf
    whole = _lse(m)
    for v in range(V):
        if v == cur:
            gains[v] = 0.0
            continue
        # v's group gains c, cur's loses c, the rest keep their overlaps.
        terms[0], terms[1], terms[2] = beta * c + m[v], -beta * c + m[cur], _lse(m, v, cur)
        gains[v] = (_lse(terms) - whole) / beta


@numba.njit(cache=True)
def _token_exp_block(order, s, o, cols, V, c, beta, table, tol, rows, changed, lo, hi):  # pragma: no cover
    """One sweep of the token rows ``s[rows[lo:hi]]`` (any ``V``) with the exponential interaction."""
    top, mass, m, gains, terms = np.empty(V), np.empty(V), np.empty(V), np.empty(V), np.empty(3)
    for k in range(lo, hi):
        changed[k] = False
    for i in order:
        col = cols[i]
        for k in range(lo, hi):
            b, cur = rows[k], s[rows[k], i]
            _exp_gains(o[b], col, cur, beta, c, table, top, mass, m, terms, gains)
            new, move = first_best(gains, tol)
            if move:
                move_site(o[b], col, cur, new, c)
                s[b, i] = new
                changed[k] = True


@numba.njit(cache=True)
def _lse2(a, b):  # pragma: no cover - compiled
    """``log(e^a + e^b)``, ``-inf`` when both are ``-inf``."""
    top = max(a, b)
    if top == -np.inf:
        return -np.inf
    return top + math.log(math.exp(a - top) + math.exp(b - top))


@numba.njit(cache=True, fastmath=_FAST)
def _spin_weights(ob, w, table):  # pragma: no cover - compiled
    """``w = exp(beta (o - top))`` of one row from the table; returns ``top = max o``."""
    top = ob[0]
    for mu in range(ob.shape[0]):
        top = max(top, ob[mu])
    for mu in range(ob.shape[0]):
        w[mu] = table[int(top - ob[mu])]
    return top


@numba.njit(cache=True, fastmath=_FAST)
def _spin_exp_block(order, s, o, P, beta, table, tol, rows, changed, lo, hi):  # pragma: no cover - compiled
    """:func:`_token_exp_block` for spins at moderate ``beta``: one dot product per visit.

    Each row keeps ``w = exp(beta (o - top))`` relative to its largest overlap, refreshed when
    it moves; the log mass of the patterns holding token ``t`` at site ``i`` is then
    ``beta top + log sum_{holds t} w``.  Terms below ``e^-708`` of the top are lost, which can
    change a gain only if a group that far below could overtake the other by moving ``2 c``
    overlap units: impossible for ``beta < (668 - ln K) / (2 c)`` (see ``SPIN_EXP_MAX_BETA``).
    """
    K = o.shape[1]
    w, tops = np.empty((hi - lo, K)), np.empty(hi - lo)
    for k in range(lo, hi):
        changed[k] = False
        tops[k - lo] = _spin_weights(o[rows[k]], w[k - lo], table)
    for i in order:
        p = P[i]  # (K,) 1.0 where the pattern holds token 1 at site i
        for k in range(lo, hi):
            b, wk = rows[k], w[k - lo]
            mass1, mass0 = 0.0, 0.0
            for mu in range(K):
                mass1 += p[mu] * wk[mu]
                mass0 += (1.0 - p[mu]) * wk[mu]
            base = beta * tops[k - lo]
            m1 = base + math.log(mass1) if mass1 > 0.0 else -np.inf
            m0 = base + math.log(mass0) if mass0 > 0.0 else -np.inf
            cur = s[b, i]
            m_new, m_cur = (m0, m1) if cur == 1 else (m1, m0)
            gain = (_lse2(2.0 * beta + m_new, -2.0 * beta + m_cur) - _lse2(m_new, m_cur)) / beta
            if gain > tol:
                step = 2.0 if cur == 0 else -2.0  # o += step * xi, xi = 2 p - 1
                ob = o[b]
                for mu in range(K):
                    ob[mu] += step * (2.0 * p[mu] - 1.0)
                s[b, i] = 1 - cur
                tops[k - lo] = _spin_weights(ob, wk, table)
                changed[k] = True


# Serial and parallel drivers of each block function over blocks of _BLOCK rows (two functions:
# numba's on-disk cache does not tell apart two compilations of one function).


@numba.njit(cache=True)
def token_exp_serial(order, s, o, cols, V, c, beta, table, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _token_exp_block(order, s, o, cols, V, c, beta, table, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def token_exp_parallel(order, s, o, cols, V, c, beta, table, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _token_exp_block(
            order, s, o, cols, V, c, beta, table, tol, rows, changed, block * _BLOCK, min(block * _BLOCK + _BLOCK, n)
        )


@numba.njit(cache=True)
def spin_exp_serial(order, s, o, P, beta, table, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for lo in range(0, n, _BLOCK):
        _spin_exp_block(order, s, o, P, beta, table, tol, rows, changed, lo, min(lo + _BLOCK, n))


@numba.njit(parallel=True, cache=True)
def spin_exp_parallel(order, s, o, P, beta, table, tol, rows, changed):  # pragma: no cover - compiled
    n = rows.shape[0]
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _spin_exp_block(
            order, s, o, P, beta, table, tol, rows, changed, block * _BLOCK, min(block * _BLOCK + _BLOCK, n)
        )


def exp_table(beta: float, c: float, L: int) -> np.ndarray:
    """``exp(max(-beta d, -708))`` for the integer overlap gaps ``d = 0 .. 2 L + c``."""
    d = np.arange(2 * L + int(c) + 1, dtype=np.float64)
    return np.exp(np.maximum(-beta * d, -708.0))  # below e^-708 a term cannot move its group's sum

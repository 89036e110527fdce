"""Exact local fields for the specialised classical loops (torch and compiled).

The generic loops of :class:`models.classical.ClassicalHopfield` compute float64 fields
``h = s W``.  The specialised loops (:mod:`models.classical_loops`, :mod:`models.classical_numba`)
use the same fields, or, for Hebbian spins, the integers ``N h = (s xi^T) xi - K s`` and the
integer couplings ``N W``, which decide every site exactly as the float64 weights do where
:func:`lowrank_is_exact` says so.  This module holds that argument and builds both kinds of fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from models.codes import to_spins

if TYPE_CHECKING:  # annotations only: models.classical imports this module
    from models.classical import ClassicalHopfield

__all__ = ["lowrank_is_exact", "float32_matmul_is_ieee", "hebb_factor", "sync_step", "async_fields"]

# Unit roundoff of float64.
_U64 = 2.0**-53


def lowrank_is_exact(K: int, N: int, row_sum: float, tol: float, flips: int = 0) -> bool:
    """Whether integer Hebbian fields decide every site exactly as the float64 weights do.

    With ``c = xi^T xi`` (integers) the weights are ``w_ij = fl(c_ij / N)`` and ``N h_i`` is
    the integer ``m_i``.  The float64 field of any spin state, summed in any order, is within
    ``err = (N + 3) u R`` of ``m_i / N`` (``u = 2^-53``, ``R`` the largest row sum of ``|W|``:
    ``gamma_{N-1} R`` for the sum, ``u R`` for the rounding of ``w``).  If ``err <= tol``
    every exact tie (``m_i = 0``) is a tie of the float64 rule, and if ``1/N - err > tol`` every
    nonzero ``m_i`` (``|h_i| >= 1/N``) is a decided field of the same sign: both rules then
    make the same decision at every site of every state.  ``(N + 1) K < 2^23`` keeps every
    number of ``(s xi^T) xi - (K - 1/2) s`` an exact half-integer in float32.

    Fields kept up to date incrementally, as in the asynchronous loop, take one more rounding
    (at most ``u R``) and a rounded ``w_ij`` (at most ``2 u R``) per flip: ``flips`` is the
    most flips a row can make, and the bound grows by ``3 u R`` per flip.
    """
    err = (N + 3 + 3 * flips) * _U64 * row_sum
    return (N + 1) * K < 2**23 and err <= tol and 1.0 / N - err > tol


def float32_matmul_is_ieee(device: torch.device) -> bool:
    """Whether float32 matmuls on ``device`` round like IEEE float32 (no TF32 / bfloat16 shortcut).

    The integer fields are exact only with true float32 products; ``torch`` may be told to
    trade precision for speed (``set_float32_matmul_precision``, ``fp32_precision``), and then
    the low-rank path computes in float64 instead (still exact, only slower).
    """
    backend = torch.backends.cuda.matmul if device.type == "cuda" else getattr(torch.backends.mkldnn, "matmul", None)
    precision = getattr(backend, "fp32_precision", None)
    if precision is not None:  # torch >= 2.9: "none" means the default, IEEE
        ieee = precision in ("none", "ieee")
    else:  # older torch: the legacy switch
        ieee = torch.get_float32_matmul_precision() == "highest"
    if device.type == "cuda":
        ieee = ieee and not torch.backends.cuda.matmul.allow_tf32
    return ieee


def hebb_factor(net: ClassicalHopfield, dtype: torch.dtype) -> Tensor:
    """The stored spins ``xi`` ``(K, N)`` in ``dtype`` (cached on ``net``; exact in any float dtype)."""
    factors = net._factors
    if dtype not in factors:
        factors[dtype] = factors[torch.float32].to(dtype)
    return factors[dtype]


def _uses_lowrank(net: ClassicalHopfield) -> bool:
    return net.lowrank and torch.float32 in net._factors


def sync_step(net: ClassicalHopfield, tokens: Tensor) -> tuple[Tensor, Callable[[Tensor], tuple[Tensor, Tensor]]]:
    """Codes of ``tokens`` ``(B, L)`` as ``(B, L*C)`` and the synchronous update on such states.

    The update maps states ``x`` ``(A, L*C)`` to ``(new, same)``: the new states and, per
    row, a count that equals ``L`` iff nothing changed and otherwise depends only on how
    many sites changed (a necessary condition for ``new`` to equal an earlier state).
    """
    W = net._W
    if net._potts:
        L, V = net.patterns_.shape[1], net.vocab_size_

        def potts(x: Tensor) -> tuple[Tensor, Tensor]:
            new = net._decide((x @ W).view(-1, L, V), x.view(-1, L, V)).view(-1, L * V)
            return new, torch.linalg.vecdot(new, x)  # sites that kept their token

        return net._encode(tokens).flatten(1), potts
    if not _uses_lowrank(net):
        tol = torch.tensor(net._tie_tol, dtype=torch.float64, device=tokens.device)
        one = torch.ones((), dtype=torch.float64, device=tokens.device)

        def spins(x: Tensor) -> tuple[Tensor, Tensor]:
            # sign(h) with ties kept flips exactly the sites whose field opposes the spin
            # by more than the tolerance: h s + tol < 0 (s = +-1: h s is exact; the sum
            # rounds to 0 only when it is 0, and then to +0, so its sign bit says "flip").
            keep = torch.copysign(one, torch.addcmul(tol, x @ W, x))  # (A, N) +1 keep, -1 flip
            same = keep.sum(dim=1)  # N - 2 (flips)
            return keep.mul_(x), same  # new spins

        return to_spins(tokens), spins
    dtype = torch.float32 if float32_matmul_is_ieee(tokens.device) else torch.float64
    xi = hebb_factor(net, dtype)  # (K, N)
    # N h + s/2 = (s xi^T) xi - (K - 1/2) s, the -K s only where w_ii = 0.  Every number in
    # it is a half-integer below 2^23 in magnitude, so float32 sums it exactly in any
    # order; N h is an integer, so the added s/2 is a tie-break: sign(N h + s/2) is
    # sign(h) where h != 0 and the current spin where h == 0.  lowrank_is_exact
    # guarantees that the float64 weights make those same decisions.
    beta = 0.5 - xi.shape[0] if net.zero_diagonal else 0.5

    def hebb(x: Tensor) -> tuple[Tensor, Tensor]:
        keep = torch.addmm(x, x @ xi.mT, xi, beta=beta).mul_(x).sign_()  # (A, N) +1 keep, -1 flip
        same = keep.sum(dim=1)  # N - 2 (flips)
        return keep.mul_(x), same  # new spins, in place: no (A, N) allocation besides the product

    return to_spins(tokens, dtype), hebb


def async_fields(net: ClassicalHopfield, tokens: Tensor, max_steps: int) -> tuple[Tensor, Tensor, Tensor, float]:
    """Spins of ``tokens`` ``(B, N)``, their local fields, the weights and the tie tolerance.

    Generic weights: float64 ``h = X W`` and the tolerance, exactly as in the generic loop.
    Hebbian spins: the integers ``N h = (s xi^T) xi - K s`` and the integer couplings
    ``c = N W`` in float32 (every partial sum an integer below ``2^23``: exact in any
    order), with tolerance 0.  Each flip moves the generic loop's float64 fields by one
    more rounding; :func:`lowrank_is_exact` with the most flips a row can make
    (``N`` per sweep) guarantees that they still decide every site as the integers do.

    Returns
    -------
    x, h : Tensor
        ``(B, N)`` spins and fields, new tensors (float32 or float64).
    W : Tensor
        ``(N, N)`` the weights (or integer couplings) whose row ``i`` moves the fields when
        ``s_i`` flips; shared, not to be modified.
    tol : float
        ``s_i`` flips iff ``h_i s_i < -tol``.
    """
    N = tokens.shape[1]
    flips = N * max_steps
    if not _uses_lowrank(net) or not lowrank_is_exact(
        net._factors[torch.float32].shape[0], N, net._row_sum, net._tie_tol, flips
    ):
        x = to_spins(tokens)  # (B, N) float64
        return x, x @ net._W, net._W, net._tie_tol  # the generic loop's fields, bit for bit
    dtype = torch.float32 if float32_matmul_is_ieee(tokens.device) else torch.float64
    xi = hebb_factor(net, dtype)  # (K, N)
    K = xi.shape[0]
    key = ("couplings", dtype)
    if key not in net._factors:
        c = xi.mT @ xi  # (N, N) integers sum_mu xi_i xi_j
        if net.zero_diagonal:
            c.diagonal().sub_(K)
        net._factors[key] = c
    x = to_spins(tokens, dtype)
    h = torch.addmm(x, x @ xi.mT, xi, beta=-K) if net.zero_diagonal else (x @ xi.mT) @ xi  # (B, N) = N h
    return x, h, net._factors[key], 0.0

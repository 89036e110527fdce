"""Energies of Hopfield-type memories and the couplings they are built from.

Pure functions, no state: each takes states and the parameters of the energy (weights
or couplings) and returns numbers.  The classical family lives here:

* :func:`quadratic_energy`, ``E(s) = -1/2 s^T W s + theta^T s`` for spins ``s in {-1, +1}^N``
  (Hopfield 1982);
* :func:`potts_energy`, ``E(x) = -1/2 sum_{ij,kl} J_ij^{kl} x_ik x_jl`` for one-hot Potts states
  (Kanter 1988, Phys. Rev. A 37:2739);
* the learning rules that produce ``W`` or ``J`` from stored patterns: :func:`hebb_weights`,
  :func:`pseudoinverse_weights`, :func:`storkey_weights`, :func:`potts_couplings`.

Every builder returns an exactly symmetric matrix: the energy descent of asynchronous
dynamics (Hopfield 1982) and the fixed-point-or-2-cycle theorem of synchronous dynamics
(Goles et al. 1985) both rest on ``W = W^T``, and floating-point products do not always
give it for free.  Builders compute in float64 (see ``docs/theory.md`` §5.6).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "quadratic_energy",
    "potts_energy",
    "hebb_weights",
    "pseudoinverse_weights",
    "storkey_weights",
    "potts_couplings",
]


# ----------------------------------------------------------------------------------
# Energies.
# ----------------------------------------------------------------------------------


def quadratic_energy(spins: Tensor, W: Tensor, theta: Tensor | None = None) -> Tensor:
    """Classical Hopfield energy ``E(s) = -1/2 s^T W s + theta^T s``.

    Parameters
    ----------
    spins : Tensor
        ``(B, N)`` states, usually in ``{-1, +1}``.
    W : Tensor
        ``(N, N)`` symmetric weights.
    theta : Tensor, optional
        ``(N,)`` thresholds; zero when omitted.

    Returns
    -------
    Tensor
        ``(B,)`` energies, in the dtype of ``spins @ W``.
    """
    if spins.dim() != 2 or W.shape != (spins.shape[1], spins.shape[1]):
        raise ValueError(f"spins must be (B, N) and W (N, N); got spins {tuple(spins.shape)}, W {tuple(W.shape)}")
    e = -0.5 * ((spins @ W) * spins).sum(dim=1)  # (B,)
    if theta is not None:
        if theta.shape != (spins.shape[1],):
            raise ValueError(f"theta must have shape ({spins.shape[1]},), got {tuple(theta.shape)}")
        e = e + spins @ theta  # (B,)
    return e


def potts_energy(onehot_states: Tensor, J: Tensor) -> Tensor:
    """Potts energy ``E(x) = -1/2 sum_{i,j} sum_{k,l} J_ij^{kl} x_ik x_jl`` (Kanter 1988).

    With one-hot states this is ``-1/2 sum_{i,j} J_ij^{sigma_i sigma_j}``: the energy of a
    configuration ``sigma`` under couplings built from the ``V delta - 1`` codes of the
    stored patterns (:func:`potts_couplings`).

    Parameters
    ----------
    onehot_states : Tensor
        ``(B, L, V)`` one-hot states.
    J : Tensor
        ``(L, V, L, V)`` couplings with ``J[i, k, j, l] = J[j, l, i, k]``.

    Returns
    -------
    Tensor
        ``(B,)`` energies.
    """
    if onehot_states.dim() != 3 or J.shape != (*onehot_states.shape[1:], *onehot_states.shape[1:]):
        raise ValueError(
            f"onehot_states must be (B, L, V) and J (L, V, L, V); "
            f"got onehot_states {tuple(onehot_states.shape)}, J {tuple(J.shape)}"
        )
    B, L, V = onehot_states.shape
    # A Potts energy is a quadratic form on the flattened one-hot code.
    return quadratic_energy(onehot_states.reshape(B, L * V), J.reshape(L * V, L * V))


# ----------------------------------------------------------------------------------
# Learning rules: stored patterns -> symmetric weights / couplings, float64.
# ----------------------------------------------------------------------------------


def _check_spins(spins: Tensor) -> Tensor:
    if spins.dim() != 2 or spins.shape[0] < 1:
        raise ValueError(f"spins must be (K, N) with K >= 1, got shape {tuple(spins.shape)}")
    return spins.to(torch.float64)


def _finish(W: Tensor, zero_diagonal: bool) -> Tensor:
    """Symmetrise exactly (``a + b == b + a`` in IEEE arithmetic) and zero the diagonal."""
    W = 0.5 * (W + W.mT)  # (N, N)
    if zero_diagonal:
        W.fill_diagonal_(0.0)
    return W


def hebb_weights(spins: Tensor, zero_diagonal: bool = True) -> Tensor:
    """Hebbian weights ``W = (1/N) sum_mu xi^mu xi^mu^T`` (Hopfield 1982).

    Parameters
    ----------
    spins : Tensor
        ``(K, N)`` stored patterns in ``{-1, +1}``.
    zero_diagonal : bool
        Set ``w_ii = 0`` (the usual convention; docs/theory.md §2.1).

    Returns
    -------
    Tensor
        ``(N, N)`` float64 symmetric weights.
    """
    X = _check_spins(spins)  # (K, N)
    return _finish(X.mT @ X / X.shape[1], zero_diagonal)


def pseudoinverse_weights(spins: Tensor, zero_diagonal: bool = True) -> Tensor:
    """Projection (pseudo-inverse) weights ``W = X^T (X X^T)^+ X`` (Personnaz et al. 1985).

    ``W`` projects onto the span of the patterns, so every pattern satisfies ``W xi = xi``
    and linearly independent sets of up to ``N - 1`` patterns are all fixed points
    (Kanter & Sompolinsky 1987).  ``pinv(X) = X^T (X X^T)^+`` for any ``X``, so the
    projector is ``pinv(X) @ X``; pinv handles linearly dependent patterns too.

    Parameters
    ----------
    spins : Tensor
        ``(K, N)`` stored patterns in ``{-1, +1}``.
    zero_diagonal : bool
        Set ``w_ii = 0``.  Keeping the diagonal (``w_ii ~ K/N``) stabilises every state a
        little and shrinks the basins (docs/theory.md §2.4).

    Returns
    -------
    Tensor
        ``(N, N)`` float64 symmetric weights.
    """
    X = _check_spins(spins)  # (K, N)
    return _finish(torch.linalg.pinv(X) @ X, zero_diagonal)  # (N, K) @ (K, N)


def storkey_weights(spins: Tensor, zero_diagonal: bool = True) -> Tensor:
    """Storkey's incremental rule (Storkey 1997, ICANN'97).

    Patterns are learnt one at a time::

        w_ij += (1/N) (xi_i xi_j - xi_i h_ji - h_ij xi_j),   h_ij = sum_{k != i, j} w_ik xi_k,

    with ``h`` computed from the weights before the pattern is added.  The update is
    vectorised over ``i, j``; the loop runs over patterns only.

    Parameters
    ----------
    spins : Tensor
        ``(K, N)`` stored patterns in ``{-1, +1}``.
    zero_diagonal : bool
        Keep ``w_ii = 0`` after every pattern.  When False the diagonal follows the same
        rule (with ``h_ii = sum_{k != i} w_ik xi_k``) and may turn negative, which voids
        the energy-descent guarantee of asynchronous dynamics.

    Returns
    -------
    Tensor
        ``(N, N)`` float64 symmetric weights.
    """
    X = _check_spins(spins)  # (K, N)
    N = X.shape[1]
    W = torch.zeros(N, N, dtype=torch.float64, device=X.device)
    for xi in X:  # (N,)
        h = W @ xi  # (N,) full fields h_i = sum_k w_ik xi_k
        d = W.diagonal() * xi  # (N,) self terms w_ii xi_i
        # h_ij = h_i - w_ii xi_i - w_ij xi_j for i != j; on i == j only the self term goes.
        H = h[:, None] - d[:, None] - W * xi[None, :]  # (N, N)
        H.diagonal().add_(d)
        # A + A^T is exactly symmetric: (xi_i xi_j - h_ij xi_j) + (xi_j xi_i - h_ji xi_i).
        A = 0.5 * torch.outer(xi, xi) - H * xi[None, :]  # (N, N)
        W += (A + A.mT) / N
        if zero_diagonal:
            W.fill_diagonal_(0.0)
    return W


def potts_couplings(tokens: Tensor, V: int, zero_diagonal: bool = True) -> Tensor:
    """Potts couplings ``J_ij^{kl} = (1/N) sum_mu (V d(xi_i^mu, k) - 1)(V d(xi_j^mu, l) - 1)``.

    Kanter 1988: each site carries the code ``V e_k - 1`` of its token, and the couplings
    are Hebbian in those codes; ``N = L`` is the number of sites.  Capacity scales as
    ``V (V - 1) / 2`` times the binary one (docs/theory.md §5, C17).

    Parameters
    ----------
    tokens : Tensor
        ``long (K, L)`` stored patterns with values in ``0..V-1``.
    V : int
        Alphabet size.
    zero_diagonal : bool
        Zero the ``i == j`` blocks ``J[i, :, i, :]`` (no self-coupling).

    Returns
    -------
    Tensor
        ``(L, V, L, V)`` float64 couplings, symmetric under ``(i, k) <-> (j, l)``.
    """
    if tokens.dim() != 2 or tokens.shape[0] < 1:
        raise ValueError(f"tokens must be (K, L) with K >= 1, got shape {tuple(tokens.shape)}")
    K, L = tokens.shape
    M = V * torch.nn.functional.one_hot(tokens, V).to(torch.float64) - 1  # (K, L, V)
    M = M.reshape(K, L * V)  # (K, L*V)
    J = _finish(M.mT @ M / L, zero_diagonal=False).reshape(L, V, L, V)  # (L, V, L, V)
    if zero_diagonal:
        sites = torch.arange(L, device=tokens.device)
        J[sites, :, sites, :] = 0.0
    return J

"""The exact Bayes denoiser of a stored set: a modern Hopfield update on one-hot codes.

With the empirical data distribution (uniform over ``K`` stored patterns ``xi_mu``) and
uniform-noise corruption, Bayes' rule gives (docs/theory.md §4.1-4.3)::

    p(mu | x_t)          = softmax_mu(beta_t A_mu(x_t)),        A_mu = #{i : x_t^i = xi_mu^i}
    p(x_0^i = v | x_t)   = sum_mu p(mu | x_t) [xi_mu^i = v]                 (full posterior)
    pi^i(v)              = sum_mu softmax_mu(beta_t A_mu^{(-i)}) [xi_mu^i = v]   (leave-one-out)

with ``beta_t = log(1 + V alpha_t / (1 - alpha_t))`` and ``A^{(-i)}`` the agreements
outside position ``i``.  The first line is Ramsauer's update ``Xi softmax(beta Xi^T x)`` on
one-hot codes, so this oracle must tie exactly with the modern Hopfield net.  The
leave-one-out form is what a perfectly trained NELBO network outputs, so it is what the
samplers consume.  Everything is float64: the softmax over ``beta * A`` with ``beta ~ 14``
and ``A ~ L`` spans far more than float32's range of useful ratios.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from energy.diffusion import agreements, onehot_codes
from models.diffusion.process import check_time
from models.diffusion.schedule import EPS, beta
from models.limits import check_memory

__all__ = ["pattern_posterior", "full_posterior", "loo_posterior", "Oracle", "CODES_MAX_VOCAB", "posterior_bytes"]

#: Largest alphabet for which the oracle caches one-hot codes and counts agreements as a
#: matrix product (2 V flops per comparison; measured faster than the broadcast comparison
#: up to V ~ 200 on the reference machine, benchmarks/limits.py).
CODES_MAX_VOCAB = 128


def posterior_bytes(batch: int, n_patterns: int, length: int, vocab_size: int) -> int:
    """Estimated peak bytes of one oracle call on ``batch`` states (exact Python ints, no overflow).

    Four float64 ``(B, L, V)`` tensors live at once in :func:`loo_posterior` (posterior, damped
    copy, normalised result, its log), plus the ``(K, L, V)`` float64 one-hot table of the
    patterns (cached for small ``V``, rebuilt per call above :data:`CODES_MAX_VOCAB`) and the
    ``(B, K)`` association weights.
    """
    B, K, L, V = (int(x) for x in (batch, n_patterns, length, vocab_size))
    return 8 * (4 * B * L * V + K * L * V + 2 * B * K)


def _beta_column(b: float | Tensor, like: Tensor) -> float | Tensor:
    if isinstance(b, Tensor):
        return b.to(device=like.device, dtype=torch.float64).reshape(-1, *([1] * (like.dim() - 1)))
    return b


def pattern_posterior(x_t: Tensor, patterns: Tensor, beta_t: float | Tensor, codes: Tensor | None = None) -> Tensor:
    """``p(mu | x_t) = softmax_mu(beta_t A_mu(x_t))``.

    Parameters
    ----------
    x_t : Tensor
        ``long (B, L)`` noisy states.
    patterns : Tensor
        ``long (K, L)`` stored patterns.
    beta_t : float or Tensor
        Inverse temperature; a ``(B,)`` tensor gives one per row.
    codes : Tensor, optional
        ``energy.diffusion.onehot_codes(patterns, V)``: the same agreements, as a matrix product.

    Returns
    -------
    Tensor
        ``float64 (B, K)`` association weights.
    """
    A = agreements(x_t, patterns, codes)  # (B, K)
    return torch.softmax(_beta_column(beta_t, A) * A, dim=-1)


def full_posterior(
    x_t: Tensor,
    patterns: Tensor,
    beta_t: float | Tensor,
    vocab_size: int,
    codes: Tensor | None = None,
    *,
    codes64: Tensor | None = None,
) -> Tensor:
    """``p(x_0^i = v | x_t) = sum_mu p(mu | x_t) [xi_mu^i = v]``, ``float64 (B, L, V)``.

    ``codes`` as in :func:`pattern_posterior`; ``codes64``, the same one-hot codes in
    float64 ``(K, L*V)``, saves rebuilding the one-hot table of the patterns per call.
    """
    w = pattern_posterior(x_t, patterns, beta_t, codes)  # (B, K)
    if codes64 is not None:
        return (w @ codes64).view(w.shape[0], patterns.shape[1], vocab_size)  # (B, L, V)
    return torch.einsum("bk,klv->blv", w, F.one_hot(patterns, vocab_size).to(torch.float64))


def loo_posterior(
    x_t: Tensor,
    patterns: Tensor,
    beta_t: float | Tensor,
    vocab_size: int,
    *,
    direct: bool = False,
    codes: Tensor | None = None,
    codes64: Tensor | None = None,
) -> Tensor:
    """Leave-one-out ``pi^i(v) = sum_mu softmax_mu(beta_t A_mu^{(-i)}) [xi_mu^i = v]``, ``float64 (B, L, V)``.

    Removing position ``i`` lowers ``A_mu`` by ``m_{i mu} = [xi_mu^i = x_t^i]`` in {0, 1}, so
    ``softmax_mu(beta A^{(-i)}) ∝ w_mu exp(-beta m_{i mu})`` with ``w = softmax(beta A)``;
    summing over the patterns with ``xi_mu^i = v`` gives
    ``pi^i(v) ∝ p(x_0^i = v | x_t) exp(-beta [v = x_t^i])`` -- the LOO <-> posterior
    conversion of docs/theory.md §4.3.  That route costs one ``(B, K) @ (K, L V)`` product
    instead of a ``(B, L, K)`` tensor of per-position weights (5-10x faster at large ``K``)
    and agrees with the definition to ~1e-14.  ``direct=True`` evaluates the definition
    (``O(B L K)`` memory), kept as a cross-check.  ``codes`` as in :func:`pattern_posterior`,
    ``codes64`` as in :func:`full_posterior`.
    """
    if direct:
        match = (x_t[:, :, None] == patterns.T[None, :, :]).to(torch.float64)  # (B, L, K)
        A_loo = agreements(x_t, patterns, codes)[:, None, :] - match  # (B, L, K) agreements without position i
        w = torch.softmax(_beta_column(beta_t, A_loo) * A_loo, dim=-1)  # (B, L, K)
        onehot = F.one_hot(patterns, vocab_size).to(torch.float64)  # (K, L, V)
        return torch.einsum("blk,klv->blv", w, onehot)
    p = full_posterior(x_t, patterns, beta_t, vocab_size, codes, codes64=codes64)  # (B, L, V)
    b = _beta_column(beta_t, p)
    damp = torch.exp(-b) if isinstance(b, Tensor) else math.exp(-b)  # evidence of the observed token, removed
    observed = F.one_hot(x_t, vocab_size).to(torch.bool)  # (B, L, V)
    pi = torch.where(observed, p * damp, p)
    return pi / pi.sum(-1, keepdim=True)


class Oracle:
    """Exact Bayes denoiser of a stored set, as a sampler-compatible callable.

    ``oracle(x_t, t)`` returns the leave-one-out log-probabilities ``(B, L, V)`` in
    float64, the same quantity the NELBO-trained network outputs, so the two plug into
    the same samplers.

    Parameters
    ----------
    patterns : Tensor
        ``long (K, L)`` stored patterns (kept by reference, not copied: modifying them
        afterwards leaves ``codes`` stale).
    vocab_size : int
        Alphabet size ``V``.
    eps : float
        Schedule floor of ``alpha_t = 1 - (1 - eps) t``.

    Attributes
    ----------
    codes : Tensor or None
        ``float32 (K, L*V)`` one-hot codes of the patterns for ``V <=`` :data:`CODES_MAX_VOCAB`
        (None above): every call counts the agreements as one matrix product with them
        (exact integers, so the results are those of the broadcast comparison).
    """

    def __init__(self, patterns: Tensor, vocab_size: int, eps: float = EPS) -> None:
        K, L = patterns.shape
        check_memory(
            posterior_bytes(1, K, L, vocab_size),
            argument="vocab_size",
            value=vocab_size,
            what=f"the (K, L, V) = ({K}, {L}, {vocab_size}) float64 one-hot table of the patterns",
            device=patterns.device,
        )
        self.patterns = patterns
        self.vocab_size = vocab_size
        self.eps = eps
        small = vocab_size <= CODES_MAX_VOCAB and patterns.shape[1] < 2**24
        self.codes = onehot_codes(patterns, vocab_size) if small else None
        # float64 copy for the posterior's (B, K) @ (K, L*V) product (exact: 0/1 entries).
        self._codes64 = self.codes.to(torch.float64) if small else None

    def beta(self, t: float | Tensor) -> float | Tensor:
        """Inverse temperature ``beta(t)`` of this vocabulary (``ValueError`` below the resolvable time)."""
        check_time(t, "t", self.eps)
        return beta(t, self.vocab_size, self.eps)

    def association(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """``p(mu | x_t)``, ``float64 (B, K)``."""
        return pattern_posterior(x_t, self.patterns, self.beta(t), self.codes)

    def posterior(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """Full posterior ``p(x_0 | x_t)``, ``float64 (B, L, V)``."""
        return full_posterior(x_t, self.patterns, self.beta(t), self.vocab_size, self.codes, codes64=self._table())

    def loo(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """Leave-one-out prediction ``pi``, ``float64 (B, L, V)``."""
        return loo_posterior(x_t, self.patterns, self.beta(t), self.vocab_size, codes=self.codes, codes64=self._table())

    def _table(self) -> Tensor | None:
        """The cached float64 codes, unless ``codes`` has been switched off (set to None)."""
        return self._codes64 if self.codes is not None else None

    def __call__(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """Leave-one-out log-probabilities ``float64 (B, L, V)`` (``-inf`` where no pattern has ``v`` at ``i``)."""
        return torch.log(self.loo(x_t, t))

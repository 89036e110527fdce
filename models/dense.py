"""Dense associative memories: Krotov & Hopfield 2016 (polynomial), Demircigil et al. 2017 (exponential).

The memory *is* its energy (``energy.dense``): ``E(s) = -sum_mu F(o_mu(s))`` over the
overlaps ``o_mu`` of the state with the ``K`` stored patterns (spin overlaps for
``V = 2``, one-hot agreement counts for ``V > 2``). A site update sets the token of one
site to the value of lowest energy with all other sites fixed; for spins this is
Krotov's rule ``s_i <- sign(E(s_i=-1) - E(s_i=+1))`` (docs/theory.md §2.6).

Only energy *differences* are ever computed, from a ``(B, K)`` overlap matrix that is
kept up to date incrementally as sites change, so one site update costs ``O(B V K)``.
For ``F = "exp"`` the differences are log-sum-exp differences (never raw exponentials),
so nothing overflows for any ``beta``.  For the polynomials the differences are exact
integers while ``2 K L^n < 2^53``; beyond that (large ``n``: ``64^171`` already overflows
float64) each row's differences are computed on overlaps divided by its largest ``|o| + c``,
a positive factor that changes no decision, so no ``n`` overflows (``scaled_``).

Speed: without recording, the asynchronous dynamics run compiled sweeps on the CPU
(``kernel="numba"``, :mod:`models.dense_numba`, one call per sweep for the whole batch) or the
torch loop below (``kernel="torch"``, any device); ``tests/models/test_dense_numba.py``
checks that they agree.

>>> import models
>>> net = models.make("dense", F="exp", beta=1.0).fit(patterns)   # doctest: +SKIP
>>> net.retrieve(queries, generator=torch.Generator().manual_seed(0)).states   # doctest: +SKIP
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from energy.dense import DENSE_FUNCTIONS, dense_energy_from_overlaps, token_overlaps
from models.base import AssociativeMemory, Retrieval
from models.checks import check_choice, check_int, check_positive, check_positive_int, check_tokens
from models.codes import one_hot
from models.kernels import KERNELS, resolve_kernel
from models.limits import check_memory

__all__ = ["DenseHopfield"]

UPDATES = ("async", "sync")
# Unit roundoff of float64.
_U64 = 2.0**-53


class DenseHopfield(AssociativeMemory):
    """Dense associative memory with polynomial, rectified polynomial or exponential interactions.

    Parameters
    ----------
    F : {"poly", "repoly", "exp"}
        Interaction function: ``x**n``, ``max(x, 0)**n`` or ``exp(beta x)``.
    n : int
        Degree of the polynomial interactions, ``>= 2``. ``n = 2`` with ``F = "poly"`` is
        the zero-diagonal Hebbian net (its local field is ``4 N`` times the Hebb field).
    beta : float
        Inverse temperature of the exponential interaction (validated, unused otherwise).
    update : {"async", "sync"}
        ``"async"``: one site at a time, in a fresh random order every sweep (the same
        order for the whole batch), the energy never increases. ``"sync"``: all sites
        at once from the previous state; may end in 2-cycles.
    max_steps : int
        Maximum number of sweeps.
    device : str
        Torch device to compute on.
    kernel : {"auto", "numba", "torch"}
        Implementation of the asynchronous dynamics without recording (:mod:`models.kernels`):
        compiled numba sweeps (CPU) or the torch loop (any device; ``record=True`` and
        synchronous updates always run it); ``"auto"`` takes numba on the CPU when it imports.
        The polynomial and the exact regime give identical results; the others can differ
        only at gains within rounding of a tie (:mod:`models.dense_numba`).

    Attributes
    ----------
    patterns_ : Tensor
        ``long (K, L)`` stored patterns.
    vocab_size_ : int
        Alphabet size ``V``.
    kernel_ : str
        ``"numba"`` or ``"torch"``: the implementation ``kernel`` resolved to.
    scaled_ : bool
        Whether polynomial energy differences are computed on scaled overlaps because their
        integers would not be exact in float64 (``2 K L^n >= 2^53``); decisions within
        rounding of a tie then keep the current token.
    """

    name = "dense"

    def __init__(
        self,
        F: str = "poly",
        n: int = 3,
        beta: float = 1.0,
        update: str = "async",
        max_steps: int = 100,
        device: str = "cpu",
        kernel: str = "auto",
    ) -> None:
        self.F = F
        self.n = n
        self.beta = beta
        self.update = update
        self.max_steps = max_steps
        self.device = device
        self.kernel = kernel

    def _check_hyperparameters(self) -> None:
        check_choice("F", self.F, DENSE_FUNCTIONS)
        check_int("n", self.n, 2)
        check_positive("beta", self.beta)
        check_choice("update", self.update, UPDATES)
        check_positive_int("max_steps", self.max_steps)
        check_choice("kernel", self.kernel, KERNELS)

    # -- fit ---------------------------------------------------------------------------

    def _fit(self, patterns: Tensor) -> None:
        (K, L), V = patterns.shape, self.vocab_size_
        size = f"the (L, V, K) = ({L}, {V}, {K}) float64 site tables and a (V, V) = ({V}, {V}) mask"
        check_memory(8 * L * V * K + V * V, argument="vocab_size", value=V, what=size, device=self.device_)
        self.n_ = int(self.n)
        self.beta_ = float(self.beta)
        self.kernel_ = resolve_kernel(self.kernel, self.device_)
        K, L = patterns.shape
        # Polynomial differences are sums of at most K terms below 2 L^n in magnitude: exact
        # integers in float64 below 2^53 (Python integers: no overflow in the test itself).
        self.scaled_ = self.F != "exp" and 2 * K * L**self.n_ >= 2**53
        # Overlap change per changed site: spins s.xi move by 2, agreement counts by 1.
        self.step_ = 2.0 if self.vocab_size_ == 2 else 1.0
        self.columns_ = patterns.T.contiguous()  # (L, K) site-major, so a site is a cheap row read
        self._tokens = torch.arange(self.vocab_size_, device=self.device_)  # (V,)
        # Which stored patterns hold token v at site i, float64 (L, V, K): one table per
        # site, built once (a site visit reads a contiguous (V, K) slice).
        self._site_onehot = (self.columns_[:, None, :] == self._tokens[None, :, None]).to(torch.float64)
        self._eye = torch.eye(self.vocab_size_, dtype=torch.bool, device=self.device_)  # (V, V)

    # -- the update rule ---------------------------------------------------------------
    #
    # Setting site i from token `cur` to `v` raises the overlap with every pattern that holds
    # `v` there by c (c = 2 for spins, 1 for one-hot), lowers it by c for every pattern that
    # holds `cur`, and leaves the rest alone. So the energy change of every candidate is a
    # sum over two groups of patterns, and one site update costs O(B K) for any V. The
    # grouping is a product with the (V, K) one-hot table of site i, which BLAS does fast.

    def _site_gains(self, o: Tensor, cur: Tensor, i: int, work: Tensor | None = None, scaled: bool = False) -> Tensor:
        """Energy decrease ``E(current) - E(s_i = v)`` for every token ``v`` at site ``i``.

        Parameters
        ----------
        o : Tensor
            ``float64 (B, K)`` overlaps of the current states.
        cur : Tensor
            ``long (B,)`` current tokens at site ``i``.
        work : Tensor, optional
            ``float64 (2, B, K)`` scratch space, overwritten. A sweep passes one so that its
            ``L`` site updates allocate no large temporaries (each is 8 MB at B = K = 1000).
        scaled : bool
            Polynomials only: divide each row by ``(max |o| + c)^n`` first, so nothing
            overflows (the decisions are the same; the values are not energy differences).

        Returns
        -------
        Tensor
            ``float64 (B, V)``, exactly 0 at the current token. For ``F = "exp"`` in the
            units of the log form ``-(1/beta) logsumexp(beta o)`` of the energy.
        """
        col = self.columns_[i]  # (K,) token of each pattern at site i
        C = self._site_onehot[i]  # (V, K)
        c, V = self.step_, self.vocab_size_
        a, b = torch.empty(2, *o.shape, dtype=o.dtype, device=o.device) if work is None else work  # (B, K) each
        if self.F == "exp":
            # E = -(1/beta) lse(beta o), so beta (E(cur) - E(v)) = lse(beta (o + delta_v)) - lse(beta o):
            # a log-sum-exp difference. Grouping the patterns by their token w at site i, with
            # log masses m_w = ln sum_{mu holds w} exp(beta o_mu), it is
            #   lse(beta c + m_v, -beta c + m_cur, m_rest(v)) - lse_w(m_w),
            # where m_rest(v) is the log mass of the tokens other than v and cur. Each group is
            # summed relative to its own maximum, so no group underflows even at huge beta.
            idx = col.expand(o.shape[0], -1)  # (B, K)
            z = torch.mul(o, self.beta_, out=a)  # (B, K)
            top = torch.full((o.shape[0], V), -math.inf, dtype=o.dtype, device=o.device)
            top.scatter_reduce_(1, idx, z, "amax")  # (B, V) group maxima, -inf for empty groups
            # Terms below e^-708 of their group's maximum (which contributes 1) cannot change the
            # float64 sum; clamping them keeps exp off its slow underflow path.
            z.sub_(top.gather(1, idx)).clamp_(min=-708.0).exp_()  # (B, K) in [e^-708, 1]
            m = top + (z @ C.T).log()  # (B, V) group log masses; empty groups stay -inf
            m_cur = m.gather(1, cur[:, None])  # (B, 1)
            drop = self._eye[None] | (self._tokens == cur[:, None])[:, None, :]
            m_rest = torch.logsumexp(m[:, None, :].masked_fill(drop, -math.inf), dim=-1)  # (B, V); -inf if V = 2
            terms = torch.stack([self.beta_ * c + m, (-self.beta_ * c + m_cur).expand_as(m), m_rest], dim=-1)
            gains = (torch.logsumexp(terms, dim=-1) - torch.logsumexp(m, dim=-1, keepdim=True)) / self.beta_
        else:
            # Every pattern moves one way for every v != cur: down by c if it holds cur, up by c
            # otherwise (counted only for the v it holds), so one shifted evaluation serves all v.
            # Per-pattern differences keep the sums small; on integer overlaps every term, and
            # every sum, is an exact integer in float64 (while below 2**53): ties are exact.
            shifted = torch.addmm(o, one_hot(cur, self.vocab_size_), C, alpha=-2 * c, out=a).add_(c)  # (B, K)
            base = b.copy_(o)  # (B, K)
            if scaled:  # a positive factor per row: |shifted|, |o| <= max |o| + c, so every term is <= 1
                scale = o.abs().amax(dim=1, keepdim=True).add_(c).reciprocal_()  # (B, 1)
                shifted.mul_(scale)
                base.mul_(scale)
            diff = self._interaction_(shifted).sub_(self._interaction_(base))  # (B, K) F(shifted) - F(o)
            by_token = diff @ C.T  # (B, V): gains of patterns holding v, losses of those holding cur
            gains = by_token + by_token.gather(1, cur[:, None])  # (B, V)
        return gains.scatter(1, cur[:, None], 0.0)  # staying put changes nothing

    def _interaction_(self, x: Tensor) -> Tensor:
        """``F(x)`` for the polynomials, overwriting ``x`` (as ``energy.dense.interaction``)."""
        if self.F == "repoly":
            x.clamp_(min=0)
        return x.pow_(self.n_)

    def _tie_tolerance(self) -> float:
        # Polynomial gains are exact integers: a tie is an exact tie. Log-sum-exp gains are
        # differences of two lse values of size up to beta L and carry their rounding; gains
        # below that are ties, so rounding can never make a state cycle between equal energies.
        # Scaled polynomial gains are sums of K differences of terms <= 1, each power off by
        # about (n + 2) roundings: below 4 (n + K) u they are ties.
        if self.F == "exp":
            return 1e-12 * (1.0 / self.beta_ + self.patterns_.shape[1])
        return 4.0 * (self.n_ + self.patterns_.shape[0]) * _U64 if self.scaled_ else 0.0

    def _site_step(self, o: Tensor, cur: Tensor, i: int, work: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Choose the token of site ``i`` in every state: lowest energy, current one kept on ties.

        Returns
        -------
        new : Tensor
            ``long (B,)`` new tokens at site ``i``.
        swap : Tensor
            ``float64 (B, V)`` one-hot(new) - one-hot(current), a zero row where nothing
            changed: the overlaps move by ``c * swap @ onehot(site i)`` (exact integers).
        """
        gains = self._site_gains(o, cur, i, work, self.scaled_)  # (B, V)
        best = gains.argmax(-1)  # (B,) first maximum among candidates
        change = gains.gather(1, best[:, None]).squeeze(1) > self._tie_tolerance()  # (B,)
        new = torch.where(change, best, cur)  # (B,)
        return new, one_hot(new, self.vocab_size_) - one_hot(cur, self.vocab_size_)

    def _sweep_async(self, s: Tensor, o: Tensor, order: list[int]) -> tuple[Tensor, Tensor]:
        """One asynchronous sweep over ``order``; returns new ``(states, overlaps)``."""
        s, o = s.clone(), o.clone()  # (B, L), (B, K): owned here, updated in place
        work = torch.empty(2, *o.shape, dtype=o.dtype, device=o.device)  # (2, B, K) scratch
        for i in order:
            s[:, i], swap = self._site_step(o, s[:, i], i, work)
            # Incremental overlaps: +c for patterns holding the new token, -c for the old one.
            o.addmm_(swap, self._site_onehot[i], alpha=self.step_)
        return s, o

    def _step_sync(self, s: Tensor, o: Tensor) -> tuple[Tensor, Tensor]:
        """One synchronous step: every site chooses given the previous state."""
        new = torch.empty_like(s)  # (B, L)
        work = torch.empty(2, *o.shape, dtype=o.dtype, device=o.device)  # (2, B, K) scratch
        for i in range(s.shape[1]):
            new[:, i] = self._site_step(o, s[:, i], i, work)[0]
        return new, self.overlaps(new)

    # -- contract ----------------------------------------------------------------------

    def overlaps(self, states: Tensor) -> Tensor:
        """Overlaps of validated token states with the stored patterns, ``float64 (B, K)``."""
        return token_overlaps(states, self.patterns_, self.vocab_size_)

    def _retrieve(
        self,
        queries: Tensor,
        *,
        noise: float | None,
        max_steps: int | None,
        generator: torch.Generator | None,
        record: bool,
    ) -> Retrieval:
        max_steps = self.max_steps if max_steps is None else max_steps
        # No global RNG: without a generator the sweep orders come from a fixed seed.
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        if self.update == "async" and self.kernel_ == "numba" and not record:
            from models import dense_numba  # imports numba: only when this kernel runs

            return dense_numba.run_async(self, queries, max_steps, gen)
        B, L = queries.shape
        s = queries.clone()  # (B, L)
        o = self.overlaps(s)  # (B, K)
        steps = torch.zeros(B, dtype=torch.long, device=s.device)
        converged = torch.zeros(B, dtype=torch.bool, device=s.device)
        trajectory, energies = [s.clone()], [self._energy_of_overlaps(o)] if record else []
        for t in range(1, max_steps + 1):
            # One permutation per sweep, drawn on the CPU and shared by the batch, so a
            # row's dynamics do not depend on the other rows (batch == one by one).
            order = torch.randperm(L, generator=gen).tolist() if self.update == "async" else None
            active = (~converged).nonzero().squeeze(1)  # (A,) fixed points never change again
            s_a, o_a = s[active], o[active]
            if order is not None:
                new_s, new_o = self._sweep_async(s_a, o_a, order)
            else:
                new_s, new_o = self._step_sync(s_a, o_a)
            s[active], o[active] = new_s, new_o
            steps[active] = t
            converged[active] = (new_s == s_a).all(1)
            if record:
                trajectory.append(s.clone())
                energies.append(self._energy_of_overlaps(o))
            if bool(converged.all()):
                break
        if not record:
            return Retrieval(states=s, steps=steps, converged=converged)
        return Retrieval(
            states=s,
            steps=steps,
            converged=converged,
            energies=torch.stack(energies),  # (T, B)
            trajectory=torch.stack(trajectory),  # (T, B, L)
        )

    def _energy_of_overlaps(self, o: Tensor) -> Tensor:
        return dense_energy_from_overlaps(o, self.F, self.n_, self.beta_)  # (B,)

    def _energy(self, states: Tensor) -> Tensor:
        return self._energy_of_overlaps(self.overlaps(states))

    # -- introspection -----------------------------------------------------------------

    def energy_gaps(self, states: Tensor) -> Tensor:
        """Energy decrease of every single-site change: ``E(s) - E(s with s_i = v)``.

        Parameters
        ----------
        states : Tensor
            ``long (B, L)`` token states.

        Returns
        -------
        Tensor
            ``float64 (B, L, V)``; zero at each site's current token, positive where
            changing to ``v`` lowers the energy. For ``F = "exp"`` in the units of the log
            form ``-(1/beta) logsumexp(beta o)`` of the energy. At degrees where the energy
            itself overflows float64 (``scaled_``, e.g. ``64^171``) gaps can be infinite or NaN;
            the dynamics and :meth:`unstable_sites` decide on rescaled gains instead.
        """
        return self._gaps(states, scaled=False)

    def _gaps(self, states: Tensor, scaled: bool) -> Tensor:
        """:meth:`energy_gaps`, or with ``scaled`` the rescaled gains the dynamics decide on."""
        self._check_fitted()
        check_tokens(states, "states", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        s = states.to(self.device_)
        o = self.overlaps(s)  # (B, K)
        gaps = torch.empty(*s.shape, self.vocab_size_, dtype=torch.float64, device=s.device)  # (B, L, V)
        for i in range(s.shape[1]):
            gaps[:, i] = self._site_gains(o, s[:, i], i, scaled=scaled)
        return gaps.to(states.device)

    def local_fields(self, states: Tensor) -> Tensor:
        """Krotov's local field ``E(s_i = -1) - E(s_i = +1)`` of every site (``V = 2`` only).

        The update sets ``s_i = sign(field)`` and keeps ``s_i`` when the field is 0. For
        ``F = "poly"``, ``n = 2`` it equals ``4 N`` times the zero-diagonal Hebbian field
        ``sum_j W_ij s_j``, ``W = X^T X / N`` (docs/theory.md §2.6).

        Parameters
        ----------
        states : Tensor
            ``long (B, L)`` binary token states.

        Returns
        -------
        Tensor
            ``float64 (B, L)``.
        """
        self._check_fitted()
        if self.vocab_size_ != 2:
            raise ValueError(f"local_fields needs vocab_size=2 (spins), got {self.vocab_size_}; use energy_gaps")
        gaps = self.energy_gaps(states)  # (B, L, 2)
        return gaps[..., 1] - gaps[..., 0]

    def unstable_sites(self, states: Tensor) -> Tensor:
        """Sites a single update would change (by the tie rule), ``bool (B, L)``.

        A state is a fixed point of the dynamics exactly when no site is unstable.
        """
        gains = self._gaps(states, scaled=self.scaled_)  # (B, L, V) the gains the dynamics decide on
        return gains.amax(-1) > self._tie_tolerance()  # the gain is 0 at the current token

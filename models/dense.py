"""Dense associative memories: Krotov & Hopfield 2016 (polynomial), Demircigil et al. 2017 (exponential).

The memory *is* its energy (``energy.dense``): ``E(s) = -sum_mu F(o_mu(s))`` over the
overlaps ``o_mu`` of the state with the ``K`` stored patterns (spin overlaps for
``V = 2``, one-hot agreement counts for ``V > 2``). A site update sets the token of one
site to the value of lowest energy with all other sites fixed; for spins this is
Krotov's rule ``s_i <- sign(E(s_i=-1) - E(s_i=+1))`` (theory.md 2.6).

Only energy *differences* are ever computed, from a ``(B, K)`` overlap matrix that is
kept up to date incrementally as sites change, so one site update costs ``O(B V K)``.
For ``F = "exp"`` the differences are log-sum-exp differences (never raw exponentials),
so nothing overflows for any ``beta``.

>>> import models
>>> net = models.make("dense", F="exp", beta=1.0).fit(patterns)   # doctest: +SKIP
>>> net.retrieve(queries, generator=torch.Generator().manual_seed(0)).states   # doctest: +SKIP
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import Tensor

from energy.dense import DENSE_FUNCTIONS, dense_energy_from_overlaps, interaction, token_overlaps
from models.base import (
    AssociativeMemory,
    Retrieval,
    check_choice,
    check_positive,
    check_positive_int,
    check_tokens,
)

__all__ = ["DenseHopfield"]

UPDATES = ("async", "sync")


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

    Attributes
    ----------
    patterns_ : Tensor
        ``long (K, L)`` stored patterns.
    vocab_size_ : int
        Alphabet size ``V``.
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
    ) -> None:
        self.F = F
        self.n = n
        self.beta = beta
        self.update = update
        self.max_steps = max_steps
        self.device = device

    def _check_hyperparameters(self) -> None:
        check_choice("F", self.F, DENSE_FUNCTIONS)
        if isinstance(self.n, bool) or not isinstance(self.n, Integral):
            raise TypeError(f"n must be an int >= 2, got {type(self.n).__name__} {self.n!r}")
        if self.n < 2:
            raise ValueError(f"n must be an int >= 2, got {self.n!r}")
        check_positive("beta", self.beta)
        check_choice("update", self.update, UPDATES)
        check_positive_int("max_steps", self.max_steps)

    # -- fit ---------------------------------------------------------------------------

    def _fit(self, patterns: Tensor) -> None:
        self.n_ = int(self.n)
        self.beta_ = float(self.beta)
        # Site-major pattern columns, so that the per-site code below is a cheap row read.
        if self.vocab_size_ == 2:
            self.columns_ = (patterns.T.to(torch.float64) * 2 - 1).contiguous()  # (L, K) spins
        else:
            self.columns_ = patterns.T.contiguous()  # (L, K) tokens
        self._tokens = torch.arange(self.vocab_size_, device=self.device_)  # (V,)

    def _site_codes(self, i: int) -> Tensor:
        """Contribution of each candidate token at site ``i`` to each overlap, ``float64 (V, K)``."""
        col = self.columns_[i]  # (K,)
        if self.vocab_size_ == 2:
            return torch.stack([-col, col])  # token 0 is spin -1, token 1 is spin +1
        return (col[None, :] == self._tokens[:, None]).to(torch.float64)  # (V, K)

    # -- the update rule ---------------------------------------------------------------

    def _gain(self, o: Tensor, delta: Tensor) -> Tensor:
        """Energy decrease ``E(o) - E(o + delta)`` for overlap changes ``delta``.

        Parameters
        ----------
        o : Tensor
            ``float64 (B, K)`` overlaps of the current states.
        delta : Tensor
            ``float64 (B, ..., K)`` changes of the overlaps (one per candidate).

        Returns
        -------
        Tensor
            ``float64 (B, ...)``.
        """
        extra = (None,) * (delta.dim() - 2)  # broadcast o over the candidate dimensions
        if self.F == "exp":
            # E = -(1/beta) lse(beta o), so E(o) - E(o + d) = (1/beta) ln sum_mu softmax(beta o)_mu
            # exp(beta d_mu): a log-sum-exp difference, exact in form and overflow-free.
            logp = torch.log_softmax(self.beta_ * o, dim=-1)[(slice(None), *extra)]  # (B, ..., K)
            return torch.logsumexp(logp + self.beta_ * delta, dim=-1) / self.beta_
        # Per-pattern differences keep the sum small; on integer overlaps every term is an
        # exact integer in float64 (while below 2**53), so ties are exact.
        o = o[(slice(None), *extra)]  # (B, ..., K)
        return (interaction(o + delta, self.F, self.n_) - interaction(o, self.F, self.n_)).sum(-1)

    def _flip_delta(self, cur: Tensor, i: int) -> Tensor:
        """Spins: overlap change ``-2 s_i xi_i^mu`` if site ``i`` flips, ``float64 (B, K)``."""
        spin = cur.to(torch.float64) * 2 - 1  # (B,)
        return -2 * spin[:, None] * self.columns_[i][None, :]  # (B, K)

    def _candidate_deltas(self, cur: Tensor, i: int) -> Tensor:
        """Overlap change if site ``i`` is set to each token ``v``, ``float64 (B, V, K)``."""
        C = self._site_codes(i)  # (V, K) contribution of each token to each overlap
        return C[None, :, :] - C[cur][:, None, :]  # (B, V, K)

    def _site_gains(self, o: Tensor, cur: Tensor, i: int) -> Tensor:
        """``E(current) - E(s_i = v)`` for every token ``v``; 0 at the current token. ``(B, V)``."""
        if self.vocab_size_ == 2:
            gains = torch.zeros(cur.shape[0], 2, dtype=torch.float64, device=o.device)  # (B, 2)
            gains.scatter_(1, (1 - cur)[:, None], self._gain(o, self._flip_delta(cur, i))[:, None])
            return gains
        return self._gain(o, self._candidate_deltas(cur, i))

    def _tie_tolerance(self) -> float:
        # Polynomial gains are exact integers: a tie is an exact tie. Log-sum-exp gains carry
        # rounding of a few ulp of their terms (up to 2 beta in lse units); gains below that
        # are ties, so rounding can never make a state cycle between equal-energy states.
        return 1e-12 * (1.0 / self.beta_ + 2.0) if self.F == "exp" else 0.0

    def _site_step(self, o: Tensor, cur: Tensor, i: int) -> tuple[Tensor, Tensor]:
        """Update site ``i`` of every state: token of lowest energy, current one kept on ties.

        Returns
        -------
        new : Tensor
            ``long (B,)`` new tokens at site ``i``.
        o_new : Tensor
            ``float64 (B, K)`` overlaps after the change (exact: integer increments).
        """
        tol = self._tie_tolerance()
        if self.vocab_size_ == 2:
            # Spins have one alternative: flip iff that lowers the energy by more than a tie.
            delta = self._flip_delta(cur, i)  # (B, K)
            flip = self._gain(o, delta) > tol  # (B,)
            return torch.where(flip, 1 - cur, cur), o + delta * flip[:, None]
        delta = self._candidate_deltas(cur, i)  # (B, V, K)
        gains = self._gain(o, delta)  # (B, V), 0 (up to rounding for exp) at the current token
        best = gains.argmax(-1)  # (B,) first maximum among candidates
        g_best = gains.gather(1, best[:, None]).squeeze(1)  # (B,)
        g_cur = gains.gather(1, cur[:, None]).squeeze(1)  # (B,)
        new = torch.where(g_best - g_cur > tol, best, cur)  # (B,)
        return new, o + delta.gather(1, new[:, None, None].expand(-1, 1, o.shape[1])).squeeze(1)

    def _sweep_async(self, s: Tensor, o: Tensor, order: list[int]) -> tuple[Tensor, Tensor]:
        """One asynchronous sweep over ``order``; returns new ``(states, overlaps)``."""
        s = s.clone()  # (B, L)
        for i in order:
            # Incremental overlaps: o changes only by the chosen token's contribution.
            s[:, i], o = self._site_step(o, s[:, i], i)
        return s, o

    def _step_sync(self, s: Tensor, o: Tensor) -> tuple[Tensor, Tensor]:
        """One synchronous step: every site chooses given the previous state."""
        new = torch.empty_like(s)  # (B, L)
        for i in range(s.shape[1]):
            new[:, i] = self._site_step(o, s[:, i], i)[0]
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
        B, L = queries.shape
        s = queries.clone()  # (B, L)
        o = self.overlaps(s)  # (B, K)
        steps = torch.zeros(B, dtype=torch.long, device=s.device)
        converged = torch.zeros(B, dtype=torch.bool, device=s.device)
        trajectory, energies = [s.clone()], [self._energy_of_overlaps(o)]
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
            form ``-(1/beta) logsumexp(beta o)`` of the energy.
        """
        self._check_fitted()
        check_tokens(states, "states", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        s = states.to(self.device_)
        o = self.overlaps(s)  # (B, K)
        gaps = torch.empty(*s.shape, self.vocab_size_, dtype=torch.float64, device=s.device)  # (B, L, V)
        for i in range(s.shape[1]):
            gaps[:, i] = self._site_gains(o, s[:, i], i)
        return gaps.to(states.device)

    def local_fields(self, states: Tensor) -> Tensor:
        """Krotov's local field ``E(s_i = -1) - E(s_i = +1)`` of every site (``V = 2`` only).

        The update sets ``s_i = sign(field)`` and keeps ``s_i`` when the field is 0. For
        ``F = "poly"``, ``n = 2`` it equals ``4 N`` times the zero-diagonal Hebbian field
        ``sum_j W_ij s_j``, ``W = X^T X / N`` (theory.md 2.6).

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
        gaps = self.energy_gaps(states)  # (B, L, V)
        g_cur = gaps.gather(-1, states.to(gaps.device)[..., None]).squeeze(-1)  # (B, L)
        return gaps.amax(-1) - g_cur > self._tie_tolerance()

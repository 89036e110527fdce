"""Modern continuous Hopfield net (Ramsauer et al., ICLR 2021) on spin or one-hot codes.

Tokens are encoded as continuous state patterns ``xi`` (spins ``+-1`` for ``V = 2``,
flattened one-hot ``L*V`` vectors otherwise), the stored patterns are the rows of ``X``,
and the state is updated by Ramsauer's Eq. (3),

    xi <- X^T softmax(beta X xi),

which descends the energy of :func:`energy.dense.modern_energy` (concave-convex
procedure). Retrieval iterates the update in float64 until ``max |change| < tol`` and
reads tokens back per position (sign for spins, argmax for one-hot).

On one-hot codes ``X xi`` counts agreeing positions, so :meth:`ModernHopfield.association`
is ``softmax(beta * matches)``: the exact Bayes posterior over stored sequences of
uniform-noise discrete diffusion at ``beta(t)`` (docs/theory.md §2.10).

The optional ``backend="hflayers"`` runs the same update through ``hflayers.Hopfield``
(ml-jku/hopfield-layers) configured as a pure memory; it is imported only when asked for.
Checked against hopfield-layers 1.0.2: on the float64 codes it is given, its update equals
the native one exactly (tests/models/test_modern.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from energy.dense import modern_energy
from models.base import AssociativeMemory, Retrieval
from models.checks import check_choice, check_positive, check_positive_int, check_tokens
from models.codes import from_spins, one_hot, to_spins

__all__ = ["ModernHopfield", "ramsauer_update"]

ENCODINGS = ("auto", "spin", "onehot")
BACKENDS = ("native", "hflayers")

HFLAYERS_HINT = (
    "backend='hflayers' needs the hopfield-layers package (import name 'hflayers'), which is not on the "
    "package registry; install it from its public GitHub repository ml-jku/hopfield-layers with "
    "`pip install git+https://github.com/ml-jku/hopfield-layers`, or use backend='native'"
)


def ramsauer_update(xi: Tensor, X: Tensor, beta: float) -> Tensor:
    """One modern Hopfield update, ``xi_new = X^T softmax(beta X xi)`` (Ramsauer Eq. 3).

    Parameters
    ----------
    xi : Tensor
        ``(B, D)`` state patterns.
    X : Tensor
        ``(K, D)`` stored patterns (rows).
    beta : float
        Inverse temperature.

    Returns
    -------
    Tensor
        ``(B, D)`` updated states, same dtype as ``xi``.
    """
    p = torch.softmax(beta * (xi @ X.T), dim=-1)  # (B, K) association weights
    return p @ X  # (B, D)


def _hflayers_memory(beta: float) -> Any:
    """``hflayers.Hopfield`` as a pure memory: no projections, no normalisation, one update."""
    try:
        import hflayers  # lazy: optional dependency, never imported at module import time
    except ImportError as err:
        raise ImportError(HFLAYERS_HINT) from err
    return hflayers.Hopfield(
        scaling=float(beta),  # hflayers accepts only a Python float or a per-head tensor
        update_steps_max=0,  # k means k + 1 updates in hflayers: 0 is exactly one update
        normalize_stored_pattern=False,
        normalize_stored_pattern_affine=False,
        normalize_state_pattern=False,
        normalize_state_pattern_affine=False,
        normalize_pattern_projection=False,
        normalize_pattern_projection_affine=False,
        normalize_hopfield_space=False,
        normalize_hopfield_space_affine=False,
        stored_pattern_as_static=True,
        state_pattern_as_static=True,
        pattern_projection_as_static=True,
        disable_out_projection=True,
        batch_first=True,
    )


class ModernHopfield(AssociativeMemory):
    """Ramsauer's modern Hopfield net as a memory of token sequences.

    Parameters
    ----------
    beta : float
        Inverse temperature. Large ``beta``: one stored pattern per fixed point; small:
        metastable averages; ``beta -> 0``: the global average of the stored patterns.
    max_steps : int
        Maximum number of updates.
    tol : float
        A row has converged when an update changes no coordinate by ``tol`` or more.
    encoding : {"auto", "spin", "onehot"}
        Code of the tokens: ``"auto"`` is spins for ``V = 2`` and one-hot otherwise;
        ``"spin"`` needs ``V = 2``.
    backend : {"native", "hflayers"}
        Who computes the update: this file, or ``hflayers.Hopfield`` (optional package).
    device : str
        Torch device to compute on.

    Attributes
    ----------
    patterns_ : Tensor
        ``long (K, L)`` stored patterns.
    stored_patterns_ : Tensor
        ``float64 (K, D)`` their codes, the ``X`` of the update (``D = L`` or ``L * V``).
    encoding_ : str
        Resolved encoding, ``"spin"`` or ``"onehot"``.
    hopfield_ : hflayers.Hopfield or None
        The configured layer for ``backend="hflayers"``.
    """

    name = "modern"

    def __init__(
        self,
        beta: float = 1.0,
        max_steps: int = 100,
        tol: float = 1e-9,
        encoding: str = "auto",
        backend: str = "native",
        device: str = "cpu",
    ) -> None:
        self.beta = beta
        self.max_steps = max_steps
        self.tol = tol
        self.encoding = encoding
        self.backend = backend
        self.device = device

    def _check_hyperparameters(self) -> None:
        check_positive("beta", self.beta)
        check_positive_int("max_steps", self.max_steps)
        check_positive("tol", self.tol)
        check_choice("encoding", self.encoding, ENCODINGS)
        check_choice("backend", self.backend, BACKENDS)

    def _fit(self, patterns: Tensor) -> None:
        V = self.vocab_size_
        encoding = self.encoding
        if encoding == "auto":
            encoding = "spin" if V == 2 else "onehot"
        if encoding == "spin" and V != 2:
            raise ValueError(f"encoding='spin' needs vocab_size=2, got vocab_size={V}; use 'onehot' or 'auto'")
        self.encoding_ = encoding
        self.beta_ = float(self.beta)
        self.hopfield_ = _hflayers_memory(self.beta_) if self.backend == "hflayers" else None
        self.stored_patterns_ = self.encode(patterns)  # (K, D)

    # -- codes -------------------------------------------------------------------------

    def encode(self, tokens: Tensor) -> Tensor:
        """Code of token sequences, ``long (B, L) -> float64 (B, D)`` on the model device."""
        tokens = tokens.to(self.device_)
        if self.encoding_ == "spin":
            return to_spins(tokens)  # (B, L), token 0 is spin -1
        return one_hot(tokens, self.vocab_size_).flatten(1)  # (B, L*V)

    def decode(self, xi: Tensor, fallback: Tensor) -> Tensor:
        """Tokens of continuous states: sign for spins, per-position argmax for one-hot.

        Parameters
        ----------
        xi : Tensor
            ``float (B, D)`` states.
        fallback : Tensor
            ``long (B, L)`` tokens kept on ties (a spin of exactly 0, or several maximal
            one-hot coordinates including the fallback token), usually the query.

        Returns
        -------
        Tensor
            ``long (B, L)``.
        """
        if self.encoding_ == "spin":
            tokens = from_spins(xi)  # (B, L)
            return torch.where(xi == 0, fallback, tokens)
        z = xi.reshape(xi.shape[0], -1, self.vocab_size_)  # (B, L, V)
        is_max = z == z.amax(-1, keepdim=True)  # (B, L, V)
        keep = is_max.gather(-1, fallback[..., None]).squeeze(-1)  # (B, L) fallback is among the maxima
        return torch.where(keep, fallback, z.argmax(-1))  # argmax: first maximum otherwise

    def _as_state(self, x: Tensor, name: str) -> Tensor:
        """Validated float64 ``(B, D)`` state from tokens ``long (B, L)`` or codes ``float (B, D)``."""
        self._check_fitted()
        if not isinstance(x, Tensor):
            kind = type(x).__name__
            raise TypeError(f"{name} must be a torch.Tensor, long (B, L) tokens or float (B, D) states; got {kind}")
        if x.is_floating_point():
            D = self.stored_patterns_.shape[1]
            if x.dim() != 2 or x.shape[1] != D:
                raise ValueError(f"{name} as continuous states must have shape (B, D={D}), got {tuple(x.shape)}")
            return x.to(device=self.device_, dtype=torch.float64)
        check_tokens(x, name, vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        return self.encode(x)

    # -- the update --------------------------------------------------------------------

    def _update(self, xi: Tensor) -> Tensor:
        if self.hopfield_ is None:
            return ramsauer_update(xi, self.stored_patterns_, self.beta_)
        X = self.stored_patterns_
        Y = X[None].expand(xi.shape[0], *X.shape)  # (B, K, D) stored patterns, per batch row
        with torch.no_grad():
            out = self.hopfield_((Y, xi[:, None, :], Y))  # (B, 1, D): (stored, state, projection)
        return out[:, 0, :].to(torch.float64)

    def update(self, xi: Tensor) -> Tensor:
        """One update ``xi <- X^T softmax(beta X xi)`` of continuous states.

        Parameters
        ----------
        xi : Tensor
            ``float (B, D)`` states, or ``long (B, L)`` tokens (encoded first).

        Returns
        -------
        Tensor
            ``float64 (B, D)`` on the device of ``xi``.
        """
        return self._update(self._as_state(xi, "xi")).to(xi.device)

    def association(self, queries: Tensor) -> Tensor:
        """Association weights ``softmax(beta X xi)`` over the stored patterns.

        For one-hot codes ``X xi`` is the number of agreeing positions, so this is exactly
        ``softmax(beta * matches)`` in float64.

        Parameters
        ----------
        queries : Tensor
            ``long (B, L)`` tokens or ``float (B, D)`` continuous states.

        Returns
        -------
        Tensor
            ``float64 (B, K)`` on the device of ``queries``, rows sum to 1.
        """
        xi = self._as_state(queries, "queries")  # (B, D)
        return torch.softmax(self.beta_ * (xi @ self.stored_patterns_.T), dim=-1).to(queries.device)  # (B, K)

    def _iterate(self, xi: Tensor, max_steps: int, record: bool) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """Iterate the update with per-row convergence; converged rows stop changing."""
        xi = xi.clone()  # (B, D)
        B = xi.shape[0]
        steps = torch.zeros(B, dtype=torch.long, device=xi.device)
        converged = torch.zeros(B, dtype=torch.bool, device=xi.device)
        history = [xi.clone()] if record else []
        for t in range(1, max_steps + 1):
            active = (~converged).nonzero().squeeze(1)  # (A,)
            old = xi[active]  # (A, D)
            new = self._update(old)  # (A, D)
            xi[active] = new
            steps[active] = t
            converged[active] = (new - old).abs().amax(1) < self.tol
            if record:
                history.append(xi.clone())
            if bool(converged.all()):
                break
        return xi, steps, converged, history

    def retrieve_continuous(self, queries: Tensor, *, max_steps: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Iterate the continuous update to its fixed point (or ``max_steps``).

        Parameters
        ----------
        queries : Tensor
            ``long (B, L)`` tokens or ``float (B, D)`` initial states.
        max_steps : int, optional
            Overrides the ``max_steps`` hyperparameter.

        Returns
        -------
        states : Tensor
            ``float64 (B, D)`` final continuous states.
        steps : Tensor
            ``long (B,)`` updates used.
        converged : Tensor
            ``bool (B,)`` whether ``max |change| < tol`` was reached.

        All three are on the device of ``queries``.
        """
        xi = self._as_state(queries, "queries")
        max_steps = self.max_steps if max_steps is None else check_positive_int("max_steps", max_steps)
        xi, steps, converged, _ = self._iterate(xi, max_steps, record=False)
        device = queries.device
        return xi.to(device), steps.to(device), converged.to(device)

    # -- contract ----------------------------------------------------------------------

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
        xi, steps, converged, history = self._iterate(self.encode(queries), max_steps, record)
        states = self.decode(xi, queries)  # (B, L)
        if not record:
            return Retrieval(states=states, steps=steps, converged=converged)
        X = self.stored_patterns_
        return Retrieval(
            states=states,
            steps=steps,
            converged=converged,
            # Energies of the continuous states: these are what the update never increases.
            energies=torch.stack([modern_energy(h, X, self.beta_) for h in history]),  # (T, B)
            trajectory=torch.stack([self.decode(h, queries) for h in history]),  # (T, B, L)
        )

    def _energy(self, states: Tensor) -> Tensor:
        return modern_energy(self.encode(states), self.stored_patterns_, self.beta_)  # (B,)

"""Classical Hopfield memories (Hopfield 1982) and their Potts generalisation (Kanter 1988).

Binary patterns (``V = 2``) are spins, token 0 = -1 and token 1 = +1, stored in symmetric
weights ``W`` by one of three rules (:mod:`energy.hopfield`):

* ``"hebb"``: ``W = (1/N) sum xi xi^T``, capacity ``~0.138 N`` (Amit, Gutfreund & Sompolinsky 1985);
* ``"pseudoinverse"``: the projector onto the patterns' span, every pattern stored up to ``K < N``
  (Personnaz et al. 1985; Kanter & Sompolinsky 1987);
* ``"storkey"``: Storkey's local incremental rule, capacity ``~N / sqrt(2 ln N)`` (Storkey 1997).

For ``V > 2`` each site is a Potts spin with Hebbian couplings ``J_ij^{kl}`` in the
``V e_k - 1`` codes, and a site moves to the token with the largest local field.

Both cases run one code: a state is a float64 tensor ``(B, L, C)``, with ``C = 1`` (the spin)
for ``V = 2`` and ``C = V`` (one-hot) for Potts, the weights are a flat symmetric
``(L*C, L*C)`` matrix, local fields are ``code @ W``, and only the site decision differs.
The energy ``-1/2 code^T W code`` never increases under asynchronous updates.

Tie rule: a site keeps its current value when its field does not prefer another one, i.e.
``h_i == 0`` for spins (never ``sign(0) = 0``) and, for Potts, when the current token is
among the maximisers.  "Equal" means equal up to rounding (``_TIE_RTOL`` times the largest
possible field): Hebbian fields are multiples of ``1/N`` that are often exactly zero in exact
arithmetic, and without the tolerance the sign of a rounding error would decide, differently
for a batch than for one query (different matmul kernels sum in different orders).

Speed: the loops above are written once, for every case (:meth:`ClassicalHopfield._run_async`,
:meth:`ClassicalHopfield._run_sync`).  Retrieval without recording runs faster loops that give
the same states, steps, converged flags and generator state, bit for bit
(``tests/models/test_classical_fast.py`` compares every kernel with the generic loops on random
inputs, exact ties, near ties and 2-cycles), chosen by the ``kernel`` hyperparameter
(:mod:`models.kernels`):

* Hebbian spins use exact integer fields ``N h = (s xi^T) xi - K s`` and couplings ``N W``
  where they decide every site as the float64 weights do (:mod:`models.classical_fields`);
* ``kernel="numba"`` (the default on the CPU): compiled asynchronous sweeps, one call per sweep
  for the whole batch (:mod:`models.classical_numba`);
* ``kernel="torch"``: batched torch loops (:mod:`models.classical_loops`), for CUDA and as the
  reference of the compiled ones; synchronous dynamics run these for either kernel (their work
  is matrix products, which torch already does at the machine's rate).
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import Tensor

from energy.hopfield import (
    hebb_weights,
    potts_couplings,
    potts_energy,
    pseudoinverse_weights,
    quadratic_energy,
    storkey_weights,
)
from models import classical_loops
from models.base import AssociativeMemory, Retrieval
from models.checks import check_bool, check_choice, check_positive_int, check_tokens
from models.classical_fields import lowrank_is_exact
from models.codes import from_spins, one_hot, to_spins
from models.kernels import KERNELS, resolve_kernel
from models.limits import check_memory

__all__ = ["ClassicalHopfield", "RULES", "UPDATES", "CLASSICAL_KERNELS"]

#: Learning rules for binary patterns; Potts memories (V > 2) support "hebb" only.
RULES = ("hebb", "pseudoinverse", "storkey")
#: "async": one site at a time in a random order per sweep; "sync": all sites at once.
UPDATES = ("async", "sync")
#: Values of the ``kernel`` hyperparameter: those of :data:`models.kernels.KERNELS` and "generic".
CLASSICAL_KERNELS = (*KERNELS, "generic")

_WEIGHT_RULES = {"hebb": hebb_weights, "pseudoinverse": pseudoinverse_weights, "storkey": storkey_weights}

# Fields within this fraction of the largest possible |field| count as ties.  Rounding
# errors of a dot product are ~1e-16 of that bound (times the number of incremental
# updates); the smallest genuine Hebbian field, 1/N, is ~1/sqrt(K) of it.
_TIE_RTOL = 1e-9


class ClassicalHopfield(AssociativeMemory):
    """Classical (Hopfield 1982) memory; Potts memory (Kanter 1988) for ``V > 2``.

    Parameters
    ----------
    rule : {"hebb", "pseudoinverse", "storkey"}
        Learning rule for ``V = 2``.  Potts memories (``V > 2``) support ``"hebb"`` only.
    update : {"async", "sync"}
        ``"async"``: sweeps over the sites in a random order drawn from ``generator`` (one
        permutation per sweep, shared by the whole batch, so a batch gives exactly the rows
        of one-by-one calls); a state has converged when a whole sweep changes nothing.
        ``"sync"``: every site at once, one matrix product per step; a fixed point has
        converged, a 2-cycle (state equal to the state two steps before) is reported as not
        converged and stops.
    zero_diagonal : bool
        Zero the self-couplings ``w_ii`` (Potts: the ``i == j`` blocks of ``J``).
    max_steps : int
        Most sweeps (async) or synchronous updates (sync) per retrieval.
    device : str or torch.device
        Device the weights and dynamics live on.
    kernel : {"auto", "numba", "torch", "generic"}
        Implementation of the dynamics without recording; every choice gives the same result
        (:mod:`models.kernels`).  ``"auto"``: compiled numba sweeps on the CPU when numba
        imports, the torch loops otherwise; ``"generic"``: the loops written once for every
        case, which ``record=True`` always runs.  Synchronous dynamics run the torch loop
        for ``"numba"`` (their work is matrix products).
    lowrank : bool
        Compute Hebbian spin fields as exact integers through the patterns where that decides
        every site as the float64 weights do (module docstring); ``False`` keeps the float64
        weights (same results; benchmarks time the generic-weights step with it).

    Attributes
    ----------
    weights_ : Tensor
        ``(N, N)`` float64 symmetric weights, ``V = 2`` only.
    couplings_ : Tensor
        ``(L, V, L, V)`` float64 Potts couplings, ``V > 2`` only.

    Notes
    -----
    ``Retrieval.steps`` counts the sweeps (async) or synchronous updates (sync) evaluated,
    including the final one that changed nothing, so a query that already is a fixed point
    reports 1 step; a detected 2-cycle reports the update that closed it; a state still
    moving after ``max_steps`` reports ``max_steps`` and ``converged=False``.

    With ``record=True`` the trajectory and the energies are recorded after every sweep or
    update (row 0 is the query); rows that finished early repeat their final state.  Without
    recording, ``energies`` is None so the fast path pays for no energy evaluation.

    ``noise`` is ignored.  ``generator=None`` uses a generator seeded with 0, so results
    are reproducible; synchronous dynamics draw no random numbers.

    Without ``record`` the dynamics run the loops ``kernel`` names (module docstring), with
    the same results as the generic ones; ``record=True`` runs the generic loops, which keep
    every intermediate state and energy.
    """

    name = "classical"

    def __init__(
        self,
        *,
        rule: str = "hebb",
        update: str = "async",
        zero_diagonal: bool = True,
        max_steps: int = 100,
        device: str | torch.device = "cpu",
        kernel: str = "auto",
        lowrank: bool = True,
    ) -> None:
        self.rule = rule
        self.update = update
        self.zero_diagonal = zero_diagonal
        self.max_steps = max_steps
        self.device = device
        self.kernel = kernel
        self.lowrank = lowrank

    def _check_hyperparameters(self) -> None:
        check_choice("rule", self.rule, RULES)
        check_choice("update", self.update, UPDATES)
        check_bool("zero_diagonal", self.zero_diagonal)
        check_positive_int("max_steps", self.max_steps)
        check_choice("kernel", self.kernel, CLASSICAL_KERNELS)
        check_bool("lowrank", self.lowrank)

    # -- learning ------------------------------------------------------------------

    def _fit(self, patterns: Tensor) -> None:
        V, (K, L) = self.vocab_size_, patterns.shape
        self.kernel_ = resolve_kernel(self.kernel, self.device_)  # "numba", "torch" or "generic"
        N = L * V if V > 2 else L  # one-hot Potts codes, or spins
        arg, value = ("vocab_size", V) if V > 2 else ("patterns", f"length {L}")
        check_memory(8 * N * N, argument=arg, value=value, what=f"the ({N}, {N}) float64 weights", device=self.device_)
        for stale in ("weights_", "couplings_"):  # a refit may change V
            self.__dict__.pop(stale, None)
        self._factors = {}  # Hebbian spin patterns per dtype, for the low-rank fields
        if V == 2:
            self.weights_ = _WEIGHT_RULES[self.rule](to_spins(patterns), self.zero_diagonal)  # (N, N)
            self._W = self.weights_
        else:
            if self.rule != "hebb":
                raise ValueError(
                    f"rule={self.rule!r} is defined for binary patterns (V = 2) only; "
                    f"Potts memories (here V = {V}) support rule='hebb'"
                )
            self.couplings_ = potts_couplings(patterns, V, self.zero_diagonal)  # (L, V, L, V)
            self._W = self.couplings_.view(L * V, L * V)
        self._row_sum = float(self._W.abs().sum(dim=1).max())  # the largest possible |field|
        self._tie_tol = _TIE_RTOL * self._row_sum
        if V == 2 and self.rule == "hebb" and lowrank_is_exact(K, L, self._row_sum, self._tie_tol):
            self._factors[torch.float32] = to_spins(patterns, torch.float32)  # (K, N), exact +-1

    # -- codes: spins (C = 1) for V = 2, one-hot (C = V) for Potts --------------------

    @property
    def _potts(self) -> bool:
        return self.vocab_size_ > 2

    def _encode(self, tokens: Tensor) -> Tensor:
        """``long (B, L) -> float64 (B, L, C)``; a new tensor, so queries are never touched."""
        if self._potts:
            return one_hot(tokens, self.vocab_size_)
        return to_spins(tokens).unsqueeze(-1)

    def _decode(self, code: Tensor) -> Tensor:
        """``(B, L, C) -> long (B, L)``."""
        return code.argmax(dim=-1) if self._potts else from_spins(code[..., 0])

    def _decide(self, h: Tensor, cur: Tensor) -> Tensor:
        """New code of the sites with fields ``h`` and codes ``cur``, both ``(..., C)``."""
        tol = self._tie_tol
        if not self._potts:
            # sign(h), except that a tie (h == 0 up to rounding) keeps the current spin.
            return torch.where(h.abs() > tol, torch.sign(h), cur)
        top = h >= h.amax(dim=-1, keepdim=True) - tol  # (..., V) maximisers up to rounding
        cur_tok = cur.argmax(dim=-1, keepdim=True)  # (..., 1)
        first = top.to(torch.uint8).argmax(dim=-1, keepdim=True)  # (..., 1) lowest-index maximiser
        new_tok = torch.where(top.gather(-1, cur_tok), cur_tok, first)  # current token wins ties
        return one_hot(new_tok.squeeze(-1), self.vocab_size_)

    def _fields(self, code: Tensor) -> Tensor:
        """Local fields ``(B, L, C)`` of codes ``(B, L, C)``."""
        B, L, C = code.shape
        return (code.reshape(B, L * C) @ self._W).view(B, L, C)

    def _code_energy(self, code: Tensor) -> Tensor:
        if self._potts:
            return potts_energy(code, self.couplings_)
        return quadratic_energy(code[..., 0], self.weights_)

    # -- contract --------------------------------------------------------------------

    def _energy(self, states: Tensor) -> Tensor:
        return self._code_energy(self._encode(states))

    def _retrieve(
        self,
        queries: Tensor,
        *,
        noise: float | None,
        max_steps: int | None,
        generator: torch.Generator | None,
        record: bool,
    ) -> Retrieval:
        del noise  # classical dynamics do not condition on the corruption level
        max_steps = self.max_steps if max_steps is None else max_steps
        kernel = "generic" if record else self.kernel_
        if self.update == "sync":
            if kernel == "generic":
                return self._run_sync(self._encode(queries), max_steps, record)
            return classical_loops.run_sync(self, queries, max_steps)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        if kernel == "generic":
            return self._run_async(self._encode(queries), max_steps, generator, record)
        if kernel == "numba":
            from models import classical_numba  # imports numba: only when this kernel runs

            loops = classical_numba
        else:
            loops = classical_loops
        if self._potts:
            return loops.run_async_potts(self, queries, max_steps, generator)
        return loops.run_async_spins(self, queries, max_steps, generator)

    def _run_async(self, X: Tensor, max_steps: int, generator: torch.Generator, record: bool) -> Retrieval:
        B, L, C = X.shape
        W_rows = self._W.view(L, C, L * C)  # (L, C, L*C) the rows of W belonging to each site
        H = self._fields(X)  # (B, L, C) local fields, kept up to date incrementally
        converged = torch.zeros(B, dtype=torch.bool, device=X.device)
        steps = torch.zeros(B, dtype=torch.long, device=X.device)
        log = _Log(self, X) if record else None
        for _ in range(max_steps):
            # One order per sweep, shared by the whole batch and drawn however many rows are
            # still moving: a row's result then does not depend on its batch mates.
            order = torch.randperm(L, generator=generator, device=generator.device).tolist()
            idx = (~converged).nonzero().squeeze(1)  # (A,) converged rows are fixed points: skip them
            x, h = X[idx], H[idx]  # (A, L, C) copies for this sweep
            h_flat = h.view(-1, L * C)
            changed = torch.zeros(len(idx), dtype=torch.bool, device=X.device)
            for i in order:
                new = self._decide(h[:, i], x[:, i])  # (A, C)
                rows = (new != x[:, i]).any(dim=-1).nonzero().squeeze(1)  # (R,) states that move
                if rows.numel():
                    delta = new[rows] - x[rows, i]  # (R, C)
                    h_flat.index_add_(0, rows, delta @ W_rows[i])  # H += outer(delta s_i, W_i)
                    x[rows, i] = new[rows]
                    changed[rows] = True
            X[idx], H[idx] = x, h
            steps[idx] += 1
            converged[idx] = ~changed
            if log is not None:
                log.append(X)
            if bool(converged.all()):
                break
        return self._result(X, steps, converged, log)

    def _run_sync(self, X: Tensor, max_steps: int, record: bool) -> Retrieval:
        B, L, C = X.shape
        X = X.view(B, L * C)
        prev = torch.full_like(X, float("nan"))  # state one step before X; NaN equals nothing
        active = torch.ones(B, dtype=torch.bool, device=X.device)
        converged = torch.zeros(B, dtype=torch.bool, device=X.device)
        steps = torch.zeros(B, dtype=torch.long, device=X.device)
        log = _Log(self, X.view(B, L, C)) if record else None
        for _ in range(max_steps):
            idx = active.nonzero().squeeze(1)  # (A,) finished states stay where they stopped
            x = X[idx]  # (A, L*C)
            h = x @ self._W  # (A, L*C) the one matrix product of the step
            new = self._decide(h.view(-1, L, C), x.view(-1, L, C)).view(-1, L * C)
            fixed = (new == x).all(dim=1)  # (A,)
            cycle = ~fixed & (new == prev[idx]).all(dim=1)  # back to the state of two steps ago
            prev[idx], X[idx] = x, new
            steps[idx] += 1
            converged[idx] = fixed
            active[idx] = ~(fixed | cycle)
            if log is not None:
                log.append(X.view(B, L, C))
            if not bool(active.any()):
                break
        return self._result(X.view(B, L, C), steps, converged, log)

    def _result(self, X: Tensor, steps: Tensor, converged: Tensor, log: _Log | None) -> Retrieval:
        if log is None:
            return Retrieval(states=self._decode(X), steps=steps, converged=converged)
        trajectory, energies = log.stack()
        return Retrieval(
            states=trajectory[-1], steps=steps, converged=converged, energies=energies, trajectory=trajectory
        )

    # -- introspection ---------------------------------------------------------------

    def unstable_sites(self, states: Tensor) -> Tensor:
        """Sites that a single-unit update would change.

        Parameters
        ----------
        states : Tensor
            ``long (B, L)`` states.

        Returns
        -------
        Tensor
            ``bool (B, L)``; a state is a fixed point iff its row is all False.
        """
        states = self._check_states(states)
        on_device = states.to(self.device_)
        X = self._encode(on_device)  # (B, L, C)
        moved = self._decode(self._decide(self._fields(X), X)) != on_device  # (B, L)
        return moved.to(states.device)

    def update_unit(self, states: Tensor, site: int) -> Tensor:
        """Update one site in every state (an asynchronous single-unit update).

        Parameters
        ----------
        states : Tensor
            ``long (B, L)`` states; not modified.
        site : int
            Index ``0 <= site < L`` of the unit to update.

        Returns
        -------
        Tensor
            ``long (B, L)`` states with ``site`` set by the update rule (ties keep it).
        """
        states = self._check_states(states)
        L = states.shape[1]
        if isinstance(site, bool) or not isinstance(site, Integral):
            raise TypeError(f"site must be an int in [0, {L}), got {type(site).__name__} {site!r}")
        if not 0 <= site < L:
            raise ValueError(f"site must be an int in [0, {L}), got {site!r}")
        X = self._encode(states.to(self.device_))  # (B, L, C)
        new = self._decide(self._fields(X)[:, site], X[:, site])  # (B, C)
        X[:, site] = new
        return self._decode(X).to(states.device)

    def _check_states(self, states: Tensor) -> Tensor:
        self._check_fitted()
        return check_tokens(states, "states", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])


class _Log:
    """Trajectory and energies recorded after every sweep / update (row 0: the query)."""

    def __init__(self, model: ClassicalHopfield, X: Tensor) -> None:
        self.model, self.states, self.energies = model, [], []
        self.append(X)

    def append(self, X: Tensor) -> None:
        self.states.append(self.model._decode(X))  # (B, L)
        self.energies.append(self.model._code_energy(X))  # (B,)

    def stack(self) -> tuple[Tensor, Tensor]:
        return torch.stack(self.states), torch.stack(self.energies)  # (T, B, L), (T, B)

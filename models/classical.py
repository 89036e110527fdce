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
:meth:`ClassicalHopfield._run_sync`).  Retrieval without recording runs specialised loops
that give the same states, steps, converged flags and generator state, bit for bit
(``tests/models/test_classical_fast.py`` compares them on random inputs and near ties):

* Hebbian spins: fields through the patterns, ``N h = (s xi^T) xi - K s`` -- ``4 N K``
  instead of ``2 N^2`` flops per synchronous step -- and integer couplings ``N W`` for the
  asynchronous updates, in float32: exact, because every number in them is an integer below
  ``2^23``; :func:`_lowrank_is_exact` states when the float64 weights decide every site the
  same way (otherwise, and for the other rules, the loops keep the float64 weights);
* synchronous: finished states leave the working set, and "moved" and "2-cycle" are read off
  per-row flip counts (a dot product confirms a cycle) instead of comparing whole states;
* asynchronous: per sweep, either a site visit finds the unstable rows and flips only those
  (:func:`_sweep_plain`), or, when few flips are left, every row jumps from one flip to its
  next at once (:func:`_sweep_events`); with float64 weights the fields receive exactly the
  additions of the generic loop, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
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
from models.base import (
    AssociativeMemory,
    Retrieval,
    check_bool,
    check_choice,
    check_positive_int,
    check_tokens,
    from_spins,
    one_hot,
    to_spins,
)
from models.limits import check_memory

__all__ = ["ClassicalHopfield", "RULES", "UPDATES"]

#: Learning rules for binary patterns; Potts memories (V > 2) support "hebb" only.
RULES = ("hebb", "pseudoinverse", "storkey")
#: "async": one site at a time in a random order per sweep; "sync": all sites at once.
UPDATES = ("async", "sync")

_WEIGHT_RULES = {"hebb": hebb_weights, "pseudoinverse": pseudoinverse_weights, "storkey": storkey_weights}

# Fields within this fraction of the largest possible |field| count as ties.  Rounding
# errors of a dot product are ~1e-16 of that bound (times the number of incremental
# updates); the smallest genuine Hebbian field, 1/N, is ~1/sqrt(K) of it.
_TIE_RTOL = 1e-9
# Unit roundoff of float64.
_U64 = 2.0**-53
# Cost model of an asynchronous sweep (microseconds, fitted on the reference machine with
# one thread; benchmarks/limits.py measures the visit and step times).  It only picks between
# two exact schedules, so a poor fit costs time, never a different result.
_VISIT_US, _VISIT_ROW_US = 8.0, 0.008  # a _sweep_plain visit: dispatches + its column of A rows
_FLIP_US, _FLIP_ENTRY_US = 10.0, 0.0013  # extra for a visit that flips R rows: + R N field updates
_STEP_US, _STEP_ENTRY_US = 90.0, 0.0025  # a _sweep_events step: dispatches + A' N entries


def _retire(
    done: Tensor,
    step: int,
    rows: Tensor,
    x: Tensor,
    out: Tensor,
    steps: Tensor,
    converged: Tensor,
    fixed: Tensor | None = None,
) -> Tensor:
    """Record the working-set rows that finished at ``step``; return the indices of the others.

    ``done`` ``(A,)`` marks the finished rows of the working set ``x`` ``(A, ...)``, whose
    batch rows are ``rows``; their states go to ``out``, ``step`` to ``steps`` and
    ``fixed[done]`` (``None``: all of them are fixed points) to ``converged``.
    """
    fin = done.nonzero().squeeze(1)
    out[rows[fin]] = x[fin]
    steps[rows[fin]] = step
    converged[rows[fin]] = True if fixed is None else fixed[fin]
    return (~done).nonzero().squeeze(1)


def _sweep_cost(N: int, A: int, busy: int, per_row: Tensor) -> tuple[float, float]:
    """Predicted microseconds of :func:`_sweep_events` and :func:`_sweep_plain` for one sweep.

    ``A`` rows, ``busy`` sites with an unstable row, and the rows with one have ``per_row``
    unstable sites: about the flips the sweep will make (flips can trigger more).
    The event schedule takes one step per flip of the busiest row, each over the rows not
    yet done; the plain one visits all ``N`` sites.
    """
    most, total = float(per_row.max()), float(per_row.sum())
    events = (most + 2) * _STEP_US + _STEP_ENTRY_US * N * (total + len(per_row))
    plain = N * (_VISIT_US + _VISIT_ROW_US * A) + busy * _FLIP_US + _FLIP_ENTRY_US * N * total
    return events, plain


def _lowrank_is_exact(K: int, N: int, row_sum: float, tol: float, flips: int = 0) -> bool:
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


def _float32_matmul_is_ieee(device: torch.device) -> bool:
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

    Without ``record`` the dynamics run specialised loops (module docstring) with the same
    results as the generic ones; ``record=True`` runs the generic loops, which keep every
    intermediate state and energy.
    """

    name = "classical"
    #: Use the specialised retrieval loops where they apply.  Not a hyperparameter: it never
    #: changes a result; tests and benchmarks set it to False on an instance to run the
    #: generic loops they are checked and measured against.
    _fast_paths: bool = True
    #: Within the specialised loops, compute Hebbian fields through the patterns (integers).
    #: False keeps the float64 weights, so benchmarks can time the generic-W step.
    _lowrank: bool = True

    def __init__(
        self,
        *,
        rule: str = "hebb",
        update: str = "async",
        zero_diagonal: bool = True,
        max_steps: int = 100,
        device: str | torch.device = "cpu",
    ) -> None:
        self.rule = rule
        self.update = update
        self.zero_diagonal = zero_diagonal
        self.max_steps = max_steps
        self.device = device

    def _check_hyperparameters(self) -> None:
        check_choice("rule", self.rule, RULES)
        check_choice("update", self.update, UPDATES)
        check_bool("zero_diagonal", self.zero_diagonal)
        check_positive_int("max_steps", self.max_steps)

    # -- learning ------------------------------------------------------------------

    def _fit(self, patterns: Tensor) -> None:
        V, (K, L) = self.vocab_size_, patterns.shape
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
        if V == 2 and self.rule == "hebb" and _lowrank_is_exact(K, L, self._row_sum, self._tie_tol):
            self._factors[torch.float32] = to_spins(patterns, torch.float32)  # (K, N), exact +-1

    def _hebb_factor(self, dtype: torch.dtype) -> Tensor:
        """The stored spins ``xi`` ``(K, N)`` in ``dtype`` (cached; exact in any float dtype)."""
        if dtype not in self._factors:
            self._factors[dtype] = self._factors[torch.float32].to(dtype)
        return self._factors[dtype]

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
        fast = self._fast_paths and not record
        if self.update == "sync":
            if fast:
                return self._run_sync_fast(queries, max_steps)
            return self._run_sync(self._encode(queries), max_steps, record)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        if fast:
            if self._potts:
                return self._run_async_potts(queries.clone(), self._encode(queries), max_steps, generator)
            return self._run_async_spins(queries, max_steps, generator)
        return self._run_async(self._encode(queries), max_steps, generator, record)

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

    # -- specialised loops: the same results as the generic ones, fewer operations -----------

    def _sync_step(self, tokens: Tensor) -> tuple[Tensor, Callable[[Tensor], tuple[Tensor, Tensor]]]:
        """Codes of ``tokens`` ``(B, L)`` as ``(B, L*C)`` and the synchronous update on such states.

        The update maps states ``x`` ``(A, L*C)`` to ``(new, same)``: the new states and, per
        row, a count that equals ``L`` iff nothing changed and otherwise depends only on how
        many sites changed (a necessary condition for ``new`` to equal an earlier state).
        """
        if self._potts:
            L, V = self.patterns_.shape[1], self.vocab_size_

            def potts(x: Tensor) -> tuple[Tensor, Tensor]:
                new = self._decide((x @ self._W).view(-1, L, V), x.view(-1, L, V)).view(-1, L * V)
                return new, torch.linalg.vecdot(new, x)  # sites that kept their token

            return self._encode(tokens).flatten(1), potts
        if not self._lowrank or torch.float32 not in self._factors:
            tol = torch.tensor(self._tie_tol, dtype=torch.float64, device=tokens.device)
            one = torch.ones((), dtype=torch.float64, device=tokens.device)

            def spins(x: Tensor) -> tuple[Tensor, Tensor]:
                # sign(h) with ties kept flips exactly the sites whose field opposes the spin
                # by more than the tolerance: h s + tol < 0 (s = +-1: h s is exact; the sum
                # rounds to 0 only when it is 0, and then to +0, so its sign bit says "flip").
                keep = torch.copysign(one, torch.addcmul(tol, x @ self._W, x))  # (A, N) +1 keep, -1 flip
                same = keep.sum(dim=1)  # N - 2 (flips)
                return keep.mul_(x), same  # new spins

            return to_spins(tokens), spins
        dtype = torch.float32 if _float32_matmul_is_ieee(tokens.device) else torch.float64
        xi = self._hebb_factor(dtype)  # (K, N)
        # N h + s/2 = (s xi^T) xi - (K - 1/2) s, the -K s only where w_ii = 0.  Every number in
        # it is a half-integer below 2^23 in magnitude, so float32 sums it exactly in any
        # order; N h is an integer, so the added s/2 is a tie-break: sign(N h + s/2) is
        # sign(h) where h != 0 and the current spin where h == 0.  _lowrank_is_exact
        # guarantees that the float64 weights make those same decisions.
        beta = 0.5 - xi.shape[0] if self.zero_diagonal else 0.5

        def hebb(x: Tensor) -> tuple[Tensor, Tensor]:
            keep = torch.addmm(x, x @ xi.mT, xi, beta=beta).mul_(x).sign_()  # (A, N) +1 keep, -1 flip
            same = keep.sum(dim=1)  # N - 2 (flips)
            return keep.mul_(x), same  # new spins, in place: no (A, N) allocation besides the product

        return to_spins(tokens, dtype), hebb

    def _run_sync_fast(self, tokens: Tensor, max_steps: int) -> Retrieval:
        """:meth:`_run_sync` without recording: the same states, steps and flags.

        States that finished leave the working set (no gather of every row at every step),
        "moved" is read off a per-row count from the update, and a 2-cycle is confirmed by a
        dot product only for the rows whose count equals the previous step's (a state equal to
        the one two steps before changed as many sites as the step before): codes are +-1
        spins or one-hot rows, so ``a . b == a . a`` iff ``a == b``, in small exact integers.
        """
        B, L = tokens.shape
        x, step = self._sync_step(tokens)  # (A, L*C) the states still moving
        full = float(L)  # the count of an unchanged state; a . a for every code
        out = torch.empty_like(x)
        rows = torch.arange(B, device=tokens.device)  # (A,) their rows in the batch
        steps = torch.full((B,), max_steps, dtype=torch.long, device=tokens.device)
        converged = torch.zeros(B, dtype=torch.bool, device=tokens.device)
        prev, before = None, None  # the states one step before x, and that step's counts
        for t in range(1, max_steps + 1):
            new, same = step(x)
            fixed = same == full  # (A,)
            done = fixed
            if prev is not None:
                maybe = (~fixed & (same == before)).nonzero().squeeze(1)  # 2-cycle candidates
                if len(maybe):
                    done = fixed.clone()
                    done[maybe] = torch.linalg.vecdot(new[maybe], prev[maybe]) == full
            prev, before, x = x, same, new
            if bool(done.any()):
                keep = _retire(done, t, rows, x, out, steps, converged, fixed)
                x, prev, before, rows = x[keep], prev[keep], before[keep], rows[keep]
                if not len(rows):
                    break
        out[rows] = x  # still moving after max_steps
        return Retrieval(states=self._decode(out.view(B, L, -1)), steps=steps, converged=converged)

    def _async_fields(self, tokens: Tensor, max_steps: int) -> tuple[Tensor, Tensor, Tensor, float]:
        """Spins of ``tokens`` ``(B, N)``, their local fields, the weights and the tie tolerance.

        Generic weights: float64 ``h = X W`` and the tolerance, exactly as in :meth:`_run_async`.
        Hebbian spins: the integers ``N h = (s xi^T) xi - K s`` and the integer couplings
        ``c = N W`` in float32 (every partial sum an integer below ``2^23``: exact in any
        order), with tolerance 0.  Each flip moves the generic loop's float64 fields by one
        more rounding; :func:`_lowrank_is_exact` with the most flips a row can make
        (``N`` per sweep) guarantees that they still decide every site as the integers do.
        """
        N = tokens.shape[1]
        flips = N * max_steps
        if (
            not self._lowrank
            or torch.float32 not in self._factors
            or not _lowrank_is_exact(self._factors[torch.float32].shape[0], N, self._row_sum, self._tie_tol, flips)
        ):
            x = to_spins(tokens)  # (B, N) float64
            return x, x @ self._W, self._W, self._tie_tol  # the generic loop's fields, bit for bit
        dtype = torch.float32 if _float32_matmul_is_ieee(tokens.device) else torch.float64
        xi = self._hebb_factor(dtype)  # (K, N)
        K = xi.shape[0]
        key = ("couplings", dtype)
        if key not in self._factors:
            c = xi.mT @ xi  # (N, N) integers sum_mu xi_i xi_j
            if self.zero_diagonal:
                c.diagonal().sub_(K)
            self._factors[key] = c
        x = to_spins(tokens, dtype)
        h = torch.addmm(x, x @ xi.mT, xi, beta=-K) if self.zero_diagonal else (x @ xi.mT) @ xi  # (B, N) = N h
        return x, h, self._factors[key], 0.0

    def _run_async_spins(self, tokens: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
        """:meth:`_run_async` for binary ``tokens`` ``(B, N)`` without recording: the same results.

        The same orders are drawn and the fields make the same decisions
        (:meth:`_async_fields`).  Each sweep runs one of two exact schedules, whichever the
        unstable sites at its start predict to be cheaper (:func:`_sweep_cost`):
        :func:`_sweep_plain` visits the sites in order and touches only the rows that flip;
        :func:`_sweep_events` advances every row from one flip to its next at once, which
        wins when few flips are left.  Rows whose sweep changed nothing leave the working set.
        """
        B, N = tokens.shape
        x, h, W, tol = self._async_fields(tokens, max_steps)  # (A, N) the states still moving, their fields
        w = W.unbind(0)  # (N,) views: the weights of each site
        out = torch.empty_like(x)
        rows = torch.arange(B, device=tokens.device)  # (A,) their rows in the batch
        steps = torch.full((B,), max_steps, dtype=torch.long, device=tokens.device)
        converged = torch.zeros(B, dtype=torch.bool, device=tokens.device)
        for sweep in range(1, max_steps + 1):
            order = torch.randperm(N, generator=generator, device=generator.device).tolist()
            start = x.clone()
            # 1 where h s < -tol: sign(h s + tol) is -1 exactly there (float ops, no bool masks).
            unstable = (h * x).add_(tol).sign_().neg_().clamp_(min=0.0)  # (A, N)
            per_row = unstable.sum(dim=1)  # (A,) unstable sites of each row
            busy = int(torch.count_nonzero(unstable.sum(dim=0)))  # sites with an unstable row
            if busy:
                moving = per_row.nonzero().squeeze(1)
                events, plain = _sweep_cost(N, len(x), busy, per_row[moving])
                if events < plain:
                    _sweep_events(order, x, h, W, tol, moving)
                else:
                    _sweep_plain(order, x, h, w, tol)
            # A sweep changed nothing iff x . start = N (spins; an exact small integer).
            done = torch.linalg.vecdot(x, start) == N  # (A,)
            if bool(done.any()):
                keep = _retire(done, sweep, rows, x, out, steps, converged)
                x, h, rows = x[keep], h[keep], rows[keep]
                if not len(rows):
                    break
        out[rows] = x  # still moving after max_steps
        return Retrieval(states=from_spins(out), steps=steps, converged=converged)

    def _run_async_potts(self, tokens: Tensor, X: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
        """:meth:`_run_async` for Potts states without recording: the same results.

        ``tokens`` ``(B, L)`` (our own copy) and their one-hot codes ``X`` ``(B, L, V)``.  As in
        :meth:`_run_async_spins`, a visit touches only the rows whose current token is not
        among the maximisers of its field (``h_cur < max h - tol``), and the fields receive
        the same additions as in the generic loop.
        """
        B, L, V = X.shape
        W, tol = self._W, self._tie_tol
        w = W.view(L, V, L * V).unbind(0)  # (L,) views (V, L*V): the rows of W of each site
        x = tokens  # (A, L) the states still moving
        h = self._fields(X).view(B, L * V)  # (A, L*V) local fields, kept up to date incrementally
        out = torch.empty_like(tokens)
        rows = torch.arange(B, device=X.device)
        steps = torch.full((B,), max_steps, dtype=torch.long, device=X.device)
        converged = torch.zeros(B, dtype=torch.bool, device=X.device)
        for sweep in range(1, max_steps + 1):
            order = torch.randperm(L, generator=generator, device=generator.device).tolist()
            start = x.clone()
            counts = _potts_unstable(h, x, V, tol).sum(dim=0, dtype=torch.int32)  # (L,)
            busy = int(torch.count_nonzero(counts))
            if busy:
                _sweep_potts(order, x, h, w, V, tol, counts if 2 * busy < L and counts.device.type == "cpu" else None)
            done = ~(x != start).any(dim=1)
            if bool(done.any()):
                keep = _retire(done, sweep, rows, x, out, steps, converged)
                x, h, rows = x[keep], h[keep], rows[keep]
                if not len(rows):
                    break
        out[rows] = x
        return Retrieval(states=out, steps=steps, converged=converged)

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


# ----------------------------------------------------------------------------------
# One asynchronous sweep, in place on the states x and fields h of the rows still moving.
# ----------------------------------------------------------------------------------


def _sweep_plain(order: list[int], x: Tensor, h: Tensor, w: tuple[Tensor, ...], tol: float) -> None:
    """Visit the sites of spin states ``x`` ``(A, N)`` in ``order``; ``h = x W`` kept current.

    ``w`` holds the rows of ``W`` (or of the integer couplings), one view per site.

    Flipping ``s_i -> -s_i`` adds ``(-2 s_i) w_i`` to the fields: ``index_add_`` with
    ``alpha=-2`` of ``s_i w_i`` adds exactly that number (a power of two times a product with
    ``+-1`` is exact), one rounding per field as in the generic loop's ``delta @ W_i``.
    """
    h_cols, x_cols = h.mT.unbind(0), x.mT.unbind(0)  # (N,) views (A,): one column per site
    for i in order:
        rows = torch.lt(h_cols[i] * x_cols[i], -tol).nonzero().view(-1)  # (R,) rows that flip s_i
        if rows.numel():
            s = x_cols[i].index_select(0, rows)  # (R,) spins before the flip
            h.index_add_(0, rows, torch.outer(s, w[i]), alpha=-2.0)
            x_cols[i].index_add_(0, rows, s, alpha=-2.0)  # s - 2 s = -s, exactly


def _sweep_events(order: list[int], x: Tensor, h: Tensor, w: Tensor, tol: float, rows: Tensor) -> None:
    """:func:`_sweep_plain` for a sweep with few flips, one row-parallel step per flip.

    For each row the sequential sweep flips, in order, the sites that are unstable when
    it reaches them; between two flips nothing changes, so the next flip of a row is the
    first site after its last flip, in the order, that is unstable *now*.  Each step finds
    that site for every row at once and flips it, adding ``(-2 s_i) w_i`` to the row's
    fields: the same additions, in the same order, as the sequential sweep.  A sweep costs
    (most flips of one row + 1) steps over the rows instead of ``N`` site visits.

    Parameters
    ----------
    order : list of int
        The sweep's site order.
    x, h : Tensor
        ``(A, N)`` spins and fields, updated in place.
    w : Tensor
        ``(N, N)`` weights (or integer couplings) whose row ``i`` is added when ``s_i`` flips.
    tol : float
        Tie tolerance: ``s_i`` flips iff ``h_i s_i < -tol``.
    rows : Tensor
        ``(A',)`` the rows with an unstable site at the start; the others cannot flip.
    """
    N = x.shape[1]
    order_t = torch.tensor(order, device=x.device)
    pos = torch.empty(N, dtype=x.dtype, device=x.device)
    pos[order_t] = torch.arange(N, dtype=x.dtype, device=x.device)  # (N,) position of each site
    xs, hs = x.index_select(0, rows), h.index_select(0, rows)  # (A', N) copies, written back at the end
    after = torch.zeros(len(rows), 1, dtype=x.dtype, device=x.device)  # (A', 1) positions before it are done
    # All keys below are integers < 3 N, exact in float32 and float64: float arithmetic
    # only (compares and where() on bool masks cost several times more here).
    while True:
        # sign(h s + tol): -1 unstable, 0 tie, +1 stable (h s + tol rounds to 0 only when it is 0).
        code = (hs * xs).add_(tol).sign_().add_(1.0)  # (A', N) 0 unstable, 1 tie, 2 stable
        # Distance in the order past the last flip (wrapping round), plus N per code unit:
        # the smallest key is the next unstable site of the row if it is below N - after.
        key = torch.sub(pos, after).remainder_(N).add_(code, alpha=float(N))
        k = key.amin(dim=1)  # (A',)
        more = k < N - after[:, 0]
        if not bool(more.all()):
            fin = (~more).nonzero().squeeze(1)
            x.index_copy_(0, rows[fin], xs[fin])
            h.index_copy_(0, rows[fin], hs[fin])
            keep = more.nonzero().squeeze(1)
            if not len(keep):
                return
            xs, hs, rows, after, k = xs[keep], hs[keep], rows[keep], after[keep], k[keep]
        p = k + after[:, 0]  # (A',) position of the flip
        sites = order_t.index_select(0, p.long()).unsqueeze(1)  # (A', 1)
        s = xs.gather(1, sites)  # (A', 1) spins before the flip
        hs.add_(w.index_select(0, sites[:, 0]).mul_(s), alpha=-2.0)  # the additions of _sweep_plain
        xs.scatter_(1, sites, s.neg())
        after = p.unsqueeze(1) + 1.0


def _potts_unstable(h: Tensor, tokens: Tensor, V: int, tol: float) -> Tensor:
    """``bool (A, L)``: sites whose current token is not among the maximisers of its field."""
    A, L = tokens.shape
    h = h.view(A, L, V)
    current = h.gather(2, tokens.unsqueeze(2)).squeeze(2)  # (A, L)
    return torch.lt(current, h.amax(dim=2) - tol)


def _sweep_potts(
    order: list[int], tokens: Tensor, h: Tensor, w: tuple[Tensor, ...], V: int, tol: float, counts: Tensor | None
) -> None:
    """One sweep of Potts states ``tokens`` ``(A, L)`` with fields ``h`` ``(A, L*V)``, in place.

    A visit touches only the rows whose current token is not among the maximisers and gives
    them the generic loop's update.  With ``counts`` (unstable rows per site, int32 on the
    CPU) sites without an unstable row are skipped: the counts are read through a numpy view
    (no torch dispatch per skipped site) and updated from the rows that move, before and
    after their update.
    """
    A, L = tokens.shape
    h_sites, t_cols = h.view(A, L, V).unbind(1), tokens.mT.unbind(0)  # (L,) views (A, V) and (A,)
    pending = None if counts is None else counts.numpy()
    eye = torch.eye(V, dtype=h.dtype, device=h.device)  # one-hot codes by row

    def unstable_per_site(rows: Tensor) -> Tensor:  # (L,) unstable sites summed over those rows
        return _potts_unstable(h.index_select(0, rows), tokens.index_select(0, rows), V, tol).sum(0, dtype=torch.int32)

    for i in order:
        if pending is not None and not pending[i]:
            continue
        hi, ti = h_sites[i], t_cols[i]  # (A, V), (A,)
        current = hi.gather(1, ti.unsqueeze(1))  # (A, 1)
        # The generic rule keeps the token iff h_cur >= max h - tol: these rows move.
        rows = torch.lt(current, hi.amax(dim=1, keepdim=True) - tol).nonzero()[:, 0]  # (R,)
        if not rows.numel():
            continue
        hr = hi.index_select(0, rows)  # (R, V)
        top = hr >= hr.amax(dim=1, keepdim=True) - tol  # maximisers up to rounding
        new = top.to(torch.uint8).argmax(dim=1)  # (R,) lowest-index maximiser, as in _decide
        old = ti.index_select(0, rows)
        if pending is not None:
            counts.sub_(unstable_per_site(rows))
        delta = eye.index_select(0, new) - eye.index_select(0, old)  # (R, V) new code minus old
        h.index_add_(0, rows, delta @ w[i])  # the generic loop's update, term for term
        ti.index_copy_(0, rows, new)
        if pending is not None:
            counts.add_(unstable_per_site(rows))


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

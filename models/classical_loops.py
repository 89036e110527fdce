"""The specialised torch loops of the classical memories: the generic loops' results, fewer operations.

:class:`models.classical.ClassicalHopfield` runs these when it does not record and its kernel is
``"torch"`` (or ``"auto"`` without numba, or on CUDA), and the synchronous loop for ``"numba"``
too.  They give the same states, steps, converged flags and generator state as the generic
loops, bit for bit (``tests/models/test_classical_fast.py`` compares them on random inputs and
near ties):

* synchronous (:func:`run_sync`): finished states leave the working set, and "moved" and
  "2-cycle" are read off per-row flip counts (a dot product confirms a cycle) instead of
  comparing whole states; Hebbian fields go through the patterns (:mod:`models.classical_fields`);
* asynchronous spins (:func:`run_async_spins`): per sweep, either a site visit finds the
  unstable rows and flips only those (:func:`sweep_plain`), or, when few flips are left, every
  row jumps from one flip to its next at once (:func:`sweep_events`); with float64 weights the
  fields receive exactly the additions of the generic loop, in the same order;
* asynchronous Potts (:func:`run_async_potts`): a visit touches only the rows that move, and
  sites without an unstable row are skipped (:func:`sweep_potts`).

Each site visit is a handful of small tensor operations over the batch: on the CPU the
asynchronous loops are bound by torch's per-call dispatch, which is what the compiled
kernels of :mod:`models.classical_numba` remove.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from models.base import Retrieval
from models.classical_fields import async_fields, sync_step
from models.codes import from_spins

if TYPE_CHECKING:  # annotations only: models.classical imports this module
    from models.classical import ClassicalHopfield

__all__ = ["run_sync", "run_async_spins", "run_async_potts", "sweep_plain", "sweep_events", "sweep_potts", "sweep_cost"]

# Cost model of an asynchronous sweep (microseconds, fitted on the reference machine with
# one thread; benchmarks/limits.py measures the visit and step times).  It only picks between
# two exact schedules, so a poor fit costs time, never a different result.
_VISIT_US, _VISIT_ROW_US = 8.0, 0.008  # a sweep_plain visit: dispatches + its column of A rows
_FLIP_US, _FLIP_ENTRY_US = 10.0, 0.0013  # extra for a visit that flips R rows: + R N field updates
_STEP_US, _STEP_ENTRY_US = 90.0, 0.0025  # a sweep_events step: dispatches + A' N entries


def retire(
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


def sweep_cost(N: int, A: int, busy: int, per_row: Tensor) -> tuple[float, float]:
    """Predicted microseconds of :func:`sweep_events` and :func:`sweep_plain` for one sweep.

    ``A`` rows, ``busy`` sites with an unstable row, and the rows with one have ``per_row``
    unstable sites: about the flips the sweep will make (flips can trigger more).
    The event schedule takes one step per flip of the busiest row, each over the rows not
    yet done; the plain one visits all ``N`` sites.
    """
    most, total = float(per_row.max()), float(per_row.sum())
    events = (most + 2) * _STEP_US + _STEP_ENTRY_US * N * (total + len(per_row))
    plain = N * (_VISIT_US + _VISIT_ROW_US * A) + busy * _FLIP_US + _FLIP_ENTRY_US * N * total
    return events, plain


def run_sync(net: ClassicalHopfield, tokens: Tensor, max_steps: int) -> Retrieval:
    """The generic synchronous loop without recording: the same states, steps and flags.

    States that finished leave the working set (no gather of every row at every step),
    "moved" is read off a per-row count from the update, and a 2-cycle is confirmed by a
    dot product only for the rows whose count equals the previous step's (a state equal to
    the one two steps before changed as many sites as the step before): codes are +-1
    spins or one-hot rows, so ``a . b == a . a`` iff ``a == b``, in small exact integers.
    """
    B, L = tokens.shape
    x, step = sync_step(net, tokens)  # (A, L*C) the states still moving
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
            keep = retire(done, t, rows, x, out, steps, converged, fixed)
            x, prev, before, rows = x[keep], prev[keep], before[keep], rows[keep]
            if not len(rows):
                break
    out[rows] = x  # still moving after max_steps
    return Retrieval(states=net._decode(out.view(B, L, -1)), steps=steps, converged=converged)


def run_async_spins(net: ClassicalHopfield, tokens: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
    """The generic asynchronous loop for binary ``tokens`` ``(B, N)`` without recording: the same results.

    The same orders are drawn and the fields make the same decisions
    (:func:`models.classical_fields.async_fields`).  Each sweep runs one of two exact
    schedules, whichever the unstable sites at its start predict to be cheaper (:func:`sweep_cost`):
    :func:`sweep_plain` visits the sites in order and touches only the rows that flip;
    :func:`sweep_events` advances every row from one flip to its next at once, which
    wins when few flips are left.  Rows whose sweep changed nothing leave the working set.
    """
    B, N = tokens.shape
    x, h, W, tol = async_fields(net, tokens, max_steps)  # (A, N) the states still moving, their fields
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
            events, plain = sweep_cost(N, len(x), busy, per_row[moving])
            if events < plain:
                sweep_events(order, x, h, W, tol, moving)
            else:
                sweep_plain(order, x, h, w, tol)
        # A sweep changed nothing iff x . start = N (spins; an exact small integer).
        done = torch.linalg.vecdot(x, start) == N  # (A,)
        if bool(done.any()):
            keep = retire(done, sweep, rows, x, out, steps, converged)
            x, h, rows = x[keep], h[keep], rows[keep]
            if not len(rows):
                break
    out[rows] = x  # still moving after max_steps
    return Retrieval(states=from_spins(out), steps=steps, converged=converged)


def run_async_potts(net: ClassicalHopfield, tokens: Tensor, max_steps: int, generator: torch.Generator) -> Retrieval:
    """The generic asynchronous loop for Potts ``tokens`` ``(B, L)`` without recording: the same results.

    As in :func:`run_async_spins`, a visit touches only the rows whose current token is not
    among the maximisers of its field (``h_cur < max h - tol``), and the fields receive
    the same additions as in the generic loop.
    """
    X = net._encode(tokens)  # (B, L, V) one-hot codes
    B, L, V = X.shape
    W, tol = net._W, net._tie_tol
    w = W.view(L, V, L * V).unbind(0)  # (L,) views (V, L*V): the rows of W of each site
    x = tokens.clone()  # (A, L) the states still moving, ours to update in place
    h = net._fields(X).view(B, L * V)  # (A, L*V) local fields, kept up to date incrementally
    out = torch.empty_like(x)
    rows = torch.arange(B, device=X.device)
    steps = torch.full((B,), max_steps, dtype=torch.long, device=X.device)
    converged = torch.zeros(B, dtype=torch.bool, device=X.device)
    for sweep in range(1, max_steps + 1):
        order = torch.randperm(L, generator=generator, device=generator.device).tolist()
        start = x.clone()
        counts = _potts_unstable(h, x, V, tol).sum(dim=0, dtype=torch.int32)  # (L,)
        busy = int(torch.count_nonzero(counts))
        if busy:
            sweep_potts(order, x, h, w, V, tol, counts if 2 * busy < L and counts.device.type == "cpu" else None)
        done = ~(x != start).any(dim=1)
        if bool(done.any()):
            keep = retire(done, sweep, rows, x, out, steps, converged)
            x, h, rows = x[keep], h[keep], rows[keep]
            if not len(rows):
                break
    out[rows] = x
    return Retrieval(states=out, steps=steps, converged=converged)


def sweep_plain(order: list[int], x: Tensor, h: Tensor, w: tuple[Tensor, ...], tol: float) -> None:
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


def sweep_events(order: list[int], x: Tensor, h: Tensor, w: Tensor, tol: float, rows: Tensor) -> None:
    """:func:`sweep_plain` for a sweep with few flips, one row-parallel step per flip.

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
        hs.add_(w.index_select(0, sites[:, 0]).mul_(s), alpha=-2.0)  # the additions of sweep_plain
        xs.scatter_(1, sites, s.neg())
        after = p.unsqueeze(1) + 1.0


def _potts_unstable(h: Tensor, tokens: Tensor, V: int, tol: float) -> Tensor:
    """``bool (A, L)``: sites whose current token is not among the maximisers of its field."""
    A, L = tokens.shape
    h = h.view(A, L, V)
    current = h.gather(2, tokens.unsqueeze(2)).squeeze(2)  # (A, L)
    return torch.lt(current, h.amax(dim=2) - tol)


def sweep_potts(
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

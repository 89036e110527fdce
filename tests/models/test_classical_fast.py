"""The fast classical retrieval loops give exactly the generic loops' results.

:class:`models.classical.ClassicalHopfield` runs faster loops when it does not record
(low-rank integer Hebbian fields, compacted working sets, event-driven torch sweeps, compiled
numba sweeps; see the module docstring).  Every test here runs the same memory with each fast
kernel (``"numba"``, ``"torch"``) and with ``kernel="generic"`` (the loops the theory tests in
``test_classical.py`` check), and asserts identical states, steps, converged flags and
generator state, over random settings (V = 2 and V > 2, every rule, zero_diagonal True/False,
async and sync, small and large max_steps) and over states whose fields are exact ties or
within rounding of one.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import models
from models import classical_loops
from models.classical_fields import async_fields, float32_matmul_is_ieee, hebb_factor, lowrank_is_exact
from models.codes import to_spins

#: The fast kernels, each compared with kernel="generic".
FAST_KERNELS = ("numba", "torch")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fit(patterns: torch.Tensor, V: int = 2, **hyper):
    return models.make("classical", **hyper).fit(patterns, vocab_size=V)


def with_kernel(model, kernel: str):
    """The same memory, fitted to the same patterns, with another ``kernel``."""
    params = {**model.get_params(), "kernel": kernel}
    return models.make("classical", **params).fit(model.patterns_, vocab_size=model.vocab_size_)


def assert_same(model, queries: torch.Tensor, seed: int = 0, max_steps: int | None = None) -> None:
    """Every fast kernel and the generic loops agree on everything ``retrieve`` returns and on the generator."""
    g_slow = gen(seed)
    slow = with_kernel(model, "generic").retrieve(queries, generator=g_slow, max_steps=max_steps)
    others = [with_kernel(model, kernel) for kernel in FAST_KERNELS if kernel != model.kernel_]
    for fast_model in (model, *others):
        g_fast = gen(seed)
        fast = fast_model.retrieve(queries, generator=g_fast, max_steps=max_steps)
        assert torch.equal(fast.states, slow.states), fast_model.kernel_
        assert torch.equal(fast.steps, slow.steps), fast_model.kernel_
        assert torch.equal(fast.converged, slow.converged), fast_model.kernel_
        assert fast.states.dtype == slow.states.dtype == torch.long
        # the same orders were drawn: a caller reusing the generator sees the same stream
        assert torch.equal(g_fast.get_state(), g_slow.get_state()), fast_model.kernel_


def mixed_queries(patterns: torch.Tensor, V: int, seed: int, n: int = 12) -> torch.Tensor:
    """Random states, stored patterns, and patterns with 10 % and 30 % of the tokens redrawn."""
    g = gen(seed)
    K, N = patterns.shape
    base = patterns[torch.arange(n) % K]
    out = [torch.randint(0, V, (n, N), generator=g), patterns[:n]]
    for rate in (0.1, 0.3):
        noisy = base.clone()
        mask = torch.rand(n, N, generator=g) < rate
        noisy[mask] = torch.randint(0, V, (int(mask.sum()),), generator=g)
        out.append(noisy)
    return torch.cat(out)


SETTINGS = [
    (V, rule, zero_diagonal, update)
    for V, rule in [(2, "hebb"), (2, "pseudoinverse"), (2, "storkey"), (3, "hebb"), (4, "hebb")]
    for zero_diagonal in (True, False)
    for update in ("async", "sync")
    if not (rule == "storkey" and not zero_diagonal)
]


@pytest.mark.parametrize("V,rule,zero_diagonal,update", SETTINGS)
def test_fast_loops_equal_generic_loops_on_random_inputs(V, rule, zero_diagonal, update, seed):
    for k in range(6):
        g = gen(seed(1000 + k))
        N = int(torch.randint(6, 90, (1,), generator=g))
        K = int(torch.randint(1, max(2, N // 3), (1,), generator=g))
        P = torch.randint(0, V, (K, N), generator=g)
        model = fit(P, V=V, rule=rule, zero_diagonal=zero_diagonal, update=update)
        q = mixed_queries(P, V, seed(k))
        for max_steps in (1, 2, None):
            assert_same(model, q, seed=seed(k), max_steps=max_steps)


@pytest.mark.parametrize("schedule", ["plain", "events"])
@pytest.mark.parametrize("rule,zero_diagonal", [("hebb", True), ("hebb", False), ("pseudoinverse", True)])
def test_each_async_schedule_alone_equals_generic_loop(monkeypatch, schedule, rule, zero_diagonal, seed):
    # The cost model picks a schedule per sweep; force one for every sweep.
    costs = (0.0, 1.0) if schedule == "events" else (1.0, 0.0)
    monkeypatch.setattr(classical_loops, "sweep_cost", lambda *args: costs)
    for k in range(4):
        g = gen(seed(2000 + k))
        N = int(torch.randint(8, 120, (1,), generator=g))
        P = torch.randint(0, 2, (max(1, N // 7), N), generator=g)
        model = fit(P, rule=rule, zero_diagonal=zero_diagonal)
        assert_same(model, mixed_queries(P, 2, seed(k), n=16), seed=seed(k))


def test_potts_counting_sweeps_equal_generic_loop(seed):
    # Stored patterns and lightly corrupted ones leave few unstable sites: counted sweeps.
    V, N = 4, 60
    P = torch.randint(0, V, (8, N), generator=gen(seed(3000)))
    q = P.repeat(3, 1)
    q[8:, :3] = (q[8:, :3] + 1) % V
    for zero_diagonal in (True, False):
        assert_same(fit(P, V=V, zero_diagonal=zero_diagonal), q, seed=seed(1))


@pytest.mark.parametrize("update", ["async", "sync"])
@pytest.mark.parametrize("zero_diagonal", [True, False])
def test_exact_hebbian_ties_keep_the_spin_on_both_paths(update, zero_diagonal, seed):
    # Small N, K even: N h_i = sum_j c_ij s_j with every c_ij a sum of K = 4 terms +-1, so
    # fields are exactly 0 (ties) at a good fraction of the sites.  Check that they occur.
    N, K = 12, 4
    q = torch.randint(0, 2, (400, N), generator=gen(seed(4001)))
    g = gen(seed(4000))
    # Not every pattern set has ties: N h_i has the parity of (ones in P) - K at every site, so half
    # of all draws have none (and 1 in 200 of the others has too few).  Draw until they occur.
    for _ in range(50):
        P = torch.randint(0, 2, (K, N), generator=g)
        model = fit(P, update=update, zero_diagonal=zero_diagonal)
        h = to_spins(q) @ model.weights_  # (B, N) float64
        if int((h.abs() <= model._tie_tol).sum()) > 100:
            break
    assert int((h.abs() <= model._tie_tol).sum()) > 100  # plenty of ties on the way in
    assert_same(model, q, seed=seed(2))
    assert_same(model, q, seed=seed(3), max_steps=1)


@pytest.mark.parametrize("update", ["async", "sync"])
def test_fields_within_rounding_of_a_tie_are_ties_on_both_paths(update):
    # Pseudo-inverse of orthogonal (Hadamard) patterns: states in the orthogonal complement
    # have fields that are 0 in exact arithmetic and ~1e-16 after pinv's rounding, of either
    # sign.  "Equal" means within the tolerance, so both loops must keep those spins.
    H = torch.tensor([[1]])
    for _ in range(4):
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)])  # (16, 16) Hadamard
    tokens = (H > 0).long()
    model = fit(tokens[:4], rule="pseudoinverse", zero_diagonal=False, update=update)  # W = the projector
    h = to_spins(tokens[4:]) @ model.weights_
    assert float(h.abs().max()) > 0 and float(h.abs().max()) <= model._tie_tol  # nonzero, yet ties
    assert_same(model, tokens[4:])
    r = model.retrieve(tokens[4:])
    assert torch.equal(r.states, tokens[4:]) and bool(r.converged.all())


def test_sync_two_cycles_and_max_steps_on_both_paths(seed):
    # High load: many states end in 2-cycles (Goles); max_steps cuts others short.
    N = 40
    P = torch.randint(0, 2, (24, N), generator=gen(seed(5000)))
    model = fit(P, update="sync")
    q = torch.randint(0, 2, (200, N), generator=gen(seed(5001)))
    r = model.retrieve(q, max_steps=500)
    assert int((~r.converged).sum()) > 0  # some 2-cycles: offsets 0-199 min 3, mean 49 of 200
    for max_steps in (1, 2, 3, 500):
        assert_same(model, q, max_steps=max_steps)


def test_record_runs_the_generic_loop_and_agrees(seed):
    P = torch.randint(0, 2, (10, 80), generator=gen(seed(6000)))
    for update in ("async", "sync"):
        model = fit(P, update=update)
        q = mixed_queries(P, 2, seed(1))
        fast = model.retrieve(q, generator=gen(seed(1)))
        rec = model.retrieve(q, generator=gen(seed(1)), record=True)
        assert fast.energies is None and rec.energies is not None
        assert torch.equal(fast.states, rec.states) and torch.equal(fast.steps, rec.steps)


def test_lowrank_fields_are_the_exact_integers_n_h(seed):
    # N = 1000 is not a power of two: the float64 weights are rounded, the integers are not.
    N, K = 1000, 100
    P = torch.randint(0, 2, (K, N), generator=gen(seed(7000)))
    model = fit(P, update="sync")
    xi = hebb_factor(model, torch.float32)
    x = to_spins(torch.randint(0, 2, (64, N), generator=gen(seed(7001))), torch.float32)
    m = torch.addmm(x, x @ xi.mT, xi, beta=-K)  # N h, float32
    n_h = N * (x.double() @ model.weights_)  # float64, rounded
    assert torch.equal(m.double(), n_h.round())
    assert float((m.double() - n_h).abs().max()) < 1e-6


def test_lowrank_path_is_used_only_where_it_is_exact():
    assert torch.float32 in fit(torch.randint(0, 2, (20, 100), generator=gen(1)))._factors
    for rule in ("pseudoinverse", "storkey"):
        assert torch.float32 not in fit(torch.randint(0, 2, (20, 100), generator=gen(1)), rule=rule)._factors
    # the exactness conditions: (N + 1) K < 2^23 for float32 half-integers ...
    N = 4096
    K = 2**23 // (N + 1)
    R = float(K)  # a row sum of |W| never exceeds K
    tol = 1e-9 * R
    assert lowrank_is_exact(K, N, R, tol) and not lowrank_is_exact(K + 1, N, R, tol)
    # ... and float64 rounding far below the tolerance, also after the flips of many sweeps
    assert lowrank_is_exact(100, 1024, 32.0, 32e-9, flips=1024 * 100)
    assert not lowrank_is_exact(100, 1024, 32.0, 32e-9, flips=1024 * 10**5)


def test_async_falls_back_to_float64_when_many_sweeps_could_accumulate_rounding(seed):
    P = torch.randint(0, 2, (6, 64), generator=gen(seed(8000)))
    model = fit(P)
    assert async_fields(model, P, 100)[1].dtype == torch.float32  # integer fields
    huge = math.ceil(1e-9 / (2**-53 * 3 * 64))  # enough sweeps for the bound to fail
    assert async_fields(model, P, huge)[1].dtype == torch.float64  # the generic fields
    assert_same(model, mixed_queries(P, 2, seed(0)), max_steps=huge)


def test_reduced_precision_float32_matmuls_switch_the_lowrank_path_to_float64(seed):
    P = torch.randint(0, 2, (12, 96), generator=gen(seed(9000)))
    q = mixed_queries(P, 2, seed(2))
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")  # bfloat16 / TF32 products allowed
        assert not float32_matmul_is_ieee(torch.device("cpu"))
        for update in ("async", "sync"):
            model = fit(P, update=update)
            assert_same(model, q)
        assert torch.float64 in model._factors  # the float64 copy of the patterns was used
    finally:
        torch.set_float32_matmul_precision(before)
    assert float32_matmul_is_ieee(torch.device("cpu"))


def test_fast_loops_leave_queries_untouched_and_batch_equals_one_by_one(seed):
    P = torch.randint(0, 2, (8, 70), generator=gen(seed(9100)))
    q = mixed_queries(P, 2, seed(3))
    for update, V in itertools.product(("async", "sync"), (2, 3)):
        Pv = P % V if V == 2 else torch.randint(0, V, (8, 70), generator=gen(seed(9101)))
        qv = q % V
        model = fit(Pv, V=V, update=update)
        before = qv.clone()
        batch = model.retrieve(qv, generator=gen(seed(4)))
        assert torch.equal(qv, before)
        for b in (0, 5, 17, len(qv) - 1):
            one = model.retrieve(qv[b : b + 1], generator=gen(seed(4)))
            assert torch.equal(one.states[0], batch.states[b]) and int(one.steps[0]) == int(batch.steps[b])


@pytest.mark.parametrize("update", ["async", "sync"])
def test_float64_weights_in_the_fast_loops_equal_generic_loop(update, seed):
    # lowrank=False: the fast loops on the float64 Hebbian weights (what benchmarks time
    # as the generic-W step) make the same decisions too.
    for k in range(3):
        P = torch.randint(0, 2, (9, 75), generator=gen(seed(9200 + k)))
        model = fit(P, update=update, lowrank=False)
        assert_same(model, mixed_queries(P, 2, seed(k)), seed=seed(k))

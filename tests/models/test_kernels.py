"""The ``kernel`` hyperparameter: resolution, the fallback without numba, threads, lazy import.

That the kernels give the same results is checked in ``test_classical_fast.py`` (classical,
against the generic loops) and ``test_dense_numba.py`` (dense, against the torch loop).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch

import models
from models import kernels
from models.threads import torch_threads


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def without_numba(monkeypatch):
    """A process in which ``import numba`` fails, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "numba", None)  # makes the import raise ImportError
    kernels.numba_available.cache_clear()
    yield
    monkeypatch.undo()
    kernels.numba_available.cache_clear()


def test_auto_resolves_to_numba_on_the_cpu_and_torch_elsewhere():
    assert kernels.resolve_kernel("auto", torch.device("cpu")) == "numba"
    assert kernels.resolve_kernel("auto", torch.device("cuda")) == "torch"  # no CUDA needed to decide
    assert kernels.resolve_kernel("torch", torch.device("cpu")) == "torch"
    with pytest.raises(ValueError, match="kernel='numba' runs on the CPU only"):
        kernels.resolve_kernel("numba", torch.device("cuda"))
    P = torch.randint(0, 2, (3, 20), generator=gen(0))
    assert models.make("classical").fit(P).kernel_ == "numba"
    assert models.make("dense").fit(P).kernel_ == "numba"
    assert models.make("classical", kernel="generic").fit(P).kernel_ == "generic"


@pytest.mark.parametrize("name", ["classical", "dense"])
def test_without_numba_auto_falls_back_to_torch_silently(without_numba, name):
    assert not kernels.numba_available()
    P = torch.randint(0, 3, (4, 30), generator=gen(1))
    q = (P + (torch.rand(P.shape, generator=gen(2)) < 0.2)) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback path says nothing
        model = models.make(name).fit(P, vocab_size=3)
        out = model.retrieve(q, generator=gen(3))
    assert model.kernel_ == "torch"
    torch_model = models.make(name, kernel="torch").fit(P, vocab_size=3)
    assert torch.equal(out.states, torch_model.retrieve(q, generator=gen(3)).states)
    with pytest.raises(ValueError, match="kernel='numba' needs the numba package"):
        models.make(name, kernel="numba").fit(P, vocab_size=3)


@pytest.mark.parametrize(
    "name,hyper,error,match",
    [
        ("classical", {"kernel": "fast"}, ValueError, "kernel must be one of"),
        ("classical", {"kernel": None}, ValueError, "kernel must be one of"),
        ("classical", {"lowrank": 1}, TypeError, "lowrank must be a bool"),
        ("dense", {"kernel": "generic"}, ValueError, "kernel must be one of"),
    ],
)
def test_bad_kernel_hyperparameters_raise_on_fit(name, hyper, error, match):
    model = models.make(name, **hyper)  # __init__ only stores
    with pytest.raises(error, match=match):
        model.fit(torch.randint(0, 2, (3, 8), generator=gen(4)))


def test_importing_the_models_does_not_import_numba():
    code = (
        "import sys, models, models.classical, models.dense, models.kernels\n"
        "assert 'numba' not in sys.modules, 'numba imported at import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "name,hyper,V",
    [("classical", {}, 2), ("classical", {"rule": "storkey"}, 2), ("classical", {}, 4), ("dense", {}, 2)]
    + [("dense", {"F": "exp", "beta": 0.5}, 2), ("dense", {"F": "exp", "beta": 0.5}, 3)]
    + [("dense", {"F": "exp", "beta": 500.0}, 2), ("dense", {"F": "repoly", "n": 4}, 4)],
)
def test_compiled_sweeps_give_the_same_rows_on_one_and_two_threads(monkeypatch, name, hyper, V):
    # Rows are independent: splitting them between threads (in blocks of 8) changes nothing.
    # 45 rows: blocks of 8 do not divide them, and some finish early, so the working set shrinks.
    monkeypatch.setattr(kernels, "PARALLEL_MIN_WORK", 0)  # every sweep with two threads runs in parallel
    P = torch.randint(0, V, (6, 50), generator=gen(5))
    q = torch.cat([torch.randint(0, V, (30, 50), generator=gen(6)), P.repeat(3, 1)[:15]])
    model = models.make(name, kernel="numba", **hyper).fit(P, vocab_size=V)
    with torch_threads(1):
        one = model.retrieve(q, generator=gen(7))
    with torch_threads(2):
        two = model.retrieve(q, generator=gen(7))
    assert torch.equal(one.states, two.states) and torch.equal(one.steps, two.steps)
    assert torch.equal(one.converged, two.converged)
    for b in (0, 9, 44):  # and a batch gives the rows of one-by-one calls
        alone = model.retrieve(q[b : b + 1], generator=gen(7))
        assert torch.equal(alone.states[0], one.states[b]) and int(alone.steps[0]) == int(one.steps[b])


def test_compiled_sweeps_follow_torch_threads_and_leave_them_unchanged():
    # numba's OpenMP threading layer shares the OpenMP runtime with torch: launching its pool
    # or setting its thread count must not change torch's setting behind the caller's back.
    import numba

    P = torch.randint(0, 2, (6, 64), generator=gen(8))
    q = torch.randint(0, 2, (40, 64), generator=gen(9))
    for name in ("classical", "dense"):
        model = models.make(name, kernel="numba").fit(P)
        for n in (1, 2, 1):
            with torch_threads(n):
                model.retrieve(q, generator=gen(10))
                assert torch.get_num_threads() == n
                with kernels.kernel_threads() as threads:
                    assert threads == numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)
                assert torch.get_num_threads() == n

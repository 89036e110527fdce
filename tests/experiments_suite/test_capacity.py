"""Capacity experiment: theory lines, estimates, and the classical/dense targets (docs/theory.md §7.6)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from experiments import capacity, theory


def test_theory_loads_match_theory_md():
    th = capacity.theory_loads(100)
    # docs/theory.md §2.6 table: N = 100, n = 3 -> K_max = N^2 / (6 ln N) = 362
    assert th["Krotov-Hopfield n=3"] * 100 == pytest.approx(362, abs=1)
    assert capacity.theory_loads(200)["Krotov-Hopfield n=3"] * 200 == pytest.approx(1258, abs=1)
    # docs/theory.md §2.5: N = 200, N / sqrt(2 ln N) = 61 and N / (2 ln N) = 19
    th200 = capacity.theory_loads(200)
    assert th200["Storkey N/sqrt(2 ln N)"] * 200 == pytest.approx(61, abs=0.6)
    assert th200["McEliece N/(2 ln N)"] * 200 == pytest.approx(19, abs=0.5)
    assert theory.double_factorial(5) == 15


def test_noise_for_flip_inverts_the_changed_fraction():
    from experiments.corruption import noise_for_flip
    from models.diffusion.schedule import alpha

    for V, rho in ((2, 0.05), (2, 0.1), (2, 0.3), (32, 0.25)):
        t = noise_for_flip(rho, V)
        assert (1 - alpha(t)) * (1 - 1 / V) == pytest.approx(rho)
    with pytest.raises(ValueError, match="flip"):
        noise_for_flip(0.6, 2)
    with pytest.raises(ValueError, match="flip"):
        noise_for_flip(-0.1, 2)


def test_every_model_gets_identical_queries(monkeypatch, seed):
    """Async nets draw their update order from the cell's generator; queries must not depend on it."""
    seen = {}
    real_flip = capacity.flip

    def spy(targets, k, V, generator=None):
        out = real_flip(targets, k, V, generator=generator)
        seen.setdefault("q", []).append(out)
        return out

    monkeypatch.setattr(capacity, "flip", spy)
    for model in ("classical-hebb", "modern-b1"):
        capacity.run_cell(capacity.Cell(model=model, N=50, load=0.1, flip=0.1, n_probe=10, seed=seed(3)))
    a, b = seen["q"]
    assert torch.equal(a, b)


def test_capacity_estimate_stops_at_first_failure():
    rows = []
    for load, ok in ((0.1, 1.0), (0.2, 0.95), (0.3, 0.5), (0.4, 0.95)):
        rows.append({"model": "m", "N": 10, "load": load, "frac_m95": ok, "frac_exact": ok})
    rows.append({"model": "never", "N": 10, "load": 0.1, "frac_m95": 1.0, "frac_exact": 0.0})
    est = capacity.capacity_estimates(pd.DataFrame(rows)).set_index("model")
    assert est.loc["m", "capacity_load"] == 0.2 and not est.loc["m", "beyond_grid"]
    assert est.loc["never", "beyond_grid"] and math.isnan(est.loc["never", "capacity_load_exact"])


def _sweep(model, loads, *, seeds, N=200):
    cfg = capacity.Config(models=(model,), N=N, loads=loads, loads_high=(), seeds=seeds)
    return pd.DataFrame([row for cell in capacity.cells(cfg) for row in capacity.run_cell(cell)])


def test_hebbian_capacity_estimate_in_theory_range(seed):
    # Target (docs/theory.md §7.6): Hebbian estimate in [0.10, 0.17] N (AGS alpha_c = 0.138, §2.1).
    # At N = 200 one cell at load 0.10 retrieves a share 0.979 on average (480 cells; 5 % quantile
    # 0.90), so a 3-seed mean falls below the 0.9 threshold (estimate 0.08) now and then (probability
    # about 4e-3 from 1500 cells), an 8-seed mean with about 3e-5.  Offsets 0-59 (queries from
    # derive_seed(seed, N, K)): 8 seeds 0.10 (10), 0.12 (50); 3 seeds 0.08 (1), 0.10 (17), 0.12 (42).
    loads = (0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2, 0.3)
    df = _sweep("classical-hebb", loads, seeds=tuple(map(seed, range(101, 109))))
    est = capacity.capacity_estimates(df).iloc[0]
    assert 0.10 <= est["capacity_load"] <= 0.17, est
    assert df["pattern_hash"].nunique() == len(df)  # one pattern set per (load, seed)


def test_dense_n3_stores_more_than_n_patterns(seed):
    # Krotov-Hopfield: N^2 / (6 ln N) = 1258 patterns at N = 200 (docs/theory.md §2.6).
    df = _sweep("dense-n3", (0.5, 1.0, 1.5), seeds=(seed(101),))  # offsets 0-39: 1.5 (no failure) at every one
    est = capacity.capacity_estimates(df).iloc[0]
    assert est["capacity_load"] >= 1.0, df[["load", "frac_m95", "frac_exact"]]

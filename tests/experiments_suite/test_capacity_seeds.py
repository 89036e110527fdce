"""Capacity over several seeds: the summary, the report's key numbers and the figure show the spread."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from experiments import capacity, report

LOADS = (0.1, 0.2, 0.3, 0.4)


def _rows(model: str, family: str, seed: int, retrieved: tuple[float, ...]) -> list[dict]:
    return [
        {
            "model": model,
            "family": family,
            "N": 100,
            "load": load,
            "flip": 0.1,
            "seed": seed,
            "frac_stable": ok,
            "frac_m95": ok,
            "frac_exact": ok,
        }
        for load, ok in zip(LOADS, retrieved, strict=True)
    ]


@pytest.fixture
def table() -> pd.DataFrame:
    """Hebb fails at 0.3, 0.4 and 0.2 on seeds 0, 1, 2 (estimates 0.2, 0.3, 0.1); the oracle never fails."""
    rows = _rows("classical-hebb", "classical", 0, (1.0, 0.95, 0.5, 0.0))
    rows += _rows("classical-hebb", "classical", 1, (1.0, 1.0, 0.92, 0.3))
    rows += _rows("classical-hebb", "classical", 2, (1.0, 0.7, 0.4, 0.0))
    for s in range(3):
        rows += _rows("oracle", "oracle", s, (1.0, 1.0, 1.0, 1.0))
    return pd.DataFrame(rows)


def test_seed_estimates_are_one_row_per_model_and_seed(table):
    est = capacity.seed_estimates(table).set_index(["model", "seed"])["capacity_load"]
    assert est.loc[("classical-hebb", 0)] == 0.2
    assert est.loc[("classical-hebb", 1)] == 0.3
    assert est.loc[("classical-hebb", 2)] == 0.1
    assert est.loc[("oracle", 1)] == 0.4


def test_summary_gives_the_seed_mean_estimate_and_the_spread_over_seeds(table):
    text = capacity.summary(table)
    assert "from the mean over 3 seeds" in text
    hebb = next(line for line in text.splitlines() if "classical-hebb" in line)
    # seed-mean curve: 1.0, 0.883, 0.607 -> stored up to 0.1; seeds alone 0.2, 0.3, 0.1: mean 0.2, sd 0.1
    assert "m>=0.95: 0.1 N [0.2 ± 0.1 N, 0.1-0.3]" in hebb
    oracle = next(line for line in text.splitlines() if "oracle" in line)
    assert ">= 0.4 N (beyond the grid) [same on all 3]" in oracle
    one = capacity.summary(table[table["seed"] == 1])
    assert "[" not in one and "classical-hebb           m>=0.95: 0.3 N" in one


def test_summary_lists_each_seed_when_one_is_off_the_grid(table):
    worse = table.copy()
    worse.loc[(worse["model"] == "classical-hebb") & (worse["seed"] == 2), ["frac_m95", "frac_exact"]] = 0.0
    hebb = next(line for line in capacity.summary(worse).splitlines() if "classical-hebb" in line)
    assert "[0.2 N; 0.3 N; below the grid (< 0.1 N)]" in hebb


def test_report_key_numbers_are_mean_and_sd_over_seeds(table):
    spread, seeds = report.seed_spread(table, capacity, report.KEY_TABLES["capacity"])
    assert seeds == [0, 1, 2]
    hebb = spread.loc["classical-hebb", "capacity_load"]
    assert hebb["mean"] == pytest.approx(0.2) and hebb["std"] == pytest.approx(0.1) and hebb["n"] == 3


def test_figure_draws_a_band_over_seeds_per_memory(table):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    figs = capacity.plot(table, {})
    fig = figs["capacity"]
    try:
        polys = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
        bands = [c for c in polys if "range over" in c.get_label()]
        assert len(bands) == 4  # 2 memories x 2 rows (fixed points, retrieval)
        # the Hebbian band spans the seeds' range at load 0.3: 0.4 .. 0.92
        ys = [v[:, 1] for b in bands for v in (p.vertices for p in b.get_paths())]
        assert any(math.isclose(y.min(), 0.0) and math.isclose(y.max(), 1.0) for y in ys)
        assert any(0.92 in set(y.round(6)) and 0.4 in set(y.round(6)) for y in ys)
        caption = " ".join(t.get_text() for t in fig.texts)
        assert "mean over 3 seeds (band: range over the seeds)" in caption
    finally:
        plt.close(fig)

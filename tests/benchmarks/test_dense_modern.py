"""Smoke test of ``benchmarks.dense_modern`` in its quick mode (small sizes, seconds)."""

from __future__ import annotations

import torch

from benchmarks.dense_modern import run


def test_quick_run_returns_tidy_rows_and_retrieves_everything():
    threads = torch.get_num_threads()
    rows = run(quick=True)
    assert torch.get_num_threads() == threads  # the thread setting is restored
    by_name = {row["name"]: row for row in rows}
    for row in rows:
        assert set(row) == {"name", "value", "unit", "ratio"} and isinstance(row["value"], float)
    assert by_name["N"]["value"] == 200 and by_name["B"]["value"] == 128
    assert by_name["dense_poly3_exact"]["value"] == 1.0 and by_name["modern_exact"]["value"] == 1.0
    assert by_name["dense_poly3_retrieve_full"]["value"] > 0
    assert 0 < by_name["modern_update_float64"]["ratio"] < 2

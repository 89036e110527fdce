"""Smoke test of ``benchmarks.kernels`` in its quick mode (small sizes, no compile probe)."""

from __future__ import annotations

import torch

from benchmarks.kernels import run


def test_quick_run_compares_compiled_and_torch_paths_that_agree():
    threads = torch.get_num_threads()
    rows = run(quick=True)
    assert torch.get_num_threads() == threads  # the thread setting is restored
    for r in rows:
        assert set(r) == {"name", "value", "unit", "ratio"} and r["value"] > 0
    speedups = [r for r in rows if " compiled vs torch, " in r["name"]]
    labels = [r["name"].split(",")[0] for r in speedups]
    assert labels == [
        "classical async compiled vs torch",
        "dense x^3 compiled vs torch",
        "dense exp (beta=1) compiled vs torch",
    ]
    for r in speedups:
        assert "same states" in r["name"]  # the compiled and torch retrievals agree
        assert r["unit"] == "queries/s" and r["ratio"] > 0

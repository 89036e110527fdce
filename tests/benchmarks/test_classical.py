"""Smoke test of ``benchmarks.classical`` in its quick mode (128 queries, seconds)."""

from __future__ import annotations

from benchmarks.classical import run


def test_quick_run_returns_tidy_rows():
    rows = run(quick=True)
    assert [r["name"] for r in rows] == [
        "classical async retrieval",
        "classical sync retrieval",
        "classical sync step",
        "plain torch.matmul, same shapes",
    ]
    for r in rows:
        assert set(r) == {"name", "value", "unit", "ratio"} and r["value"] > 0
    assert rows[0]["unit"] == rows[1]["unit"] == "queries/s" and rows[0]["ratio"] is None
    assert 0 < rows[2]["ratio"] < 2 and rows[3]["ratio"] == 1.0

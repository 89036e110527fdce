"""Smoke test of ``python -m benchmarks --quick``: every section runs and the report is written.

Timings are not tested (a shared machine makes them noise); only that every benchmark
runs at its smoke sizes, returns tidy rows, and that the report carries the machine, the
targets and every section.  The correctness checks that *are* deterministic (peers store
identical weights; sync agreement up to ties) are asserted.
"""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks.__main__ import KEYS, main
from benchmarks.report import fmt_value, targets
from benchmarks.timing import loglog_slope


def test_quick_run_writes_every_section(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "docs" / "bench.md"
    sections = main(["--quick", "--quiet", "--out", str(out)])
    assert torch.get_num_threads() == threads  # the thread setting is restored
    assert [s["key"] for s in sections] == list(KEYS)
    for s in sections:
        assert s["rows"], s["key"]
        for r in s["rows"]:
            assert set(r) == {"name", "value", "unit", "ratio"}
            assert isinstance(r["value"], float)

    text = out.read_text()
    for heading in ("# Benchmarks", "## Machine", "## Targets", "## The machine's limit"):
        assert heading in text
    assert "python -m benchmarks --quick --out" in text and "load average" in text and "cpu" in text
    for _, title, _ in __import__("benchmarks.__main__", fromlist=["SECTIONS"]).SECTIONS:
        assert f"## {title}" in text
    # Quick sizes are not the targets' sizes: numbers are shown, no verdict.
    assert all(t["met"] is None for t in targets(sections))
    assert "wrote" in capsys.readouterr().out


def test_quick_peers_agree_where_semantics_do(tmp_path):
    sections = main(["--quick", "--quiet", "--only", "peers"])
    rows = {r["name"]: r for r in sections[0]["rows"]}
    weights = [r for name, r in rows.items() if "weights == ours" in name]
    if not weights:
        pytest.skip("no peer package installed (pip install .[bench])")
    assert all(r["value"] == 1.0 for r in weights)  # identical Hebb matrices
    bad = [r for name, r in rows.items() if "disagreements without a tie" in name]
    assert all(r["value"] == 0 for r in bad)  # sync: deterministic, identical up to ties


def test_report_helpers():
    assert loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    assert fmt_value(2.5e10, "FLOP/s") == ("25", "GFLOP/s")
    assert fmt_value(math.nan, "queries/s")[0] == "skipped"
    with pytest.raises(ValueError, match="two distinct"):
        loglog_slope([2, 2], [1, 3])


def test_hand_written_tail_survives_regeneration(tmp_path):
    from benchmarks.__main__ import KEEP_MARKER, _kept_tail

    path = tmp_path / "bench.md"
    assert _kept_tail(str(path)) == ""  # no file yet
    path.write_text("# Benchmarks\ngenerated\n")
    assert _kept_tail(str(path)) == ""  # no marker: nothing kept
    path.write_text(f"# Benchmarks\ngenerated\n{KEEP_MARKER}\n## Notes\nmeasured by hand\n")
    assert _kept_tail(str(path)) == f"\n{KEEP_MARKER}\n## Notes\nmeasured by hand\n"

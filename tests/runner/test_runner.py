"""The sweep runner: resume, atomic cells, identical tables across backends, provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.runner import cell_key, run_sweep
from tests.runner import toy

ROOT = Path(__file__).resolve().parents[2]


def test_cell_key_is_stable_and_distinguishes_cells():
    a, b = toy.ToyCell("a", 0.1, 0), toy.ToyCell("a", 0.1, 1)
    assert cell_key(a) == cell_key(toy.ToyCell("a", 0.1, 0))
    assert cell_key(a) != cell_key(b)
    with pytest.raises(TypeError, match="dataclass"):
        cell_key({"model": "a"})


def test_serial_writes_table_provenance_and_skips_finished_cells(tmp_path):
    cells = toy.cells()
    df = run_sweep("toy", cells, toy.run_cell, tmp_path, config={"n": 3}, progress=False)
    assert len(df) == 4 * len(cells)
    root = tmp_path / "toy"
    assert (root / "results.parquet").exists()
    assert len(list((root / "cells").glob("*.parquet"))) == len(cells)
    info = json.loads((root / "run.json").read_text())
    for field in ("package_version", "git_commit", "torch_version", "device", "wall_time_s", "config"):
        assert field in info
    assert info["n_cells_run_now"] == len(cells) and info["pattern_set_hashes"] == ["h0"]
    # Rerun: nothing left to do, same table.
    df2 = run_sweep("toy", cells, toy.run_cell, tmp_path, progress=False)
    assert json.loads((root / "run.json").read_text())["n_cells_run_now"] == 0
    pd.testing.assert_frame_equal(df, df2)
    pd.testing.assert_frame_equal(df, pd.read_parquet(root / "results.parquet"))


def test_joblib_and_serial_give_identical_tables(tmp_path):
    cells = toy.cells()
    serial = run_sweep("toy", cells, toy.run_cell, tmp_path / "s", progress=False)
    par = run_sweep("toy", cells, toy.run_cell, tmp_path / "j", backend="joblib", jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial, par)


def test_submitit_runs_locally_without_a_cluster(tmp_path):
    pytest.importorskip("submitit")
    cells = toy.cells(n_seeds=1)
    serial = run_sweep("toy", cells, toy.run_cell, tmp_path / "s", progress=False)
    sub = run_sweep("toy", cells, toy.run_cell, tmp_path / "k", backend="submitit", jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial, sub)


def test_bad_backend_and_jobs(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        run_sweep("toy", toy.cells(), toy.run_cell, tmp_path, backend="ray")
    with pytest.raises(ValueError, match="jobs"):
        run_sweep("toy", toy.cells(), toy.run_cell, tmp_path, jobs=0)
    with pytest.raises(ValueError, match="duplicate"):
        run_sweep("toy", toy.cells() * 2, toy.run_cell, tmp_path)


def test_exception_in_a_cell_keeps_finished_cells(tmp_path):
    cells = toy.cells(n_seeds=1)
    calls = []

    def flaky(cell):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(cell)
        return toy.run_cell(cell)

    with pytest.raises(KeyboardInterrupt):
        run_sweep("toy", cells, flaky, tmp_path, progress=False)
    assert len(list((tmp_path / "toy" / "cells").glob("*.parquet"))) == 2
    assert not (tmp_path / "toy" / "results.parquet").exists()
    assert not list((tmp_path / "toy" / "cells").glob(".*tmp"))


_KILL_SCRIPT = """
import sys
from experiments.runner import run_sweep
from tests.runner import toy
run_sweep("toy", toy.cells(), toy.run_cell, sys.argv[1], progress=False)
"""


def test_killed_sweep_restarts_to_the_same_table(tmp_path):
    """SIGKILL a sweep midway, rerun it, and compare with an uninterrupted run."""
    env = {**os.environ, "TOY_CELL_DELAY": "0.3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(tmp_path / "k")], cwd=ROOT, env=env)
    cell_dir = tmp_path / "k" / "toy" / "cells"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cell_dir.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    finished = len(list(cell_dir.glob("*.parquet")))
    assert 3 <= finished < len(toy.cells()), "the kill must land midway"
    assert not (tmp_path / "k" / "toy" / "results.parquet").exists()
    resumed = run_sweep("toy", toy.cells(), toy.run_cell, tmp_path / "k", progress=False)
    info = json.loads((tmp_path / "k" / "toy" / "run.json").read_text())
    assert info["n_cells_run_now"] == len(toy.cells()) - finished
    fresh = run_sweep("toy", toy.cells(), toy.run_cell, tmp_path / "f", progress=False)
    pd.testing.assert_frame_equal(resumed, fresh)

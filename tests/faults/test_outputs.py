"""Output folders: never replaced silently, one run at a time, a history of runs, the user's umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli
from experiments.runner import OutputConflictError, run_sweep
from tests.runner import toy

ROOT = Path(__file__).resolve().parents[2]
CELLS = toy.cells(n_seeds=2)


def _sweep(out, cells=CELLS, config=None, **kw):
    return run_sweep("toy", cells, toy.run_cell, out, config=config, progress=False, **kw)


def _record(out) -> dict:
    return json.loads((out / "toy" / "run.json").read_text())


def test_other_seeds_into_the_same_folder_are_refused_and_nothing_changes(tmp_path):
    _sweep(tmp_path, config={"seeds": [0, 1]})
    before = {p: p.read_bytes() for p in (tmp_path / "toy").rglob("*") if p.is_file()}
    with pytest.raises(OutputConflictError, match=r"seeds: \[0, 1\] there, \[2\] here.*--overwrite"):
        _sweep(tmp_path, cells=toy.cells(n_seeds=3)[2::3], config={"seeds": [2]})
    after = {p: p.read_bytes() for p in (tmp_path / "toy").rglob("*") if p.is_file()}
    assert after == before  # not even run.json was touched


def test_a_preset_name_alone_is_no_other_configuration(tmp_path):
    """A sweep run from Python, then resumed from the command line (which adds the preset's name)."""
    _sweep(tmp_path, config={"n": 1})
    _sweep(tmp_path, config={"n": 1, "preset": "quick", "overrides": {}})
    assert _record(tmp_path)["history"][-1]["cells_computed"] == 0
    with pytest.raises(OutputConflictError, match="n: 1 there, 2 here"):
        _sweep(tmp_path, config={"n": 2, "preset": "quick"})


def test_other_cells_under_the_same_config_are_refused(tmp_path):
    _sweep(tmp_path, config={"n": 1})
    with pytest.raises(OutputConflictError, match="other cells"):
        _sweep(tmp_path, cells=CELLS[:3], config={"n": 1})


def test_overwrite_replaces_and_keeps_the_history(tmp_path):
    _sweep(tmp_path, config={"seeds": [0, 1]})
    other = toy.cells(n_seeds=3)[2::3]
    df = _sweep(tmp_path, cells=other, config={"seeds": [2]}, overwrite=True)
    pd.testing.assert_frame_equal(df, pd.read_parquet(tmp_path / "toy" / "results.parquet"))
    record = _record(tmp_path)
    assert record["config"] == {"seeds": [2]} and len(record["history"]) == 2
    assert "another configuration" in record["history"][1]["replaced"]
    fresh = _sweep(tmp_path / "fresh", cells=other, config={"seeds": [2]})
    pd.testing.assert_frame_equal(df, fresh)


def test_a_plain_resume_keeps_the_record_of_earlier_runs(tmp_path):
    _sweep(tmp_path, config={"n": 1})
    first = _record(tmp_path)
    _sweep(tmp_path, config={"n": 1})
    record = _record(tmp_path)
    h = record["history"]
    assert [e["status"] for e in h] == ["finished", "finished"]
    assert h[0]["cells_computed"] == len(CELLS) and h[1]["cells_computed"] == 0 and h[1]["cells_reused"] == len(CELLS)
    assert h[0]["wall_time_s"] == first["history"][0]["wall_time_s"]
    assert record["wall_time_s"] >= first["wall_time_s"]  # the total compute time, not the last call's
    assert all(e["command"] and e["started"] and e["fingerprint"] for e in h)


def test_an_interrupted_run_is_recorded_as_such(tmp_path):
    calls = []

    def flaky(cell):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(cell)
        return toy.run_cell(cell)

    with pytest.raises(KeyboardInterrupt):
        run_sweep("toy", CELLS, flaky, tmp_path, progress=False, fingerprint="f")
    assert _record(tmp_path)["history"][-1]["status"] == "running"
    run_sweep("toy", CELLS, toy.run_cell, tmp_path, progress=False, fingerprint="f")
    h = _record(tmp_path)["history"]
    assert [e["status"] for e in h] == ["interrupted", "finished"] and h[1]["cells_computed"] == len(CELLS) - 2


@pytest.mark.parametrize("damage", ["garbage", "list", "results-without-record"])
def test_an_unreadable_record_is_a_conflict_until_overwritten(tmp_path, damage):
    _sweep(tmp_path)
    path = tmp_path / "toy" / "run.json"
    if damage == "garbage":
        path.write_text('{"config": ')
    elif damage == "list":
        path.write_text("[]")
    else:
        path.unlink()
    with pytest.raises(OutputConflictError, match="unknown configuration"):
        _sweep(tmp_path)
    _sweep(tmp_path, overwrite=True)
    assert _record(tmp_path)["history"][-1]["status"] == "finished"


_HOLD = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold_lock(path: Path) -> subprocess.Popen:
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_into_a_busy_folder_stops_with_exit_status_2(tmp_path, capsys):
    proc = _hold_lock(tmp_path / "capacity" / ".lock")
    try:
        with pytest.raises(OutputConflictError, match="in use by another run"):
            run_sweep("capacity", CELLS, toy.run_cell, tmp_path, progress=False)
        code = cli.main(["capacity", "--out", str(tmp_path), "--no-progress", "--no-figures"])
        assert code == 2 and "in use by another run" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()
    assert not (tmp_path / "capacity" / "results.parquet").exists()


_RUN = """
import sys
from experiments.runner import run_sweep
from tests.runner import toy
n = int(sys.argv[2])
run_sweep("toy", toy.cells(n_seeds=n), toy.run_cell, sys.argv[1], config={"seeds": list(range(n))}, progress=False)
"""


def test_two_runs_at_once_leave_one_complete_table_and_one_clear_error(tmp_path):
    env = {**os.environ, "TOY_CELL_DELAY": "0.2", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _RUN, str(tmp_path), str(n)], cwd=ROOT, env=env, stderr=subprocess.PIPE)
        for n in (1, 2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    err = next(text for code, text in results if code != 0)
    assert "OutputConflictError" in err and ("in use by another run" in err or "another configuration" in err)
    winner = _record(tmp_path)["config"]["seeds"]
    table = pd.read_parquet(tmp_path / "toy" / "results.parquet")
    assert sorted(table["seed"].unique().tolist()) == winner
    assert len(table) == 4 * len(toy.cells(n_seeds=len(winner)))


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        _sweep(tmp_path)
    finally:
        os.umask(old)
    root = tmp_path / "toy"
    for path in [root / "results.parquet", root / "run.json", *(root / "cells").glob("*.parquet")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_no_temporary_files_are_left_behind(tmp_path):
    _sweep(tmp_path)
    _sweep(tmp_path)
    assert not [p for p in (tmp_path / "toy").rglob("*.tmp")]


def test_the_lock_is_released_after_a_failure(tmp_path):
    def broken(cell):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_sweep("toy", CELLS, broken, tmp_path, progress=False, fingerprint="f")
    _sweep(tmp_path)  # the lock is free at once

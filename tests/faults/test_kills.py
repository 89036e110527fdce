"""SIGKILL at random points, with damaged files between the runs: the end result is as if nothing happened."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time

import pandas as pd
import pytest
import torch

from experiments.runner import run_sweep
from models.diffusion import checkpoint as ck
from models.diffusion.denoiser import DenoiserConfig
from models.diffusion.train import TrainConfig, train
from tests.faults.damage import damage
from tests.runner import toy

# The runs are forked from the test process, so they start in milliseconds instead of re-importing
# torch (seconds on a busy machine); each is still a separate process killed with SIGKILL.
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _sweep(out: str) -> None:
    os.environ["TOY_CELL_DELAY"] = "0.05"
    run_sweep("toy", toy.cells(n_seeds=3), toy.run_cell, out, config={"n_seeds": 3}, progress=False)


def _kill_at_a_random_point(target, args, ready, rng: random.Random, deadline: float = 60) -> bool:
    """Fork a process running ``target(*args)``, wait until ``ready(start_time)`` or its exit, sleep up
    to 0.1 s at random, then SIGKILL it.  Returns True if it was killed (False if it finished first)."""
    started = time.time()
    proc = multiprocessing.get_context("fork").Process(target=target, args=args)
    proc.start()
    while time.time() < started + deadline and proc.is_alive() and not ready(started):
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.1))
    killed = proc.is_alive()
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    return killed


@pytest.mark.slow
def test_a_sweep_killed_ten_times_with_damaged_cells_gives_the_uninterrupted_table(tmp_path, seed):
    rng = random.Random(seed(2024))
    cells = toy.cells(n_seeds=3)
    fresh = run_sweep("toy", cells, toy.run_cell, tmp_path / "fresh", config={"n_seeds": 3}, progress=False)
    out = tmp_path / "killed"
    cell_dir = out / "toy" / "cells"
    kills = 0
    for _ in range(10):
        more = rng.randrange(0, 5)  # cells this run must write before the kill; 0: kill during start-up

        def ready(started, more=more):
            return sum(p.stat().st_mtime >= started for p in cell_dir.glob("*.parquet")) >= more

        kills += _kill_at_a_random_point(_sweep, (str(out),), ready, rng)
        files = sorted(cell_dir.glob("*.parquet"))
        if len(files) >= 2:  # damage one cell file before the rerun
            victim, other = rng.sample(files, 2)
            damage(victim, rng.choice(["truncate", "empty", "swap"]), rng, other)
    assert kills >= 5, "most runs must be killed, not finish"
    final = run_sweep("toy", cells, toy.run_cell, out, config={"n_seeds": 3}, progress=False)
    pd.testing.assert_frame_equal(final, fresh)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "toy" / "results.parquet"), fresh)
    history = json.loads((out / "toy" / "run.json").read_text())["history"]
    assert history[-1]["status"] == "finished"
    assert {h["status"] for h in history} <= {"interrupted", "finished"}
    assert not list((out / "toy").rglob("*.tmp"))


NET = DenoiserConfig(vocab_size=4, length=6, d_model=16, n_layers=1, n_heads=2)
PATTERNS = torch.randint(0, 4, (3, 6), generator=torch.Generator().manual_seed(0))
TRAIN = TrainConfig(steps=40, batch_size=8, num_threads=1, save_every=1)


def _train(directory: str) -> None:
    train(PATTERNS, 4, NET, TRAIN, checkpoint=directory)


@pytest.mark.slow
def test_training_killed_at_random_points_resumes_to_the_uninterrupted_weights(tmp_path, seed):
    rng = random.Random(seed(77))
    whole = train(PATTERNS, 4, NET, TRAIN).model.state_dict()
    directory = tmp_path / "ckpt"
    for _ in range(10):
        before = (ck.read_checkpoint_config(directory) or {}).get("step", 0)
        target = before + rng.randrange(1, 8)

        def ready(started, target=target):
            try:
                return (directory / ck.CONFIG).is_file() and ck.read_checkpoint_config(directory)["step"] >= target
            except ck.CheckpointError:  # a save in progress in the child
                return False

        _kill_at_a_random_point(_train, (str(directory),), ready, rng)
        info = ck.read_checkpoint_config(directory)  # every kill leaves a loadable checkpoint (or none yet)
        if info is not None:
            ck.load_checkpoint(directory, patterns=PATTERNS)
            assert info["step"] >= before
    resumed = train(PATTERNS, 4, NET, TRAIN, checkpoint=directory).model.state_dict()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)

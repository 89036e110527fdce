"""Checkpoints: every damaged, swapped, edited or half-written file is refused with CheckpointError."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import models
from experiments.demos.pretrained import PRETRAINED
from models.diffusion import checkpoint as ck
from models.diffusion import checkpoint_files as ckf
from models.diffusion.denoiser import DenoiserConfig
from models.diffusion.train import TrainConfig, train
from tests.faults.damage import damage

V, L = 4, 6
NET = DenoiserConfig(vocab_size=V, length=L, d_model=16, n_layers=1, n_heads=2)
PATTERNS = torch.randint(0, V, (3, L), generator=torch.Generator().manual_seed(0))
OTHER = (PATTERNS + 1) % V
SHIPPED = PRETRAINED  # the text demo's shipped network


def _cfg(steps, seed=0, **kw):
    return TrainConfig(steps=steps, batch_size=8, num_threads=1, seed=seed, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three finished 3-step checkpoints: the run, one on other patterns, one with another seed."""
    root = tmp_path_factory.mktemp("runs")
    train(PATTERNS, V, NET, _cfg(3), checkpoint=root / "run")
    train(OTHER, V, NET, _cfg(3), checkpoint=root / "other-patterns")
    train(PATTERNS, V, NET, _cfg(3, seed=1), checkpoint=root / "other-seed")
    return root


@pytest.fixture
def run(runs, tmp_path):
    """A private copy of the run's checkpoint."""
    return Path(shutil.copytree(runs / "run", tmp_path / "run"))


def _refused(directory, match, file=None):
    """``load_checkpoint`` raises CheckpointError naming ``file`` (default: any) and matching ``match``."""
    with pytest.raises(ck.CheckpointError, match=match) as err:
        ck.load_checkpoint(directory, patterns=PATTERNS)
    if file is not None:
        assert err.value.path.name == file and str(err.value.path) in str(err.value)
    assert err.value.remedy and err.value.remedy in str(err.value)
    return err.value


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _data_region(path: Path) -> tuple[int, int]:
    n = struct.unpack("<Q", path.read_bytes()[:8])[0]
    return 8 + n, path.stat().st_size


# -- the weights file -----------------------------------------------------------------------------


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_changed_bit_of_the_weights_is_refused(run, position, bit):
    path = run / ck.WEIGHTS
    original = path.read_bytes()
    start, end = _data_region(path)
    i = start + int(position * (end - start))
    path.write_bytes(original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1 :])
    try:
        _refused(run, "do not match the hash", ck.WEIGHTS)
    finally:
        path.write_bytes(original)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_a_changed_bit_anywhere_in_the_file_is_refused_or_harmless(run, position, bit):
    """In the header a flip may land in JSON whitespace and keep the file valid: then nothing changed."""
    path = run / ck.WEIGHTS
    original = path.read_bytes()
    i = position % len(original)
    path.write_bytes(original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1 :])
    try:
        model, _ = ck.load_checkpoint(run, patterns=PATTERNS)
    except ck.CheckpointError as err:
        assert err.path.name in (ck.WEIGHTS, ck.CONFIG)
    else:
        path.write_bytes(original)
        intact, _ = ck.load_checkpoint(run, patterns=PATTERNS)
        assert _same(model, intact)
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize("kind", ["empty", "truncate", "garbage"])
def test_a_cut_or_overwritten_weights_file_is_refused(run, kind, seed):
    damage(run / ck.WEIGHTS, kind, random.Random(seed(3)))
    _refused(run, "unreadable", ck.WEIGHTS)


def test_weights_of_a_run_on_other_patterns_are_refused(run, runs):
    shutil.copyfile(runs / "other-patterns" / ck.WEIGHTS, run / ck.WEIGHTS)
    _refused(run, "other patterns", ck.WEIGHTS)


def test_weights_of_another_run_on_the_same_patterns_are_refused(run, runs):
    shutil.copyfile(runs / "other-seed" / ck.WEIGHTS, run / ck.WEIGHTS)
    _refused(run, "not the weights file config.json was saved with", ck.WEIGHTS)


def test_weights_without_integrity_metadata_are_refused(run):
    model, _ = ck.load_checkpoint(run)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run / ck.WEIGHTS))  # a tool's export
    _refused(run, "records no weights hash", ck.WEIGHTS)


def test_missing_weights_are_refused(run):
    (run / ck.WEIGHTS).unlink()
    _refused(run, "missing", ck.WEIGHTS)


def test_a_byte_of_the_shipped_text_model_is_refused(tmp_path):
    copy = Path(shutil.copytree(SHIPPED, tmp_path / "shipped"))
    ck.load_checkpoint(copy)  # intact: loads
    path = copy / ck.WEIGHTS
    data = bytearray(path.read_bytes())
    data[_data_region(path)[0] + 1000] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ck.CheckpointError, match="do not match the hash"):
        ck.load_checkpoint(copy)


# -- the manifest -------------------------------------------------------------------------------


def _edit_config(run, edit):
    path = run / ck.CONFIG
    info = json.loads(path.read_text())
    path.write_text(json.dumps(edit(info)))


CONFIG_FAULTS = {
    "step-as-string": (lambda i: {**i, "step": "3"}, "field 'step' must be an int"),
    "no-model": (lambda i: {k: v for k, v in i.items() if k != "model"}, "field 'model'"),
    "edited-lr": (lambda i: {**i, "train": {**i["train"], "lr": 0.5}}, "edited by hand"),
    "edited-finished": (lambda i: {**i, "finished": False}, "'finished' contradicts"),
    "edited-net": (lambda i: {**i, "model": {**i["model"], "d_model": 32}}, "edited by hand"),
    "bad-net": (lambda i: {**i, "model": {**i["model"], "d_model": "wide"}}, "not a valid network config|edited"),
    "no-files": (lambda i: {k: v for k, v in i.items() if k != "files"}, "field 'files'"),
    "other-format": (lambda i: {**i, "format": "something else"}, "format is"),
    "future-version": (lambda i: {**i, "version": 3}, "format version 3"),
    "a-list": (lambda i: [i], "expected a JSON object"),
}


@pytest.mark.parametrize("fault", sorted(CONFIG_FAULTS))
def test_an_edited_manifest_is_refused(run, fault):
    edit, match = CONFIG_FAULTS[fault]
    _edit_config(run, edit)
    _refused(run, match, ck.CONFIG)


@pytest.mark.parametrize("kind", ["empty", "truncate", "garbage"])
def test_a_cut_manifest_is_refused(run, kind, seed):
    damage(run / ck.CONFIG, kind, random.Random(seed(5)))
    _refused(run, "unreadable|expected a JSON object|format", ck.CONFIG)


def test_a_missing_manifest_never_leads_to_retraining_over_the_weights(run):
    (run / ck.CONFIG).unlink()
    weights = (run / ck.WEIGHTS).read_bytes()
    with pytest.raises(ck.CheckpointError, match="missing, while the directory holds"):
        train(PATTERNS, V, NET, _cfg(3), checkpoint=run)
    memory = models.make("diffusion", d_model=16, n_layers=1, n_heads=2, train_steps=3, batch_size=8, checkpoint=run)
    with pytest.raises(ck.CheckpointError, match="nothing was overwritten"):
        memory.fit(PATTERNS, vocab_size=V)
    assert (run / ck.WEIGHTS).read_bytes() == weights
    with pytest.raises(ck.CheckpointError, match="config.json"):
        ck.load_checkpoint(run)


def test_a_format_1_checkpoint_is_refused_until_upgraded(run):
    model, info = ck.load_checkpoint(run)
    old = {k: v for k, v in info.items() if k != "files"} | {"version": 1}
    (run / ck.CONFIG).write_text(json.dumps(old))
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(run / ck.WEIGHTS), metadata={"step": str(info["step"])})  # how format 1 wrote it
    err = _refused(run, "format version 1", ck.CONFIG)
    assert "upgrade(" in err.remedy
    ck.upgrade(run)
    again, _ = ck.load_checkpoint(run, patterns=PATTERNS)
    assert _same(model, again)


def test_other_patterns_and_a_file_path_are_refused(run):
    with pytest.raises(ck.CheckpointError, match="other patterns than the ones given"):
        ck.load_checkpoint(run, patterns=OTHER)
    with pytest.raises(ck.CheckpointError, match="not a checkpoint directory"):
        ck.load_checkpoint(run / ck.WEIGHTS)
    with pytest.raises(FileNotFoundError):
        ck.load_checkpoint(run / "nothing-here")


# -- the resumption state -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "truncate", "garbage", "flip", "swap"])
def test_a_damaged_state_is_refused_when_resuming(run, runs, kind, seed):
    damage(run / ck.STATE, kind, random.Random(seed(7)), runs / "other-seed" / ck.STATE)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(ck.CheckpointError, match="state.pt") as err:
        train(PATTERNS, V, NET, _cfg(6), checkpoint=run)
    assert err.value.path.name == ck.STATE
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing overwritten


def test_a_pickle_that_is_not_plain_data_is_refused_without_unpickling(run, tmp_path):
    torch.save({"step": 3, "x": Path("/")}, run / ck.STATE)  # a global the safe loader must not run
    with pytest.raises(ck.CheckpointError, match="do not match the hash"):
        train(PATTERNS, V, NET, _cfg(6), checkpoint=run)


# -- interrupted saves and concurrent writers ---------------------------------------------------


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def reference_6(runs):
    return _weights(train(PATTERNS, V, NET, _cfg(6)).model)


@pytest.mark.parametrize("fail_at", range(1, 8))
def test_a_save_interrupted_at_any_point_leaves_the_old_or_the_new_checkpoint(
    runs, tmp_path, monkeypatch, fail_at, reference_6
):
    """Kill a save (here: an exception at the k-th file operation) of step 6 over step 3; then resume."""
    run = Path(shutil.copytree(runs / "run", tmp_path / "run"))
    calls = {"n": 0}
    real_replace, real_write_new = os.replace, ckf._write_new

    def counted(fn):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise KeyboardInterrupt(f"killed at file operation {fail_at}")
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "replace", counted(real_replace))  # every module's os.replace
    monkeypatch.setattr(ckf, "_write_new", counted(real_write_new))
    try:
        train(PATTERNS, V, NET, _cfg(6, save_every=6), checkpoint=run)
        finished = True
    except KeyboardInterrupt:
        finished = False
    monkeypatch.setattr(os, "replace", real_replace)
    monkeypatch.setattr(ckf, "_write_new", real_write_new)
    assert finished == (calls["n"] < fail_at)
    model, info = ck.load_checkpoint(run, patterns=PATTERNS)  # never a damaged state
    assert info["step"] in (3, 6)
    resumed = train(PATTERNS, V, NET, _cfg(6, save_every=6), checkpoint=run)
    assert all(torch.equal(reference_6[k], v) for k, v in resumed.model.state_dict().items())
    assert not [p for p in run.iterdir() if p.name.endswith(ck.NEW) or p.name.endswith(".tmp")]


_TRAIN_HOLD = """
import sys, time
from models.diffusion.checkpoint import lock
with lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_trainer_into_a_busy_directory_is_refused(run):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN_HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ck.CheckpointError, match="another process"):
            train(PATTERNS, V, NET, _cfg(6), checkpoint=run)
    finally:
        proc.kill()
        proc.wait()
    assert ck.read_checkpoint_config(run)["step"] == 3


def test_checkpoint_error_survives_pickling(tmp_path):
    # a worker of a process pool (joblib, SLURM) sends its exception back pickled: a refused
    # checkpoint must arrive as the same error, not as a TypeError of the unpickler
    import pickle

    err = ckf.CheckpointError(tmp_path / "config.json", "written by format version 1", "upgrade it")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ckf.CheckpointError
    assert (back.path, back.problem, back.remedy, str(back)) == (err.path, err.problem, err.remedy, str(err))

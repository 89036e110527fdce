"""Training loop: exact resume, safe checkpoint files, RNG and thread hygiene."""

from __future__ import annotations

import json

import pytest
import torch

import models.diffusion.train as train_mod
from models.diffusion.denoiser import DenoiserConfig
from models.diffusion.train import TrainConfig, load_checkpoint, read_checkpoint_config, train

V, L = 4, 6
MODEL = DenoiserConfig(vocab_size=V, length=L, d_model=16, n_layers=1, n_heads=2)
PATTERNS = torch.randint(0, V, (3, L), generator=torch.Generator().manual_seed(0))


def _cfg(steps, **kw):
    return TrainConfig(steps=steps, batch_size=8, num_threads=1, **kw)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_train_n_then_resume_n_equals_train_2n(tmp_path):
    whole = train(PATTERNS, V, MODEL, _cfg(12))
    first = train(PATTERNS, V, MODEL, _cfg(6), checkpoint=tmp_path)
    assert read_checkpoint_config(tmp_path)["finished"] and read_checkpoint_config(tmp_path)["step"] == 6
    resumed = train(PATTERNS, V, MODEL, _cfg(12), checkpoint=tmp_path)
    assert first.start_step == 0 and resumed.start_step == 6
    assert _same_weights(whole.model, resumed.model)
    assert torch.equal(whole.losses, resumed.losses)
    # a finished checkpoint is loaded without running a step
    again = train(PATTERNS, V, MODEL, _cfg(12), checkpoint=tmp_path)
    assert again.loaded and _same_weights(again.model, whole.model)


def test_finished_checkpoint_loads_without_building_the_optimiser(tmp_path, monkeypatch):
    # Building AdamW imports torch._dynamo (~2 s): a cached evaluation must not pay for it.
    trained = train(PATTERNS, V, MODEL, _cfg(4), checkpoint=tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("an optimiser was built for a finished checkpoint")

    monkeypatch.setattr(torch.optim, "AdamW", refuse)
    loaded = train(PATTERNS, V, MODEL, _cfg(4), checkpoint=tmp_path)
    assert loaded.loaded and _same_weights(loaded.model, trained.model)
    assert torch.equal(loaded.losses, trained.losses)
    with pytest.raises(AssertionError, match="optimiser"):
        train(PATTERNS, V, MODEL, _cfg(5), checkpoint=tmp_path)  # one step left: it must build one


def test_interrupted_run_resumes_from_the_last_save_to_the_same_result(tmp_path, monkeypatch):
    whole = train(PATTERNS, V, MODEL, _cfg(10, save_every=4))
    calls = {"n": 0}
    real = train_mod.nelbo

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # dies in step 7, after the save at step 4
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "nelbo", crashing)
    with pytest.raises(KeyboardInterrupt):
        train(PATTERNS, V, MODEL, _cfg(10, save_every=4), checkpoint=tmp_path)
    monkeypatch.setattr(train_mod, "nelbo", real)
    assert read_checkpoint_config(tmp_path)["step"] == 4
    resumed = train(PATTERNS, V, MODEL, _cfg(10, save_every=4), checkpoint=tmp_path)
    assert resumed.start_step == 4
    assert _same_weights(whole.model, resumed.model) and torch.equal(whole.losses, resumed.losses)


def test_checkpoint_files_load_without_unpickling(tmp_path):
    result = train(PATTERNS, V, MODEL, _cfg(3), checkpoint=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir() if p.name != ".lock")  # the lock file stays (flock)
    assert files == ["config.json", "model.safetensors", "state.pt"]
    state = torch.load(tmp_path / "state.pt", weights_only=True)  # plain tensors and primitives only
    assert state["step"] == 3 and state["losses"].shape == (3,)
    assert isinstance(state["generator"], torch.Tensor) and "cpu" in state["global_rng"]
    info = json.loads((tmp_path / "config.json").read_text())
    assert info["model"]["d_model"] == 16 and info["train"]["steps"] == 3 and info["finished"]
    model, info2 = load_checkpoint(tmp_path)
    assert info2 == info and _same_weights(model, result.model) and not model.training


def test_checkpoint_of_another_run_is_refused(tmp_path):
    train(PATTERNS, V, MODEL, _cfg(3), checkpoint=tmp_path)
    with pytest.raises(ValueError, match="other patterns"):
        train((PATTERNS + 1) % V, V, MODEL, _cfg(3), checkpoint=tmp_path)
    with pytest.raises(ValueError, match="training config"):
        train(PATTERNS, V, MODEL, _cfg(3, lr=5e-4), checkpoint=tmp_path)
    with pytest.raises(ValueError, match="beyond"):
        train(PATTERNS, V, MODEL, _cfg(2), checkpoint=tmp_path)


def test_rng_and_threads_are_restored_and_seed_decides_the_run(seed):
    torch.set_num_threads(2)
    try:
        state = torch.get_rng_state()
        a = train(PATTERNS, V, MODEL, TrainConfig(steps=3, batch_size=8))  # auto: one thread (small model)
        assert torch.get_num_threads() == 2 and torch.equal(torch.get_rng_state(), state)
    finally:
        torch.set_num_threads(1)
    b = train(PATTERNS, V, MODEL, _cfg(3))
    c = train(PATTERNS, V, MODEL, _cfg(3, seed=seed(1)))
    assert _same_weights(a.model, b.model) and not _same_weights(a.model, c.model)


def test_loss_decreases_on_a_tiny_set(seed):
    patterns = torch.randint(0, V, (3, L), generator=torch.Generator().manual_seed(seed(0)))
    r = train(patterns, V, MODEL, TrainConfig(steps=200, batch_size=32, num_threads=1, lr=3e-3, seed=seed(0)))
    # Last / first 40 steps over offsets 0-119: max 0.72, mean 0.44 (0.6 failed at 5 offsets); bar 0.85.
    assert r.losses[-40:].mean() < 0.85 * r.losses[:40].mean()
    assert r.losses.dtype == torch.float64 and r.steps_per_second > 0


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="seed"):
        TrainConfig(seed=-1)
    with pytest.raises(ValueError, match="does not match"):
        train(PATTERNS, V + 1, MODEL, _cfg(1))

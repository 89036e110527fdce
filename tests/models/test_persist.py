"""Save / load round trips for every registered memory (``memory.save`` and ``models.load``).

A loaded memory must retrieve exactly what the saved one did (same states, steps and
energies from the same queries and generator), and a damaged or swapped state file must be
refused with ``SavedMemoryError`` naming the file.  Identities, so any seed holds.
"""

from __future__ import annotations

import json

import pytest
import torch

import models
from models.persist import MANIFEST, STATE
from tests.models.test_conformance import PARAMS, _fitted, _queries


def _same_retrieval(a, b, queries, noise=0.2):
    ra = a.retrieve(queries, noise=noise, generator=torch.Generator().manual_seed(7))
    rb = b.retrieve(queries, noise=noise, generator=torch.Generator().manual_seed(7))
    assert torch.equal(ra.states, rb.states)
    assert torch.equal(ra.steps, rb.steps)
    if ra.energies is not None:
        assert torch.equal(ra.energies, rb.energies)


@pytest.mark.parametrize(("key", "name", "cfg"), PARAMS)
def test_save_load_round_trip_retrieves_the_same(key, name, cfg, tmp_path, seed):
    model, pats = _fitted(key, name, cfg, seed)
    path = model.save(tmp_path / key)
    loaded = models.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert torch.equal(loaded.patterns_, model.patterns_) and loaded.vocab_size_ == model.vocab_size_
    _same_retrieval(model, loaded, _queries(pats, cfg["V"], max(1, cfg["L"] // 8), seed=seed(1)))


@pytest.mark.parametrize(("key", "name", "cfg"), PARAMS[:1] + [p for p in PARAMS if p.values[1] == "diffusion"])
def test_damaged_or_swapped_state_is_refused(key, name, cfg, tmp_path, seed):
    model, pats = _fitted(key, name, cfg, seed)
    path = model.save(tmp_path / "a")
    blob = bytearray((path / STATE).read_bytes())
    blob[-1] ^= 0xFF  # one byte of the last tensor
    (path / STATE).write_bytes(bytes(blob))
    with pytest.raises(models.SavedMemoryError, match=str(path / STATE)):
        models.load(path)
    # another memory's state file under this manifest
    other = models.make(name, **cfg["hyper"]).fit(torch.flip(pats, dims=[0]), vocab_size=cfg["V"])
    other_path = other.save(tmp_path / "b")
    model.save(path, overwrite=True)
    (path / STATE).write_bytes((other_path / STATE).read_bytes())
    with pytest.raises(models.SavedMemoryError, match="does not match the hash"):
        models.load(path)


def test_missing_or_damaged_manifest_names_the_file(tmp_path, seed):
    key, name, cfg = PARAMS[0].values
    model, _ = _fitted(key, name, cfg, seed)
    with pytest.raises(models.SavedMemoryError, match="not a saved memory"):
        models.load(tmp_path)
    path = model.save(tmp_path / "m")
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(models.SavedMemoryError, match="not valid JSON"):
        models.load(path)
    (path / MANIFEST).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(models.SavedMemoryError, match="format"):
        models.load(path)


def test_save_refuses_to_replace_without_overwrite_and_needs_a_fit(tmp_path, seed):
    key, name, cfg = PARAMS[0].values
    model, _ = _fitted(key, name, cfg, seed)
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m")
    model.save(tmp_path / "m", overwrite=True)
    with pytest.raises(models.NotFittedError):
        models.make(name, **cfg["hyper"]).save(tmp_path / "n")
    assert not (tmp_path / "n").exists()
    # the save is atomic: no temporary directory is left next to the destination
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]

"""Conformance suite: every registered memory honours the contract of ``models.base``.

Parametrised over ``tests.model_configs.CONFORMANCE``, which must cover every name in
``models.MODELS``: a new model is checked the moment it is registered.
"""

from __future__ import annotations

import math
from numbers import Real

import pytest
import torch

import models
from models.base import NotFittedError, Retrieval
from tests.model_configs import CONFORMANCE, entries

IDS = [key for key, _, _ in entries()]


def _registered_entries():
    return [(key, name, cfg) for key, name, cfg in entries() if name in models.MODELS]


PARAMS = [pytest.param(key, name, cfg, id=key) for key, name, cfg in _registered_entries()]


def _patterns(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg["V"], (cfg["K"], cfg["L"]), generator=g)


def _queries(patterns, V, n_flip, seed=1, copies=2):
    """``copies`` corrupted versions of each pattern, each with ``n_flip`` changed tokens."""
    g = torch.Generator().manual_seed(seed)
    q = patterns.repeat(copies, 1)
    B, L = q.shape
    pos = torch.argsort(torch.rand(B, L, generator=g), dim=1)[:, :n_flip]
    shift = torch.randint(1, V, (B, n_flip), generator=g)
    q.scatter_(1, pos, (q.gather(1, pos) + shift) % V)
    return q


_FITTED: dict[str, tuple] = {}


def _fitted(key, name, cfg, seed):
    """Fit once per configuration: diffusion models train, which is not free."""
    if key not in _FITTED:
        pats = _patterns(cfg, seed(0))
        hyper = {**cfg["hyper"], **({"seed": seed(cfg["hyper"]["seed"])} if "seed" in cfg["hyper"] else {})}
        model = models.make(name, **hyper).fit(pats, vocab_size=cfg["V"])
        _FITTED[key] = (model, pats)
    return _FITTED[key]


def _numeric_hyperparameters(model):
    return {
        k: v
        for k, v in model.get_params().items()
        if isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))
    }


# ----------------------------------------------------------------------------------


def test_every_model_has_a_conformance_config():
    covered = {name for _, name, _ in entries()}
    missing = set(models.MODELS) - covered
    assert not missing, f"registered models without a conformance config: {missing}"


def test_make_rejects_unknown_model_and_hyperparameter():
    with pytest.raises(ValueError, match="unknown model"):
        models.make("no-such-memory")
    name = next(iter(models.MODELS))
    with pytest.raises(TypeError, match="accepted hyperparameters"):
        models.make(name, no_such_hyperparameter=1)


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_fit_sets_state_and_copies_patterns(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    assert model.vocab_size_ == cfg["V"]
    assert torch.equal(model.patterns_.cpu(), pats)
    assert model.patterns_.data_ptr() != pats.data_ptr()
    # get_params round-trips through make
    clone = models.make(name, **model.get_params())
    assert clone.get_params() == model.get_params()


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_retrieve_shapes_dtypes_and_no_mutation(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    q = _queries(pats, cfg["V"], n_flip=1, seed=seed(1))
    q_before, p_before = q.clone(), pats.clone()
    r = model.retrieve(q, noise=0.1, generator=torch.Generator().manual_seed(seed(0)), record=True)
    assert isinstance(r, Retrieval)
    B, L = q.shape
    assert r.states.shape == (B, L) and r.states.dtype == torch.long
    assert r.steps.shape == (B,) and r.steps.dtype == torch.long
    assert r.converged.shape == (B,) and r.converged.dtype == torch.bool
    assert int(r.states.min()) >= 0 and int(r.states.max()) < cfg["V"]
    assert r.trajectory is not None and r.trajectory.dim() == 3
    assert r.trajectory.shape[1:] == (B, L) and r.trajectory.dtype == torch.long
    assert torch.equal(r.trajectory[0], q) and torch.equal(r.trajectory[-1], r.states)
    if r.energies is not None:
        assert r.energies.dim() == 2 and r.energies.shape[1] == B
        assert r.energies.shape[0] == r.trajectory.shape[0]
    if r.entropy is not None:
        assert r.entropy.shape == (B,) and bool((r.entropy >= -1e-9).all())
    assert torch.equal(q, q_before) and torch.equal(pats, p_before)
    r0 = model.retrieve(q)
    assert r0.trajectory is None


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_deterministic_under_generator(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    q = _queries(pats, cfg["V"], n_flip=max(1, cfg["L"] // 8), seed=seed(1))
    a = model.retrieve(q, noise=0.2, generator=torch.Generator().manual_seed(seed(5)))
    b = model.retrieve(q, noise=0.2, generator=torch.Generator().manual_seed(seed(5)))
    assert torch.equal(a.states, b.states) and torch.equal(a.steps, b.steps)
    assert torch.equal(a.converged, b.converged)


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_batch_equals_one_by_one(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    if not model.batch_invariant:
        pytest.skip(f"{key} draws per-row random numbers (batch_invariant=False)")
    q = _queries(pats, cfg["V"], n_flip=max(1, cfg["L"] // 6), seed=seed(1))
    batch = model.retrieve(q, noise=0.2, generator=torch.Generator().manual_seed(seed(3)))
    for i in range(q.shape[0]):
        one = model.retrieve(q[i : i + 1], noise=0.2, generator=torch.Generator().manual_seed(seed(3)))
        assert torch.equal(one.states[0], batch.states[i]), f"row {i} differs"
        assert one.steps[0] == batch.steps[i] and one.converged[0] == batch.converged[i]


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_stored_patterns_are_fixed_points_at_low_load(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    r = model.retrieve(pats, noise=1e-3, generator=torch.Generator().manual_seed(seed(0)))
    assert torch.equal(r.states, pats)
    assert bool(r.converged.all())


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_energy_shape_or_not_implemented(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    try:
        e = model.energy(pats)
    except NotImplementedError:
        return
    assert e.shape == (pats.shape[0],) and e.is_floating_point()
    assert bool(torch.isfinite(e).all())


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_bad_queries_raise_clear_errors(key, name, cfg, seed):
    model, pats = _fitted(key, name, cfg, seed)
    V, L = cfg["V"], cfg["L"]
    with pytest.raises(TypeError, match="queries.*torch.long"):
        model.retrieve(pats.float())
    with pytest.raises(TypeError, match="queries"):
        model.retrieve(pats.tolist())
    with pytest.raises(ValueError, match=f"queries.*L={L}"):
        model.retrieve(pats[:, :-1])
    with pytest.raises(ValueError, match="queries.*2-D"):
        model.retrieve(pats[0])
    bad = pats.clone()
    bad[0, 0] = V
    with pytest.raises(ValueError, match=f"queries.*vocab_size={V}"):
        model.retrieve(bad)
    bad[0, 0] = -1
    with pytest.raises(ValueError, match="queries.*>= 0"):
        model.retrieve(bad)
    with pytest.raises(ValueError, match="noise"):
        model.retrieve(pats, noise=1.5)
    with pytest.raises(ValueError, match="noise"):
        model.retrieve(pats, noise=float("nan"))
    with pytest.raises(ValueError, match="max_steps"):
        model.retrieve(pats, max_steps=0)
    with pytest.raises(TypeError, match="generator"):
        model.retrieve(pats, generator=42)
    with pytest.raises(ValueError, match="states"):
        model.energy(pats[:, :-1])


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_bad_patterns_raise_clear_errors(key, name, cfg, seed):
    model = models.make(name, **cfg["hyper"])
    pats = _patterns(cfg, seed(0))
    with pytest.raises(ValueError, match="patterns"):
        model.fit(pats[:0])
    with pytest.raises(ValueError, match="patterns.*2-D"):
        model.fit(pats[0])
    with pytest.raises(TypeError, match="patterns.*torch.long"):
        model.fit(pats.double())
    with pytest.raises(ValueError, match="vocab_size"):
        model.fit(pats, vocab_size=int(pats.max()))  # a token equals vocab_size
    with pytest.raises(ValueError, match="vocab_size"):
        model.fit(pats, vocab_size=1)


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_use_before_fit_raises(key, name, cfg, seed):
    model = models.make(name, **cfg["hyper"])
    pats = _patterns(cfg, seed(0))
    with pytest.raises(NotFittedError, match="fit"):
        model.retrieve(pats)
    with pytest.raises(NotFittedError, match="fit"):
        model.energy(pats)


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_nan_and_negative_hyperparameters_raise(key, name, cfg, seed):
    pats = _patterns(cfg, seed(0))
    numeric = _numeric_hyperparameters(models.make(name, **cfg["hyper"]))
    assert numeric, f"{key} has no numeric hyperparameter to check"
    for hp in numeric:
        for bad in (float("nan"), -1):
            model = models.make(name, **{**cfg["hyper"], hp: bad})
            with pytest.raises((ValueError, TypeError), match=hp):
                model.fit(pats, vocab_size=cfg["V"])


def test_conformance_configs_name_registered_models_only():
    """Configs for models that do not exist yet are allowed; typos in 'model' are not."""
    planned = {"classical", "dense", "modern", "oracle", "diffusion"}
    for key, cfg in CONFORMANCE.items():
        assert cfg.get("model", key) in planned | set(models.MODELS), key


def test_failed_fit_leaves_the_model_unfitted(seed):
    """A fit that raises inside the model (Potts with a non-Hebbian rule) keeps it unfitted."""
    if "classical" not in models.MODELS:
        pytest.skip("classical not registered")
    pats = torch.randint(0, 4, (3, 8), generator=torch.Generator().manual_seed(seed(0)))
    model = models.make("classical", rule="storkey")
    with pytest.raises(ValueError, match="rule"):
        model.fit(pats, vocab_size=4)
    with pytest.raises(NotFittedError, match="fit"):
        model.retrieve(pats)

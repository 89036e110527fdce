"""The scikit-learn estimator API of every registered memory.

``get_params(deep=...)``, ``set_params(**params)`` and ``sklearn.base.clone`` on each
configuration of ``tests.model_configs.CONFORMANCE``. ``clone`` rebuilds a memory from
``get_params(deep=False)`` and checks that the constructor stored every value unchanged
(the same object), so it fails for a model whose ``__init__`` converts or validates.
The clone tests skip when scikit-learn (the ``data`` extra) is not installed.
"""

from __future__ import annotations

import inspect

import pytest
import torch

import models
from tests.model_configs import entries

PARAMS = [pytest.param(key, name, cfg, id=key) for key, name, cfg in entries() if name in models.MODELS]

#: A training budget small enough that fitting a diffusion memory twice costs little: the
#: clone tests compare two fits with each other, not with the patterns.
FEW_TRAIN_STEPS = 3


def _patterns(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg["V"], (cfg["K"], cfg["L"]), generator=g)  # (K, L)


def _cheap(name, cfg):
    """The configuration's memory, with a short training budget where it trains."""
    model = models.make(name, **cfg["hyper"])
    if "train_steps" in model.get_params():
        model.set_params(train_steps=FEW_TRAIN_STEPS)
    return model


def _constructor_names(model):
    sig = inspect.signature(type(model).__init__)
    return [p for p in sig.parameters if p != "self"]


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_get_params_lists_the_constructor_arguments_deep_or_not(key, name, cfg):
    model = models.make(name, **cfg["hyper"])
    shallow, deep = model.get_params(deep=False), model.get_params(deep=True)
    assert list(shallow) == _constructor_names(model)
    assert deep == shallow == model.get_params()
    for k, v in cfg["hyper"].items():
        assert shallow[k] is v  # stored unchanged, not converted


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_set_params_returns_self_and_sets_values(key, name, cfg):
    model = models.make(name, **cfg["hyper"])
    params = model.get_params()
    new = {k: 7 for k in ("max_steps", "seed") if k in params}
    assert new, "every memory has max_steps or seed"
    assert model.set_params(**new) is model
    assert model.get_params() == {**params, **new}
    assert model.set_params() is model and model.get_params() == {**params, **new}  # no names: no change
    assert models.make(name, **model.get_params()).get_params() == model.get_params()


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_set_params_rejects_unknown_names_and_sets_nothing(key, name, cfg):
    model = models.make(name, **cfg["hyper"])
    before = model.get_params()
    valid = next(iter(before))
    with pytest.raises(ValueError, match=r"invalid parameter\(s\) \['no_such_param'\].*valid parameters are") as err:
        model.set_params(**{valid: "changed", "no_such_param": 1})
    for p in before:
        assert repr(p) in str(err.value)  # the message names every valid parameter
    assert model.get_params() == before


def test_set_params_then_fit_uses_the_new_value():
    P = _patterns({"K": 4, "L": 16, "V": 2})
    net = models.make("modern", beta=1.0).fit(P)
    assert net.beta_ == 1.0
    net.set_params(beta=3.0)
    assert net.beta_ == 1.0  # fitted state is left as it is until the next fit
    assert net.fit(P).beta_ == 3.0
    with pytest.raises(ValueError, match="beta"):  # set_params stores, fit checks
        net.set_params(beta=-1.0).fit(P)


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_repr_names_the_class_and_every_parameter(key, name, cfg):
    model = models.make(name, **cfg["hyper"])
    text = repr(model)
    assert text.startswith(type(model).__name__ + "(")
    for k, v in model.get_params().items():
        assert f"{k}={v!r}" in text


@pytest.mark.parametrize("key,name,cfg", PARAMS)
def test_sklearn_clone_gives_an_unfitted_equal_memory(key, name, cfg):
    sklearn_base = pytest.importorskip("sklearn.base")
    P = _patterns(cfg)
    model = _cheap(name, cfg).fit(P, vocab_size=cfg["V"])
    copy = sklearn_base.clone(model)
    assert type(copy) is type(model) and copy is not model
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "patterns_")
    with pytest.raises(models.NotFittedError):
        copy.retrieve(P)
    # Fitted on the same patterns, the clone retrieves exactly what the original does.
    copy.fit(P, vocab_size=cfg["V"])
    q = _patterns(cfg, seed=1)  # (K, L) random states: most are not fixed points
    kw = {"noise": 0.2, "max_steps": 3}
    a = model.retrieve(q, generator=torch.Generator().manual_seed(5), **kw)
    b = copy.retrieve(q, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(a.states, b.states) and torch.equal(a.steps, b.steps)
    if hasattr(model, "denoise"):
        # A barely trained network keeps most tokens under argmax; its log-probabilities
        # still show whether the clone trained to the same weights.
        assert torch.equal(model.denoise(q, 0.2), copy.denoise(q, 0.2))

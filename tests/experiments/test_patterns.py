"""PatternSet (hash, persistence, subsets, validation) and the synthetic / image generators."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments.patterns import (
    GENERATORS,
    PatternSet,
    biased_patterns,
    make_patterns,
    prototype_centres,
    prototype_patterns,
    random_patterns,
)

REPO = Path(__file__).resolve().parents[2]


def hand_set(**overrides) -> PatternSet:
    kw = dict(train=torch.tensor([[0, 1, 1], [1, 0, 2]]), test=torch.tensor([[2, 2, 0]]), vocab_size=3, name="hand")
    kw.update(overrides)
    return PatternSet(**kw)


# -- PatternSet ------------------------------------------------------------------------


def test_hash_is_pinned_for_hand_built_content():
    # Pinned so that a change of the hashing scheme (byte order, header, length) is a
    # deliberate act: results files carry this hash.
    assert hand_set().hash == "0f939debe784a8af"
    assert len(hand_set().hash) == 16


def test_hash_depends_on_content_only():
    a = hand_set()
    assert hand_set(name="other", params={"seed": 9}).hash == a.hash
    assert hand_set(train=torch.tensor([[0, 1, 1], [1, 0, 1]])).hash != a.hash  # one token
    assert hand_set(vocab_size=4).hash != a.hash
    assert hand_set(test=torch.empty(0, 3, dtype=torch.long)).hash != a.hash
    # Same bytes, different shape.
    b = hand_set(train=torch.tensor([[0, 1, 1, 1, 0, 2]]), test=torch.tensor([[2, 2, 0, 0, 0, 0]]))
    assert b.hash != a.hash


def test_hash_is_stable_across_processes():
    code = "from experiments.patterns import random_patterns; print(random_patterns(5, 7, n_test=2, seed=3).hash)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == random_patterns(5, 7, n_test=2, seed=3).hash


def test_equality_and_frozen(seed):
    a = random_patterns(4, 9, n_test=2, seed=seed(1))
    assert a == random_patterns(4, 9, n_test=2, seed=seed(1))
    assert a != random_patterns(4, 9, n_test=2, seed=seed(2))
    assert len({a, random_patterns(4, 9, n_test=2, seed=seed(1))}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "x"


def test_save_load_round_trip(tmp_path):
    for ps in (random_patterns(6, 11, vocab_size=5, n_test=3, seed=4), random_patterns(3, 4), hand_set()):
        path = ps.save(tmp_path / f"{ps.hash}.safetensors")
        back = PatternSet.load(path)
        assert back == ps
        assert back.params == ps.params and back.name == ps.name and back.vocab_size == ps.vocab_size
        assert torch.equal(back.train, ps.train) and torch.equal(back.test, ps.test)
    assert PatternSet.load(tmp_path / f"{ps.hash}.safetensors").test.shape == (1, 3)


def test_params_round_trip_with_tuples(tmp_path):
    ps = hand_set(params={"shape": (8, 8), "seed": 0})
    assert ps.params["shape"] == [8, 8]  # normalised to JSON form at construction
    assert PatternSet.load(ps.save(tmp_path / "p.safetensors")).params == ps.params


def test_load_rejects_other_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ValueError, match="not a PatternSet"):
        PatternSet.load(tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="path"):
        PatternSet.load(tmp_path / "missing.safetensors")


def test_subset_is_nested_and_rehashed():
    ps = random_patterns(10, 12, n_test=4, seed=0)
    sub = ps.subset(3)
    assert torch.equal(sub.train, ps.train[:3]) and torch.equal(sub.test, ps.test)
    assert sub.hash != ps.hash and sub.params["subset"] == 3 and sub.params["seed"] == 0
    assert sub.subset(2) == ps.subset(2).subset(2)
    assert ps.subset(10).hash == ps.hash
    for bad in (0, 11):
        with pytest.raises(ValueError, match="k must"):
            ps.subset(bad)
    with pytest.raises(TypeError, match="k must"):
        ps.subset(2.0)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        ({"train": torch.tensor([[0.0, 1.0]])}, TypeError, "train must have dtype"),
        ({"train": [[0, 1]]}, TypeError, "train must be a torch.Tensor"),
        ({"train": torch.tensor([0, 1])}, ValueError, "train must be 2-D"),
        ({"train": torch.empty(0, 3, dtype=torch.long)}, ValueError, "train must have at least 1 row"),
        ({"train": torch.tensor([[0, 3, 1]])}, ValueError, "train has tokens"),
        ({"test": torch.tensor([[0, 1]])}, ValueError, "test must have the same length"),
        ({"vocab_size": 1}, ValueError, "vocab_size"),
        ({"vocab_size": 3.0}, TypeError, "vocab_size"),
        ({"params": {"x": object()}}, TypeError, "params must be JSON"),
        ({"name": ""}, TypeError, "name"),
    ],
)
def test_patternset_validation(overrides, error, match):
    with pytest.raises(error, match=match):
        hand_set(**overrides)


# -- synthetic generators ----------------------------------------------------------------


def test_random_patterns_determinism_and_nesting(seed):
    a = random_patterns(20, 16, vocab_size=3, n_test=5, seed=seed(7))
    assert a.train.shape == (20, 16) and a.test.shape == (5, 16) and a.train.dtype == torch.long
    assert a.train.max() <= 2 and a.train.min() >= 0
    assert a.hash == random_patterns(20, 16, vocab_size=3, n_test=5, seed=seed(7)).hash
    assert a.hash != random_patterns(20, 16, vocab_size=3, n_test=5, seed=seed(8)).hash
    # Nested in K (across the 256-row chunk boundary too) and the test set does not move with K.
    big = random_patterns(300, 16, vocab_size=3, n_test=5, seed=seed(7))
    assert torch.equal(big.train[:20], a.train) and torch.equal(big.test, a.test)
    assert not torch.equal(a.test, a.train[:5])
    assert a.params == {"K": 20, "L": 16, "vocab_size": 3, "n_test": 5, "seed": seed(7)}


def test_generators_do_not_touch_the_global_rng():
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    random_patterns(5, 5, seed=1), biased_patterns(5, 5, seed=1), prototype_patterns(2, 2, 5, seed=1)
    assert torch.equal(torch.rand(3), before)


def test_biased_activity(seed):
    ps = biased_patterns(50, 400, activity=0.2, n_test=10, seed=seed(0))
    assert ps.vocab_size == 2 and set(ps.train.unique().tolist()) <= {0, 1}
    # 20 000 Bernoulli(0.2) draws: sd 0.0028, so 0.015 is 5.3 sd (P = 1e-7).
    assert abs(ps.train.float().mean().item() - 0.2) < 0.015
    assert biased_patterns(3, 10, activity=0.0).train.sum() == 0
    assert biased_patterns(3, 10, activity=1.0).train.sum() == 30


def test_prototypes_are_noisy_copies(seed):
    ps = prototype_patterns(4, 25, 200, p_change=0.1, vocab_size=3, n_test=8, seed=seed(2))
    centres = prototype_centres(ps)
    assert ps.train.shape == (100, 200) and ps.test.shape == (8, 200) and centres.shape == (4, 200)
    changed = ps.train != centres[torch.arange(100) % 4]
    # 20 000 Bernoulli(0.1) changes: sd 0.0021, so 0.012 is 5.7 sd (P = 1e-8).
    assert abs(changed.float().mean().item() - 0.1) < 0.012
    assert (ps.test != centres[torch.arange(8) % 4]).float().mean() < 0.2
    small = prototype_patterns(4, 5, 200, p_change=0.1, vocab_size=3, n_test=8, seed=seed(2))
    assert torch.equal(small.train, ps.train[:20]) and torch.equal(small.test, ps.test)
    exact = prototype_patterns(2, 3, 10, p_change=0.0)
    assert torch.equal(exact.train, prototype_centres(exact).repeat(3, 1))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: random_patterns(0, 5), ValueError, "K must"),
        (lambda: random_patterns(3, 5, vocab_size=1), ValueError, "vocab_size must"),
        (lambda: random_patterns(3, 5, seed=-1), ValueError, "seed must"),
        (lambda: random_patterns(3.0, 5), TypeError, "K must"),
        (lambda: biased_patterns(3, 5, activity=1.5), ValueError, "activity must"),
        (lambda: prototype_patterns(2, 2, 5, p_change=-0.1), ValueError, "p_change must"),
        (lambda: prototype_patterns(2, 0, 5), ValueError, "per_prototype must"),
        (lambda: make_patterns("nope"), ValueError, "name must be one of"),
        (lambda: make_patterns("random", K=2), TypeError, "L"),
        (lambda: prototype_centres(random_patterns(2, 2)), TypeError, "patterns must"),
    ],
)
def test_generator_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_registry():
    assert set(GENERATORS) == {"random", "biased", "prototypes", "digits", "letters", "div4", "markov", "text"}
    ps = make_patterns("random", K=2, L=3, seed=5)
    assert ps.name == "random" and ps == random_patterns(2, 3, seed=5)
    for name, kwargs in {"div4": {"K": 2}, "markov": {"K": 2, "L": 4, "vocab_size": 4}}.items():
        assert make_patterns(name, **kwargs).name == name


# -- images --------------------------------------------------------------------------------


def test_digits():
    pytest.importorskip("sklearn")
    from experiments.patterns import digit_patterns

    ps = digit_patterns(per_class=5, classes=(0, 1, 7), n_test_per_class=4, seed=0)
    assert ps.train.shape == (15, 64) and ps.test.shape == (12, 64) and ps.vocab_size == 2
    assert set(ps.train.unique().tolist()) == {0, 1}
    assert ps.params["shape"] == [8, 8] and ps.params["classes"] == [0, 1, 7]
    assert 0.15 < ps.train.float().mean().item() < 0.5  # about a third of the pixels are ink
    more = digit_patterns(per_class=8, classes=(0, 1, 7), n_test_per_class=4, seed=0)
    assert torch.equal(more.train[:15], ps.train)  # nested in per_class
    assert digit_patterns(per_class=5, classes=(0, 1, 7), seed=1).hash != ps.hash
    # Interleaved classes: rows 0, 3, 6, ... are zeros, whose centre pixels are blank
    # far more often than those of ones.
    centre = ps.train.reshape(-1, 8, 8)[:, 2:6, 3:5].float().mean(dim=(1, 2))
    assert centre[0::3].mean() < centre[1::3].mean()
    with pytest.raises(ValueError, match="classes"):
        digit_patterns(classes=(1, 1))
    with pytest.raises(ValueError, match="per_class"):
        digit_patterns(per_class=200)


def test_letters():
    pytest.importorskip("PIL")
    from experiments.patterns import letter_patterns

    ps = letter_patterns(size=12)
    assert ps.train.shape == (26, 144) and ps.test.shape == (0, 144) and ps.vocab_size == 2
    assert ps.params["shape"] == [12, 12] and ps.params["letters"] == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert set(ps.train.unique().tolist()) == {0, 1}
    ink = ps.train.float().mean(dim=1)
    assert (ink > 0.1).all() and (ink < 0.8).all()  # every glyph visible, none a solid block
    assert torch.unique(ps.train, dim=0).shape[0] == 26  # all letters distinct
    assert letter_patterns("HI", size=10).train.shape == (2, 100)
    with pytest.raises(ValueError, match="letters"):
        letter_patterns("AA")
    with pytest.raises(ValueError, match="size"):
        letter_patterns(size=3)

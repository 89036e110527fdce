"""Synthetic languages (div4, Markov) and character-level text."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from experiments.patterns import (
    TEXT_VOCAB,
    decode_text,
    div4_language,
    div4_rule_fraction,
    div4_valid,
    load_sentences,
    markov_language,
    markov_rule_fraction,
    markov_valid,
    random_patterns,
    text_patterns,
)
from experiments.patterns import text as text_module

# -- div4 ----------------------------------------------------------------------------------


def test_div4_sequences_are_valid(seed):
    ps = div4_language(300, L=32, vocab_size=32, n_test=64, seed=seed(42))
    V = 32
    assert ps.train.shape == (300, 32) and ps.test.shape == (64, 32) and ps.vocab_size == V
    assert (ps.train[:, 0] == V - 2).all() and (ps.train[:, -1] == V - 1).all()
    assert ps.train[:, 1:-1].max() <= V - 3
    assert div4_valid(ps.train, V).all() and div4_valid(ps.test, V).all()
    assert (div4_rule_fraction(ps.train, V) == 1).all()
    # Fresh values (after a 0) reach the top of the range, so the generator is not degenerate.
    assert ps.train[:, 1:-1].max() == V - 3 and (ps.train[:, 1:-1] == 0).any()


def test_div4_hand_built_rule():
    ok = torch.tensor([[30, 1, 5, 0, 3, 31]])  # 5 // 4 = 1; after 0 anything; 3 // 4 = 0
    bad = torch.tensor([[30, 1, 5, 0, 7, 31]])  # 7 // 4 = 1 != 0
    assert div4_valid(ok, 32).tolist() == [True] and div4_valid(bad, 32).tolist() == [False]
    assert div4_rule_fraction(bad, 32).tolist() == [pytest.approx(0.8)]  # 4 of 5 pairs
    assert not div4_valid(torch.tensor([[30, 30, 31]]), 32).item()  # BOS inside


def test_div4_corruption_breaks_validity(seed):
    ps = div4_language(50, L=16, vocab_size=32, n_test=0, seed=seed(42))
    broken = ps.train.clone()
    broken[:, 0] = 0  # BOS replaced
    assert not div4_valid(broken, 32).any()
    assert (div4_rule_fraction(broken, 32) == 14 / 15).all()
    # Uniform random sequences almost never obey the rule.
    noise = random_patterns(200, 16, vocab_size=32, seed=seed(0)).train
    assert div4_rule_fraction(noise, 32).mean() < 0.2 and not div4_valid(noise, 32).any()


def test_div4_seeds_and_nesting():
    ps = div4_language(8, L=12, vocab_size=16, n_test=5)
    assert ps.params["seed"] == 42 and ps.params["test_seed"] == 41
    assert torch.equal(div4_language(300, L=12, vocab_size=16, n_test=5).train[:8], ps.train)
    # The test pool of seed 41 is the train pool of seed 41.
    assert torch.equal(div4_language(5, L=12, vocab_size=16, seed=41).train, ps.test)
    assert ps.hash == div4_language(8, L=12, vocab_size=16, n_test=5).hash
    assert ps.hash != div4_language(8, L=12, vocab_size=16, n_test=5, seed=1).hash


def test_div4_errors():
    with pytest.raises(ValueError, match="L must"):
        div4_language(4, L=2)
    with pytest.raises(ValueError, match="vocab_size must"):
        div4_language(4, vocab_size=2)
    with pytest.raises(TypeError, match="seqs must have dtype"):
        div4_valid(torch.zeros(2, 5), 32)
    with pytest.raises(ValueError, match="seqs must be 2-D"):
        div4_valid(torch.zeros(5, dtype=torch.long), 32)


# -- Markov ----------------------------------------------------------------------------------


def test_markov_sequences_are_valid(seed):
    ps = markov_language(100, 20, 16, n_successors=2, n_test=30, seed=seed(3))
    table = torch.tensor(ps.params["successors"])
    assert table.shape == (16, 2) and (table[:, 0] != table[:, 1]).all()
    assert markov_valid(ps.train, table).all() and markov_valid(ps.test, ps.params["successors"]).all()
    assert (markov_rule_fraction(ps.train, table) == 1).all()
    assert torch.equal(markov_language(10, 20, 16, n_test=30, seed=seed(3)).train, ps.train[:10])
    # A disallowed transition anywhere makes the sequence invalid.
    broken = ps.train[:1].clone()
    allowed = set(table[broken[0, 4]].tolist())
    broken[0, 5] = next(v for v in range(16) if v not in allowed)
    assert not markov_valid(broken, table).item()
    assert markov_rule_fraction(broken, table).item() < 1
    assert not markov_valid(torch.tensor([[0, 99]]), table).item()  # out-of-range token


def test_markov_errors():
    with pytest.raises(ValueError, match="n_successors must"):
        markov_language(4, 5, 3, n_successors=4)
    with pytest.raises(ValueError, match="successors must"):
        markov_valid(torch.zeros(2, 5, dtype=torch.long), [[0, 5], [1, 0]])


# -- text ------------------------------------------------------------------------------------


def test_text_from_pydoc(seed):
    ps = text_patterns(64, L=24, source="pydoc", n_test=32, seed=seed(0))
    assert ps.train.shape == (64, 24) and ps.test.shape == (32, 24) and ps.vocab_size == len(TEXT_VOCAB)
    assert ps.params["source"] == "pydoc" and ps.params["vocab"] == list(TEXT_VOCAB)
    rows = {tuple(r) for r in ps.train.tolist()}
    assert len(rows) == 64 and not rows & {tuple(r) for r in ps.test.tolist()}  # distinct, disjoint
    texts = decode_text(ps.train, ps.params)
    assert isinstance(texts, list) and all(t == t.lower() for t in texts)
    prefixes = {s.lower()[:24] for s in load_sentences("pydoc")}
    clean = [t for t in texts if "#" not in t]
    assert clean and all(t in prefixes for t in clean)
    assert decode_text(ps.train[0], ps.params) == texts[0]
    # Nested in K, fixed test set, shuffle depends on the seed.
    more = text_patterns(128, L=24, source="pydoc", n_test=32, seed=seed(0))
    assert torch.equal(more.train[:64], ps.train) and torch.equal(more.test, ps.test)
    assert text_patterns(64, L=24, source="pydoc", n_test=32, seed=seed(1)).hash != ps.hash


def test_text_decode_padding():
    short = text_module.encode_text(["Hi, there!"], 16)
    assert short[0, 10:].eq(0).all()
    assert decode_text(short) == ["hi, there!"]
    assert decode_text(short, strip=False) == ["hi, there!______"]
    with pytest.raises(ValueError, match="tokens must"):
        decode_text(torch.tensor([0, 99]))


def test_text_errors_and_fallback(monkeypatch):
    with pytest.raises(ValueError, match="source must"):
        text_patterns(4, source="bogus")
    with pytest.raises(ValueError, match="K \\+ n_test"):
        text_patterns(100_000, source="pydoc")
    # Without gensim: "auto" falls back to pydoc, an explicit "lee" names the extra.
    monkeypatch.setattr(text_module, "_lee_path", lambda: None)
    assert text_patterns(4, source="auto", n_test=2).params["source"] == "pydoc"
    with pytest.raises(ImportError, match="'text' extra"):
        text_patterns(4, source="lee")


@pytest.mark.skipif(importlib.util.find_spec("gensim") is None, reason="gensim (the 'text' extra) is not installed")
def test_text_from_lee_corpus(seed):
    ps = text_patterns(256, L=32, source="lee", n_test=128, seed=seed(0))
    assert ps.params["source"] == "lee" and ps.params["pool_size"] > 2000
    assert ps.train.shape == (256, 32)
    texts = decode_text(ps.train, ps.params)
    # News prose: mostly letters and spaces, few "other" characters.
    assert sum(t.count("#") for t in texts) < 0.02 * 256 * 32
    assert text_patterns(4, n_test=2).params["source"] == "lee"  # "auto" prefers the Lee corpus

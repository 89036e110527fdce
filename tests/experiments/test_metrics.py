"""Metrics on hand-built cases: distances, recovery, outcome classes, generations, basins."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.metrics import (
    GENERATION_CLASSES,
    OUTCOMES,
    classify_generations,
    critical_radius,
    exact_match,
    generation_distances,
    hamming,
    nearest,
    outcome_classes,
    outcome_codes,
    overlap,
    perturbation_rate,
    recovery_rate,
    symmetric_mixtures,
    unstable_rate,
)
from experiments.patterns import random_patterns

T = torch.tensor


# -- distances and overlaps -------------------------------------------------------------


def test_hamming_overlap_nearest():
    a = T([[0, 1, 1, 0], [1, 1, 1, 1]])
    b = T([[0, 1, 1, 0], [1, 0, 0, 1], [1, 1, 1, 0]])
    assert hamming(a, b).tolist() == [[0, 4, 1], [2, 2, 1]]
    assert torch.equal(overlap(a, b), 1 - 2 * hamming(a, b).double() / 4)  # spins: m = 1 - 2 d / N
    assert overlap(a, b)[0, 1] == -1  # the reversed pattern
    idx, dist = nearest(a, b)
    assert idx.tolist() == [0, 2] and dist.tolist() == [0, 1]
    # Ties go to the lowest index.
    assert nearest(T([[0, 0]]), T([[1, 0], [0, 1]]))[0].tolist() == [0]


def test_overlap_matches_spin_dot_product_and_potts_chance_level(seed):
    x = random_patterns(5, 50, seed=seed(0)).train
    s = x.double() * 2 - 1
    assert torch.allclose(overlap(x, x), s @ s.T / 50)
    # V > 2: 1 for equality, 0 at chance (agreement 1/V), -1/(V-1) at total disagreement.
    p = T([[0, 1, 2, 3]])
    assert overlap(p, p, vocab_size=4).item() == 1
    assert overlap((p + 1) % 4, p, vocab_size=4).item() == pytest.approx(-1 / 3)
    assert overlap(T([[0, 0, 0, 0]]), p, vocab_size=4).item() == pytest.approx(0.0)
    rand = random_patterns(400, 200, vocab_size=6, seed=seed(1)).train
    assert abs(overlap(rand[:200], rand[200:], vocab_size=6).mean().item()) < 0.01  # offsets 0-1999: max 6e-4


def test_recovery_unstable_exact():
    original = T([[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]])
    query = T([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    final = T([[0, 1, 1, 0], [1, 1, 1, 0], [2, 2, 2, 2]])
    rec = recovery_rate(final, original, query)
    assert rec[0] == 0.5 and math.isnan(rec[1]) and rec[2] == 1.0  # row 1: nothing perturbed
    uns = unstable_rate(final, original, query)
    assert uns[0] == 0.5 and uns[1] == 0.25 and math.isnan(uns[2])  # row 2: everything perturbed
    assert exact_match(final, original).tolist() == [False, False, True]
    assert perturbation_rate(query, original).tolist() == [0.5, 0.0, 1.0]


def test_metric_errors_name_the_argument():
    x = T([[0, 1]])
    with pytest.raises(ValueError, match="final and original must have the same shape"):
        recovery_rate(T([[0, 1, 1]]), x, x)
    with pytest.raises(TypeError, match="query must have dtype"):
        unstable_rate(x, x, x.double())
    with pytest.raises(ValueError, match="a and b must have the same length"):
        hamming(x, T([[0, 1, 1]]))
    with pytest.raises(ValueError, match="states has token"):
        overlap(T([[0, 3]]), x)
    with pytest.raises(ValueError, match="patterns must have at least 1 row"):
        nearest(x, torch.empty(0, 2, dtype=torch.long))


# -- outcome classes -----------------------------------------------------------------------

# Four mutually orthogonal binary patterns of length 40 (Walsh-like blocks of 10).
BLOCKS = T([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]])
P0, P1, P2, TEST0 = BLOCKS.repeat_interleave(10, dim=1)
STORED = torch.stack([P0, P1, P2])
ALTERNATING = T([1, 0] * 20)  # overlap 0 with every block pattern


def test_every_outcome_class_binary():
    near = P0.clone()
    near[0] = 0  # one flip: |m| = 0.95
    mixture = symmetric_mixtures(STORED, s=3)[0][0]  # sign(P0 + P1 + P2): overlaps 1/2
    rows = {
        "retrieved": (P0, P0),
        "other stored": (P1, P0),
        "reversed": (1 - P2, P0),
        "unseen test": (TEST0, P0),
        "near stored": (near, P1),
        "mixture-like": (mixture, P0),
        "spin-glass-like": (ALTERNATING, P0),
        "not converged": (ALTERNATING, P0),
    }
    final = torch.stack([f for f, _ in rows.values()])
    targets = torch.stack([t for _, t in rows.values()])
    converged = torch.ones(len(rows), dtype=torch.bool)
    converged[-1] = False
    classes = outcome_classes(final, targets, STORED, test=TEST0[None], converged=converged)
    assert list(classes) == list(rows)
    assert list(classes.categories) == list(OUTCOMES)
    codes = outcome_codes(final, targets, STORED, test=TEST0[None], converged=converged)
    assert codes.tolist() == list(range(8)) and codes.dtype == torch.long
    # A state that equals a pattern is classified by the match even if not converged.
    assert list(outcome_classes(P0[None], P0[None], STORED, converged=T([False]))) == ["retrieved"]
    # Without a test set the test pattern is an ordinary spurious state (overlap 0).
    assert list(outcome_classes(TEST0[None], P0[None], STORED)) == ["spin-glass-like"]


def test_outcome_tolerance(seed):
    near = P0.clone()
    near[0] = 0  # one flip: m = 0.95
    assert list(outcome_classes(near[None], P0[None], STORED)) == ["near stored"]
    assert list(outcome_classes(near[None], P0[None], STORED, tol=0.05)) == ["retrieved"]
    near[1] = 0  # two flips = Hamming fraction 0.05: m = 0.9 is on the mixture side of the bound
    assert list(outcome_classes(near[None], P0[None], STORED)) == ["mixture-like"]
    assert list(outcome_classes(near[None], P0[None], STORED, tol=0.05)) == ["retrieved"]
    assert list(outcome_classes(1 - near[None], P0[None], STORED, tol=0.05)) == ["reversed"]
    assert list(outcome_classes(near[None], P1[None], STORED, tol=0.05)) == ["other stored"]
    # With tol = (1 - 0.9) / 2 "near stored" is empty: max|m| > 0.9 means within tol.
    x = random_patterns(300, 40, seed=seed(0)).train
    codes = outcome_codes(x, x.roll(1, 0), STORED, tol=0.05)
    assert (codes != OUTCOMES.index("near stored")).all()
    with pytest.raises(ValueError, match="tol must"):
        outcome_codes(P0[None], P0[None], STORED, tol=1.5)
    with pytest.raises(ValueError, match="bounds must"):
        outcome_codes(P0[None], P0[None], STORED, bounds=(0.9, 0.3))
    with pytest.raises(TypeError, match="converged must"):
        outcome_codes(P0[None], P0[None], STORED, converged=T([1]))


def test_outcome_classes_potts():
    stored = T([[0, 1, 2, 3, 0, 1, 2, 3], [3, 3, 2, 2, 1, 1, 0, 0]])
    partial = stored[0].clone()
    partial[5:] = T([3, 0, 1])  # agreement 5/8: m = (4 * 5/8 - 1) / 3 = 0.5
    final = torch.stack([stored[0], stored[1], (stored[0] + 2) % 4, partial])
    targets = stored[[0, 0, 0, 0]]
    classes = outcome_classes(final, targets, stored, vocab_size=4)
    # (stored + 2) % 4 disagrees everywhere: no "reversed" class for V > 2, just far away.
    assert list(classes) == ["retrieved", "other stored", "spin-glass-like", "mixture-like"]


def test_three_mixture_overlaps_are_one_half(seed):
    # docs/theory.md §5.1, C6a: N = 1000, overlap with each component is 1/2 (sd sqrt(3/4 / N) = 0.027
    # each; an unrelated pattern: sd 1/sqrt(N) = 0.032).  Bars: 0.03 on the mean of 30 (6 sd), 0.14 on
    # each of 30 (5.1 sd, P = 1e-5 for any), 0.18 on each of 270 others (5.7 sd, P = 3e-6).
    # Offsets 0-1999: mean 0.0023 / 0.063 / 0.097, max 0.009 / 0.116 / 0.160 (the former bars 0.12 and
    # 0.15 were under 4.5 sd: 0.15 failed at some offsets).
    xi = random_patterns(30, 1000, seed=seed(0)).train
    states, comps = symmetric_mixtures(xi, s=3)
    assert states.shape == (10, 1000) and comps.tolist()[1] == [3, 4, 5]
    m = overlap(states, xi)  # (10, 30)
    own = m.gather(1, comps)  # (10, 3)
    assert abs(own.mean().item() - 0.5) < 0.03 and (own - 0.5).abs().max() < 0.14
    others = m.scatter(1, comps, 0.0)
    assert others.abs().max() < 0.18  # unrelated patterns: overlap O(1/sqrt(N))
    rand_states, rand_comps = symmetric_mixtures(xi, s=5, n=4, generator=torch.Generator().manual_seed(seed(0)))
    assert rand_states.shape == (4, 1000) and all(len(set(r)) == 5 for r in rand_comps.tolist())
    # s = 5: 2^(1-s) C(s-1, (s-1)/2) = 3/8 (mean of 20, sd 0.0065; offsets 0-1999: max deviation 0.015).
    assert abs(overlap(rand_states, xi).gather(1, rand_comps).mean().item() - 0.375) < 0.05
    with pytest.raises(ValueError, match="s must be an odd"):
        symmetric_mixtures(xi, s=2)
    with pytest.raises(ValueError, match="patterns has token"):
        symmetric_mixtures(xi + 1)


# -- generations and basins -------------------------------------------------------------------


def test_classify_generations():
    L = 20
    train = torch.stack([torch.zeros(L, dtype=torch.long), torch.ones(L, dtype=torch.long)])
    almost = train[0].clone()
    almost[3] = 3  # Hamming fraction 0.05 <= delta_m
    novel = torch.full((L,), 2)
    unique = torch.full((L,), 3)
    samples = torch.stack([train[0], almost, novel, novel, unique])
    classes = classify_generations(samples, train, delta_m=0.1, delta_s=0.1)
    assert list(classes) == ["memorised", "memorised", "spurious", "spurious", "generalised"]
    assert list(classes.categories) == list(GENERATION_CLASSES)
    to_train, to_other = generation_distances(samples, train)
    assert to_train.tolist() == [0.0, 0.05, 1.0, 1.0, 1.0]
    assert to_other.tolist() == [0.05, 0.05, 0.0, 0.0, 0.95]  # "unique" shares the 3 of "almost"
    # Strict thresholds: only exact copies count.
    assert list(classify_generations(samples, train, 0.0, 0.0))[:2] == ["memorised", "generalised"]
    assert math.isinf(generation_distances(novel[None], train)[1].item())
    with pytest.raises(ValueError, match="delta_m must"):
        classify_generations(samples, train, delta_m=2.0)


def test_critical_radius():
    success = T([[1.0, 1.0, 0.95, 0.5, 0.0], [1.0, 0.5, 0.95, 0.2, 0.0], [0.1, 0.0, 0.0, 0.0, 0.0]])
    levels = [0.0, 0.1, 0.25, 0.5, 1.0]
    r = critical_radius(success, levels)
    assert r[:2].tolist() == [0.25, 0.25] and math.isnan(r[2])
    rc = critical_radius(success, levels, contiguous=True)
    assert rc[:2].tolist() == [0.25, 0.0] and math.isnan(rc[2])
    assert critical_radius(success > 0.4, T([0, 1, 2, 3, 4]), threshold=1.0).tolist()[:2] == [3.0, 2.0]
    with pytest.raises(ValueError, match="levels must be strictly increasing"):
        critical_radius(success, [0.0, 0.2, 0.1, 0.5, 1.0])
    with pytest.raises(ValueError, match="levels must have shape"):
        critical_radius(success, [0.0, 1.0])

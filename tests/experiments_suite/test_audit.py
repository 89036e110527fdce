"""Audit: basin width against direct computations, the statistics helpers, extraction by the oracle,
and a tiny study end to end (table, figures, summary, resume)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import models
from experiments import audit
from experiments.audit import extraction, signals
from experiments.audit.stats import bootstrap_ci, roc_auc, spearman
from experiments.cli import run_experiment
from experiments.corruption import resample
from experiments.figures import unexplained_artists
from experiments.transition.crossing import crossing_k
from experiments.transition.sampling import Engine
from models.diffusion.schedule import alpha, beta
from tests.figures import tables

# -- basin width --------------------------------------------------------------------------


def test_crossing_time_definition():
    grid = [0.1, 0.2, 0.4]
    assert signals.crossing_time(grid, [1.0, 0.75, 0.25]) == (0.2 + 0.25 / 0.5 * 0.2, "")
    assert signals.crossing_time(grid, [1.0, 0.25, math.nan]) == (0.1 + 0.5 / 0.75 * 0.1, "")
    assert signals.crossing_time(grid, [0.4, math.nan, math.nan]) == (0.0, "left")
    assert signals.crossing_time(grid, [1.0, 0.5, 0.5]) == (0.4, "right")  # "at least half" counts


def _posterior_share(xi: torch.Tensor, t: float, n: int, g: torch.Generator) -> float:
    """Direct ``p(t)``: the Bayes posterior weight of the original among the stored sequences, averaged
    over ``n`` corruptions of each: ``softmax_mu(beta(t) * matches(x_t, xi_mu))`` (uniform noise)."""
    K, V = xi.shape[0], int(xi.max()) + 1
    x = resample(xi.repeat_interleave(n, 0), t, V, generator=g)
    matches = (x.unsqueeze(1) == xi.unsqueeze(0)).sum(-1).double()  # (K n, K)
    w = torch.softmax(float(beta(t, V)) * matches, -1)
    return float(w[torch.arange(K * n), torch.arange(K).repeat_interleave(n)].mean())


def test_oracle_basin_width_agrees_with_the_posterior(seed):
    # Four stored sequences of V = 8 tokens, pairwise different at every position.  The oracle's
    # sampler draws x_0 from (nearly) the exact posterior, so p(t) is the mean posterior weight of
    # the original and t* the crossing of 1/2 of that curve (at t = 1 the weight is 1/K = 0.25).
    # Measured over 25 seeds (C = 32 copies, dt = 0.02): |mean t* - direct t*| <= 0.037, and the
    # pooled p(t_j) within 3.2 binomial standard deviations of the direct value at every grid point;
    # 20 more seeds (--seed-offset 1..20) passed.
    V, L, K, C = 8, 8, 4, 32
    grid = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0]
    g = torch.Generator().manual_seed(seed(11))
    xi = torch.cat([(torch.randint(0, V, (1, L), generator=g) + 2 * k) % V for k in range(K)])
    mem = models.make("oracle", sampler="ancestral", dt=0.02, seed=seed(12)).fit(xi, vocab_size=V)
    t_star, p, _ = signals.basin_width(signals.engine_restore(Engine(mem)), xi, V, grid, C, g)
    direct = np.array([_posterior_share(xi, t, 2000, g) for t in grid])
    assert abs(t_star.mean() - signals.crossing_time(grid, direct)[0]) < 0.08
    n = (~np.isnan(p)).sum(0) * C  # copies evaluated per grid point (failed sequences stop)
    ok = n > 0
    measured = np.where(ok, np.nansum(p, 0) * C / np.maximum(n, 1), np.nan)
    z = (measured[ok] - direct[ok]) / np.sqrt(direct[ok] * (1 - direct[ok]) / n[ok] + 1e-12)
    assert np.abs(z).max() < 5


def test_oracle_of_one_sequence_restores_everything_and_nothing_else(seed):
    # With one stored sequence the exact denoiser predicts it with certainty at every t < 1 (and
    # at t = 1, where alpha = 1e-3 > 0): p = 1 on the whole grid; any other sequence never comes back.
    g = torch.Generator().manual_seed(seed(13))
    xi, other = torch.randint(0, 6, (2, 10), generator=g)
    mem = models.make("oracle", sampler="ancestral", dt=0.1, seed=seed(14)).fit(xi[None], vocab_size=6)
    grid = [0.3, 0.6, 1.0]
    t_star, p, censored = signals.basin_width(
        signals.engine_restore(Engine(mem)), torch.stack([xi, other]), 6, grid, 4, g
    )
    assert t_star.tolist() == [1.0, 0.0] and censored == ["right", "left"]
    assert (p[0] == 1).all() and p[1, 0] == 0 and np.isnan(p[1, 1:]).all()


def test_classical_basin_width_agrees_with_the_binomial_bracket(seed):
    # Potts Hebbian net with one stored sequence (load 1/L): at site i the pattern token's field is
    # proportional to m_{-i} - (L-1)/V (m: matching sites), the others' to minus that.  So if
    # m - 1 > (L-1)/V every update keeps or creates a match (restored); if m <= (L-1)/V none can be
    # created (not restored).  With m ~ Bin(L, alpha + (1 - alpha)/V) under resampling,
    # P(m - 1 > (L-1)/V) <= p(t) <= P(m > (L-1)/V).  400 copies per point: 5 binomial sd <= 0.125.
    V, L, n = 4, 8, 400
    g = torch.Generator().manual_seed(seed(15))
    xi = torch.randint(0, V, (1, L), generator=g)
    mem = models.make("classical", rule="hebb", update="async").fit(xi, vocab_size=V)
    grid = [0.2, 0.5, 0.8, 1.0]
    restore = lambda q, t, gen: mem.retrieve(q, generator=gen).states  # noqa: E731 -- ignores t, as the net does
    _, p, censored = signals.basin_width(restore, xi.repeat(n // 100, 1), V, grid, 100, g)
    threshold = (L - 1) / V
    for j, t in enumerate(grid):
        q = float(alpha(t)) + (1 - float(alpha(t))) / V
        upper, lower = stats.binom.sf(math.floor(threshold), L, q), stats.binom.sf(math.floor(threshold + 1), L, q)
        measured = np.nanmean(p[:, j])
        if not math.isnan(measured):
            assert lower - 0.125 <= measured <= upper + 0.125, (t, lower, measured, upper)
    # the basin covers nearly all of the space: p(1) >= P(Bin(8, 1/4) >= 3) = 0.32, p(0.8) >= 0.82
    assert np.nanmean(p[:, 2]) > 0.5


# -- statistics ---------------------------------------------------------------------------


def test_auc_and_spearman_agree_with_scipy_and_brute_force(seed):
    rng = np.random.default_rng(seed(16))
    for _ in range(20):
        pos, neg = rng.integers(0, 6, rng.integers(1, 30)), rng.integers(0, 6, rng.integers(1, 30))  # many ties
        pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
        assert roc_auc(pos, neg) == pytest.approx(pairs, abs=1e-12)
        x, y = rng.normal(size=25), rng.integers(0, 4, 25)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert math.isnan(spearman([1, 2, 3], [1, 1, 1])) and math.isnan(roc_auc([], [1.0]))


def test_auc_agrees_with_scikit_learn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed(17))
    for _ in range(20):
        pos, neg = rng.normal(0.5, 1, 15), rng.normal(0, 1, 20).round(1)
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        assert roc_auc(pos, neg) == pytest.approx(metrics.roc_auc_score(labels, np.r_[pos, neg]), abs=1e-12)


def test_bootstrap_interval_of_a_mean_matches_the_normal_interval(seed):
    # n = 400 standard normals: the percentile interval of the mean is mean -+ 1.96 / 20 = -+ 0.098 up
    # to the bootstrap's own noise (sd of a 2.5 % quantile of 2000 replicates ~ 0.004) and the
    # sample sd's (0.035 relative): 0.03 is more than 5 of either.
    x = np.random.default_rng(seed(18)).normal(size=400)
    lo, hi = bootstrap_ci(np.mean, x, n_boot=2000, seed=seed(19))
    half = 1.96 * x.std(ddof=1) / 20
    assert abs(lo - (x.mean() - half)) < 0.03 and abs(hi - (x.mean() + half)) < 0.03


# -- extraction ---------------------------------------------------------------------------


def test_oracle_prompted_extraction_is_one_at_small_k(seed):
    # Four random sequences of 16 tokens over 32: half of a sequence (8 tokens) identifies it (another
    # stored sequence shares them with probability ~32^-8), and the clamped tokens make the exact
    # posterior certain of it long before t = 0, so every completion is exact.
    g = torch.Generator().manual_seed(seed(20))
    xi = torch.randint(0, 32, (4, 16), generator=g)
    engine = Engine(models.make("oracle", sampler="ancestral", dt=0.05, seed=seed(21)).fit(xi, vocab_size=32))
    for kind in extraction.PROMPTS:
        assert (extraction.prompted_rate(engine, xi, kind, 8, g) == 1.0).all()
    masks = extraction.prompt_mask("random", 50, 16, g)
    assert (masks.sum(-1) == 8).all() and len({tuple(m.tolist()) for m in masks}) > 40


def test_unprompted_copies_counts_exact_rows():
    gens = torch.tensor([[0, 1], [0, 1], [1, 1], [0, 0]])
    assert extraction.unprompted_copies(gens, torch.tensor([[0, 1], [1, 0], [1, 1]])).tolist() == [2, 0, 1]


# -- the study ----------------------------------------------------------------------------

TINY = dict(
    Ks=(2, 6), seeds=(0,), V=8, N=8, d_model=16, n_heads=2, n_layers=1, train_steps=20, batch_size=16, n_seq=3,
    grid=(0.2, 0.6, 1.0), copies=4, dt=0.1, prompt_samples=2, n_generate=16, nelbo_times=2, dup_K=6,
    dup_counts=(1, 4), dup_per_count=1,
)  # fmt: skip


def test_tiny_study_end_to_end_and_resumes(tmp_path, seed):
    overrides = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()]
    overrides += [f"checkpoint_root={tmp_path / 'ck'}", f"seeds={seed(0) % 1000}"]
    results, paths = run_experiment("audit", out=tmp_path, overrides=overrides, progress=False)
    assert {p.stem for p in paths} == set(audit.FIGURES)
    assert (tmp_path / "audit" / "results.parquet").exists()
    # per (cell, model, split): n_seq rows, the duplication arm len(dup_counts) * dup_per_count
    counts = results.groupby(["regime", "K", "model", "split"]).size()
    assert counts.loc["transition", 2].tolist() == [2] * 4 and counts.loc["transition", 6].tolist() == [3] * 4
    assert counts.loc["duplication"].tolist() == [2] * 4
    assert set(results.loc[results["regime"] == "duplication", "multiplicity"]) == {0, 1, 4}
    assert results["t_star"].between(0, 1).all() and results["extract_prompted"].between(0, 1).all()
    oracle = results[(results["model"] == "oracle") & (results["split"] == "train")]
    assert (oracle["entropy"] < 0.1).all()  # the exact denoiser is certain of a stored sequence
    text = audit.summary(results)
    assert "rho(t*, extraction)" in text and "duplication diffusion" in text
    transition = tmp_path / "transition.parquet"
    tables.transition_table(datasets=("div4",), Ks=(4, 16, 64, 256)).assign(d_model=64).to_parquet(transition)
    k_cross = float(crossing_k(pd.read_parquet(transition))["K_cross"].mean())
    assert 64 < k_cross < 256  # the synthetic gap 1 - log2(K)/8 falls below 0.1 between them
    figs = audit.plot(results, {"config": {"transition_results": str(transition)}})
    for name, fig in figs.items():
        assert unexplained_artists(fig) == [], name  # every drawn line, band and point is named
    marks = [ln for ax in figs["audit_auc"].axes for ln in ax.lines if ln.get_label() == "transition crossing K"]
    assert len(marks) == 2 and all(ln.get_xdata()[0] == pytest.approx(k_cross) for ln in marks)
    kn = audit.key_numbers(results)
    assert kn[["auc_t_star", "auc_entropy", "auc_nelbo"]].stack().between(0, 1).all()
    again, _ = run_experiment("audit", out=tmp_path, overrides=overrides, progress=False, figures=False)
    history = json.loads((tmp_path / "audit" / "run.json").read_text())["history"]
    assert history[-1]["cells_computed"] == 0 and history[-1]["cells_reused"] == len(audit.cells(_config(overrides)))
    pd.testing.assert_frame_equal(again, results)


def _config(overrides):
    from experiments.overrides import apply_overrides

    return apply_overrides(audit.PRESETS["quick"], overrides)[0]

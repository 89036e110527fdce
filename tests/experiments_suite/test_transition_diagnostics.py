"""Transition: the optimised evaluation against the reference, the NELBO, fixed-point and entropy-t
diagnostics, the crossing K, and the sizes preset."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
import torch

import models
from experiments import transition as tr
from experiments.transition import diagnostics
from experiments.transition.sampling import Engine
from models.diffusion.schedule import beta
from tests.experiments_suite.test_transition import TINY as BASE_TINY

# the transition tests' tiny sweep, with the diagnostics at two times and 4 NELBO times
TINY = dataclasses.replace(BASE_TINY, entropy_ts=(0.05, 0.5), nelbo_times=4)


@pytest.fixture(scope="module")
def tiny_rows(tmp_path_factory):
    cfg = dataclasses.replace(TINY, checkpoint_root=str(tmp_path_factory.mktemp("ck")))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return pd.DataFrame([r for c in tr.cells(cfg) for r in tr.run_cell(c)]), cfg
    finally:
        torch.set_num_threads(previous)


def _drop_timing(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).drop(columns=["wall_s", "train_seconds", "loaded"])


@pytest.mark.parametrize("seed", [0, 1])
def test_optimised_evaluation_equals_the_reference(tmp_path, seed):
    # 300 queries: two full chunks of 128 and a partial one.  The chunked samplers draw the
    # same uniforms and the traced network gives the module's output bit for bit, so every
    # row is identical (the two Gumbel-max formulas could only disagree on a float64 tie).
    # Measured identical on 20 seeds of this cell and on the K = 128 quick cell.
    cfg = dataclasses.replace(
        TINY, Ks=(6,), n_eval=300, n_generate=40, seeds=(seed,), models=("diffusion", "oracle"), sampler="exact"
    )
    cell = tr.cells(dataclasses.replace(cfg, checkpoint_root=str(tmp_path)))[0]
    optimised = _drop_timing(tr.run_cell(cell))
    reference = _drop_timing(tr.run_cell(cell, chunk=None))
    pd.testing.assert_frame_equal(optimised, reference, check_exact=True)
    assert set(optimised["kind"]) >= {"recovery", "generation", "entropy", "nelbo", "fixed_point", "entropy_t"}


def test_diagnostic_rows_are_present_and_finite(tiny_rows):
    df, cfg = tiny_rows
    for _, sub in df.groupby("K"):
        nel = sub[sub["kind"] == "nelbo"].set_index("split")
        assert set(nel.index) == {"train", "test"} and (nel["model"] == "diffusion").all()
        assert nel[["nelbo", "nelbo_se", "ppl"]].notna().all().all()
        assert (nel["nelbo"] > 0).all() and (nel["nelbo"] < 10).all()
        assert ((nel["ppl"] - nel["nelbo"].map(math.exp)).abs() < 1e-12).all()
        fp = sub[sub["kind"] == "fixed_point"]
        assert len(fp) == 2 * 2  # diffusion and oracle x train / test
        assert fp[["frac_fixed", "frac_converged", "d_fixed", "frac_to_train"]].stack().between(0, 1).all()
        assert (fp["t"] == cfg.fixed_point_t).all()
        et = sub[sub["kind"] == "entropy_t"]
        assert len(et) == 2 * 3 * len(cfg.entropy_ts)  # models x train / test / generated x t
        assert set(et["t"]) == set(cfg.entropy_ts) and (et["entropy"] >= 0).all()
        # an entropy can never exceed log V nats per token
        assert (et["entropy"] <= math.log(cfg.V) + 1e-9).all()
    # the oracle stores its training set: every stored sequence is a fixed point (see below)
    oracle = df[(df["kind"] == "fixed_point") & (df["model"] == "oracle") & (df["split"] == "train")]
    assert (oracle["frac_fixed"] == 1.0).all()


@pytest.mark.parametrize(("K", "L", "V", "seed"), [(4, 8, 8, 0), (8, 8, 8, 1), (32, 12, 8, 2), (8, 16, 32, 3)])
def test_oracle_nelbo_on_its_stored_set_is_log_k_over_l(K, L, V, seed):
    # The oracle's reverse process is exact for the uniform distribution over its K sequences,
    # so the ELBO is tight: NELBO(xi_mu) = -log(1/K) per sequence = log(K) / L per token (up to
    # the prior term at alpha_1 = 1e-3 and the cut at t_min = 1e-3, both < 1e-3 here).  This
    # checks the estimator (stratified times, corruption, process.nelbo) against a closed form.
    # Measured over 12 (K, L, V, seed) settings: |mean - log K / L| <= 1.4 standard errors.
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, V, (K, L), generator=g)
    mem = models.make("oracle").fit(patterns, vocab_size=V)
    per_seq = diagnostics.nelbo_per_sequence(Engine(mem), patterns[torch.arange(256) % K], 8, g)
    se = float(per_seq.std() / math.sqrt(len(per_seq)))
    # 5 SE (the mean of 256 sequences is close to normal): failure rate < 1e-6 per setting, for any seed
    assert abs(float(per_seq.mean()) - math.log(K) / L) < 5 * se


def _oracle_fixed(patterns: torch.Tensor, V: int, t: float) -> float:
    mem = models.make("oracle").fit(patterns, vocab_size=V)
    rows = diagnostics.fixed_point_rows(Engine(mem), "oracle", {"train": patterns}, patterns, t)
    return rows[0]["frac_fixed"]


def _bound(patterns: torch.Tensor, V: int, t: float) -> torch.Tensor:
    """``S_mu / m_mu`` per stored pattern: sum over distinct others of exp(-beta d) over its multiplicity."""
    d = (patterns[:, None, :] != patterns[None, :, :]).sum(-1).double()  # (K, K) Hamming distances
    b = beta(t, V)
    return torch.where(d > 0, torch.exp(-b * d), 0.0).sum(-1) / (d == 0).sum(-1)


def test_stored_sequences_are_fixed_points_of_the_exact_denoiser_at_small_t():
    """Why the oracle keeps every training sequence.

    At ``x = xi_mu`` the full posterior is ``p(x_0^i = v | x) = sum_nu w_nu [xi_nu^i = v]`` with
    ``w_nu ∝ exp(beta(t) (L - d_mu_nu))``.  Every token other than ``xi_mu^i`` gets its mass from
    patterns with ``d_mu_nu >= 1``, so the MAP read-out returns ``xi_mu`` whenever
    ``S_mu = sum_{nu: d >= 1} exp(-beta d_mu_nu) < m_mu`` (``m_mu`` copies of ``xi_mu``); with
    ``d_min`` the smallest distance, ``(K - 1) exp(-beta d_min) < 1`` suffices.  At ``t = 0.05``
    and ``V = 32``, ``beta = log 609``: any ``K <= 609`` of distinct sequences qualifies.
    """
    data = tr.cells(dataclasses.replace(tr.PRESETS["quick"], Ks=(16,)))[0].data
    train = tr.make_patterns(data, 16).train
    assert (_bound(train, 32, 0.05) < 1).all()
    assert _oracle_fixed(train, 32, 0.05) == 1.0
    # Where the condition fails it can matter: xi = 0...0 and seven patterns that differ from it
    # at position 0 (token 1) and at one other position each.  At position 0 token 1 carries
    # 7 exp(-2 beta) times the weight of token 0: 1.95 at t = 0.9 (beta = 0.64, V = 8), so the
    # read-out moves xi; at t = 0.05 (beta = 5.0) it is 3e-4 and xi stays.
    others = torch.zeros(7, 8, dtype=torch.long)
    others[:, 0] = 1
    others[torch.arange(7), torch.arange(1, 8)] = 2
    patterns = torch.cat([torch.zeros(1, 8, dtype=torch.long), others])
    xi = patterns[:1]
    assert float(_bound(patterns, 8, 0.9)[0]) > 1 and float(_bound(patterns, 8, 0.05)[0]) < 1
    engine = Engine(models.make("oracle").fit(patterns, vocab_size=8))
    moved = diagnostics.fixed_point_rows(engine, "oracle", {"x": xi}, patterns, 0.9)[0]
    kept = diagnostics.fixed_point_rows(engine, "oracle", {"x": xi}, patterns, 0.05)[0]
    assert moved["frac_fixed"] == 0.0 and kept["frac_fixed"] == 1.0


def test_interpolate_crossing_on_log_k():
    ks = [4, 8, 16, 32, 64, 128, 256, 1024]
    gaps = [0.7, 0.7, 0.6, 0.4, 0.2, 0.05, 0.01, 0.0]
    k, censored = tr.interpolate_crossing(ks, gaps, 0.1)
    assert censored == "" and k == pytest.approx(64 * 2 ** (2 / 3))  # 2/3 of the way from 64 to 128 in log K
    assert tr.interpolate_crossing(ks, [0.05] * 8, 0.1) == (4.0, "left")
    k, censored = tr.interpolate_crossing(ks, [0.3] * 8, 0.1)
    assert math.isnan(k) and censored == "right"
    # the first crossing counts, not a later dip; NaN gaps are skipped
    assert tr.interpolate_crossing([1, 2, 4, 8], [0.3, 0.1, 0.05, 0.2], 0.1)[0] == pytest.approx(2.0)
    assert tr.interpolate_crossing([1, 2, 4], [0.3, math.nan, 0.0], 0.1)[0] == pytest.approx(4 ** (2 / 3))
    with pytest.raises(ValueError, match="increasing"):
        tr.interpolate_crossing([4, 2], [0.3, 0.0], 0.1)


def _synthetic(widths: dict, ks=(16, 32, 64, 128, 256)) -> pd.DataFrame:
    """Learned recovery rows at t = 0.1 (and distractors: t = 0.25, the oracle): gap = train - test per K."""
    rows = []
    for (d_model, seed), gaps in widths.items():
        for K, gap in zip(ks, gaps, strict=True):
            for t, extra in ((0.1, 0.0), (0.25, 0.5)):
                base = {"dataset": "div4", "kind": "recovery", "model": "diffusion", "d_model": d_model, "seed": seed}
                rows.append({**base, "K": K, "t": t, "split": "train", "recovery": gap + extra})
                rows.append({**base, "K": K, "t": t, "split": "test", "recovery": 0.0})
            rows.append({**base, "K": K, "t": 0.1, "split": "train", "recovery": 1.0, "model": "oracle"})
    return pd.DataFrame(rows)


def test_crossing_k_per_width_and_seed_and_its_summary():
    table = _synthetic(
        {
            (32, 0): [0.5, 0.1, 0.05, 0.0, 0.0],  # 0.1 at K = 32 is not below 0.1: the crossing is K = 32
            (32, 1): [0.5, 0.3, 0.05, 0.0, 0.0],  # between 32 and 64
            (128, 0): [0.5, 0.5, 0.4, 0.2, 0.0],  # between 128 and 256
            (128, 1): [0.5, 0.5, 0.5, 0.5, 0.5],  # never: right-censored
        }
    )
    cross = tr.crossing_k(table).set_index(["d_model", "seed"])
    assert cross.loc[(32, 0), "K_cross"] == pytest.approx(32.0)
    assert cross.loc[(32, 1), "K_cross"] == pytest.approx(32 * 2 ** (0.2 / 0.25))
    assert cross.loc[(128, 0), "K_cross"] == pytest.approx(128 * 2**0.5)
    assert math.isnan(cross.loc[(128, 1), "K_cross"]) and cross.loc[(128, 1), "censored"] == "right"
    lines = tr.crossing_summary(table)
    assert len(lines) == 2
    values = [32.0, 32 * 2**0.8]
    mean, sd = sum(values) / 2, math.sqrt(sum((v - sum(values) / 2) ** 2 for v in values))
    assert "d_model=32: " in lines[0] and f"{mean:.0f} ± {sd:.0f} over 2 of 2 seeds" in lines[0]
    assert "d_model=128" in lines[1] and "over 1 of 2 seeds; 1 right-censored" in lines[1]
    assert tr.crossing_k(table[table["t"] == 0.25]).empty


def test_nelbo_peak_is_interior_only_inside_the_k_range():
    def table(curve):
        return pd.DataFrame(
            [
                {"kind": "nelbo", "split": "test", "dataset": "div4", "d_model": 64, "K": k, "seed": 0, "nelbo": v}
                for k, v in curve.items()
            ]
        )

    falling = tr.nelbo_peak(table({4: 7.0, 32: 3.0, 128: 1.2}))
    assert falling["K_peak"].iloc[0] == 4 and not falling["interior"].iloc[0]
    humped = tr.nelbo_peak(table({4: 1.0, 32: 3.0, 128: 1.2}))
    assert humped["K_peak"].iloc[0] == 32 and humped["interior"].iloc[0]


def test_sizes_preset_sweeps_widths_with_their_own_networks():
    config = tr.PRESETS["sizes"]
    cells = tr.cells(config)
    assert len(cells) == len(config.Ks) * len(config.d_models) * len(config.seeds) == 24
    assert {c.net.d_model for c in cells} == {32, 64}
    assert len({tr.checkpoint_key(c) for c in cells}) == 24
    # the d_model = 64 cells are the quick preset's: same networks, same checkpoint keys
    quick = {tr.checkpoint_key(c) for c in tr.cells(dataclasses.replace(tr.PRESETS["quick"], seeds=config.seeds))}
    sizes64 = {tr.checkpoint_key(c) for c in cells if c.net.d_model == 64}
    assert sizes64 <= quick and len(sizes64) == 4 * len(config.seeds)
    with pytest.raises(ValueError, match="multiples of n_heads"):
        tr.cells(dataclasses.replace(TINY, d_models=(16, 15)))
    with pytest.raises(ValueError, match="fixed_point_t"):
        tr.cells(dataclasses.replace(TINY, fixed_point_t=0.0))


def test_key_numbers_summary_and_figures_carry_the_diagnostics(tiny_rows):
    import matplotlib.pyplot as plt

    from experiments.figures import set_style

    df, cfg = tiny_rows
    table = tr.key_numbers(df)
    assert {"nelbo_train", "nelbo_test", "ppl_test", "fixed_train", "fixed_test"} <= set(table.columns)
    assert table.index.names == ["dataset", "K", "model"]
    peak = tr.nelbo_peak(df)
    assert len(peak) == 1 and peak["K_peak"].iloc[0] in cfg.Ks
    interior = peak["interior"].iloc[0]
    assert interior == (min(cfg.Ks) < peak["K_peak"].iloc[0] < max(cfg.Ks))
    text = tr.summary(df)
    assert ("held-out NELBO peaks at K =" if interior else "no interior peak") in text and "crossing K" in text
    set_style()
    figs = tr.plot(df, {})
    assert {"transition_nelbo", "transition_fixed_points", "transition_entropy_t", "transition_crossing"} <= set(figs)
    for fig in figs.values():
        plt.close(fig)
    # two widths: one set of figures per width, key numbers indexed by width too
    two = pd.concat([df, df.assign(d_model=32)])
    assert tr.key_numbers(two).index.names == ["dataset", "d_model", "K", "model"]
    assert "acceptance signatures: (d_model=32)" in tr.summary(two)
    figs2 = tr.plot(two, {})
    assert {"transition_recovery_d16", "transition_recovery_d32", "transition_crossing"} <= set(figs2)
    for fig in figs2.values():
        plt.close(fig)

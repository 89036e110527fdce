"""Verdicts over seeds (experiments/transition/signatures.py) and the per-seed acceptance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments import transition as tr
from experiments.transition.signatures import SE_MARGIN, signature_table, verdicts


def _per_seed(values, op=">=", threshold=0.5, check="c"):
    return pd.DataFrame(
        {
            "check": check,
            "seed": range(len(values)),
            "value": values,
            "op": op,
            "threshold": threshold,
            "role": "signature",
        }
    )


def test_a_mean_passes_only_with_two_standard_errors_of_margin():
    # mean 0.6, sd 0.082 over 4 seeds: standard error 0.041, bound 0.6 - 2 * 0.041 = 0.518
    v = [0.5, 0.6, 0.6, 0.7]
    se = np.std(v, ddof=1) / 2
    row = verdicts(_per_seed(v, ">=", 0.5 - 1e-9)).iloc[0]
    assert row["passed"] and math.isclose(row["bound"], 0.6 - SE_MARGIN * se)
    assert not verdicts(_per_seed(v, ">=", 0.53)).iloc[0]["passed"]  # the mean passes, the margin does not
    assert (row["min"], row["max"], row["n_seeds"]) == (0.5, 0.7, 4)
    low = verdicts(_per_seed([0.01, 0.03, 0.02], "<=", 0.07)).iloc[0]
    assert low["passed"] and low["bound"] == pytest.approx(0.02 + 2 * 0.01 / math.sqrt(3))
    assert not verdicts(_per_seed([0.01, 0.09, 0.05], "<=", 0.07)).iloc[0]["passed"]


def test_equality_must_hold_on_every_seed_and_one_seed_is_its_value():
    assert verdicts(_per_seed([0.0, 0.0, 0.0], "==", 0)).iloc[0]["passed"]
    assert not verdicts(_per_seed([0.0, 0.01, 0.0], "==", 0)).iloc[0]["passed"]
    one = verdicts(_per_seed([0.55], ">=", 0.5)).iloc[0]
    assert one["passed"] and math.isnan(one["sd"]) and one["bound"] == 0.55
    with pytest.raises(ValueError, match="unknown comparison"):
        verdicts(_per_seed([1.0], ">", 0.5))


GEN = dict(memorised=0.0, spurious=0.0, generalised=1.0, rule_valid=1.0, rule_fraction=1.0)


def _replicates(gaps_128, gap_32=0.4):
    """A results table of several seeds: learned and oracle recovery at K = 4, 32, 128, 256."""
    rows = []
    for seed, gap in enumerate(gaps_128):
        for K, g in ((4, 0.7), (32, gap_32), (128, gap), (256, 0.01)):
            for t in (0.1, 0.25, 0.5):
                for split, v in (("train", 0.99), ("test", 0.99 - g)):
                    rows.append(
                        dict(
                            dataset="div4",
                            seed=seed,
                            kind="recovery",
                            model="diffusion",
                            K=K,
                            split=split,
                            t=t,
                            recovery=v,
                        )
                    )
                    rows.append(
                        dict(
                            dataset="div4",
                            seed=seed,
                            kind="recovery",
                            model="oracle",
                            K=K,
                            split=split,
                            t=t,
                            recovery=1.0 if split == "train" else 0.25,
                        )
                    )
            for split, h in (("train", 0.05 if K == 4 else 0.6), ("test", 0.6)):
                rows.append(
                    dict(dataset="div4", seed=seed, kind="entropy", model="diffusion", K=K, split=split, entropy=h)
                )
            rows.append(
                dict(
                    dataset="div4",
                    seed=seed,
                    kind="generation",
                    model="diffusion",
                    K=K,
                    copy=1.0 if K == 4 else 0.0,
                    **GEN,
                )
            )
    return pd.DataFrame(rows)


def test_acceptance_judges_each_check_over_seeds(monkeypatch):
    checks = tr.acceptance(_replicates([0.05, 0.08, 0.06])).set_index("check")
    assert (checks["n_seeds"] == 3).all()
    # the K = 128 gap: one seed above 0.07, the mean (0.063, sd 0.015) not within two standard errors
    assert not checks.loc["K=128: |train - test| learned recovery, t=0.1", "passed"]
    assert checks.loc["K=256: |train - test| learned recovery, t=0.1", "passed"]
    # gaps below GAP_FROM_K are reported beside the verdicts, not judged
    import importlib

    acc = importlib.import_module("experiments.transition.acceptance")

    monkeypatch.setattr(acc, "GAP_FROM_K", 256)
    checks = tr.acceptance(_replicates([0.05, 0.08, 0.06])).set_index("check")
    assert checks.loc["K=128: |train - test| learned recovery, t=0.1", "role"] == "reported"
    assert checks.loc["K=256: |train - test| learned recovery, t=0.1", "role"] == "signature"
    ratio = checks.loc["K=128: train - test gap over the gap at K=32, t=0.1"]
    assert ratio["value"] == pytest.approx(np.mean([0.05, 0.08, 0.06]) / 0.4) and ratio["passed"]
    signatures = checks[checks["role"] == "signature"]
    assert signatures["passed"].all(), signatures
    failing = tr.acceptance(_replicates([0.05, 0.25, 0.3])).set_index("check")
    assert not failing.loc["K=128: train - test gap over the gap at K=32, t=0.1", "passed"]
    table = _replicates([0.05, 0.08, 0.06])
    assert "over 3 seeds" in tr.summary(table.assign(d_model=64, frac_exact=table["recovery"]))


def test_signature_table_gives_mean_sd_min_max_per_quantity_and_k():
    table = signature_table(_replicates([0.05, 0.08, 0.06]))
    row = table.loc[("gap_0.1", 128)]
    assert row["mean"] == pytest.approx(np.mean([0.05, 0.08, 0.06]))
    assert row["sd"] == pytest.approx(np.std([0.05, 0.08, 0.06], ddof=1))
    assert (row["min"], row["max"], row["n_seeds"]) == (pytest.approx(0.05), pytest.approx(0.08), 3)
    assert {"rec_train_0.1", "H_ratio", "copy", "vs_oracle_0.1", "oracle_train_min"} <= set(
        table.index.get_level_values(0)
    )


def test_the_k128_absolute_gap_is_reported_not_judged_on_fewer_than_three_seeds():
    # One seed whose K = 128 gap (0.09) is above the bar: on one or two seeds the check is shown
    # for comparison ("reported", an info row in the report), from three seeds it is judged.
    from experiments.report import _verdicts

    gap = "K=128: |train - test| learned recovery, t=0.1"
    for gaps, role in [([0.09], "reported"), ([0.09, 0.05], "reported"), ([0.09, 0.05, 0.06], "signature")]:
        checks = tr.acceptance(_replicates(gaps)).set_index("check")
        assert checks.loc[gap, "role"] == role, gaps
    one = tr.acceptance(_replicates([0.09]))
    assert not one.set_index("check").loc[gap, "passed"]  # the value is still compared, and shown
    table, badge = _verdicts(one)
    judged = one[one["role"] != "reported"]
    assert f"{int(judged['passed'].sum())} / {len(judged)} checks pass, 2 reported" in badge
    assert table.count('<tr class="info">') == 2 and "[info] " + gap in tr.summary(
        _replicates([0.09]).assign(d_model=64, frac_exact=_replicates([0.09])["recovery"])
    )

"""Transition experiment: cells and checkpoint keys, data and rule scores, the divergence, one tiny
cell end to end (rows, checkpoint reuse), acceptance logic, figures, the CLI path, and (slow) the
acceptance signatures (docs/theory.md §7.4) on the quick preset."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from experiments import transition as tr

TINY = tr.Config(
    Ks=(2, 6),
    N=8,
    V=8,
    train_steps=20,
    batch_size=16,
    d_model=16,
    n_heads=2,
    n_layers=1,
    ts=(0.1, 0.5),
    n_eval=6,
    n_generate=6,
)


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    root = tmp_path_factory.mktemp("transition")
    cfg = dataclasses.replace(TINY, checkpoint_root=str(root / "ck"))
    # A module fixture is set up before conftest's per-test one-thread fixture: one thread
    # here too, as the runner gives every cell (tiny models are slower with more).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = [r for c in tr.cells(cfg) for r in tr.run_cell(c)]
    finally:
        torch.set_num_threads(previous)
    return pd.DataFrame(rows), cfg


def test_cells_are_nested_in_k_and_checkpoint_keys_ignore_evaluation(tmp_path):
    cells = tr.cells(dataclasses.replace(TINY, Ks=(8, 2, 4), seeds=(0, 1)), out=tmp_path)
    assert [c.K for c in cells] == [2, 2, 4, 4, 8, 8]
    assert len({c.data for c in cells}) == 2  # one pool and one test set per seed, the same for every K
    assert len({c.data for c in cells if c.seed == 0}) == 1
    assert cells[0].checkpoint_root == str(tmp_path / "transition" / "checkpoints")
    assert tr.cells(TINY)[0].checkpoint_root == str(Path("results") / "transition" / "checkpoints")
    c = cells[0]
    other_eval = dataclasses.replace(c, evaluation=dataclasses.replace(c.evaluation, dt=0.05), models=("oracle",))
    assert tr.checkpoint_key(other_eval) == tr.checkpoint_key(c)
    # a larger test set (n_eval) leaves the training rows, hence the network, unchanged
    more_queries = tr.cells(dataclasses.replace(TINY, Ks=(8, 2, 4), seeds=(0, 1), n_eval=60), out=tmp_path)[0]
    assert more_queries.data != c.data and tr.checkpoint_key(more_queries) == tr.checkpoint_key(c)
    assert tr.checkpoint_key(cells[1]) != tr.checkpoint_key(c)  # seed
    assert tr.checkpoint_key(cells[2]) != tr.checkpoint_key(c)  # K
    more_steps = dataclasses.replace(c, net=dataclasses.replace(c.net, train_steps=21))
    assert tr.checkpoint_key(more_steps) != tr.checkpoint_key(c)
    assert tr.checkpoint_key(c).startswith("div4-K2-s0-")


@pytest.mark.parametrize(
    ("change", "match"),
    [({"datasets": ("lm1b",)}, "dataset"), ({"models": ("modern",)}, "model"), ({"Ks": ()}, "Ks")],
)
def test_bad_config_raises_value_error(change, match):
    with pytest.raises(ValueError, match=match):
        tr.cells(dataclasses.replace(TINY, **change))


@pytest.mark.parametrize("name", tr.DATASETS)
def test_training_sets_are_prefixes_with_a_fixed_test_set(name):
    data = tr.cells(dataclasses.replace(TINY, datasets=(name,), N=16))[0].data
    small, large = tr.make_patterns(data, 4), tr.make_patterns(data, 12)
    assert torch.equal(small.train, large.train[:4])
    assert torch.equal(small.test, large.test) and small.n_test == TINY.n_eval
    # the training rows do not depend on the test-set size (checkpoint keys rely on it)
    more_test = tr.make_patterns(dataclasses.replace(data, n_test=data.n_test + 5), 12)
    assert torch.equal(more_test.train, large.train) and more_test.n_test == TINY.n_eval + 5
    # held-out sequences are not training sequences
    assert not (large.test[:, None, :] == large.train[None, :, :]).all(-1).any()
    frac, valid = tr.rule_scores(large.train, large)
    if name == "text":
        # every complete word of a corpus sentence is a corpus word
        assert valid.mean() > 0.9 and math.isclose(float(pd.Series(frac).mean()), 1.0)
    else:
        assert valid.all() and (frac == 1.0).all()
    noise = torch.randint(0, large.vocab_size, (32, large.length), generator=torch.Generator().manual_seed(0))
    assert tr.rule_scores(noise, large)[1].mean() < 0.2


@pytest.mark.parametrize("preset", sorted(tr.PRESETS))
def test_every_preset_has_data_for_its_largest_k(preset):
    # The text pool must hold the largest K plus the n_eval test sentences; cells() checks
    # that before any training.  The presets are sized for the Lee corpus (text extra).
    config = tr.PRESETS[preset]
    if "text" in config.datasets and importlib.util.find_spec("gensim") is None:
        pytest.skip("the text presets need the Lee corpus (gensim)")
    widths = len(config.d_models) or 1
    assert len(tr.cells(config)) == len(config.datasets) * widths * len(config.Ks) * len(config.seeds)


def test_a_text_pool_too_small_for_the_largest_k_fails_before_training():
    config = dataclasses.replace(TINY, datasets=("text",), Ks=(2, 10_000), N=16)
    with pytest.raises(ValueError, match="K \\+ n_test must be at most"):
        tr.cells(config)


def test_divergence_is_zero_on_itself_and_ignores_zero_mass():
    p = torch.tensor([[[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    q = torch.tensor([[[0.25, 0.25, 0.5], [0.5, 0.25, 0.25]]], dtype=torch.float64)
    assert tr.divergence(p.log(), p.log()) == (0.0, 0.0)
    kl, tv = tr.divergence(p.log(), q.log())
    assert kl == pytest.approx((math.log(2) + math.log(2)) / 2)  # per position: log 2 and log 2
    assert tv == pytest.approx((0.5 + 0.5) / 2)


def test_tiny_cell_rows_are_tidy(tiny_table):
    df, cfg = tiny_table
    for _, sub in df.groupby("K"):
        assert sub["pattern_hash"].nunique() == 1
        kinds = sub["kind"].value_counts()
        assert kinds["training"] == 1
        assert kinds["recovery"] == len(tr.MODEL_CHOICES) * 2 * len(cfg.ts)
        assert kinds["generation"] == len(tr.MODEL_CHOICES)
        assert kinds["entropy"] == 2 * 3  # diffusion and oracle x train / test / generated
        assert kinds["divergence"] == 2
    assert df["pattern_hash"].nunique() == 2  # one pattern set per K
    gen = df[df["kind"] == "generation"]
    assert (gen[["memorised", "spurious", "generalised"]].sum(axis=1).round(12) == 1.0).all()
    rec = df[df["kind"] == "recovery"]
    assert rec["recovery"].between(0, 1).all() and (rec["n"] == cfg.n_eval).all()
    # the oracle stores every training sequence: near-perfect recovery from light corruption
    oracle = rec[(rec["model"] == "oracle") & (rec["split"] == "train") & (rec["t"] == 0.1)]
    assert (oracle["recovery"] >= 0.9).all()
    ent = df[(df["kind"] == "entropy") & (df["model"] == "oracle") & (df["split"] == "train")]
    assert (ent["entropy"] < 1e-3).all()  # at t = 1e-5 the rest of a stored sequence pins each token
    div = df[df["kind"] == "divergence"]
    assert (div["kl"] >= 0).all() and div["tv"].between(0, 1).all()


def test_rerun_with_other_evaluation_loads_the_checkpoint(tiny_table):
    df, cfg = tiny_table
    assert not df.loc[df["kind"] == "training", "loaded"].any()
    again = dataclasses.replace(cfg, Ks=(2,), ts=(0.25,), models=("diffusion",))
    rows = pd.DataFrame(tr.run_cell(tr.cells(again)[0]))
    assert rows.loc[rows["kind"] == "training", "loaded"].all()
    before = df[(df["kind"] == "training") & (df["K"] == 2)]["loss"].iloc[0]
    assert rows.loc[rows["kind"] == "training", "loss"].iloc[0] == before
    core = rows[rows["kind"].isin(["recovery", "generation", "entropy"])]
    assert set(core["t"].dropna()) == {0.25, 1.0, 1e-5}


def test_key_numbers_summary_and_figures(tiny_table):
    import matplotlib.pyplot as plt

    from experiments.figures import set_style

    df, cfg = tiny_table
    table = tr.key_numbers(df)
    assert {"rec_train_0.1", "rec_test_0.5", "H_generated", "memorised", "kl_test"} <= set(table.columns)
    assert len(table) == len(cfg.Ks) * len(tr.MODEL_CHOICES)
    text = tr.summary(df)
    assert "acceptance signatures" in text and "K=    2 oracle" in text
    set_style()
    figs = tr.plot(df, {})
    assert set(figs) == set(tr.FIGURES)
    for fig in figs.values():
        assert fig.axes
        plt.close(fig)


def _table(
    learned_small,
    learned_large,
    oracle_test,
    copies_small=0.95,
    copies_large=0.0,
    h_train=0.05,
    oracle=1.0,
    h_test_large=0.62,
):
    """A hand-made results table for the acceptance logic: K = 4 and 128, t = 0.1 / 0.25 / 0.5."""
    rows = []
    for K, (tr_rec, te_rec), copies in ((4, learned_small, copies_small), (128, learned_large, copies_large)):
        for t in (0.1, 0.25, 0.5):
            for split, v in (("train", tr_rec), ("test", te_rec)):
                rows.append({"dataset": "div4", "kind": "recovery", "model": "diffusion", "K": K, "split": split})
                rows[-1].update(t=t, recovery=v)
                o = oracle if split == "train" else oracle_test
                rows.append({"dataset": "div4", "kind": "recovery", "model": "oracle", "K": K, "split": split})
                rows[-1].update(t=t, recovery=o)
        rows.append({"dataset": "div4", "kind": "entropy", "model": "diffusion", "K": K, "split": "train"})
        rows[-1].update(entropy=h_train if K == 4 else 0.6)
        rows.append({"dataset": "div4", "kind": "entropy", "model": "diffusion", "K": K, "split": "test"})
        rows[-1].update(entropy=0.5 if K == 4 else h_test_large)
        rows.append({"dataset": "div4", "kind": "generation", "model": "diffusion", "K": K, "copy": copies})
    return pd.DataFrame(rows)


def test_acceptance_logic_passes_and_fails_on_hand_made_tables():
    ok = tr.acceptance(_table((1.0, 0.3), (0.7, 0.66), 0.25))
    assert ok["passed"].all(), ok
    # small K: 3 + floor, K = 128: gap at two t + copies + margin + entropy ratio, oracle: 1
    assert len(ok) == 4 + 5 + 1
    bad = tr.acceptance(_table((0.9, 0.3), (0.8, 0.6), 0.55, 0.5, 0.01, 0.3, 0.9, 0.7)).set_index("check")
    assert not bad.drop(index="K=4: learned - oracle test recovery, max over t")["passed"].any(), bad
    # learned test recovery above the oracle's floor at small K already means generalising
    floor = tr.acceptance(_table((1.0, 0.45), (0.7, 0.66), 0.25)).set_index("check")["passed"]
    assert (
        not floor["K=4: learned - oracle test recovery, max over t"]
        and floor.drop(index="K=4: learned - oracle test recovery, max over t").all()
    )


def test_cli_run_writes_table_provenance_and_figures(tmp_path, monkeypatch):
    from experiments.cli import run_experiment

    tiny = dataclasses.replace(TINY, Ks=(3,), checkpoint_root=str(tmp_path / "ck"))
    monkeypatch.setitem(tr.PRESETS, "quick", tiny)
    results, paths = run_experiment("transition", preset="quick", out=tmp_path, progress=False)
    root = tmp_path / "transition"
    assert (root / "results.parquet").exists()
    info = json.loads((root / "run.json").read_text())
    assert info["config"]["Ks"] == [3] and info["pattern_set_hashes"] == [results["pattern_hash"].iloc[0]]
    assert any((tmp_path / "ck").iterdir())  # the trained network is kept
    names = {p.name for p in paths}
    assert {"transition_recovery.png", "transition_generations.pdf"} <= names


# -- the acceptance signatures (docs/theory.md §7.4) on the quick preset ---------------------------------


def _quick_results(config: tr.Config) -> pd.DataFrame | None:
    """Results of an earlier run of ``config``, if one is found.

    Looked for under ``$TRANSITION_RESULTS`` (an ``--out`` directory) and ``results/``.
    """
    quick = json.loads(json.dumps(dataclasses.asdict(config)))
    quick.pop("checkpoint_root")
    for root in (os.environ.get("TRANSITION_RESULTS"), "results"):
        if not root:
            continue
        run = Path(root) / tr.NAME / "run.json"
        if not run.exists():
            continue
        config = dict(json.loads(run.read_text()).get("config") or {})
        config.pop("preset", None)
        config.pop("overrides", None)
        config.pop("checkpoint_root", None)
        if config == quick:
            return pd.read_parquet(Path(root) / tr.NAME / "results.parquet")
    return None


@pytest.fixture(scope="module")
def quick_checks(tmp_path_factory, seed):
    """Acceptance checks of the quick preset at the run's seed: from earlier results when found, else a fresh run."""
    config = dataclasses.replace(tr.PRESETS["quick"], seeds=(seed(0),))
    results = _quick_results(config)
    if results is None:
        from experiments.cli import run_experiment

        out = tmp_path_factory.mktemp("quick")
        results, _ = run_experiment(
            "transition",
            preset="quick",
            seeds=list(config.seeds),
            out=out,
            backend="joblib",
            jobs=2,
            progress=False,
            figures=False,
        )
    return tr.acceptance(results, "div4")


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_quick_preset_shows_the_memorisation_to_generalisation_transition(quick_checks):
    """The acceptance signatures (docs/theory.md §7.4) on one seed of the quick preset (div4, V = L = 32).

    At the smallest K the learned model memorises (train recovery >= 0.97 at every t, train
    entropy <= 0.15 nats, >= 90 % of generations copy a training sequence, held-out recovery at
    the oracle's floor up to K = 8); from K = 128 it generalises (no copied generation, held-out
    recovery at t = 0.1 at least 0.1 above the oracle's, H_train / H_test >= 0.9, the K = 128
    train - test gap less than half the gap at K = 32, and the gap at most 0.07 from K = 256);
    the oracle keeps train recovery >= 0.94 at t <= 0.25 for every K.

    Every asserted check passes on each of the five seeds of docs/transition.md with room
    (worst seed against its bar: K = 1024 gap at t = 0.1 0.033 against 0.07, 2.6 across-seed
    sds away; H_train / H_test at K = 128 0.924 against 0.9, 3 sds; gap ratio 0.153 against 0.5;
    no copied generation from K = 128 on any seed; the rest further).  Left out: the absolute
    K = 128 gap, whose single-seed values straddle its bar (0.035-0.073 at t = 0.1 over the
    five seeds; the mean passes, judged by ``acceptance``
    over seeds in docs/transition.md).
    """
    checks = quick_checks.set_index("check")
    seed_sensitive = [c for c in checks.index if c.startswith("K=128: |train - test|")]
    assert len(seed_sensitive) == 2
    assert (checks.loc[seed_sensitive, "role"] == "reported").all()  # one seed: reported, not judged
    asserted = checks.drop(index=seed_sensitive)
    assert len(asserted) == 3 + 2 + 4 + 1 + 3 * 3 + 1  # K = 4; floor at K = 4, 8; gaps; ratio; K >= 128; oracle
    assert (asserted["role"] == "signature").all()
    assert asserted["passed"].all(), "\n" + asserted.to_string()

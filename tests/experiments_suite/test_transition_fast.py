"""Transition: the ``fast`` sampler (fused network, one uniform per token) against the exact one.

The fast draws come from other random numbers, so its tables equal the exact sampler's only up
to sampling noise; what is deterministic (the network's probabilities, entropies of clean
sequences, NELBO, divergence, fixed points) is checked exactly or to rounding.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
import torch

from experiments import transition as tr
from experiments.transition.fused import FusedDenoiser
from experiments.transition.sampling import _draw_inverse_cdf
from models.diffusion.denoiser import Denoiser, DenoiserConfig
from models.diffusion.process import posterior
from tests.experiments_suite.test_transition import TINY


def _network(seed: int) -> Denoiser:
    """A denoiser whose every weight is drawn (std 0.1), so that no block is the identity."""
    net = Denoiser(DenoiserConfig(vocab_size=8, length=12, d_model=32, n_heads=4, n_layers=2))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return net.eval()


@pytest.mark.parametrize("bf16", [False, True])
def test_fused_network_computes_the_module(seed, bf16):
    net = _network(seed(0))
    g = torch.Generator().manual_seed(seed(1))
    x = torch.randint(0, 8, (64, 12), generator=g)
    s = torch.rand(64, generator=g) * 5
    with torch.no_grad():
        want = net(x, s).exp()
        got = FusedDenoiser(net, bf16=bf16)(x, s)
    assert got.shape == want.shape and got.dtype == torch.float32
    assert torch.allclose(got.sum(-1), torch.ones(64, 12), atol=1e-5)
    # Largest probability difference over 20 seeds of this setting: float32 (the same arithmetic
    # in another order) 1.8e-7; bfloat16 matmuls (8-bit mantissa) 0.0021 on average, 0.0032 at
    # most (0.012 on a trained quick-preset network).  Bars: 1e-5 and 0.02.
    tol = 0.02 if bf16 else 1e-5
    assert (got - want).abs().max() < tol


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_inverse_cdf_draw_follows_the_posterior(seed, dtype):
    # 200 000 draws per (position, token) cell of a fixed plug-in posterior: each frequency is
    # within 6 binomial standard deviations of q (probability of a false alarm < 1e-8 per cell,
    # so < 1e-6 over the 64 cells)
    V, L, n = 8, 8, 200_000
    g = torch.Generator().manual_seed(seed(2))
    pi = torch.softmax(torch.randn(1, L, V, generator=g, dtype=torch.float64) * 2, -1)
    x = torch.randint(0, V, (1, L), generator=g)
    t, s = 0.6, 0.4
    q = posterior(x, pi, s, t, V)[0]  # (L, V)
    draws = _draw_inverse_cdf(x.expand(n, L), pi.to(dtype).expand(n, L, V).clone(), s, t, g)
    freq = torch.nn.functional.one_hot(draws, V).double().mean(0)
    sd = (q * (1 - q) / n).sqrt()
    assert ((freq - q).abs() <= 6 * sd + 1e-12).all(), (freq - q).abs().max()


@pytest.fixture(scope="module")
def both(tmp_path_factory, seed):
    """The rows of one tiny cell under each sampler (same network, same queries)."""
    cfg = dataclasses.replace(TINY, Ks=(6,), n_eval=400, n_generate=64, seeds=(seed(3),))
    cfg = dataclasses.replace(cfg, checkpoint_root=str(tmp_path_factory.mktemp("ck")))
    out = {}
    for sampler in ("exact", "fast"):
        cell = tr.cells(dataclasses.replace(cfg, sampler=sampler))[0]
        out[sampler] = pd.DataFrame(tr.run_cell(cell)).drop(columns=["wall_s", "train_seconds", "loaded"])
    return out


def test_fast_sampler_agrees_with_the_exact_one_up_to_sampling_noise(both):
    exact, fast = both["exact"], both["fast"]
    key = ["kind", "model", "split", "t"]
    rec = exact[exact["kind"] == "recovery"].merge(fast[fast["kind"] == "recovery"], on=key, suffixes=("_e", "_f"))
    rec = rec[rec["model"] != "classical"]
    assert len(rec) == 2 * 2 * len(TINY.ts)
    assert set(fast.loc[fast["kind"] == "recovery", "sampler"].dropna()) <= {
        "fast (float32)",
        "fast (bfloat16)",
        "fast (float64)",
    }
    # two independent estimates of the same mean over n queries: their difference has sd
    # sqrt(2) * std / sqrt(n); 5 of those (two-sided 6e-7) for each of the 12 rows (passed at
    # seed offsets 0-20)
    se = (rec["recovery_std_e"] ** 2 + rec["recovery_std_f"] ** 2).pow(0.5) / rec["n_e"].pow(0.5)
    assert ((rec["recovery_e"] - rec["recovery_f"]).abs() <= 5 * se + 1e-9).all(), rec[
        ["model", "split", "t", "recovery_e", "recovery_f"]
    ]


def test_fast_sampler_leaves_the_deterministic_rows_unchanged(both):
    # the entropy of clean sequences, the NELBO, the divergence and the fixed points use the
    # exact network: equal number for number
    exact, fast = both["exact"], both["fast"]
    for kind, split in [("entropy", "train"), ("entropy", "test"), ("nelbo", None), ("divergence", None)]:
        pick = (exact["kind"] == kind) & ((exact["split"] == split) if split else True)
        pick_f = (fast["kind"] == kind) & ((fast["split"] == split) if split else True)
        a = exact[pick].dropna(axis=1, how="all").reset_index(drop=True)
        b = fast[pick_f].dropna(axis=1, how="all").reset_index(drop=True)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    fp_e = exact[exact["kind"] == "fixed_point"]["frac_fixed"].to_numpy()
    fp_f = fast[fast["kind"] == "fixed_point"]["frac_fixed"].to_numpy()
    assert len(fp_e) and (fp_e == fp_f).all()
    assert not math.isnan(float(fast.loc[fast["kind"] == "generation", "copy"].iloc[0]))

"""The transformer denoiser: uniform start, shapes, seeded init, CPU/CUDA agreement."""

from __future__ import annotations

import math

import pytest
import torch

from models.diffusion.denoiser import Denoiser, DenoiserConfig, timestep_embedding
from models.diffusion.process import corrupt, nelbo
from models.diffusion.schedule import sigma

CFG = DenoiserConfig(vocab_size=6, length=8, d_model=32, n_layers=2, n_heads=4)


def _batch(B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, CFG.vocab_size, (B, CFG.length), generator=g), torch.rand(B, generator=g)


def test_initial_output_is_exactly_uniform_log_probabilities(seed):
    x, t = _batch(seed=seed(0))
    out = Denoiser(CFG)(x, sigma(t))
    assert out.shape == (5, 8, 6) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, -math.log(6)), atol=1e-6, rtol=0)


def test_seeded_init_leaves_the_global_rng_alone(seed):
    state = torch.get_rng_state()
    a = Denoiser(CFG, generator=torch.Generator().manual_seed(seed(3)))
    b = Denoiser(CFG, generator=torch.Generator().manual_seed(seed(3)))
    c = Denoiser(CFG, generator=torch.Generator().manual_seed(seed(4)))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.pos_emb, c.pos_emb)


def test_one_step_moves_the_output_and_depends_on_time_and_every_position(seed):
    model = Denoiser(CFG, generator=torch.Generator().manual_seed(seed(0)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    x0, t = _batch(32, seed=seed(1))
    for _ in range(3):
        x_t = corrupt(x0, t, CFG.vocab_size, generator=torch.Generator().manual_seed(seed(2)))
        loss = nelbo(model(x_t, sigma(t)), x0, x_t, t).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is not None for p in model.parameters())
    x, _ = _batch(2, seed=seed(3))
    with torch.no_grad():
        a = model(x, sigma(torch.tensor([0.1, 0.1])))
        b = model(x, sigma(torch.tensor([0.9, 0.9])))
        y = x.clone()
        y[:, 0] = (y[:, 0] + 1) % CFG.vocab_size
        c = model(y, sigma(torch.tensor([0.1, 0.1])))
    # Over offsets 0-39: min 3.4e-4 (mean 3.6e-3) and min 1.4e-3 (mean 5.7e-3); float32 noise is ~1e-7.
    assert (a - b).abs().max() > 1e-4  # time conditioning reaches the output
    assert (a[:, 1:] - c[:, 1:]).abs().max() > 1e-5  # attention is bidirectional: position 0 informs the rest


def test_timestep_embedding_and_config_errors():
    e = timestep_embedding(torch.tensor([0.0, 1.0]), 16)
    assert e.shape == (2, 16) and torch.equal(e[0, :8], torch.ones(8))
    with pytest.raises(ValueError, match="divisible"):
        DenoiserConfig(vocab_size=4, length=4, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="d_model"):
        DenoiserConfig(vocab_size=4, length=4, d_model=0)
    with pytest.raises(ValueError, match="length"):
        Denoiser(CFG)(torch.zeros(1, 9, dtype=torch.long), torch.zeros(1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_forward_matches_cpu():
    model = Denoiser(CFG, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for p in model.parameters():  # leave the zero init so that the output is not trivially uniform
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    x, t = _batch(4, seed=6)
    with torch.no_grad():
        cpu = model(x, sigma(t))
        gpu = model.to("cuda")(x.cuda(), sigma(t).cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)

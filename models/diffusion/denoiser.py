"""A small bidirectional transformer denoiser with adaLN time conditioning (pure torch).

A CPU-sized port of the DiT used by MDLM / UDLM / DUO (docs/theory.md §3.5):

* token embedding + **learned** absolute position embedding (short fixed ``L``; without
  positional information the net cannot memorise position-specific patterns);
* ``n_layers`` pre-LayerNorm blocks, bidirectional multi-head attention through
  ``F.scaled_dot_product_attention`` (runs on CPU and CUDA, no flash-attn import) and a
  GELU MLP of width ``mlp_ratio * d_model``;
* adaLN: the total noise ``sigma_t = -log alpha_t`` goes through a sinusoidal embedding and
  an MLP; the resulting vector sets a shift, scale and gate for each half of every block
  and a shift and scale before the output layer.  Uniform noise *needs* the time input:
  unlike masking, the fraction of corrupted tokens is not visible in ``x_t``;
* the adaLN modulations and the output layer start at zero, so every block starts as the
  identity and the first prediction is exactly uniform (training starts from the prior).

The output is ``log x_theta`` of shape ``(B, L, V)``: with the UDLM NELBO it learns the
*leave-one-out* prediction ``p(x_0^i | x_t^{-i})`` (docs/theory.md §4.3), not the full posterior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DenoiserConfig", "Denoiser", "timestep_embedding"]


@dataclass(frozen=True)
class DenoiserConfig:
    """Hyperparameters of :class:`Denoiser` (defaults: the CPU recipe of docs/theory.md §7.1)."""

    vocab_size: int  # V
    length: int  # L, size of the learned position table
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: int = 4
    freq_dim: int = 256  # sinusoidal frequencies of the time embedding (DUO: 256)
    max_period: float = 10_000.0
    dropout: float = 0.0  # 0 for memorisation studies; 0.1 hurts exact recall

    def __post_init__(self) -> None:
        for name in ("vocab_size", "length", "d_model", "n_layers", "n_heads", "mlp_ratio", "freq_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DenoiserConfig.{name} must be an int >= 1, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.freq_dim % 2:
            raise ValueError(f"freq_dim must be even, got {self.freq_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")


def timestep_embedding(sigma: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal embedding ``(B,) -> (B, dim)``: ``[cos(sigma f_k), sin(sigma f_k)]``.

    Frequencies ``f_k = max_period^(-k / (dim/2))`` span ``[1/max_period, 1]``, as in DiT.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=sigma.device, dtype=torch.float32) / half)
    args = sigma.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    """Pre-LN transformer block whose LayerNorms are shifted, scaled and gated by the time vector."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.dropout = cfg.dropout
        # The LayerNorms carry no affine parameters: adaLN supplies shift and scale.
        self.ln1 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(
            nn.Linear(d, cfg.mlp_ratio * d), nn.GELU(approximate="tanh"), nn.Linear(cfg.mlp_ratio * d, d)
        )
        self.ada = nn.Linear(d, 6 * d)  # shift/scale/gate for attention and MLP, zero-initialised

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        B, L, D = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)  # 6 x (B, D)
        h = _modulate(self.ln1(x), shift1, scale1)  # (B, L, D)
        q, k, v = self.qkv(h).view(B, L, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)  # (B, H, L, Dh)
        p = self.dropout if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=False)  # bidirectional, (B, H, L, Dh)
        h = self.proj(h.transpose(1, 2).reshape(B, L, D))  # (B, L, D)
        x = x + gate1[:, None] * F.dropout(h, p, self.training)
        h = self.mlp(_modulate(self.ln2(x), shift2, scale2))  # (B, L, D)
        return x + gate2[:, None] * F.dropout(h, p, self.training)


class Denoiser(nn.Module):
    """Bidirectional transformer ``(x_t, sigma_t) -> log x_theta``.

    Parameters
    ----------
    config : DenoiserConfig
        Sizes; see the dataclass.
    generator : torch.Generator, optional
        CPU generator for the initial weights (the global RNG is never touched).
    """

    def __init__(self, config: DenoiserConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = cfg = config
        d = cfg.d_model
        # torch's layer constructors draw their default init from the global RNG; fork it so
        # that building a model leaves the caller's RNG untouched (we re-initialise below).
        with torch.random.fork_rng(devices=[]):
            self.tok_emb = nn.Embedding(cfg.vocab_size, d)
            self.pos_emb = nn.Parameter(torch.zeros(cfg.length, d))
            self.time_mlp = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
            self.ln_f = nn.LayerNorm(d, elementwise_affine=False)
            self.ada_f = nn.Linear(d, 2 * d)  # shift/scale before the output layer, zero-initialised
            self.head = nn.Linear(d, cfg.vocab_size)  # zero-initialised: the first output is uniform
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """nanoGPT-style init (normal, std 0.02) drawn from ``generator``; adaLN and head at zero.

        ``generator=None`` uses a fresh generator seeded with 0, never the global RNG.
        """
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.02)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.02)
        self.pos_emb.copy_(torch.randn(self.pos_emb.shape, generator=generator) * 0.02)
        for layer in [b.ada for b in self.blocks] + [self.ada_f, self.head]:
            layer.weight.zero_()
            layer.bias.zero_()

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, x_t: Tensor, sigma: Tensor) -> Tensor:
        """Leave-one-out log-probabilities.

        Parameters
        ----------
        x_t : Tensor
            ``long (B, L)`` noisy tokens.
        sigma : Tensor
            ``(B,)`` total noise ``sigma_t = -log alpha_t`` of each row.

        Returns
        -------
        Tensor
            ``float32 (B, L, V)`` log x_theta (log-softmax over the vocabulary).
        """
        L = x_t.shape[1]
        if L > self.config.length:
            raise ValueError(f"x_t has length {L} but the position table holds {self.config.length}")
        freq = timestep_embedding(sigma, self.config.freq_dim, self.config.max_period)  # (B, F)
        c = F.silu(self.time_mlp(freq))  # (B, D)
        x = self.tok_emb(x_t) + self.pos_emb[:L]  # (B, L, D)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.ada_f(c).chunk(2, dim=-1)  # 2 x (B, D)
        logits = self.head(_modulate(self.ln_f(x), shift, scale))  # (B, L, V)
        return torch.log_softmax(logits.float(), dim=-1)

"""Training and retrieval throughput of the diffusion memory, and the oracle as the store grows.

Setting: ``K = 8`` random sequences, ``L = 16``, ``V = 8``, the default denoiser
(``d_model = 64``, 2 layers, 4 heads, MLP ratio 4), batch 64, one torch thread.

* Training: steps/s and tokens/s of :func:`models.diffusion.train.train` (warm-up run
  first, then a timed run), and the achieved FLOP/s as a fraction of the FLOP/s of a
  float32 ``torch.matmul`` timed in the same run, both a large square one (the machine's
  peak) and one of the model's own shape ``(B L, d) @ (d, 4 d)``.
  FLOPs per step are estimated as ``3 x forward`` (backward = 2 x forward), with the forward
  counting ``2 x`` per-token matmul parameters ``x B L`` (attention and MLP weights, output
  head), ``2 x`` per-sequence parameters ``x B`` (time MLP and adaLN, applied once per
  sequence) and ``4 L^2 d`` per layer and sequence for ``Q K^T`` and ``A V``.
  Embedding look-ups, LayerNorm, softmax and the loss are not counted.
* Retrieval: queries/s of the learned model and of the oracle with the ancestral sampler
  from ``t = 0.25`` (25 grid steps + 1), and oracle queries/s as ``K`` grows (its cost is
  ``O(B L K)`` per step: the leave-one-out weights differ per position).

Run ``python -m benchmarks.diffusion`` (add ``--quick`` for a seconds-long smoke run).
"""

from __future__ import annotations

import torch

import models
from benchmarks.timing import best_time, module_parser, print_rows, row
from models.diffusion.denoiser import Denoiser, DenoiserConfig
from models.diffusion.process import corrupt
from models.diffusion.train import TrainConfig, train
from models.threads import torch_threads

__all__ = ["run", "train_flops_per_step"]


def train_flops_per_step(cfg: DenoiserConfig, batch_size: int) -> float:
    """Estimated forward + backward FLOPs of one training step (see the module docstring)."""
    d, L, V, n = cfg.d_model, cfg.length, cfg.vocab_size, cfg.n_layers
    h = cfg.mlp_ratio * d
    per_token = n * (3 * d * d + d * d + 2 * d * h) + d * V  # qkv, proj, MLP, head weights
    per_sequence = cfg.freq_dim * d + d * d + n * 6 * d * d + 2 * d * d  # time MLP, adaLN
    attention = n * 4 * L * L * d  # Q K^T and A V, per sequence
    forward = 2 * per_token * batch_size * L + 2 * per_sequence * batch_size + attention * batch_size
    return 3.0 * forward


def _matmul_flops(m: int, k: int, n: int, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    return 2.0 * m * k * n / best_time(lambda: torch.matmul(a, b), repeats)


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Measure training and retrieval throughput.

    Parameters
    ----------
    quick : bool
        Few steps and small ``K`` for a seconds-long smoke run.
    threads : int or None
        Torch intra-op threads (restored afterwards); ``None`` keeps the current setting.

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}``; ``ratio`` is the training FLOP/s as a
        fraction of the reference matmul's, and ``None`` on the other rows.
    """
    K, L, V, B = 8, 16, 8, 64
    steps = 20 if quick else 300
    repeats = 2 if quick else 5
    oracle_K = (8, 64) if quick else (8, 64, 512, 4096)
    n_queries = 64 if quick else 256
    with torch_threads(threads):
        g = torch.Generator().manual_seed(0)
        patterns = torch.randint(0, V, (K, L), generator=g)
        model_cfg = DenoiserConfig(vocab_size=V, length=L)
        n_params = Denoiser(model_cfg).num_parameters()
        rows = [
            row("K", K, "patterns"),
            row("L", L, "tokens"),
            row("V", V, "symbols"),
            row("batch_size", B, "sequences"),
            row("threads", torch.get_num_threads(), "threads"),
            row("parameters", n_params, "parameters"),
        ]

        cfg = TrainConfig(steps=steps, batch_size=B, num_threads=torch.get_num_threads())
        train(patterns, V, model_cfg, TrainConfig(steps=5, batch_size=B, num_threads=cfg.num_threads))  # warm-up
        result = train(patterns, V, model_cfg, cfg)
        sps = result.steps_per_second
        flops = sps * train_flops_per_step(model_cfg, B)
        peak = _matmul_flops(1024, 1024, 1024, repeats)
        own = _matmul_flops(B * L, model_cfg.d_model, 4 * model_cfg.d_model, repeats * 4)
        rows += [
            row("train_steps_per_s", sps, "steps/s"),
            row("train_tokens_per_s", sps * B * L, "tokens/s"),
            row("train_flops_per_step", train_flops_per_step(model_cfg, B) / 1e6, "MFLOP"),
            row("matmul_float32_1024", peak / 1e9, "GFLOP/s"),
            row("matmul_float32_model_shape", own / 1e9, "GFLOP/s"),
            row("train_achieved_vs_matmul_1024", flops / 1e9, "GFLOP/s", flops / peak),
            row("train_achieved_vs_matmul_model_shape", flops / 1e9, "GFLOP/s", flops / own),
        ]

        mem = models.make("diffusion", train_steps=steps).fit(patterns, vocab_size=V)
        x0 = patterns[torch.arange(n_queries) % K]
        x_t = corrupt(x0, 0.25, V, generator=torch.Generator().manual_seed(1))
        t_net = best_time(lambda: mem.retrieve(x_t, noise=0.25, generator=torch.Generator().manual_seed(2)), 1)
        rows.append(row("diffusion_ancestral_t0.25", n_queries / t_net, "queries/s"))

        for k in oracle_K:
            pats = torch.randint(0, V, (k, L), generator=torch.Generator().manual_seed(k))
            oracle = models.make("oracle").fit(pats, vocab_size=V)
            q = corrupt(pats[torch.arange(n_queries) % k], 0.25, V, generator=torch.Generator().manual_seed(3))
            t_or = best_time(lambda o=oracle, q=q: o.retrieve(q, noise=0.25), 1)
            rows.append(row(f"oracle_ancestral_t0.25_K{k}", n_queries / t_or, "queries/s"))
        return rows


def main(argv: list[str] | None = None) -> None:
    args = module_parser(__doc__, "few steps, small K: seconds").parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()

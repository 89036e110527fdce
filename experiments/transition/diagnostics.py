"""Three more probes of a transition cell: held-out NELBO, fixed points of the denoiser, entropy against t.

* :func:`nelbo_rows` (``kind="nelbo"``, learned model): the UDLM NELBO per token of train and
  test sequences, the training objective evaluated on held-out data.  Pham et al. (2026) report
  the validation perplexity ``exp(NELBO)`` against the training-set size: it peaks where the
  train and test recovery curves begin to meet.
* :func:`fixed_point_rows` (``kind="fixed_point"``, learned and oracle): are clean train and
  test sequences fixed points of the deterministic denoiser, ``x <- argmax_v p(x_0^i = v | x)``
  (full posterior) at a small ``t``?  A memory that stores its training set keeps every stored
  sequence and moves unseen ones; a model that generalises keeps both (docs/transition.md).
* :func:`entropy_t_rows` (``kind="entropy_t"``): the conditional-entropy probe of the
  ``entropy`` rows with ``x_t`` drawn from ``q(x_t | x_0)`` at several ``t`` (the paper's
  probe at its other times), for train, test and generated sequences.

Every random draw comes from a generator named after the probe, the dataset, the split and the
seed, not ``K``: the test sequences get the same corruptions and times at every ``K``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from experiments.corruption import resample
from experiments.metrics import hamming
from experiments.seeds import query_generator
from experiments.transition import sampling
from models.diffusion.process import corrupt, nelbo
from models.diffusion.samplers import fixed_point
from models.diffusion.train import TrainConfig

__all__ = ["NELBO_T_MIN", "nelbo_rows", "nelbo_per_sequence", "fixed_point_rows", "entropy_t_rows"]

#: Lower end of the NELBO's times, the training's ``t_min`` (its loss is the same average).
NELBO_T_MIN = TrainConfig().t_min


def _gen(*parts) -> torch.Generator:
    return query_generator(*parts)


def nelbo_per_sequence(engine: sampling.Engine, x0: Tensor, n_times: int, generator: torch.Generator) -> Tensor:
    """Per-sequence NELBO per token, ``float64 (B,)``: ``E_t mean_i l_i(t)`` over ``t ~ U[t_min, 1]``.

    ``l`` is :func:`models.diffusion.process.nelbo`, the integrand the network was trained on.
    Each sequence gets ``n_times`` stratified times ``t_min + (1 - t_min)(u + j) / n_times``
    (one uniform ``u`` per sequence, ``j = 0..n_times-1``, as the training's antithetic times)
    and one corruption ``x_t ~ q(x_t | x_0)`` per time, so the estimate is unbiased for the
    training objective and its variance over ``t`` is that of a stratified sample.

    Parameters
    ----------
    engine : Engine
        How the fitted memory (learned or oracle) is run.
    x0 : Tensor
        ``long (B, L)`` clean sequences.
    n_times : int
        Strata of ``t``, network evaluations per sequence.
    generator : torch.Generator
        Source of the times and corruptions.
    """
    B = x0.shape[0]
    u = torch.rand(B, generator=generator, dtype=torch.float64)  # (B,)
    per_seq = torch.empty(n_times, B, dtype=torch.float64)
    for j in range(n_times):
        t = NELBO_T_MIN + (1.0 - NELBO_T_MIN) * (u + j) / n_times  # (B,) the j-th stratum
        x_t = corrupt(x0, t, engine.mem.vocab_size_, generator=generator)  # (B, L)

        def loss(log_x: Tensor, rows: slice, x_t=x_t, t=t) -> Tensor:  # chunk by chunk: small tensors
            return nelbo(log_x, x0[rows], x_t[rows], t[rows]).mean(-1)  # (C,)

        per_seq[j] = engine.map(loss, x_t, t)
    return per_seq.mean(0)


def nelbo_rows(engine: sampling.Engine, originals: dict, cell) -> list[dict]:
    """``nelbo`` (nats / token), its standard error over sequences and ``ppl = exp(nelbo)`` per split."""
    rows = []
    for split, x0 in originals.items():
        g = _gen("nelbo", cell.data.name, split, cell.seed)
        per_seq = nelbo_per_sequence(engine, x0, cell.evaluation.nelbo_times, g)
        value = float(per_seq.mean())
        se = float(per_seq.std() / math.sqrt(len(per_seq))) if len(per_seq) > 1 else math.nan
        rows.append(
            {
                "kind": "nelbo",
                "model": "diffusion",
                "split": split,
                "nelbo": value,
                "nelbo_se": se,
                "ppl": math.exp(value),
                "n": int(x0.shape[0]),
            }
        )
    return rows


def fixed_point_rows(engine: sampling.Engine, model: str, sets: dict, train: Tensor, t: float) -> list[dict]:
    """Share of clean sequences the deterministic denoiser leaves unchanged at time ``t``.

    Runs :func:`models.diffusion.samplers.fixed_point` (synchronous MAP read-out of the full
    posterior, 2-cycles detected, at most 100 iterations) from each clean sequence, with the
    memory's leave-one-out prediction as ``engine`` computes it.

    ``sets`` maps a split name to ``long (B, L)`` clean sequences, ``train`` is the stored set.
    Columns: ``frac_fixed`` (one update changes nothing), ``frac_converged`` (a fixed point was
    reached), ``d_fixed`` (mean Hamming fraction from the sequence to where the iteration
    stopped), ``frac_to_train`` (it stopped on a training sequence), ``mean_steps``.
    """
    rows = []
    for split, x in sets.items():
        r = fixed_point(engine.denoise, x, t)
        d = (r.states != x).double().mean(-1)  # (B,)
        to_train = (hamming(r.states, train) == 0).any(-1)
        rows.append(
            {
                "kind": "fixed_point",
                "model": model,
                "split": split,
                "t": t,
                "frac_fixed": float(((r.steps == 1) & r.converged).double().mean()),
                "frac_converged": float(r.converged.double().mean()),
                "d_fixed": float(d.mean()),
                "frac_to_train": float(to_train.double().mean()),
                "mean_steps": float(r.steps.double().mean()),
                "n": int(x.shape[0]),
            }
        )
    return rows


def entropy_t_rows(engine: sampling.Engine, model: str, sets: dict, cell) -> list[dict]:
    """Mean conditional entropy of the leave-one-out prediction at ``x_t ~ q(x_t | x_0)``, per split and ``t``."""
    rows = []
    for split, x0 in sets.items():
        for t in cell.evaluation.entropy_ts:
            g = _gen("entropy_t", cell.data.name, split, t, cell.seed)
            h = engine.entropy(resample(x0, t, engine.mem.vocab_size_, generator=g), t)  # (B,)
            rows.append(
                {
                    "kind": "entropy_t",
                    "model": model,
                    "split": split,
                    "t": t,
                    "entropy": float(h.mean()),
                    "entropy_std": float(np.std(h.numpy())),
                    "n": int(x0.shape[0]),
                }
            )
    return rows

"""Training loop of the denoiser on the UDLM NELBO, with exact checkpoint / resume.

One step (docs/theory.md §3.3, §7.1):

1. draw ``batch_size`` stored patterns with replacement;
2. draw antithetic times ``t_k = t_min + (1 - t_min) ((u + k/B) mod 1)`` (lower variance
   than i.i.d. times, as every UDLM / DUO implementation does);
3. corrupt, predict ``log x_theta(x_t, sigma_t)``, take the mean per-token NELBO;
4. AdamW step (no weight decay) after clipping the gradient norm to ``grad_clip``.

All randomness comes from one CPU ``torch.Generator`` seeded with ``seed`` (initial
weights, batches, times, corruption); dropout, if enabled, uses a forked and seeded global
RNG so the caller's RNG state is left untouched.

Checkpoints are written and read by :mod:`models.diffusion.checkpoint` (the one loader of
the package): weights, resumption state and a manifest, every file verified by hash on load,
saved so that a kill at any point leaves the previous checkpoint or the new one.

Training towards ``steps`` from a directory holding an earlier step of the *same* run
(same patterns, model and training config apart from ``steps``) continues exactly where it
stopped: ``N`` steps, then resuming to ``2N``, gives bit-identical weights to ``2N`` at once.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import Timeout
from torch import Tensor
from tqdm.std import tqdm  # terminal bars only: tqdm.auto warns in notebooks without ipywidgets

from models.diffusion.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state,
    load_weights,
    pattern_hash,
    read_checkpoint_config,
    save,
)
from models.diffusion.checkpoint import lock as checkpoint_lock
from models.diffusion.denoiser import Denoiser, DenoiserConfig
from models.diffusion.process import corrupt, nelbo
from models.diffusion.schedule import EPS, sigma
from models.threads import torch_threads  # re-exported: callers import it from here

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "load_checkpoint",
    "read_checkpoint_config",
    "pattern_hash",
    "torch_threads",
    "CheckpointError",
    "training_bytes",
]

#: Models below this many parameters train on one CPU thread by default: on small
#: kernels OpenMP overhead dominates (docs/theory.md §7.1: 2 threads were 6x slower).
SMALL_MODEL = 2_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: the CPU recipe of docs/theory.md §7.1)."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    t_min: float = 1e-3  # times are drawn in [t_min, 1]; avoids the 1/(V alpha_t) blow-up at t -> 0
    seed: int = 0
    save_every: int = 500  # checkpoint interval in steps (only with a checkpoint directory)
    num_threads: int | None = None  # None: 1 thread for small models on CPU, else leave torch's setting

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {value!r}")
        if not self.lr > 0 or not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.lr and grad_clip must be > 0, got {self.lr!r}, {self.grad_clip!r}")
        if not 0 < self.t_min < 1:
            raise ValueError(f"TrainConfig.t_min must lie in (0, 1), got {self.t_min!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an int >= 0, got {self.seed!r}")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : Denoiser
        Trained network in eval mode, on the training device.
    losses : Tensor
        ``float64 (steps,)`` mean per-token NELBO of every step, resumed steps included.
    start_step : int
        Step the run started from (0, or the checkpoint's step when it resumed).
    seconds : float
        Wall time of this call's steps (not of earlier, resumed-from runs).
    loaded : bool
        True when a finished checkpoint was loaded and no step was run.
    """

    model: Denoiser
    losses: Tensor
    start_step: int = 0
    seconds: float = 0.0
    loaded: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        done = len(self.losses) - self.start_step
        return done / self.seconds if self.seconds > 0 else float("nan")


def auto_threads(model: torch.nn.Module, device: torch.device, requested: int | None) -> int | None:
    """Thread count for a model: ``requested``, or 1 for a small model on CPU, else unchanged."""
    if requested is not None:
        return requested
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL
    return 1 if device.type == "cpu" and small else None


def training_bytes(vocab: int, length: int, d_model: int, n_layers: int, n_heads: int, batch: int) -> int:
    """Estimated peak bytes of training the denoiser (exact Python ints, no overflow).

    Parameters (embedding and head ``2 V d``, ``~18 d^2`` per block) kept four times (weights,
    gradients, two AdamW moments), and float32 activations per batch: about six ``(B, L, V)``
    tensors for the output and the NELBO, ``~30 d`` and three ``(heads, L)`` attention rows per
    position and block.
    """
    V, L, d, n, h, B = (int(x) for x in (vocab, length, d_model, n_layers, n_heads, batch))
    params = 2 * V * d + 18 * n * d * d
    return 16 * params + 4 * B * L * (6 * V + n * (30 * d + 3 * h * L))


def antithetic_times(batch_size: int, t_min: float, generator: torch.Generator) -> Tensor:
    """``(B,)`` float64 stratified times ``t_min + (1 - t_min) ((u + k/B) mod 1)``."""
    u = torch.rand((), generator=generator, dtype=torch.float64)
    u = (u + torch.arange(batch_size, dtype=torch.float64) / batch_size) % 1.0  # (B,)
    return t_min + (1.0 - t_min) * u


# -- checkpoint files ----------------------------------------------------------------


def _config_dict(
    model_config: DenoiserConfig, config: TrainConfig, step: int, phash: str, seconds: float
) -> dict[str, Any]:
    return {
        "model": asdict(model_config),
        "train": {**asdict(config), "betas": list(config.betas)},
        "step": step,
        "finished": step >= config.steps,
        "patterns_sha256": phash,
        "schedule": {"name": "log-linear", "eps": EPS},
        "train_seconds": seconds,
    }


def _global_rng_state(device: torch.device) -> dict[str, Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _save(
    directory: Path,
    model: Denoiser,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    losses: list[float],
    config_json: dict[str, Any],
    device: torch.device,
) -> None:
    state = {
        "step": config_json["step"],
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "global_rng": _global_rng_state(device),
        "losses": torch.tensor(losses, dtype=torch.float64),
    }
    save(directory, model.state_dict(), config_json, state)


def _check_same_run(info: dict[str, Any], expected: dict[str, Any], directory: Path) -> None:
    """Raise unless a checkpoint belongs to the run described by ``expected`` (``steps`` may differ)."""
    problems = []
    if info["patterns_sha256"] != expected["patterns_sha256"]:
        problems.append("it was trained on other patterns")
    if info["model"] != expected["model"]:
        problems.append(f"model config {info['model']} != {expected['model']}")
    ignore = {"steps", "save_every", "num_threads"}
    a = {k: v for k, v in info["train"].items() if k not in ignore}
    b = {k: v for k, v in expected["train"].items() if k not in ignore}
    if a != b:
        problems.append(f"training config {a} != {b}")
    if info["step"] > expected["train"]["steps"]:
        problems.append(f"it is at step {info['step']}, beyond the requested {expected['train']['steps']}")
    if problems:
        raise CheckpointError(
            directory / "config.json",
            "it cannot be resumed for this run: " + "; ".join(problems),
            "train with the settings it was saved with, or use another checkpoint directory",
        )


@dataclass
class _Resumed:
    """What a checkpoint contributes to a run: the step reached and the states to continue from."""

    start: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    optimizer: dict[str, Any] | None = None
    global_rng: dict[str, Tensor] | None = None
    found: bool = False


def _resume(
    directory: Path, expected: dict[str, Any], steps: int, model: Denoiser, generator: torch.Generator
) -> _Resumed:
    """Load a verified checkpoint of this run into ``model`` and ``generator`` (nothing if there is none)."""
    info = read_checkpoint_config(directory)
    if info is None:
        return _Resumed()
    _check_same_run(info, expected, directory)
    load_weights(directory, info, model)
    state = load_state(directory, info)
    out = _Resumed(start=info["step"], seconds=float(info.get("train_seconds", 0.0)), found=True)
    if state is not None:
        out.optimizer, out.global_rng, out.losses = state["optimizer"], state["global_rng"], state["losses"].tolist()
        generator.set_state(state["generator"])
    elif info["step"] < steps:
        # A weights-only export (model + config.json) serves evaluation, not resumption:
        # without the optimiser and RNG states the rest of the run would not be the same run.
        raise CheckpointError(
            directory / "state.pt",
            f"missing: the checkpoint holds weights only at step {info['step']}; it can be "
            f"loaded as a finished run of {info['step']} steps, not resumed to {steps}",
            "ask for its step count, or train in another directory",
        )
    return out


# -- the loop ------------------------------------------------------------------------


def train(
    patterns: Tensor,
    vocab_size: int,
    model_config: DenoiserConfig,
    config: TrainConfig = TrainConfig(),
    *,
    device: str | torch.device = "cpu",
    checkpoint: str | os.PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a :class:`Denoiser` on ``patterns`` with the UDLM NELBO.

    Parameters
    ----------
    patterns : Tensor
        ``long (K, L)`` stored sequences with tokens in ``0..V-1``.
    vocab_size : int
        Alphabet size ``V`` (must equal ``model_config.vocab_size``).
    model_config : DenoiserConfig
        Network sizes; ``length`` must equal ``L``.
    config : TrainConfig
        Optimisation settings.
    device : str or torch.device
        Where the network trains; random draws are made on the CPU, so a run is the
        same sequence of batches on any device.
    checkpoint : path, optional
        Directory to save to every ``config.save_every`` steps and at the end.  If it
        already holds a checkpoint of the same run, training resumes from it (and a
        finished one is loaded without running a step).  A weights-only export
        (``model.safetensors`` and ``config.json``, no ``state.pt``) loads as a finished
        run of its step count, with an empty loss history.
    progress : bool
        Show a tqdm bar (``disable=None``: shown on terminals only).

    Returns
    -------
    TrainResult
    """
    if model_config.vocab_size != vocab_size or model_config.length != patterns.shape[1]:
        raise ValueError(
            f"model_config (V={model_config.vocab_size}, L={model_config.length}) does not match "
            f"the patterns (V={vocab_size}, L={patterns.shape[1]})"
        )
    if checkpoint is None:
        return _train(patterns, vocab_size, model_config, config, torch.device(device), None, progress)
    directory = Path(checkpoint)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with checkpoint_lock(directory):  # one process per checkpoint directory
            return _train(patterns, vocab_size, model_config, config, torch.device(device), directory, progress)
    except Timeout:
        raise CheckpointError(
            directory / "config.json",
            "another process is training into this directory (it holds the lock)",
            "wait for it to finish, or use another checkpoint directory",
        ) from None


def _train(
    patterns: Tensor,
    vocab_size: int,
    model_config: DenoiserConfig,
    config: TrainConfig,
    device: torch.device,
    directory: Path | None,
    progress: bool,
) -> TrainResult:
    phash = pattern_hash(patterns, vocab_size)
    generator = torch.Generator().manual_seed(config.seed)
    model = Denoiser(model_config, generator=generator).to(device)
    expected = _config_dict(model_config, config, 0, phash, 0.0)
    resumed = _resume(directory, expected, config.steps, model, generator) if directory is not None else _Resumed()
    start, previous_seconds, losses, global_rng = resumed.start, resumed.seconds, resumed.losses, resumed.global_rng

    optimizer: torch.optim.Optimizer | None = None
    if start < config.steps:
        # Only when there are steps left: building AdamW imports torch._dynamo (~2 s), which
        # a finished checkpoint, loaded just to evaluate, does not need.
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas, weight_decay=0.0)
        if resumed.optimizer is not None:
            optimizer.load_state_dict(resumed.optimizer)

    patterns = patterns.detach().to("cpu", torch.long)
    K, B = patterns.shape[0], config.batch_size
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    seconds = 0.0
    with torch_threads(auto_threads(model, device, config.num_threads)), torch.random.fork_rng(fork_devices):
        # The global RNG only feeds dropout; seed it so that a run is a function of the seed.
        if global_rng is None:
            torch.random.default_generator.manual_seed(config.seed)
            if device.type == "cuda":
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(config.seed)
        else:
            torch.set_rng_state(global_rng["cpu"])
            if device.type == "cuda" and "cuda" in global_rng:
                torch.cuda.set_rng_state(global_rng["cuda"], device)
        model.train()
        tic = time.perf_counter()
        bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=None if progress else True)
        for step in bar:
            idx = torch.randint(0, K, (B,), generator=generator)  # with replacement
            x0 = patterns[idx]  # (B, L)
            t = antithetic_times(B, config.t_min, generator)  # (B,)
            x_t = corrupt(x0, t, vocab_size, generator=generator)  # (B, L)
            x0, x_t, t = x0.to(device), x_t.to(device), t.to(device, torch.float32)
            log_x = model(x_t, sigma(t))  # (B, L, V)
            loss = nelbo(log_x, x0, x_t, t).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            losses.append(loss.item())
            done = step + 1
            if progress and done % 50 == 0:
                bar.set_postfix(nelbo_per_token=f"{losses[-1]:.4f}")
            if directory is not None and (done % config.save_every == 0 or done == config.steps):
                seconds = time.perf_counter() - tic
                cfg = _config_dict(model_config, config, done, phash, previous_seconds + seconds)
                _save(directory, model, optimizer, generator, losses, cfg, device)
        bar.close()
        seconds = time.perf_counter() - tic
    model.eval()
    return TrainResult(
        model=model,
        losses=torch.tensor(losses, dtype=torch.float64),
        start_step=start,
        seconds=seconds,
        loaded=start == config.steps and resumed.found,
        info={"patterns_sha256": phash, "train_seconds_total": previous_seconds + seconds},
    )

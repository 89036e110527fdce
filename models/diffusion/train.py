"""Training loop of the denoiser on the UDLM NELBO, with exact checkpoint / resume.

One step (reference/diffusion.md 1.4, paper.md 6.1):

1. draw ``batch_size`` stored patterns with replacement;
2. draw antithetic times ``t_k = t_min + (1 - t_min) ((u + k/B) mod 1)`` (lower variance
   than i.i.d. times, as every UDLM / DUO implementation does);
3. corrupt, predict ``log x_theta(x_t, sigma_t)``, take the mean per-token NELBO;
4. AdamW step (no weight decay) after clipping the gradient norm to ``grad_clip``.

All randomness comes from one CPU ``torch.Generator`` seeded with ``seed`` (initial
weights, batches, times, corruption); dropout, if enabled, uses a forked and seeded global
RNG so the caller's RNG state is left untouched.

A checkpoint is a directory with three files, none of which needs unpickling:

* ``model.safetensors`` -- the weights;
* ``state.pt`` -- optimiser state, generator and RNG states, loss history: plain tensors and
  primitives, written by ``torch.save`` and read with ``torch.load(weights_only=True)``;
* ``config.json`` -- model and training configs, the step reached, ``finished`` and a hash
  of the training patterns.  It is written last, so it names a consistent step.

Training towards ``steps`` from a directory holding an earlier step of the *same* run
(same patterns, model and training config apart from ``steps``) continues exactly where it
stopped: ``N`` steps, then resuming to ``2N``, gives bit-identical weights to ``2N`` at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm.std import tqdm  # terminal bars only: tqdm.auto warns in notebooks without ipywidgets

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
]

FORMAT = "hopfield-testbed/diffusion-checkpoint"
VERSION = 1
WEIGHTS, STATE, CONFIG = "model.safetensors", "state.pt", "config.json"
#: Models below this many parameters train on one CPU thread by default: on small
#: kernels OpenMP overhead dominates (paper.md 6.1: 2 threads were 6x slower).
SMALL_MODEL = 2_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: the CPU recipe of paper.md 6.1)."""

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


def pattern_hash(patterns: Tensor, vocab_size: int) -> str:
    """SHA-256 of a pattern set (shape, ``V`` and tokens): ties a checkpoint to its data."""
    h = hashlib.sha256(f"{tuple(patterns.shape)}|{vocab_size}|".encode())
    h.update(patterns.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


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
        "format": FORMAT,
        "version": VERSION,
        "model": asdict(model_config),
        "train": {**asdict(config), "betas": list(config.betas)},
        "step": step,
        "finished": step >= config.steps,
        "patterns_sha256": phash,
        "schedule": {"name": "log-linear", "eps": EPS},
        "train_seconds": seconds,
    }


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


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
    directory.mkdir(parents=True, exist_ok=True)
    step = config_json["step"]
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _replace_atomically(directory / WEIGHTS, lambda p: save_file(weights, str(p), metadata={"step": str(step)}))
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "global_rng": _global_rng_state(device),
        "losses": torch.tensor(losses, dtype=torch.float64),
    }
    _replace_atomically(directory / STATE, lambda p: torch.save(state, p))
    text = json.dumps(config_json, indent=2, sort_keys=True)
    _replace_atomically(directory / CONFIG, lambda p: p.write_text(text))


def read_checkpoint_config(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The ``config.json`` of a checkpoint directory, or ``None`` if there is no checkpoint."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{VERSION} checkpoint")
    return info


def _load_weights(directory: Path, model: Denoiser, step: int) -> None:
    tensors = load_file(str(directory / WEIGHTS), device="cpu")
    from safetensors import safe_open

    with safe_open(str(directory / WEIGHTS), framework="pt") as f:
        saved_step = int((f.metadata() or {}).get("step", -1))
    if saved_step != step:
        raise ValueError(f"checkpoint {directory} is inconsistent: weights at step {saved_step}, config at {step}")
    model.load_state_dict(tensors)


def load_checkpoint(directory: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Denoiser, dict]:
    """Load the network of a checkpoint directory (no optimiser, no unpickling).

    Returns
    -------
    (Denoiser, dict)
        The network in eval mode on ``device`` and the parsed ``config.json``.
    """
    directory = Path(directory)
    info = read_checkpoint_config(directory)
    if info is None:
        raise FileNotFoundError(f"no checkpoint in {directory} (missing {CONFIG})")
    model = Denoiser(DenoiserConfig(**info["model"]))
    _load_weights(directory, model, info["step"])
    return model.to(device).eval(), info


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
        raise ValueError(f"checkpoint {directory} cannot be resumed for this run: " + "; ".join(problems))


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
    device = torch.device(device)
    directory = None if checkpoint is None else Path(checkpoint)
    phash = pattern_hash(patterns, vocab_size)
    generator = torch.Generator().manual_seed(config.seed)
    model = Denoiser(model_config, generator=generator).to(device)
    optimizer_state: dict[str, Any] | None = None
    losses: list[float] = []
    start, previous_seconds = 0, 0.0
    global_rng: dict[str, Tensor] | None = None

    info = read_checkpoint_config(directory) if directory is not None else None
    if info is not None:
        _check_same_run(info, _config_dict(model_config, config, 0, phash, 0.0), directory)
        _load_weights(directory, model, info["step"])
        if (directory / STATE).is_file():
            state = torch.load(directory / STATE, map_location="cpu", weights_only=True)
            if state["step"] != info["step"]:
                raise ValueError(f"checkpoint {directory} is inconsistent: state at step {state['step']}")
            optimizer_state = state["optimizer"]
            generator.set_state(state["generator"])
            global_rng = state["global_rng"]
            losses = state["losses"].tolist()
        elif info["step"] < config.steps:
            # A weights-only export (model + config.json) serves evaluation, not resumption:
            # without the optimiser and RNG states the rest of the run would not be the same run.
            raise ValueError(
                f"checkpoint {directory} holds weights only (no {STATE}) at step {info['step']}: it can be "
                f"loaded as a finished run of {info['step']} steps, not resumed to {config.steps}"
            )
        start, previous_seconds = info["step"], float(info.get("train_seconds", 0.0))

    optimizer: torch.optim.Optimizer | None = None
    if start < config.steps:
        # Only when there are steps left: building AdamW imports torch._dynamo (~2 s), which
        # a finished checkpoint, loaded just to evaluate, does not need.
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas, weight_decay=0.0)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)

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
        loaded=start == config.steps and info is not None,
        info={"patterns_sha256": phash, "train_seconds_total": previous_seconds + seconds},
    )

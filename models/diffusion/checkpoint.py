"""Checkpoint directories of the diffusion denoiser: one writer, one loader, verified on every read.

A checkpoint is a directory holding

* ``model.safetensors`` -- the weights.  Its metadata carries the format, the step, the hash
  of the training patterns and ``weights_sha256``, a hash of every tensor's name, dtype,
  shape and bytes;
* ``state.pt`` (absent in a weights-only export) -- optimiser state, RNG states and loss
  history: plain tensors written by ``torch.save`` and read with ``weights_only=True``;
* ``config.json`` -- the manifest: model and training configs, step, ``finished``, the
  pattern hash and the hashes of the two files above.

Every read checks the manifest's fields, recomputes the weights hash, compares the hashes of
the files with the manifest and, when the caller has them, the patterns.  A byte changed
anywhere, a file swapped in from another run, a config edited by hand or a file cut short
raises :class:`CheckpointError`, which names the file, the fault and what to do.

:func:`save` (in :mod:`models.diffusion.checkpoint_files`, re-exported here) is a small
journal, so a kill at any point leaves either the previous checkpoint or the new one; the
next read completes or discards an interrupted save.  A lock file keeps two processes from
writing one directory at once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import Tensor

from models.diffusion.checkpoint_files import (
    CONFIG,
    FORMAT,
    LOCK,
    NEW,
    STATE,
    VERSION,
    WEIGHTS,
    CheckpointError,
    _file_sha256,
    _locked,
    _manifest_sha256,
    _pending,
    lock,
    pattern_hash,
    recover,
    save,
    weights_sha256,
)
from models.diffusion.denoiser import Denoiser, DenoiserConfig

__all__ = [
    "CheckpointError",
    "FORMAT",
    "VERSION",
    "WEIGHTS",
    "STATE",
    "CONFIG",
    "LOCK",
    "NEW",
    "pattern_hash",
    "weights_sha256",
    "read_checkpoint_config",
    "load_weights",
    "load_state",
    "load_checkpoint",
    "save",
    "recover",
    "lock",
    "upgrade",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _settle(directory: Path) -> None:
    """Before a read: finish an interrupted save, unless another process is saving right now."""
    if _pending(directory):
        with _locked(directory, "read it while a save is unfinished"):
            recover(directory)


# -- reading ---------------------------------------------------------------------------


def _require(ok: bool, path: Path, problem: str) -> None:
    if not ok:
        raise CheckpointError(path, problem)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _validate(info: Any, path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``info`` is a complete manifest of this format."""
    _require(isinstance(info, dict), path, f"expected a JSON object, found {type(info).__name__}")
    _require(info.get("format") == FORMAT, path, f"format is {info.get('format')!r}, not {FORMAT!r}")
    if info.get("version") == 1:
        raise CheckpointError(
            path,
            "written by format version 1, which records no integrity hashes",
            f"if you trust these files, upgrade them with models.diffusion.checkpoint.upgrade({str(path.parent)!r})",
        )
    _require(info.get("version") == VERSION, path, f"format version {info.get('version')!r}, expected {VERSION}")
    kinds = {"model": dict, "train": dict, "files": dict, "finished": bool, "patterns_sha256": str}
    for key, kind in kinds.items():
        value = info.get(key)
        _require(isinstance(value, kind), path, f"field {key!r} must be a {kind.__name__}, got {value!r}")
    step, steps = info.get("step"), info["train"].get("steps")
    _require(_is_int(step) and step >= 0, path, f"field 'step' must be an int >= 0, got {step!r}")
    _require(_is_int(steps) and steps >= 1, path, f"field 'train.steps' must be an int >= 1, got {steps!r}")
    _require(info["finished"] == (step >= steps), path, f"'finished' contradicts step {step} of {steps}")
    _require(bool(_HEX64.fullmatch(info["patterns_sha256"])), path, "'patterns_sha256' is not a SHA-256 hex digest")
    entry = info["files"].get(WEIGHTS)
    ok = isinstance(entry, dict) and isinstance(entry.get("weights_sha256"), str)
    _require(ok and bool(_HEX64.fullmatch(entry["weights_sha256"])), path, f"no valid hash of {WEIGHTS} in 'files'")
    entry = info["files"].get(STATE)
    ok = entry is None or (isinstance(entry, dict) and bool(_HEX64.fullmatch(str(entry.get("sha256")))))
    _require(ok, path, f"invalid entry for {STATE} in 'files': {entry!r}")
    try:
        DenoiserConfig(**info["model"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"field 'model' is not a valid network config ({err})") from err


def read_checkpoint_config(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The verified manifest (``config.json``) of a checkpoint, or ``None`` if there is none.

    Raises
    ------
    CheckpointError
        If the manifest is damaged, of another format, or missing while weights or state
        files are present (so that nothing ever trains over them).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(directory, "is a file, not a checkpoint directory", "pass a directory")
    if not directory.is_dir():
        return None
    _settle(directory)
    path = directory / CONFIG
    if not path.is_file():
        present = [name for name in (WEIGHTS, STATE) if (directory / name).exists()]
        if present:
            raise CheckpointError(
                path,
                f"missing, while the directory holds {' and '.join(present)}",
                "restore config.json, or delete the directory (or choose another one) to train afresh; "
                "nothing was overwritten",
            )
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"unreadable ({type(err).__name__}: {err})") from err
    _validate(info, path)
    return info


def load_weights(directory: str | os.PathLike, info: dict[str, Any], model: torch.nn.Module | None = None) -> dict:
    """Read and verify ``model.safetensors`` against its own hash and the manifest ``info``.

    Returns the tensors (CPU); with ``model`` given, also loads them into it.
    """
    path = Path(directory) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(path, f"missing (config.json at step {info['step']} names it)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iteration)
    except Exception as err:  # SafetensorError, OSError, ...: the library's errors name no file
        raise CheckpointError(path, f"unreadable ({type(err).__name__}: {err})") from err
    recorded = meta.get("weights_sha256")
    if recorded is None:
        raise CheckpointError(path, "its metadata records no weights hash (written by an older version or a tool)")
    if weights_sha256(tensors) != recorded:
        raise CheckpointError(
            path, "its tensors do not match the hash recorded when it was written (damaged or edited)"
        )
    if meta.get("patterns_sha256") != info["patterns_sha256"]:
        raise CheckpointError(
            path, "it was trained on other patterns than config.json names (copied from another run?)"
        )
    if recorded != info["files"][WEIGHTS]["weights_sha256"]:
        raise CheckpointError(path, "it is not the weights file config.json was saved with (swapped from another run?)")
    if meta.get("step") != str(info["step"]):
        raise CheckpointError(path, f"weights at step {meta.get('step')}, config.json at step {info['step']}")
    if meta.get("config_sha256") != _manifest_sha256(info):
        raise CheckpointError(
            Path(directory) / CONFIG,
            f"its settings differ from those {WEIGHTS} was saved with (edited by hand?)",
            "restore the file from a backup, or delete the checkpoint directory to train afresh",
        )
    if model is not None:
        try:
            model.load_state_dict(tensors)
        except RuntimeError as err:
            raise CheckpointError(path, f"its tensors do not fit the network of config.json ({err})") from err
    return tensors


def load_state(directory: str | os.PathLike, info: dict[str, Any]) -> dict[str, Any] | None:
    """Read and verify ``state.pt``; ``None`` for a weights-only checkpoint (no such file)."""
    path = Path(directory) / STATE
    if not path.is_file():
        return None
    entry = info["files"].get(STATE)
    if entry is None:
        raise CheckpointError(path, "present, but config.json was saved without one (copied in?)", "delete it")
    if _file_sha256(path) != entry["sha256"]:
        raise CheckpointError(path, "its bytes do not match the hash config.json records (damaged or swapped)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError, EOFError: the hash matched, so a bad writer
        raise CheckpointError(path, f"unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or state.get("step") != info["step"]:
        step = state.get("step") if isinstance(state, dict) else None
        raise CheckpointError(path, f"state at step {step}, config.json at step {info['step']}")
    return state


def load_checkpoint(
    directory: str | os.PathLike,
    device: str | torch.device = "cpu",
    *,
    patterns: Tensor | None = None,
    vocab_size: int | None = None,
) -> tuple[Denoiser, dict[str, Any]]:
    """Load and verify the network of a checkpoint directory (no optimiser, no unpickling).

    Parameters
    ----------
    directory : path
        A checkpoint written by :func:`save` (through :func:`models.diffusion.train.train`).
    device : str or torch.device
        Where the network goes.
    patterns : Tensor, optional
        ``long (K, L)`` the sequences it must have been trained on (checked by hash).
    vocab_size : int, optional
        ``V`` for the pattern hash; default: the checkpoint's.

    Returns
    -------
    (Denoiser, dict)
        The network in eval mode on ``device`` and the verified manifest.

    Raises
    ------
    FileNotFoundError
        If ``directory`` holds no checkpoint at all.
    CheckpointError
        If any file is damaged, swapped or inconsistent, or the patterns differ.
    """
    directory = Path(directory)
    info = read_checkpoint_config(directory)
    if info is None:
        raise FileNotFoundError(f"no checkpoint in {directory} (missing {CONFIG})")
    if patterns is not None:
        V = info["model"]["vocab_size"] if vocab_size is None else vocab_size
        if pattern_hash(patterns, V) != info["patterns_sha256"]:
            raise CheckpointError(
                directory / CONFIG,
                "it was trained on other patterns than the ones given",
                "pass the patterns it was trained on, or train a new checkpoint on these",
            )
    model = Denoiser(DenoiserConfig(**info["model"]))
    load_weights(directory, info, model)
    return model.to(device).eval(), info


def upgrade(directory: str | os.PathLike) -> dict[str, Any]:
    """Rewrite a format-1 checkpoint (no integrity hashes) as format 2, trusting its files as they are.

    Returns
    -------
    dict
        The new manifest.
    """
    directory = Path(directory)
    path = directory / CONFIG
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if info.get("format") != FORMAT or info.get("version") != 1:
            raise CheckpointError(path, f"not a format-1 {FORMAT} manifest", "only format 1 needs an upgrade")
        with safe_open(str(directory / WEIGHTS), framework="pt", device="cpu") as f:
            step = (f.metadata() or {}).get("step")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        state = (
            torch.load(directory / STATE, map_location="cpu", weights_only=True)
            if (directory / STATE).is_file()
            else None
        )
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(path, f"cannot be upgraded ({type(err).__name__}: {err})") from err
    if step != str(info["step"]) or (state is not None and state.get("step") != info["step"]):
        raise CheckpointError(path, f"its files disagree on the step (weights {step}, config {info['step']})")
    manifest = {k: v for k, v in info.items() if k not in ("format", "version", "files")}
    return save(directory, tensors, manifest, state)

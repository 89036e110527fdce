"""The files of a diffusion checkpoint: names, hashes, the error, and the journaled write.

:func:`save` is a small journal, so a kill at any point leaves either the previous checkpoint
or the new one: the new files go to ``*.new`` names, then the new manifest is written (whole,
by rename) as ``config.json.new`` -- the commit point -- and then the files are renamed into
place, the manifest last.  The next access (:func:`recover`) discards the ``*.new`` files of
an uncommitted save and completes the renames of a committed one.  A lock file keeps two
processes from writing one directory at once.  Reading and verification live in
:mod:`models.diffusion.checkpoint`, the module to import.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from safetensors.torch import save_file
from torch import Tensor

from models.files import atomic_write, follow_umask, fsync_directory

__all__ = [
    "CheckpointError",
    "FORMAT",
    "VERSION",
    "WEIGHTS",
    "STATE",
    "CONFIG",
    "pattern_hash",
    "weights_sha256",
    "save",
    "recover",
    "lock",
]

FORMAT = "hopfield-testbed/diffusion-checkpoint"
VERSION = 2
WEIGHTS, STATE, CONFIG = "model.safetensors", "state.pt", "config.json"
NEW, LOCK = ".new", ".lock"
_RESTART = "delete the checkpoint directory (or choose another one) to train afresh, or restore the file from a backup"


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or used.

    Attributes
    ----------
    path : Path
        The file at fault (the manifest ``config.json`` for faults of the whole directory).
    problem : str
        What is wrong.
    remedy : str
        What to do about it.
    """

    def __init__(self, path: str | os.PathLike, problem: str, remedy: str = _RESTART) -> None:
        self.path, self.problem, self.remedy = Path(path), problem, remedy
        super().__init__(f"checkpoint file {self.path}: {problem}; {remedy}")

    def __reduce__(self):
        # rebuilt from its fields, so that the error crosses a process pool (joblib, SLURM) intact
        return type(self), (self.path, self.problem, self.remedy)


# -- hashes ----------------------------------------------------------------------------


def pattern_hash(patterns: Tensor, vocab_size: int) -> str:
    """SHA-256 of a pattern set (shape, ``V`` and tokens): ties a checkpoint to its data."""
    h = hashlib.sha256(f"{tuple(patterns.shape)}|{vocab_size}|".encode())
    h.update(patterns.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def weights_sha256(tensors: dict[str, Tensor]) -> str:
    """SHA-256 of named tensors: names, dtypes, shapes and raw bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _manifest_sha256(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's JSON without its ``files`` entry (which holds the weights hash)."""
    body = {k: v for k, v in manifest.items() if k != "files"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- the journal -----------------------------------------------------------------------


def lock(directory: str | os.PathLike) -> FileLock:
    """The (re-entrant, per-process shared) lock of a checkpoint directory; ``timeout=0``."""
    path = Path(directory).resolve() / LOCK
    return FileLock(str(path), timeout=0, is_singleton=True)


@contextmanager
def _locked(directory: Path, what: str):
    try:
        with lock(directory):
            yield
    except Timeout:
        raise CheckpointError(
            directory / CONFIG,
            f"another process holds its lock ({directory / LOCK}) while this one wants to {what}",
            "wait for that process to finish, or use another checkpoint directory",
        ) from None


def _pending(directory: Path) -> bool:
    return any((directory / (name + NEW)).exists() for name in (CONFIG, WEIGHTS, STATE))


def recover(directory: str | os.PathLike) -> None:
    """Complete a committed save or discard an uncommitted one (idempotent; needs the lock)."""
    directory = Path(directory)
    pending = directory / (CONFIG + NEW)
    manifest = None
    if pending.is_file():
        try:
            manifest = json.loads(pending.read_text(encoding="utf-8"))
            listed = [name for name in (WEIGHTS, STATE) if manifest["files"].get(name) is not None]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            manifest = None  # not a complete commit record: the save never committed
    if manifest is None:
        for name in (CONFIG, WEIGHTS, STATE):
            (directory / (name + NEW)).unlink(missing_ok=True)
        return
    for name in (WEIGHTS, STATE):
        new = directory / (name + NEW)
        if name in listed and new.exists():
            os.replace(new, directory / name)
        elif name not in listed:
            (directory / name).unlink(missing_ok=True)  # a weights-only save drops the old state
            new.unlink(missing_ok=True)
    os.replace(pending, directory / CONFIG)
    fsync_directory(directory)


def _write_new(path: Path, write) -> None:
    """Write a ``*.new`` file completely (it is trusted only once the manifest names it)."""
    write(path)
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    follow_umask(path)


def save(
    directory: str | os.PathLike,
    weights: dict[str, Tensor],
    manifest: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a checkpoint so that a kill at any point leaves the previous one or this one.

    Parameters
    ----------
    directory : path
        Checkpoint directory (created if needed).
    weights : dict
        Tensors of the network (``state_dict``), saved on the CPU.
    manifest : dict
        ``model``, ``train``, ``step``, ``finished``, ``patterns_sha256`` (and any extra
        fields); ``format``, ``version`` and ``files`` are added here.
    state : dict, optional
        Resumption state for ``state.pt``; ``None`` writes a weights-only checkpoint.

    Returns
    -------
    dict
        The manifest as written to ``config.json``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    digest = weights_sha256(weights)
    body = json.loads(json.dumps({**manifest, "format": FORMAT, "version": VERSION}))  # as read back
    body.pop("files", None)
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "step": str(manifest["step"]),
        "patterns_sha256": manifest["patterns_sha256"],
        "weights_sha256": digest,
        "config_sha256": _manifest_sha256(body),
    }
    with _locked(directory, "save to it"):
        recover(directory)
        _write_new(directory / (WEIGHTS + NEW), lambda p: save_file(weights, str(p), metadata=meta))
        files: dict[str, Any] = {WEIGHTS: {"weights_sha256": digest}, STATE: None}
        if state is not None:
            _write_new(directory / (STATE + NEW), lambda p: torch.save(state, p))
            files[STATE] = {"sha256": _file_sha256(directory / (STATE + NEW))}
        full = {**body, "files": files}
        text = json.dumps(full, indent=2, sort_keys=True) + "\n"
        atomic_write(directory / (CONFIG + NEW), lambda p: p.write_text(text, encoding="utf-8"))  # commit
        recover(directory)
    return full

"""Save a fitted memory to a directory and load it back (safetensors + JSON, never pickle).

A saved memory is a directory with two files:

``memory.json``
    the format tag, the package version, the registry name, the hyperparameters, ``V``,
    the pattern shape and the SHA-256 of ``state.safetensors``;
``state.safetensors``
    the stored patterns (``"patterns"``) and whatever fitted tensors the model cannot
    recompute cheaply (the trained network of a diffusion memory, under ``"net."``).

Loading (:func:`models.load`, beside the registry) rebuilds the memory with
:func:`models.make` and restores its fitted state: memories whose fit is a deterministic
function of the patterns (classical, dense, modern, oracle) are fitted again, which
reproduces them exactly; a trained network is loaded, not retrained. The file hash is
checked first, so a damaged or swapped state file is refused with :class:`SavedMemoryError`
naming the file, never used.

The directory is written next to its destination and renamed into place, so an
interrupted save never leaves a half-written memory under ``path`` (with ``overwrite=True``
the old directory is removed just before the rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from models._version import __version__
from models.files import current_umask, follow_umask

if TYPE_CHECKING:
    from models.base import AssociativeMemory

__all__ = ["FORMAT", "SavedMemoryError", "save_memory", "read_saved"]

#: Format tag written into ``memory.json``; loading refuses any other.
FORMAT = "hopfield-testbed/memory-v1"
MANIFEST = "memory.json"
STATE = "state.safetensors"


class SavedMemoryError(ValueError):
    """A saved memory that cannot be loaded: missing, damaged, or not a saved memory."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as JSON values (paths become strings, tuples lists)."""
    out = {}
    for name, value in params.items():
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value)
        except TypeError:
            raise TypeError(
                f"hyperparameter {name}={value!r} of type {type(value).__name__} cannot be saved as JSON"
            ) from None
        out[name] = value
    return out


def save_memory(memory: AssociativeMemory, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a fitted memory to the directory ``path``.

    Parameters
    ----------
    memory : AssociativeMemory
        A fitted memory.
    path : path
        Directory to create.  An existing directory is replaced only with ``overwrite=True``.
    overwrite : bool

    Returns
    -------
    Path
        ``path``.
    """
    memory._check_fitted()
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    tensors = {"patterns": memory.patterns_.detach().cpu().contiguous()}
    for key, value in memory._state_tensors().items():
        tensors[f"net.{key}"] = value.detach().cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file(tensors, tmp / STATE)
        manifest = {
            "format": FORMAT,
            "version": __version__,
            "model": memory.name,
            "params": _json_params(memory.get_params(deep=False)),
            "vocab_size": int(memory.vocab_size_),
            "pattern_shape": list(memory.patterns_.shape),
            "state_sha256": _sha256(tmp / STATE),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp creates 0700; follow the user's umask
        for file in (tmp / STATE, tmp / MANIFEST):
            follow_umask(file)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.is_file():
        raise SavedMemoryError(f"{file} not found: {path} is not a saved memory (save one with memory.save(path))")
    try:
        manifest = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SavedMemoryError(f"{file} is not valid JSON ({err}); the saved memory is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise SavedMemoryError(f"{file}: format {found!r} is not {FORMAT!r}")
    missing = [k for k in ("model", "params", "vocab_size", "pattern_shape", "state_sha256") if k not in manifest]
    if missing:
        raise SavedMemoryError(f"{file} lacks {missing}; the saved memory is damaged")
    return manifest


def read_saved(path: str | os.PathLike) -> tuple[dict[str, Any], Tensor, dict[str, Tensor]]:
    """Read and verify a directory written by :func:`save_memory`.

    Returns
    -------
    manifest : dict
        The parsed ``memory.json`` (registry name under ``"model"``, ``"params"``, ``"vocab_size"``).
    patterns : Tensor
        ``long (K, L)`` stored patterns.
    tensors : dict of str to Tensor
        The model's own fitted tensors (what its ``_state_tensors`` returned).

    Raises
    ------
    SavedMemoryError
        Missing or damaged files, a state file whose hash does not match, or patterns of
        another shape than recorded.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    state = path / STATE
    if not state.is_file():
        raise SavedMemoryError(f"{state} not found; the saved memory is incomplete")
    if _sha256(state) != manifest["state_sha256"]:
        raise SavedMemoryError(f"{state} does not match the hash in {path / MANIFEST}: damaged or swapped; save again")
    try:
        tensors = load_file(state)
    except (SafetensorError, OSError) as err:
        raise SavedMemoryError(f"{state} cannot be read ({err})") from None
    patterns = tensors.pop("patterns", None)
    if patterns is None or list(patterns.shape) != manifest["pattern_shape"] or patterns.dtype != torch.long:
        raise SavedMemoryError(f"{state} holds no long patterns of shape {manifest['pattern_shape']}")
    own = {k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")}
    return manifest, patterns, own

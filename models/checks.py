"""Input checks shared by every model (and by the experiments that build their inputs).

They raise, never assert: user input must get a ``ValueError``/``TypeError`` whose message
names the argument, the expected and the received value.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "check_tokens",
    "check_choice",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_positive_int",
    "check_fraction",
    "check_bool",
    "check_noise",
    "check_generator",
    "resolve_device",
]


def check_tokens(
    x: Any,
    name: str,
    *,
    vocab_size: int | None = None,
    length: int | None = None,
    min_rows: int = 1,
) -> Tensor:
    """Validate a batch of token sequences.

    Parameters
    ----------
    x : Tensor
        Expected ``long (B, L)`` with values in ``0..vocab_size-1``.
    name : str
        Argument name used in error messages.
    vocab_size, length : int, optional
        Expected alphabet size and sequence length, when known.
    min_rows : int
        Smallest allowed ``B``.

    Returns
    -------
    Tensor
        ``x`` itself (never copied, never modified).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of dtype torch.long, got {type(x).__name__}")
    if x.dtype != torch.long:
        raise TypeError(f"{name} must have dtype torch.long (token ids), got {x.dtype}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D (B, L), got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one position, got shape {tuple(x.shape)}")
    if length is not None and x.shape[1] != length:
        raise ValueError(f"{name} must have length L={length} (as fitted), got shape {tuple(x.shape)}")
    if x.numel():
        lo, hi = (int(v) for v in torch.aminmax(x))  # one pass over the batch
        if lo < 0:
            raise ValueError(f"{name} has tokens in [{lo}, {hi}]; tokens must be >= 0")
        if vocab_size is not None and hi >= vocab_size:
            raise ValueError(f"{name} has tokens in [{lo}, {hi}]; tokens must be < vocab_size={vocab_size}")
    return x


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """Return ``float(value)`` if it is a finite (or, if allowed, infinite) number > 0."""
    v = _check_real(name, value)
    if not v > 0 or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a {'' if allow_inf else 'finite '}number > 0, got {value!r}")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is a finite number >= 0."""
    v = _check_real(name, value)
    if v < 0 or math.isinf(v):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_int(name: str, value: Any, minimum: int = 0) -> int:
    """Return ``int(value)`` if it is an integer ``>= minimum``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """Return ``int(value)`` if it is an integer >= 1."""
    return check_int(name, value, 1)


def check_fraction(name: str, value: Any, *, low: float = 0.0, high: float = 1.0) -> float:
    """Return ``float(value)`` if it is a real number in ``[low, high]``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number in [{low}, {high}], got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or not low <= v <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return v


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_noise(noise: Any, name: str = "noise", *, optional: bool = True) -> float | None:
    """Validate a diffusion time ``t`` in ``(0, 1]`` named ``name`` (``None`` passes if ``optional``)."""
    if noise is None and optional:
        return None
    t = _check_real(name, noise)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"{name} is a diffusion time and must lie in (0, 1], got {noise!r}")
    return t


def check_generator(generator: Any) -> torch.Generator | None:
    """Validate an optional ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def resolve_device(device: Any) -> torch.device:
    """Turn the ``device`` hyperparameter into a ``torch.device`` with a clear error."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine")
    return dev

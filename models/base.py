"""The memory contract shared by every model in the testbed.

Every memory stores a set of token sequences and answers one question: given a
corrupted sequence, which state does it settle into?  A pattern is a sequence of
``L`` tokens from an alphabet of size ``V`` (``torch.long``, values ``0..V-1``).
Binary Hopfield patterns are ``V = 2``: token 0 is spin -1 and token 1 is spin +1.

The contract (see ``DESIGN.md``):

* ``__init__(**hyperparameters)`` stores hyperparameters and does no work;
* ``fit(patterns, vocab_size=None)`` validates, learns and sets trailing-underscore
  state (``patterns_``, ``vocab_size_``, ...), returning ``self``;
* ``retrieve(queries, *, noise=None, max_steps=None, generator=None, record=False)``
  returns a :class:`Retrieval`;
* ``energy(states)`` returns one energy per state, or raises ``NotImplementedError``.

Subclasses implement ``_fit``, ``_retrieve`` and optionally ``_energy``; the public
methods here do all input validation so that every model reports bad input the same
way, with a ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

import inspect
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Self

import torch
from torch import Tensor

from models.persist import save_memory

__all__ = [
    "AssociativeMemory",
    "Retrieval",
    "NotFittedError",
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
    "to_spins",
    "from_spins",
    "one_hot",
]


class NotFittedError(ValueError):
    """Raised when ``retrieve`` or ``energy`` is called before ``fit``."""


@dataclass(frozen=True)
class Retrieval:
    """Result of :meth:`AssociativeMemory.retrieve`.

    Attributes
    ----------
    states : Tensor
        ``long (B, L)`` final states.
    steps : Tensor
        ``long (B,)`` number of updates (sweeps, iterations or sampler steps) used.
    converged : Tensor
        ``bool (B,)`` whether each state reached a fixed point / the stopping rule.
    energies : Tensor or None
        ``(T, B)`` energy after each step (row 0 is the initial state), energy models
        only, filled when ``record=True`` (recording the states is what makes the
        per-step energies available; without it the field is ``None``).
    trajectory : Tensor or None
        ``long (T, B, L)`` states after each step (row 0 is the query) when ``record=True``.
    entropy : Tensor or None
        ``(B,)`` mean per-token conditional entropy in nats, probabilistic models only.
    """

    states: Tensor
    steps: Tensor
    converged: Tensor
    energies: Tensor | None = None
    trajectory: Tensor | None = None
    entropy: Tensor | None = None

    def __len__(self) -> int:
        return int(self.states.shape[0])


# ----------------------------------------------------------------------------------
# Input checks shared by every model.  They raise, never assert: user input must get
# a message that names the argument, the expected and the received value.
# ----------------------------------------------------------------------------------


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
        lo, hi = int(x.min()), int(x.max())
        if lo < 0:
            raise ValueError(f"{name} has token {lo}; tokens must be >= 0")
        if vocab_size is not None and hi >= vocab_size:
            raise ValueError(f"{name} has token {hi}; tokens must be < vocab_size={vocab_size}")
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


# ----------------------------------------------------------------------------------
# Codes shared by the families: spins for V = 2, one-hot for V > 2.
# ----------------------------------------------------------------------------------


def to_spins(tokens: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """Map binary tokens ``{0, 1}`` to spins ``{-1, +1}`` (token 0 is spin -1)."""
    return tokens.to(dtype) * 2 - 1


def from_spins(spins: Tensor) -> Tensor:
    """Map spins to tokens: ``+1 -> 1``, ``-1 -> 0`` (a spin of exactly 0 maps to 0)."""
    return (spins > 0).long()


def one_hot(tokens: Tensor, vocab_size: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """One-hot code ``(..., L) -> (..., L, V)`` in ``dtype``."""
    return torch.nn.functional.one_hot(tokens, vocab_size).to(dtype)


# ----------------------------------------------------------------------------------
# The abstract memory.
# ----------------------------------------------------------------------------------


class AssociativeMemory(ABC):
    """Abstract associative memory over token sequences.

    Subclasses declare their hyperparameters as keyword arguments of ``__init__``
    with defaults, store them unchanged as attributes of the same name, and
    implement :meth:`_check_hyperparameters`, :meth:`_fit` and :meth:`_retrieve`
    (and :meth:`_energy` for energy models).

    Attributes set by :meth:`fit`
    -----------------------------
    patterns_ : Tensor
        ``long (K, L)`` stored patterns (a copy, on the model device).
    vocab_size_ : int
        Alphabet size ``V``.
    device_ : torch.device
        Device the model computes on.
    """

    #: Name under which the class is registered in ``models.MODELS``.
    name: str = "memory"
    #: Whether ``retrieve`` on a batch gives exactly the rows of one-by-one calls
    #: made with identically seeded generators (False for samplers that draw
    #: per-row random numbers).
    batch_invariant: bool = True

    # -- hyperparameters ---------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        """Names of the hyperparameters: the keyword arguments of ``__init__``, in order."""
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind in kinds]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__`` (the scikit-learn estimator API).

        Parameters
        ----------
        deep : bool
            scikit-learn's flag for also listing the parameters of nested estimators.
            Hyperparameters here are plain values, so both settings give the same dict.

        Returns
        -------
        dict
            ``{name: value}`` with the values stored unchanged, so that
            ``type(self)(**self.get_params())`` is an unfitted copy and
            ``sklearn.base.clone`` works.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters by name (the scikit-learn estimator API); returns ``self``.

        Like the constructor, this stores the values without checking them; :meth:`fit`
        checks them. Fitted state is left as it is: call :meth:`fit` again for a new value
        to reach what ``fit`` computed (weights, codes, a trained network).

        Raises
        ------
        ValueError
            For a name that is not a hyperparameter, naming the valid ones; nothing is set then.
        """
        valid = self._param_names()
        unknown = [name for name in params if name not in valid]
        if unknown:
            raise ValueError(f"invalid parameter(s) {unknown} for {type(self).__name__}; valid parameters are {valid}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params})"

    # -- persistence -------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted memory to the directory ``path``; :func:`models.load` reads it back.

        Parameters
        ----------
        path : path
            Directory to create (``memory.json`` + ``state.safetensors``; no pickle).
        overwrite : bool
            Replace an existing directory.

        Returns
        -------
        Path
        """
        return save_memory(self, path, overwrite=overwrite)

    def _state_tensors(self) -> dict[str, Tensor]:
        """Fitted tensors that :meth:`save` must keep because ``fit`` cannot recompute them cheaply."""
        return {}

    def _restore(self, patterns: Tensor, vocab_size: int, tensors: dict[str, Tensor]) -> None:
        """Restore the fitted state on load; fitting again is exact for deterministic fits."""
        self.fit(patterns, vocab_size=vocab_size)

    def _check_hyperparameters(self) -> None:
        """Validate hyperparameters; called at the start of :meth:`fit`."""
        return None  # models without hyperparameters to check

    # -- public contract ---------------------------------------------------------

    def fit(self, patterns: Tensor, vocab_size: int | None = None) -> Self:
        """Store ``patterns``.

        Parameters
        ----------
        patterns : Tensor
            ``long (K, L)`` token sequences, ``K >= 1``.
        vocab_size : int, optional
            Alphabet size ``V``; defaults to ``patterns.max() + 1`` (at least 2).

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        check_tokens(patterns, "patterns")
        if vocab_size is None:
            vocab_size = max(int(patterns.max()) + 1, 2)
        else:
            vocab_size = check_int("vocab_size", vocab_size, 2)
            check_tokens(patterns, "patterns", vocab_size=vocab_size)
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        self.vocab_size_ = int(vocab_size)
        self.patterns_ = patterns.detach().to(self.device_).clone()
        try:
            self._fit(self.patterns_)
        except BaseException:
            # A failed fit must not leave a model that passes the "is fitted" check.
            del self.patterns_
            raise
        return self

    def retrieve(
        self,
        queries: Tensor,
        *,
        noise: float | None = None,
        max_steps: int | None = None,
        generator: torch.Generator | None = None,
        record: bool = False,
    ) -> Retrieval:
        """Run the memory's dynamics from each query.

        Parameters
        ----------
        queries : Tensor
            ``long (B, L)`` corrupted sequences; never modified.
        noise : float, optional
            Diffusion time ``t`` in ``(0, 1]`` the queries were corrupted at. Models
            that condition on noise use it; the others ignore it.
        max_steps : int, optional
            Overrides the model's ``max_steps`` hyperparameter for this call.
        generator : torch.Generator, optional
            Source of all randomness (update order, sampling noise). ``None`` means a
            fixed default seed (never the global RNG), so calls are reproducible.
        record : bool
            Also return the trajectory ``(T, B, L)``.

        Returns
        -------
        Retrieval
            Results on the device of ``queries``.
        """
        self._check_fitted()
        check_tokens(queries, "queries", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        t = check_noise(noise)
        if max_steps is not None:
            max_steps = check_positive_int("max_steps", max_steps)
        check_generator(generator)
        check_bool("record", record)
        out = self._retrieve(queries.to(self.device_), noise=t, max_steps=max_steps, generator=generator, record=record)
        return _to_device(out, queries.device)

    def energy(self, states: Tensor) -> Tensor:
        """Energy of each state, ``(B,)`` float64.

        Raises
        ------
        NotImplementedError
            For models without an energy function.
        """
        self._check_fitted()
        check_tokens(states, "states", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        return self._energy(states.to(self.device_)).to(states.device)

    # -- to implement ------------------------------------------------------------

    @abstractmethod
    def _fit(self, patterns: Tensor) -> None:
        """Learn from validated ``patterns`` (``long (K, L)`` on ``device_``)."""

    @abstractmethod
    def _retrieve(
        self,
        queries: Tensor,
        *,
        noise: float | None,
        max_steps: int | None,
        generator: torch.Generator | None,
        record: bool,
    ) -> Retrieval:
        """Dynamics on validated queries (on ``device_``); must not modify them."""

    def _energy(self, states: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no energy function")

    # -- helpers -----------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "patterns_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(patterns) before this method")


def _to_device(r: Retrieval, device: torch.device) -> Retrieval:
    def mv(x: Tensor | None) -> Tensor | None:
        return None if x is None else x.to(device)

    return Retrieval(
        states=r.states.to(device),
        steps=r.steps.to(device),
        converged=r.converged.to(device),
        energies=mv(r.energies),
        trajectory=mv(r.trajectory),
        entropy=mv(r.entropy),
    )

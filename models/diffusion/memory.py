"""Uniform-diffusion memories behind the testbed contract: a trained network and the exact oracle.

* :class:`DiffusionMemory` (``"diffusion"``) trains the small transformer of
  :mod:`models.diffusion.denoiser` on the stored patterns with the UDLM NELBO and
  retrieves with one of the samplers of :mod:`models.diffusion.samplers`.
* :class:`OracleMemory` (``"oracle"``) is the exact Bayes denoiser of the stored set (a
  modern Hopfield update on one-hot codes at ``beta(t)``) run through the *same*
  samplers, so the two differ only in the denoiser.

``retrieve(queries, noise=t)`` starts the sampler at diffusion time ``t``: the queries are
assumed to be corrupted at that level.  ``noise=None`` means ``DEFAULT_NOISE = 0.25``
(a quarter of the tokens resampled).  ``Retrieval.entropy`` is the mean per-token
conditional entropy of the leave-one-out prediction at ``t = 1e-5`` on the final states
(the memorisation probe of docs/theory.md §6.5): ~0 when the rest of each sequence pins every token.
What the two share (sampler dispatch, ``denoise``, ``generate``, the entropy read-out) is
:class:`models.diffusion.memory_base.DiffusionBase`; the constants are re-exported here.
"""

from __future__ import annotations

import os

from torch import Tensor

from energy.diffusion import lse_energy
from models.checks import (
    check_bool,
    check_choice,
    check_int,
    check_noise,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_tokens,
    resolve_device,
)
from models.diffusion import samplers
from models.diffusion.denoiser import Denoiser, DenoiserConfig
from models.diffusion.memory_base import DEFAULT_NOISE, ENTROPY_TIME, SAMPLERS, DiffusionBase
from models.diffusion.oracle import Oracle
from models.diffusion.process import check_time
from models.diffusion.schedule import beta
from models.diffusion.train import (
    TrainConfig,
    TrainResult,
    auto_threads,
    read_checkpoint_config,
    train,
    training_bytes,
)
from models.limits import check_memory
from models.persist import SavedMemoryError

__all__ = ["DiffusionMemory", "OracleMemory", "DEFAULT_NOISE", "SAMPLERS", "ENTROPY_TIME"]


class DiffusionMemory(DiffusionBase):
    """A uniform-noise discrete diffusion model trained to store the patterns.

    Parameters
    ----------
    d_model, n_layers, n_heads : int
        Transformer width, depth and heads (MLP ratio 4); defaults: the CPU recipe.
    train_steps : int
        Optimiser steps (a fixed budget, independent of the number of patterns).
    batch_size : int
        Sequences per step, drawn from the stored set with replacement.
    lr : float
        AdamW learning rate (no weight decay, gradient clipping 1.0).
    dropout : float
        Dropout in attention and MLP during training, in ``[0, 1)``.  0 by default: it
        hurts exact recall in short runs; the paper's DiT uses 0.1 (docs/theory.md §6.1).
    sampler : {"ancestral", "argmax", "fixed_point", "async_fixed_point"}
        Retrieval dynamics (:mod:`models.diffusion.samplers`).
    dt : float
        Step of the ancestral time grid.
    checkpoint : str or path, optional
        Directory.  If it holds a finished checkpoint of this run (same patterns and
        settings), ``fit`` loads it; if it holds an unfinished one, training resumes;
        otherwise ``fit`` trains and saves there.  A checkpoint that fails verification
        (damaged, swapped or edited files, weights without ``config.json``) raises
        :class:`~models.diffusion.checkpoint.CheckpointError` and is never trained over.
    seed : int
        Seeds initial weights and training batches, and the sampler when ``retrieve``
        gets no generator.
    progress : bool
        Show a training progress bar (terminals only).
    device : str
        Torch device for training and retrieval.

    Attributes
    ----------
    model_ : Denoiser
        The trained network (eval mode).
    train_result_ : TrainResult
        Loss history and timing of the last ``fit``.
    """

    name = "diffusion"

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        train_steps: int = 2000,
        batch_size: int = 64,
        lr: float = 1e-3,
        dropout: float = 0.0,
        sampler: str = "ancestral",
        dt: float = 0.01,
        checkpoint: str | os.PathLike | None = None,
        seed: int = 0,
        progress: bool = False,
        device: str = "cpu",
    ) -> None:
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.lr = lr
        self.dropout = dropout
        self.sampler = sampler
        self.dt = dt
        self.checkpoint = checkpoint
        self.seed = seed
        self.progress = progress
        self.device = device

    @classmethod
    def from_checkpoint(
        cls,
        directory: str | os.PathLike,
        patterns: Tensor,
        vocab_size: int | None = None,
        *,
        sampler: str = "ancestral",
        dt: float = 0.01,
        device: str = "cpu",
    ) -> DiffusionMemory:
        """A fitted memory from a finished checkpoint, without training.

        The hyperparameters are read from the checkpoint's ``config.json``; a weights-only
        export (``model.safetensors`` + ``config.json``, e.g. the text demo's shipped
        network) is enough.

        Parameters
        ----------
        directory : str or path
            Checkpoint directory written by :func:`models.diffusion.train.train`.
        patterns : Tensor
            ``long (K, L)`` the sequences the network was trained on (checked by hash:
            retrieval and ``generate`` use them as the stored set).
        vocab_size : int, optional
            Alphabet size ``V``; default: the checkpoint's.
        sampler, dt, device
            Retrieval settings, as in the constructor.

        Raises
        ------
        FileNotFoundError
            If ``directory`` holds no checkpoint.
        models.diffusion.checkpoint.CheckpointError
            (a ``ValueError``) If a file is damaged, swapped or edited, or the checkpoint was
            trained on other patterns (every file is verified by hash on load).
        ValueError
            If the checkpoint is unfinished, or was trained with settings this class cannot
            express (e.g. another MLP ratio).
        """
        info = read_checkpoint_config(directory)
        if info is None:
            raise FileNotFoundError(f"no checkpoint in {directory} (missing config.json)")
        if not info.get("finished"):
            raise ValueError(
                f"checkpoint {directory} stopped at step {info['step']} of {info['train']['steps']}; "
                "resume it with fit(..., checkpoint=...) and the same settings"
            )
        net, opt = info["model"], info["train"]
        memory = cls(
            d_model=net["d_model"],
            n_layers=net["n_layers"],
            n_heads=net["n_heads"],
            dropout=net["dropout"],
            train_steps=info["step"],
            batch_size=opt["batch_size"],
            lr=opt["lr"],
            sampler=sampler,
            dt=dt,
            checkpoint=directory,
            seed=opt["seed"],
            device=device,
        )
        return memory.fit(patterns, vocab_size=net["vocab_size"] if vocab_size is None else vocab_size)

    def _check_hyperparameters(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "train_steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        check_positive("lr", self.lr)
        if check_nonnegative("dropout", self.dropout) >= 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        check_choice("sampler", self.sampler, SAMPLERS)
        check_noise(self.dt, "dt", optional=False)
        samplers.check_dt(float(self.dt))  # the step count from t = 1 (generate, retrieve at noise 1)
        if self.checkpoint is not None and not isinstance(self.checkpoint, str | os.PathLike):
            raise TypeError(f"checkpoint must be a directory path or None, got {type(self.checkpoint).__name__}")
        check_int("seed", self.seed)
        check_bool("progress", self.progress)

    def _model_config(self, length: int) -> DenoiserConfig:
        return DenoiserConfig(
            vocab_size=self.vocab_size_,
            length=length,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            dropout=float(self.dropout),
        )

    def _fit(self, patterns: Tensor) -> None:
        sizes = (self.vocab_size_, patterns.shape[1], self.d_model, self.n_layers, self.n_heads, self.batch_size)
        check_memory(
            training_bytes(*sizes),
            argument="vocab_size",
            value=self.vocab_size_,
            what=f"training a d_model={self.d_model} network on (L, V) = ({patterns.shape[1]}, {self.vocab_size_}) "
            f"sequences in batches of {self.batch_size}",
            device=self.device_,
        )
        model_config = self._model_config(patterns.shape[1])
        config = TrainConfig(steps=self.train_steps, batch_size=self.batch_size, lr=float(self.lr), seed=self.seed)
        self.train_result_: TrainResult = train(
            patterns,
            self.vocab_size_,
            model_config,
            config,
            device=self.device_,
            checkpoint=self.checkpoint,
            progress=self.progress,
        )
        self.model_ = self.train_result_.model
        self._network = samplers.NetworkDenoiser(self.model_)

    def _state_tensors(self) -> dict[str, Tensor]:
        return dict(self.model_.state_dict())

    def _restore(self, patterns: Tensor, vocab_size: int, tensors: dict[str, Tensor]) -> None:
        """Load the saved network instead of training it again (see :func:`models.load`)."""
        self._check_hyperparameters()
        check_tokens(patterns, "patterns", vocab_size=vocab_size)
        self.device_ = resolve_device(self.device)
        self.vocab_size_ = int(vocab_size)
        model = Denoiser(self._model_config(patterns.shape[1]))
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            raise SavedMemoryError(f"the saved network does not fit these hyperparameters: {err}") from None
        self.model_ = model.to(self.device_).eval()
        self._network = samplers.NetworkDenoiser(self.model_)
        self.patterns_ = patterns.to(self.device_).clone()

    def _denoiser(self) -> samplers.DenoiserFn:
        return self._network

    def _threads(self) -> int | None:
        return auto_threads(self.model_, self.device_, None)


class OracleMemory(DiffusionBase):
    """The exact Bayes denoiser of the stored set, run through the diffusion samplers.

    Its denoiser is ``softmax_mu(beta(t) A_mu)`` over stored patterns (leave-one-out form),
    i.e. a modern Hopfield net on one-hot codes whose inverse temperature is set by the
    noise level; its energy is the log-sum-exp energy at ``beta(t_energy)``.
    ``Retrieval.energies`` (that energy along the trajectory) is filled when
    ``record=True``; the samplers do not keep intermediate states otherwise.

    Parameters
    ----------
    sampler : {"ancestral", "argmax", "fixed_point", "async_fixed_point"}
        Retrieval dynamics.
    dt : float
        Step of the ancestral time grid.
    t_energy : float
        Diffusion time whose ``beta`` defines :meth:`energy` (small: nearly nearest-pattern).
    seed : int
        Seeds the sampler when ``retrieve`` gets no generator.
    device : str
        Torch device.
    """

    name = "oracle"

    def __init__(
        self,
        sampler: str = "ancestral",
        dt: float = 0.01,
        t_energy: float = 1e-3,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.sampler = sampler
        self.dt = dt
        self.t_energy = t_energy
        self.seed = seed
        self.device = device

    def _check_hyperparameters(self) -> None:
        check_choice("sampler", self.sampler, SAMPLERS)
        check_noise(self.dt, "dt", optional=False)
        samplers.check_dt(float(self.dt))
        check_noise(self.t_energy, "t_energy", optional=False)
        check_time(self.t_energy, "t_energy")
        check_int("seed", self.seed)

    def _fit(self, patterns: Tensor) -> None:
        self.oracle_ = Oracle(patterns, self.vocab_size_)

    def _denoiser(self) -> samplers.DenoiserFn:
        return self.oracle_

    def association(self, states: Tensor, t: float) -> Tensor:
        """``p(mu | x_t) = softmax_mu(beta(t) A_mu)``, ``float64 (B, K)`` (the Hopfield association)."""
        self._check_fitted()
        check_tokens(states, "states", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        check_noise(t, "t", optional=False)
        return self.oracle_.association(states.to(self.device_), t).to(states.device)

    def _has_energy(self) -> bool:
        return True

    def _energy(self, states: Tensor) -> Tensor:
        return lse_energy(states, self.patterns_, beta(self.t_energy, self.vocab_size_), self.oracle_.codes)

    def _energies(self, trajectory: Tensor) -> Tensor:
        T, B, L = trajectory.shape
        return self._energy(trajectory.reshape(T * B, L)).reshape(T, B)

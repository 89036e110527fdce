"""What both diffusion memories share: sampler dispatch, the entropy read-out, ``denoise`` and ``generate``.

:class:`DiffusionBase` runs a denoiser (the trained network of
:class:`~models.diffusion.memory.DiffusionMemory` or the exact posterior of
:class:`~models.diffusion.memory.OracleMemory`) through the samplers of
:mod:`models.diffusion.samplers`; subclasses supply only ``_denoiser`` (and, for a
network, ``_threads``).  ``retrieve(queries, noise=t)`` starts the sampler at diffusion
time ``t``; ``noise=None`` means :data:`DEFAULT_NOISE`.  ``Retrieval.entropy`` is the mean
per-token conditional entropy of the leave-one-out prediction at :data:`ENTROPY_TIME` on the
final states (the memorisation probe of docs/theory.md §6.5).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from energy.diffusion import conditional_entropy
from models.base import AssociativeMemory, Retrieval, _to_device
from models.checks import check_generator, check_noise, check_positive_int, check_tokens
from models.diffusion import samplers
from models.diffusion.oracle import posterior_bytes
from models.diffusion.process import check_time
from models.diffusion.train import torch_threads
from models.limits import check_memory

__all__ = ["DiffusionBase", "DEFAULT_NOISE", "SAMPLERS", "ENTROPY_TIME", "FIXED_POINT_MAX_STEPS"]

#: Diffusion time assumed when ``retrieve`` gets ``noise=None``.
DEFAULT_NOISE = 0.25
#: Time at which ``Retrieval.entropy`` evaluates the prediction (docs/theory.md §6.5: t = 1e-5).
ENTROPY_TIME = samplers.T_END
#: Iteration cap of the fixed-point samplers when ``max_steps`` is not given.
FIXED_POINT_MAX_STEPS = 100
SAMPLERS = ("ancestral", "argmax", "fixed_point", "async_fixed_point")


class DiffusionBase(AssociativeMemory):
    """Shared sampler dispatch, entropy read-out, ``denoise`` and ``generate``."""

    sampler: str
    dt: float
    seed: int

    @property
    def batch_invariant(self) -> bool:  # type: ignore[override]
        """False for the ancestral sampler: its Gumbel noise is drawn per row of the batch."""
        return self.sampler != "ancestral"

    def _denoiser(self) -> samplers.DenoiserFn:
        raise NotImplementedError

    def _threads(self) -> int | None:
        return None

    def _check_batch(self, batch: int, argument: str) -> None:
        """Refuse a batch whose ``(B, L, V)`` posterior tensors cannot fit, before computing them."""
        K, L = self.patterns_.shape
        check_memory(
            posterior_bytes(batch, K, L, self.vocab_size_),
            argument=argument,
            value=batch if argument == "n" else f"a batch of {batch} states",
            what=f"the (B, L, V) = ({batch}, {L}, {self.vocab_size_}) float64 posterior tensors",
            device=self.device_,
            remedy="split the batch" if argument != "n" else None,
        )

    # -- public extras -------------------------------------------------------------

    def denoise(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """Leave-one-out log-probabilities ``log p(x_0^i | x_t^{-i})``.

        Parameters
        ----------
        x_t : Tensor
            ``long (B, L)`` noisy states.
        t : float or Tensor
            Diffusion time in ``(0, 1]``, scalar or ``(B,)``.

        Returns
        -------
        Tensor
            ``float64 (B, L, V)`` on the device of ``x_t``.
        """
        self._check_fitted()
        check_tokens(x_t, "x_t", vocab_size=self.vocab_size_, length=self.patterns_.shape[1])
        if isinstance(t, Tensor):
            if t.dim() > 1 or (t.dim() == 1 and t.shape[0] != x_t.shape[0]) or not bool(((t > 0) & (t <= 1)).all()):
                raise ValueError(f"t must be a scalar or a (B,) tensor of times in (0, 1], got shape {tuple(t.shape)}")
        else:
            check_noise(t, "t", optional=False)
        check_time(t, "t")
        self._check_batch(x_t.shape[0], "x_t")
        x = x_t.to(self.device_)
        with torch_threads(self._threads()):
            out = self._denoiser()(x, samplers._times(t, x))
        return out.to(x_t.device)

    def generate(self, n: int, generator: torch.Generator | None = None, *, record: bool = False) -> Retrieval:
        """Sample ``n`` sequences from pure noise with the ancestral sampler (``t = 1``, step ``dt``).

        Returns
        -------
        Retrieval
            ``states`` ``long (n, L)`` (CPU) and their conditional ``entropy``.
        """
        self._check_fitted()
        n = check_positive_int("n", n)
        check_generator(generator)
        self._check_batch(n, "n")
        generator = generator if generator is not None else torch.Generator().manual_seed(self.seed)
        with torch_threads(self._threads()):
            r = samplers.generate(
                self._denoiser(),
                n,
                self.patterns_.shape[1],
                self.vocab_size_,
                dt=self.dt,
                generator=generator,
                device=self.device_,
                record=record,
            )
            entropy = self._entropy(r.states)
        return _to_device(replace(r, entropy=entropy), torch.device("cpu"))

    # -- contract ------------------------------------------------------------------

    def _entropy(self, states: Tensor) -> Tensor:
        return conditional_entropy(self._denoiser()(states, samplers._times(ENTROPY_TIME, states)))

    def _energies(self, trajectory: Tensor) -> Tensor | None:
        return None

    def _retrieve(
        self,
        queries: Tensor,
        *,
        noise: float | None,
        max_steps: int | None,
        generator: torch.Generator | None,
        record: bool,
    ) -> Retrieval:
        t = DEFAULT_NOISE if noise is None else noise
        check_time(t, "noise")
        self._check_batch(queries.shape[0], "queries")
        generator = generator if generator is not None else torch.Generator().manual_seed(self.seed)
        den = self._denoiser()
        want_energies = record and self._has_energy()
        with torch_threads(self._threads()):
            if self.sampler == "ancestral":
                r = samplers.ancestral(
                    den, queries, t, dt=self.dt, max_steps=max_steps, generator=generator, record=record
                )
            elif self.sampler == "argmax":
                r = samplers.argmax(den, queries, t, record=record)
            elif self.sampler == "fixed_point":
                r = samplers.fixed_point(den, queries, t, max_steps=max_steps or FIXED_POINT_MAX_STEPS, record=record)
            else:
                r = samplers.async_fixed_point(
                    den,
                    queries,
                    t,
                    max_steps=max_steps or FIXED_POINT_MAX_STEPS,
                    generator=generator,
                    record=record,
                )
            entropy = self._entropy(r.states)
            energies = self._energies(r.trajectory) if want_energies else None
        return replace(r, entropy=entropy, energies=energies)

    def _has_energy(self) -> bool:
        return False

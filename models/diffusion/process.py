"""Forward (noising) process of uniform discrete diffusion.

Only the forward corruption lives here for now; the closed-form posterior, the
NELBO and the leave-one-out conversion are added by the diffusion issue.
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.diffusion.schedule import EPS, alpha

__all__ = ["corrupt"]


def corrupt(
    x0: Tensor,
    t: float | Tensor,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
    eps: float = EPS,
) -> Tensor:
    """Sample ``x_t ~ q(x_t | x_0)``: each position is redrawn uniformly with prob. ``1 - alpha_t``.

    The redraw ranges over all ``V`` tokens and may return the original token, so
    the expected fraction of positions that actually change is
    ``(1 - alpha_t)(1 - 1/V)``.

    Parameters
    ----------
    x0 : Tensor
        ``long (B, L)`` clean sequences (not modified).
    t : float or Tensor
        Diffusion time in ``[0, 1]``; a tensor of shape ``(B,)`` gives one time per row.
    vocab_size : int
        Alphabet size ``V``.
    generator : torch.Generator, optional
        CPU generator for the random draws.

    Returns
    -------
    Tensor
        ``long (B, L)`` corrupted sequences on the device of ``x0``.
    """
    a = alpha(t, eps)
    if isinstance(a, Tensor):
        a = a.reshape(-1, 1).to(torch.float64).cpu()
    # Draw on the CPU so that a CPU generator gives the same corruption on any device.
    u = torch.rand(x0.shape, generator=generator, dtype=torch.float64)
    fresh = torch.randint(0, vocab_size, x0.shape, generator=generator)
    resample = (u >= a).to(x0.device)
    return torch.where(resample, fresh.to(x0.device), x0)

"""What a generated sample is: memorised, spurious or generalised (Pham et al. 2026, section 4.3).

The discrete analogue of the paper's classes with Hamming thresholds: a sample is a copy of
a training pattern, one of several samples that fell into the same non-training attractor,
or new.
"""

from __future__ import annotations

import math
from numbers import Real

import pandas as pd
import torch
from torch import Tensor

from experiments.metrics.distances import check_same_length, check_states, hamming

__all__ = ["GENERATION_CLASSES", "generation_distances", "classify_generations"]

#: Classes of generated samples (docs/theory.md §6.7), in code order.
GENERATION_CLASSES: tuple[str, ...] = ("memorised", "spurious", "generalised")


def generation_distances(samples: Tensor, train: Tensor) -> tuple[Tensor, Tensor]:
    """Hamming fractions from each sample to the nearest training pattern and nearest other sample.

    Parameters
    ----------
    samples : Tensor
        ``long (B, L)`` generated sequences.
    train : Tensor
        ``long (K, L)`` training patterns.

    Returns
    -------
    to_train : Tensor
        ``float64 (B,)`` ``min_j d_H(samples[i], train[j]) / L``.
    to_other : Tensor
        ``float64 (B,)`` ``min_{j != i} d_H(samples[i], samples[j]) / L`` (``inf`` when ``B = 1``).
        Duplicated samples are at distance 0 from each other.
    """
    check_states(samples, "samples", 0)
    check_states(train, "train")
    check_same_length(samples, train, ("samples", "train"))
    L = samples.shape[1]
    to_train = hamming(samples, train).min(dim=1).values.to(torch.float64) / L
    d = hamming(samples, samples).to(torch.float64)  # (B, B)
    d.fill_diagonal_(math.inf)  # exclude each sample itself, not its duplicates
    to_other = d.min(dim=1).values / L if samples.shape[0] > 1 else torch.full_like(to_train, math.inf)
    return to_train, to_other


def classify_generations(samples: Tensor, train: Tensor, delta_m: float = 0.1, delta_s: float = 0.1) -> pd.Categorical:
    """Memorised / spurious / generalised, the discrete analogue of docs/theory.md §6.7.

    A sample is *memorised* if its Hamming fraction to the nearest training pattern is
    ``<= delta_m``; *spurious* if not memorised and its Hamming fraction to the nearest
    other sample is ``<= delta_s`` (several generations fell into the same
    non-training attractor); *generalised* otherwise.

    Parameters
    ----------
    samples : Tensor
        ``long (B, L)``.
    train : Tensor
        ``long (K, L)``.
    delta_m, delta_s : float
        Thresholds as Hamming fractions in ``[0, 1]``.

    Returns
    -------
    pandas.Categorical
        Length ``B``, categories :data:`GENERATION_CLASSES`.
    """
    for name, value in (("delta_m", delta_m), ("delta_s", delta_s)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be a Hamming fraction in [0, 1], got {value!r}")
    to_train, to_other = generation_distances(samples, train)
    memorised = to_train <= delta_m + 1e-12
    spurious = ~memorised & (to_other <= delta_s + 1e-12)
    codes = torch.where(memorised, 0, torch.where(spurious, 1, 2))
    return pd.Categorical.from_codes(codes.cpu().numpy(), categories=list(GENERATION_CLASSES))

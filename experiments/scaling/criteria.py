"""The two capacity criteria of the scaling study, measured through the ``retrieve`` contract.

* ``exact``: every stored pattern is an exact fixed point, i.e. one update pass
  (``retrieve(patterns, max_steps=1)``: one asynchronous sweep or one synchronous step)
  started on the clean pattern changes nothing.  Above ``cap`` stored patterns only the
  first ``cap`` are checked (the patterns are i.i.d., so they are a random sample).
* ``m95``: at least ``THRESHOLD`` of the probed stored patterns are retrieved with final
  overlap ``m >= 0.95`` from queries with ``round(flip N)`` flipped tokens, the sense of
  retrieval of Amit, Gutfreund & Sompolinsky (1987): the retrieval state keeps an overlap
  of about 0.97 with the pattern up to the critical load.

The pattern set of ``(N, K, seed)`` is the same for every memory (its hash is in every
row) and nested in ``K``: the first ``K`` rows do not depend on how many were drawn, so a
search over ``K`` adds patterns to one pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from experiments import zoo
from experiments.corruption import flip as flip_tokens
from experiments.corruption import noise_for_flip
from experiments.patterns import PatternSet, random_patterns
from experiments.seeds import derive_seed
from models.base import AssociativeMemory

__all__ = [
    "CRITERIA",
    "M_RETRIEVED",
    "THRESHOLD",
    "Outcome",
    "pattern_set",
    "unstable_patterns",
    "retrieved_share",
    "evaluate",
]

CRITERIA = ("exact", "m95")
M_RETRIEVED = 0.95  # final overlap that counts as retrieved
THRESHOLD = 0.9  # share of probes that must be retrieved (criterion m95)
_QUERIES, _DYNAMICS = 1, 2  # generator streams of one (seed, N, K)


@dataclass(frozen=True)
class Outcome:
    """One criterion evaluated on one memory at one ``(N, K, seed)``."""

    passed: bool
    share: float  # stable share (exact) or retrieved share (m95) of the checked patterns
    mean_overlap: float  # final overlap, mean over the probes (nan for exact)
    n_checked: int  # patterns checked
    pattern_hash: str
    wall_s: float
    cpu_s: float  # CPU time of this process (the machine may be shared, so wall time says less)


def pattern_set(N: int, K: int, seed: int) -> PatternSet:
    """``K`` unbiased random spin patterns of length ``N``, nested in ``K``, one set per ``(N, seed)``."""
    return random_patterns(K, N, vocab_size=2, seed=derive_seed(seed, N))


def _generator(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(*parts))


def unstable_patterns(
    net: AssociativeMemory, patterns: Tensor, *, noise: float, generator: torch.Generator, cap: int, chunk: int = 256
) -> tuple[int, int]:
    """Count stored patterns that one update pass changes, in chunks, stopping at the first bad chunk.

    Parameters
    ----------
    net : AssociativeMemory
        A memory fitted on ``patterns``.
    patterns : Tensor
        ``long (K, N)`` the stored patterns.
    noise : float
        Diffusion time handed to ``retrieve`` (only the oracle uses it).
    generator : torch.Generator
        Update order of asynchronous memories.
    cap : int
        Check at most the first ``cap`` patterns.
    chunk : int
        Patterns per ``retrieve`` call.

    Returns
    -------
    tuple of int
        ``(unstable, checked)``.  ``unstable > 0`` decides the criterion, so the check
        stops after the first chunk with an unstable pattern.
    """
    unstable = checked = 0
    stop = min(len(patterns), cap)
    for start in range(0, stop, chunk):
        block = patterns[start : min(start + chunk, stop)]  # (b, N)
        out = net.retrieve(block, noise=noise, max_steps=1, generator=generator).states
        unstable += int((out != block).any(dim=1).sum())
        checked += len(block)
        if unstable:
            break
    return unstable, checked


def retrieved_share(
    net: AssociativeMemory, targets: Tensor, *, flip: float, noise: float, queries: torch.Generator, dynamics
) -> tuple[float, float]:
    """Share of ``targets`` ``(P, N)`` retrieved with ``m >= 0.95`` from ``round(flip N)`` flips, and the mean ``m``.

    Queries are drawn from ``queries`` before the memory draws from ``dynamics``, so every
    memory gets the same queries.
    """
    N = targets.shape[1]
    q = flip_tokens(targets, round(flip * N), 2, generator=queries)  # (P, N)
    final = net.retrieve(q, noise=noise, generator=dynamics).states
    m = 2.0 * (final == targets).double().mean(dim=1) - 1.0  # overlap of +-1 codes, (P,)
    return float((m >= M_RETRIEVED).double().mean()), float(m.mean())


def evaluate(
    model: str,
    N: int,
    K: int,
    seed: int,
    criterion: str,
    *,
    flip: float,
    n_probe: int,
    fixed_point_cap: int,
) -> Outcome:
    """Fit ``model`` on the ``(N, K, seed)`` pattern set and evaluate one criterion.

    Parameters
    ----------
    model : str
        Display name of :mod:`experiments.zoo`.
    N, K, seed : int
        Pattern length, number of stored patterns, seed of the pattern set.
    criterion : {"exact", "m95"}
        Which criterion (module docstring).
    flip : float
        Fraction of flipped tokens of the ``m95`` queries; also sets the noise level the
        oracle denoises at, for both criteria.
    n_probe : int
        Stored patterns probed by ``m95``.
    fixed_point_cap : int
        Stored patterns checked by ``exact``.

    Returns
    -------
    Outcome
    """
    start, cpu = time.perf_counter(), time.process_time()
    ps = pattern_set(N, K, seed)
    net = zoo.build(model).fit(ps.train, vocab_size=2)
    noise = noise_for_flip(flip)  # the oracle denoises at the level the queries were made with
    if criterion == "exact":
        gen = _generator(seed, N, K, _DYNAMICS)
        bad, checked = unstable_patterns(net, ps.train, noise=noise, generator=gen, cap=fixed_point_cap)
        share, mean_m, passed = 1.0 - bad / checked, float("nan"), bad == 0
    elif criterion == "m95":
        targets = ps.train[: min(K, n_probe)]  # i.i.d. rows: the first ones are a random sample
        share, mean_m = retrieved_share(
            net,
            targets,
            flip=flip,
            noise=noise,
            queries=_generator(seed, N, K, _QUERIES),
            dynamics=_generator(seed, N, K, _DYNAMICS),
        )
        checked, passed = len(targets), share >= THRESHOLD
    else:
        raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}")
    return Outcome(
        bool(passed), share, mean_m, checked, ps.hash, time.perf_counter() - start, time.process_time() - cpu
    )

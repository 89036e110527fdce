"""Teaching demos: ``python -m experiments demo <letters|digits|beta|diffusion> --out DIR``.

Each demo stores a small real pattern set, runs the memories of :mod:`models` on it
through the contract only (``models.make``, ``fit``, ``retrieve(record=True)``,
``energy``), writes a PNG gallery and an animated GIF of the retrieval trajectories
(energy or conditional entropy beside the states) and prints a few lines of what the
viewer should notice, with the numbers measured in that run.

* :func:`letters`: the textbook demo (theory.md 1.5, 2.3): a few letters in a classical
  Hebbian net, retrieved from noise and from half-erased copies; all 26 letters overload
  it (mixtures, reversed states) while a dense and a modern net still retrieve them.
* :func:`digits`: correlated patterns break the classical net long before ``0.138 N``; the
  modern net and the exact Bayes denoiser (oracle) still separate them.
* :func:`beta`: the modern net's inverse temperature, from the global average through
  metastable class averages to single-pattern retrieval (theory.md 2.8).
* :func:`diffusion`: a diffusion memory of a few sentences restores a training sentence
  and has ~0 conditional entropy; one trained on many restores unseen sentences and
  writes new ones (paper.md 3, 6) -- see :mod:`experiments.demo_text`.

Every demo runs in well under a minute on 2 CPU cores (one torch thread), needs no
network, and is deterministic given ``seed``.  Each returns a :class:`Demo` with the
paths, the printed notes and the measured numbers (the tests check the notes' claims).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Demo", "DEMO_FUNCTIONS", "run", "letters", "digits", "beta", "diffusion"]


@dataclass
class Demo:
    """What a demo produced.

    Attributes
    ----------
    paths : list of Path
        Files written (the PNG gallery first, then the GIF, then any extras).
    notes : list of str
        The lines printed for the viewer.
    numbers : dict
        The measured quantities quoted in the notes (checked by the tests).
    seconds : float
        Wall time of the demo.
    """

    paths: list[Path]
    notes: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# ----------------------------------------------------------------------------------
# Shared helpers.
# ----------------------------------------------------------------------------------


def _generator(seed: int, stream: int = 0) -> torch.Generator:
    # One generator per use, so that adding a draw in one place does not change another.
    return torch.Generator().manual_seed(1000 * seed + stream)


def _outcomes(final: Tensor, targets: Tensor, stored: Tensor, converged: Tensor | None = None) -> list[str]:
    """Outcome class name of every final state (exact matches, theory.md 2.3 overlap bounds)."""
    from experiments.metrics import outcome_classes

    return list(outcome_classes(final, targets, stored, converged=converged, vocab_size=2))


def _nearest_targets(states: Tensor, stored: Tensor) -> Tensor:
    """The stored pattern nearest to each state (the 'target' of a start with no target)."""
    from experiments.metrics import nearest

    return stored[nearest(states, stored)[0]]


def _count(outcomes: list[str], *names: str) -> int:
    return sum(o in names for o in outcomes)


def _padded(r, T: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory ``(T, B, L)`` and energies ``(T, B)`` of a recorded retrieval as arrays."""
    traj, energies = r.trajectory.numpy(), r.energies.numpy()
    if T is not None and traj.shape[0] < T:  # rows that finished early hold their final state
        extra = T - traj.shape[0]
        traj = np.concatenate([traj, np.repeat(traj[-1:], extra, 0)])
        energies = np.concatenate([energies, np.repeat(energies[-1:], extra, 0)])
    return traj, energies


# ----------------------------------------------------------------------------------
# letters
# ----------------------------------------------------------------------------------


def letters(
    out_dir: Path | str,
    seed: int = 0,
    *,
    few: str = "ACMT",
    size: int = 16,
    flip: float = 0.2,
    n_random: int = 10,
) -> Demo:
    """The textbook demo: letters in a classical, a dense and a modern Hopfield net.

    Parameters
    ----------
    out_dir : path
        Output directory (``letters.png``, ``letters.gif``).
    seed : int
        Seed of the noise and of the update orders.
    few : str
        The few letters stored first; the default four are nearly uncorrelated in
        Pillow's default font (largest pairwise ``|m|`` 0.17), as the classical net needs.
    size : int
        Letter grid side (``N = size**2`` neurons).
    flip : float
        Fraction of pixels flipped in the noisy queries.
    n_random : int
        Random initial states for the spurious-state probe.

    Returns
    -------
    Demo
    """
    import models
    from experiments import demo_figures as dfig
    from experiments.corruption import erase, flip_fraction, random_states
    from experiments.metrics import overlap
    from experiments.patterns import letter_patterns, random_patterns

    start = time.perf_counter()
    out_dir = Path(out_dir)
    alphabet = letter_patterns(size=size)
    names, shape = alphabet.params["letters"], alphabet.params["shape"]
    X = alphabet.train  # (26, N)
    N = X.shape[1]
    unknown = [c for c in few if c not in names]
    if unknown or not few:
        raise ValueError(f"few must be a non-empty string of letters among {names!r}, got {few!r}")
    P = X[[names.index(c) for c in few]]  # (k, N)

    # 1. A few letters: noisy and half-erased queries (bottom half set to background).
    small = models.make("classical", rule="hebb").fit(P, vocab_size=2)
    noisy = flip_fraction(P, flip, 2, generator=_generator(seed, 1))
    erased = erase(P, 0.5, 0)
    r_noisy = small.retrieve(noisy, generator=_generator(seed, 2), record=True)
    r_erased = small.retrieve(erased, generator=_generator(seed, 3), record=True)
    ok_noisy = int((r_noisy.states == P).all(1).sum())
    ok_erased = int((r_erased.states == P).all(1).sum())

    # 2. Spurious states of the small net: random starts end on letters, reversed letters or mixtures.
    starts = random_states(n_random, N, 2, generator=_generator(seed, 4))
    r_random = small.retrieve(starts, generator=_generator(seed, 5))
    out_random = _outcomes(r_random.states, _nearest_targets(r_random.states, P), P, r_random.converged)

    # 3. All 26 letters, the same kind of noisy queries, three memories.
    noisy26 = flip_fraction(X, flip, 2, generator=_generator(seed, 6))
    nets = {
        "classical (Hebb)": models.make("classical", rule="hebb"),
        "dense (F = exp)": models.make("dense", F="exp", beta=0.5),
        "modern (beta = 1)": models.make("modern", beta=1.0),
    }
    big: dict[str, Any] = {}
    for label, net in nets.items():
        net.fit(X, vocab_size=2)
        big[label] = net.retrieve(noisy26, generator=_generator(seed, 7), record=True)
    out_big = {label: _outcomes(r.states, X, X, r.converged) for label, r in big.items()}
    classical26 = nets["classical (Hebb)"]
    r_random26 = classical26.retrieve(starts, generator=_generator(seed, 8))
    out_random26 = _outcomes(r_random26.states, _nearest_targets(r_random26.states, X), X, r_random26.converged)
    stable26 = int((classical26.retrieve(X, max_steps=1).states == X).all(1).sum())  # letters that are fixed points
    distinct26 = int(torch.unique(big["classical (Hebb)"].states, dim=0).shape[0])
    # Control: as many *random* patterns of the same size are retrieved -- correlation, not capacity (theory.md 1.5).
    rnd = random_patterns(len(names), N, seed=seed).train
    r_rnd = (
        models.make("classical", rule="hebb")
        .fit(rnd, vocab_size=2)
        .retrieve(flip_fraction(rnd, flip, 2, generator=_generator(seed, 9)), generator=_generator(seed, 10))
    )
    random_ok = int((r_rnd.states == rnd).all(1).sum())
    random_m = float(overlap(r_rnd.states, rnd).diagonal().mean())
    letters_m = float(overlap(big["classical (Hebb)"].states, X).diagonal().mean())

    numbers = {
        "n_few": len(few),
        "few_noisy_retrieved": ok_noisy,
        "few_erased_retrieved": ok_erased,
        "few_random": {o: out_random.count(o) for o in set(out_random)},
        "overload": {label: {o: outs.count(o) for o in set(outs)} for label, outs in out_big.items()},
        "overload_retrieved": {label: outs.count("retrieved") for label, outs in out_big.items()},
        "overload_stable": stable26,
        "overload_random": {o: out_random26.count(o) for o in set(out_random26)},
        "overload_distinct": distinct26,
        "random_control_retrieved": random_ok,
        "random_control_overlap": random_m,
        "overload_overlap": letters_m,
        "mean_overlap": _mean_overlap(X),
    }
    c26 = out_big["classical (Hebb)"]
    notes = [
        f"{len(few)} letters ({few}) in a classical Hebbian net of N = {N}: {ok_noisy}/{len(few)} retrieved from "
        f"{flip:.0%} flipped pixels and {ok_erased}/{len(few)} from the top half alone.",
        f"From {n_random} random states the same net ends on a letter {_count(out_random, 'retrieved')}x, on a "
        f"reversed letter (same energy) {_count(out_random, 'reversed')}x, in a mixture "
        f"{_count(out_random, 'mixture-like', 'near stored', 'spin-glass-like')}x.",
        f"All 26 letters (26 < 0.138 N = {0.138 * N:.0f}; mean |overlap| {_mean_overlap(X):.2f} vs "
        f"{_mean_overlap(rnd):.2f} for random patterns): the classical net retrieves {c26.count('retrieved')}/26, "
        f"the 26 noisy letters fall into {distinct26} distinct states; 26 random patterns in the same net: overlap "
        f"{random_m:.2f} ({random_ok}/26 exact). Correlation, not capacity.",
        "The same 26 noisy letters: dense net (exp) "
        f"{out_big['dense (F = exp)'].count('retrieved')}/26, modern net "
        f"{out_big['modern (beta = 1)'].count('retrieved')}/26 retrieved exactly.",
    ]

    # -- gallery ----------------------------------------------------------------------
    import matplotlib.pyplot as plt

    dfig.setup()
    fig = plt.figure(figsize=(15, 9.6))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 0.62], hspace=0.02)
    left, right = top.subfigures(1, 2, width_ratios=[1.0, 1.15], wspace=0.04)

    cols = ["stored", f"{flip:.0%} flipped", "retrieved", "top half only", "retrieved"]
    ax = left.subplots(len(few), len(cols), squeeze=False)
    outs_noisy = _outcomes(r_noisy.states, P, P)
    outs_erased = _outcomes(r_erased.states, P, P)
    for i in range(len(few)):
        row = [(P[i], None), (noisy[i], None), (r_noisy.states[i], outs_noisy[i])]
        row += [(erased[i], None), (r_erased.states[i], outs_erased[i])]
        for j, (state, outcome) in enumerate(row):
            edge = dfig.OUTCOME_COLOURS[outcome] if outcome else None
            dfig.show_state(ax[i, j], state, shape, title=cols[j] if i == 0 else None, edge=edge)
    left.suptitle(f"A. {len(few)} letters in a classical Hebbian net (N = {N})", x=0.02, ha="left")

    ax = right.subplots(2, n_random // 2 + n_random % 2, squeeze=False).ravel()
    for i, a in enumerate(ax):
        if i >= n_random:
            a.set_axis_off()
            continue
        dfig.show_state(a, r_random.states[i], shape, edge=dfig.OUTCOME_COLOURS[out_random[i]])
        a.set_xlabel(_short(out_random[i], P, r_random.states[i], few), fontsize=9)
    right.suptitle("B. The same net from random states: letters, reversed letters, mixtures", x=0.02, ha="left")

    rows = [("noisy query", noisy26, None)] + [(label, big[label].states, out_big[label]) for label in nets]
    ax = bottom.subplots(len(rows), 26, squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.12})
    for i, (label, states, outs) in enumerate(rows):
        for j in range(26):
            edge = dfig.OUTCOME_COLOURS[outs[j]] if outs else None
            dfig.show_state(ax[i, j], states[j], shape, edge=edge)
        ax[i, 0].set_ylabel(label.replace(" (", "\n("), fontsize=9, rotation=0, ha="right", va="center", labelpad=4)
    bottom.suptitle(
        f"C. All 26 letters stored (mean overlap {_mean_overlap(X):.2f}): classical {c26.count('retrieved')}/26, "
        f"dense {out_big['dense (F = exp)'].count('retrieved')}/26, "
        f"modern {out_big['modern (beta = 1)'].count('retrieved')}/26",
        x=0.02,
        ha="left",
    )
    seen = set(outs_noisy + outs_erased + out_random + [o for outs in out_big.values() for o in outs])
    dfig.outcome_legend(bottom, seen, loc="lower center", bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Letters in Hopfield networks: retrieval, overload, spurious states", y=1.01)
    png = dfig.save_png(fig, out_dir / "letters.png")

    # -- animation: the same noisy letters in the small net, the overloaded net and the modern net.
    idx = [names.index(c) for c in few]
    T = max(r_noisy.trajectory.shape[0], big["classical (Hebb)"].trajectory.shape[0])
    tracks = []
    for label, r, take, norm in (
        (f"classical, {len(few)} letters stored", r_noisy, slice(None), N),
        ("classical, 26 letters stored", big["classical (Hebb)"], idx, N),
        ("modern (beta = 1), 26 letters stored", big["modern (beta = 1)"], idx, 1),
    ):
        traj, energies = _padded(r, T)
        tracks.append(
            dfig.Track(
                label,
                traj[:, take],
                energies[:, take] / norm,
                curve_label="energy / N" if norm != 1 else "energy",
                shape=shape,
                captions=list(few),
                x_label="sweep / update",
            )
        )
    gif = dfig.animate(out_dir / "letters.gif", tracks, title=f"Retrieving {few} from {flip:.0%} noise")
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def _mean_overlap(X: Tensor) -> float:
    from experiments.metrics import overlap

    m = overlap(X, X).abs()
    k = m.shape[0]
    return float((m.sum() - m.diagonal().sum()) / (k * (k - 1)))


def _short(outcome: str, stored: Tensor, state: Tensor, names: str) -> str:
    """Label of a final state: which letter (or reversed letter) it is, or its class."""
    from experiments.metrics import overlap

    m = overlap(state[None], stored)[0]  # (k,)
    j = int(m.abs().argmax())
    if outcome == "retrieved":
        return f"letter {names[j]}"
    if outcome == "reversed":
        return f"reversed {names[j]}"
    return f"mixture\nmax |m| = {float(m.abs().max()):.2f}"


# ----------------------------------------------------------------------------------
# digits
# ----------------------------------------------------------------------------------


def digits(out_dir: Path | str, seed: int = 0, *, k_max: int = 20, n_flip: int = 6, modern_beta: float = 1.0) -> Demo:
    """Correlated 8x8 digits: the classical net breaks long before ``0.138 N``, the modern net and the oracle do not.

    Parameters
    ----------
    out_dir : path
        Output directory (``digits.png``, ``digits.gif``).
    seed : int
        Seed of the samples drawn per digit, the flips and the samplers.
    k_max : int
        Largest number of stored digits in the sweep (``2 <= k_max <= 20``; two samples per class).
    n_flip : int
        Pixels flipped in every query (of 64).
    modern_beta : float
        Inverse temperature of the modern net.

    Returns
    -------
    Demo
    """
    import models
    from experiments import demo_figures as dfig
    from experiments.corruption import flip
    from experiments.patterns import digit_patterns, random_patterns

    start = time.perf_counter()
    out_dir = Path(out_dir)
    if not 2 <= k_max <= 20:
        raise ValueError(f"k_max must lie in [2, 20], got {k_max!r}")
    ps = digit_patterns(per_class=2, n_test_per_class=0, seed=seed)
    shape, N = ps.params["shape"], ps.train.shape[1]
    D = ps.train  # (20, 64): rows 0..9 are one sample of each digit 0..9, rows 10..19 a second one
    R = random_patterns(20, N, seed=seed).train  # control: uncorrelated patterns of the same size
    queries = flip(D, n_flip, 2, generator=_generator(seed, 1))  # (20, 64), one query per stored digit
    queries_r = flip(R, n_flip, 2, generator=_generator(seed, 2))
    # The oracle needs the diffusion time whose expected changed fraction (1 - alpha_t)(1 - 1/V) is n_flip / N.
    t_query = min(1.0, 2 * n_flip / N / 0.999)
    makers = {
        "classical (Hebb)": lambda: models.make("classical", rule="hebb"),
        f"modern (beta = {modern_beta:g})": lambda: models.make("modern", beta=modern_beta),
        "oracle (Bayes denoiser)": lambda: models.make("oracle", sampler="ancestral", dt=0.02, seed=seed),
    }

    def recall(label: str, P: Tensor, Q: Tensor, record: bool = False):
        net = makers[label]().fit(P, vocab_size=2)
        r = net.retrieve(Q, noise=t_query, generator=_generator(seed, 3), record=record)
        return r, int((r.states == P).all(1).sum())

    ks = list(range(1, k_max + 1))
    curve = {label: [recall(label, D[:k], queries[:k])[1] for k in ks] for label in makers}
    curve["classical, random patterns"] = [recall("classical (Hebb)", R[:k], queries_r[:k])[1] for k in ks]
    k_show = min(10, k_max)
    shown = {label: recall(label, D[:k_show], queries[:k_show], record=True)[0] for label in makers}
    outs = {label: _outcomes(r.states, D[:k_show], D[:k_show], r.converged) for label, r in shown.items()}
    classical = curve["classical (Hebb)"]
    last_all = max((k for k, c in zip(ks, classical, strict=True) if c == k), default=0)
    distinct = int(torch.unique(shown["classical (Hebb)"].states, dim=0).shape[0])
    numbers = {
        "ks": ks,
        "curve": curve,
        "k_show": k_show,
        "retrieved_at_k_show": {label: curve[label][k_show - 1] for label in curve},
        "classical_all_up_to": last_all,
        "classical_distinct_at_k_show": distinct,
        "capacity_0138N": 0.138 * N,
        "mean_overlap": _mean_overlap(D[:k_show]),
        "mean_overlap_random": _mean_overlap(R[:k_show]),
    }
    modern_label, oracle_label = list(makers)[1:]
    k_rand = min(8, k_max)
    notes = [
        f"Classical Hebbian net, N = {N}: retrieves every stored digit only up to K = {last_all}; at K = {k_show} it "
        f"retrieves {classical[k_show - 1]}/{k_show} (0.138 N = {0.138 * N:.1f}); its {k_show} queries end in "
        f"{distinct} distinct state(s).",
        f"Random patterns in the same net: {curve['classical, random patterns'][k_rand - 1]}/{k_rand} at K = {k_rand}. "
        f"Digits overlap {_mean_overlap(D[:k_show]):.2f} on average vs {_mean_overlap(R[:k_show]):.2f}: correlation, "
        "not capacity, breaks it.",
        f"Modern net: {curve[modern_label][k_show - 1]}/{k_show} at K = {k_show}, {curve[modern_label][-1]}/{k_max} at "
        f"K = {k_max}; oracle (t = {t_query:.2f}): {curve[oracle_label][k_show - 1]}/{k_show} and "
        f"{curve[oracle_label][-1]}/{k_max}.",
    ]

    # -- gallery ----------------------------------------------------------------------
    import matplotlib.pyplot as plt

    dfig.setup()
    fig = plt.figure(figsize=(15, 6.4))
    left, right = fig.subfigures(1, 2, width_ratios=[2.1, 1.0], wspace=0.03)
    rows = [("stored", D[:k_show], None), (f"query ({n_flip} flips)", queries[:k_show], None)]
    rows += [(label, r.states, outs[label]) for label, r in shown.items()]
    ax = left.subplots(len(rows), k_show, squeeze=False, gridspec_kw={"wspace": 0.1, "hspace": 0.15})
    for i, (label, states, oc) in enumerate(rows):
        for j in range(k_show):
            edge = dfig.OUTCOME_COLOURS[oc[j]] if oc else None
            dfig.show_state(ax[i, j], states[j], shape, edge=edge)
        ax[i, 0].set_ylabel(label.replace(" (", "\n("), fontsize=9, rotation=0, ha="right", va="center", labelpad=4)
    left.suptitle(f"A. Query -> retrieved, K = {k_show} digits stored (N = {N})", x=0.02, ha="left")
    dfig.outcome_legend(left, {o for oc in outs.values() for o in oc}, loc="lower center", bbox_to_anchor=(0.5, -0.06))

    a = right.subplots()
    palette = plt.get_cmap("tab10").colors
    styles = {
        "classical (Hebb)": (palette[0], "-", "o"),
        modern_label: (palette[1], "-", "s"),
        oracle_label: (palette[2], "--", "^"),
        "classical, random patterns": (palette[0], ":", "x"),
    }
    for label, counts in curve.items():
        colour, ls, marker = styles[label]
        a.plot(ks, np.array(counts) / np.array(ks), ls, color=colour, marker=marker, ms=4, label=label)
    a.axvline(0.138 * N, color="0.4", lw=1, ls="--")
    a.text(0.138 * N + 0.2, 0.5, "0.138 N", rotation=90, va="center", color="0.3", fontsize=9)
    a.set_xlabel("K, stored patterns")
    a.set_ylabel("fraction retrieved exactly")
    a.set_ylim(-0.03, 1.05)
    a.set_xticks([k for k in (1, 5, 10, 15, 20) if k <= k_max])
    a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    right.suptitle("B. Retrieval vs number stored", x=0.02, ha="left")
    fig.suptitle("Handwritten digits (scikit-learn 8x8): correlated memories", y=1.03)
    png = dfig.save_png(fig, out_dir / "digits.png")

    T = max(r.trajectory.shape[0] for r in shown.values())
    tracks = []
    for label, r in shown.items():
        traj, energies = _padded(r, T)
        tracks.append(dfig.Track(label, traj, energies, shape=shape, x_label="update"))
    gif = dfig.animate(out_dir / "digits.gif", tracks, title=f"{k_show} digits stored, queries with {n_flip} flips")
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


# ----------------------------------------------------------------------------------
# beta
# ----------------------------------------------------------------------------------

#: Inverse temperatures of the beta sweep (spin codes, overlaps in [-64, 64]).
BETAS = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0)


def _tight_clusters(classes: tuple[int, ...], size: int, seed: int) -> tuple[Tensor, Tensor]:
    """``size`` mutually most similar, distinct samples of each digit class (greedy), and their labels."""
    from experiments.metrics import overlap
    from experiments.patterns import digit_patterns

    pool = digit_patterns(per_class=150, classes=classes, n_test_per_class=0, seed=seed)
    labels = torch.tensor(list(classes) * 150)
    rows, tags = [], []
    for c in classes:
        Xc = torch.unique(pool.train[labels == c], dim=0)  # binarised duplicates would be one memory twice
        m = overlap(Xc, Xc)  # (n, n)
        chosen = [int(m.sum(1).argmax())]  # the most central sample first
        while len(chosen) < size:
            score = m[:, chosen].min(1).values  # closest to *all* chosen so far
            score[chosen] = -2.0
            chosen.append(int(score.argmax()))
        rows.append(Xc[chosen])
        tags += [c] * size
    return torch.cat(rows), torch.tensor(tags)


def beta(
    out_dir: Path | str,
    seed: int = 0,
    *,
    betas: tuple[float, ...] = BETAS,
    classes: tuple[int, ...] = (0, 1, 3, 4, 7),
    per_class: int = 4,
    query_class: int = 3,
    n_flip: int = 6,
) -> Demo:
    """The modern net's inverse temperature: global average, metastable class average, single pattern.

    The stored set holds ``per_class`` very similar samples of each digit (theory.md 2.8:
    metastable states average a subset of *similar* patterns).  One noisy query is run to
    its fixed point at every ``beta``; the gallery shows the continuous fixed point as grey
    levels and the association weights ``softmax(beta X xi)`` over the stored patterns.

    Parameters
    ----------
    out_dir : path
        Output directory (``beta.png``, ``beta.gif``).
    seed : int
        Seed of the digit samples and the flips.
    betas : tuple of float
        The sweep, increasing.
    classes : tuple of int
        Digit classes stored.
    per_class : int
        Similar samples stored per class.
    query_class : int
        Class (in ``classes``) of the stored sample the query is made from (its first sample).
    n_flip : int
        Pixels flipped in the query.

    Returns
    -------
    Demo
    """
    import models
    from experiments import demo_figures as dfig
    from experiments.corruption import flip

    start = time.perf_counter()
    out_dir = Path(out_dir)
    P, tags = _tight_clusters(tuple(classes), per_class, seed)  # (K, 64), (K,)
    K, shape = P.shape[0], (8, 8)
    if query_class not in classes:
        raise ValueError(f"query_class must be one of classes={classes!r}, got {query_class!r}")
    own = list(classes).index(query_class) * per_class  # the query is made from the first sample of its class
    query = flip(P[own : own + 1], n_flip, 2, generator=_generator(seed, 1))  # (1, 64)
    same = tags == tags[own]

    fixed, weights, energies, steps = [], [], [], []
    for b in betas:
        net = models.make("modern", beta=float(b), max_steps=300).fit(P, vocab_size=2)
        xi, n_steps, _ = net.retrieve_continuous(query)  # (1, 64) float64 fixed point
        fixed.append(xi[0].numpy())
        weights.append(net.association(xi)[0].numpy())  # (K,)
        energies.append(float(net.retrieve(query, record=True).energies[-1, 0]))
        steps.append(int(n_steps[0]))
    W = np.stack(weights)  # (n_beta, K)
    n_eff = 1.0 / (W**2).sum(1)  # effective number of patterns averaged
    regimes = [
        "global" if n > 0.75 * K else ("single" if w.max() > 0.9 else "metastable")
        for n, w in zip(n_eff, W, strict=True)
    ]
    share_same = W[:, same.numpy()].sum(1)

    def first(regime: str) -> int | None:
        return next((i for i, r in enumerate(regimes) if r == regime), None)

    i_g, i_m, i_s = first("global"), first("metastable"), first("single")
    numbers = {
        "betas": list(betas),
        "n_eff": n_eff.tolist(),
        "share_same_class": share_same.tolist(),
        "weight_own": W[:, own].tolist(),
        "regimes": regimes,
        "steps": steps,
    }
    digit = int(tags[own])
    notes = []
    if i_g is not None:
        notes.append(
            f"beta = {betas[i_g]:g}: the fixed point is the global average -- weight spread over {n_eff[i_g]:.1f} of "
            f"the {K} stored patterns, {share_same[i_g]:.0%} on the {per_class} '{digit}'s."
        )
    if i_m is not None:
        notes.append(
            f"beta = {betas[i_m]:g}: metastable state -- the average of the similar '{digit}'s ({n_eff[i_m]:.1f} "
            f"patterns, {share_same[i_m]:.0%} of the weight on them; {steps[i_m]} updates to converge)."
        )
    if i_s is not None:
        notes.append(
            f"beta = {betas[i_s]:g}: single-pattern retrieval -- weight {W[i_s, own]:.3f} on the stored sample the "
            f"query was made from ({n_flip} of 64 pixels flipped)."
        )

    # -- gallery ----------------------------------------------------------------------
    import matplotlib.pyplot as plt

    dfig.setup()
    nb = len(betas)
    fig = plt.figure(figsize=(15, 7.6))
    top, mid, bottom = fig.subfigures(3, 1, height_ratios=[0.55, 1.0, 0.95], hspace=0.0)
    ax = top.subplots(1, K + 2, gridspec_kw={"wspace": 0.1, "width_ratios": [1] * K + [0.6, 1]})
    palette = plt.get_cmap("tab10").colors
    colour = {c: palette[i % 10] for i, c in enumerate(classes)}
    for j in range(K):
        dfig.show_state(ax[j], P[j], shape, edge=colour[int(tags[j])] if j != own else "black")
    ax[K].set_axis_off()
    dfig.show_state(ax[K + 1], query[0], shape, title="query", edge="black")
    ax[own].set_title("source", fontsize=9, pad=2)
    top.suptitle(f"A. Stored: {per_class} similar samples of each digit {list(classes)}, K = {K}", x=0.01, ha="left")

    ax = mid.subplots(1, nb, gridspec_kw={"wspace": 0.15})
    for j in range(nb):
        dfig.show_state(ax[j], fixed[j], shape, continuous=True, title=f"beta = {betas[j]:g}\n{regimes[j]}")
        ax[j].set_xlabel(f"{n_eff[j]:.1f} patterns", fontsize=9)
    mid.subplots_adjust(top=0.78, bottom=0.08)
    mid.suptitle("B. Fixed point of the continuous state (grey levels: -1 white, +1 black)", x=0.01, ha="left")

    ax = bottom.subplots(1, nb, sharey=True, gridspec_kw={"wspace": 0.08})
    for j in range(nb):
        bars = ax[j].bar(np.arange(K), W[j], color=[colour[int(t)] for t in tags], width=0.85)
        bars[own].set_edgecolor("black")
        bars[own].set_linewidth(1.2)
        ax[j].set_xticks([own], [digit])
        ax[j].set_ylim(0, 1.02)
        ax[j].set_title(f"beta = {betas[j]:g}", fontsize=9)
    ax[0].set_ylabel("association weight")
    bottom.subplots_adjust(top=0.78, bottom=0.1)
    bottom.suptitle(
        "C. Association weights softmax(beta X xi) at the fixed point, one bar per stored pattern", x=0.01, ha="left"
    )
    fig.suptitle("The modern Hopfield net's inverse temperature beta: three kinds of fixed points", y=1.03)
    png = dfig.save_png(fig, out_dir / "beta.png")

    # -- animation: the continuous state at one beta per regime, energy beside it.
    picks = [i for i in (i_g, i_m, i_s) if i is not None]
    T = min(max(steps[i] for i in picks) + 1, 31)  # the metastable run converges slowly; 30 updates show it
    tracks = []
    for i in picks:
        net = models.make("modern", beta=float(betas[i]), max_steps=T - 1).fit(P, vocab_size=2)
        states = [net.encode(query)]
        for _ in range(T - 1):
            states.append(net.update(states[-1]))  # the same update retrieve() iterates
        r = net.retrieve(query, record=True)
        traj = torch.stack(states).numpy()  # (T, 1, 64)
        e = r.energies.numpy()
        e = np.concatenate([e, np.repeat(e[-1:], T - e.shape[0], 0)]) if e.shape[0] < T else e[:T]
        label = f"beta = {betas[i]:g} ({regimes[i]})"
        tracks.append(dfig.Track(label, traj, e, shape=shape, continuous=True, x_label="update"))
    gif = dfig.animate(out_dir / "beta.gif", tracks, title="One query, three temperatures", width=7.0, fps=4)
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


# ----------------------------------------------------------------------------------
# The registry used by the command line.
# ----------------------------------------------------------------------------------


def diffusion(out_dir: Path | str, seed: int = 0, **options: Any) -> Demo:
    """Diffusion memory of sentences; see :func:`experiments.demo_text.diffusion`."""
    from experiments.demo_text import diffusion as run_diffusion

    return run_diffusion(out_dir, seed, **options)


DEMO_FUNCTIONS: dict[str, Callable[..., Demo]] = {
    "letters": letters,
    "digits": digits,
    "beta": beta,
    "diffusion": diffusion,
}


def run(name: str, out_dir: Path | str, seed: int = 0, **options: Any) -> list[Path]:
    """Run the demo ``name``, print what to notice, and return the files written.

    Parameters
    ----------
    name : {"letters", "digits", "beta", "diffusion"}
        Which demo.
    out_dir : path
        Output directory (created).
    seed : int
        Random seed.
    **options
        Keyword arguments of the demo function (e.g. faster settings for tests).

    Returns
    -------
    list of Path
        The PNG gallery, the GIF and any further files.
    """
    if name not in DEMO_FUNCTIONS:
        raise ValueError(f"unknown demo {name!r}; choose from {sorted(DEMO_FUNCTIONS)}")
    from models.threads import torch_threads

    with torch_threads(1):  # tiny kernels: OpenMP overhead dominates (paper.md 6.1)
        demo = DEMO_FUNCTIONS[name](out_dir, seed, **options)
    print(f"== demo {name}: {demo.seconds:.1f} s")
    for line in demo.notes:
        print(f" * {line}")
    return demo.paths

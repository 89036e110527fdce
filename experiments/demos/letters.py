"""``python -m experiments demo letters``: the textbook demo, letters in Hopfield nets.

A few letters in a classical Hebbian net are retrieved from noise and from half-erased
copies; from random states the same net also ends in reversed letters and mixtures
(Amit, Gutfreund & Sompolinsky 1985).  All 26 letters overload it -- not for lack of
capacity (26 < 0.138 N) but because letters are correlated -- while a dense (Krotov &
Hopfield 2016) and a modern (Ramsauer et al. 2021) net still retrieve them.

Steps: :func:`_few_letters` (the small net), :func:`_all_letters` (overload and a random
control), :func:`_notes`, :func:`_gallery`, :func:`_animation`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import models
from experiments.corruption import erase, flip_fraction, random_states
from experiments.demos import animation, drawing
from experiments.demos.common import Demo, count, generator, mean_overlap, nearest_targets, outcomes, padded
from experiments.metrics import overlap
from experiments.patterns import letter_patterns, random_patterns

__all__ = ["letters"]

#: The three memories of the overload panel: key of the measured numbers -> registry name and hyperparameters.
NETS = {
    "classical (Hebb)": ("classical", {"rule": "hebb"}),
    "dense (F = exp)": ("dense", {"F": "exp", "beta": 0.5}),
    "modern (beta = 1)": ("modern", {"beta": 1.0}),
}
#: Their typeset labels (the styles of :mod:`experiments.style`; the dense net here has beta = 0.5).
LABELS = {"classical (Hebb)": "Hebb", "dense (F = exp)": "dense exp (β = 0.5)", "modern (beta = 1)": "modern β = 1"}


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
    start = time.perf_counter()
    out_dir = Path(out_dir)
    alphabet = letter_patterns(size=size)
    names = alphabet.params["letters"]
    unknown = [c for c in few if c not in names]
    if unknown or not few:
        raise ValueError(f"few must be a non-empty string of letters among {names!r}, got {few!r}")
    P = alphabet.train[[names.index(c) for c in few]]  # (k, N)
    small = _few_letters(P, flip, n_random, seed)
    big = _all_letters(alphabet.train, flip, seed, small["starts"])
    numbers = _numbers(few, small, big, alphabet.train)
    notes = _notes(few, flip, n_random, small, big, alphabet.train)
    png = _gallery(out_dir / "letters.png", alphabet, few, P, flip, n_random, small, big)
    gif = _animation(out_dir / "letters.gif", alphabet, few, flip, small, big)
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def _few_letters(P: Tensor, flip: float, n_random: int, seed: int) -> dict[str, Any]:
    """A few letters in a Hebbian net: noisy and half-erased queries, then random starts."""
    small = models.make("classical", rule="hebb").fit(P, vocab_size=2)
    noisy = flip_fraction(P, flip, 2, generator=generator(seed, 1))
    erased = erase(P, 0.5, 0)  # the bottom half set to background
    r_noisy = small.retrieve(noisy, generator=generator(seed, 2), record=True)
    r_erased = small.retrieve(erased, generator=generator(seed, 3), record=True)
    # Spurious states of the small net: random starts end on letters, reversed letters or mixtures.
    starts = random_states(n_random, P.shape[1], 2, generator=generator(seed, 4))
    r_random = small.retrieve(starts, generator=generator(seed, 5))
    return {
        "noisy": noisy,
        "erased": erased,
        "r_noisy": r_noisy,
        "r_erased": r_erased,
        "ok_noisy": int((r_noisy.states == P).all(1).sum()),
        "ok_erased": int((r_erased.states == P).all(1).sum()),
        "starts": starts,
        "r_random": r_random,
        "out_random": outcomes(r_random.states, nearest_targets(r_random.states, P), P, r_random.converged),
    }


def _all_letters(X: Tensor, flip: float, seed: int, starts: Tensor) -> dict[str, Any]:
    """All 26 letters, the same kind of noisy queries, three memories; and 26 random patterns as control."""
    N = X.shape[1]
    noisy26 = flip_fraction(X, flip, 2, generator=generator(seed, 6))
    nets = {label: models.make(name, **hyper).fit(X, vocab_size=2) for label, (name, hyper) in NETS.items()}
    runs = {label: net.retrieve(noisy26, generator=generator(seed, 7), record=True) for label, net in nets.items()}
    classical = nets["classical (Hebb)"]
    r_random26 = classical.retrieve(starts, generator=generator(seed, 8))
    # Control: as many *random* patterns of the same size are retrieved -- correlation, not capacity.
    rnd = random_patterns(X.shape[0], N, seed=seed).train
    r_rnd = (
        models.make("classical", rule="hebb")
        .fit(rnd, vocab_size=2)
        .retrieve(flip_fraction(rnd, flip, 2, generator=generator(seed, 9)), generator=generator(seed, 10))
    )
    return {
        "noisy": noisy26,
        "runs": runs,
        "outs": {label: outcomes(r.states, X, X, r.converged) for label, r in runs.items()},
        "out_random": outcomes(r_random26.states, nearest_targets(r_random26.states, X), X, r_random26.converged),
        "stable": int((classical.retrieve(X, max_steps=1).states == X).all(1).sum()),  # letters that are fixed points
        "distinct": int(torch.unique(runs["classical (Hebb)"].states, dim=0).shape[0]),
        "random_ok": int((r_rnd.states == rnd).all(1).sum()),
        "random_m": float(overlap(r_rnd.states, rnd).diagonal().mean()),
        "letters_m": float(overlap(runs["classical (Hebb)"].states, X).diagonal().mean()),
        "random_mean_overlap": mean_overlap(rnd),
    }


def _tally(names: list[str]) -> dict[str, int]:
    return {o: names.count(o) for o in set(names)}


def _numbers(few: str, small: dict, big: dict, X: Tensor) -> dict[str, Any]:
    return {
        "n_few": len(few),
        "few_noisy_retrieved": small["ok_noisy"],
        "few_erased_retrieved": small["ok_erased"],
        "few_random": _tally(small["out_random"]),
        "overload": {label: _tally(outs) for label, outs in big["outs"].items()},
        "overload_retrieved": {label: outs.count("retrieved") for label, outs in big["outs"].items()},
        "overload_stable": big["stable"],
        "overload_random": _tally(big["out_random"]),
        "overload_distinct": big["distinct"],
        "random_control_retrieved": big["random_ok"],
        "random_control_overlap": big["random_m"],
        "overload_overlap": big["letters_m"],
        "mean_overlap": mean_overlap(X),
    }


def _notes(few: str, flip: float, n_random: int, small: dict, big: dict, X: Tensor) -> list[str]:
    N, k = X.shape[1], len(few)
    out_random, outs = small["out_random"], big["outs"]
    c26 = outs["classical (Hebb)"]
    return [
        f"{k} letters ({few}) in a classical Hebbian net of N = {N}: {small['ok_noisy']}/{k} retrieved from "
        f"{flip:.0%} flipped pixels and {small['ok_erased']}/{k} from the top half alone.",
        f"From {n_random} random states the same net ends on a letter {count(out_random, 'retrieved')}x, on a "
        f"reversed letter (same energy) {count(out_random, 'reversed')}x, in a mixture "
        f"{count(out_random, 'mixture-like', 'near stored', 'spin-glass-like')}x.",
        f"All 26 letters (26 < 0.138 N = {0.138 * N:.0f}; mean |overlap| {mean_overlap(X):.2f} vs "
        f"{big['random_mean_overlap']:.2f} for random patterns): the classical net retrieves "
        f"{c26.count('retrieved')}/26, the 26 noisy letters fall into {big['distinct']} distinct states; 26 random "
        f"patterns in the same net: overlap {big['random_m']:.2f} ({big['random_ok']}/26 exact). Correlation, not "
        "capacity.",
        "The same 26 noisy letters: dense net (exp) "
        f"{outs['dense (F = exp)'].count('retrieved')}/26, modern net "
        f"{outs['modern (beta = 1)'].count('retrieved')}/26 retrieved exactly.",
    ]


def _short(outcome: str, stored: Tensor, state: Tensor, names: str) -> str:
    """Label of a final state: which letter (or reversed letter) it is, or its class."""
    m = overlap(state[None], stored)[0]  # (k,)
    j = int(m.abs().argmax())
    if outcome == "retrieved":
        return f"letter {names[j]}"
    if outcome == "reversed":
        return f"reversed {names[j]}"
    return f"mixture\nmax |m| = {float(m.abs().max()):.2f}"


def _gallery(path: Path, alphabet, few: str, P: Tensor, flip: float, n_random: int, small: dict, big: dict) -> Path:
    """A: the few letters and their queries; B: random starts; C: all 26 letters in three nets."""
    import matplotlib.pyplot as plt

    shape, X = alphabet.params["shape"], alphabet.train
    drawing.setup()
    fig = plt.figure(figsize=(15, 9.6))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 0.62], hspace=0.02)
    left, right = top.subfigures(1, 2, width_ratios=[1.0, 1.15], wspace=0.04)
    seen = _panel_queries(left, few, P, flip, small, shape)
    _panel_random(right, few, P, n_random, small, shape)
    seen |= _panel_overload(bottom, X, big, shape)
    seen |= set(small["out_random"])
    drawing.outcome_legend(bottom, seen, loc="lower center", bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Letters in Hopfield networks: retrieval, overload, spurious states", y=1.01)
    return drawing.save_png(fig, path)


def _panel_queries(sub, few: str, P: Tensor, flip: float, small: dict, shape) -> set[str]:
    cols = ["stored", f"{flip:.0%} flipped", "retrieved", "top half only", "retrieved"]
    ax = sub.subplots(len(few), len(cols), squeeze=False)
    outs_noisy = outcomes(small["r_noisy"].states, P, P)
    outs_erased = outcomes(small["r_erased"].states, P, P)
    for i in range(len(few)):
        row = [(P[i], None), (small["noisy"][i], None), (small["r_noisy"].states[i], outs_noisy[i])]
        row += [(small["erased"][i], None), (small["r_erased"].states[i], outs_erased[i])]
        for j, (state, outcome) in enumerate(row):
            drawing.show_state(ax[i, j], state, shape, title=cols[j] if i == 0 else None, edge=drawing.frame(outcome))
    sub.suptitle(f"A. {len(few)} letters in a classical Hebbian net (N = {P.shape[1]})", x=0.02, ha="left")
    return set(outs_noisy + outs_erased)


def _panel_random(sub, few: str, P: Tensor, n_random: int, small: dict, shape) -> None:
    ax = sub.subplots(2, n_random // 2 + n_random % 2, squeeze=False).ravel()
    r_random, out_random = small["r_random"], small["out_random"]
    for i, a in enumerate(ax):
        if i >= n_random:
            a.set_axis_off()
            continue
        drawing.show_state(a, r_random.states[i], shape, edge=drawing.frame(out_random[i]))
        a.set_xlabel(_short(out_random[i], P, r_random.states[i], few), fontsize=9)
    sub.suptitle("B. The same net from random states: letters, reversed letters, mixtures", x=0.02, ha="left")


def _panel_overload(sub, X: Tensor, big: dict, shape) -> set[str]:
    outs = big["outs"]
    rows = [("noisy query", big["noisy"], None)]
    rows += [(LABELS[key], big["runs"][key].states, outs[key]) for key in NETS]
    ax = sub.subplots(len(rows), 26, squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.12})
    for i, (label, states, oc) in enumerate(rows):
        for j in range(26):
            drawing.show_state(ax[i, j], states[j], shape, edge=drawing.frame(oc[j] if oc else None))
        ax[i, 0].set_ylabel(label.replace(" (", "\n("), fontsize=9, rotation=0, ha="right", va="center", labelpad=4)
    sub.suptitle(
        f"C. All 26 letters stored (mean overlap {mean_overlap(X):.2f}): Hebb "
        f"{outs['classical (Hebb)'].count('retrieved')}/26, dense {outs['dense (F = exp)'].count('retrieved')}/26, "
        f"modern {outs['modern (beta = 1)'].count('retrieved')}/26 retrieved",
        x=0.02,
        ha="left",
    )
    return {o for oc in outs.values() for o in oc}


def _animation(path: Path, alphabet, few: str, flip: float, small: dict, big: dict) -> Path:
    """The same noisy letters in the small net, the overloaded net and the modern net, energy beside them."""
    names, shape = alphabet.params["letters"], alphabet.params["shape"]
    N = alphabet.train.shape[1]
    idx = [names.index(c) for c in few]
    runs = big["runs"]
    T = max(small["r_noisy"].trajectory.shape[0], runs["classical (Hebb)"].trajectory.shape[0])
    tracks = []
    for label, r, take, norm in (
        (f"Hebb, {len(few)} letters stored: retrieves them", small["r_noisy"], slice(None), N),
        ("Hebb, all 26 letters stored: falls into mixtures", runs["classical (Hebb)"], idx, N),
        ("modern β = 1, all 26 letters stored: retrieves them", runs["modern (beta = 1)"], idx, 1),
    ):
        traj, energies = padded(r, T)
        tracks.append(
            animation.Track(
                label,
                traj[:, take],
                energies[:, take] / norm,
                curve_label="energy / N" if norm != 1 else "energy",
                shape=shape,
                captions=list(few),
                x_label="sweep / update",
            )
        )
    return animation.animate(path, tracks, title=f"Retrieving {few} from {flip:.0%} flipped pixels")

"""``python -m experiments demo beta``: the modern net's inverse temperature, three kinds of fixed points.

The stored set holds a few very similar samples of each of five digits.  One noisy query is
run to its fixed point at every ``beta``: at small ``beta`` the fixed point is the global
average of all patterns, at intermediate ``beta`` a metastable state that averages the
similar samples of one class, at large ``beta`` the single stored sample the query came from
(Ramsauer et al. 2021, section 2).

Steps: :func:`tight_clusters` (the stored set), :func:`_sweep` (fixed point and association
weights per ``beta``), :func:`_notes`, :func:`_gallery`, :func:`_animation`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import models
from experiments.corruption import flip
from experiments.demos import animation, drawing
from experiments.demos.common import Demo, generator
from experiments.metrics import overlap
from experiments.patterns import digit_patterns
from experiments.style import SERIES_COLOURS, series_colour

__all__ = ["BETAS", "beta", "tight_clusters"]

#: Inverse temperatures of the beta sweep (spin codes, overlaps in [-64, 64]).
BETAS = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0)
SHAPE = (8, 8)  # scikit-learn's digits


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

    The stored set holds ``per_class`` very similar samples of each digit (metastable states
    average a subset of *similar* patterns).  One noisy query is run to its fixed point at
    every ``beta``; the gallery shows the continuous fixed point as grey levels and the
    association weights ``softmax(beta X xi)`` over the stored patterns.

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
        Pixels flipped in the query (redrawn until the source is its one nearest stored pattern).

    Returns
    -------
    Demo
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    P, tags = tight_clusters(tuple(classes), per_class, seed)  # (K, 64), (K,)
    if query_class not in classes:
        raise ValueError(f"query_class must be one of classes={classes!r}, got {query_class!r}")
    own = list(classes).index(query_class) * per_class  # the query is made from the first sample of its class
    query = _query(P, own, n_flip, generator(seed, 1))  # (1, 64)
    sweep = _sweep(P, query, betas, tags == tags[own], own)
    numbers = {key: sweep[key] for key in ("n_eff", "share_same_class", "weight_own", "regimes", "steps")}
    numbers = {"betas": list(betas), **numbers}
    notes = _notes(sweep, betas, P.shape[0], per_class, int(tags[own]), n_flip, own)
    png = _gallery(out_dir / "beta.png", sweep, P, tags, query, betas, classes, per_class, own)
    gif = _animation(out_dir / "beta.gif", sweep, P, query, betas, int(tags[own]))
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def _query(P: Tensor, own: int, n_flip: int, gen: torch.Generator, tries: int = 100) -> Tensor:
    """``n_flip`` random flips of ``P[own]`` that leave it the one stored pattern nearest to the query.

    The stored samples of a class are near-identical, so some draws land as close to (or closer
    to) a sibling as to the source: then no beta singles the source out (a tie splits the weight
    evenly at every beta).  Such draws are redrawn from the same generator.
    """
    for _ in range(tries):
        query = flip(P[own : own + 1], n_flip, 2, generator=gen)  # (1, K)
        distance = (P != query).sum(1)  # (K,)
        if (distance > distance[own]).sum() == len(P) - 1:
            return query
    raise ValueError(f"no {n_flip}-pixel flip of pattern {own} in {tries} draws keeps it the nearest; use fewer flips")


def tight_clusters(classes: tuple[int, ...], size: int, seed: int) -> tuple[Tensor, Tensor]:
    """``size`` mutually most similar, distinct samples of each digit class (greedy), and their labels."""
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


def _sweep(P: Tensor, query: Tensor, betas, same: Tensor, own: int) -> dict[str, Any]:
    """Fixed point, association weights, final energy and steps per ``beta``; the regime of each."""
    fixed, weights, energies, steps = [], [], [], []
    for b in betas:
        net = models.make("modern", beta=float(b), max_steps=300).fit(P, vocab_size=2)
        xi, n_steps, _ = net.retrieve_continuous(query)  # (1, 64) float64 fixed point
        fixed.append(xi[0].numpy())
        weights.append(net.association(xi)[0].numpy())  # (K,)
        energies.append(float(net.retrieve(query, record=True).energies[-1, 0]))
        steps.append(int(n_steps[0]))
    W = np.stack(weights)  # (n_beta, K)
    K = P.shape[0]
    n_eff = 1.0 / (W**2).sum(1)  # effective number of patterns averaged
    regimes = [
        "global" if n > 0.75 * K else ("single" if w.max() > 0.9 else "metastable")
        for n, w in zip(n_eff, W, strict=True)
    ]
    first = {r: next((i for i, x in enumerate(regimes) if x == r), None) for r in ("global", "metastable", "single")}
    return {
        "fixed": fixed,
        "W": W,
        "n_eff": n_eff.tolist(),
        "share_same_class": W[:, same.numpy()].sum(1).tolist(),
        "weight_own": W[:, own].tolist(),
        "regimes": regimes,
        "steps": steps,
        "first": first,
    }


def _notes(sweep: dict, betas, K: int, per_class: int, digit: int, n_flip: int, own: int) -> list[str]:
    n_eff, share, steps, W = sweep["n_eff"], sweep["share_same_class"], sweep["steps"], sweep["W"]
    i_g, i_m, i_s = (sweep["first"][r] for r in ("global", "metastable", "single"))
    notes = []
    if i_g is not None:
        notes.append(
            f"beta = {betas[i_g]:g}: the fixed point is the global average -- weight spread over {n_eff[i_g]:.1f} of "
            f"the {K} stored patterns, {share[i_g]:.0%} on the {per_class} '{digit}'s."
        )
    if i_m is not None:
        notes.append(
            f"beta = {betas[i_m]:g}: metastable state -- the average of the similar '{digit}'s ({n_eff[i_m]:.1f} "
            f"patterns, {share[i_m]:.0%} of the weight on them; {steps[i_m]} updates to converge)."
        )
    if i_s is not None:
        notes.append(
            f"beta = {betas[i_s]:g}: single-pattern retrieval -- weight {W[i_s, own]:.3f} on the stored sample the "
            f"query was made from ({n_flip} of 64 pixels flipped)."
        )
    return notes


def _gallery(path: Path, sweep: dict, P, tags, query, betas, classes, per_class: int, own: int) -> Path:
    """A: the stored set and the query; B: the fixed point per ``beta``; C: its association weights."""
    import matplotlib.pyplot as plt

    drawing.setup()
    K, shape, nb = P.shape[0], SHAPE, len(betas)
    fig = plt.figure(figsize=(15, 7.6))
    top, mid, bottom = fig.subfigures(3, 1, height_ratios=[0.55, 1.0, 0.95], hspace=0.0)
    colour = _class_colours(classes)
    ax = top.subplots(1, K + 2, gridspec_kw={"wspace": 0.1, "width_ratios": [1] * K + [0.6, 1]})
    for j in range(K):
        drawing.show_state(ax[j], P[j], shape, edge=colour[int(tags[j])] if j != own else "black")
        if j % per_class == 0:  # each class named once, in its colour, over its first sample
            ax[j].set_title(f"'{int(tags[j])}'", fontsize=9, pad=2, color=colour[int(tags[j])], fontweight="bold")
    ax[K].set_axis_off()
    drawing.show_state(ax[K + 1], query[0], shape, title="query", edge="black")
    ax[own].set_xlabel("source", fontsize=9, labelpad=2)
    top.suptitle(
        f"A. Stored: {per_class} similar samples of each digit {list(classes)}, K = {K} (frame colour: the digit; "
        "black: the sample the query was made from)",
        x=0.01,
        ha="left",
    )

    ax = mid.subplots(1, nb, gridspec_kw={"wspace": 0.15})
    for j in range(nb):
        title = f"β = {betas[j]:g}\n{sweep['regimes'][j]}"
        drawing.show_state(ax[j], sweep["fixed"][j], shape, continuous=True, title=title)
        ax[j].set_xlabel(f"{sweep['n_eff'][j]:.1f} patterns", fontsize=9)
    mid.subplots_adjust(top=0.78, bottom=0.08)
    mid.suptitle("B. Fixed point of the continuous state (grey levels: -1 white, +1 black)", x=0.01, ha="left")

    _panel_weights(bottom, sweep["W"], tags, colour, betas, own)
    fig.suptitle("The modern Hopfield net's inverse temperature β: three kinds of fixed points", y=1.03)
    return drawing.save_png(fig, path)


def _panel_weights(sub, W, tags, colour, betas, own: int) -> None:
    K = W.shape[1]
    labels = list(dict.fromkeys(str(int(t)) for t in tags))  # classes in storage order
    per = K // len(labels)
    ax = sub.subplots(1, len(betas), sharey=True, gridspec_kw={"wspace": 0.08})
    for j in range(len(betas)):
        bars = ax[j].bar(np.arange(K), W[j], color=[colour[int(t)] for t in tags], width=0.85)
        bars[own].set_edgecolor("black")
        bars[own].set_linewidth(1.2)
        centres = [k * per + (per - 1) / 2 for k in range(len(labels))]  # the middle bar of each class
        ax[j].set_xticks(centres, labels, fontsize=8)
        for tick, c in zip(ax[j].get_xticklabels(), labels, strict=True):
            tick.set_color(colour[int(c)])
        ax[j].set_ylim(0, 1.02)
        ax[j].set_title(f"β = {betas[j]:g}", fontsize=9)
    ax[0].set_ylabel("association weight")
    sub.subplots_adjust(top=0.78, bottom=0.1)
    sub.suptitle(
        "C. Association weights softmax(β X ξ) at the fixed point, one bar per stored pattern (colour and label: "
        "its digit; black edge: the source)",
        x=0.01,
        ha="left",
    )


def _class_colours(classes) -> dict[int, str]:
    """Colour per digit class: the seven unnamed series colours, then again (the labels tell them apart)."""
    return {int(c): series_colour(i % len(SERIES_COLOURS)) for i, c in enumerate(classes)}


def _animation(path: Path, sweep: dict, P: Tensor, query: Tensor, betas, digit: int) -> Path:
    """The continuous state at one ``beta`` per regime, energy beside it; frames only where the state visibly moves."""
    picks = [i for i in sweep["first"].values() if i is not None]
    T = min(max(sweep["steps"][i] for i in picks) + 1, 301)
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
        label = f"β = {betas[i]:g}: {_REGIME_TEXT[sweep['regimes'][i]]}"
        tracks.append(animation.Track(label, traj, e, shape=SHAPE, continuous=True, x_label="update"))
    return animation.animate(path, tracks, title=f"One noisy '{digit}', three inverse temperatures", width=10.5, fps=4)


_REGIME_TEXT = {
    "global": "the global average of all stored digits",
    "metastable": "a metastable average of the similar samples",
    "single": "the one stored sample",
}

"""``python -m experiments demo digits``: correlated patterns break the classical net long before 0.138 N.

Handwritten 8x8 digits are stored one by one in a classical Hebbian net, a modern net and the
exact Bayes denoiser (oracle); each is asked to retrieve every stored digit from a query with
a few flipped pixels.  The classical net fails after a handful of digits, although random
patterns of the same size are retrieved well beyond that; the modern net and the oracle
separate all of them.

Steps: :func:`_curves` (retrieval against ``K``), :func:`_notes`, :func:`_gallery`, :func:`_animation`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import models
from experiments.corruption import flip, noise_for_flip
from experiments.demos import animation, drawing
from experiments.demos.common import Demo, generator, mean_overlap, outcomes, padded
from experiments.figures import alternate_markers
from experiments.patterns import digit_patterns, random_patterns
from experiments.style import model_style

__all__ = ["digits"]

CLASSICAL, RANDOM = "classical (Hebb)", "classical, random patterns"
ORACLE = "oracle (Bayes denoiser)"


def _label(key: str) -> str:
    """Typeset label of a memory of this demo (keys of the measured numbers -> labels of experiments/style.py)."""
    if key.startswith("modern"):
        return f"modern β = {key.split('= ')[1].rstrip(')')}"
    return {CLASSICAL: "Hebb", RANDOM: "Hebb, random patterns", ORACLE: "Bayes oracle"}[key]


def _style(key: str):
    """Colour, line style and marker of a memory's curve (the colours and markers of experiments/style.py)."""

    if key == RANDOM:  # the same net on other patterns: its colour, another line and marker
        return model_style("classical-hebb").colour, ":", "x"
    st = model_style({CLASSICAL: "classical-hebb", ORACLE: "oracle"}.get(key, "modern-b1"))
    return st.colour, "-", st.marker


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
    start = time.perf_counter()
    out_dir = Path(out_dir)
    if not 2 <= k_max <= 20:
        raise ValueError(f"k_max must lie in [2, 20], got {k_max!r}")
    ps = digit_patterns(per_class=2, n_test_per_class=0, seed=seed)
    D = ps.train  # (20, 64): rows 0..9 are one sample of each digit 0..9, rows 10..19 a second one
    R = random_patterns(20, D.shape[1], seed=seed).train  # control: uncorrelated patterns of the same size
    run = _curves(D, R, k_max, n_flip, modern_beta, seed)
    numbers, notes = _numbers_and_notes(run, D, R, k_max, n_flip)
    png = _gallery(out_dir / "digits.png", run, D, ps.params["shape"], k_max, n_flip)
    gif = _animation(out_dir / "digits.gif", run, ps.params["shape"], n_flip)
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def _makers(modern_beta: float, seed: int) -> dict[str, Any]:
    return {
        CLASSICAL: lambda: models.make("classical", rule="hebb"),
        f"modern (beta = {modern_beta:g})": lambda: models.make("modern", beta=modern_beta),
        ORACLE: lambda: models.make("oracle", sampler="ancestral", dt=0.02, seed=seed),
    }


def _curves(D: Tensor, R: Tensor, k_max: int, n_flip: int, modern_beta: float, seed: int) -> dict[str, Any]:
    """Digits retrieved exactly with ``K = 1..k_max`` stored, per memory; the first 10 recorded for the pictures."""
    queries = flip(D, n_flip, 2, generator=generator(seed, 1))  # (20, 64), one query per stored digit
    queries_r = flip(R, n_flip, 2, generator=generator(seed, 2))
    # The oracle conditions on the diffusion time whose expected changed fraction is n_flip / N.
    t_query = noise_for_flip(n_flip / D.shape[1])
    makers = _makers(modern_beta, seed)

    def recall(label: str, P: Tensor, Q: Tensor, record: bool = False):
        net = makers[label]().fit(P, vocab_size=2)
        r = net.retrieve(Q, noise=t_query, generator=generator(seed, 3), record=record)
        return r, int((r.states == P).all(1).sum())

    ks = list(range(1, k_max + 1))
    curve = {label: [recall(label, D[:k], queries[:k])[1] for k in ks] for label in makers}
    curve[RANDOM] = [recall(CLASSICAL, R[:k], queries_r[:k])[1] for k in ks]
    k_show = min(10, k_max)
    shown = {label: recall(label, D[:k_show], queries[:k_show], record=True)[0] for label in makers}
    outs = {label: outcomes(r.states, D[:k_show], D[:k_show], r.converged) for label, r in shown.items()}
    return {"ks": ks, "curve": curve, "k_show": k_show, "shown": shown, "outs": outs, "queries": queries}


def _numbers_and_notes(run: dict, D: Tensor, R: Tensor, k_max: int, n_flip: int) -> tuple[dict, list[str]]:
    ks, curve, k_show, shown = run["ks"], run["curve"], run["k_show"], run["shown"]
    N = D.shape[1]
    classical = curve[CLASSICAL]
    last_all = max((k for k, c in zip(ks, classical, strict=True) if c == k), default=0)
    distinct = int(torch.unique(shown[CLASSICAL].states, dim=0).shape[0])
    numbers = {
        "ks": ks,
        "curve": curve,
        "k_show": k_show,
        "retrieved_at_k_show": {label: curve[label][k_show - 1] for label in curve},
        "classical_all_up_to": last_all,
        "classical_distinct_at_k_show": distinct,
        "capacity_0138N": 0.138 * N,
        "mean_overlap": mean_overlap(D[:k_show]),
        "mean_overlap_random": mean_overlap(R[:k_show]),
    }
    modern_label = next(label for label in shown if label.startswith("modern"))
    t_query = noise_for_flip(n_flip / N)
    k_rand = min(8, k_max)
    notes = [
        f"Classical Hebbian net, N = {N}: retrieves every stored digit only up to K = {last_all}; at K = {k_show} it "
        f"retrieves {classical[k_show - 1]}/{k_show} (0.138 N = {0.138 * N:.1f}); its {k_show} queries end in "
        f"{distinct} distinct state(s).",
        f"Random patterns in the same net: {curve[RANDOM][k_rand - 1]}/{k_rand} at K = {k_rand}. "
        f"Digits overlap {mean_overlap(D[:k_show]):.2f} on average vs {mean_overlap(R[:k_show]):.2f}: correlation, "
        "not capacity, breaks it.",
        f"Modern net: {curve[modern_label][k_show - 1]}/{k_show} at K = {k_show}, {curve[modern_label][-1]}/{k_max} at "
        f"K = {k_max}; oracle (t = {t_query:.2f}): {curve[ORACLE][k_show - 1]}/{k_show} and "
        f"{curve[ORACLE][-1]}/{k_max}.",
    ]
    return numbers, notes


def _gallery(path: Path, run: dict, D: Tensor, shape, k_max: int, n_flip: int) -> Path:
    """A: query -> retrieved for the first 10 digits; B: share retrieved against ``K``."""
    import matplotlib.pyplot as plt

    k_show, shown, outs = run["k_show"], run["shown"], run["outs"]
    drawing.setup()
    fig = plt.figure(figsize=(15, 6.4))
    left, right = fig.subfigures(1, 2, width_ratios=[2.1, 1.0], wspace=0.03)
    rows = [("stored", D[:k_show], None), (f"query ({n_flip} flips)", run["queries"][:k_show], None)]
    rows += [(_label(label), r.states, outs[label]) for label, r in shown.items()]
    ax = left.subplots(len(rows), k_show, squeeze=False, gridspec_kw={"wspace": 0.1, "hspace": 0.15})
    for i, (label, states, oc) in enumerate(rows):
        for j in range(k_show):
            drawing.show_state(ax[i, j], states[j], shape, edge=drawing.frame(oc[j] if oc else None))
        ax[i, 0].set_ylabel(label.replace(" (", "\n("), fontsize=9, rotation=0, ha="right", va="center", labelpad=4)
    left.suptitle(f"A. Query -> retrieved, K = {k_show} digits stored (N = {D.shape[1]})", x=0.02, ha="left")
    drawing.outcome_legend(
        left, {o for oc in outs.values() for o in oc}, loc="lower center", bbox_to_anchor=(0.5, -0.06)
    )
    _panel_curves(right.subplots(), run, D.shape[1], k_max)
    right.suptitle("B. Retrieval vs number stored", x=0.02, ha="left")
    fig.suptitle("Handwritten digits (scikit-learn 8x8): correlated memories", y=1.03)
    return drawing.save_png(fig, path)


def _panel_curves(a, run: dict, N: int, k_max: int) -> None:

    ks, curve = run["ks"], run["curve"]
    share = {label: dict(zip(ks, np.array(counts) / np.array(ks), strict=True)) for label, counts in curve.items()}
    marks = alternate_markers(share)  # the modern net and the oracle coincide at 1: they take turns
    for label in curve:
        colour, ls, marker = _style(label)
        every = [i for i, k in enumerate(ks) if k in set(marks[label])]
        y = list(share[label].values())
        a.plot(ks, y, ls, color=colour, marker=marker, markevery=every, ms=5, lw=1.4, label=_label(label))
    a.axvline(0.138 * N, color="0.4", lw=1, ls="--", label="0.138 N (random patterns, Hebb)")
    a.set_xlabel("K, stored patterns")
    a.set_ylabel("fraction retrieved exactly")
    a.set_ylim(-0.03, 1.05)
    a.set_xticks([k for k in (1, 5, 10, 15, 20) if k <= k_max])
    a.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    a.set_title("curves that coincide take turns showing their marker", fontsize=9)


def _animation(path: Path, run: dict, shape, n_flip: int) -> Path:
    shown = run["shown"]
    T = max(r.trajectory.shape[0] for r in shown.values())
    tracks = []
    for label, r in shown.items():
        traj, energies = padded(r, T)
        outs = run["outs"][label]
        got = outs.count("retrieved")
        captions = [str(j) for j in range(traj.shape[1])]  # digit j is stored j-th
        title = f"{_label(label)}: {got} of {len(outs)} retrieved"
        tracks.append(animation.Track(title, traj, energies, shape=shape, captions=captions, x_label="update"))
    title = f"{run['k_show']} digits stored, queries with {n_flip} flipped pixels"
    return animation.animate(path, tracks, title=title, width=13.0)

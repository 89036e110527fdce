"""Spurious states: where each memory settles from starts that are not near one pattern.

For every memory and load ``K/N`` on unbiased random binary patterns (plus a held-out
set of ``K`` patterns drawn the same way, so that "unseen test" is measured), three
kinds of start are run to their final state:

* ``random``: uniform random states (:func:`experiments.corruption.random_states`);
* ``corrupted``: stored patterns with a fraction ``flip = 0.4`` of the bits flipped (heavy corruption,
  just inside the basin of a Hebbian net at low load, docs/theory.md §5.1, C7c);
* ``mixture``: symmetric 3-mixtures ``sign(xi^1 + xi^2 + xi^3)`` of random triples of
  stored patterns (:func:`experiments.metrics.symmetric_mixtures`), overlap 1/2 with
  each component (docs/theory.md §2.3, §5.1, C6a).

Each final state gets one class of :data:`experiments.metrics.OUTCOMES` (exact match
for "retrieved", "other stored", "reversed" and "unseen test"; ``max |m| > 0.9`` not
exact: "near stored"; ``0.3 < max |m| <= 0.9``: "mixture-like"; ``<= 0.3``:
"spin-glass-like", the thresholds of docs/theory.md §2.3).  The *target* that "retrieved"
refers to is the source pattern of a corrupted start and the nearest stored pattern
(in Hamming distance) of a random or mixture start.

For mixture starts the table also holds whether the mixture itself is a fixed point:
``unstable_bits``, the fraction of positions that one synchronous update of the memory
changes at the mixture (docs/theory.md §5.1, C6b/C6c: 0 at ``alpha = 0.01``, > 0 at
``alpha = 0.05`` for the Hebbian net), and the component overlaps after the dynamics
(C6, "drifts toward one component" above ``alpha = 0.03``).

The oracle conditions on the corruption level, the diffusion time ``t`` (column ``t``,
passed as ``retrieve(noise=t)``): ``t = 1`` (pure noise) for random starts,
``noise_for_flip(flip)`` for corrupted ones (``flip = 0.4``, column ``flip``), and
``noise_for_flip(0.25)`` for mixtures (a 3-mixture differs from each component in a
quarter of the positions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import models
from experiments import zoo
from experiments.corruption import flip, noise_for_flip, random_states
from experiments.figures import PAGE_WIDTH, alternate_markers, dodge, legend_below, stacked_shares
from experiments.metrics import OUTCOMES, nearest, outcome_classes, overlap, symmetric_mixtures
from experiments.patterns import random_patterns
from experiments.seeds import derive_seed
from experiments.style import model_label, model_style
from experiments.theory import THEORY_COMPONENTS, THEORY_UNSTABLE

NAME = "spurious"
MODEL_CHOICES = zoo.HOPFIELD_MODELS
DEFAULT_MODELS = zoo.REPRESENTATIVE_MODELS
STARTS = ("random", "corrupted", "mixture")
MIXTURE_SIZE = 3
MIXTURE_DISTANCE = 0.25  # expected Hamming fraction from a 3-mixture to each component
# What ``python -m experiments spurious --help`` says besides the presets.
ROWS = "per model x load x seed x start x outcome"
FIGURES = ("spurious_outcomes", "spurious_mixtures")
RUNTIME = {
    "quick": "about 20 s, serial on 2 shared CPU cores (20 s measured)",
    "paper": "not measured (N = 1000, 13 loads, 3 seeds)",
}
EXAMPLES = (
    "python -m experiments spurious --preset quick --out results --models classical-hebb,dense-exp,modern-b1",
    "python -m experiments spurious --set N=400 --set loads=0.03,0.05 --set starts=mixture",
)
#: Classes whose endpoint is (within 10 % of the bits) a stored pattern or its reverse.
PURE = ("retrieved", "other stored", "reversed", "near stored")


@dataclass(frozen=True)
class Config:
    """Spurious-state sweep: models x loads x seeds, each from ``n_starts`` starts of every kind."""

    models: tuple[str, ...] = DEFAULT_MODELS
    N: int = 200
    loads: tuple[float, ...] = (0.02, 0.03, 0.05, 0.08, 0.1, 0.14, 0.2, 0.3)
    starts: tuple[str, ...] = STARTS
    n_starts: int = 100
    flip: float = 0.4  # fraction of bits flipped (exactly) in the "corrupted" starts
    seeds: tuple[int, ...] = (0,)
    device: str = "cpu"


PRESETS = {
    "quick": Config(),
    "paper": Config(
        # N = 1000 as in docs/theory.md §2.3: the share of pure endpoints from random starts is strongly
        # finite-size (about 0.65 at N = 200, 0.02 at N = 1000 for Hebb at alpha = 0.05).
        N=1000,
        loads=(0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1, 0.12, 0.14, 0.17, 0.2, 0.25, 0.3),
        n_starts=100,
        seeds=(0, 1, 2),
    ),
}


@dataclass(frozen=True)
class Cell:
    model: str
    N: int
    load: float
    starts: tuple[str, ...]
    n_starts: int
    flip: float
    seed: int
    device: str = "cpu"


def cells(config: Config) -> list[Cell]:
    unknown = [s for s in config.starts if s not in STARTS]
    if unknown:
        raise ValueError(f"unknown start kind(s) {unknown}; choose from {list(STARTS)}")
    return [
        Cell(
            model=m,
            N=config.N,
            load=load,
            starts=tuple(config.starts),
            n_starts=config.n_starts,
            flip=config.flip,
            seed=s,
            device=config.device,
        )
        for m in config.models
        for load in config.loads
        for s in config.seeds
    ]


def _unstable(net: models.AssociativeMemory, states: torch.Tensor, t: float) -> torch.Tensor:
    """Positions that one synchronous update of ``net`` would change at ``states``, ``bool (n, N)``.

    Such a position is *unstable* (its local field disagrees with it); asynchronous
    dynamics would move it first.  Classical and dense memories answer directly
    (``unstable_sites``, the same mask as one ``update="sync"`` step); the others
    (modern, oracle with the fixed-point sampler) already update every position at once.
    """
    if hasattr(net, "unstable_sites"):
        return net.unstable_sites(states)
    return net.retrieve(states, noise=t, max_steps=1).states != states


def _starts(kind: str, train: torch.Tensor, n: int, f: float, g: torch.Generator):
    """Start states, their targets, the diffusion time ``t`` the oracle gets, and mixture components."""
    K, N = train.shape
    if kind == "random":
        x = random_states(n, N, 2, generator=g)
        return x, train[nearest(x, train)[0]], 1.0, None
    if kind == "corrupted":
        src = train[torch.arange(n) % K]  # every pattern in turn
        return flip(src, round(f * N), 2, generator=g), src, noise_for_flip(f), None
    x, comps = symmetric_mixtures(train, MIXTURE_SIZE, n=n, generator=g)
    return x, train[nearest(x, train)[0]], noise_for_flip(MIXTURE_DISTANCE), comps


def run_cell(cell: Cell) -> list[dict]:
    """Store ``K = load N`` random patterns; from every kind of start, run the dynamics and classify the end."""
    start = time.perf_counter()
    N = cell.N
    K = max(1, round(cell.load * N))
    ps = random_patterns(K, N, vocab_size=2, n_test=K, seed=cell.seed)  # same set for every model
    net = zoo.build(cell.model, device=cell.device).fit(ps.train, vocab_size=2)
    base = {"model": cell.model, "family": zoo.family(cell.model), "N": N, "K": K, "load": cell.load}
    rows = []
    for kind in cell.starts:
        if kind == "mixture" and K < MIXTURE_SIZE:
            continue  # no 3-mixture of fewer than three patterns
        rows += _start_rows(net, cell, ps, kind, base)
    for row in rows:
        row["cell_wall_s"] = time.perf_counter() - start
    return rows


def _start_rows(net, cell: Cell, ps, kind: str, base: dict) -> list[dict]:
    """One kind of start: one row per outcome class with its count and share, plus overlap columns."""
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(derive_seed(cell.seed, base["N"], base["K"], STARTS.index(kind)))
    x, targets, t, comps = _starts(kind, ps.train, cell.n_starts, cell.flip, g)
    r = net.retrieve(x, noise=t, generator=g)
    classes = outcome_classes(r.states, targets, ps.train, ps.test, r.converged, 2)
    counts = pd.Series(classes).value_counts().reindex(OUTCOMES, fill_value=0)
    extra = _overlap_columns(net, x, r.states, ps.train, comps, t)
    return [
        {
            **base,
            "start": kind,
            "seed": cell.seed,
            "pattern_hash": ps.hash,
            "outcome": outcome,
            "count": int(count),
            "share": count / len(x),
            "n_starts": len(x),
            "flip": cell.flip if kind == "corrupted" else float("nan"),
            "t": t,
            **extra,
            "frac_converged": float(r.converged.double().mean()),
            "mean_steps": float(r.steps.double().mean()),
            "wall_s": time.perf_counter() - t0,
        }
        for outcome, count in counts.items()
    ]


def _overlap_columns(net, x: torch.Tensor, final: torch.Tensor, train: torch.Tensor, comps, t: float) -> dict:
    """Largest overlaps at the start and the end; for mixtures, their stability and component overlaps."""
    o0 = overlap(x, train)  # (n, K) signed
    m0, m = o0.abs(), overlap(final, train).abs()
    extra = {
        "start_max_overlap": float(m0.max(dim=1).values.mean()),
        "mean_max_overlap": float(m.max(dim=1).values.mean()),
        "unstable_bits": float("nan"),
        "start_component_overlap": float("nan"),
        "component_m1": float("nan"),
        "component_m2": float("nan"),
        "component_m3": float("nan"),
    }
    if comps is not None:
        extra["unstable_bits"] = float(_unstable(net, x, t).double().mean())
        # Overlaps with the three components (1/2 each at the start; Amit et al. 1985).
        signed0 = o0.gather(1, comps)  # (n, 3)
        signed = m.gather(1, comps).sort(dim=1, descending=True).values
        extra["start_component_overlap"] = float(signed0.mean())
        for j in range(MIXTURE_SIZE):
            extra[f"component_m{j + 1}"] = float(signed[:, j].mean())
    return extra


# -- derived quantities ----------------------------------------------------------------


def shares(results: pd.DataFrame) -> pd.DataFrame:
    """Mean share per (model, start, load, outcome) over seeds, outcomes as columns in :data:`OUTCOMES` order."""
    wide = results.pivot_table(
        index=["model", "start", "load"], columns="outcome", values="share", aggfunc="mean", observed=False
    )
    return wide.reindex(columns=list(OUTCOMES), fill_value=0.0).fillna(0.0)


def mixture_stability(results: pd.DataFrame) -> pd.DataFrame:
    """Per (model, load): unstable-bit fraction at the 3-mixtures and component overlaps after dynamics."""
    cols = ["unstable_bits", "start_component_overlap", "component_m1", "component_m2", "component_m3"]
    mix = results[results["start"] == "mixture"].drop_duplicates(["model", "load", "seed"])
    return mix.groupby(["model", "load"], sort=False)[cols + ["mean_max_overlap"]].mean().reset_index()


def summary(results: pd.DataFrame) -> str:
    table = shares(results)
    lines = ["outcome shares (pure = retrieved + other stored + reversed + near stored):"]
    for (model, kind), df in table.groupby(level=["model", "start"], sort=False):
        lines.append(f"  {model}, {kind} starts:")
        for (_, _, load), row in df.iterrows():
            pure = sum(row[c] for c in PURE)
            lines.append(
                f"    load {load:5.3f}: pure {pure:4.2f} (retrieved {row['retrieved']:4.2f}, reversed "
                f"{row['reversed']:4.2f})  mixture-like {row['mixture-like']:4.2f}  spin-glass-like "
                f"{row['spin-glass-like']:4.2f}  unseen {row['unseen test']:4.2f}  "
                f"not converged {row['not converged']:4.2f}"
            )
    mix = mixture_stability(results)
    if len(mix):
        lines.append("3-mixture starts: unstable-bit fraction at the mixture, sorted |m| with its components after:")
        for r in mix.itertuples():
            lines.append(
                f"  {r.model:24s} load {r.load:5.3f}: unstable {r.unstable_bits:.4f}  "
                f"|m| {r.component_m1:.2f}/{r.component_m2:.2f}/{r.component_m3:.2f}"
            )
    return "\n".join(lines)


# -- figures -----------------------------------------------------------------------------


def _shares_figure(results: pd.DataFrame):
    """Stacked outcome shares against load: rows = memories, columns = start kinds."""
    import matplotlib.pyplot as plt

    table = shares(results)
    models_ = list(dict.fromkeys(results["model"]))
    kinds = [k for k in STARTS if k in set(results["start"])]
    loads = sorted(results["load"].unique())
    fig, axes = plt.subplots(
        len(models_),
        len(kinds),
        figsize=(PAGE_WIDTH * min(1.0, 0.25 + 0.25 * len(kinds)), 0.95 * len(models_) + 0.5),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    pos = np.arange(len(loads))
    for i, model in enumerate(models_):
        for j, kind in enumerate(kinds):
            try:
                df = table.loc[(model, kind)].reindex(loads)
            except KeyError:
                df = pd.DataFrame(np.nan, index=loads, columns=list(OUTCOMES))
            stacked_shares(axes[i, j], df, OUTCOMES, pos)
            if i == 0:
                axes[i, j].set_title(f"{kind} starts")
            axes[i, j].set_ylabel(model_label(model) if j == 0 else "")
            axes[i, j].set_xlabel("load K/N" if i == len(models_) - 1 else "")
    fig.supylabel("share of final states", fontsize=8)
    fig.tight_layout(h_pad=0.4)
    N = int(results["N"].iloc[0])
    n_seeds = results["seed"].nunique()
    n_starts = int(results["n_starts"].max())
    corrupted = results.loc[results["start"] == "corrupted", "flip"]
    caption = (
        f"Random ±1 patterns, N = {N}; {n_starts} starts of each kind per load, mean over {n_seeds} "
        f"seed{'s' if n_seeds > 1 else ''}. Random: uniform random states; "
        + (f"corrupted: a stored pattern with {corrupted.iloc[0]:.0%} of its bits flipped; " if len(corrupted) else "")
        + "mixture: sign(ξ1 + ξ2 + ξ3) of three stored patterns. |m|: largest overlap of the final state with a "
        "stored pattern; exact matches are classed first."
    )
    legend_below(fig, axes.ravel(), caption_text=caption, ncol=4)
    fig.suptitle("Where the dynamics end", y=1.0 + 0.1 / fig.get_figheight())
    return fig


_UNSTABLE_ABOVE = "0.03: 3-mixtures unstable above (AGS 1985)"
_PURE_BELOW = "0.05: pure states are global minima below"
_THEORY_POINTS = "Hebb, simulation at N = 1000 (docs/theory.md)"
_HALF = "|m| = 1/2: each component at the start"
_STYLES = ("largest |m| (right panel)", "smallest |m| (right panel)")


def _mixture_figure(results: pd.DataFrame):
    """Unstable bits at the 3-mixtures and the component overlaps after the dynamics, against load."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    mix = mixture_stability(results)
    loads = sorted(mix["load"].unique())
    models_ = list(dict.fromkeys(mix["model"]))
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 2.6))
    for ax, cols in ((axes[0], ("unstable_bits",)), (axes[1], ("component_m1", "component_m3"))):
        for col, ls in zip(cols, ("-", "--"), strict=False):
            curves = {m: df.set_index("load")[col].to_dict() for m, df in mix.groupby("model", sort=False)}
            marks = alternate_markers(curves, tol=0.01)
            for k, model in enumerate(models_):
                st = model_style(model)
                df = mix[mix["model"] == model].sort_values("load")
                x = df["load"].to_numpy() * dodge(k, len(models_), 0.012)
                every = [n for n, v in enumerate(df["load"]) if v in set(marks[model])]
                ax.plot(x, df[col], ls=ls, marker=st.marker, markevery=every, ms=3.5, color=st.colour, label=st.label)
    lo, hi = min(loads), max(loads)
    th = [(a, u) for a, u in sorted(THEORY_UNSTABLE.items()) if lo / 1.5 <= a <= hi * 1.5]
    axes[0].plot(*zip(*th, strict=True), "kx", ms=6, mew=1.3, label=_THEORY_POINTS)
    for a, ms in THEORY_COMPONENTS.items():
        if lo / 1.5 <= a <= hi * 1.5:
            axes[1].plot([a, a], [ms[0], ms[2]], "kx", ms=6, mew=1.3, ls="", label=_THEORY_POINTS)
    for ax in axes:
        ax.axvline(0.03, color="0.5", ls=":", lw=1, label=_UNSTABLE_ABOVE)
        ax.axvline(0.05, color="0.5", ls="-.", lw=1, label=_PURE_BELOW)
        ax.set_xscale("log")
        ax.set_xticks(loads, [f"{ld:g}" for ld in loads], rotation=90)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo / 1.15, hi * 1.15)
        ax.set_xlabel("load K/N")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("unstable-bit fraction\nat the mixture")
    axes[0].set_title("Is sign(ξ1 + ξ2 + ξ3) a fixed point?")
    axes[1].axhline(0.5, color="0.7", lw=0.8, label=_HALF)
    axes[1].set_ylim(0, 1.02)
    axes[1].set_ylabel("|m| with the components\nafter the dynamics")
    axes[1].set_title("Largest and smallest component overlap")
    for ls, label in zip(("-", "--"), _STYLES, strict=True):  # empty lines: legend entries of the two styles
        axes[1].add_line(Line2D([], [], color="0.3", ls=ls, label=label))
    fig.tight_layout()
    N = int(results["N"].iloc[0])
    n_seeds = results["seed"].nunique()
    caption = (
        f"Symmetric 3-mixtures of random ±1 patterns, N = {N}, mean over {n_seeds} seed{'s' if n_seeds > 1 else ''}. "
        "Left: share of positions that one synchronous update changes at the mixture. Right: sorted overlaps "
        "with the three components after the dynamics. Memories are shifted slightly along x; where they "
        "coincide they take turns showing their marker."
    )
    labels = [model_label(m) for m in models_]
    half = (len(labels) + 1) // 2
    columns = [labels[:half], labels[half:], [_THEORY_POINTS, _UNSTABLE_ABOVE, _PURE_BELOW], [_HALF, *_STYLES]]
    legend_below(fig, axes, caption_text=caption, columns=columns)
    fig.suptitle("Symmetric 3-mixture states", y=1.0 + 0.1 / fig.get_figheight())
    return fig


def plot(results: pd.DataFrame, run_info: dict) -> dict:
    figures = {"spurious_outcomes": _shares_figure(results)}
    if (results["start"] == "mixture").any():
        figures["spurious_mixtures"] = _mixture_figure(results)
    return figures

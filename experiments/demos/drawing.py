"""Drawing helpers of the teaching demos (:mod:`experiments.demos`): galleries, text and animations.

Three kinds of pictures:

* galleries: small binary images (a state of ``L = h * w`` tokens drawn as pixels, ink
  black) or continuous states (grey levels), with a coloured frame that says what the
  state *is* (retrieved, another memory, reversed, mixture; see :data:`OUTCOME_COLOURS`);
* text: :func:`draw_text` writes rows of sentences in monospace, wrong characters in red;
* animations: :func:`animate` turns retrieval trajectories ``(T, B, L)`` into an
  animated GIF, one row of states per :class:`Track` with its energy (or entropy)
  curve beside it and a marker that moves along the curve.

Everything here draws what it is given; the demos decide what to measure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.figures import set_style

__all__ = [
    "OUTCOME_COLOURS",
    "Track",
    "setup",
    "show_state",
    "outcome_legend",
    "animate",
    "save_png",
    "draw_text",
]

#: Frame colour of a state by outcome class (names as in :data:`experiments.metrics.OUTCOMES`).
OUTCOME_COLOURS: dict[str, str] = {
    "retrieved": "#2ca02c",
    "other stored": "#1f77b4",
    "reversed": "#9467bd",
    "unseen test": "#17becf",
    "near stored": "#bcbd22",
    "mixture-like": "#ff7f0e",
    "spin-glass-like": "#7f7f7f",
    "not converged": "#d62728",
}

#: Short labels for the legends of the galleries.
OUTCOME_LABELS: dict[str, str] = {
    "retrieved": "retrieved (exact)",
    "other stored": "another stored pattern",
    "reversed": "reversed pattern",
    "near stored": "near a pattern (|m| > 0.9)",
    "mixture-like": "mixture (0.3 < |m| <= 0.9)",
    "spin-glass-like": "spin glass (|m| <= 0.3)",
    "not converged": "not converged",
}


def setup() -> None:
    """The testbed style (:func:`experiments.figures.set_style`) with demo-sized titles."""
    import matplotlib

    set_style()
    matplotlib.rcParams.update({"axes.titlesize": 10, "figure.titlesize": 13, "figure.titleweight": "bold"})


def show_state(
    ax,
    state: np.ndarray,
    shape: Sequence[int],
    *,
    title: str | None = None,
    edge: str | None = None,
    continuous: bool = False,
    fontsize: float = 9,
):
    """Draw one state as an image on ``ax`` and return the ``AxesImage``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes; its ticks are removed.
    state : ndarray
        ``(L,)`` tokens (0 = background, 1 = ink) or, with ``continuous=True``, spin values
        in ``[-1, 1]`` (drawn as grey levels: -1 white, +1 black).
    shape : (int, int)
        Grid ``(h, w)`` with ``h * w = L``.
    title : str, optional
        Title above the image.
    edge : str, optional
        Colour of a thick frame (an outcome colour); thin grey when omitted.
    continuous : bool
        Interpret ``state`` as spins.
    """
    img = np.asarray(state, dtype=float).reshape(tuple(shape))
    lo = -1.0 if continuous else 0.0
    im = ax.imshow(img, cmap="Greys", vmin=lo, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(edge or "#b0b0b0")
        spine.set_linewidth(3.0 if edge else 0.8)
    if title:
        ax.set_title(title, fontsize=fontsize, pad=2)
    return im


def outcome_legend(fig, outcomes: Sequence[str], *, loc: str = "lower center", ncol: int | None = None, **kwargs):
    """A legend of frame colours for the outcome classes that occur in a figure."""
    from matplotlib.patches import Patch

    names = [o for o in OUTCOME_COLOURS if o in set(outcomes)]
    handles = [
        Patch(facecolor="white", edgecolor=OUTCOME_COLOURS[o], linewidth=2.5, label=OUTCOME_LABELS.get(o, o))
        for o in names
    ]
    return fig.legend(handles=handles, loc=loc, ncol=ncol or len(handles), frameon=False, fontsize=9, **kwargs)


def save_png(fig, path: Path | str, dpi: int = 110) -> Path:
    """Save ``fig`` as a PNG (demos write PNG only: they are pictures, not paper figures) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------
# Animations.
# ----------------------------------------------------------------------------------


@dataclass
class Track:
    """One row of an animation: ``B`` states evolving over ``T`` steps, and a curve beside them.

    Attributes
    ----------
    label : str
        Row title.
    states : ndarray
        ``(T, B, L)`` tokens, spins in ``[-1, 1]`` (``continuous=True``) or, for text
        rows (``shape=None``), tokens decoded by ``decode``.
    curve : ndarray
        ``(T, B)`` energy or entropy after each step (row 0: the query).
    curve_label : str
        y-axis label of the curve.
    shape : (int, int) or None
        Image grid; ``None`` draws each state as a line of text.
    continuous : bool
        States are spins drawn as grey levels.
    decode : callable, optional
        ``tokens (L,) -> str`` for text rows.
    reference : ndarray, optional
        ``(B, L)`` clean sequences; text characters that differ from them are drawn red.
    captions : list of str, optional
        One caption per state (images: the title, text: a prefix).
    x_label : str
        x-axis label of the curve.
    ylim : (float, float), optional
        y-range of the curve (e.g. shared by tracks that should be compared).
    """

    label: str
    states: np.ndarray
    curve: np.ndarray
    curve_label: str = "energy"
    shape: Sequence[int] | None = None
    continuous: bool = False
    decode: Callable[[np.ndarray], str] | None = None
    reference: np.ndarray | None = None
    captions: Sequence[str] | None = None
    x_label: str = "step"
    ylim: tuple[float, float] | None = None

    @property
    def n_steps(self) -> int:
        return int(self.states.shape[0])


def _at(track: Track, k: int) -> int:
    """Index of frame ``k`` in a track that may have finished earlier (it holds its last state)."""
    return min(k, track.n_steps - 1)


class _TrackArtist:
    """The artists of one track and how to move them to frame ``k``."""

    def __init__(self, sub, track: Track, n_cols: int, curve_colours: Sequence) -> None:
        self.track = track
        T, B = track.states.shape[:2]
        width = [1.0] * (n_cols if track.shape is not None else 1) + [max(2.2, 0.45 * n_cols)]
        if track.shape is None:
            width[0] = 3.2 * max(2.2, 0.45 * n_cols)
        gs = sub.add_gridspec(1, len(width), width_ratios=width, wspace=0.08, top=0.84, bottom=0.22)
        sub.suptitle(track.label, fontsize=11, x=0.01, ha="left", fontweight="bold")
        self.images, self.chars, self.frames = [], [], []
        if track.shape is not None:
            for b in range(B):
                ax = sub.add_subplot(gs[0, b])
                cap = track.captions[b] if track.captions else None
                self.images.append(
                    show_state(ax, track.states[0, b], track.shape, title=cap, continuous=track.continuous)
                )
                self.frames += list(ax.spines.values())  # redrawn over the image
        else:
            ax = sub.add_subplot(gs[0, 0])
            ax.set_axis_off()
            L = track.states.shape[2]
            for b in range(B):
                y = 1.0 - (b + 0.5) / max(B, 1)
                if track.captions:
                    ax.text(0.0, y, track.captions[b], family="monospace", fontsize=8, va="center", color="#555555")
                x0 = 0.16 if track.captions else 0.0
                row = [
                    ax.text(x0 + (1 - x0) * i / L, y, "", family="monospace", fontsize=10, va="center", ha="left")
                    for i in range(L)
                ]
                self.chars.append(row)
        ax = sub.add_subplot(gs[0, -1])
        steps = np.arange(T)
        self.dots, self.trails = [], []
        for b in range(B):
            colour = curve_colours[b % len(curve_colours)]
            ax.plot(steps, track.curve[:, b], color=colour, alpha=0.2, lw=1.2)
            (trail,) = ax.plot([0], [track.curve[0, b]], "-", color=colour, lw=1.6)
            (dot,) = ax.plot([0], [track.curve[0, b]], "o", color=colour, ms=5)
            self.dots.append(dot)
            self.trails.append(trail)
        self.cursor = ax.axvline(0, color="0.3", lw=0.8, ls=":")
        ax.set_xlabel(track.x_label)
        ax.set_ylabel(track.curve_label)
        ax.yaxis.set_label_position("right")
        ax.yaxis.tick_right()
        ax.set_xlim(-0.3, max(T - 1, 1) + 0.3)
        if track.ylim is not None:
            ax.set_ylim(*track.ylim)

    def moving(self) -> list:
        """Artists that change from frame to frame (redrawn on top of the static background)."""
        chars = (c for row in self.chars for c in row)
        return [*self.images, *self.frames, *chars, self.cursor, *self.trails, *self.dots]

    def update(self, k: int) -> None:
        tr = self.track
        j = _at(tr, k)
        for b, im in enumerate(self.images):
            im.set_data(np.asarray(tr.states[j, b], dtype=float).reshape(tuple(tr.shape)))
        if self.chars:
            prev = tr.states[max(j - 1, 0)]
            for b, row in enumerate(self.chars):
                text = tr.decode(tr.states[j, b]) if tr.decode else "".join(map(str, tr.states[j, b]))
                text = text.ljust(len(row), " ")
                for i, artist in enumerate(row):
                    wrong = tr.reference is not None and tr.states[j, b, i] != tr.reference[b, i]
                    moved = j > 0 and tr.states[j, b, i] != prev[b, i]
                    artist.set_text(text[i] if text[i] != " " else "\u00b7")
                    artist.set_color("#d62728" if wrong else ("#1f77b4" if moved else "black"))
                    artist.set_fontweight("bold" if wrong or moved else "normal")
        for b, (dot, trail) in enumerate(zip(self.dots, self.trails, strict=True)):
            dot.set_data([j], [tr.curve[j, b]])
            trail.set_data(np.arange(j + 1), tr.curve[: j + 1, b])
        self.cursor.set_xdata([j, j])


def animate(
    path: Path | str,
    tracks: Sequence[Track],
    *,
    title: str,
    fps: float = 2.0,
    hold: float = 1.5,
    width: float = 11.0,
    row_height: float = 1.9,
    dpi: int = 72,
) -> Path:
    """Write an animated GIF of retrieval trajectories.

    The static parts (axes, curves, labels) are drawn once; every frame only redraws the
    states and the moving markers on top of that background (blitting), which makes a
    frame cost milliseconds instead of a full figure draw.

    Parameters
    ----------
    path : path
        Output ``.gif``.
    tracks : sequence of Track
        One row each; a track with fewer steps than the longest holds its final state.
    title : str
        Figure title.
    fps : float
        Frames per second.
    hold : float
        Seconds the first and the last frame stay on screen, so a viewer sees the query
        and the answer.
    width, row_height : float
        Figure size in inches.
    dpi : int
        Resolution (kept low: GIFs for slides, not print).

    Returns
    -------
    Path
    """
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_cols = max(t.states.shape[1] if t.shape is not None else 1 for t in tracks)
    heights = [row_height * (1.0 if t.shape is not None else 0.25 + 0.3 * t.states.shape[1]) for t in tracks]
    fig = plt.figure(figsize=(width, sum(heights) + 0.45), facecolor="white", dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    head, *subs = fig.subfigures(len(tracks) + 1, 1, height_ratios=[0.45, *heights])
    palette = plt.get_cmap("tab10").colors
    artists = [_TrackArtist(sub, t, n_cols, palette) for sub, t in zip(subs, tracks, strict=True)]
    head.text(0.5, 0.5, title, ha="center", va="center", fontsize=12, fontweight="bold")
    step_text = head.text(0.99, 0.5, "", ha="right", va="center", fontsize=10, color="0.3")
    moving = [step_text] + [m for a in artists for m in a.moving()]
    for m in moving:
        m.set_animated(True)
    canvas.draw()  # everything static, once
    background = canvas.copy_from_bbox(fig.bbox)

    T = max(t.n_steps for t in tracks)
    frames = []
    for k in range(T):
        for a in artists:
            a.update(k)
        step_text.set_text(f"step {k} / {T - 1}")
        canvas.restore_region(background)
        for m in moving:
            fig.draw_artist(m)
        rgba = np.asarray(canvas.buffer_rgba())
        frames.append(Image.fromarray(rgba[..., :3].copy()).quantize(colors=96, method=Image.Quantize.MEDIANCUT))
    plt.close(fig)
    step_ms = int(round(1000 / fps))
    durations = [step_ms] * len(frames)
    durations[0] += int(1000 * hold)
    durations[-1] += int(1000 * hold)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1)
    return path


def draw_text(ax, rows, *, fontsize: float = 10.5, label_width: float = 0.24) -> None:
    """Rows of ``(label, text, reference or None, colour of the label)`` in monospace; wrong characters red.

    Characters that differ from the row's reference (the clean sentence) are drawn in
    bold red, so a viewer sees at a glance what the corruption did and what was repaired.
    """
    ax.set_axis_off()
    n = len(rows)
    for i, (label, text, ref, colour) in enumerate(rows):
        y = 1.0 - (i + 0.5) / n
        ax.text(0.0, y, label, fontsize=fontsize - 1.5, va="center", ha="left", color=colour or "0.3")
        width = (1.0 - label_width) / max(len(text), 1)
        for j, ch in enumerate(text):
            wrong = ref is not None and (j >= len(ref) or ref[j] != ch)
            ax.text(
                label_width + j * width,
                y,
                "\u00b7" if ch == " " else ch,
                family="monospace",
                fontsize=fontsize,
                va="center",
                ha="left",
                color="#d62728" if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )

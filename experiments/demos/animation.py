"""Animated GIFs of retrieval trajectories for the teaching demos.

:func:`animate` turns trajectories ``(T, B, L)`` into a GIF: one row of states per
:class:`Track` (small images, or lines of text) with its energy or entropy curve beside
it, a marker that moves along the curve, and a key strip at the bottom that names every
colour in the frame.  Made for slides and READMEs: at least :data:`MIN_WIDTH_PX` pixels
wide, no text smaller than :data:`MIN_TEXT_PX` pixels, and paced so that every frame
shows a visible change (:func:`changing_steps` drops the steps that change nothing a
viewer can see; the first and last frames are held).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.style import MARK_COLOURS, series_colour

__all__ = [
    "MIN_WIDTH_PX",
    "MIN_TEXT_PX",
    "DPI",
    "Track",
    "changing_steps",
    "build",
    "animate",
    "TEXT_KEY",
]

#: Smallest width of a GIF, pixels.
MIN_WIDTH_PX = 1000
#: Smallest text height (font size) in a GIF, pixels.
MIN_TEXT_PX = 14
#: Resolution of the GIFs: 1 pt = DPI / 72 px.
DPI = 100
_SMALL = 11.0  # pt: the smallest text (15.3 px at DPI 100)
_CHAR_EM = 0.602  # advance of a DejaVu Sans Mono character, in ems
_MARKERS = ("o", "s", "^")
_GLYPHS = {"o": "\u25cf", "s": "\u25a0", "^": "\u25b2"}  # the markers as characters, for captions
#: Key of the character colours of text tracks.
TEXT_KEY = (
    (MARK_COLOURS["wrong"], "bold vermillion: differs from the clean sentence"),
    (MARK_COLOURS["changed"], "bold blue: changed since the previous frame"),
)


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
        ``(B, L)`` clean sequences; text characters that differ from them are marked.
    captions : list of str, optional
        One caption per state (images: the title, text: a prefix), drawn in the colour of
        that state's curve.
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


def changing_steps(tracks: Sequence[Track], min_change: float = 0.05) -> list[int]:
    """The steps worth a frame: 0, every step that visibly changes a state, and the last step.

    A step is kept when some track's states differ from those of the last kept step:
    any token for token states, by more than ``min_change`` (on the ``[-1, 1]`` grey
    scale) for continuous ones.  The last step is kept when it differs at all, so the
    animation ends on the final states.
    """
    T = max(t.n_steps for t in tracks)
    keep = [0]
    for k in range(1, T):
        if any(_differs(t, _at(t, keep[-1]), _at(t, k), min_change) for t in tracks):
            keep.append(k)
    if keep[-1] != T - 1 and any(_differs(t, _at(t, keep[-1]), _at(t, T - 1), 0.0) for t in tracks):
        keep.append(T - 1)
    return keep


def _differs(track: Track, a: int, b: int, min_change: float) -> bool:
    x, y = track.states[a], track.states[b]
    if track.continuous:
        return bool(np.abs(np.asarray(x, dtype=float) - np.asarray(y, dtype=float)).max() > min_change)
    return bool((x != y).any())


class _TrackArtist:
    """The artists of one track and how to move them to frame ``k``."""

    def __init__(self, sub, track: Track, n_cols: int) -> None:
        self.track = track
        T, B = track.states.shape[:2]
        # seven colours stay apart in every vision; past them the marker tells states apart
        self.colours = [series_colour(b % 7) for b in range(B)]
        self.markers = [_MARKERS[(b // 7) % len(_MARKERS)] for b in range(B)]
        sub.suptitle(track.label, fontsize=12, x=0.01, ha="left", fontweight="bold")
        self.images, self.chars = [], []
        if track.shape is not None:
            gs = sub.add_gridspec(1, n_cols + 1, width_ratios=[1.0] * n_cols + [max(2.4, 0.5 * n_cols)])
            for b in range(B):
                self.images.append(self._image(sub.add_subplot(gs[0, b]), b))
        else:
            gs = sub.add_gridspec(1, 2, width_ratios=[3.0, 1.0])
            self._text_rows(sub.add_subplot(gs[0, 0]), B)
        self._curve(sub.add_subplot(gs[0, -1]), T, B)

    def _image(self, ax, b: int):
        from experiments.demos.drawing import show_state

        tr = self.track
        im = show_state(ax, tr.states[0, b], tr.shape, continuous=tr.continuous)
        if tr.captions:
            caption = tr.captions[b]
            if tr.states.shape[1] > 7:  # colours repeat past seven: the caption shows the marker too
                caption += " " + _GLYPHS[self.markers[b]]
            ax.set_title(caption, fontsize=_SMALL + 1, color=self.colours[b], fontweight="bold", pad=3)
        return im

    def _text_rows(self, ax, B: int) -> None:
        from matplotlib.transforms import offset_copy

        ax.set_axis_off()
        L, fs = self.track.states.shape[2], _SMALL + 1
        for b in range(B):
            y = 1.0 - (b + 0.5) / max(B, 1)
            x0 = 0.0
            if self.track.captions:
                ax.text(0.0, y, self.track.captions[b], fontsize=_SMALL, va="center", color=self.colours[b])
                x0 = 0.2
            self.chars.append(
                [
                    ax.text(
                        x0,
                        y,
                        "",
                        family="DejaVu Sans Mono",
                        fontsize=fs,
                        va="center",
                        ha="left",
                        transform=offset_copy(ax.transAxes, fig=ax.figure, x=i * _CHAR_EM * fs, units="points"),
                    )
                    for i in range(L)
                ]
            )

    def _curve(self, ax, T: int, B: int) -> None:
        tr = self.track
        steps = np.arange(T)
        self.dots, self.trails = [], []
        for b in range(B):
            ax.plot(steps, tr.curve[:, b], color=self.colours[b], alpha=0.25, lw=1.2)
            (trail,) = ax.plot([0], [tr.curve[0, b]], "-", color=self.colours[b], lw=2.0)
            (dot,) = ax.plot([0], [tr.curve[0, b]], self.markers[b], color=self.colours[b], ms=7)
            self.dots.append(dot)
            self.trails.append(trail)
        self.cursor = ax.axvline(0, color="0.3", lw=1.0, ls=":")
        ax.set_xlabel(tr.x_label, fontsize=_SMALL)
        ax.set_ylabel(tr.curve_label, fontsize=_SMALL)
        ax.tick_params(labelsize=_SMALL)
        ax.yaxis.set_label_position("right")
        ax.yaxis.tick_right()
        ax.set_xlim(-0.3, max(T - 1, 1) + 0.3)
        if tr.ylim is not None:
            ax.set_ylim(*tr.ylim)

    def moving(self) -> list:
        """Artists that change from frame to frame (redrawn on top of the static background)."""
        chars = (c for row in self.chars for c in row)
        return [*self.images, *chars, self.cursor, *self.trails, *self.dots]

    def update(self, k: int, prev: int) -> None:
        """Show step ``k``; characters changed since step ``prev`` (the previous frame) are marked."""
        tr = self.track
        j, p = _at(tr, k), _at(tr, prev)
        for b, im in enumerate(self.images):
            im.set_data(np.asarray(tr.states[j, b], dtype=float).reshape(tuple(tr.shape)))
        for b, row in enumerate(self.chars):
            text = tr.decode(tr.states[j, b]) if tr.decode else "".join(map(str, tr.states[j, b]))
            text = text.ljust(len(row), " ")
            for i, artist in enumerate(row):
                wrong = tr.reference is not None and tr.states[j, b, i] != tr.reference[b, i]
                moved = j != p and tr.states[j, b, i] != tr.states[p, b, i]
                artist.set_text(text[i] if text[i] != " " else "\u00b7")
                artist.set_color(MARK_COLOURS["wrong"] if wrong else (MARK_COLOURS["changed"] if moved else "black"))
                artist.set_fontweight("bold" if wrong or moved else "normal")
        for b, (dot, trail) in enumerate(zip(self.dots, self.trails, strict=True)):
            dot.set_data([j], [tr.curve[j, b]])
            trail.set_data(np.arange(j + 1), tr.curve[: j + 1, b])
        self.cursor.set_xdata([j, j])


def build(tracks: Sequence[Track], *, title: str, key: Sequence[tuple[str, str]] = (), width: float = 11.0):
    """The animation's figure at step 0: ``(fig, step_text, artists)``; nothing is rendered yet.

    ``key`` lists ``(colour, meaning)`` pairs shown in a strip under the tracks, after
    the fixed entries that explain the curve colours and the step cursor.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if width * DPI < MIN_WIDTH_PX:
        raise ValueError(f"width must give at least {MIN_WIDTH_PX} px at {DPI} dpi, got {width} in")
    n_cols = max(t.states.shape[1] if t.shape is not None else 1 for t in tracks)
    heights = [2.3 if t.shape is not None else 0.75 + 0.36 * t.states.shape[1] for t in tracks]
    key_rows = 1 + (len(key) + 1) // 2
    fig = plt.figure(figsize=(width, 0.6 + sum(heights) + 0.32 * key_rows), dpi=DPI, layout="constrained")
    head, *subs, foot = fig.subfigures(len(tracks) + 2, 1, height_ratios=[0.6, *heights, 0.32 * key_rows])
    artists = [_TrackArtist(sub, t, n_cols) for sub, t in zip(subs, tracks, strict=True)]
    head.text(0.01, 0.5, title, ha="left", va="center", fontsize=14, fontweight="bold")
    step_text = head.text(0.99, 0.5, "", ha="right", va="center", fontsize=_SMALL + 1, color="0.25")
    handles = []
    if any(t.captions and t.states.shape[1] > 1 for t in tracks):
        label = "curve colour (and marker) = its state's caption"
        handles.append(Line2D([], [], color="0.3", marker="o", ms=7, lw=2, label=label))
    handles.append(
        Line2D([], [], color="0.3", ls=":", lw=1.2, marker="o", ms=7, label="dot, dotted line: the step shown")
    )
    handles += [Line2D([], [], color=c, marker="s", ms=9, ls="", label=text) for c, text in key]
    foot.legend(handles=handles, loc="center", ncol=2, frameon=False, fontsize=_SMALL)
    return fig, step_text, artists


def animate(
    path: Path | str,
    tracks: Sequence[Track],
    *,
    title: str,
    fps: float = 2.0,
    hold: float = 1.5,
    width: float = 11.0,
    key: Sequence[tuple[str, str]] = (),
    min_change: float = 0.05,
) -> Path:
    """Write an animated GIF of retrieval trajectories, one frame per visibly changing step.

    The static parts (axes, curves, labels) are drawn once; every frame only redraws the
    states and the moving markers on top of that background (blitting).

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
    width : float
        Figure width in inches (at least ``MIN_WIDTH_PX / DPI``).
    key : sequence of (colour, meaning)
        Colours used by the tracks beyond the curve colours (e.g. :data:`TEXT_KEY`).
    min_change : float
        Smallest grey-level change of a continuous state that earns a frame
        (:func:`changing_steps`).

    Returns
    -------
    Path
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, step_text, artists = build(tracks, title=title, key=key, width=width)
    canvas = fig.canvas
    moving = [step_text] + [m for a in artists for m in a.moving()]
    for m in moving:
        m.set_animated(True)
    canvas.draw()  # lays out and draws everything static, once
    background = canvas.copy_from_bbox(fig.bbox)
    steps = changing_steps(tracks, min_change)
    T = max(t.n_steps for t in tracks)
    frames = []
    for n, k in enumerate(steps):
        for a in artists:
            a.update(k, steps[max(n - 1, 0)])
        step_text.set_text(f"step {k} of {T - 1}")
        canvas.restore_region(background)
        for m in moving:
            fig.draw_artist(m)
        rgba = np.asarray(canvas.buffer_rgba())
        frames.append(Image.fromarray(rgba[..., :3].copy()).quantize(colors=128, method=Image.Quantize.MEDIANCUT))
    plt.close(fig)
    durations = [int(round(1000 / fps))] * len(frames)
    durations[0] += int(1000 * hold)
    durations[-1] += int(1000 * hold)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1)
    return path

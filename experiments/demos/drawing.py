"""Drawing helpers of the teaching demos (:mod:`experiments.demos`): galleries and text.

Two kinds of pictures (animations are in :mod:`experiments.demos.animation`):

* galleries: small binary images (a state of ``L = h * w`` tokens drawn as pixels, ink
  black) or continuous states (grey levels), with a coloured frame that says what the
  state *is* (retrieved, another memory, reversed, mixture: the outcome colours of
  :mod:`experiments.style`, keyed by :func:`outcome_legend`);
* text: :func:`draw_text` writes rows of sentences in monospace, characters that differ
  from the clean sentence in bold vermillion (:data:`experiments.style.MARK_COLOURS`),
  keyed by :func:`text_key`.

Everything here draws what it is given; the demos decide what to measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.figures import set_style
from experiments.style import MARK_COLOURS, OUTCOME_COLOURS, outcome_colour, outcome_label

__all__ = ["setup", "show_state", "frame", "outcome_legend", "save_png", "draw_text", "text_key"]


def frame(outcome: str | None) -> str | None:
    """Frame colour of a final state's outcome class (``None``: no outcome, a thin grey frame)."""
    return outcome_colour(outcome) if outcome else None


def setup() -> None:
    """The testbed style (:func:`experiments.figures.set_style`) at the larger text size of the galleries."""
    import matplotlib
    import seaborn as sns

    set_style()
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)  # galleries are viewed large, not printed
    matplotlib.rcParams.update(
        {"pdf.fonttype": 42, "axes.titlesize": 10, "figure.titlesize": 13, "figure.titleweight": "bold"}
    )


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
        spine.set_color(edge or "0.7")
        spine.set_linewidth(3.0 if edge else 0.8)
    if title:
        ax.set_title(title, fontsize=fontsize, pad=2)
    return im


def outcome_legend(fig, outcomes: Sequence[str], *, loc: str = "lower center", ncol: int | None = None, **kwargs):
    """A legend of frame colours for the outcome classes that occur in a figure."""
    from matplotlib.patches import Patch

    names = [o for o in OUTCOME_COLOURS if o in set(outcomes)]
    handles = [
        Patch(facecolor="white", edgecolor=outcome_colour(o), linewidth=2.5, label=outcome_label(o)) for o in names
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


def draw_text(ax, rows, *, fontsize: float = 10.5, label_width: float = 0.24) -> None:
    """Rows of ``(label, text, reference or None, colour of the label)`` in monospace; wrong characters marked.

    Characters that differ from the row's reference (the clean sentence) are drawn in
    bold vermillion, so a viewer sees at a glance what the corruption did and what was
    repaired; :func:`text_key` explains the mark.
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
                color=MARK_COLOURS["wrong"] if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )


def text_key(fig, *, y: float = 0.0, fontsize: float = 9, **kwargs):
    """A one-line key of the text marks under ``fig`` (or a subfigure): what bold vermillion means."""
    from matplotlib.lines import Line2D

    handle = Line2D([], [], color=MARK_COLOURS["wrong"], marker="s", ms=8, ls="")
    label = "bold vermillion character: differs from the clean sentence"
    return fig.legend(
        [handle], [label], loc="upper left", bbox_to_anchor=(0.02, y), frameon=False, fontsize=fontsize, **kwargs
    )

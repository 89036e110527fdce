"""One figure style for the whole testbed, the helpers every study figure shares, and saving.

Figures are always rebuilt from a results file (``python -m experiments plot DIR``),
never from in-memory experiment state, so a paper figure can be regenerated
without rerunning anything.

Conventions the helpers below implement, so that every study figure reads the same way:

* sizes fit a paper: :data:`COLUMN_WIDTH` (3.4 in, one column) or :data:`PAGE_WIDTH`
  (7 in, a full page) wide, fonts of 7-9 pt at that size;
* colours, markers and legend labels of memories, outcome classes, splits and unnamed
  series come from :mod:`experiments.style`, never from a position in a colour cycle;
* a quantity measured over several seeds is drawn as the mean with a band of the range
  over the seeds (:func:`seed_band`), and the band and the number of seeds are named
  in the legend;
* curves that share values are dodged (:func:`dodge`) instead of drawn on top of each other;
* theory lines carry their name at their top end (:func:`label_vlines`), threshold and
  chance lines a legend entry; every drawn line, band and bar has a label that appears in
  a legend or in the figure's text (:func:`unexplained_artists` finds the ones that do not).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.style import MEMORIES, outcome_colour, outcome_label
from experiments.style import palette as style_palette

__all__ = [
    "COLUMN_WIDTH",
    "PAGE_WIDTH",
    "MODEL_ORDER",
    "set_style",
    "save_figure",
    "palette",
    "dodge",
    "seed_band",
    "alternate_markers",
    "band_label",
    "label_vlines",
    "figure_legend",
    "caption",
    "legend_below",
    "renderer_of",
    "unexplained_artists",
]

#: Width of one column of a two-column paper, inches.
COLUMN_WIDTH = 3.4
#: Width of a full page of text, inches.
PAGE_WIDTH = 7.0

#: ``gid`` of artists named by a text beside them (theory lines), kept out of legends.
NAMED_IN_PLACE = "named-in-place"

#: Memories in legend order (family, then shade); colours come from :mod:`experiments.style`.
MODEL_ORDER = tuple(MEMORIES)


def set_style() -> None:
    """Seaborn paper style on the Agg backend: 8 pt text, fonts embedded as TrueType in PDFs."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import seaborn as sns

    sns.set_theme(context="paper", style="ticks", font_scale=1.0)
    matplotlib.rcParams.update(
        {
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "savefig.dpi": 200,
            "figure.dpi": 100,
            "font.size": 8,
            "axes.titlesize": 8.5,
            "axes.labelsize": 8,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "legend.fontsize": 7,
            "legend.title_fontsize": 7.5,
            "figure.titlesize": 9.5,
            "lines.linewidth": 1.2,
            "lines.markersize": 4,
        }
    )


def palette(names) -> dict[str, str]:
    """Colour per memory name, the same in every figure (:func:`experiments.style.model_style`).

    Raises ``ValueError`` naming the known memories for a name without a style.
    """
    return style_palette(names)


def save_figure(fig, stem: Path | str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf``; returns both paths."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, bbox_inches="tight", pad_inches=0.03)
    plt.close(fig)
    return paths


def dodge(i: int, n: int, width: float = 0.02, log: bool = True) -> float:
    """Offset of member ``i`` of ``n`` series sharing x values, centred on 0.

    With ``log=True`` the result is a factor ``10 ** (width * (i - (n - 1) / 2))`` (multiply
    x on a log axis, ``width`` in decades); otherwise an additive shift ``width * (i - (n - 1) / 2)``.
    """
    shift = width * (i - (n - 1) / 2)
    return 10.0**shift if log else shift


def alternate_markers(curves: dict[str, dict[float, float]], tol: float = 0.02) -> dict[str, list[float]]:
    """Where each of several curves shows its marker, so that coinciding points stay legible.

    At every x, curves whose values lie within ``tol`` of each other form a group; one
    member of the group shows its marker there, taking turns along x, so that a reader
    sees every curve that runs at that value (their lines coincide).  A curve alone at
    its value always shows its marker.

    Parameters
    ----------
    curves : dict
        Series name -> {x: y}.
    tol : float
        Values closer than this coincide.

    Returns
    -------
    dict
        Series name -> the x values at which it shows a marker.
    """
    shown: dict[str, list[float]] = {name: [] for name in curves}
    xs = sorted({x for c in curves.values() for x in c})
    for i, x in enumerate(xs):
        here = sorted(((c[x], name) for name, c in curves.items() if x in c and c[x] == c[x]))
        groups: list[list[str]] = []
        last = None
        for y, name in here:
            if last is None or y - last > tol:
                groups.append([])
            groups[-1].append(name)
            last = y
        for group in groups:
            shown[group[i % len(group)]].append(x)
    return shown


def band_label(n_seeds: int) -> str:
    """Legend text of a seed band, e.g. ``"band: range over 3 seeds"``."""
    return f"band: range over {n_seeds} seed{'s' if n_seeds != 1 else ''}"


def seed_band(
    ax, df, x: str, y: str, *, colour, marker: str, label: str, shift: float = 1.0, log: bool = True, marks=None, **kw
):
    """Mean of ``y`` over seeds against ``x`` as a line with markers, and the range over seeds as a band.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    df : DataFrame
        Rows of one series, a column ``seed`` and the columns ``x`` and ``y``.
    x, y : str
        Columns.
    colour, marker, label : str
        Style of the series (from :mod:`experiments.style`).
    shift : float
        Dodge of the series (:func:`dodge`): a factor on a log axis, an offset on a linear one.
    log : bool
        Whether ``shift`` is a factor.
    marks : list of float, optional
        The ``x`` values that get a marker (:func:`alternate_markers`); all when omitted.

    Returns
    -------
    int
        Number of seeds; no band is drawn for one seed.
    """
    stats = df.groupby(x)[y].agg(["mean", "min", "max"]).sort_index()
    xs = stats.index.to_numpy(dtype=float)
    xs = xs * shift if log else xs + shift
    n_seeds = int(df["seed"].nunique()) if "seed" in df else 1
    if marks is not None:
        keep = set(marks)
        kw["markevery"] = [k for k, v in enumerate(stats.index) if v in keep]
    ax.plot(xs, stats["mean"], color=colour, marker=marker, label=label, **kw)
    if n_seeds > 1:
        ax.fill_between(xs, stats["min"], stats["max"], color=colour, alpha=0.18, lw=0, label=band_label(n_seeds))
    return n_seeds


def _spread(positions: Sequence[float], gap: float) -> list[float]:
    """Positions moved apart (order kept, as little as needed) so that neighbours are ``gap`` apart."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [positions[i] for i in order]
    for _ in range(len(placed)):  # a few passes of push-apart settle any cluster
        for k in range(1, len(placed)):
            if placed[k] - placed[k - 1] < gap:
                mid = (placed[k] + placed[k - 1]) / 2
                placed[k - 1], placed[k] = mid - gap / 2, mid + gap / 2
    out = [0.0] * len(positions)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def label_vlines(
    ax, lines: dict[str, float], *, fontsize: float = 6.5, colour: str = "0.35", panel_width: float, names: bool = True
):
    """Vertical theory lines across ``ax``, each named at its top end, names never overlapping.

    The names stand above the axes, rotated, so they never cover data; names of lines
    closer than a text height are moved apart (with a short leader to their line).
    Lines outside the x range are not drawn (say so in the caption).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes whose x limits are already final (log or linear scale).
    lines : dict
        Name -> x position.
    fontsize : float
        Name size, points.
    colour : str
        Line and name colour.
    panel_width : float
        Width of the axes in inches (to turn the text height into a distance along x).
    names : bool
        Draw the names (``False``: only the lines, for a panel below one that names them).

    Returns
    -------
    list of matplotlib.text.Text
        The names drawn.
    """
    lo, hi = ax.get_xlim()
    log = ax.get_xscale() == "log"
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    inside = {n: x for n, x in lines.items() if lo <= x <= hi}
    if not inside:
        return []
    frac = [(f(x) - f(lo)) / (f(hi) - f(lo)) for x in inside.values()]
    gap = 1.25 * fontsize / 72 / panel_width  # one text height, as a share of the axes width
    placed = _spread(frac, gap)
    texts = []
    for (name, x), p, q in zip(inside.items(), frac, placed, strict=True):
        line = ax.axvline(x, color=colour, lw=0.8, ls=(0, (3, 2)), label=name, zorder=0.5)
        line.set_gid(NAMED_IN_PLACE)  # named by the text at its end (here or above), not in the legend
        if not names:
            continue
        (leader,) = ax.plot([p, q], [1.0, 1.04], color=colour, lw=0.5, transform=ax.transAxes, clip_on=False)
        leader.set_label(name)
        leader.set_gid(NAMED_IN_PLACE)
        texts.append(
            ax.text(q, 1.05, name, transform=ax.transAxes, rotation=90, ha="center", va="bottom", fontsize=fontsize)
        )
        texts[-1].set_color(colour)
    return texts


def figure_legend(
    fig, axes, *, order: Sequence[str] | None = None, proxies: dict | None = None, columns=None, **kwargs
):
    """One legend for the whole figure from the labelled artists of ``axes``, each label once.

    ``order`` puts those labels first, in that order; the others follow as found.
    ``proxies`` maps a label to the handle drawn for it (e.g. a grey band for a band
    that every series draws in its own colour); a proxy's label must also label an artist.
    ``columns`` (a list of label lists) lays the legend out one group per column (labels
    that label nothing are skipped, the rest follow in a last column); it overrides ``ncol``.
    """
    found: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if getattr(h, "get_gid", lambda: None)() != NAMED_IN_PLACE:
                found.setdefault(lab, h)
    handles = {lab: (proxies or {}).get(lab, h) for lab, h in found.items()}
    first = [lab for lab in (order or ()) if lab in handles]
    labels = first + [lab for lab in handles if lab not in first]
    if columns is None:
        return fig.legend([handles[lab] for lab in labels], labels, **kwargs)
    from matplotlib.lines import Line2D

    cols = [[lab for lab in col if lab in handles] for col in columns]
    placed = {lab for col in cols for lab in col}
    cols.append([lab for lab in labels if lab not in placed])
    cols = [c for c in cols if c]
    rows = max(len(c) for c in cols)
    blank = Line2D([], [], color="none")
    flat_h, flat_l = [], []
    for col in cols:  # legends fill column by column
        flat_h += [handles[lab] for lab in col] + [blank] * (rows - len(col))
        flat_l += col + [""] * (rows - len(col))
    kwargs["ncol"] = len(cols)
    return fig.legend(flat_h, flat_l, **kwargs)


def caption(fig, text: str, *, y: float = 0.0, fontsize: float = 7):
    """A caption at height ``y`` (figure fraction; its top edge), wrapped to the figure width.

    Part of the saved image (``save_figure`` saves with a tight bounding box, so text
    below ``y = 0`` is kept).  Paragraphs are separated by newlines.
    """
    chars = int(fig.get_figwidth() * 72 / (0.5 * fontsize))  # about half an em per character
    wrapped = "\n".join(textwrap.fill(p, chars) for p in text.split("\n"))
    return fig.text(0.01, y, wrapped, ha="left", va="top", fontsize=fontsize, color="0.2")


def renderer_of(fig):
    """A renderer for measuring text in ``fig`` (an Agg one when the figure's canvas has none)."""
    get = getattr(fig.canvas, "get_renderer", None)
    if get is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        get = FigureCanvasAgg(fig).get_renderer
    return get()


def legend_below(fig, axes, *, caption_text: str = "", **kwargs):
    """A figure legend under the laid-out axes and, under it, a caption.

    Call after ``fig.tight_layout()``; both stand below the figure's bottom edge, which
    the tight bounding box of :func:`save_figure` takes in.  Returns the legend.
    """
    renderer = renderer_of(fig)
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes) / (fig.dpi * fig.get_figheight())
    kwargs.setdefault("ncol", 4)
    leg = figure_legend(fig, axes, loc="upper center", bbox_to_anchor=(0.5, bottom), frameon=False, **kwargs)
    if caption_text:
        y = leg.get_window_extent(renderer).y0 / (fig.dpi * fig.get_figheight())
        caption(fig, caption_text, y=y - 0.01)
    return leg


def _texts(fig) -> str:
    """Every piece of text in ``fig`` (titles, captions, axis texts, legend entries), joined."""
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text))


def unexplained_artists(fig) -> list[str]:
    """Lines, bands and bars of ``fig`` whose label is missing or appears in no text of the figure.

    A figure explains an artist when the artist's label is shown in a legend or quoted in
    a caption, title or annotation.  Artists made by containers (bars, error bars) are
    judged by their container's label.  Returns a description of each offender.
    """
    text = _texts(fig)
    bad = []
    for ax in fig.axes:
        owned = set()
        for c in ax.containers:
            owned.update(id(a) for a in c.get_children())
            for a in c.get_children():
                owned.update(id(b) for b in getattr(a, "get_children", list)())
            if c.get_label().startswith("_") or c.get_label() not in text:
                bad.append(f"{type(c).__name__} {c.get_label()!r} in {ax.get_title()!r}")
        for art in [*ax.lines, *ax.collections, *ax.patches]:
            if id(art) in owned:
                continue
            label = art.get_label()
            if label.startswith("_") or label not in text:
                bad.append(f"{type(art).__name__} {label!r} in {ax.get_title()!r}")
    return bad


def stacked_shares(ax, table, outcomes, pos) -> None:
    """Bars of outcome shares stacked to 1 at positions ``pos`` (one row of ``table`` each).

    Parameters
    ----------
    ax : matplotlib Axes
    table : DataFrame
        ``(len(pos), len(outcomes))`` shares; missing values count as 0.
    outcomes : sequence of str
        Column order, bottom first; colours and labels from :mod:`experiments.style`.
    pos : array-like
        Bar positions.
    """
    bottom = np.zeros(len(table))
    for outcome in outcomes:
        vals = table[outcome].fillna(0.0).to_numpy()
        ax.bar(pos, vals, bottom=bottom, width=0.85, color=outcome_colour(outcome), lw=0, label=outcome_label(outcome))
        bottom += vals
    ax.set_ylim(0, 1)
    ax.set_xticks(pos, [f"{v:g}" for v in table.index], rotation=90)

"""One figure style for the whole testbed, and saving as PNG + PDF side by side.

Figures are always rebuilt from a results file (``python -m experiments plot DIR``),
never from in-memory experiment state, so a paper figure can be regenerated
without rerunning anything.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["set_style", "save_figure", "MODEL_ORDER", "palette"]

#: Fixed colour order so that a model keeps its colour across figures.
MODEL_ORDER = (
    "classical-hebb",
    "classical-pseudoinverse",
    "classical-storkey",
    "dense-n2",
    "dense-n3",
    "dense-n4",
    "dense-exp",
    "modern-b0.02",
    "modern-b0.1",
    "modern-b1",
    "oracle",
    "oracle-ancestral",
    "diffusion",
    "classical",
)


def set_style() -> None:
    """Seaborn paper style on the Agg backend, fonts embedded as TrueType in PDFs."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import seaborn as sns

    sns.set_theme(context="paper", style="ticks", font_scale=1.1)
    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": 150, "figure.dpi": 100})


def palette(names) -> dict[str, tuple]:
    """Colour per name, stable across figures for names in :data:`MODEL_ORDER`."""
    import seaborn as sns

    names = list(dict.fromkeys(names))
    known = [n for n in MODEL_ORDER if n in names] + [n for n in names if n not in MODEL_ORDER]
    colours = sns.color_palette("tab10", n_colors=max(len(known), 1))
    return {n: colours[i % len(colours)] for i, n in enumerate(known)}


def save_figure(fig, stem: Path | str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf``; returns both paths."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, bbox_inches="tight")
    plt.close(fig)
    return paths

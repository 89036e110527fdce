"""One figure style for the whole testbed, and saving as PNG + PDF side by side.

Figures are always rebuilt from a results file (``python -m experiments plot DIR``),
never from in-memory experiment state, so a paper figure can be regenerated
without rerunning anything.
"""

from __future__ import annotations

from pathlib import Path

from experiments.style import MEMORIES
from experiments.style import palette as style_palette

__all__ = ["set_style", "save_figure", "MODEL_ORDER", "palette"]

#: Memories in legend order (family, then shade); colours come from :mod:`experiments.style`.
MODEL_ORDER = tuple(MEMORIES)


def set_style() -> None:
    """Seaborn paper style on the Agg backend, fonts embedded as TrueType in PDFs."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import seaborn as sns

    sns.set_theme(context="paper", style="ticks", font_scale=1.1)
    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": 150, "figure.dpi": 100})


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
        fig.savefig(p, bbox_inches="tight")
    plt.close(fig)
    return paths

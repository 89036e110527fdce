"""One visual identity: a fixed colour, marker and typeset label per memory, outcome and split.

A memory keeps its colour in every figure, whichever subset of models a run plots:
colours are looked up by name, never by position. Each family has one hue and its
members are shades of it (lightness ordered like the family's parameter):

* classical nets: blues (Hebb darkest, Storkey lightest);
* dense associative memories: browns to sand (n = 2 darkest, exp lightest);
* modern Hopfield nets: plum to mauve (beta = 0.02 darkest, beta = 1 lightest);
* the Bayes oracle: black (the exact reference); the learned diffusion model: bluish green.

Outcome classes and splits use the eight colours of Okabe & Ito (2008, "Color Universal
Design"), with dark grey for "not converged"; generated-sample classes reuse the outcome
colour of the same meaning (memorised = retrieved, generalised = unseen test, spurious =
spin-glass-like).

Every pair of colours that can share a figure (all memories, all outcome classes, the
generated-sample classes, the splits, the unnamed series, the text marks) keeps a CIEDE2000 difference of at least 10 in
normal vision and under simulated protanopia, deuteranopia and tritanopia (Machado,
Oliveira & Fernandes 2009, severity 100); tests/experiments/test_style.py measures it.
The model shades were found by a small search that maximised the smallest such
difference (10.8) from a hand-made family design, keeping every colour at a difference
of at least 25 from the white background so that thin lines stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Style",
    "MEMORIES",
    "OUTCOME_COLOURS",
    "OUTCOME_LABELS",
    "GENERATION_COLOURS",
    "SPLIT_COLOURS",
    "SERIES_COLOURS",
    "MARK_COLOURS",
    "model_style",
    "model_label",
    "palette",
    "markers",
    "outcome_colour",
    "outcome_label",
    "split_colour",
    "generation_colour",
    "series_colour",
]


@dataclass(frozen=True)
class Style:
    """How one memory is drawn: ``colour`` (hex), matplotlib ``marker`` and typeset ``label``."""

    colour: str
    marker: str
    label: str
    family: str


#: Display name (the ``model`` column of a results table) -> its style. Order: family, then shade.
MEMORIES: dict[str, Style] = {
    "classical-hebb": Style("#23417c", "o", "Hebb", "classical"),
    "classical-pseudoinverse": Style("#337dc0", "s", "pseudo-inverse", "classical"),
    "classical-storkey": Style("#76b3e4", "D", "Storkey", "classical"),
    "dense-n2": Style("#7a3b00", "v", "dense n = 2", "dense"),
    "dense-n3": Style("#d25b00", "^", "dense n = 3", "dense"),
    "dense-n4": Style("#e39100", "<", "dense n = 4", "dense"),
    "dense-exp": Style("#ebbf70", ">", "dense exp", "dense"),
    "modern-b0.02": Style("#5e084b", "P", "modern β = 0.02", "modern"),
    "modern-b0.1": Style("#bb4397", "X", "modern β = 0.1", "modern"),
    "modern-b1": Style("#c984b1", "p", "modern β = 1", "modern"),
    "oracle": Style("#000000", "*", "Bayes oracle", "oracle"),
    "diffusion": Style("#08a377", "h", "learned diffusion", "diffusion"),
    # The transition study's classical Potts net (Hebbian couplings): drawn like Hebb, since
    # it never shares a figure with the binary Hebbian net.
    "classical": Style("#23417c", "o", "classical Potts (Hebb)", "classical"),
}

#: Outcome class of a final state (names as in :data:`experiments.metrics.OUTCOMES`) -> colour.
OUTCOME_COLOURS: dict[str, str] = {
    "retrieved": "#009E73",  # bluish green
    "other stored": "#56B4E9",  # sky blue
    "reversed": "#0072B2",  # blue
    "unseen test": "#CC79A7",  # reddish purple
    "near stored": "#F0E442",  # yellow
    "mixture-like": "#E69F00",  # orange
    "spin-glass-like": "#D55E00",  # vermillion
    "not converged": "#555555",  # dark grey
}

#: Legend text of each outcome class.
OUTCOME_LABELS: dict[str, str] = {
    "retrieved": "retrieved (its own pattern)",
    "other stored": "another stored pattern",
    "reversed": "reversed pattern",
    "unseen test": "unseen test pattern",
    "near stored": "near a pattern (|m| > 0.9)",
    "mixture-like": "mixture (0.3 < |m| ≤ 0.9)",
    "spin-glass-like": "spin glass (|m| ≤ 0.3)",
    "not converged": "not converged",
}

#: Class of a generated sample (:data:`experiments.metrics.GENERATION_CLASSES`) -> colour.
GENERATION_COLOURS: dict[str, str] = {
    "memorised": OUTCOME_COLOURS["retrieved"],
    "spurious": OUTCOME_COLOURS["spin-glass-like"],
    "generalised": OUTCOME_COLOURS["unseen test"],
}

#: Split of a pattern set -> colour; ``stored`` / ``held-out`` (basins) read as train / test.
SPLIT_COLOURS: dict[str, str] = {
    "train": "#0072B2",
    "test": "#D55E00",
    "generated": "#009E73",
}
_SPLIT_ALIASES = {"stored": "train", "held-out": "test"}

#: Unnamed series in one figure (datasets, trajectories, classes), in this order; seven at most
#: stay apart in every vision (Okabe & Ito without yellow, which is faint on white).
SERIES_COLOURS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#555555")

#: Marks on text and verdicts: wrong / changed characters (on black text), passed / failed checks.
MARK_COLOURS: dict[str, str] = {
    "wrong": "#D55E00",
    "changed": "#0072B2",
    "pass": "#009E73",
    "fail": "#D55E00",
}


def _lookup(table: dict, name, what: str):
    if not isinstance(name, str):
        raise TypeError(f"{what} name must be a str, got {type(name).__name__}: {name!r}")
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; experiments/style.py knows {list(table)}")
    return table[name]


def model_style(name: str) -> Style:
    """The :class:`Style` of a memory by display name (a row's ``model``), with a clear error."""
    return _lookup(MEMORIES, name, "memory")


def model_label(name: str) -> str:
    """Typeset legend label of a memory, e.g. ``"modern-b0.1"`` -> ``"modern β = 0.1"``."""
    return model_style(name).label


def palette(names) -> dict[str, str]:
    """``{name: colour}`` for an iterable of memory names (seaborn's ``palette=``)."""
    return {n: model_style(n).colour for n in dict.fromkeys(names)}


def markers(names) -> dict[str, str]:
    """``{name: marker}`` for an iterable of memory names (seaborn's ``markers=``)."""
    return {n: model_style(n).marker for n in dict.fromkeys(names)}


def outcome_colour(name: str) -> str:
    """Colour of an outcome class of :data:`experiments.metrics.OUTCOMES`."""
    return _lookup(OUTCOME_COLOURS, name, "outcome class")


def outcome_label(name: str) -> str:
    """Legend text of an outcome class."""
    return _lookup(OUTCOME_LABELS, name, "outcome class")


def generation_colour(name: str) -> str:
    """Colour of a generated-sample class (memorised / spurious / generalised)."""
    return _lookup(GENERATION_COLOURS, name, "generation class")


def series_colour(i: int) -> str:
    """Colour of the ``i``-th unnamed series; ``ValueError`` past the seven that stay apart."""
    if isinstance(i, bool) or not isinstance(i, int):
        raise TypeError(f"series index must be an int, got {type(i).__name__}: {i!r}")
    if not 0 <= i < len(SERIES_COLOURS):
        raise ValueError(f"series index must be in [0, {len(SERIES_COLOURS)}), got {i}: use markers or panels beyond")
    return SERIES_COLOURS[i]


def split_colour(name: str) -> str:
    """Colour of a split: ``train`` / ``test`` / ``generated`` (``stored`` / ``held-out`` alike)."""
    name = _SPLIT_ALIASES.get(name, name) if isinstance(name, str) else name
    return _lookup(SPLIT_COLOURS, name, "split")

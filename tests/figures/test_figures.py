"""Study figures on tiny synthetic tables: they render, fit a page, explain every mark, use the shared style.

Synthetic tables (tests/figures/tables.py) keep these tests fast; the values are made up,
the checks are about drawing: every line, band and bar has a legend entry or is named in
the figure's text, legends show typeset names (``modern β = 0.1``, never ``modern-b0.1``),
theory names never overlap, and no study sets a colour outside experiments/style.py.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pandas as pd
import pytest

from experiments import basins, basins_figures, capacity, spurious
from experiments import transition as tr
from experiments.figures import PAGE_WIDTH, alternate_markers, renderer_of, save_figure, set_style, unexplained_artists
from experiments.zoo import MODEL_SPECS
from tests.figures import tables

ROOT = Path(__file__).resolve().parents[2]

STUDIES = {
    "capacity": (capacity, tables.capacity_table, {"capacity"}),
    "basins": (basins, tables.basins_table, {"basins_recovery", "basins_exact", "basins_radius"}),
    "spurious": (spurious, tables.spurious_table, {"spurious_outcomes", "spurious_mixtures"}),
    "transition": (
        tr,
        tables.transition_table,
        set(tr.FIGURES),
    ),
}


@pytest.fixture(scope="module")
def figures():
    import matplotlib.pyplot as plt

    set_style()
    out = {}
    for name, (module, table, _) in STUDIES.items():
        out[name] = module.plot(table(), {})
    yield out
    plt.close("all")


def _texts(fig) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.mark.parametrize("study", list(STUDIES))
def test_every_study_renders_its_figures(figures, study, tmp_path):
    assert set(figures[study]) == STUDIES[study][2]
    for name, fig in figures[study].items():
        assert fig.axes
        # a paper page (7 in) wide at most, allowing the legend to reach a little beyond the axes
        assert fig.get_figwidth() <= PAGE_WIDTH + 1e-9, (name, fig.get_figwidth())
    fig = next(iter(figures[study].values()))
    png, pdf = save_figure(fig, tmp_path / study)
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 5_000


@pytest.mark.parametrize("study", list(STUDIES))
def test_every_line_band_and_bar_is_explained(figures, study):
    for name, fig in figures[study].items():
        assert unexplained_artists(fig) == [], name


@pytest.mark.parametrize("study", list(STUDIES))
def test_texts_use_typeset_memory_names(figures, study):
    raw = [m for m in MODEL_SPECS if "-" in m]  # display names such as modern-b0.1, classical-hebb
    for name, fig in figures[study].items():
        for text in _texts(fig):
            assert not any(re.search(rf"(?<![\w-]){re.escape(m)}(?![\w.])", text) for m in raw), (name, text)


def test_capacity_names_theory_lines_without_overlap_and_ends_axes_at_the_data(figures):
    fig = figures["capacity"]["capacity"]
    renderer = renderer_of(fig)
    fig.draw(renderer)
    for ax in fig.axes:
        names = [t for t in ax.texts if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in names]
        for (a, ta), (b, tb) in itertools.combinations(zip(boxes, names, strict=True), 2):
            assert not a.overlaps(b), (ta.get_text(), tb.get_text())
        lines = [ln for ln in ax.lines if len(ln.get_xdata()) > 2]
        right = max(max(ln.get_xdata()) for ln in lines)
        assert ax.get_xlim()[1] <= 1.3 * right  # no empty decade beyond the data
    caption = "\n".join(_texts(fig))
    assert "band: range over 3 seeds" in caption and "0.9 criterion" in caption
    assert "KH n = 4" in caption  # its line lies beyond the grid: said in the caption


def test_basins_draw_the_chance_level(figures):
    fig = figures["basins"]["basins_recovery"]
    chance = [ln for ax in fig.axes for ln in ax.lines if ln.get_label() == basins_figures._CHANCE]
    assert chance and all(ln.get_ydata()[0] == basins_figures.CHANCE_RECOVERY for ln in chance)


def test_capacity_summary_says_where_the_grid_ends():
    text = capacity.summary(tables.capacity_table())
    assert "nan" not in text
    assert "below the grid (< 0.05 N)" in text  # modern β = 0.02 never retrieves
    assert ">= 8 N (beyond the grid)" in text


def test_alternate_markers_show_every_coinciding_curve():
    curves = {"a": {1: 1.0, 2: 1.0, 3: 1.0, 4: 0.5}, "b": {1: 1.0, 2: 1.0, 3: 1.0, 4: 0.1}, "c": {1: 0.2, 2: 1.0}}
    marks = alternate_markers(curves)
    for x in (1, 2, 3, 4):  # every x has at least one marker per distinct value
        values = {round(curves[n][x], 6) for n in curves if x in curves[n]}
        shown = {round(curves[n][x], 6) for n in curves if x in marks[n]}
        assert shown == values
    assert marks["a"] and marks["b"]  # both coinciding curves show up somewhere
    assert 4 in marks["a"] and 4 in marks["b"] and 1 in marks["c"]  # alone at its value: always marked


COLOUR = re.compile(r"""["'](?:#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}|C\d|tab:\w+|tab10|tab20)["']|f["']C\{|get_cmap\(""")


def test_no_colour_is_set_outside_the_style_module():
    offenders = []
    for path in sorted((ROOT / "experiments").rglob("*.py")):
        if path.name == "style.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if COLOUR.search(line) and "report" not in path.name:  # the HTML report's CSS greys are not plots
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_unexplained_artists_flags_unlabelled_and_unnamed_marks():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="in the legend")
    ax.plot([0, 1], [1, 0])  # no label
    ax.axhline(0.5, label="named nowhere")
    ax.bar([0], [1], label="bars")
    ax.legend(handles=ax.lines[:1] + list(ax.containers))
    bad = unexplained_artists(fig)
    assert len(bad) == 2 and "named nowhere" in bad[1]
    plt.close(fig)


def test_the_colour_check_catches_hand_set_colours():
    old = ['"retrieved": "#1a9850",', 'color=f"C{k}"', '_SPLIT_COLOURS = {"train": "C0"}', 'plt.get_cmap("tab10")']
    assert all(COLOUR.search(line) for line in old)
    assert not COLOUR.search('color=series_colour(k), ls="--"')


def test_range_bars_survive_a_mean_an_ulp_outside_the_range():
    # The paper preset's digits radii at load 0.02 are 0.475 for every pattern; pandas' mean of
    # three of them is 0.4749999999999999, so "mean - min" was -1.1e-16 and matplotlib refused
    # the figure (the basins paper run ended with "'yerr' must not contain negative values").
    import matplotlib.pyplot as plt

    radii = pd.Series([0.475] * 3)
    mean = radii.agg(["mean"]).to_numpy()
    assert mean[0] < radii.min()  # the rounding this guards against
    bars = basins_figures.range_bars(mean, [radii.min()], [radii.max()])
    assert bars.shape == (2, 1) and (bars >= 0).all() and bars.max() < 1e-15
    fig, ax = plt.subplots()
    ax.errorbar([0], mean, yerr=bars)  # raised ValueError before the clip
    plt.close(fig)
    assert basins_figures.range_bars([0.3], [0.1], [0.4]).ravel().tolist() == pytest.approx([0.2, 0.1])

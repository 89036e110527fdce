"""The visual identity of experiments/style.py: complete, keyed by name, colour-blind safe.

Colour differences are CIEDE2000 in CIELab (D65) after simulating full protanopia,
deuteranopia and tritanopia with the matrices of Machado, Oliveira & Fernandes (2009)
(colorspacious, severity 100), and in normal vision. Measured minima over every pair that
can share a figure (normal / protan / deutan / tritan): all 12 memories 13.9 / 10.8 / 10.9 / 10.8,
outcome classes 21.7 / 12.2 / 11.6 / 10.9, generated-sample classes 37.0 / 18.2 / 15.9 / 13.9,
splits 38.4 / 18.2 / 20.5 / 12.4, the seven unnamed series 22.2 / 12.2 / 12.5 / 10.9.
The colours they replace: tab10 by position 16.2 / 1.3 / 3.3 / 9.5,
the demos' outcome frames 21.7 / 1.3 / 3.3 / 12.0, the spurious study's 16.9 / 4.2 / 3.4 / 11.2.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

colorspacious = pytest.importorskip("colorspacious")
deltaE_ciede2000 = pytest.importorskip("skimage.color").deltaE_ciede2000
from matplotlib.colors import to_rgb  # noqa: E402

from experiments import style  # noqa: E402
from experiments.figures import palette  # noqa: E402
from experiments.metrics import GENERATION_CLASSES, OUTCOMES  # noqa: E402
from experiments.zoo import MODEL_SPECS  # noqa: E402

MIN_DELTA_E = 10.0
VISIONS = (None, "protanomaly", "deuteranomaly", "tritanomaly")
TRANSITION_MODELS = ("diffusion", "oracle", "classical")
#: Every memory that can appear in one figure: the zoo (capacity plots all of it) and the learned model.
ALL_MEMORIES = (*MODEL_SPECS, "diffusion")


def _lab(colour: str, vision: str | None) -> np.ndarray:
    rgb = np.array(to_rgb(colour))
    if vision is not None:
        cvd = {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}
        rgb = np.clip(colorspacious.cspace_convert(rgb, cvd, "sRGB1"), 0.0, 1.0)
    return colorspacious.cspace_convert(rgb, "sRGB1", "CIELab")


def delta_e(a: str, b: str, vision: str | None) -> float:
    return float(deltaE_ciede2000(_lab(a, vision), _lab(b, vision)))


def _closest_pairs(colours: dict[str, str]) -> list[tuple[float, str, str, str]]:
    """Pairs below the threshold as (delta E, vision, name, name)."""
    bad = []
    for (n1, c1), (n2, c2) in itertools.combinations(colours.items(), 2):
        for vision in VISIONS:
            d = delta_e(c1, c2, vision)
            if d < MIN_DELTA_E:
                bad.append((round(d, 1), vision or "normal", n1, n2))
    return bad


def test_the_measure_flags_the_old_letters_demo_frames():
    # tab10 green / orange (the old "retrieved" / "mixture-like" frames) merge under protanopia:
    # if the simulation did nothing, every test below would pass vacuously.
    assert delta_e("#2ca02c", "#ff7f0e", None) > 30
    assert delta_e("#2ca02c", "#ff7f0e", "protanomaly") < 5


def test_every_named_memory_has_a_style():
    for name in (*MODEL_SPECS, *TRANSITION_MODELS):
        s = style.model_style(name)
        assert s.colour.startswith("#") and len(s.colour) == 7
        assert s.label and s.label != name
    assert style.model_label("modern-b0.1") == "modern β = 0.1"
    assert style.model_label("dense-n3") == "dense n = 3"


def test_family_members_share_a_family():
    for name in MODEL_SPECS:
        assert style.model_style(name).family == name.split("-")[0]


@pytest.mark.parametrize(
    "group",
    [ALL_MEMORIES, TRANSITION_MODELS],
    ids=["all memories", "transition models"],
)
def test_memory_colours_stay_apart_in_every_vision(group):
    assert _closest_pairs({n: style.model_style(n).colour for n in group}) == []


def test_memory_markers_differ():
    markers = [style.model_style(n).marker for n in ALL_MEMORIES]
    assert len(set(markers)) == len(markers)


def test_outcome_classes_match_metrics_and_stay_apart():
    assert list(style.OUTCOME_COLOURS) == list(OUTCOMES)
    assert list(style.OUTCOME_LABELS) == list(OUTCOMES)
    assert _closest_pairs({o: style.outcome_colour(o) for o in OUTCOMES}) == []
    assert list(style.GENERATION_COLOURS) == list(GENERATION_CLASSES)
    assert _closest_pairs({g: style.generation_colour(g) for g in GENERATION_CLASSES}) == []


def test_splits_stay_apart_and_aliases_match():
    assert _closest_pairs({s: style.split_colour(s) for s in ("train", "test", "generated")}) == []
    assert style.split_colour("stored") == style.split_colour("train")
    assert style.split_colour("held-out") == style.split_colour("test")


def test_series_and_marks_stay_apart():
    series = {str(i): style.series_colour(i) for i in range(len(style.SERIES_COLOURS))}
    assert _closest_pairs(series) == []
    with pytest.raises(ValueError, match="series index"):
        style.series_colour(len(style.SERIES_COLOURS))
    marks = style.MARK_COLOURS
    assert _closest_pairs({"wrong": marks["wrong"], "changed": marks["changed"], "text": "#000000"}) == []
    assert _closest_pairs({"pass": marks["pass"], "fail": marks["fail"]}) == []


def test_palette_is_keyed_by_name_not_position():
    full = palette(ALL_MEMORIES)
    for subset in (["dense-exp"], ["modern-b1", "dense-exp", "classical-hebb"], list(reversed(ALL_MEMORIES))):
        assert palette(subset) == {n: full[n] for n in subset}
    # 11 or more memories no longer wrap around a 10-colour cycle
    assert len(set(full.values())) == len(full)
    assert style.markers(["oracle"]) == {"oracle": "*"}


@pytest.mark.parametrize(
    "call",
    [style.model_style, style.outcome_colour, style.outcome_label, style.split_colour, style.generation_colour],
)
def test_unknown_names_raise_a_clear_error(call):
    with pytest.raises(ValueError, match="unknown .*'no-such-thing'"):
        call("no-such-thing")
    with pytest.raises(TypeError, match="must be a str"):
        call(3)


def test_palette_rejects_an_unknown_memory():
    with pytest.raises(ValueError, match="unknown memory 'modern-b7'"):
        palette(["modern-b1", "modern-b7"])

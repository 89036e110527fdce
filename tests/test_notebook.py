"""The tour notebook: stored with clean outputs that match its script, and still runs top to bottom.

``notebooks/make_tour.py`` writes and executes ``notebooks/tour.ipynb``; the stored copy must
hold exactly those cells, their pictures and printed results, and nothing a reader should
not see (no stderr, no warnings, no tracebacks).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "tour.ipynb"


def _make_tour():
    spec = importlib.util.spec_from_file_location("make_tour", ROOT / "notebooks" / "make_tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _problems(nb) -> list[str]:
    """Outputs a reader should not see: stderr streams, errors, and any text mentioning a warning."""
    bad = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.outputs:
            text = out.get("text", "") + "".join(str(v) for k, v in out.get("data", {}).items() if k.startswith("text"))
            if out.output_type == "error":
                bad.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                bad.append(f"cell {i}: stderr: {text[:200]!r}")
            elif "warning" in text.lower():
                bad.append(f"cell {i}: {text[:200]!r}")
    return bad


def _images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)


def test_stored_notebook_matches_its_script_and_has_clean_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    expected = _make_tour().build()
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in expected.cells], (
        "notebooks/tour.ipynb is out of date: run python notebooks/make_tour.py"
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code), "every code cell of the stored notebook shows its output"
    assert _problems(nb) == []
    assert _images(nb) >= 2  # the trajectory and the beta sweep
    assert NOTEBOOK.stat().st_size < 1_000_000


def test_tour_notebook_executes_without_warnings():
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = _make_tour().execute(_make_tour().build())  # raises CellExecutionError with the failing cell's traceback
    assert _problems(nb) == []
    assert _images(nb) >= 2
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )
    assert "retrieved exactly: [True, True, True, True]" in printed
    assert "np.int64" not in printed and "tensor(" not in printed  # plain numbers for readers
    # the beta sweep shows all three regimes: global average (weight on nearly all 20 patterns),
    # metastable class average (a few patterns, mostly the four '3's), one pattern
    sweep = re.findall(r"weight spread over\s+([\d.]+) patterns, (\d+)% on the four '3's", printed)
    (n_global, _), (n_meta, share_meta), (n_single, _) = [(float(n), int(p)) for n, p in sweep]
    assert n_global > 15 and 2 < n_meta < 8 and share_meta >= 75 and n_single < 1.1
    assert nbformat.validate(nb) is None

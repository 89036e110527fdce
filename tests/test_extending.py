"""The examples of ``docs/extending.md`` run, and do what the page says.

Every ```` ```python ```` block of the page is used in order:

* ``# file: PATH`` as its first line: the block is written to ``PATH`` under a temporary
  directory, and the package the path starts with (``models``, ``experiments``) gets that
  directory on its ``__path__``, so ``models.nearest`` imports as if it were in the repository;
* ``# entry in NAME (...)``: the block is one entry of the dictionary ``NAME``
  (``MODELS``, ``CONFORMANCE``, ``EXPERIMENTS``), read with :func:`ast.literal_eval` and
  put in that dictionary for the duration of this module;
* any other block is executed, all of them in one namespace, with the working directory
  in the temporary directory.

The memory of the page then runs through every check of the conformance suite, and the
sweep through ``run_sweep`` and the command line.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import re
import sys
from pathlib import Path

import pytest
import torch

import experiments
import experiments.cli
import experiments.registry
import models

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
FILE = re.compile(r"# file: (\S+)\n")
ENTRY = re.compile(r"# entry in (\w+)\b.*\n")
PACKAGES = {"models": models, "experiments": experiments}


def _blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    """Run the page once; yield its namespace, printed output, entries and directory."""
    root = tmp_path_factory.mktemp("extending")
    namespace: dict = {"__name__": "docs_extending"}
    entries: dict[str, dict] = {}
    written: list[str] = []
    registries = {"MODELS": models.MODELS, "EXPERIMENTS": experiments.registry.EXPERIMENTS}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for i, block in enumerate(_blocks()):
            if m := FILE.match(block):
                path = root / m.group(1)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block, encoding="utf-8")
                package = PACKAGES[Path(m.group(1)).parts[0]]
                if str(path.parent) not in package.__path__:
                    mp.setattr(package, "__path__", [*package.__path__, str(path.parent)])
                written.append(m.group(1).removesuffix(".py").replace("/", "."))
            elif m := ENTRY.match(block):
                entry = ast.literal_eval("{" + block[m.end() :] + "}")
                entries.setdefault(m.group(1), {}).update(entry)
                for key, value in entry.items():
                    if m.group(1) in registries:
                        mp.setitem(registries[m.group(1)], key, value)
            else:
                with contextlib.redirect_stdout(out):
                    exec(compile(block, f"{DOC.name}, python block {i + 1}", "exec"), namespace)
        yield {"ns": namespace, "stdout": out.getvalue(), "entries": entries, "root": root}
    for name in written:  # the modules of the page must not outlive this module's tests
        sys.modules.pop(name, None)
        parent, _, child = name.rpartition(".")
        if hasattr(sys.modules.get(parent), child):
            delattr(sys.modules[parent], child)


def test_the_page_has_the_blocks_this_test_reads():
    kinds = [("file" if FILE.match(b) else "entry" if ENTRY.match(b) else "code") for b in _blocks()]
    assert kinds.count("file") == 2 and kinds.count("entry") == 3 and kinds.count("code") == 3, kinds


def test_pattern_set_example(doc):
    animals = doc["ns"]["animals"]
    assert (animals.n_train, animals.n_test, animals.length, animals.vocab_size) == (6, 2, 4, 18)
    assert repr(animals) in doc["stdout"]
    assert re.search(r"PatternSet\(name='animals', K=6, L=4, V=18, n_test=2, hash='[0-9a-f]{16}'\)", doc["stdout"])


def test_memory_example_retrieves_the_nearest_word(doc):
    assert doc["stdout"].splitlines()[1] == "cats"
    net = doc["ns"]["net"]
    assert type(net).__module__ == "models.nearest" and net.get_params() == {"radius": 0.25, "device": "cpu"}
    animals, alphabet = doc["ns"]["animals"], doc["ns"]["alphabet"]
    far = torch.tensor([[alphabet.index(c) for c in "cows"]])  # two letters from "cats" and "dogs"
    assert torch.equal(net.retrieve(far).states, far)  # beyond radius 0.25 * 4 = 1: left as it is
    assert torch.equal(net.retrieve(animals.train).states, animals.train)


def test_memory_example_passes_the_conformance_suite(doc, seed):
    conformance = importlib.import_module("tests.models.test_conformance")
    (key, cfg), *_ = doc["entries"]["CONFORMANCE"].items()
    name = cfg.get("model", key)
    assert name in models.MODELS
    ran = []
    for fname, fn in vars(conformance).items():
        if not fname.startswith("test_") or not callable(fn):
            continue
        params = list(inspect.signature(fn).parameters)
        if not {"key", "name", "cfg"} <= set(params) or not set(params) <= {"key", "name", "cfg", "seed"}:
            continue
        kwargs = {"key": f"docs-{key}", "name": name, "cfg": cfg, "seed": seed}
        fn(**{p: kwargs[p] for p in params})
        ran.append(fname)
    getattr(conformance, "_FITTED", {}).pop(f"docs-{key}", None)
    assert len(ran) >= 8, ran  # every per-model check of the suite, not a silent no-op


def test_memory_example_energy_never_increases(doc):
    net = doc["ns"]["net"]
    g = torch.Generator().manual_seed(0)
    q = torch.randint(0, net.vocab_size_, (50, 4), generator=g)
    r = net.retrieve(q, record=True)
    assert r.energies.shape == (2, 50) and bool((r.energies[1] <= r.energies[0]).all())


def test_sweep_example_writes_the_table(doc):
    results = doc["ns"]["results"]
    module = importlib.import_module("experiments.exact_vs_load")
    config = module.PRESETS["quick"]
    assert len(results) == len(module.cells(config)) == 3 * 3 * 2
    assert {"model", "N", "V", "K", "load", "seed", "flip", "exact", "pattern_hash"} <= set(results.columns)
    # Every model of a (K, seed) cell saw the same patterns.
    assert (results.groupby(["K", "seed"])["pattern_hash"].nunique() == 1).all()
    # 6 of 64 bits flipped: another random pattern agrees with a query on >= 58 bits with
    # probability < 1e-11, so the nearest stored pattern is always the right one.
    assert (results.loc[results.model == "nearest", "exact"] == 1.0).all()
    run = doc["root"] / "results" / "exact_vs_load"
    assert (run / "results.parquet").exists() and (run / "run.json").exists()
    assert set(doc["ns"]["figures"]) == {"exact_vs_load"}


def test_sweep_example_runs_from_the_command_line_and_resumes(doc, monkeypatch):
    import json

    monkeypatch.chdir(doc["root"])
    assert "exact_vs_load" in experiments.registry.EXPERIMENTS
    code = experiments.cli.main(["exact_vs_load", "--preset", "quick", "--out", "results"])
    assert code in (0, None)
    run = json.loads((doc["root"] / "results" / "exact_vs_load" / "run.json").read_text())
    assert run["n_cells_run_now"] == 0 and run["n_cells"] == 18  # every cell was finished already
    figures = doc["root"] / "results" / "exact_vs_load" / "figures"
    assert sorted(p.name for p in figures.iterdir()) == ["exact_vs_load.pdf", "exact_vs_load.png"]

"""Write ``notebooks/tour.ipynb`` from the cells below and execute it, so that it is stored with its outputs.

The notebook is generated so that its source lives in a reviewable Python file:
edit the cells here and run ``python notebooks/make_tour.py`` (a few seconds to a minute;
it needs the ``notebook`` extra: nbclient and ipykernel).  ``--no-execute`` writes it
without outputs.  tests/test_notebook.py checks that the stored notebook matches these
cells, that its outputs hold pictures and no warnings, and that it still runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PATH = Path(__file__).with_name("tour.ipynb")

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# A tour of the testbed contract

Every memory in this testbed stores **token sequences** and answers one question:
*given this corrupted sequence, which state do you settle into?*
A pattern is `L` tokens from an alphabet of `V` (`torch.long`); binary images are `V = 2`
(token 0 = spin -1 = background, token 1 = spin +1 = ink).

The contract (`models/base.py`):

| call | what it does |
|---|---|
| `models.make(name, **hyperparameters)` | builds a memory: classical, dense, modern, oracle, diffusion |
| `.fit(patterns, vocab_size=None)` | stores `long (K, L)` patterns, returns the memory |
| `.retrieve(queries, noise=, max_steps=, generator=, record=)` | runs the dynamics, returns a `Retrieval` |
| `.energy(states)` | one energy per state (energy models) |

We use the data of the teaching demos (`python -m experiments demo letters|digits|beta|diffusion`).""",
    ),
    (
        "code",
        """%matplotlib inline
import torch

import models
from experiments.corruption import erase, flip_fraction
from experiments.patterns import letter_patterns

torch.set_num_threads(1)  # tiny kernels: more threads only add overhead
gen = torch.Generator().manual_seed(0)  # all randomness comes in through a generator

alphabet = letter_patterns(size=16)  # A..Z rendered with Pillow's default font, 16 x 16 pixels
names, shape = alphabet.params["letters"], alphabet.params["shape"]
few = alphabet.train[[names.index(c) for c in "ACMT"]]  # (4, 256) tokens
few.shape, few.dtype, alphabet.vocab_size""",
    ),
    (
        "md",
        """## fit and retrieve

A classical Hebbian net stores the four letters in its weights; `retrieve` runs asynchronous
sweeps from each query until nothing changes. `record=True` also returns the trajectory and
the energy after every sweep.""",
    ),
    (
        "code",
        """net = models.make("classical", rule="hebb").fit(few, vocab_size=2)
queries = flip_fraction(few, 0.2, vocab_size=2, generator=gen)  # 20 % of the pixels flipped
r = net.retrieve(queries, generator=gen, record=True)
print("retrieved exactly:", (r.states == few).all(dim=1).tolist())
print("steps:", r.steps.tolist(), " converged:", r.converged.tolist())
print("trajectory", tuple(r.trajectory.shape), "(T, B, L);  energies", tuple(r.energies.shape), "(T, B)")""",
    ),
    (
        "md",
        """### The Retrieval fields

* `states` `long (B, L)`: final states; `steps` `long (B,)`: sweeps used; `converged` `bool (B,)`;
* `energies` `(T, B)`: energy after each step (row 0 is the query) — it never goes up;
* `trajectory` `long (T, B, L)`: the states themselves (with `record=True`);
* `entropy` `(B,)`: mean conditional entropy per token, for the probabilistic models (below).""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

from experiments.demos.drawing import show_state

T = r.trajectory.shape[0]  # the query and one state per sweep
fig, ax = plt.subplots(2, T + 1, figsize=(1.7 * (T + 1), 3.6), width_ratios=[1] * T + [1.6])
for b in range(2):
    for k in range(T):
        show_state(ax[b, k], r.trajectory[k, b], shape, title=("query" if k == 0 else f"sweep {k}") if b == 0 else None)
    ax[b, T].plot(r.energies[:, b], "o-")
    ax[b, T].set_xlabel("sweep")
    ax[b, T].set_ylabel("energy")
fig.tight_layout()
assert bool((r.energies.diff(dim=0) <= 1e-9).all()), "asynchronous dynamics never raise the energy\"""",
    ),
    (
        "md",
        """## energy

`energy(states)` scores any states: stored patterns sit in minima, and the Hebbian energy is even,
so a *reversed* letter has exactly the same energy (a spurious state, docs/theory.md §2.3).""",
    ),
    (
        "code",
        """half = erase(few, 0.5, fill_token=0)  # bottom half set to background
print("stored  ", net.energy(few).tolist())
print("reversed", net.energy(1 - few).tolist())
print("noisy   ", net.energy(queries).tolist())
print("half    ", net.energy(half).tolist())
print("from the top half:", (net.retrieve(half, generator=gen).states == few).all(dim=1).tolist())""",
    ),
    (
        "md",
        """## Same patterns, other memories

All 26 letters are strongly correlated (26 < 0.138 N = 35, so this is not a capacity problem).
Only the hyperparameters change between models; the calls are the same.""",
    ),
    (
        "code",
        """from experiments.metrics import outcome_classes

X = alphabet.train  # (26, 256)
noisy = flip_fraction(X, 0.2, vocab_size=2, generator=gen)
for name, hp in [("classical", {"rule": "hebb"}), ("dense", {"F": "exp", "beta": 0.5}), ("modern", {"beta": 1.0})]:
    m = models.make(name, **hp).fit(X, vocab_size=2)
    out = m.retrieve(noisy, generator=gen)
    counts = outcome_classes(out.states, X, X, converged=out.converged).value_counts()
    print(f"{name:9s}", {outcome: int(n) for outcome, n in counts.items() if n > 0})""",
    ),
    (
        "md",
        """## The modern net: association weights and beta

`ModernHopfield.association(queries)` returns `softmax(beta X xi)`, the weight of each stored
pattern. The fixed point of the continuous state has three regimes (Ramsauer et al. 2021): at
small `beta` it is the **global average** of all stored patterns, at intermediate `beta` a
**metastable** average of a group of similar patterns, at large `beta` **one pattern**.
The metastable regime needs groups of similar patterns, so we store four near-identical
samples of each of five digits (the set of the `beta` demo) and query a noisy '3'.""",
    ),
    (
        "code",
        """from experiments.corruption import flip
from experiments.demos.beta import tight_clusters

P, tags = tight_clusters((0, 1, 3, 4, 7), size=4, seed=0)  # (20, 64): 4 similar samples of each digit
query = flip(P[8:9], 6, vocab_size=2, generator=gen)  # the first '3' with 6 of 64 pixels flipped
fig, ax = plt.subplots(1, 4, figsize=(6.4, 1.9))
show_state(ax[0], query[0], (8, 8), title="query")
for a, beta in zip(ax[1:], (0.01, 0.15, 1.0), strict=True):
    modern = models.make("modern", beta=beta, max_steps=300).fit(P, vocab_size=2)
    xi, steps, _ = modern.retrieve_continuous(query)  # fixed point of the continuous state
    w = modern.association(xi)[0]  # (20,) weights over the stored patterns
    n_eff, on_threes = float(1 / (w**2).sum()), float(w[tags == 3].sum())
    print(f"beta = {beta:4}: weight spread over {n_eff:4.1f} patterns, {on_threes:.0%} on the four '3's")
    show_state(a, xi[0], (8, 8), continuous=True, title=f"beta = {beta}\\n{n_eff:.1f} patterns")
fig.tight_layout()""",
    ),
    (
        "md",
        """## Probabilistic memories: noise and entropy

The oracle is the exact Bayes denoiser of the stored set under uniform-noise diffusion. It takes
`noise=t`, the diffusion time the queries were corrupted at, and reports `Retrieval.entropy`.
On 8x8 digits the classical net already fails with 10 stored; the oracle does not.""",
    ),
    (
        "code",
        """from experiments.patterns import digit_patterns

digits = digit_patterns(per_class=1, n_test_per_class=0).train  # (10, 64): one sample of each digit
q = flip(digits, 6, vocab_size=2, generator=gen)
t = 2 * 6 / 64  # the diffusion time that changes 6 of 64 binary pixels on average
for name in ("classical", "oracle"):
    m = models.make(name).fit(digits, vocab_size=2)
    out = m.retrieve(q, noise=t, generator=gen)
    print(
        f"{name:9s} retrieved {int((out.states == digits).all(dim=1).sum())}/10; entropy:",
        None if out.entropy is None else round(float(out.entropy.mean()), 3),
    )""",
    ),
    (
        "md",
        """## A trained diffusion memory

`DiffusionMemory` trains a small transformer on the stored sequences (here four sentences,
300 optimiser steps, a few seconds) and retrieves with the same call. Near-zero conditional
entropy means it memorised them; the `diffusion` demo contrasts it with a model of 2000
sentences that generalises.""",
    ),
    (
        "code",
        """from experiments.corruption import resample
from experiments.patterns import decode_text, text_patterns

text = text_patterns(K=4, L=24, n_test=128)
memory = models.make("diffusion", train_steps=300, batch_size=32, lr=3e-3, dt=0.02).fit(
    text.train, vocab_size=text.vocab_size
)
x_t = resample(text.train, 0.4, text.vocab_size, generator=gen)
out = memory.retrieve(x_t, noise=0.4, generator=gen, record=True)
for a, b in zip(decode_text(x_t, text.params), decode_text(out.states, text.params), strict=True):
    print(f"{a!r:28} -> {b!r}")
print("trajectory", tuple(out.trajectory.shape), " entropy (nats):", out.entropy.round(decimals=3).tolist())""",
    ),
    (
        "md",
        """## Next

* `python -m experiments demo letters --out results/demos` (and `digits`, `beta`, `diffusion`):
  galleries and animations of everything above (docs/demos.md);
* `python -m experiments capacity --preset quick`: the experiments that measure these effects
  on identical pattern sets.""",
    ),
]


def build() -> nbformat.NotebookNode:
    """The tour as a notebook with no outputs."""
    cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh python3 kernel started in this folder; returns ``nb`` with outputs.

    The kernel sees the repository on ``PYTHONPATH`` and matplotlib's inline backend
    (an ``MPLBACKEND`` of the calling shell, e.g. ``Agg``, would suppress the pictures).
    """
    import nbclient

    root = str(Path(__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": root}}
    )
    client.execute(env=env)  # raises CellExecutionError with the failing cell's traceback
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1  # stable numbers, whatever the kernel counted
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = i + 1
    return nb


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    args = parser.parse_args(argv)
    nb = build()
    if not args.no_execute:
        nb = execute(nb)
    nbformat.write(nb, PATH)
    print(f"{PATH} ({PATH.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()

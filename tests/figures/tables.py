"""Tiny synthetic results tables with the columns of each study, for fast figure tests.

The values are smooth made-up curves (a capacity that drops past a model's load, basins
that shrink with the flip fraction), not measurements: the figure tests check what is
drawn and how it is labelled, never the science.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments import zoo
from experiments.metrics import GENERATION_CLASSES, OUTCOMES

#: A made-up capacity (load K/N at which retrieval drops) per memory.
_CAPACITY = {
    "classical-hebb": 0.14,
    "classical-pseudoinverse": 0.6,
    "classical-storkey": 0.3,
    "dense-n2": 0.14,
    "dense-n3": 6.0,
    "dense-n4": 100.0,
    "dense-exp": 100.0,
    "modern-b0.02": 0.0,
    "modern-b0.1": 100.0,
    "modern-b1": 100.0,
    "oracle": 100.0,
}


def _drop(x, at: float, width: float = 0.15):
    if at == 0:
        return np.zeros_like(np.asarray(x, dtype=float))
    return 1.0 / (1.0 + np.exp((np.log10(x) - np.log10(at)) / width))


def capacity_table(models=tuple(_CAPACITY), seeds=(0, 1, 2), N=200) -> pd.DataFrame:
    loads = (0.05, 0.1, 0.14, 0.2, 0.5, 1.0, 2.0, 8.0)
    rng = np.random.default_rng(0)
    rows = []
    for m in models:
        for load in loads:
            if m.startswith(("classical", "dense-n2")) and load > 1.0:
                continue
            for s in seeds:
                v = float(np.clip(_drop(load, _CAPACITY[m]) + rng.normal(0, 0.03), 0, 1))
                rows.append(
                    {"model": m, "family": zoo.family(m), "N": N, "K": round(load * N), "load": load, "flip": 0.1}
                    | {"seed": s, "frac_stable": v, "frac_m95": v, "frac_exact": v * 0.9, "mean_overlap": v}
                )
    return pd.DataFrame(rows)


def basins_table(models=zoo.REPRESENTATIVE_MODELS[:3], seeds=(0, 1), n_patterns=3) -> pd.DataFrame:
    flips = (0.05, 0.15, 0.25, 0.35, 0.45)
    rows = []
    for m in models:
        for ds, N in (("random", 100), ("digits", 64)):
            for load in (0.05, 0.14):
                for s in seeds:
                    for split in ("train", "test"):
                        for p in range(n_patterns):
                            for f in flips:
                                edge = 0.3 - load + 0.02 * p if split == "train" else 0.0
                                rec = float(_drop(f, edge, 0.05)) * 0.5 + 0.5 if edge else 0.45
                                rows.append(
                                    {"model": m, "family": zoo.family(m), "dataset": ds, "N": N}
                                    | {"K": round(load * N), "load": load, "seed": s, "split": split}
                                    | {"pattern": p, "flip": f, "recovery": rec, "frac_exact": float(rec > 0.95)}
                                    | {"frac_m95": float(rec > 0.9), "n_trials": 4}
                                )
    return pd.DataFrame(rows)


def spurious_table(models=("classical-hebb", "modern-b1", "oracle"), seeds=(0, 1), N=200) -> pd.DataFrame:
    rows = []
    for m in models:
        for load in (0.02, 0.05, 0.1):
            for start in ("random", "corrupted", "mixture"):
                for s in seeds:
                    shares = np.random.default_rng(s).dirichlet(np.ones(len(OUTCOMES)))
                    for o, share in zip(OUTCOMES, shares, strict=True):
                        rows.append(
                            {"model": m, "family": zoo.family(m), "N": N, "K": round(load * N), "load": load}
                            | {"start": start, "seed": s, "outcome": o, "share": share, "count": 0, "n_starts": 10}
                            | {"flip": 0.4 if start == "corrupted" else np.nan, "unstable_bits": 0.01 * load}
                            | {"start_component_overlap": 0.5, "component_m1": 0.8, "component_m2": 0.3}
                            | {"component_m3": 0.2, "mean_max_overlap": 0.8}
                        )
    return pd.DataFrame(rows)


def transition_table(datasets=("div4", "text"), Ks=(4, 16, 64), seeds=(0, 1)) -> pd.DataFrame:
    rows = []
    for ds in datasets:
        for K in Ks:
            for s in seeds:
                base = {"dataset": ds, "K": K, "seed": s, "d_model": 64}
                g = np.log2(K) / 8
                for model in ("diffusion", "oracle", "classical"):
                    for t in (0.1, 0.25, 0.5):
                        for split in ("train", "test"):
                            rec = 1 - g * t if split == "train" else g * (1 - t)
                            rows.append(base | {"kind": "recovery", "model": model, "t": t, "split": split})
                            rows[-1]["recovery"] = rec
                    if model != "classical":
                        for split in ("train", "test", "generated"):
                            rows.append(base | {"kind": "entropy", "model": model, "split": split, "t": 1e-5})
                            rows[-1]["entropy"] = g + (0.2 if split != "train" else 0.0)
                    shares = dict(zip(GENERATION_CLASSES, (1 - g, g / 2, g / 2), strict=True))
                    rows.append(base | {"kind": "generation", "model": model, "copy": 1 - g, **shares})
                    rows[-1] |= {"rule_fraction": 0.5 + g / 2, "rule_valid": 0.3 + g / 2}
                for split in ("train", "test"):
                    rows.append(base | {"kind": "divergence", "model": "diffusion", "split": split, "t": 0.25})
                    rows[-1] |= {"kl": g, "tv": g / 2}
                    # the diagnostics: NELBO peaking at the middle K, fixed points, entropy against t
                    nelbo = 1.0 + g * (1 - g) + (0.1 if split == "test" else 0.0)
                    rows.append(base | {"kind": "nelbo", "model": "diffusion", "split": split, "nelbo": nelbo})
                    rows[-1]["ppl"] = float(np.exp(nelbo))
                    for model in ("diffusion", "oracle"):
                        rows.append(base | {"kind": "fixed_point", "model": model, "split": split, "t": 0.05})
                        rows[-1] |= {"frac_fixed": 1 - g if split == "train" else g, "frac_to_train": 1 - g}
                for split in ("train", "test", "generated"):
                    for t in (0.05, 0.25, 0.9):
                        rows.append(base | {"kind": "entropy_t", "model": "diffusion", "split": split, "t": t})
                        rows[-1]["entropy"] = g + t
    return pd.DataFrame(rows)

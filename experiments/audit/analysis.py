"""From per-sequence rows to the audit's answers: correlations, membership AUCs, dose-response.

Every number is computed on each seed (one trained network) alone; :func:`summary` reports
the mean and standard deviation over seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.audit.stats import bootstrap_ci, roc_auc, spearman
from experiments.transition.crossing import crossing_k

__all__ = ["SIGNALS", "N_BOOT", "key_numbers", "pooled_spearman", "dose_response", "transition_crossing", "summary"]

#: Membership signals: column -> sign that makes "larger = more likely a training sequence".
SIGNALS = {"t_star": 1.0, "entropy": -1.0, "nelbo": -1.0}
#: Bootstrap replicates of the Spearman interval.
N_BOOT = 500
_KEYS = ["regime", "K", "model", "seed"]


def _one(group: pd.DataFrame, seed: int) -> dict:
    train, test = group[group["split"] == "train"], group[group["split"] == "test"]
    rho = spearman(train["t_star"], train["extract_prompted"])
    lo, hi = bootstrap_ci(spearman, train["t_star"], train["extract_prompted"], n_boot=N_BOOT, seed=seed)
    row = {
        "n": len(train),
        "t_star_train": train["t_star"].mean(),
        "t_star_test": test["t_star"].mean(),
        "extract_train": train["extract_prompted"].mean(),
        "extract_test": test["extract_prompted"].mean(),
        "unprompted_train": train["unprompted_rate"].mean(),
        "spearman": rho,
        "spearman_lo": lo,
        "spearman_hi": hi,
    }
    for name, sign in SIGNALS.items():
        row[f"auc_{name}"] = roc_auc(sign * train[name].to_numpy(), sign * test[name].to_numpy())
    return row


def key_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """Per (regime, ``K``, model, seed): means, Spearman ``rho(t*, prompted extraction)`` and membership AUCs.

    ``spearman`` is over the audited training sequences (NaN when either quantity is constant,
    e.g. every sequence extracted), with a 95 % percentile bootstrap interval
    (``spearman_lo`` / ``_hi``, :data:`N_BOOT` resamples of the sequences).  ``auc_<signal>`` is
    the ROC AUC of the signal separating training from held-out sequences, oriented by
    :data:`SIGNALS` (wider basin, lower entropy, lower NELBO = member); 0.5 is chance.
    """
    rows = [{**dict(zip(_KEYS, key, strict=True)), **_one(g, int(key[3]))} for key, g in results.groupby(_KEYS)]
    return pd.DataFrame(rows)


def pooled_spearman(results: pd.DataFrame) -> pd.DataFrame:
    """Per (regime, ``K``, model): ``rho(t*, prompted extraction)`` over the training sequences of all seeds together.

    With its 95 % percentile bootstrap interval (sequences resampled across seeds); it mixes
    networks, so the per-seed values of :func:`key_numbers` are the primary numbers.
    """
    rows = []
    for (regime, K, model), g in results[results["split"] == "train"].groupby(["regime", "K", "model"]):
        x, y = g["t_star"].to_numpy(), g["extract_prompted"].to_numpy()
        lo, hi = bootstrap_ci(spearman, x, y, n_boot=N_BOOT, seed=int(K))
        rows.append(
            {"regime": regime, "K": K, "model": model, "n": len(g), "spearman": spearman(x, y), "lo": lo, "hi": hi}
        )
    return pd.DataFrame(rows, columns=["regime", "K", "model", "n", "spearman", "lo", "hi"])


def dose_response(results: pd.DataFrame) -> pd.DataFrame:
    """Duplication arm: mean ``t*``, prompted extraction and unprompted copy rate per (model, seed, multiplicity).

    Multiplicity 0 is the held-out sequences.
    """
    dup = results[results["regime"] == "duplication"]
    cols = ["t_star", "extract_prompted", "unprompted_rate", "entropy", "nelbo"]
    return dup.groupby(["model", "seed", "multiplicity"])[cols].mean().reset_index()


def transition_crossing(path: str | Path | None) -> float:
    """Mean crossing ``K`` over the uncensored seeds of a transition results table (NaN if none or no file)."""
    if not path or not Path(path).exists():
        return math.nan
    table = crossing_k(pd.read_parquet(path))
    values = table.loc[table["censored"] == "", "K_cross"].to_numpy(dtype=float)
    return float(values.mean()) if len(values) else math.nan


def _pm(values) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "n/a"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def _n_seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def summary(results: pd.DataFrame) -> str:
    """Per ``K`` and model: Spearman and AUCs as mean ± sd over seeds; the duplication dose-response."""
    kn = key_numbers(results)
    lines = ["audit: mean ± sd over seeds (n defined / seeds)"]
    for (regime, K, model), g in kn.groupby(["regime", "K", "model"]):
        defined = int(g["spearman"].notna().sum())
        aucs = ", ".join(f"AUC {s} {_pm(g[f'auc_{s}'])}" for s in SIGNALS)
        lines.append(
            f"  {regime} K={K} {model} ({_n_seeds(len(g))}): t* train {_pm(g['t_star_train'])} / test "
            f"{_pm(g['t_star_test'])}; prompted extraction train {_pm(g['extract_train'])} / test "
            f"{_pm(g['extract_test'])}; rho(t*, extraction) {_pm(g['spearman'])} ({defined}/{len(g)}); {aucs}"
        )
    for r in pooled_spearman(results).itertuples():
        lines.append(
            f"  {r.regime} K={r.K} {r.model}: rho(t*, extraction) pooled over seeds {r.spearman:.2f} "
            f"[{r.lo:.2f}, {r.hi:.2f}] (n = {r.n})"
        )
    dr = dose_response(results)
    for model, g in dr.groupby("model"):
        lines.append(f"  duplication {model}: multiplicity -> t*, prompted extraction, unprompted copy rate")
        for m, gm in g.groupby("multiplicity"):
            lines.append(
                f"    x{m}: {_pm(gm['t_star'])}, {_pm(gm['extract_prompted'])}, {_pm(gm['unprompted_rate'])}"
                f" ({_n_seeds(len(gm))})"
            )
    return "\n".join(lines)

"""The transition's signature quantities per seed, and verdicts on their distribution over seeds.

A seed is a whole replicate of the sweep (its own pattern pools, network, queries), so a
signature of the memorisation -> generalisation transition is a property of the
distribution of a quantity over seeds, not of one seed's value.  :func:`verdicts` turns
per-seed values into verdicts by one rule:

    a signature ``value >= threshold`` (``<=``) holds when the mean over ``n`` seeds passes
    with a margin of at least ``SE_MARGIN = 2`` standard errors, ``mean - 2 sd / sqrt(n) >=
    threshold`` (``mean + 2 sd / sqrt(n) <= threshold``); ``== threshold`` must hold on every
    seed.  With one seed the standard error is unknown and the value is compared as it is.

:func:`signature_table` gives every signature quantity at every ``K`` as mean, standard
deviation, minimum and maximum over seeds (the table of docs/transition.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["SE_MARGIN", "verdicts", "per_seed_quantities", "signature_table"]

SE_MARGIN = 2.0
_OPS = (">=", "<=", "==")


#: Seeds below which an "over seeds" check is reported instead of judged: its single-seed
#: values straddle the threshold (docs/transition.md, "Verdicts over seeds").
MIN_SEEDS = 3


def _role(role: str, n_seeds: int) -> str:
    if role != "over seeds":
        return role
    return "signature" if n_seeds >= MIN_SEEDS else "reported"


def verdicts(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Aggregate per-seed check values into one verdict per check.

    Parameters
    ----------
    per_seed : pandas.DataFrame
        Rows ``check``, ``seed``, ``value``, ``op`` (one of ``>=``, ``<=``, ``==``),
        ``threshold``, ``role`` (``"signature"``, ``"reported"`` or ``"over seeds"``: a
        signature judged only on a distribution of at least :data:`MIN_SEEDS` seeds and
        reported, not judged, on fewer), in check order.

    Returns
    -------
    pandas.DataFrame
        One row per check, in first-seen order: ``check``, ``value`` (mean over seeds),
        ``sd``, ``min``, ``max``, ``n_seeds``, ``bound`` (the mean moved ``SE_MARGIN``
        standard errors towards the threshold), ``threshold`` (text), ``role``, ``passed``.
    """
    bad = sorted(set(per_seed["op"]) - set(_OPS)) if len(per_seed) else []
    if bad:
        raise ValueError(f"unknown comparison(s) {bad}; use one of {_OPS}")
    rows = []
    for check, g in per_seed.groupby("check", sort=False):
        v = g["value"].to_numpy(dtype=float)
        op, thr = g["op"].iloc[0], float(g["threshold"].iloc[0])
        n, mean = len(v), float(np.mean(v))
        sd = float(np.std(v, ddof=1)) if n > 1 else math.nan
        se = sd / math.sqrt(n) if n > 1 else 0.0
        if op == ">=":
            bound = mean - SE_MARGIN * se
            passed = bound >= thr
        elif op == "<=":
            bound = mean + SE_MARGIN * se
            passed = bound <= thr
        else:
            bound, passed = mean, bool(np.all(v == thr))
        rows.append(
            {
                "check": check,
                "value": mean,
                "sd": sd,
                "min": float(v.min()),
                "max": float(v.max()),
                "n_seeds": n,
                "bound": bound,
                "threshold": f"{op} {thr:g}",
                "role": _role(g["role"].iloc[0], n),
                "passed": bool(passed),
            }
        )
    return pd.DataFrame(rows)


def _recovery(df: pd.DataFrame, model: str) -> pd.DataFrame:
    rec = df[(df["kind"] == "recovery") & (df["model"] == model)]
    if rec.empty:
        return pd.DataFrame()
    return rec.pivot_table(index=["seed", "K"], columns=["split", "t"], values="recovery")


def _split_means(df: pd.DataFrame, kind: str, value: str, model: str = "diffusion") -> pd.DataFrame:
    sub = df[(df["kind"] == kind) & (df["model"] == model)]
    if sub.empty:
        return pd.DataFrame()
    return sub.pivot_table(index=["seed", "K"], columns="split", values=value)


def per_seed_quantities(df: pd.DataFrame) -> pd.DataFrame:
    """Every signature quantity of one dataset and width, per (seed, ``K``).

    Columns (present when the table has the rows): ``rec_<split>_<t>`` learned recovery,
    ``gap_<t>`` learned train - test recovery, ``H_train``, ``H_test``, ``H_ratio``
    (train / test), ``copy`` (share of generations that copy a training sequence),
    ``vs_oracle_<t>`` learned - oracle test recovery, ``oracle_train_min`` (oracle train
    recovery, minimum over ``t <= 0.25``), ``nelbo_<split>``, ``fixed_<split>`` (learned).
    """
    parts = []
    learned = _recovery(df, "diffusion")
    if len(learned):
        cols = {f"rec_{s}_{t:g}": learned[(s, t)] for s, t in learned.columns}
        ts = sorted({t for _, t in learned.columns})
        cols |= {f"gap_{t:g}": learned[("train", t)] - learned[("test", t)] for t in ts if ("test", t) in learned}
        parts.append(pd.DataFrame(cols))
        oracle = _recovery(df, "oracle")
        if len(oracle):
            vs = {f"vs_oracle_{t:g}": learned[("test", t)] - oracle[("test", t)] for t in ts if ("test", t) in oracle}
            low = [c for c in oracle.columns if c[0] == "train" and c[1] <= 0.25]
            parts.append(pd.DataFrame({**vs, "oracle_train_min": oracle[low].min(axis=1)}))
    ent = _split_means(df, "entropy", "entropy")
    if len(ent) and {"train", "test"} <= set(ent.columns):
        parts.append(
            pd.DataFrame({"H_train": ent["train"], "H_test": ent["test"], "H_ratio": ent["train"] / ent["test"]})
        )
    gen = df[(df["kind"] == "generation") & (df["model"] == "diffusion")]
    if len(gen):
        parts.append(gen.groupby(["seed", "K"])[["copy"]].mean())
    for kind, value, prefix in (("nelbo", "nelbo", "nelbo"), ("fixed_point", "frac_fixed", "fixed")):
        wide = _split_means(df, kind, value)
        if len(wide):
            parts.append(wide.add_prefix(f"{prefix}_")[[f"{prefix}_{s}" for s in ("train", "test") if s in wide]])
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, axis=1).sort_index()


def signature_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, min and max over seeds of every signature quantity at every ``K``.

    Parameters
    ----------
    df : pandas.DataFrame
        Results of one dataset and network width.

    Returns
    -------
    pandas.DataFrame
        Index ``(quantity, K)``, columns ``mean``, ``sd``, ``min``, ``max``, ``n_seeds``.
    """
    q = per_seed_quantities(df)
    if q.empty:
        return pd.DataFrame(columns=["mean", "sd", "min", "max", "n_seeds"])
    long = q.stack().rename("value").reset_index().rename(columns={"level_2": "quantity"})
    table = long.groupby(["quantity", "K"], sort=False)["value"].agg(["mean", "std", "min", "max", "count"])
    return table.rename(columns={"std": "sd", "count": "n_seeds"})

"""The transition's verdicts: key numbers per (dataset, ``K``, model), acceptance checks and the printed summary.

Everything here reads only the results table.  The acceptance checks are the signatures of
the memorisation -> generalisation transition in the CPU recipe of Pham et al. (2026)
(docs/transition.md lists them with the measured values).
"""

from __future__ import annotations

import math

import pandas as pd

from experiments.metrics import GENERATION_CLASSES
from experiments.transition.crossing import crossing_summary
from experiments.transition.signatures import verdicts

__all__ = ["key_numbers", "acceptance", "summary", "nelbo_peak"]

#: Acceptance thresholds of the memorisation -> generalisation signatures (docs/transition.md):
#: at the smallest K the network memorises, from K = 128 it generalises, the oracle never does.
SMALL_K_RECOVERY = 0.97
SMALL_K_ENTROPY = 0.15
SMALL_K_COPIES = 0.9
LARGE_K = 128
LARGE_K_GAP = 0.07
LARGE_K_MARGIN = 0.1
ORACLE_RECOVERY = 0.94
#: Two more criteria: at K <= 8 the learned test recovery stays within 0.1 of the oracle's
#: floor; from K = 128 H_train / H_test >= 0.9.
SMALL_K = 8
SMALL_K_FLOOR = 0.1
LARGE_K_ENTROPY_RATIO = 0.9
#: The train - test gap is judged absolutely from GAP_FROM_K on (below it: reported, not judged)
#: and, at LARGE_K, relative to the gap at MID_K (docs/transition.md, "Verdicts over seeds").
GAP_FROM_K = 128
MID_K = 32
GAP_RATIO = 0.5


_SHORT = {"recovery": "rec", "frac_exact": "exact"}  # column prefixes of key_numbers


def _keys(results: pd.DataFrame) -> list[str]:
    """Key columns: ``dataset, K, model``, and ``d_model`` when the table holds several widths."""
    several = "d_model" in results and results["d_model"].nunique() > 1
    return ["dataset", "d_model", "K", "model"] if several else ["dataset", "K", "model"]


def _wide(results: pd.DataFrame, kind: str, keys: list[str], values, prefix: str) -> pd.DataFrame | None:
    """Rows of one kind, one column ``<prefix>_<split>`` per split (means over seeds)."""
    sub = results[results["kind"] == kind]
    if sub.empty:
        return None
    wide = sub.pivot_table(index=keys, columns="split", values=values, aggfunc="mean")
    wide.columns = [f"{prefix}_{c}" for c in wide.columns]
    return wide


def key_numbers(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, K, model) (and ``d_model`` when several): recovery, entropies, generations.

    Columns ``rec_<split>_<t>``, ``exact_<split>_<t>``, ``H_<split>``, the generation
    shares, ``copy``, ``rule_valid``, ``kl_<split>`` (diffusion only), ``nelbo_<split>`` and
    ``ppl_<split>`` (diffusion only) and ``fixed_<split>`` (diffusion and oracle); means over seeds.
    """
    keys = _keys(results)
    parts = []
    rec = results[results["kind"] == "recovery"]
    if len(rec):
        wide = rec.pivot_table(index=keys, columns=["split", "t"], values=["recovery", "frac_exact"], aggfunc="mean")
        wide.columns = [f"{_SHORT[v]}_{s}_{t:g}" for v, s, t in wide.columns]
        parts.append(wide)
    parts.append(_wide(results, "entropy", keys, "entropy", "H"))
    gen = results[results["kind"] == "generation"]
    if len(gen):
        cols = [*GENERATION_CLASSES, "copy", "rule_valid", "rule_fraction"]
        parts.append(gen.groupby(keys)[cols].mean())
    parts.append(_wide(results, "divergence", keys, "kl", "kl"))
    parts.append(_wide(results, "nelbo", keys, "nelbo", "nelbo"))
    parts.append(_wide(results, "nelbo", keys, "ppl", "ppl"))
    parts.append(_wide(results, "fixed_point", keys, "frac_fixed", "fixed"))
    parts = [p for p in parts if p is not None]
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, axis=1).sort_index()


def nelbo_peak(results: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The ``K`` where the learned model's NELBO on ``split`` peaks, per dataset and width (at least two ``K``).

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``d_model``, ``K_peak``, ``nelbo_peak`` (means over seeds) and
        ``interior`` (the peak lies strictly inside the K range: a maximum, not an end point); empty
        without ``nelbo`` rows.
    """
    sub = results[(results["kind"] == "nelbo") & (results["split"] == split)]
    if "d_model" not in sub:  # a table without the width column (a hand-made or older one)
        sub = sub.assign(d_model=0)  # 0: unknown
    rows = []
    for (dataset, d_model), g in sub.groupby(["dataset", "d_model"]):
        curve = g.groupby("K")["nelbo"].mean()
        if len(curve) < 2:  # one K has no peak
            continue
        k_peak = curve.idxmax()
        interior = bool(curve.index[0] < k_peak < curve.index[-1])
        rows.append(
            {"dataset": dataset, "d_model": d_model, "K_peak": k_peak, "nelbo_peak": curve.max(), "interior": interior}
        )
    return pd.DataFrame(rows, columns=["dataset", "d_model", "K_peak", "nelbo_peak", "interior"])


def acceptance(results: pd.DataFrame, dataset: str = "div4", d_model: int | None = None) -> pd.DataFrame:
    """The acceptance signatures of the transition on one dataset, as verdicts over seeds.

    Every check is measured on each seed's table (:func:`_seed_checks`) and judged on its
    distribution over seeds by :func:`.signatures.verdicts`: the mean must pass with a margin
    of two standard errors (with one seed: the value itself).  ``d_model`` restricts the table
    to one network width (a ``sizes`` run holds several).

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check``, ``value`` (mean over seeds of the worst case over the K /
        t the check covers), ``sd``, ``min``, ``max``, ``n_seeds``, ``bound``, ``threshold``,
        ``role`` (``"signature"``, or ``"reported"`` for a criterion kept for comparison, not
        judged: the ``K = 128`` absolute gaps on fewer than three seeds), ``passed``.
    """
    df = results[results["dataset"] == dataset]
    if d_model is not None:
        df = df[df["d_model"] == d_model]
    if "seed" not in df:  # a table of one replicate
        df = df.assign(seed=0)
    per_seed = [{**row, "seed": seed} for seed, g in df.groupby("seed") for row in _seed_checks(g)]
    if not per_seed:
        return pd.DataFrame(
            columns=["check", "value", "sd", "min", "max", "n_seeds", "bound", "threshold", "role", "passed"]
        )
    return verdicts(pd.DataFrame(per_seed))


def _seed_checks(df: pd.DataFrame) -> list[dict]:
    """The check values of one seed's table: ``check``, ``value``, ``op``, ``threshold``, ``role``."""
    rec = df[df["kind"] == "recovery"].groupby(["model", "split", "t", "K"])["recovery"].mean()
    ks = sorted(df["K"].unique())
    k0, large = ks[0], [k for k in ks if k >= LARGE_K]
    ts = sorted(df.loc[df["kind"] == "recovery", "t"].unique())
    models = set(rec.index.get_level_values(0))
    rows: list[dict] = []

    def add(check, value, op, threshold, role="signature"):
        rows.append({"check": check, "value": float(value), "op": op, "threshold": threshold, "role": role})

    if "diffusion" in models:
        learned = rec.loc["diffusion"]
        add(
            f"K={k0}: learned train recovery, min over t",
            min(learned.loc[("train", t, k0)] for t in ts),
            ">=",
            SMALL_K_RECOVERY,
        )
        ent = df[(df["kind"] == "entropy") & (df["model"] == "diffusion")].groupby(["split", "K"])["entropy"].mean()
        add(f"K={k0}: learned train entropy (nats)", ent.loc[("train", k0)], "<=", SMALL_K_ENTROPY)
        gen = df[(df["kind"] == "generation") & (df["model"] == "diffusion")].groupby("K")["copy"].mean()
        add(f"K={k0}: generations that copy a training sequence", gen.loc[k0], ">=", SMALL_K_COPIES)
        if "oracle" in models:
            for k in (k for k in ks if k <= SMALL_K):
                v = max(learned.loc[("test", t, k)] - rec.loc[("oracle", "test", t, k)] for t in ts)
                add(f"K={k}: learned - oracle test recovery, max over t", v, "<=", SMALL_K_FLOOR)
        _gap_checks(add, learned, ks, ts)
        for k in large:
            add(f"K={k}: generations that copy a training sequence", gen.loc[k], "==", 0)
            add(
                f"K={k}: learned entropy train / test",
                ent.loc[("train", k)] / ent.loc[("test", k)],
                ">=",
                LARGE_K_ENTROPY_RATIO,
            )
            if "oracle" in models and 0.1 in ts:
                v = learned.loc[("test", 0.1, k)] - rec.loc[("oracle", "test", 0.1, k)]
                add(f"K={k}: learned - oracle test recovery, t=0.1", v, ">=", LARGE_K_MARGIN)
    if "oracle" in models:
        low = [t for t in ts if t <= 0.25]
        v = min(rec.loc[("oracle", "train", t, k)] for t in low for k in ks)
        add("oracle train recovery, min over K and t <= 0.25", v, ">=", ORACLE_RECOVERY)
    return rows


def _gap_checks(add, learned: pd.Series, ks: list, ts: list) -> None:
    """The generalisation side of the gap: |train - test| small from ``GAP_FROM_K``, shrunk at ``LARGE_K``.

    At K = 128 the curves have only just met: over five seeds its gap at t = 0.1 is 0.035-0.073,
    so the absolute bar of 0.07 holds for the mean over seeds but not for every seed alone
    (docs/transition.md).  The ratio to the gap at ``MID_K`` = 32, where the network still
    memorises part of its data, states the same transition robustly on every seed.
    """
    gap = {(t, k): learned.loc[("train", t, k)] - learned.loc[("test", t, k)] for t in ts for k in ks}
    for k in (k for k in ks if k >= LARGE_K):
        for t in (0.1, 0.25):
            if t in ts:
                # at LARGE_K the single-seed values straddle the bar: judged over >= 3 seeds only
                role = "reported" if k < GAP_FROM_K else "over seeds" if k == LARGE_K else "signature"
                add(f"K={k}: |train - test| learned recovery, t={t}", abs(gap[(t, k)]), "<=", LARGE_K_GAP, role)
    if LARGE_K in ks and MID_K in ks and 0.1 in ts:
        ratio = gap[(0.1, LARGE_K)] / gap[(0.1, MID_K)]
        add(f"K={LARGE_K}: train - test gap over the gap at K={MID_K}, t=0.1", ratio, "<=", GAP_RATIO)


def _line(key: tuple, r: pd.Series, ts: list[float]) -> str:
    """One summary line of a key-numbers row."""
    *_, K, model = key
    width = f"d={key[1]:<4d}" if len(key) == 4 else ""
    rec_tr = "/".join(f"{r.get(f'rec_train_{t:g}', math.nan):.2f}" for t in ts)
    rec_te = "/".join(f"{r.get(f'rec_test_{t:g}', math.nan):.2f}" for t in ts)
    ent = "/".join(f"{r.get(f'H_{s}', math.nan):.2f}" for s in ("train", "test", "generated"))
    gen = (
        f"mem {r.get('memorised', math.nan):.2f} spur {r.get('spurious', math.nan):.2f} "
        f"gen {r.get('generalised', math.nan):.2f} copy {r.get('copy', math.nan):.2f} "
        f"valid {r.get('rule_valid', math.nan):.2f}"
    )
    extra = ""
    if not math.isnan(r.get("kl_test", math.nan)):
        extra += f"  KL(oracle||learned) {r.get('kl_train', math.nan):.2f}/{r['kl_test']:.2f}"
    if not math.isnan(r.get("nelbo_test", math.nan)):
        extra += f"  NELBO {r.get('nelbo_train', math.nan):.3f}/{r['nelbo_test']:.3f}"
    if not math.isnan(r.get("fixed_test", math.nan)):
        extra += f"  fixed {r.get('fixed_train', math.nan):.2f}/{r['fixed_test']:.2f}"
    return f"  {width}K={K:5d} {model:9s} {rec_tr} | {rec_te}  H {ent}  {gen}{extra}"


def _verdict_line(c) -> str:
    """``[pass] check: mean ± sd [min, max] over n seeds (threshold)``; reported criteria as ``[info]``."""
    mark = "info" if c.role == "reported" else ("pass" if c.passed else "FAIL")
    spread = f" ± {c.sd:.3f} [{c.min:.3f}, {c.max:.3f}] over {c.n_seeds} seeds" if c.n_seeds > 1 else ""
    return f"    [{mark}] {c.check}: {c.value:.3f}{spread} ({c.threshold})"


def summary(results: pd.DataFrame) -> str:
    table = key_numbers(results)
    peaks = nelbo_peak(results)
    lines = []
    for dataset, df in table.groupby(level="dataset", sort=False):
        ts = sorted({float(c.rsplit("_", 1)[1]) for c in df.columns if c.startswith("rec_train_")})
        tt = "/".join(f"{t:g}" for t in ts)
        lines.append(
            f"{dataset}: recovery train | test at t = {tt}; entropy train/test/generated; generations; "
            "KL, NELBO and fixed-point share train/test"
        )
        lines += [_line(key, r, ts) for key, r in df.iterrows()]
        for p in peaks[peaks["dataset"] == dataset].itertuples():
            at = f"{p.nelbo_peak:.3f} nats/token, d_model={p.d_model}"
            where = "peaks at" if p.interior else "has no interior peak: it is largest at"
            lines.append(f"  held-out NELBO {where} K = {p.K_peak} ({at})")
        lines += [f"  {line}" for line in crossing_summary(results[results["dataset"] == dataset])]
        if dataset != "div4":
            continue
        widths = sorted(results.loc[results["dataset"] == dataset, "d_model"].unique())
        for d_model in widths:
            checks = acceptance(results, dataset, d_model if len(widths) > 1 else None)
            if len(checks):
                lines.append("  acceptance signatures:" + (f" (d_model={d_model})" if len(widths) > 1 else ""))
                lines += [_verdict_line(c) for c in checks.itertuples()]
    return "\n".join(lines)

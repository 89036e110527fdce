"""Scaling laws from the search table: capacities, fitted exponents and the theory beside them.

* power families (classical and polynomial dense memories): ``ln K_max = a + b ln N``,
  the exponent ``b`` against the theory curve's own log-log slope over the same ``N``;
* exponential families (exponential dense memory, modern nets, oracle):
  ``ln K_max = a + s N``, the rate ``s`` against the theory rate.

Slopes are ordinary least squares over every ``(N, seed)`` point, with a 95 % confidence
interval from the regression standard error (Student t); the slope fitted to each seed
alone gives the spread over seeds.  Searches that found no passing ``K`` (``K_max = 0``)
or hit ``k_cap`` (censored) are left out of the fit and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from experiments import theory, zoo
from experiments.corruption import noise_for_flip
from experiments.scaling.criteria import CRITERIA

__all__ = ["SCALE", "capacities", "theory_curves", "exponents", "summary"]

#: How ``K_max`` is expected to grow: "power" (log-log fit) or "exponential" (log-linear fit).
SCALE: dict[str, str] = {
    "classical-hebb": "power",
    "classical-pseudoinverse": "power",
    "classical-storkey": "power",
    "dense-n2": "power",
    "dense-n3": "power",
    "dense-n4": "power",
    "dense-exp": "exponential",
    "modern-b0.02": "exponential",
    "modern-b0.1": "exponential",
    "modern-b1": "exponential",
    "oracle": "exponential",
}

Curve = tuple[str, Callable[[np.ndarray], np.ndarray]]


def capacities(results: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(model, N, seed, criterion)``: ``K_max``, ``censored``, evaluations and CPU seconds."""
    keys = ["model", "N", "seed", "criterion"]
    rows = []
    searches = results[results["criterion"].isin(CRITERIA)]
    for key, df in searches.groupby(keys, sort=False):
        crit = key[-1]
        first = df.iloc[0]
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "scale": SCALE.get(key[0], "power"),
                "K_max": float(first[f"K_max_{crit}"]),
                "censored": bool(first[f"censored_{crit}"]),
                "evaluations": len(df),
                "cpu_s": float(df["cpu_s"].sum()),
            }
        )
    return pd.DataFrame(rows)


def _beta_spin(model: str, flip: float) -> float:
    """Inverse temperature of a memory written as a modern net on +-1 spins."""
    if model == "oracle":
        from models.diffusion.schedule import beta

        # softmax(beta(t) A) with agreement counts A = (N + s.x) / 2 is the spin update at beta(t) / 2
        return float(beta(noise_for_flip(flip), 2)) / 2.0
    return float(zoo.spec(model)[1]["beta"])


def theory_curves(model: str, criterion: str, flip: float = 0.1) -> list[Curve]:
    """Theory curves ``K(N)`` for one memory and criterion, the one the fit is compared with first."""
    if model in ("classical-hebb", "dense-n2"):
        if criterion == "exact":
            return [
                ("McEliece N/(4 ln N), all patterns", lambda N: theory.mceliece(N, all_patterns=True)),
                ("McEliece N/(2 ln N)", theory.mceliece),
            ]
        return [("AGS alpha_c N", theory.ags_capacity)]
    if model == "classical-pseudoinverse":
        return [("pseudo-inverse N", theory.pseudoinverse_capacity)]
    if model == "classical-storkey":
        return [("Storkey N/sqrt(2 ln N)", theory.storkey_capacity)]
    if model in ("dense-n3", "dense-n4"):
        n = int(zoo.spec(model)[1]["n"])
        most = (f"Krotov-Hopfield N^{n - 1}/(2 (2n-3)!! ln N)", lambda N: theory.krotov_hopfield(N, n))
        if criterion == "exact":
            return [(most[0] + ", all patterns", lambda N: theory.krotov_hopfield(N, n, all_patterns=True)), most]
        return [most]
    if model == "dense-exp":
        rate = theory.demircigil_rate(0.0 if criterion == "exact" else flip)
        return [(f"Demircigil exp({rate:.3f} N)", lambda N: np.exp(rate * np.asarray(N, float)))]
    if model.startswith("modern") or model == "oracle":
        b = _beta_spin(model, flip)
        rate, offset = theory.modern_retrieval_rate(b, flip)
        return [
            (f"self-coupling estimate exp({rate:.3f} N)", lambda N: np.exp(rate * np.asarray(N, float) + offset)),
            (f"Ramsauer bound (beta={b:.3g})", lambda N: theory.ramsauer_storage(N, b)),
        ]
    return []


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """OLS slope of ``y`` on ``x`` and its 95 % confidence interval (nan when undefined)."""
    if len(np.unique(x)) < 2:
        return math.nan, math.nan, math.nan
    fit = stats.linregress(x, y)
    if len(x) < 3:
        return float(fit.slope), math.nan, math.nan
    half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half)


def _theory_slope(curve: Curve, Ns: np.ndarray, scale: str) -> float:
    if len(Ns) < 2:
        return math.nan
    K = np.asarray(curve[1](Ns.astype(float)), dtype=float)
    x = np.log(Ns) if scale == "power" else Ns.astype(float)
    return float(stats.linregress(x, np.log(K)).slope)


def exponents(results: pd.DataFrame, flip: float | None = None) -> pd.DataFrame:
    """Fitted exponent (power) or rate (exponential) per model and criterion, with theory beside it.

    Returns
    -------
    DataFrame
        One row per model and criterion with a search; columns ``model, criterion,
        scale, N_min, N_max, n_points, n_excluded, slope, ci_low, ci_high, seed_mean,
        seed_sd, theory, theory_slope, delta`` (fit minus the first theory curve's slope
        over the same ``N`` values), ``theory_2`` and ``theory_2_slope`` (a second
        curve, where there is one).
    """
    flip = float(results["flip"].iloc[0]) if flip is None else flip
    caps = capacities(results)
    rows = []
    for (model, criterion), df in caps.groupby(["model", "criterion"], sort=False):
        scale = SCALE.get(model, "power")
        ok = df[(df["K_max"] > 0) & ~df["censored"]]
        x = np.log(ok["N"].to_numpy(float)) if scale == "power" else ok["N"].to_numpy(float)
        slope, lo, hi = _slope(x, np.log(ok["K_max"].to_numpy(float)))
        per_seed = []
        for _, s in ok.groupby("seed"):
            xs = np.log(s["N"].to_numpy(float)) if scale == "power" else s["N"].to_numpy(float)
            per_seed.append(_slope(xs, np.log(s["K_max"].to_numpy(float)))[0])
        per_seed = [v for v in per_seed if math.isfinite(v)]
        Ns = np.unique(df["N"].to_numpy())
        curves = theory_curves(model, criterion, flip)
        th = [(c[0], _theory_slope(c, Ns, scale)) for c in curves[:2]] + [("", math.nan)] * (2 - min(len(curves), 2))
        rows.append(
            {
                "model": model,
                "criterion": criterion,
                "scale": scale,
                "N_min": int(Ns.min()),
                "N_max": int(Ns.max()),
                "n_points": len(ok),
                "n_excluded": len(df) - len(ok),
                "slope": slope,
                "ci_low": lo,
                "ci_high": hi,
                "seed_mean": float(np.mean(per_seed)) if per_seed else math.nan,
                "seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else math.nan,
                "theory": th[0][0],
                "theory_slope": th[0][1],
                "delta": slope - th[0][1],
                "theory_2": th[1][0],
                "theory_2_slope": th[1][1],
            }
        )
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> str:
    """Fitted exponents and rates next to theory, and the cost of the searches."""
    ex = exponents(results)
    caps = capacities(results)
    lines = ["capacity scaling: exponent b of K_max ~ N^b (power) or rate s of K_max ~ exp(s N) (exponential)"]
    for r in ex.itertuples():
        kind = "b" if r.scale == "power" else "s"
        excl = f", {r.n_excluded} excluded" if r.n_excluded else ""
        lines.append(
            f"  {r.model:24s} {r.criterion:5s} N {r.N_min}-{r.N_max}: {kind} = {r.slope:.3f} "
            f"[{r.ci_low:.3f}, {r.ci_high:.3f}] (seeds {r.seed_mean:.3f} +- {r.seed_sd:.3f}{excl}); "
            f"theory {r.theory}: {r.theory_slope:.3f} (delta {r.delta:+.3f})"
            + (f"; {r.theory_2}: {r.theory_2_slope:.3f}" if r.theory_2 else "")
        )
    censored = caps[caps["censored"]]
    if len(censored):
        lines.append(f"  censored searches (no failure up to k_cap): {len(censored)}")
    n_eval = int(caps["evaluations"].sum())
    lines.append(f"  CPU time of all evaluations: {caps['cpu_s'].sum():.1f} s ({n_eval} evaluations)")
    return "\n".join(lines)

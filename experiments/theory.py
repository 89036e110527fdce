"""Theory curves of associative-memory capacity, as functions of the number of units ``N``.

Every function returns a number of patterns ``K`` (not a load) and accepts scalars or
arrays of ``N``; the experiments draw them beside their measurements.

* :func:`ags_overlap`, :func:`ags_critical`: the zero-temperature replica-symmetric
  retrieval branch ``m(alpha)`` of Amit, Gutfreund & Sompolinsky (1987), solved numerically.
* :func:`mceliece`, :func:`storkey_capacity`, :func:`pseudoinverse_capacity`,
  :func:`krotov_hopfield`: the signal-to-noise capacities of the quadratic and polynomial
  memories.
* :func:`demircigil_rate`, :func:`ramsauer_storage`, :func:`modern_retrieval_rate`: the
  exponential capacities of the exponential dense memory and the modern Hopfield net.
* :func:`theory_loads`, :func:`mceliece_radius`, ``THEORY_UNSTABLE``, ``THEORY_COMPONENTS``:
  the loads, basin radii and mixture-state numbers the capacity, basins and spurious figures
  draw beside their data.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import erf, factorial2, lambertw

__all__ = [
    "ags_alpha",
    "ags_critical",
    "ags_overlap",
    "ags_capacity",
    "mceliece",
    "storkey_capacity",
    "pseudoinverse_capacity",
    "krotov_hopfield",
    "demircigil_rate",
    "ramsauer_c",
    "ramsauer_storage",
    "modern_retrieval_rate",
    "double_factorial",
    "theory_loads",
    "mceliece_radius",
    "THEORY_UNSTABLE",
    "THEORY_COMPONENTS",
]

# -- Amit-Gutfreund-Sompolinsky: the T = 0 retrieval branch -------------------------------
#
# Amit, Gutfreund & Sompolinsky (1987), "Statistical mechanics of neural networks near
# saturation", Ann. Phys. 173:30, solve the Hebbian network at load alpha = K/N with the
# replica-symmetric ansatz.  At T = 0 their saddle-point equations for the retrieval overlap
# m, the rescaled susceptibility C = beta (1 - q) and the noise variance r become
#
#   (1)  m = erf(y),             y = m / sqrt(2 alpha r)
#   (2)  C = sqrt(2 / (pi alpha r)) exp(-y^2)
#   (3)  r = 1 / (1 - C)^2
#
# (the same T -> 0 limit is worked out in Hertz, Krogh & Palmer 1991, "Introduction to the
# Theory of Neural Computation", in the replica treatment of the Hopfield model).  With
# sqrt(r) = 1 / (1 - C), (1) gives sqrt(alpha) / (1 - C) = erf(y) / (sqrt(2) y); putting that
# into (2) gives C = 2 y exp(-y^2) / (sqrt(pi) erf(y)), and then
#
#   (4)  alpha(y) = [erf(y) - (2 / sqrt(pi)) y exp(-y^2)]^2 / (2 y^2),    m = erf(y).
#
# So the branch is a curve parametrised by y: alpha(y) rises from 0, peaks at alpha_c and
# falls back to 0 as y -> infinity (m -> 1).  The retrieval solution is the large-y side,
# where m is largest; it disappears at the peak (alpha_c ~ 0.138, m_c ~ 0.967): the
# discontinuous loss of retrieval AGS find at the critical load.


def ags_alpha(y: float | np.ndarray) -> float | np.ndarray:
    """Load ``alpha`` of the T = 0 replica-symmetric solution with ``y = m / sqrt(2 alpha r)`` (eq. 4 above).

    Parameters
    ----------
    y : float or ndarray
        ``y > 0``.

    Returns
    -------
    float or ndarray
        ``alpha(y)``, same shape as ``y``.
    """
    y = np.asarray(y, dtype=float)
    if np.any(y <= 0):
        raise ValueError(f"y must be > 0, got min {float(np.min(y))}")
    out = (erf(y) - 2.0 / math.sqrt(math.pi) * y * np.exp(-(y**2))) ** 2 / (2.0 * y**2)
    return float(out) if out.ndim == 0 else out


def ags_critical() -> tuple[float, float]:
    """Critical load and the overlap at it, ``(alpha_c, m_c)`` ~ ``(0.138, 0.967)``.

    ``alpha_c`` is the maximum of :func:`ags_alpha` over ``y`` (found by bounded scalar
    minimisation of ``-alpha(y)`` to ``1e-12`` in ``y``), and ``m_c = erf(y_c)``.
    """
    res = minimize_scalar(lambda y: -ags_alpha(y), bounds=(0.5, 4.0), method="bounded", options={"xatol": 1e-12})
    return float(-res.fun), float(erf(res.x))


def _y_critical() -> float:
    alpha_c, m_c = ags_critical()
    return float(brentq(lambda y: erf(y) - m_c, 0.5, 4.0, xtol=1e-14))


def ags_overlap(alpha: float | np.ndarray) -> float | np.ndarray:
    """Retrieval overlap ``m(alpha)`` of the Hebbian net at T = 0 (the AGS retrieval branch).

    Parameters
    ----------
    alpha : float or ndarray
        Loads ``K / N >= 0``.

    Returns
    -------
    float or ndarray
        ``m`` on the retrieval branch for ``alpha <= alpha_c``; ``nan`` above ``alpha_c``
        (no retrieval solution); ``1`` at ``alpha = 0``.
    """
    a = np.asarray(alpha, dtype=float)
    if np.any(a < 0) or np.any(~np.isfinite(a)):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}")
    alpha_c, m_c = ags_critical()
    y_c = _y_critical()
    out = np.full(a.shape, np.nan)
    for idx, val in np.ndenumerate(a):
        if val == 0:
            out[idx] = 1.0
        elif val < alpha_c:
            # alpha(y) < 1 / (2 y^2): at y = 1/sqrt(val) it is already below val.
            y_hi = max(2.0 * y_c, 1.0 / math.sqrt(val))
            out[idx] = erf(brentq(lambda y, v=val: ags_alpha(y) - v, y_c, y_hi, xtol=1e-13))
        elif val == alpha_c:
            out[idx] = m_c
    return float(out) if out.ndim == 0 else out


def ags_capacity(N: float | np.ndarray) -> float | np.ndarray:
    """``alpha_c N``: the Hebbian retrieval capacity (Amit, Gutfreund & Sompolinsky 1985, 1987)."""
    return ags_critical()[0] * np.asarray(N, dtype=float)


# -- signal-to-noise capacities of quadratic and polynomial memories ------------------------


def _n(N) -> np.ndarray:
    N = np.asarray(N, dtype=float)
    if np.any(N < 2):
        raise ValueError(f"N must be >= 2, got {N!r}")
    return N


def mceliece(N: float | np.ndarray, *, all_patterns: bool = False) -> float | np.ndarray:
    """Exact-recall capacity of the Hebbian net, McEliece, Posner, Rodemich & Venkatesh (1987).

    ``N / (2 ln N)``: each stored pattern is a fixed point with probability -> 1;
    ``all_patterns=True``: ``N / (4 ln N)``, all of them at once (IEEE Trans. Inf. Theory
    33:461, abstract).
    """
    N = _n(N)
    return N / ((4.0 if all_patterns else 2.0) * np.log(N))


def storkey_capacity(N: float | np.ndarray) -> float | np.ndarray:
    """``N / sqrt(2 ln N)``: the absolute capacity of the Storkey (1997) learning rule."""
    N = _n(N)
    return N / np.sqrt(2.0 * np.log(N))


def pseudoinverse_capacity(N: float | np.ndarray) -> float | np.ndarray:
    """``N``: every linearly independent set is stored by the projection rule (Personnaz,
    Guyon & Dreyfus 1985; Kanter & Sompolinsky 1987, maximum capacity alpha = 1)."""
    return _n(N).copy()


def krotov_hopfield(N: float | np.ndarray, n: int, *, all_patterns: bool = False) -> float | np.ndarray:
    """Error-free capacity of the degree-``n`` dense memory, Krotov & Hopfield (2016).

    ``N^(n-1) / (2 (2n-3)!! ln N)`` (Krotov & Hopfield 2016, section 2; the per-bit error
    ``Phi(-sqrt(N^(n-1) / ((2n-3)!! K)))`` made small compared with ``1 / N``).  With
    ``all_patterns=True`` every one of the ``K`` patterns must be a fixed point, so the
    error must be small compared with ``1 / (K N) ~ N^-n``, which puts ``n ln N`` in place
    of ``ln N``: ``N^(n-1) / (2 n (2n-3)!! ln N)`` (for ``n = 2`` McEliece's ``N / (4 ln N)``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    N = _n(N)
    k = N ** (n - 1) / (2.0 * float(factorial2(2 * n - 3, exact=True)) * np.log(N))
    return k / n if all_patterns else k


# -- exponential capacities ----------------------------------------------------------------


def demircigil_rate(flip: float = 0.0) -> float:
    """Rate ``a`` of the capacity ``K = exp(a N)`` of the exponential dense memory ``F(x) = e^x``.

    Demircigil, Heusel, Löwe, Upgang & Vermet (2017), "On a model of associative memory
    with huge storage capacity", J. Stat. Phys. 168:288 (arXiv 1702.01929), their capacity
    theorem for ``F(x) = e^x`` with corrupted queries: ``exp(a N)`` patterns are retrieved
    from a fraction ``flip`` of corrupted bits with probability -> 1 for
    ``a < I(1 - 2 flip) / 2``, where ``I(x) = ((1 + x) ln(1 + x) + (1 - x) ln(1 - x)) / 2``;
    ``flip = 0`` gives ``ln(2) / 2``, i.e. ``K = 2^(N/2)`` stored fixed points.
    """
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip!r}")
    x = 1.0 - 2.0 * flip
    ent = (1 + x) * math.log(1 + x) + ((1 - x) * math.log(1 - x) if x < 1 else 0.0)
    return ent / 4.0


def ramsauer_c(d: float | np.ndarray, beta: float, radius_factor2: float | np.ndarray, p: float) -> np.ndarray:
    """The base ``c`` of Ramsauer et al.'s (2021) storage bound ``sqrt(p) c^((d-1)/4)``.

    ``c = b / W0(exp(a + ln b))`` with ``a = 2 / (d - 1) (1 + ln(2 beta R^2 p (d - 1)))`` and
    ``b = 2 R^2 beta / 5``, for patterns on the sphere of radius ``M = R sqrt(d - 1)``
    (``radius_factor2`` is ``R^2``) and failure probability ``p``; ``W0`` is the principal
    branch of Lambert's W (Ramsauer et al., "Hopfield Networks is All You Need", ICLR 2021,
    Theorem 3).
    """
    d = np.asarray(d, dtype=float)
    a = 2.0 / (d - 1.0) * (1.0 + np.log(2.0 * beta * radius_factor2 * p * (d - 1.0)))
    b = 2.0 * radius_factor2 * beta / 5.0
    return b / np.real(lambertw(np.exp(a + np.log(b))))


def ramsauer_storage(N: float | np.ndarray, beta: float, *, p: float = 1e-3) -> float | np.ndarray:
    """Storage lower bound of the modern Hopfield net for random +-1 patterns, Ramsauer et al. (2021).

    Theorem 3 of Ramsauer et al. (ICLR 2021): with probability ``1 - p``,
    ``sqrt(p) c^((d-1)/4)`` random patterns on the sphere of radius ``M = R sqrt(d - 1)`` are
    well separated, so each is stored (a fixed point near it attracts a sphere around it);
    ``c`` is :func:`ramsauer_c`.  Here ``d = N`` and ``M = sqrt(N)`` (spins), so
    ``R^2 = N / (N - 1)``.  A sufficient condition: far below what is measured.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    d = _n(N)
    return math.sqrt(p) * ramsauer_c(d, beta, d / (d - 1.0), p) ** ((d - 1.0) / 4.0)


def modern_retrieval_rate(beta: float, flip: float) -> tuple[float, float]:
    """``(rate, offset)`` of the estimate ``ln K_max ~ rate N + offset`` for a spin modern net.

    Derived in docs/scaling.md: one update of ``xi -> sign(X^T softmax(beta X xi))`` from a
    query with a fraction ``flip`` of flipped bits keeps a flipped bit wrong when the mean
    pull of the ``K`` other patterns towards the query's own bit,
    ``K sinh(beta) cosh(beta)^(N-1)``, exceeds the target's weight
    ``exp(beta (1 - 2 flip) N)``.  Hence ``rate = beta (1 - 2 flip) - ln cosh(beta)`` and
    ``offset = ln cosh(beta) - ln sinh(beta)``.  The fluctuations of the pull are left out,
    so the offset is an upper estimate; the rate is what the measurements test.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip!r}")
    lc = math.log(math.cosh(beta))
    return beta * (1.0 - 2.0 * flip) - lc, lc - math.log(math.sinh(beta))


# -- the numbers the capacity, basins and spurious figures draw ---------------------------


def double_factorial(k: int) -> int:
    """``k!! = k (k - 2) (k - 4) ...``, 1 for ``k <= 0``."""
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def theory_loads(N: int) -> dict[str, float]:
    """Theoretical capacities as loads ``K / N`` at ``N`` units.

    Amit, Gutfreund & Sompolinsky (1985): ``0.138 N`` (retrieval with < 1.5 % errors);
    McEliece et al. (1987): ``N / (2 ln N)`` (exact recall); Storkey (1997):
    ``N / sqrt(2 ln N)``; the pseudo-inverse rule (Personnaz et al. 1985): ``N``;
    Krotov & Hopfield (2016), polynomial energy of degree ``n``:
    ``N^(n-1) / (2 (2n - 3)!! ln N)``.
    """
    lnN = math.log(N)
    out = {
        "AGS 0.138 N": 0.138,
        "McEliece N/(2 ln N)": 1 / (2 * lnN),
        "Storkey N/sqrt(2 ln N)": 1 / math.sqrt(2 * lnN),
        "pseudo-inverse N": 1.0,
    }
    for n in (3, 4):
        out[f"Krotov-Hopfield n={n}"] = N ** (n - 1) / (2 * double_factorial(2 * n - 3) * lnN) / N
    return out


def mceliece_radius(load: float, N: int) -> float:
    """Flip fraction up to which most Hebbian memories are recalled exactly.

    From the radius version of McEliece et al.'s (1987) capacity,
    ``K = (1 - 2 flip)^2 N / (2 ln N)``, solved for ``flip``; ``nan`` when the load exceeds
    ``1 / (2 ln N)`` (no basin left).
    """
    x = math.sqrt(load * 2 * math.log(N))
    return (1 - x) / 2 if x < 1 else math.nan


#: Hebbian symmetric 3-mixtures (simulation, N = 1000; Amit, Gutfreund & Sompolinsky 1985 predict
#: their loss of stability near alpha = 0.03): load -> unstable-bit fraction at the mixture.
THEORY_UNSTABLE = {0.003: 0.0, 0.01: 0.0, 0.02: 0.0, 0.03: 0.0027, 0.05: 0.0075, 0.08: 0.03}
#: ... and load -> sorted |m| with the three components after asynchronous dynamics.
THEORY_COMPONENTS = {0.03: (0.68, 0.34, 0.32), 0.05: (0.73, 0.13, 0.08)}

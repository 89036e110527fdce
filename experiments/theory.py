"""Theory the figures draw beside the measurements: Hopfield capacities, basin radii, mixture states.

Pure functions of ``N`` and the load ``alpha = K / N``; the numbers come from the papers
cited at each one.
"""

from __future__ import annotations

import math

__all__ = ["double_factorial", "theory_loads", "mceliece_radius", "THEORY_UNSTABLE", "THEORY_COMPONENTS"]


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

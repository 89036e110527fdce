"""Theory curves: the AGS T = 0 retrieval branch and the capacity formulas at known points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf, erfinv

from experiments import theory


def test_ags_critical_point():
    # Amit, Gutfreund & Sompolinsky (1987): alpha_c ~ 0.138 with m_c ~ 0.967 at T = 0.
    alpha_c, m_c = theory.ags_critical()
    assert alpha_c == pytest.approx(0.138, abs=0.002)
    assert m_c == pytest.approx(0.967, abs=0.005)
    # the maximum of alpha(y): nothing on a fine grid of y lies above it
    assert theory.ags_alpha(np.linspace(0.2, 6.0, 5000)).max() <= alpha_c + 1e-12


def test_ags_overlap_is_decreasing_on_the_retrieval_branch():
    alpha_c, m_c = theory.ags_critical()
    a = np.linspace(0.0, alpha_c * (1 - 1e-9), 400)
    m = theory.ags_overlap(a)
    assert m[0] == 1.0
    assert np.all(np.diff(m) <= 0)
    # strictly where float64 resolves it: 1 - m ~ exp(-1 / (2 alpha)) rounds to 0 below alpha ~ 0.03
    assert np.all(np.diff(m[a > 0.03]) < 0)
    assert m[-1] == pytest.approx(m_c, abs=1e-3)
    # no retrieval solution above the critical load
    assert math.isnan(theory.ags_overlap(alpha_c + 1e-3))
    # known points of the branch: m(0.10) = 0.9980, m(0.12) = 0.9932, m(0.13) = 0.9872
    assert theory.ags_overlap([0.10, 0.12, 0.13]) == pytest.approx([0.9980, 0.9932, 0.9872], abs=2e-4)


@pytest.mark.parametrize("alpha", [0.04, 0.07, 0.1, 0.13, 0.137])
def test_ags_overlap_solves_the_saddle_point_equations(alpha):
    """The reduced equation (4) must satisfy the three original T = 0 equations (1)-(3)."""
    m = theory.ags_overlap(alpha)
    y = erfinv(m)
    C = 2 * y * math.exp(-(y**2)) / (math.sqrt(math.pi) * m)
    r = 1 / (1 - C) ** 2
    assert m == pytest.approx(erf(m / math.sqrt(2 * alpha * r)), abs=1e-10)  # (1)
    assert C == pytest.approx(math.sqrt(2 / (math.pi * alpha * r)) * math.exp(-(y**2)), rel=1e-8)  # (2)


def test_ags_rejects_bad_loads():
    with pytest.raises(ValueError, match="alpha"):
        theory.ags_overlap(-0.1)
    with pytest.raises(ValueError, match="y"):
        theory.ags_alpha(0.0)


def test_signal_to_noise_capacities_at_known_points():
    # N = 200: N / (2 ln N) = 18.87, N / (4 ln N) = 9.44, N / sqrt(2 ln N) = 61.44
    assert theory.mceliece(200) == pytest.approx(200 / (2 * math.log(200)))
    assert theory.mceliece(200) == pytest.approx(18.87, abs=0.01)
    assert theory.mceliece(200, all_patterns=True) == pytest.approx(9.44, abs=0.01)
    assert theory.storkey_capacity(200) == pytest.approx(61.44, abs=0.01)
    assert theory.pseudoinverse_capacity(200) == 200
    assert theory.ags_capacity(1000) == pytest.approx(137.9, abs=0.1)
    # Krotov & Hopfield (2016): N^2 / (6 ln N) = 362 at N = 100 and 1258 at N = 200 for n = 3
    assert theory.krotov_hopfield(100, 3) == pytest.approx(361.9, abs=0.1)
    assert theory.krotov_hopfield(200, 3) == pytest.approx(1258.3, abs=0.1)
    assert theory.krotov_hopfield(50, 4) == pytest.approx(50**3 / (30 * math.log(50)))
    # n = 2 is the Hebbian net: the all-patterns version is McEliece's N / (4 ln N)
    assert theory.krotov_hopfield(300, 2, all_patterns=True) == pytest.approx(theory.mceliece(300, all_patterns=True))
    with pytest.raises(ValueError, match="n must"):
        theory.krotov_hopfield(100, 1)
    with pytest.raises(ValueError, match="N must"):
        theory.mceliece(1)


def test_exponential_capacities_at_known_points():
    # Demircigil et al. (2017): ln(2)/2 without errors; I(0.8)/2 with 10 % corrupted bits
    assert theory.demircigil_rate(0.0) == pytest.approx(math.log(2) / 2)
    i08 = 0.5 * (1.8 * math.log(1.8) + 0.2 * math.log(0.2))
    assert theory.demircigil_rate(0.1) == pytest.approx(i08 / 2)
    assert theory.demircigil_rate(0.1) == pytest.approx(0.1840, abs=1e-4)
    # Ramsauer et al. (2021), the worked examples of Theorem 3: c = 3.1546 for beta = 1,
    # R = 3, d = 20, p = 0.001, and c = 1.3718 for beta = 1, R = 1, d = 75, p = 0.001
    assert theory.ramsauer_c(20, 1.0, 9.0, 1e-3) == pytest.approx(3.1546, abs=1e-4)
    assert theory.ramsauer_c(75, 1.0, 1.0, 1e-3) == pytest.approx(1.3718, abs=1e-4)
    N = np.array([20.0, 40.0])
    c = theory.ramsauer_c(N, 1.0, N / (N - 1), 1e-3)
    assert theory.ramsauer_storage(N, 1.0) == pytest.approx(math.sqrt(1e-3) * c ** ((N - 1) / 4))
    # the self-coupling estimate: rate beta (1 - 2 flip) - ln cosh beta
    rate, offset = theory.modern_retrieval_rate(0.1, 0.1)
    assert rate == pytest.approx(0.08 - math.log(math.cosh(0.1)))
    assert offset == pytest.approx(math.log(math.cosh(0.1)) - math.log(math.sinh(0.1)))
    with pytest.raises(ValueError, match="flip"):
        theory.demircigil_rate(0.5)
    with pytest.raises(ValueError, match="beta"):
        theory.ramsauer_storage(20, 0.0)

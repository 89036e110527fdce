"""Fault injection: damaged, stale and swapped files, kills, and extreme but valid inputs.

Every test here asserts one of two outcomes: a clear error that names the argument or the
file at fault, or a correct result (a recomputation equal to an undamaged run).  Nothing a
test damages may be trusted silently, and nothing that was intact may be lost.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("tests.seeding") is None:  # until the suite-wide ``seed`` fixture lands

    @pytest.fixture(scope="session")
    def seed():
        """``seed(base) -> int``: the seed of a test with base seed ``base``."""
        return lambda base: base

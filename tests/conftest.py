"""Suite-wide settings.

* One torch thread per test: the models under test are tiny, and on a 2-core machine
  torch's default thread pool makes them 5-20x slower.
* A deterministic hypothesis profile, so CI runs the same examples every time.
* One place for randomness: ``--seed-offset N`` (or ``HOPFIELD_SEED_OFFSET=N``) and the
  ``seed`` fixture, ``seed(base) -> base + N * SEED_STRIDE`` (``tests/seeding.py``).  Every
  stochastic test takes its seeds from it, so ``python -m pytest --seed-offset N`` reruns the
  suite on other random draws; offset 0 is the seeds written in the files.
"""

from __future__ import annotations

import pytest
import torch

from tests.seeding import ENV_VAR, derive_seed, offset_from_env

try:
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30, print_blob=True)
    settings.load_profile("ci")
except ImportError:  # hypothesis is a dev extra; property tests import-skip without it
    pass


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"--seed-offset must be an int >= 0, got {value}")
    return value


def pytest_addoption(parser):
    parser.addoption(
        "--seed-offset",
        type=_nonnegative_int,
        default=None,
        help=f"shift every test seed by N * SEED_STRIDE (default: ${ENV_VAR}, else 0)",
    )


def _offset(config) -> int:
    given = config.getoption("--seed-offset")
    return offset_from_env() if given is None else given


def pytest_report_header(config):
    return f"seed offset: {_offset(config)} (rerun with: python -m pytest --seed-offset {_offset(config)})"


@pytest.fixture(scope="session")
def seed_offset(pytestconfig) -> int:
    """The run's seed offset (``--seed-offset``, else ``$HOPFIELD_SEED_OFFSET``, else 0)."""
    return _offset(pytestconfig)


@pytest.fixture(scope="session")
def seed(seed_offset):
    """``seed(base) -> int``: the seed a test with base seed ``base`` uses in this run."""

    def _seed(base: int) -> int:
        return derive_seed(base, seed_offset)

    return _seed


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

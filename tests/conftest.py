"""Suite-wide settings.

* One torch thread per test: the models under test are tiny, and on a 2-core machine
  torch's default thread pool makes them 5-20x slower (reference/paper.md 6.1).
* A deterministic hypothesis profile, so CI runs the same examples every time.
"""

from __future__ import annotations

import pytest
import torch

try:
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30, print_blob=True)
    settings.load_profile("ci")
except ImportError:  # hypothesis is a dev extra; property tests import-skip without it
    pass


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

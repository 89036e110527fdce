"""The studies the command line runs: name -> module (``reproduce`` runs them in this order).

Its own module so that the CLI and the report (which sits beside it, not under it) share
one list.  A new study is one module plus one line here (docs/extending.md).
"""

from __future__ import annotations

__all__ = ["EXPERIMENTS"]

EXPERIMENTS: dict[str, str] = {
    "capacity": "experiments.capacity",
    "basins": "experiments.basins",
    "spurious": "experiments.spurious",
    "scaling": "experiments.scaling",
    "transition": "experiments.transition",
    "audit": "experiments.audit",
}

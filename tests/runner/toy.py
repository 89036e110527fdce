"""A toy sweep for runner tests: cheap, deterministic, seeded cells."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ToyCell:
    model: str
    load: float
    seed: int


def cells(n_seeds: int = 3) -> list[ToyCell]:
    return [ToyCell(m, a, s) for m in ("a", "b") for a in (0.1, 0.2) for s in range(n_seeds)]


def run_cell(cell: ToyCell) -> list[dict]:
    g = torch.Generator().manual_seed(cell.seed * 1000 + int(cell.load * 100))
    x = torch.rand(4, generator=g)
    delay = float(os.environ.get("TOY_CELL_DELAY", "0"))
    if delay:
        time.sleep(delay)
    return [
        {"model": cell.model, "load": cell.load, "seed": cell.seed, "trial": i, "value": float(v), "pattern_hash": "h0"}
        for i, v in enumerate(x)
    ]

"""Ways to damage a file, as a user's disk, editor or copy command would."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

#: Damage that :func:`damage` knows; "swap" needs a second file.
KINDS = ("empty", "truncate", "garbage", "flip", "swap")


def damage(path: Path, kind: str, rng: random.Random, other: Path | None = None) -> None:
    """Damage ``path`` in place: empty it, cut it short, overwrite it, flip a byte, or copy ``other`` over it."""
    data = path.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncate":
        path.write_bytes(data[: rng.randrange(len(data))] if data else b"")  # shorter, possibly empty
    elif kind == "garbage":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(len(data))))
    elif kind == "flip":
        data = data or b"\0"
        i = rng.randrange(len(data))
        path.write_bytes(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :])
    elif kind == "swap":
        if other is None:
            raise ValueError("kind='swap' needs other")
        shutil.copyfile(other, path)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

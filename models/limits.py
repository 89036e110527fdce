"""Refuse sizes that cannot fit before asking the allocator for them.

A request for more memory than the machine has either fails deep inside torch with an
allocator message that names no argument ("tried to allocate 512000000000000 bytes"), or,
worse, succeeds on an overcommitting system and swaps for minutes.  Models estimate their
largest allocations from the sizes they are given and call :func:`check_memory` first.

The stated limit is the memory of the device: physical RAM for the CPU, the card's total
memory for CUDA.  Estimates count the dominant tensors only, so they are lower bounds.
"""

from __future__ import annotations

import os

import torch

__all__ = ["memory_limit", "check_memory", "format_bytes"]


def memory_limit(device: str | torch.device = "cpu") -> int:
    """Bytes of memory on ``device``: physical RAM for CPUs, total memory for a CUDA card."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): assume a laptop
        return 16 * 2**30


def format_bytes(n: float) -> str:
    """``5.12e14 -> '512.0 TB'`` (decimal units, as allocators report)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def check_memory(
    nbytes: float,
    *,
    argument: str,
    value: object,
    what: str,
    device: str | torch.device = "cpu",
    remedy: str | None = None,
) -> None:
    """Raise ``ValueError`` naming ``argument`` when ``nbytes`` exceed :func:`memory_limit`.

    Parameters
    ----------
    nbytes : float
        Estimated size of the allocation (Python ints do not overflow: pass exact products).
    argument : str
        The argument that makes it large (e.g. ``"vocab_size"``), named in the message.
    value : object
        Its value, shown in the message (a string is shown as a description).
    what : str
        What would be allocated, with the sizes it depends on (e.g. ``"the (K, L, V) one-hot table"``).
    device : str or torch.device
        Where it would be allocated.
    remedy : str, optional
        What to do instead; default "use a smaller <argument>".
    """
    limit = memory_limit(device)
    if nbytes > limit:
        label = f"{argument} ({value})" if isinstance(value, str) else f"{argument}={value!r}"
        raise ValueError(
            f"{label} needs ~{format_bytes(nbytes)} for {what}, more than the "
            f"{format_bytes(limit)} of memory on {torch.device(device)}; {remedy or f'use a smaller {argument}'}"
        )

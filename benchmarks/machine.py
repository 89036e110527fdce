"""Describe the machine a benchmark ran on: CPU, cores, load, torch and numpy/BLAS builds.

Numbers in a benchmark table mean little without the machine next to them, and on a
shared machine the load average at the time matters as much as the CPU model.
:func:`describe` gathers it all; nothing is read at import time.
"""

from __future__ import annotations

import os
import platform

__all__ = ["describe", "load_average"]


def _cpu_model() -> str:
    """``model name`` of ``/proc/cpuinfo`` with its family and model numbers, else :func:`platform.processor`.

    Virtual machines often report a bare brand ("AMD EPYC"); family and model still tell
    the generation (e.g. AMD family 25 = Zen 3/4).
    """
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def _simd() -> str:
    """Widest SIMD extensions the CPU reports (they bound the achievable FLOP/s)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    wanted = ("avx512f", "avx512_bf16", "avx2", "fma")
    return " ".join(w for w in wanted if w in flags) or "none of avx2/avx512/fma"


def load_average() -> str:
    """``os.getloadavg()`` as ``"1 min / 5 min / 15 min"``, or ``"unavailable"``."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unavailable"


def _numpy_blas() -> str:
    import numpy as np

    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        blas = deps.get("blas", {})
        text = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - the config format is not a stable API; describe what we can
        text = "unknown"
    return f"numpy {np.__version__}, BLAS {text}"


def _numba() -> str:
    """numba's version and threading layer (the compiled sweeps), or why there is none."""
    try:
        import numba
    except ImportError:
        return "not installed (the memories use their torch loops)"
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process yet
        layer = "not started"
    return f"{numba.__version__}, threading layer {layer}, {numba.config.NUMBA_NUM_THREADS} threads"


def _threadpools() -> str:
    """Thread pools loaded in this process (torch's OpenMP, numpy's BLAS), via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('num_threads')} threads)".replace("  ", " ")
        for p in threadpool_info()
    )


def describe() -> dict[str, str]:
    """Describe this machine and software stack.

    Returns
    -------
    dict of str to str
        Keys ``cpu``, ``simd``, ``cores``, ``load average``, ``python``, ``torch``,
        ``torch threads``, ``torch BLAS``, ``numpy``, ``numba``, ``thread pools``, ``platform``.
    """
    import torch

    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    build = torch.__config__.show()
    settings = build.replace(",", " ").split()
    blas = next((part.split("=", 1)[1] for part in settings if part.startswith("BLAS_INFO=")), "?")
    capability = next(
        (line.split(":", 1)[1].strip() for line in build.splitlines() if "CPU capability usage" in line), "?"
    )
    return {
        "cpu": _cpu_model(),
        "simd": _simd(),
        "cores": f"{os.cpu_count()} logical, {affinity} usable by this process",
        "load average": load_average(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch threads": f"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op",
        "torch BLAS": f"{blas} (CPU capability {capability})",
        "numpy": _numpy_blas(),
        "numba": _numba(),
        "thread pools": _threadpools(),
        "platform": platform.platform(),
    }

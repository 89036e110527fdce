"""The ``kernel`` hyperparameter: which implementation runs a memory's asynchronous dynamics.

Every choice gives the same retrieval (tests compare them); they differ in speed only.

* ``"numba"``: compiled loops (:mod:`models.classical_numba`, :mod:`models.dense_numba`), one
  call per sweep for the whole batch, parallel over the rows; CPU only, needs ``numba``.
* ``"torch"``: batched torch loops, a few tensor operations per site visit; any device.
* ``"auto"`` (the default): ``"numba"`` on the CPU when ``numba`` imports, ``"torch"`` otherwise
  (on CUDA, or without ``numba``), silently.

The classical memory has a fourth choice, ``"generic"``: the loops written once for every
case, which the others are checked against (see :mod:`models.classical`).

``numba`` is imported only when a memory resolves its kernel at ``fit``, never when
:mod:`models` is imported; compiled code is cached on disk (``cache=True``), so only the first
call on a machine pays the compile time (``docs/benchmarks.md`` gives it).
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["KERNELS", "PARALLEL_MIN_WORK", "numba_available", "resolve_kernel", "kernel_threads"]

#: The values of the ``kernel`` hyperparameter shared by the memories with compiled loops.
KERNELS = ("auto", "numba", "torch")

#: Operations (roughly) a compiled sweep needs before it runs on more than one thread: waking a
#: second thread costs of the order of a millisecond on a loaded machine, more than it saves on
#: smaller sweeps, which therefore run on the calling thread.
PARALLEL_MIN_WORK = 2**22

# numba's default thread pool ("workqueue", the one its wheels always have) aborts the process
# when two Python threads launch parallel kernels at once: compiled sweeps take turns.
_LOCK = threading.Lock()


@functools.cache
def numba_available() -> bool:
    """Whether ``numba`` imports here (checked once per process)."""
    try:
        importlib.import_module("numba")
    except ImportError:
        return False
    return True


def resolve_kernel(kernel: str, device: torch.device) -> str:
    """The implementation a memory with hyperparameter ``kernel`` runs on ``device``.

    Parameters
    ----------
    kernel : str
        A validated ``kernel`` hyperparameter (one of :data:`KERNELS`, or ``"generic"``).
    device : torch.device
        The device the memory computes on.

    Returns
    -------
    str
        ``"numba"``, ``"torch"`` or ``"generic"``: never ``"auto"``.

    Raises
    ------
    ValueError
        ``kernel="numba"`` on a non-CPU device or without ``numba``.
    """
    if kernel == "auto":
        return "numba" if device.type == "cpu" and numba_available() else "torch"
    if kernel == "numba":
        if device.type != "cpu":
            raise ValueError(f"kernel='numba' runs on the CPU only, got device={str(device)!r}; use kernel='auto'")
        if not numba_available():
            raise ValueError("kernel='numba' needs the numba package (pip install numba); use kernel='auto'")
    return kernel


@contextmanager
def kernel_threads() -> Iterator[int]:
    """Run compiled kernels on as many threads as torch's intra-op setting (within numba's pool).

    One knob for both: ``torch.set_num_threads`` (or ``models.threads.torch_threads``) also
    sets how many threads the compiled sweeps use, so benchmarks and tests that pin torch to
    one thread pin these too; numba's own setting is left at that number afterwards, torch's
    is unchanged.  Retrievals from several Python threads run their compiled sweeps one at a
    time.  Yields the number of threads.
    """
    import numba

    with _LOCK:
        torch_threads = torch.get_num_threads()
        threads = max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(threads)
        try:
            yield threads
        finally:
            # numba's OpenMP layer shares the OpenMP runtime with torch: launching its pool, or
            # setting its thread count, can change torch's.  Leave torch as it was.
            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)

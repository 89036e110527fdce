"""Classical Hopfield retrieval against peer packages on identical workloads.

Workload: random binary patterns, ``N in {256, 1024}`` spins, ``K = round(0.1 N)``
patterns stored by the Hebb rule, ``B = 256`` queries, each a stored pattern with exactly
``round(0.1 N)`` spins flipped; the same patterns and queries for everyone.  Retrieval runs
to convergence, asynchronously and synchronously where a package has that mode.

Peers (``pip install .[bench]``; used as black boxes through their public API, nothing of
theirs is copied; each is imported only when this module runs):

* ``hopfieldkit`` 0.1.0: ``HopfieldNetwork(n).fit(patterns)``, ``W = (1/N) sum x x^T`` with a
  zero diagonal (the testbed's weights exactly); ``recall(state, order="random", seed=...)``
  sweeps in a fresh random order until a sweep changes nothing.  Async only; one query per
  call, a Python loop over the sites.  Tie rule: ``h_i >= 0 -> +1``.
* ``hopfieldnetwork`` 1.0.1 (GPL-3.0, only called): ``train_pattern`` adds the zero-diagonal
  ``x x^T / N``; ``update_neurons(0, mode, run_max=True)`` runs async sweeps (random
  permutation each, from numpy's global RNG) until a sweep changes nothing, or sync steps
  until a fixed point or a 2-cycle.  One query per network state.  Tie rule: ``h_i >= -1e-15
  -> +1``.
* ``dhnn`` 0.1.12: ``DHNN(pflag=1, nflag=-1)`` (the defaults are ``0/1`` states), ``train`` gives
  the unnormalised ``W = X^T X - K I`` (``N`` times the Hebb matrix for ``+-1`` patterns, so the
  same dynamics), ``predict(data, theta=0, epochs=E)`` (the default threshold is 0.5) makes
  ``E`` single-site updates per query at random sites drawn *with replacement*, with no
  convergence test; it takes a batch, but computes the ``(b, b)`` product ``W[ind] data^T``
  for its diagonal every update, so its cost grows with the chunk size ``b``.  Its sites are
  drawn from ``randint(0, N - 1)``, which never picks the last site.  Tie rule: ``h_i > 0 ->
  +1`` else ``-1``.  We give it ``E = ceil(2 N ln N)`` updates (every site visited with
  probability ``1 - 1/N`` per query) and chunks of 16 queries.
* ``hflayers`` (modern Hopfield, ml-jku/hopfield-layers; not on the registry): timed through
  ``models.make("modern", backend="hflayers")`` when importable, skipped otherwise.

Ours is ``models.make("classical", rule="hebb", update=...)`` with its default kernel: compiled
asynchronous sweeps on the CPU (:mod:`benchmarks.kernels` compares them with the torch loop).

Peers that loop over queries in Python are timed on a subset of the queries (the first
``n`` of the same ``B``) and their queries/second scaled from it; the row names say how many.
The testbed's memory runs the whole batch.  Everyone runs on the same number of threads
(torch intra-op threads, numpy BLAS threads via threadpoolctl).

Agreement checks (rows with unit ``fraction``/``queries``):

* the weights are compared entry by entry (``N`` is a power of two, so ``1/N`` sums are
  exact in float64 and every package's matrix must be *identical* to ours);
* sync dynamics are deterministic: from the same query with the same weights ours and
  ``hopfieldnetwork`` must end in the same state, except where the trajectory meets an
  exact tie ``h_i = 0`` at a ``-1`` spin (ours keeps the spin, theirs sets ``+1``) and up to
  the phase of a 2-cycle.  We count the queries whose trajectory meets such a tie, and the
  disagreements on the others (must be 0);
* async dynamics differ by update order, so we compare outcomes instead: fraction of
  queries retrieving their pattern exactly, mean final overlap, fraction of final states that
  are fixed points (``h_i s_i >= 0`` for all ``i``) and fraction equal to our final state.

:func:`run` returns rows ``{"name", "value", "unit", "ratio"}``, ``ratio`` our speed-up (over a peer or the best).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.timing import best_time, calls_for, flipped_queries, interleaved_best, module_parser, print_rows, row
from models.threads import torch_threads

__all__ = ["run", "PEERS", "SIZES"]

SIZES = (256, 1024)
LOAD, FLIP, B = 0.1, 0.1, 256
DHNN_CHUNK = 16
PEERS = ("hopfieldkit", "hopfieldnetwork", "dhnn")


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG (two peers draw from it) and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def _blas_threads(n: int) -> Iterator[None]:
    """Limit numpy's BLAS to ``n`` threads (threadpoolctl), so peers use what torch uses."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # not installed: numpy keeps its default
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


@dataclass
class _Peer:
    """A fitted peer: its weights normalised to the Hebb convention, and a recall function."""

    name: str
    weights: np.ndarray  # (N, N) float64, comparable to ours
    recall: Callable[[np.ndarray, str], np.ndarray]  # (n, N) +-1 queries, update -> (n, N) +-1 states
    updates: tuple[str, ...]
    per_query: int  # queries timed (the peer loops over queries in Python)


def _hopfieldkit(spins: np.ndarray, n_time: int) -> _Peer:
    import hopfieldkit

    net = hopfieldkit.HopfieldNetwork(spins.shape[1]).fit(spins.astype(float))

    def recall(queries: np.ndarray, update: str) -> np.ndarray:
        # One seed per query (its own generator), so results do not depend on the subset.
        return np.stack([net.recall(q.astype(float), order="random", seed=i) for i, q in enumerate(queries)])

    return _Peer("hopfieldkit", np.asarray(net.weights, dtype=float), recall, ("async",), n_time)


def _hopfieldnetwork(spins: np.ndarray, n_time: int) -> _Peer:
    import hopfieldnetwork

    net = hopfieldnetwork.HopfieldNetwork(N=spins.shape[1])
    for pattern in spins.astype(np.int8):
        net.train_pattern(pattern)

    def recall(queries: np.ndarray, update: str) -> np.ndarray:
        out = np.empty(queries.shape, dtype=np.int64)
        with _numpy_global_seed(0):  # its async order comes from numpy's global RNG
            for i, q in enumerate(queries):
                net.set_initial_neurons_state(q.astype(np.int8))  # a copy: it updates the state in place
                net.update_neurons(0, update, run_max=True)
                out[i] = net.S
        return out

    return _Peer("hopfieldnetwork", np.asarray(net.w, dtype=float), recall, ("async", "sync"), n_time)


def _dhnn(spins: np.ndarray, n_time: int) -> _Peer:
    import dhnn

    N = spins.shape[1]
    net = dhnn.DHNN(pflag=1, nflag=-1)  # +-1 states; its default nflag=0 means 0/1 states
    net.train(list(spins.astype(float)))
    epochs = math.ceil(2 * N * math.log(N))

    def recall(queries: np.ndarray, update: str) -> np.ndarray:
        out = []
        with _numpy_global_seed(0):  # its sites come from numpy's global RNG
            for start in range(0, len(queries), DHNN_CHUNK):
                chunk = queries[start : start + DHNN_CHUNK].astype(float)  # a copy: predict works in place
                out.append(net.predict(chunk, theta=0.0, epochs=epochs))
        return np.concatenate(out).astype(np.int64)

    # W = X^T X - K I is N times the zero-diagonal Hebb matrix for +-1 patterns.
    return _Peer("dhnn", np.asarray(net.weight, dtype=float) / N, recall, ("async",), n_time)


_MAKERS = {"hopfieldkit": _hopfieldkit, "hopfieldnetwork": _hopfieldnetwork, "dhnn": _dhnn}


def _available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _outcomes(states: np.ndarray, targets: np.ndarray, W: np.ndarray) -> dict[str, float]:
    """Exact retrieval, mean overlap and fixed-point fraction of ``(n, N)`` +-1 final states."""
    h = states @ W  # (n, N)
    return {
        "exact": float((states == targets).all(1).mean()),
        "overlap": float((states * targets).mean(1).mean()),
        # Fixed point under the keep-ties rule: no site whose field opposes its spin.
        "fixed": float((states * h >= -1e-9).all(1).mean()),
    }


def _tie_flips(trajectory: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Queries whose sync trajectory meets ``h_i == 0`` at a ``-1`` spin, ``bool (n,)``.

    There ours keeps ``-1`` and ``hopfieldnetwork``'s ``sign_0`` gives ``+1``.  With ``N`` a
    power of two the fields are exact multiples of ``1/N``, so ``== 0`` is exact.
    """
    h = trajectory @ W  # (T, n, N)
    return ((h == 0) & (trajectory == -1)).any(axis=(0, 2))


def _sync_agreement(ours: np.ndarray, theirs: np.ndarray, W: np.ndarray, ties: np.ndarray) -> tuple[float, int, int]:
    """Fraction agreeing, queries with a tie on the path, disagreements without one.

    In a 2-cycle the two implementations may stop at different phases, so a state equal to
    the sync image of ours (ties kept) also counts as agreeing.
    """
    h = ours @ W
    image = np.where(h > 0, 1, np.where(h < 0, -1, ours))  # (n, N) one more sync step of ours
    agree = (theirs == ours).all(1) | (theirs == image).all(1)
    return float(agree.mean()), int(ties.sum()), int((~agree & ~ties).sum())


def _dhnn_defaults(tokens: np.ndarray, queries: np.ndarray, targets: np.ndarray) -> float:
    """Exact retrieval of ``dhnn`` with its defaults: 0/1 states, threshold 0.5, 1000 updates."""
    import dhnn

    net = dhnn.DHNN()
    net.train(list(tokens.astype(float)))
    with _numpy_global_seed(0):
        out = net.predict(queries.astype(float))
    return float((out == targets).all(1).mean())


def _hflayers_rows(quick: bool, repeats: int) -> list[dict]:
    """Modern retrieval through hflayers vs the native update, when hflayers is importable."""
    if not _available("hflayers"):
        return [row("hflayers modern retrieval (not importable: skipped)", math.nan, "queries/s")]
    import models

    N, n_queries = (256, 64) if quick else (1024, B)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (round(LOAD * N), N), generator=g)
    queries, _ = flipped_queries(patterns, n_queries, FLIP, g)
    times = {}
    for backend in ("native", "hflayers"):
        memory = models.make("modern", beta=1.0, backend=backend).fit(patterns)
        times[backend] = best_time(lambda m=memory: m.retrieve(queries), repeats)
    return [
        row(f"modern native N={N}", n_queries / times["native"], "queries/s", times["hflayers"] / times["native"]),
        row(f"hflayers modern N={N}", n_queries / times["hflayers"], "queries/s", times["hflayers"] / times["native"]),
    ]


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Time our classical retrieval and the peers' on the same workloads; check agreement.

    Parameters
    ----------
    quick : bool
        ``N = 256`` only, 64 queries, peers on 4 queries (a smoke run of seconds).
    threads : int or None
        Torch intra-op threads and numpy BLAS threads for the measurement (torch's setting
        is restored afterwards); ``None`` keeps the current settings.

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}`` (see the module docstring).
    """
    sizes = (256,) if quick else SIZES
    n_queries = 64 if quick else B
    repeats = 1 if quick else 3
    blas = _blas_threads(threads) if threads is not None else contextlib.nullcontext()
    rows: list[dict] = []
    with torch_threads(threads), blas:
        for N in sizes:
            rows += _one_size(N, n_queries, quick, repeats)
        rows += _hflayers_rows(quick, repeats)
    return rows


def _subset(N: int, name: str, quick: bool) -> int:
    """Queries a Python-looping peer is timed on: about a second of its time per call."""
    if quick:
        return 4
    if name == "dhnn":
        return 32 if N <= 256 else 16
    return 64 if N <= 256 else 32


def _time_all(patterns, queries, peers, quick: bool, repeats: int) -> dict:
    """Time ours and every peer on ``queries``, both updates, in alternation.

    Returns the queries/s per ``(name, update)``, the peers' final states, ours as ``+-1``
    arrays per update, and our weights.
    """
    from models.classical import ClassicalHopfield

    n_queries = len(queries)
    q_spins = (2 * queries - 1).numpy()
    out = {"timing": {}, "finals": {}, "ours": {}, "W": None}
    for update in ("async", "sync"):
        model = ClassicalHopfield(rule="hebb", update=update).fit(patterns)
        model.retrieve(queries[:2])  # loads the compiled sweeps before anything is timed
        out["W"] = model.weights_.numpy()  # (N, N) float64
        fns = {"ours": lambda m=model: m.retrieve(queries, generator=torch.Generator().manual_seed(1))}
        counts = {"ours": n_queries}
        for peer in peers:
            if update not in peer.updates:
                continue
            n = counts[peer.name] = min(peer.per_query, n_queries)
            fns[peer.name] = lambda peer=peer, n=n, update=update: peer.recall(q_spins[:n], update)
        # The warm-up call gives the final states and sizes the number of timed calls.
        inner = {}
        for name, fn in fns.items():
            t0 = time.perf_counter()
            result = fn()
            inner[name] = calls_for(time.perf_counter() - t0, budget=0.05 if quick else 0.25)
            if name == "ours":
                out["ours"][update] = (2 * result.states - 1).numpy()
            else:
                out["finals"][(name, update)] = result
        # Ours and the peers in alternation, so that load from other processes hits all alike.
        seconds = interleaved_best(fns, repeats, warmup=False, inner=inner)
        for name, t in seconds.items():
            out["timing"][(name, update)] = counts[name] / t
    return out


def _timing_rows(peers, measured: dict, tag: str, n_queries: int) -> list[dict]:
    timing, finals = measured["timing"], measured["finals"]
    rows = [
        row(f"{peer.name} weights == ours, {tag}", float(np.array_equal(peer.weights, measured["W"])), "bool")
        for peer in peers
    ]
    for update in ("async", "sync"):
        peer_names = [p.name for p in peers if update in p.updates]
        fastest = max((timing[(p, update)] for p in peer_names), default=math.nan)
        ours = timing[("ours", update)]
        rows.append(row(f"ours {update}, {tag}, B={n_queries} (batched)", ours, "queries/s", ours / fastest))
        for p in peer_names:
            n = len(finals[(p, update)])
            rows.append(
                row(
                    f"{p} {update}, {tag} (timed on {n} queries, scaled)",
                    timing[(p, update)],
                    "queries/s",
                    ours / timing[(p, update)],
                )
            )
    return rows


def _agreement_rows(patterns, queries, targets, peers, measured: dict, tag: str, quick: bool) -> list[dict]:
    from models.classical import ClassicalHopfield

    W, finals, ours = measured["W"], measured["finals"], measured["ours"]
    q_spins, t_spins = (2 * queries - 1).numpy(), (2 * targets - 1).numpy()
    rows = []
    if "hopfieldnetwork" in [p.name for p in peers]:
        theirs = finals[("hopfieldnetwork", "sync")]
        n = len(theirs)
        rec = ClassicalHopfield(rule="hebb", update="sync").fit(patterns).retrieve(queries[:n], record=True)
        trajectory = (2 * rec.trajectory - 1).numpy().astype(float)  # (T, n, N)
        ties = _tie_flips(trajectory, W)
        agree, n_ties, bad = _sync_agreement(ours["sync"][:n], theirs, W, ties)
        rows += [
            row(f"sync ours vs hopfieldnetwork, {tag}: same final state ({n} queries)", agree, "fraction"),
            row(f"sync ours vs hopfieldnetwork, {tag}: queries meeting a tie h_i=0 at s_i=-1", n_ties, "queries"),
            row(f"sync ours vs hopfieldnetwork, {tag}: disagreements without a tie (must be 0)", bad, "queries"),
        ]
    for (name, update), states in finals.items():
        if update != "async":
            continue
        n = len(states)
        o, mine = _outcomes(states, t_spins[:n], W), _outcomes(ours["async"][:n], t_spins[:n], W)
        same = float((states == ours["async"][:n]).all(1).mean())
        head = f"async {name}, {tag}"
        rows += [
            row(f"{head}: exact retrieval ({n} queries; ours {mine['exact']:.3f})", o["exact"], "fraction"),
            row(f"{head}: mean final overlap (ours {mine['overlap']:.4f})", o["overlap"], "overlap"),
            row(f"{head}: final states that are fixed points (ours {mine['fixed']:.3f})", o["fixed"], "fraction"),
            row(f"{head}: same final state as ours", same, "fraction"),
        ]
        if name == "dhnn":
            # Its sites come from randint(0, N - 1): the last site is never updated.
            stuck = float((q_spins[:n, -1] != t_spins[:n, -1]).mean())
            rows.append(row(f"{head}: queries whose last site is flipped (never updated)", stuck, "fraction"))
    N = patterns.shape[1]
    if "dhnn" in [p.name for p in peers] and N <= 256:
        n = _subset(N, "dhnn", quick)
        exact = _dhnn_defaults(patterns.numpy(), queries[:n].numpy(), targets[:n].numpy())
        name = f"dhnn with its defaults (0/1 states, theta 0.5, 1000 updates), {tag}: exact retrieval ({n} queries)"
        rows.append(row(name, exact, "fraction"))
    return rows


def _one_size(N: int, n_queries: int, quick: bool, repeats: int) -> list[dict]:
    K = round(LOAD * N)
    g = torch.Generator().manual_seed(N)
    patterns = torch.randint(0, 2, (K, N), generator=g)  # (K, N) tokens 0/1
    queries, targets = flipped_queries(patterns, n_queries, FLIP, g)  # (B, N) each
    spins = (2 * patterns - 1).numpy()  # (K, N) +-1
    tag = f"N={N} K={K}"
    peers = [_MAKERS[name](spins, _subset(N, name, quick)) for name in PEERS if _available(name)]
    measured = _time_all(patterns, queries, peers, quick, repeats)
    return _timing_rows(peers, measured, tag, n_queries) + _agreement_rows(
        patterns, queries, targets, peers, measured, tag, quick
    )


def main(argv: list[str] | None = None) -> None:
    parser = module_parser(__doc__, "N=256 only, few queries: seconds", "torch and BLAS threads (default 1)")
    args = parser.parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()

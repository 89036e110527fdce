"""How close the memories' inner loops come to the machine's limit, and what holds them back.

The limit is a plain ``torch.matmul`` of the same shapes and dtype timed in the same
process, in alternation with the measured code (:func:`benchmarks.timing.interleaved_best`).

* Classical sync step (``N = 1024``, ``K = 102``, ``B = 1024`` queries with 10 % flips):
  achieved FLOP/s of the whole retrieval, counting the flops the model does for the ``A``
  states still moving at each step (it multiplies only those), over the FLOP/s of plain
  matmuls of exactly those shapes and dtype.  Twice: the Hebbian fields through the patterns,
  ``N h = (s xi^T) xi - K s``, two float32 products (``4 A N K`` flops; exact while
  ``N K < 2^23`` because every number in it is an integer), which is what the model runs;
  and the generic-W step, ``s W`` in float64 (``2 A N^2``), the same loop on the weights.
  Also the generic loop (``kernel="generic"``) they are checked against, the time
  outside the matmuls, and the exactness of the integer fields.
  Then the same at the peers' small size (``N = 256``, ``K = 26``, ``B = 256``; not in ``--quick``).
* Classical async (``N = 1024``, ``K = 102``, ``B = 256``, then ``N = 256``): the compiled
  retrieval and the torch loop against the generic loop, and the torch loop's first sweep --
  ``N`` site visits in order, each a handful of small tensor operations over the batch -- per
  visit, in units of one small-op dispatch: that loop is bound by per-operation overhead, not
  arithmetic, which is what the compiled sweeps remove (:mod:`benchmarks.kernels`).
* Modern update (``N = K = B = 1024``, float64): ``4 B N K`` flops per update (two matmuls)
  over the FLOP/s of one ``(B, N) @ (N, K)`` matmul.
* Oracle (``L = 16``, ``V = 8``, ``K = 4096``, ``B = 256``): the denoiser call with its cached
  one-hot codes (agreement counts ``A_mu = #{i : x^i = xi_mu^i}`` as one float32 matmul, exact:
  the counts are integers ``<= L``) and without them (the ``(B, K, L)`` broadcast comparison
  of :func:`energy.diffusion.agreements`), and the counts alone both ways.

Diffusion training (tokens/s, model FLOP/s over a matmul) is measured by
:mod:`benchmarks.diffusion` and the oracle's cost exponent in ``K`` by
:mod:`benchmarks.scaling`; ``python -m benchmarks`` gathers them all.
"""

from __future__ import annotations

import torch

from benchmarks.timing import flipped_queries, interleaved_best, module_parser, print_rows, row
from models.threads import torch_threads

__all__ = ["run"]


def _classical_sync(N: int, B: int, repeats: int) -> list[dict]:
    import models

    K = round(0.1 * N)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)  # (K, N)
    queries, _ = flipped_queries(patterns, B, 0.1, g)  # (B, N)
    lowrank = models.make("classical", rule="hebb", update="sync").fit(patterns)
    # The same loop on the float64 weights: the generic-W step.
    dense = models.make("classical", rule="hebb", update="sync", lowrank=False).fit(patterns)
    generic = models.make("classical", rule="hebb", update="sync", kernel="generic").fit(patterns)  # written once
    steps = lowrank.retrieve(queries).steps
    # Step t multiplies the states that used at least t steps (finished ones are dropped).
    active = [int((steps >= t).sum()) for t in range(1, int(steps.max()) + 1)]
    flop_lowrank = 4.0 * N * K * sum(active)  # (A, N) @ (N, K), then (A, K) @ (K, N)
    flop_dense = 2.0 * N * N * sum(active)  # (A, N) @ (N, N)

    W = lowrank.weights_  # (N, N) float64
    X = (2 * queries - 1).to(torch.float64)  # (B, N) spins
    X32 = X.float()
    xi = (2 * patterns - 1).float()  # (K, N)

    t = interleaved_best(
        {
            "lowrank": lambda: lowrank.retrieve(queries),
            "dense": lambda: dense.retrieve(queries),
            "generic": lambda: generic.retrieve(queries),
            "matmul32": lambda: [(X32[:a] @ xi.mT) @ xi for a in active],
            "matmul64": lambda: [X[:a] @ W for a in active],
        },
        repeats,
    )
    # N h = (s . xi^mu) xi^mu summed over mu, minus the K s_i of the zeroed diagonal: (B, N)
    # integers, exact in float32 while N K < 2^23
    exact = float((((X32 @ xi.mT) @ xi - K * X32).double() - N * (X @ W)).abs().max())
    tag = f"N={N} K={K} B={B}"
    n_steps = len(active)
    outside = (t["lowrank"] - t["matmul32"]) / n_steps
    return [
        row(
            f"classical sync retrieval, {tag}, Hebb low rank float32 (ratio: speed-up over the generic loop)",
            B / t["lowrank"],
            "queries/s",
            t["generic"] / t["lowrank"],
        ),
        row(
            f"classical sync step, {tag}, Hebb low rank float32 ({n_steps} steps, {sum(active)} row-steps, "
            "4 N K flops each)",
            flop_lowrank / t["lowrank"],
            "FLOP/s",
            t["matmul32"] / t["lowrank"],
        ),
        row(f"plain torch.matmul float32, (s xi^T) xi, same shapes ({tag})", flop_lowrank / t["matmul32"], "FLOP/s", 1),
        row(
            f"classical sync step, {tag}, generic W float64 (same loop, 2 N^2 flops per row-step)",
            flop_dense / t["dense"],
            "FLOP/s",
            t["matmul64"] / t["dense"],
        ),
        row(f"plain torch.matmul float64, s W, same shapes ({tag})", flop_dense / t["matmul64"], "FLOP/s", 1.0),
        row(
            f"classical sync retrieval, {tag}, generic W float64 (ratio: its time over the low-rank path's)",
            B / t["dense"],
            "queries/s",
            t["dense"] / t["lowrank"],
        ),
        row(
            f"classical sync retrieval, {tag}, generic loop (kernel='generic'; ratio: its time over the low rank's)",
            B / t["generic"],
            "queries/s",
            t["generic"] / t["lowrank"],
        ),
        row(
            f"classical sync low rank, {tag}: time outside the matmuls, per step (ratio: share of retrieval time)",
            outside * 1e3,
            "ms/step",
            outside * n_steps / t["lowrank"],
        ),
        row(f"Hebbian fields via the patterns, {tag}: max |N h(float64 W) - N h(float32)| (must be 0)", exact, "abs"),
    ]


def _torch_first_sweep(memory, queries: torch.Tensor) -> dict:
    """The torch loop's first sweep, as its cost model schedules it and site by site.

    On the retrieval's own fields and order: returns callables ``first`` (the schedule
    :func:`models.classical_loops.sweep_cost` picks) and ``plain`` (:func:`~models.classical_loops.sweep_plain`,
    for the cost of one site visit), the schedule's name and about how many flips the sweep makes.
    """
    from models import classical_loops
    from models.classical_fields import async_fields

    N = queries.shape[1]
    x, h, W, tol = async_fields(memory, queries, memory.max_steps)
    w = W.unbind(0)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(1)).tolist()
    unstable = (h * x).add_(tol).sign_().neg_().clamp_(min=0.0)  # (B, N) 1 where a row would flip
    per_row = unstable.sum(dim=1)
    moving = per_row.nonzero().squeeze(1)
    busy = int(torch.count_nonzero(unstable.sum(dim=0)))
    events, plain = classical_loops.sweep_cost(N, len(x), busy, per_row[moving])

    def plain_sweep():
        classical_loops.sweep_plain(order, x.clone(), h.clone(), w, tol)

    def first_sweep():
        if events < plain:
            classical_loops.sweep_events(order, x.clone(), h.clone(), W, tol, moving)
        else:
            plain_sweep()

    schedule = "sweep_events" if events < plain else "sweep_plain"
    return {"first": first_sweep, "plain": plain_sweep, "schedule": schedule, "flips": float(per_row.sum())}


def _classical_async(N: int, B: int, repeats: int) -> list[dict]:
    import models

    K = round(0.1 * N)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)
    queries, _ = flipped_queries(patterns, B, 0.1, g)
    memories = {k: models.make("classical", rule="hebb", kernel=k).fit(patterns) for k in ("numba", "torch", "generic")}

    def call(m):
        return m.retrieve(queries, generator=torch.Generator().manual_seed(1))

    sweeps = int(call(memories["torch"]).steps.max())
    first = _torch_first_sweep(memories["torch"], queries)
    v = torch.randn(B, dtype=torch.float64)
    n_ops = 1000

    def small_ops():
        for _ in range(n_ops):
            torch.sign(v)  # one dispatch of a (B,) elementwise op

    fns = {k: (lambda m=m: call(m)) for k, m in memories.items()}
    t = interleaved_best({**fns, "first": first["first"], "plain": first["plain"], "op": small_ops}, repeats)
    per_visit, per_op = t["plain"] / N, t["op"] / n_ops
    tag, flips = f"N={N} K={K} B={B}", first["flips"]
    return [
        row(
            f"classical async retrieval, {tag}, compiled ({sweeps} sweeps; ratio: speed-up over the generic loop)",
            B / t["numba"],
            "queries/s",
            t["generic"] / t["numba"],
        ),
        row(
            f"classical async retrieval, {tag}, torch loop (ratio: speed-up over the generic loop)",
            B / t["torch"],
            "queries/s",
            t["generic"] / t["torch"],
        ),
        row(f"classical async retrieval, {tag}, generic loop (kernel='generic')", B / t["generic"], "queries/s"),
        row(
            f"classical async, {tag}: torch loop's first sweep ({first['schedule']}; ~{flips / B:.0f} flips per row; "
            "ratio: share of the torch retrieval's time)",
            t["first"] * 1e3,
            "ms",
            t["first"] / t["torch"],
        ),
        row(
            f"classical async, {tag}: time per site visit of the torch loop's first sweep site by site (sweep_plain, "
            f"~{flips / N:.0f} of {B} rows flipping per visit; ratio: in small-op dispatches)",
            per_visit * 1e6,
            "us",
            per_visit / per_op,
        ),
        row(f"torch dispatch of one small op on {B} float64 values", per_op * 1e6, "us"),
    ]


def _modern(N: int, K: int, B: int, repeats: int) -> list[dict]:
    import models

    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)
    queries, _ = flipped_queries(patterns, B, 0.1, g)
    modern = models.make("modern", beta=1.0).fit(patterns)
    xi = modern.encode(queries)  # (B, N) float64
    X = modern.stored_patterns_  # (K, N) float64
    XT = X.T.contiguous()
    t = interleaved_best({"update": lambda: modern.update(xi), "matmul": lambda: xi @ XT}, repeats)
    update_flops = 4.0 * B * N * K / t["update"]  # two matmuls; the softmax is O(B K), not counted
    matmul_flops = 2.0 * B * N * K / t["matmul"]
    tag = f"N={N} K={K} B={B}, float64"
    return [
        row(f"modern update, {tag}", update_flops, "FLOP/s", update_flops / matmul_flops),
        row(f"plain torch.matmul (B, N) @ (N, K), {tag}", matmul_flops, "FLOP/s", 1.0),
    ]


def _oracle_agreements(L: int, V: int, K: int, B: int, repeats: int) -> list[dict]:
    """The oracle call with and without its cached one-hot codes, and the agreement counts alone."""
    from energy.diffusion import agreements
    from models.diffusion.oracle import Oracle

    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, V, (K, L), generator=g)  # (K, L)
    x = torch.randint(0, V, (B, L), generator=g)  # (B, L)
    oracle = Oracle(patterns, V)  # caches the codes (V <= CODES_MAX_VOCAB)
    without = Oracle(patterns, V)
    without.codes = None  # the broadcast comparison
    codes = oracle.codes
    t = interleaved_best(
        {
            "denoiser": lambda: oracle(x, 0.25),
            "without": lambda: without(x, 0.25),
            "broadcast": lambda: agreements(x, patterns),
            "matmul": lambda: agreements(x, patterns, codes),
        },
        repeats,
    )
    exact = float((agreements(x, patterns, codes) - agreements(x, patterns)).abs().max())
    tag = f"L={L} V={V} K={K} B={B}"
    return [
        row(
            f"oracle denoiser call, {tag}, cached one-hot codes (ratio: agreements' share of the call)",
            t["denoiser"] * 1e3,
            "ms",
            t["matmul"] / t["denoiser"],
        ),
        row(
            "oracle denoiser call without the codes (ratio: its time over the call with them)",
            t["without"] * 1e3,
            "ms",
            t["without"] / t["denoiser"],
        ),
        row(
            "oracle agreements as a (B, K, L) broadcast compare (ratio: share of the call without codes)",
            t["broadcast"] * 1e3,
            "ms",
            t["broadcast"] / t["without"],
        ),
        row(
            "oracle agreements as a float32 one-hot matmul with the codes (ratio: speed-up over the broadcast)",
            t["matmul"] * 1e3,
            "ms",
            t["broadcast"] / t["matmul"],
        ),
        row("oracle agreements: max |broadcast - one-hot matmul| (must be 0)", exact, "abs"),
    ]


def run(quick: bool = False, threads: int | None = 1) -> list[dict]:
    """Measure the inner loops against plain matmuls of the same shapes.

    Parameters
    ----------
    quick : bool
        Small sizes (``N = 256``, ``B = 256``), one repeat: a smoke run of about a second.
    threads : int or None
        Torch intra-op threads (restored afterwards); ``None`` keeps the current setting.

    Returns
    -------
    list of dict
        Rows ``{"name", "value", "unit", "ratio"}``; ``ratio`` is the fraction of the plain
        matmul's FLOP/s unless the row name says otherwise.
    """
    N, B, B_async, repeats = (256, 256, 64, 1) if quick else (1024, 1024, 256, 5)
    with torch_threads(threads):
        rows = _classical_sync(N, B, repeats) + _classical_async(N, B_async, max(1, repeats // 2))
        if not quick:  # the peers' small workload too (benchmarks.peers), to explain its ratios
            rows += _classical_sync(256, 256, repeats) + _classical_async(256, 256, max(1, repeats // 2))
        return (
            rows
            + _modern(N, N, B, repeats)
            + _oracle_agreements(16, 8, 256 if quick else 4096, 64 if quick else 256, repeats)
        )


def main(argv: list[str] | None = None) -> None:
    args = module_parser(__doc__, "small sizes: about a second").parse_args(argv)
    print_rows(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()

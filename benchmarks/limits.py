"""How close the memories' inner loops come to the machine's limit, and what holds them back.

The limit is a plain ``torch.matmul`` of the same shapes and dtype timed in the same
process, in alternation with the measured code (:func:`benchmarks.timing.interleaved_best`).

* Classical sync step (``N = 1024``, ``K = 102``, ``B = 1024`` queries with 10 % flips,
  float64): achieved FLOP/s of the whole retrieval, counting ``2 A N^2`` per step for the
  ``A`` states still moving (the model multiplies only those), over the FLOP/s of plain
  matmuls of exactly those shapes.  Then where the rest of the time goes: the time outside
  the matmul per step, a float32 matmul of the same shapes, and the Hebbian fields computed
  through the patterns, ``N h = (s xi^T) xi - K s`` (``4 A N K`` flops instead of ``2 A N^2``)
  in float32, which is exact while ``N K < 2^24`` because every number in it is an integer.
* Classical async (``N = 1024``, ``K = 102``, ``B = 256``): time per site visit against the
  dispatch cost of one small torch operation: a sweep is ``N`` visits, each a handful of
  small tensor operations on ``B`` rows, so the loop is bound by per-operation overhead, not
  arithmetic.
* Modern update (``N = K = B = 1024``, float64): ``4 B N K`` flops per update (two matmuls)
  over the FLOP/s of one ``(B, N) @ (N, K)`` matmul.

* Oracle (``L = 16``, ``V = 8``, ``K = 4096``, ``B = 256``): the agreement counts
  ``A_mu = #{i : x^i = xi_mu^i}`` that every denoiser call starts from, computed as the
  ``(B, K, L)`` broadcast comparison of :func:`energy.diffusion.agreements` and as a float32
  matmul of one-hot codes (exact: the counts are integers ``<= L``), against the whole call.

Diffusion training (tokens/s, model FLOP/s over a matmul) is measured by
:mod:`benchmarks.diffusion` and the oracle's cost exponent in ``K`` by
:mod:`benchmarks.scaling`; ``python -m benchmarks`` gathers them all.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.timing import flipped_queries, interleaved_best, row

__all__ = ["run"]


def _classical_sync(N: int, B: int, repeats: int) -> list[dict]:
    from models.classical import ClassicalHopfield

    K = round(0.1 * N)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)  # (K, N)
    queries, _ = flipped_queries(patterns, B, 0.1, g)  # (B, N)
    model = ClassicalHopfield(rule="hebb", update="sync").fit(patterns)
    steps = model.retrieve(queries).steps
    # Step t multiplies the states that used at least t steps (finished ones are dropped).
    active = [int((steps >= t).sum()) for t in range(1, int(steps.max()) + 1)]
    flop = 2.0 * N * N * sum(active)

    W = model.weights_  # (N, N) float64
    X = (2 * queries - 1).to(torch.float64)  # (B, N) spins
    W32, X32 = W.float(), X.float()
    xi = (2 * patterns - 1).float()  # (K, N)
    xiT = xi.T.contiguous()  # (N, K)

    def lowrank(a: int) -> torch.Tensor:
        # N h = (s . xi^mu) xi^mu summed over mu, minus the K s_i of the zeroed diagonal.
        x = X32[:a]
        return (x @ xiT) @ xi - K * x  # (a, N) integers, exact in float32 while N K < 2^24

    t = interleaved_best(
        {
            "retrieve": lambda: model.retrieve(queries),
            "matmul64": lambda: [X[:a] @ W for a in active],
            "matmul32": lambda: [X32[:a] @ W32 for a in active],
            "lowrank32": lambda: [lowrank(a) for a in active],
        },
        repeats,
    )
    exact = float((lowrank(B).double() - N * (X @ W)).abs().max())
    tag = f"N={N} K={K} B={B}"
    n_steps = len(active)
    outside = (t["retrieve"] - t["matmul64"]) / n_steps
    return [
        row(f"classical sync retrieval, {tag}, float64", B / t["retrieve"], "queries/s"),
        row(
            f"classical sync step, {tag}, float64 ({n_steps} steps, {sum(active)} row-steps)",
            flop / t["retrieve"],
            "FLOP/s",
            t["matmul64"] / t["retrieve"],
        ),
        row(f"plain torch.matmul float64, same shapes as the sync steps ({tag})", flop / t["matmul64"], "FLOP/s", 1.0),
        row(
            "classical sync: time outside the matmul, per step (ratio: share of retrieval time)",
            outside * 1e3,
            "ms/step",
            outside * n_steps / t["retrieve"],
        ),
        row(
            "plain torch.matmul float32, same shapes (ratio: speed-up over float64)",
            flop / t["matmul32"],
            "FLOP/s",
            t["matmul64"] / t["matmul32"],
        ),
        row(
            f"Hebbian fields via the patterns, (s xi^T) xi, float32, {tag} "
            "(value: dense-equivalent FLOP/s; ratio: speed-up over the float64 matmul)",
            flop / t["lowrank32"],
            "FLOP/s",
            t["matmul64"] / t["lowrank32"],
        ),
        row("Hebbian fields via the patterns: max |N h(float64 W) - N h(float32 low rank)| (must be 0)", exact, "abs"),
    ]


def _classical_async(N: int, B: int, repeats: int) -> list[dict]:
    from models.classical import ClassicalHopfield

    K = round(0.1 * N)
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (K, N), generator=g)
    queries, _ = flipped_queries(patterns, B, 0.1, g)
    model = ClassicalHopfield(rule="hebb", update="async").fit(patterns)

    def call():
        return model.retrieve(queries, generator=torch.Generator().manual_seed(1))

    sweeps = int(call().steps.max())
    v = torch.randn(B, dtype=torch.float64)
    n_ops = 1000

    def small_ops():
        for _ in range(n_ops):
            torch.sign(v)  # one dispatch of a (B,) elementwise op

    t = interleaved_best({"retrieve": call, "op": small_ops}, repeats)
    per_visit = t["retrieve"] / (sweeps * N)
    per_op = t["op"] / n_ops
    return [
        row(f"classical async retrieval, N={N} K={K} B={B}", B / t["retrieve"], "queries/s"),
        row(
            f"classical async: time per site visit ({sweeps} sweeps x {N} sites; ratio: in small-op dispatches)",
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
    """The oracle's agreement counts ``A_mu`` against the same counts as a one-hot matmul."""
    import torch.nn.functional as F

    from energy.diffusion import agreements
    from models.diffusion.oracle import Oracle

    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, V, (K, L), generator=g)  # (K, L)
    x = torch.randint(0, V, (B, L), generator=g)  # (B, L)
    codes = F.one_hot(patterns, V).flatten(1).T.float().contiguous()  # (L V, K), would be cached at fit

    def matmul() -> torch.Tensor:
        # A = onehot(x) . onehot(xi): counts <= L, exact in float32.
        return F.one_hot(x, V).flatten(1).float() @ codes  # (B, K)

    oracle = Oracle(patterns, V)
    t = interleaved_best(
        {"broadcast": lambda: agreements(x, patterns), "matmul": matmul, "denoiser": lambda: oracle(x, 0.25)},
        repeats,
    )
    exact = float((matmul().double() - agreements(x, patterns)).abs().max())
    tag = f"L={L} V={V} K={K} B={B}"
    return [
        row(f"oracle denoiser call, {tag}", t["denoiser"] * 1e3, "ms"),
        row(
            "oracle agreements as a (B, K, L) broadcast compare (ratio: share of the denoiser call)",
            t["broadcast"] * 1e3,
            "ms",
            t["broadcast"] / t["denoiser"],
        ),
        row(
            "oracle agreements as a float32 one-hot matmul (ratio: speed-up over the broadcast)",
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
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return (
            _classical_sync(N, B, repeats)
            + _classical_async(N, B_async, max(1, repeats // 2))
            + _modern(N, N, B, repeats)
            + _oracle_agreements(16, 8, 256 if quick else 4096, 64 if quick else 256, repeats)
        )
    finally:
        torch.set_num_threads(before)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: about a second")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = parser.parse_args(argv)
    for r in run(quick=args.quick, threads=args.threads):
        ratio = "" if r["ratio"] is None else f"  (ratio {r['ratio']:.3g})"
        print(f"{r['name']:100s} {r['value']:12.4g} {r['unit']}{ratio}")


if __name__ == "__main__":
    main()

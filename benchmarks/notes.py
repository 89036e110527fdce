"""The prose of the benchmark report: where the peers' semantics differ, and what limits the numbers.

Mechanisms only; the numbers that back them are measured rows of the named sections.
"""

from __future__ import annotations

__all__ = ["PEER_NOTES", "LIMIT_NOTES"]

#: Where the peers' semantics differ from ours (read from their documentation and API).
PEER_NOTES = """\
- **Weights.** All three store exactly our zero-diagonal Hebb matrix `W = (1/N) sum xi xi^T`
  on ±1 patterns (checked entry by entry: `N` is a power of two, so the sums are exact):
  `hopfieldkit` and `hopfieldnetwork` build it directly, `dhnn` stores the unnormalised
  `X^T X - K I`, which is `N W` for ±1 patterns (same dynamics, fields `N` times larger).
  For 0/1 patterns `dhnn`'s `-K I` no longer zeroes the diagonal.
- **States and threshold.** `dhnn` defaults to 0/1 states (`nflag=0`) and threshold 0.5;
  on 0/1 data `X^T X` is not the Hebbian ±1 network and retrieval from 10 % flips fails
  (row "dhnn with its defaults"). We run it with `nflag=-1, theta=0`.
- **Ties** (`h_i = 0`, possible here because `N` and `K` are even): ours keeps the current
  spin; `hopfieldkit` (`h >= 0`) and `hopfieldnetwork` (`h >= -1e-15`) set +1; `dhnn`
  (`h > theta`) sets -1. Sync trajectories therefore agree exactly except on queries whose
  path meets a tie at a -1 spin; every disagreement we found is of that kind.
- **Async order.** `hopfieldkit` and `hopfieldnetwork` sweep a fresh random permutation
  until a sweep changes nothing (like ours, different random orders); `dhnn` draws single
  sites with replacement for a fixed number of updates, with no convergence test, and from
  `randint(0, N - 1)`, so the last site is never updated: a query whose last spin is
  flipped can never be retrieved exactly, and some final states are not fixed points.
- **Sync 2-cycles.** `hopfieldnetwork` checks for a 2-cycle only every second step, so it
  may stop at the other phase of the cycle than ours; we count both phases as agreeing.
- **Batching.** `hopfieldkit` and `hopfieldnetwork` take one query per call (a Python loop
  over queries, and over sites for async); `dhnn` takes a batch but computes a `(b, b)`
  product for its diagonal at every update. They are timed on a subset of the same queries
  and their queries/s scaled from it (row names say how many).
- **Licences.** `hopfieldnetwork` is GPL-3.0: it is only called, never vendored or copied.
"""


#: What limits the numbers (mechanisms; the rows that measure each are named).
LIMIT_NOTES = """\
- **Classical sync.** Hebbian fields go through the patterns, `N h = (s xi^T) xi - K s`: two
  float32 products, `4 N K` flops per query-step instead of the `2 N^2` of a matrix-vector
  product with `W` (what `hopfieldnetwork` does per query, in float64). Every number in it is
  an integer below `2^23`, so float32 is exact, and the tolerance argument of
  `models.classical_fields.lowrank_is_exact` makes every decision that of the float64 weights
  (tests compare the two bit for bit). The step runs at the fraction of plain matmuls of the
  same shapes given in the limits section; the rest is per-step elementwise work on the
  states still moving. Per query, the arithmetic at the float32 matmul's rate is a floor,
  and the bullets below turn it into the largest speed-up over the peer this design can
  reach. Cheaper exact arithmetic exists (the `+-1` factors are exact in int8; torch's
  private `torch._int_mm`, int8 with int32 sums, ran the first product ~3x faster than
  float32 here) but is not a public API, so it is not used.
- **Classical async.** A sweep visits the `N` sites in order. The torch loop
  (`kernel="torch"`, `models.classical_loops`) runs the first sweep site by site: per visit,
  find the unstable rows, gather their spins, one outer product and two `index_add_` -- about
  8 torch calls, each a few microseconds of dispatch whatever the batch size (row "time per
  site visit", in units of one small-op dispatch), so it is capped by dispatches per visit, not
  by arithmetic. The compiled sweeps (`kernel="numba"`, the default on the CPU,
  `models.classical_numba`) make a sweep one call for the whole batch: each row walks the order
  on its own, a visit is one multiply and compare, a flip adds one row of the integer
  couplings (`N` float32 adds, vectorised) to the row's fields. What is left is arithmetic and
  memory traffic: about `0.1 N` flips per query in the first sweep, `N` adds each, with the
  `N x N` couplings read from cache (4 MB at `N = 1024`). The rows are independent, so a large
  sweep runs on as many threads as torch may use (row "2 threads"); on the shared reference
  machine, whose second core is busy with other work, that does not pay, and sweeps below
  `models.kernels.PARALLEL_MIN_WORK` always run on the calling thread.
- **Dense async.** The torch loop spends a dozen `(B, K)` tensor operations per site visit.
  The compiled sweep keeps, per row, `dn - up` (the energy change of every pattern when the
  site moves towards or away from it, exact integers for `x^n`) and decides a visit with one
  dot product of `K` numbers; a flip refreshes the `K` overlaps. `exp` reads `exp` from a
  table over the integer overlap gaps.
- **Sync step vs matmul.** Besides the two products, a step makes a few passes over the
  `(A, N)` states (sign, per-row flip counts, the new states) and gathers the rows still
  moving when some finish: memory traffic that grows like the products' output, not their
  flops, so its share is largest where `K` is small. The generic-W step (`s W` in float64,
  for non-Hebbian rules) is measured on the same loop.
- **Oracle.** Every denoiser call starts from the agreement counts `A_mu`; as a `(B, K, L)`
  broadcast comparison they were ~90 % of a call at `K = 4096`. With the one-hot codes cached
  at fit they are one float32 matmul (exact integers); the call is now dominated by the
  float64 softmax over `K` and the `(B, K) @ (K, L V)` posterior product.
- **Scaling exponents** below the arithmetic ones mean fixed per-step or per-site overhead
  still dominates at those sizes; a negative per-query-step exponent in `B` is that
  overhead being shared by more queries.
"""

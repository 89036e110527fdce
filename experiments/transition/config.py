"""The transition sweep: its configuration, presets and cells.

A :class:`Config` (flat, so that every field can be set from the command line) describes
the sweep; :func:`cells` turns it into one :class:`Cell` per (dataset, ``K``, seed), whose
data, network and evaluation settings are the sub-specs :class:`~.data.DataSpec`,
:class:`~.training.NetSpec` and :class:`EvalSpec`, built from the config's fields by name.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

from experiments.transition.data import DATASETS, DataSpec, make_patterns
from experiments.transition.sampling import SAMPLERS
from experiments.transition.training import MODEL_CHOICES, NetSpec

__all__ = [
    "NAME",
    "DATA_SEED_STRIDE",
    "Config",
    "PRESETS",
    "EvalSpec",
    "Cell",
    "cells",
    "ROWS",
    "FIGURES",
    "RUNTIME",
    "EXAMPLES",
]

NAME = "transition"
#: Seed ``s`` draws its pattern pools with ``data_seed + DATA_SEED_STRIDE * s``.
DATA_SEED_STRIDE = 1000
# What ``python -m experiments transition --help`` says besides the presets.
ROWS = (
    "per dataset x d_model x K x seed x model x kind (training / recovery / generation / entropy / entropy_t / "
    "divergence / nelbo / fixed_point) x split x t"
)
FIGURES = (
    "transition_recovery",
    "transition_entropy",
    "transition_generations",
    "transition_divergence",
    "transition_nelbo",
    "transition_fixed_points",
    "transition_entropy_t",
    "transition_crossing",
)
RUNTIME = {
    "quick": "about 9 min per seed with --backend joblib --jobs 2 on 2 CPU cores (509-540 s measured, fresh clone)",
    "text": "about 8 min with --backend joblib --jobs 2 (489 s measured)",
    "paper": "hours on CPU (not measured); minutes per cell with --device cuda",
    "sizes": "about 11 min with --backend joblib --jobs 2 given the quick run's networks (638 s measured)",
}
EXAMPLES = (
    "python -m experiments transition --preset quick --out results --backend joblib --jobs 2",
    "python -m experiments transition --preset text --out results --backend joblib --jobs 2",
    "python -m experiments transition --set Ks=4,64 --set train_steps=300 --set n_eval=128 --models diffusion,oracle",
    "python -m experiments transition --preset paper --device cuda --backend joblib --jobs 2",
    "python -m experiments transition --preset quick --set sampler=exact --out results_exact",
)


@dataclass(frozen=True)
class Config:
    """Transition sweep: datasets x training set sizes ``Ks`` x seeds, all memories per cell.

    ``N`` is the sequence length and ``V`` the alphabet size of the div4 and Markov
    languages (text has its own 40-symbol alphabet).  ``ts`` are the diffusion times at
    which queries are corrupted.  ``data_seed`` / ``test_seed`` fix the pools (div4: 42 / 41 as in the
    paper; Markov and text use ``data_seed`` only) for seed 0; every seed in ``seeds``
    draws its own pools (``data_seed + DATA_SEED_STRIDE * seed``) and seeds the network and
    the samplers, so each seed is an independent replicate of the whole experiment.
    ``checkpoint_root`` overrides where trained networks are kept (default:
    ``OUT/transition/checkpoints``).  ``d_models``, when not empty, sweeps these network
    widths instead of ``d_model`` (the ``sizes`` preset).  ``entropy_ts``, ``fixed_point_t`` and
    ``nelbo_times`` set the diagnostics of :mod:`.diagnostics` (``()``, ``None`` and 0 switch
    them off).  ``sampler`` chooses how the restores and generations draw
    (:class:`~.sampling.Engine`): ``fast`` (default) or ``exact``.
    """

    models: tuple[str, ...] = MODEL_CHOICES
    datasets: tuple[str, ...] = ("div4",)
    # docs/theory.md §7.1's sweep; 8 values cost the same wall time as 7 with two workers.
    Ks: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 1024)
    V: int = 32
    N: int = 32
    data_seed: int = 42
    test_seed: int = 41
    text_source: str = "auto"
    markov_successors: int = 2
    d_model: int = 64
    d_models: tuple[int, ...] = ()
    n_layers: int = 2
    n_heads: int = 4
    train_steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    dropout: float = 0.0
    ts: tuple[float, ...] = (0.1, 0.25, 0.5)
    dt: float = 0.01
    n_eval: int = 128  # queries per split and corruption level, and size of the test set
    n_generate: int = 128
    delta: float = 0.1
    divergence_t: float = 0.25
    # the conditional-entropy probe at x_t ~ q(x_t | x_0): one network call per split and t
    entropy_ts: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.9)
    fixed_point_t: float | None = 0.05
    nelbo_times: int = 8  # stratified times per sequence of the NELBO
    # the ancestral draws (.sampling.SAMPLERS): "fast" = fused network (bfloat16 matmuls on CPUs
    # with native bfloat16) and one uniform per token; "exact" = the memories' own samples
    sampler: str = "fast"
    seeds: tuple[int, ...] = (0,)
    checkpoint_root: str | None = None
    device: str = "cpu"


PRESETS = {
    # The CPU recipe of docs/theory.md §7.1/§7.4, 8.5-9 minutes on 2 cores with --jobs 2, with three
    # choices made within or beyond it (docs/transition.md, "Choice of the recipe"):
    # * 1500 steps, the low end of §7.1's 1500-2000, and dropout 0.1 as in the paper's DiT
    #   (docs/theory.md §6.1).  With 2000 steps and no dropout this 184 k-parameter network still
    #   memorised part of K = 128 (train - test gap 0.06-0.12 over seeds); now it memorises
    #   up to K = 16, K = 32 is intermediate and the curves meet at K = 128.
    # * 1024 queries per split instead of §7.4's 128: on one K = 128 network the gap's
    #   standard deviation over query draws is ~0.04 with 128 queries, 0.018 with 512 and
    #   ~0.008 with 2048 (the paper uses 5000).
    "quick": Config(train_steps=1500, dropout=0.1, n_eval=1024),
    # The same experiment on English sentences (character level, V = 40; the Lee corpus
    # when gensim is installed), on the recipe as §7.4 writes it: English has no rule that
    # a 185 k-parameter network learns in seconds as well as div4, so it trains the full
    # 2000 steps without dropout, and a weaker test-recovery gain is expected.
    "text": Config(datasets=("text",), Ks=(4, 8, 16, 32, 64, 128, 512, 2048)),
    # More K values, a larger network, five times the steps, the paper's dropout, three
    # seeds and both kinds of data: hours on CPU, minutes per cell on a GPU (device="cuda").
    "paper": Config(
        datasets=("div4", "text"),
        Ks=(4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024, 2048),
        d_model=128,
        n_layers=4,
        n_heads=4,
        train_steps=10_000,
        dropout=0.1,
        ts=(0.05, 0.1, 0.25, 0.5, 1.0),
        # the Lee corpus has 2441 sentences of L = 32: K = 2048 leaves room for 384 test ones
        n_eval=384,
        n_generate=512,
        entropy_ts=(0.05, 0.1, 0.25, 0.5, 1.0),
        seeds=(0, 1, 2),
    ),
    # The crossing K per network width (crossing.crossing_k): Pham et al. (2026) find that larger
    # models need more data before they stop memorising.  The quick recipe at d_model 32 and 64
    # over the K range that brackets the quick preset's crossing (K ~ 90), measuring only what the
    # crossing needs (learned recovery at t = 0.1, 512 queries per split: gap sd ~0.02 against a
    # threshold of 0.1), so that the cost is the training: 24 cells, the d_model 64 ones the quick
    # preset's networks (same checkpoint keys).  Add width 128 with --set d_models=32,64,128
    # (12 more networks, each ~3 times the training of a d_model 64 one).
    "sizes": Config(
        models=("diffusion",),
        Ks=(32, 64, 128, 256),
        train_steps=1500,
        dropout=0.1,
        ts=(0.1,),
        n_eval=512,
        n_generate=16,
        entropy_ts=(),
        fixed_point_t=None,
        nelbo_times=0,
        d_models=(32, 64),
        seeds=(0, 1, 2),
    ),
}


@dataclass(frozen=True)
class EvalSpec:
    """Evaluation settings (changing them reuses the checkpoints)."""

    ts: tuple[float, ...]
    dt: float
    n_eval: int
    n_generate: int
    delta: float
    divergence_t: float
    entropy_ts: tuple[float, ...] = ()
    fixed_point_t: float | None = None
    nelbo_times: int = 0
    sampler: str = "fast"  # as Config's; sampling.Engine itself defaults to "exact" (the audit's)


@dataclass(frozen=True)
class Cell:
    data: DataSpec
    K: int
    net: NetSpec
    seed: int
    evaluation: EvalSpec
    models: tuple[str, ...]
    checkpoint_root: str
    device: str = "cpu"


def _by_name(spec: type, config: Config):
    """The sub-spec ``spec`` of a config, every field taken from the config field of the same name."""
    return spec(**{f.name: getattr(config, f.name) for f in dataclasses.fields(spec)})


def _check(config: Config) -> None:
    unknown = [d for d in config.datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    bad = [m for m in config.models if m not in MODEL_CHOICES]
    if bad:
        raise ValueError(f"unknown model(s) {bad}; choose from {list(MODEL_CHOICES)}")
    if not config.Ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in config.Ks):
        raise ValueError(f"Ks must be a non-empty tuple of ints >= 1, got {config.Ks!r}")
    if not config.ts or any(not 0 < t <= 1 for t in config.ts):
        raise ValueError(f"ts must be diffusion times in (0, 1], got {config.ts!r}")
    times = [*config.entropy_ts, *([] if config.fixed_point_t is None else [config.fixed_point_t])]
    if any(not 0 < t <= 1 for t in times):
        raise ValueError(
            f"entropy_ts and fixed_point_t must be diffusion times in (0, 1], got {config.entropy_ts!r}, "
            f"{config.fixed_point_t!r}"
        )
    if isinstance(config.nelbo_times, bool) or not isinstance(config.nelbo_times, int) or config.nelbo_times < 0:
        raise ValueError(f"nelbo_times must be an int >= 0, got {config.nelbo_times!r}")
    if config.sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {config.sampler!r}")
    bad = [d for d in _widths(config) if isinstance(d, bool) or not isinstance(d, int) or d < 1 or d % config.n_heads]
    if bad:
        raise ValueError(f"network widths must be positive multiples of n_heads={config.n_heads}, got {bad}")


def _widths(config: Config) -> tuple[int, ...]:
    """The network widths of the sweep: ``d_models``, or ``d_model`` alone."""
    return tuple(config.d_models) or (config.d_model,)


def cells(config: Config, out: str | Path | None = None) -> list[Cell]:
    """One cell per (dataset, network width, ``K``, seed), ascending ``K``.

    Parameters
    ----------
    config : Config
    out : path, optional
        Output root of the run: checkpoints go to ``out/transition/checkpoints`` unless
        ``config.checkpoint_root`` is set; without either, ``results/transition/checkpoints``
        (the CLI's default ``--out``).
    """
    _check(config)
    if config.checkpoint_root is not None:
        root = str(config.checkpoint_root)
    else:
        root = str(Path(out if out is not None else "results") / NAME / "checkpoints")
    net = _by_name(NetSpec, config)
    ev = dataclasses.replace(
        _by_name(EvalSpec, config),
        ts=tuple(float(t) for t in config.ts),
        entropy_ts=tuple(float(t) for t in config.entropy_ts),
    )
    out_cells = []
    for name in config.datasets:
        for s in config.seeds:
            # A seed is a whole replicate: the pattern pools are drawn anew with the network.
            # Seed 0 keeps the paper's pools (div4: 42 / 41); the stride keeps the train and
            # test pools of different seeds apart.
            data = DataSpec(
                name=name,
                V=config.V,
                N=config.N,
                seed=config.data_seed + DATA_SEED_STRIDE * s,
                test_seed=config.test_seed + DATA_SEED_STRIDE * s,
                n_test=config.n_eval,
                source=config.text_source,
                n_successors=config.markov_successors,
            )
            make_patterns(data, max(config.Ks))  # a pool too small for the largest K fails now, not after hours
            for d_model, K in itertools.product(_widths(config), sorted(config.Ks)):
                cell = Cell(
                    data=data,
                    K=K,
                    net=dataclasses.replace(net, d_model=d_model),
                    seed=s,
                    evaluation=ev,
                    models=tuple(config.models),
                    checkpoint_root=root,
                )
                out_cells.append(dataclasses.replace(cell, device=config.device))
    # ascending K across seeds (and widths), so that a progress bar fills evenly and small K finish first
    out_cells.sort(key=lambda c: (c.data.name, c.K, c.net.d_model, c.seed))
    return out_cells

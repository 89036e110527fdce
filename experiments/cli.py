"""Command line: ``python -m experiments <experiment|plot|reproduce|demo> ...``.

An experiment module (``experiments/<name>.py``) provides

* ``Config``: a frozen dataclass with at least ``seeds: tuple[int, ...]`` and
  ``models: tuple[str, ...]``;
* ``PRESETS``: ``{"quick": Config(...), "paper": Config(...)}``;
* ``cells(config) -> list`` of frozen dataclass cells;
* ``run_cell(cell) -> list[dict]``: pure, module level;
* ``plot(results, run_info) -> dict[str, Figure]``: reads only the results table and
  the ``run.json`` record;
* optionally ``summary(results) -> str``: a short text printed after the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import sys
import time
from pathlib import Path
from types import ModuleType

from experiments.runner import BACKENDS, read_results, run_sweep

__all__ = ["EXPERIMENTS", "DEMOS", "main", "run_experiment", "plot_experiment", "load_experiment"]

#: Experiment name -> module. ``reproduce`` runs them in this order.
EXPERIMENTS: dict[str, str] = {
    "capacity": "experiments.capacity",
    "basins": "experiments.basins",
    "spurious": "experiments.spurious",
    "scaling": "experiments.scaling",
    "transition": "experiments.transition",
}

#: Demo name -> module with ``run(out_dir, seed) -> list[Path]``.
DEMOS: dict[str, str] = {
    "letters": "experiments.demos",
    "digits": "experiments.demos",
    "beta": "experiments.demos",
    "diffusion": "experiments.demos",
}


def _available(registry: dict[str, str]) -> dict[str, str]:
    """Entries whose module can be found (experiments land one issue at a time)."""
    from importlib.util import find_spec

    return {k: v for k, v in registry.items() if find_spec(v) is not None}


def load_experiment(name: str) -> ModuleType:
    """Import the experiment module registered as ``name``."""
    avail = _available(EXPERIMENTS)
    if name not in avail:
        raise ValueError(f"unknown experiment {name!r}; available: {sorted(avail)}")
    return importlib.import_module(avail[name])


def resolve_config(
    module: ModuleType, preset: str, *, seeds: list[int] | None = None, models: list[str] | None = None
):
    """The preset config with command-line overrides applied."""
    if preset not in module.PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(module.PRESETS)}")
    config = module.PRESETS[preset]
    changes = {}
    if seeds is not None:
        if not seeds or len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
            raise ValueError(f"seeds must be distinct non-negative integers, got {list(seeds)}")
        changes["seeds"] = tuple(seeds)
    if models:
        allowed = set(getattr(module, "MODEL_CHOICES", ())) or None
        unknown = [m for m in models if allowed is not None and m not in allowed]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown} for this experiment; choose from {sorted(allowed)}")
        changes["models"] = tuple(models)
    return dataclasses.replace(config, **changes) if changes else config


def plot_experiment(out_dir: Path | str, name: str) -> list[Path]:
    """Rebuild the figures of one experiment from ``OUT/<name>/results.parquet``."""
    from experiments.figures import save_figure, set_style

    module = load_experiment(name)
    results = read_results(out_dir, name)
    run_json = Path(out_dir) / name / "run.json"
    run_info = json.loads(run_json.read_text()) if run_json.exists() else {}
    set_style()
    paths: list[Path] = []
    for fig_name, fig in module.plot(results, run_info).items():
        paths += save_figure(fig, Path(out_dir) / name / "figures" / fig_name)
    return paths


def run_experiment(
    name: str,
    *,
    preset: str = "quick",
    out: Path | str = "results",
    backend: str = "serial",
    jobs: int = 1,
    seeds: list[int] | None = None,
    models: list[str] | None = None,
    progress: bool | None = None,
    figures: bool = True,
):
    """Run (or resume) one experiment, write its table, provenance and figures."""
    module = load_experiment(name)
    config = resolve_config(module, preset, seeds=seeds, models=models)
    # Experiments that keep artefacts beside their results (trained checkpoints) take ``out``.
    takes_out = "out" in inspect.signature(module.cells).parameters
    cells = module.cells(config, out=out) if takes_out else module.cells(config)
    results = run_sweep(
        name,
        cells,
        module.run_cell,
        out,
        config={"preset": preset, **dataclasses.asdict(config)},
        backend=backend,
        jobs=jobs,
        progress=progress,
    )
    paths = plot_experiment(out, name) if figures else []
    if hasattr(module, "summary"):
        print(module.summary(results))
    return results, paths


# -- argument parsing --------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]`` (argparse type of ``--seeds``)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2, got {text!r}") from None


def _preset_names(name: str | None) -> tuple[str, ...]:
    """Preset names of one experiment (or of all, for ``reproduce``), quick and paper first."""
    names = ["quick", "paper"]
    for exp in [name] if name else list(_available(EXPERIMENTS)):
        try:
            names += [p for p in load_experiment(exp).PRESETS if p not in names]
        except (ValueError, ImportError):
            pass
    return tuple(names)


def _add_run_options(p: argparse.ArgumentParser, name: str | None = None) -> None:
    presets = _preset_names(name)
    extra = [x for x in presets if x not in ("quick", "paper")]
    p.add_argument(
        "--preset",
        choices=presets,
        default="quick",
        help="quick: minutes on 2 CPU cores (used by the tests and the README); paper: the full figure"
        + (f"; also: {', '.join(extra)} (see the experiment's PRESETS)" if extra else ""),
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="output root; results go to OUT/<experiment>/")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="serial: in this process; joblib: local worker processes (one torch thread each); "
        "submitit: SLURM job array (runs local subprocesses where no cluster is found)",
    )
    p.add_argument("--jobs", type=int, default=1, help="parallel workers for joblib / SLURM array parallelism")
    p.add_argument(
        "--seeds",
        type=_int_list,
        default=None,
        help="comma-separated seeds, e.g. 0,1,2 (each a full replicate: new patterns, queries and runs); "
        "summaries and figures show the mean and spread over them",
    )
    p.add_argument(
        "--models",
        type=lambda s: [m for m in s.split(",") if m],
        default=None,
        help="comma-separated subset of the experiment's models, e.g. classical-hebb,modern",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-figures", action="store_true", help="write the table only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Associative-memory testbed: run experiments on identical pattern sets, "
        "rebuild figures from results files, or run teaching demos. Rerunning a command "
        "skips the cells it already finished.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _available(EXPERIMENTS):
        p = sub.add_parser(name, help=f"run the {name} experiment")
        _add_run_options(p, name)
    p = sub.add_parser("reproduce", help="run every experiment and write all figures")
    _add_run_options(p)
    p = sub.add_parser("plot", help="rebuild all figures from the results files under DIR")
    p.add_argument("dir", type=Path, help="an --out directory of earlier runs")
    p = sub.add_parser("demo", help="teaching demos: a PNG gallery and an animation per demo")
    p.add_argument("name", choices=sorted(DEMOS), help="which demo")
    p.add_argument("--out", type=Path, default=Path("results/demos"), help="output directory")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        found = [n for n in _available(EXPERIMENTS) if (args.dir / n / "results.parquet").exists()]
        if not found:
            print(f"no results.parquet under {args.dir}/<experiment>/", file=sys.stderr)
            return 2
        for name in found:
            for path in plot_experiment(args.dir, name):
                print(path)
        return 0
    if args.command == "demo":
        module = importlib.import_module(DEMOS[args.name])
        for path in module.run(args.name, args.out, seed=args.seed):
            print(path)
        return 0
    if args.jobs < 1:
        print("--jobs must be >= 1", file=sys.stderr)
        return 2
    names = list(_available(EXPERIMENTS)) if args.command == "reproduce" else [args.command]
    progress = False if args.no_progress else None
    for name in names:
        if args.command == "reproduce" and args.preset not in load_experiment(name).PRESETS:
            print(f"== {name}: no preset {args.preset!r}, skipped", flush=True)
            continue
        start = time.time()
        print(f"== {name} ({args.preset}) -> {args.out / name}", flush=True)
        try:
            _, paths = run_experiment(
                name,
                preset=args.preset,
                out=args.out,
                backend=args.backend,
                jobs=args.jobs,
                seeds=args.seeds,
                models=args.models if args.command != "reproduce" else None,
                progress=progress,
                figures=not args.no_figures,
            )
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in paths:
            print(f"   figure: {path}")
        print(f"   done in {time.time() - start:.1f} s", flush=True)
    return 0

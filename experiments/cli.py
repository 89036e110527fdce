"""Command line: ``python -m experiments <study|reproduce|plot|demo> ...``.

A study module (``experiments/<name>.py`` or a package) provides

* ``Config``: a frozen dataclass with at least ``seeds``, ``models`` and ``device``, every
  field settable with ``--set FIELD=VALUE`` (typed from its annotation);
* ``PRESETS``: ``{"quick": Config(...), "paper": Config(...), ...}``;
* ``cells(config) -> list`` of frozen dataclass cells (optionally ``cells(config, out=...)``);
* ``run_cell(cell) -> list[dict]``: pure, module level;
* ``plot(results, run_info) -> dict[str, Figure]``: reads only the results table and
  the ``run.json`` record;
* optionally ``summary(results) -> str``, printed after the run;
* for ``--help``: ``MODEL_CHOICES``, ``ROWS`` (what a table row is), ``FIGURES``,
  ``RUNTIME`` (preset -> measured run time) and ``EXAMPLES`` (command lines).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import demos
from experiments.demos.pretrained import PRETRAINED, pretrain
from experiments.figures import save_figure, set_style
from experiments.overrides import apply_overrides, describe, differences, format_value
from experiments.registry import EXPERIMENTS
from experiments.report import write_report
from experiments.runner import BACKENDS, read_results, run_sweep

__all__ = ["EXPERIMENTS", "DEMOS", "main", "build_parser", "run_experiment", "plot_experiment", "load_experiment"]


#: Demo name -> what it shows (the functions live in :mod:`experiments.demos`).
DEMOS: dict[str, str] = {
    "letters": "retrieval, overload, reversed and mixture states of letters in Hopfield nets",
    "digits": "correlated patterns break the classical net early; modern net and oracle do not",
    "beta": "the modern net's inverse temperature: global average -> metastable -> single pattern",
    "diffusion": "a text diffusion memory memorises 4 sentences, generalises from 2000",
}


def _available(registry: dict[str, str]) -> dict[str, str]:
    """Entries whose module can be found (studies are added one at a time)."""
    return {k: v for k, v in registry.items() if find_spec(v) is not None}


def load_experiment(name: str) -> ModuleType:
    """Import the study module registered as ``name``."""
    avail = _available(EXPERIMENTS)
    if name not in avail:
        raise ValueError(f"unknown experiment {name!r}; available: {sorted(avail)}")
    return importlib.import_module(avail[name])


def resolve_config(
    module: ModuleType,
    preset: str,
    *,
    seeds: list[int] | None = None,
    models: list[str] | None = None,
    overrides: list[str] | None = None,
    device: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The preset config with command-line changes applied, and the changes by field.

    ``--set`` assignments apply first, then ``--seeds``, ``--models`` and ``--device``.
    """
    if preset not in module.PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(module.PRESETS)}")
    config, changes = apply_overrides(module.PRESETS[preset], list(overrides or []))
    if seeds is not None:
        changes["seeds"] = tuple(seeds)
    if models is not None:
        if not models:
            raise ValueError("--models is empty: name at least one model, or leave the option out for the preset's")
        changes["models"] = tuple(models)
    if device is not None:
        changes["device"] = device
    config = dataclasses.replace(config, **changes) if changes else config
    if not config.seeds or len(set(config.seeds)) != len(config.seeds) or any(s < 0 for s in config.seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {list(config.seeds)}")
    allowed = set(getattr(module, "MODEL_CHOICES", ())) or None
    unknown = [m for m in config.models if allowed is not None and m not in allowed]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown} for this experiment; choose from {', '.join(sorted(allowed))}")
    return config, changes


def plot_experiment(out_dir: Path | str, name: str) -> list[Path]:
    """Rebuild the figures of one study from ``OUT/<name>/results.parquet``."""
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
    overrides: list[str] | None = None,
    device: str | None = None,
    progress: bool | None = None,
    figures: bool = True,
    overwrite: bool = False,
):
    """Run (or resume) one study, write its table, provenance (with the overrides) and figures.

    ``overwrite=True`` replaces results of another configuration in ``out`` (otherwise refused).
    """
    module = load_experiment(name)
    config, changes = resolve_config(module, preset, seeds=seeds, models=models, overrides=overrides, device=device)
    # Studies that keep artefacts beside their results (trained checkpoints) take ``out``.
    takes_out = "out" in inspect.signature(module.cells).parameters
    cells = module.cells(config, out=out) if takes_out else module.cells(config)
    record = {"preset": preset, "overrides": changes, **dataclasses.asdict(config)}
    results = run_sweep(
        name,
        cells,
        module.run_cell,
        out,
        config=record,
        backend=backend,
        jobs=jobs,
        progress=progress,
        device=getattr(config, "device", "cpu"),
        overwrite=overwrite,
    )
    paths = plot_experiment(out, name) if figures else []
    if hasattr(module, "summary"):
        print(module.summary(results))
    return results, paths


# -- help ---------------------------------------------------------------------------------


def _study_epilog(module: ModuleType) -> str:
    """What ``python -m experiments <study> --help`` shows below the options."""
    # NAME, ROWS, FIGURES, RUNTIME, MODEL_CHOICES and EXAMPLES document the built-in studies;
    # a user's own sweep module (docs/extending.md) may leave any of them out.
    name = getattr(module, "NAME", module.__name__.rsplit(".", 1)[-1])
    doc = inspect.getdoc(module) or ""
    lines = [doc.split("\n\n")[0], ""] + doc.split("\n\n", 1)[1:2]
    lines += ["", "Writes:"]
    rows = getattr(module, "ROWS", "per cell and condition")
    lines.append(f"  OUT/{name}/results.parquet  one row {rows}; columns: docs/results.md")
    lines.append(f"  OUT/{name}/run.json         resolved config, its overrides, versions, git commit, device")
    figures = ", ".join(f"{f}.png|pdf" for f in getattr(module, "FIGURES", ()))
    lines.append(f"  OUT/{name}/figures/         {figures or 'whatever plot() returns'}")
    if hasattr(module, "RUNTIME"):
        lines += ["", "Run time (measured; rerunning skips finished cells):"]
        lines += [f"  {preset:8s} {text}" for preset, text in module.RUNTIME.items()]
    if hasattr(module, "MODEL_CHOICES"):
        lines += ["", "Models (--models A,B or --set models=A,B):", "  " + ", ".join(module.MODEL_CHOICES)]
    quick = module.PRESETS["quick"]
    lines += ["", "Preset quick (the defaults; change any field with --set FIELD=VALUE, tuples as comma lists):"]
    lines += [f"  {line}" for line in describe(quick)]
    for preset, config in module.PRESETS.items():
        if preset != "quick":
            changed = differences(config, quick)
            lines += ["", f"Preset {preset} (differs from quick in):"]
            lines += [f"  {field} = {format_value(value)}" for field, value in changed.items()]
    lines += ["", "Examples:"] + [f"  {example}" for example in getattr(module, "EXAMPLES", ())]
    return "\n".join(lines)


def _demo_epilog() -> str:
    lines = ["Demos (each under a minute on 2 CPU cores; writes OUT/<demo>.png and OUT/<demo>.gif):"]
    lines += [f"  {name:10s} {text}" for name, text in DEMOS.items()]
    lines += ["", "Examples:", "  python -m experiments demo letters --out results/demos"]
    lines += ["  python -m experiments demo diffusion --out results/demos --seed 1"]
    return "\n".join(lines)


# -- argument parsing -----------------------------------------------------------------------


def _path(text: str) -> Path:
    """A non-empty path (argparse type): an empty ``--out ''`` would silently mean the working directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty string")
    return Path(text)


def _int_list(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]`` (argparse type of ``--seeds``)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2, got {text!r}") from None


def _all_presets() -> list[str]:
    """Preset names of every study, quick and paper first (the choices of ``reproduce``)."""
    names = ["quick", "paper"]
    for name in _available(EXPERIMENTS):
        names += [p for p in load_experiment(name).PRESETS if p not in names]
    return names


def _add_run_options(p: argparse.ArgumentParser, module: ModuleType | None) -> None:
    presets = list(module.PRESETS) if module is not None else _all_presets()
    p.add_argument("--preset", choices=presets, default="quick", help="the preset to start from (default quick)")
    if module is not None:
        p.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="change one field of the preset (repeatable), e.g. --set N=64 --set loads=0.05,0.1",
        )
        p.add_argument(
            "--models",
            type=lambda s: [m for m in s.split(",") if m],
            default=None,
            help="comma-separated subset of the models listed below, e.g. "
            + ",".join(getattr(module, "MODEL_CHOICES", ("A", "B"))[:2]),
        )
    p.add_argument("--seeds", type=_int_list, default=None, help="comma-separated seeds, e.g. 0,1,2 (each a replicate)")
    p.add_argument(
        "--device", default=None, help="torch device of the models, e.g. cpu or cuda (default: the preset's)"
    )
    p.add_argument("--out", type=_path, default=Path("results"), help="output root; results go to OUT/<study>/")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="serial: in this process; joblib: local worker processes (one torch thread each); "
        "submitit: SLURM job array (local subprocesses where no cluster is found)",
    )
    p.add_argument("--jobs", type=int, default=1, help="parallel workers for joblib / SLURM array parallelism")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-figures", action="store_true", help="write the table only")
    p.add_argument("--overwrite", action="store_true", help="replace results of another configuration in OUT")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Associative-memory testbed: run studies on identical pattern sets, rebuild figures from "
        "results files, or run teaching demos. Rerunning a command skips the cells it already finished. "
        "Column names of every table: docs/results.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter
    for name in _available(EXPERIMENTS):
        module = load_experiment(name)
        summary = (inspect.getdoc(module) or name).split("\n")[0]
        p = sub.add_parser(name, help=summary, description=summary, epilog=_study_epilog(module), formatter_class=raw)
        _add_run_options(p, module)
    p = sub.add_parser("reproduce", help="run every study at one preset and write all figures")
    _add_run_options(p, None)
    p = sub.add_parser("report", help="write DIR/report.html: every study's figures, key numbers and verdicts")
    p.add_argument("dir", type=_path, help="an --out directory of earlier runs")
    p = sub.add_parser("plot", help="rebuild all figures from the results files under DIR")
    p.add_argument("dir", type=_path, help="an --out directory of earlier runs")
    p = sub.add_parser("demo", help="teaching demos: a PNG gallery and an animation per demo", epilog=_demo_epilog())
    p.formatter_class = raw
    p.add_argument("name", choices=list(DEMOS), help="which demo")
    p.add_argument("--out", type=_path, default=None, help="output directory (default results/demos)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--pretrain",
        action="store_true",
        help="diffusion only: train the shipped 2000-sentence network from scratch (20-40 min on one core) and "
        "export it to --out (default: the package's demos/weights/text_diffusion_L24)",
    )
    p.add_argument("--checkpoint", type=Path, default=None, help="with --pretrain: resumable training directory")
    return parser


# -- commands -------------------------------------------------------------------------------


def _plot(args: argparse.Namespace) -> int:
    found = [n for n in _available(EXPERIMENTS) if (args.dir / n / "results.parquet").exists()]
    if not found:
        print(f"no results.parquet under {args.dir}/<experiment>/", file=sys.stderr)
        return 2
    for name in found:
        try:
            paths = plot_experiment(args.dir, name)
        except ValueError as err:  # a damaged table (pyarrow's ArrowInvalid is a ValueError) or run.json
            print(f"error: {args.dir / name}: {err}", file=sys.stderr)
            return 2
        for path in paths:
            print(path)
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.pretrain:
        if args.name != "diffusion":
            print("--pretrain applies to the diffusion demo only", file=sys.stderr)
            return 2
        start = time.time()
        pretrain(args.out or PRETRAINED, checkpoint=args.checkpoint)
        print(f"done in {time.time() - start:.0f} s")
        return 0
    for path in demos.run(args.name, args.out or Path("results/demos"), seed=args.seed):
        print(path)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("--jobs must be >= 1", file=sys.stderr)
        return 2
    reproduce = args.command == "reproduce"
    names = list(_available(EXPERIMENTS)) if reproduce else [args.command]
    for name in names:
        if reproduce and args.preset not in load_experiment(name).PRESETS:
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
                models=None if reproduce else args.models,
                overrides=None if reproduce else args.overrides,
                device=args.device,
                progress=False if args.no_progress else None,
                figures=not args.no_figures,
                overwrite=args.overwrite,
            )
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in paths:
            print(f"   figure: {path}")
        print(f"   done in {time.time() - start:.1f} s", flush=True)
    if reproduce:
        return _report(argparse.Namespace(dir=args.out))
    return 0


def _report(args: argparse.Namespace) -> int:
    try:
        print(f"== report -> {write_report(args.dir)}", flush=True)
    except (FileNotFoundError, ValueError) as err:  # nothing to report, or a damaged table
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {"plot": _plot, "report": _report, "demo": _demo}.get(args.command, _run)
    try:
        return command(args)
    except OSError as err:  # an unwritable --out, a file where a folder belongs, a full disk, ...
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 2

"""The command line: presets per experiment, errors, plot from results alone."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli


def test_help_lists_experiment_specific_presets(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["transition", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "text" in out and "--backend" in out and "--jobs" in out


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["capacity", "--out", str(tmp_path), "--models", "no-such-model", "--no-progress"])
    assert code == 2
    assert "no-such-model" in capsys.readouterr().err


def test_plot_without_results_says_so(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "results.parquet" in capsys.readouterr().err


def test_reproduce_skips_experiments_without_the_preset(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "run_experiment", lambda name, **kw: calls.append((name, kw["preset"])) or (None, []))
    monkeypatch.setattr(cli, "write_report", lambda out: Path(out) / "report.html")
    assert cli.main(["reproduce", "--preset", "text", "--out", str(tmp_path)]) == 0
    assert calls == [("transition", "text")]
    out = capsys.readouterr().out
    assert "capacity: no preset 'text', skipped" in out
    assert f"== report -> {tmp_path / 'report.html'}" in out  # reproduce ends with the report


def test_report_command_writes_the_page_or_says_why_not(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2  # nothing to report
    assert "error:" in capsys.readouterr().err


# -- --set, --device, help and the examples it gives ------------------------------------------

REPO = Path(__file__).resolve().parents[2]
STUDIES = ("capacity", "basins", "spurious", "transition")
COMMAND = re.compile(r"python -m experiments((?: +[^\s#&|`)]+)+)")


def test_set_is_typed_from_the_annotations():
    from experiments import capacity, transition

    config, changes = cli.resolve_config(
        capacity, "quick", overrides=["N=64", "flip=0.2", "loads=0.05,0.1", "loads_high=", "seeds=3,4"]
    )
    assert (config.N, config.flip, config.loads, config.loads_high, config.seeds) == (64, 0.2, (0.05, 0.1), (), (3, 4))
    assert changes == {"N": 64, "flip": 0.2, "loads": (0.05, 0.1), "loads_high": (), "seeds": (3, 4)}
    assert isinstance(config.N, int) and isinstance(config.loads[0], float)
    config, _ = cli.resolve_config(transition, "quick", overrides=["checkpoint_root=none", "Ks=4,8"], device="cuda")
    assert config.checkpoint_root is None and config.Ks == (4, 8) and config.device == "cuda"
    # later assignments win; --seeds / --models apply after --set
    config, changes = cli.resolve_config(capacity, "quick", overrides=["N=10", "N=20", "seeds=1"], seeds=[5])
    assert config.N == 20 and config.seeds == (5,) and changes["seeds"] == (5,)


@pytest.mark.parametrize(
    ("assignment", "match"),
    [
        ("NN=3", "capacity has no field 'NN'; valid fields: models, N, loads"),
        ("N=abc", "N expects int"),
        ("loads=0.1,x", "loads expects comma list of float"),
        ("N", "expects FIELD=VALUE"),
        ("models=classical-hebb,modern", "unknown model"),
        ("seeds=1,1", "distinct"),
    ],
)
def test_bad_set_is_a_clear_error(assignment, match, capsys):
    from experiments import capacity

    with pytest.raises(ValueError, match=match):
        cli.resolve_config(capacity, "quick", overrides=[assignment])
    assert cli.main(["capacity", "--set", assignment, "--no-progress"]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", STUDIES)
def test_study_help_teaches(name, capsys):
    module = cli.load_experiment(name)
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    out = capsys.readouterr().out
    assert (module.__doc__ or "").split("\n")[0] in out  # what it measures
    assert f"OUT/{name}/results.parquet" in out and "run.json" in out  # what it writes
    assert all(f"{f}.png" in out for f in module.FIGURES)
    assert all(m in out for m in module.MODEL_CHOICES)  # valid model names
    assert all(f"Preset {p}" in out for p in module.PRESETS)  # every preset's contents
    assert "N = " in out and "seeds = " in out and "device = " in out  # the defaults
    assert all(text in out for text in module.RUNTIME.values())  # expected run time
    assert len(module.EXAMPLES) >= 2 and all(example in out for example in module.EXAMPLES)


def _examples() -> list[str]:
    """Every command line of the studies' help and of the README."""
    found = [e for name in STUDIES for e in cli.load_experiment(name).EXAMPLES]
    for text in ((REPO / "README.md").read_text(), cli._demo_epilog()):
        found += ["python -m experiments" + m.group(1) for m in COMMAND.finditer(text)]
    return sorted({e for e in found if "<" not in e})  # "<study|...>" is a template, not an example


def test_the_readme_and_help_have_examples():
    examples = _examples()
    assert len(examples) >= 15
    assert any(" capacity " in e and "--set N=64" in e for e in examples)
    assert any(" demo " in e for e in examples) and any(e.endswith(" plot results") for e in examples)


@pytest.mark.parametrize("example", _examples())
def test_every_example_parses_and_resolves(example):
    argv = shlex.split(example)[3:]
    if "--help" in argv:
        with pytest.raises(SystemExit) as exc:
            cli.build_parser().parse_args(argv)
        assert exc.value.code == 0
        return
    args = cli.build_parser().parse_args(argv)  # exits (and fails the test) on a rejected option
    if args.command in STUDIES:
        module = cli.load_experiment(args.command)
        config, _ = cli.resolve_config(
            module, args.preset, seeds=args.seeds, models=args.models, overrides=args.overrides, device=args.device
        )
        if args.command != "transition":  # transition.cells checks its data pools, which needs the text corpus
            assert module.cells(config)


def test_the_documented_capacity_override_runs_and_is_recorded(tmp_path):
    example = "python -m experiments capacity --preset quick --set N=64 --set flip=0.2 --device cpu"
    tiny = ["--set", "loads=0.05", "--set", "loads_high=", "--models", "classical-hebb", "--seeds", "0"]
    argv = shlex.split(example)[3:] + tiny + ["--out", str(tmp_path), "--no-progress", "--no-figures"]
    assert cli.main(argv) == 0
    info = json.loads((tmp_path / "capacity" / "run.json").read_text())
    assert info["config"]["overrides"] == {"N": 64, "flip": 0.2, "loads": [0.05], "loads_high": [], "seeds": [0]} | {
        "models": ["classical-hebb"],
        "device": "cpu",
    }
    assert info["config"]["N"] == 64 and info["config"]["preset"] == "quick" and info["device"] == "cpu"
    table = pd.read_parquet(tmp_path / "capacity" / "results.parquet")
    assert table["N"].eq(64).all() and table["flip"].eq(0.2).all() and len(table) == 1


def test_reproduce_takes_no_per_study_fields(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--set", "N=64"])
    assert exc.value.code == 2


def test_empty_or_bad_paths_and_damaged_tables_are_one_line_errors(tmp_path, capsys):
    # An empty model list, an empty --out, a file where the output folder belongs and a damaged
    # results table each end in one line naming the problem and exit status 2, no traceback.
    tiny = ["--set", "N=16", "--set", "loads=0.05", "--set", "n_starts=4", "--no-figures", "--no-progress"]
    assert cli.main(["spurious", "--models", "", "--out", str(tmp_path / "a"), *tiny]) == 2
    assert "--models is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["spurious", "--out", "", *tiny])
    assert exit_info.value.code == 2 and "empty string" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["spurious", "--out", str(blocker), *tiny]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(blocker) in err and "Traceback" not in err
    damaged = tmp_path / "damaged" / "spurious"
    damaged.mkdir(parents=True)
    (damaged / "results.parquet").write_text("garbage")
    for command in ("plot", "report"):
        assert cli.main([command, str(tmp_path / "damaged")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "results.parquet" in err

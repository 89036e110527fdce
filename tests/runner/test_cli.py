"""The command line: presets per experiment, errors, plot from results alone."""

from __future__ import annotations

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
    assert cli.main(["reproduce", "--preset", "text", "--out", str(tmp_path)]) == 0
    assert calls == [("transition", "text")]
    assert "capacity: no preset 'text', skipped" in capsys.readouterr().out

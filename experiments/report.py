"""Results report: one self-contained HTML page per output directory.

``python -m experiments.report OUT`` (or :func:`write_report`) gathers, for every study
found as ``OUT/<experiment>/results.parquet``:

* its acceptance checks (an experiment module's ``acceptance(results)``) as a pass/fail table;
* its key numbers, one value per seed reduced to mean +- standard deviation over seeds
  (:data:`KEY_TABLES`), and the module's text ``summary(results)``, which is also saved
  beside the table as ``OUT/<experiment>/summary.txt``;
* its figures (``OUT/<experiment>/figures/*.png``), embedded as base64 data URIs;
* its columns, and the provenance of the run (``run.json``: command, the last one of its
  ``history`` when the record keeps no other, config, versions, commit, wall time);

then the column glossary of ``docs/results.md`` when the repository has one. The page
needs no network and no JavaScript: ``OUT/report.html`` opens as a file in any browser.
"""

from __future__ import annotations

import base64
import html
import importlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from experiments.registry import EXPERIMENTS
from experiments.runner import atomic_write_bytes
from experiments.style import MARK_COLOURS

__all__ = ["KeyTable", "KEY_TABLES", "find_studies", "seed_spread", "write_report", "main"]

GLOSSARY = Path(__file__).resolve().parent.parent / "docs/results.md"
PASS_COLOUR, FAIL_COLOUR = MARK_COLOURS["pass"], MARK_COLOURS["fail"]


@dataclass(frozen=True)
class KeyTable:
    """A module function ``results -> DataFrame`` whose ``values`` per ``keys`` are the key numbers.

    ``values=None`` takes every numeric, non-boolean column that is not a key.
    """

    function: str
    keys: tuple[str, ...]
    values: tuple[str, ...] | None = None


#: Experiment -> its key numbers. Each is computed on every seed alone, then reduced over seeds.
KEY_TABLES: dict[str, KeyTable] = {
    "capacity": KeyTable("capacity_estimates", ("model",), ("capacity_load", "capacity_load_exact")),
    "basins": KeyTable("critical_radii", ("dataset", "load", "split", "model"), ("critical_radius", "recovery_radius")),
    "spurious": KeyTable("shares", ("model", "start", "load")),
    "transition": KeyTable("key_numbers", ("dataset", "K", "model")),
    "audit": KeyTable("key_numbers", ("regime", "K", "model")),
}


def find_studies(out_dir: Path | str) -> list[str]:
    """Names of the studies under ``out_dir``: registered experiments first, in run order."""
    found = sorted(p.parent.name for p in Path(out_dir).glob("*/results.parquet"))
    return [n for n in EXPERIMENTS if n in found] + [n for n in found if n not in EXPERIMENTS]


def _load_module(name: str) -> tuple[ModuleType | None, str | None]:
    """The experiment module registered as ``name`` (or None with the reason)."""
    if name not in EXPERIMENTS:
        return None, f"{name!r} is not a registered experiment (experiments/registry.py EXPERIMENTS)"
    try:
        return importlib.import_module(EXPERIMENTS[name]), None
    except ImportError as err:
        return None, f"cannot import {EXPERIMENTS[name]}: {err}"


def seed_spread(results: pd.DataFrame, module: ModuleType, spec: KeyTable) -> tuple[pd.DataFrame, list]:
    """Key numbers per seed, reduced to mean, standard deviation and count over seeds.

    Returns
    -------
    table : DataFrame
        Index ``spec.keys``; columns ``(value, stat)`` with ``stat`` in ``mean, std, n``.
    seeds : list
        The seeds found (``[None]`` when the table has no ``seed`` column).
    """
    fn = getattr(module, spec.function)
    seeds = sorted(results["seed"].unique().tolist()) if "seed" in results else [None]
    per_seed = []
    for s in seeds:
        t = fn(results if s is None else results[results["seed"] == s])
        if set(t.index.names) & set(spec.keys):
            t = t.reset_index()
        values = list(spec.values or [])
        if not values:
            values = [
                c
                for c in t.columns
                if c not in spec.keys and pd.api.types.is_numeric_dtype(t[c]) and not pd.api.types.is_bool_dtype(t[c])
            ]
        per_seed.append(t.groupby(list(spec.keys), sort=False)[values].mean())
    stacked = pd.concat(per_seed, keys=range(len(per_seed)), names=["_seed"])
    table = stacked.groupby(level=list(spec.keys), sort=False).agg(["mean", "std", "count"])
    return table.rename(columns={"count": "n"}, level=1), seeds


def _format_spread(table: pd.DataFrame, n_seeds: int) -> pd.DataFrame:
    """``mean +- std`` strings; ``(n=k)`` where only ``k < n_seeds`` seeds gave a value."""

    def cell(mean, std, n):
        if n == 0 or np.isnan(mean):
            return "–"
        text = f"{mean:.3g}" if n_seeds == 1 else f"{mean:.3g} ± {0.0 if np.isnan(std) else std:.2g}"
        return text + (f" (n={int(n)})" if n_seeds > 1 and n < n_seeds else "")

    values = list(dict.fromkeys(table.columns.get_level_values(0)))
    cols = {v: [cell(*row) for row in table[v][["mean", "std", "n"]].to_numpy()] for v in values}
    return pd.DataFrame(cols, index=table.index)


# -- HTML pieces ----------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1.5em; color: #1b1b1b; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta, figcaption, .note { color: #555555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
th, td { border: 1px solid #d6d6d6; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
tr.pass { background: PASS22; } tr.fail { background: FAIL22; } td.verdict { font-weight: bold; }
tr.pass td.verdict, .badge.pass { background: PASS; } tr.fail td.verdict, .badge.fail { background: FAIL; }
tr.info td.verdict { background: #ddd; }
.badge { display: inline-block; white-space: nowrap; padding: 0.1em 0.6em; border-radius: 0.8em;
         font-weight: bold; color: #000000; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; white-space: pre-wrap; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
details > summary { cursor: pointer; font-weight: 600; margin: 0.5em 0; }
.error { color: FAIL; font-weight: bold; }
"""


def _e(x) -> str:
    return html.escape(str(x))


def _table(df: pd.DataFrame, *, index: bool = True) -> str:
    """A pandas table as escaped HTML, inside a horizontally scrolling box."""
    return f'<div class="scroll">{df.to_html(index=index, escape=True, border=0, na_rep="–")}</div>'


def _verdicts(checks: pd.DataFrame) -> tuple[str, str]:
    """(HTML table of checks, short badge) for an ``acceptance`` table."""
    if checks is None or not len(checks):
        return '<p class="note">No acceptance check applies to this table.</p>', ""
    rows = []
    # role "reported": a criterion shown for comparison, not judged (e.g. one that is judged
    # only over several seeds, on a one-seed run)
    reported = checks["role"].eq("reported") if "role" in checks else pd.Series(False, index=checks.index)
    for r, info in zip(checks.itertuples(index=False), reported, strict=True):
        cls, word = ("info", "info") if info else ("pass", "pass") if r.passed else ("fail", "FAIL")
        value = f"{r.value:.3g}" if isinstance(r.value, int | float | np.number) else _e(r.value)
        rows.append(
            f'<tr class="{cls}"><td class="verdict">{word}</td><td>{_e(r.check)}</td>'
            f'<td class="num">{value}</td><td>{_e(r.threshold)}</td></tr>'
        )
    judged = checks[~reported]
    n_pass = int(judged["passed"].sum())
    cls = "pass" if n_pass == len(judged) else "fail"
    extra = f", {int(reported.sum())} reported" if reported.any() else ""
    badge = f'<span class="badge {cls}">{n_pass} / {len(judged)} checks pass{extra}</span>'
    head = "<tr><th>verdict</th><th>check</th><th>value (worst case)</th><th>threshold</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>", badge


def _figures(study_dir: Path) -> str:
    pngs = sorted((study_dir / "figures").glob("*.png"))
    if not pngs:
        return '<p class="note">No figures (run without --no-figures, or `python -m experiments plot OUT`).</p>'
    parts = []
    for p in pngs:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(p.stem)}">'
            f"<figcaption>{_e(p.relative_to(study_dir.parent))}</figcaption></figure>"
        )
    return "\n".join(parts)


def _columns(results: pd.DataFrame) -> str:
    """Each column's type and its values (range, or the distinct values when few)."""
    rows = []
    for c in results.columns:
        s = results[c].dropna()
        try:
            distinct = pd.unique(s)
        except TypeError:  # unhashable cells (lists)
            distinct = []
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and len(distinct) > 8:
            values = f"{s.min():.4g} … {s.max():.4g} ({len(distinct)} distinct)"
        elif 0 < len(distinct) <= 8:
            values = ", ".join(str(v) for v in distinct)
        else:
            values = f"{len(distinct)} distinct" if len(distinct) else ""
        rows.append({"column": c, "type": str(results[c].dtype), "values": values})
    return _table(pd.DataFrame(rows), index=False)


def _command(run_info: dict) -> str:
    """The command line of the run: ``run.json``'s own, else the last invocation in its ``history``."""
    if run_info.get("command"):
        return str(run_info["command"])
    history = run_info.get("history")
    history = history if isinstance(history, list) else []
    calls = [h["command"] for h in history if isinstance(h, dict) and h.get("command")]
    if not calls:
        return "not recorded"
    return calls[-1] + (f"  (the last of {len(calls)} invocations; all are in run.json)" if len(calls) > 1 else "")


def _provenance(run_info: dict) -> str:
    if not run_info:
        return '<p class="error">No run.json beside this table: its provenance is unknown.</p>'
    keys = (
        ("command", None),
        ("git commit", "git_commit"),
        ("package", "package_version"),
        ("torch", "torch_version"),
        ("python", "python_version"),
        ("platform", "platform"),
        ("CPUs", "cpu_count"),
        ("device", "device"),
        ("backend / jobs", None),
        ("cells (run now / all)", None),
        ("rows", "n_rows"),
        ("wall time", "wall_time_s"),
    )
    extra = {
        "command": _command(run_info),
        "backend / jobs": f"{run_info.get('backend', '?')} / {run_info.get('jobs', '?')}",
        "cells (run now / all)": f"{run_info.get('n_cells_run_now', '?')} / {run_info.get('n_cells', '?')}",
    }
    rows = []
    for label, key in keys:
        value = extra[label] if key is None else run_info.get(key, "not recorded")
        if key == "wall_time_s" and isinstance(value, int | float):
            value = f"{value:.1f} s (this invocation; resumed cells ran earlier)"
        rows.append(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>")
    config = json.dumps(run_info.get("config"), indent=2, sort_keys=True)
    return (
        f"<table>{''.join(rows)}</table>"
        f"<details><summary>config</summary><pre>{_e(config)}</pre></details>"
        f"<details><summary>run.json</summary><pre>{_e(json.dumps(run_info, indent=2, sort_keys=True))}</pre>"
        "</details>"
    )


# -- one study ------------------------------------------------------------------------------


def _call(label: str, fn, *args):
    """``fn(*args)`` or an HTML error line: a broken summary must not hide the rest of the report."""
    try:
        return fn(*args), ""
    except Exception as err:  # noqa: BLE001 -- reported on the page, with its type
        return None, f'<p class="error">{_e(label)} failed: {_e(type(err).__name__)}: {_e(err)}</p>'


def _study(out: Path, name: str) -> tuple[str, dict]:
    """HTML section of one study and its line of the overview table."""
    study_dir = out / name
    results = pd.read_parquet(study_dir / "results.parquet")
    run_json = study_dir / "run.json"
    run_info = json.loads(run_json.read_text()) if run_json.exists() else {}
    module, why = _load_module(name)
    seeds = sorted(results["seed"].unique().tolist()) if "seed" in results else []
    parts = [f'<h2 id="{_e(name)}">{_e(name)}</h2>']
    overview = {
        "study": f'<a href="#{_e(name)}">{_e(name)}</a>',
        "rows": len(results),
        "seeds": _e(", ".join(map(str, seeds)) or "–"),
        "models": _e(", ".join(map(str, dict.fromkeys(results["model"]))) if "model" in results else "–"),
        "wall time (s)": _e(run_info.get("wall_time_s", "–")),
        "checks": "–",
    }
    if module is None:
        parts.append(f'<p class="note">Key numbers unavailable: {_e(why)}.</p>')
    if module is not None and hasattr(module, "acceptance"):
        checks, err = _call("acceptance(results)", module.acceptance, results)
        table, badge = _verdicts(checks) if not err else (err, "")
        overview["checks"] = badge or "–"
        parts += ["<h3>Acceptance checks</h3>", badge, table]
    if module is not None and name in KEY_TABLES:
        spec = KEY_TABLES[name]
        got, err = _call(f"{spec.function}(results) per seed", seed_spread, results, module, spec)
        how = "mean ± standard deviation over seeds " + ", ".join(map(str, seeds)) if len(seeds) > 1 else "one seed"
        parts.append(f"<h3>Key numbers</h3><p class='note'><code>{_e(spec.function)}</code> per seed; {how}.</p>")
        if err:
            parts.append(err)
        else:
            table = _format_spread(got[0], len(got[1])).reset_index()
            html_table = _table(table, index=False)
            if len(table) > 24:  # long tables fold away; the summary below says the same in short
                html_table = f"<details><summary>{len(table)} rows</summary>{html_table}</details>"
            parts.append(html_table)
    if module is not None and hasattr(module, "summary"):
        text, err = _call("summary(results)", module.summary, results)
        if text is not None:
            atomic_write_bytes(study_dir / "summary.txt", (text.rstrip("\n") + "\n").encode())
        parts += ["<h3>Summary</h3>", err or f"<pre>{_e(text)}</pre>"]
    parts += ["<h3>Figures</h3>", _figures(study_dir)]
    n_cols = results.shape[1]
    parts += [f"<details><summary>Columns of results.parquet ({n_cols})</summary>{_columns(results)}</details>"]
    parts += ["<h3>Provenance</h3>", _provenance(run_info)]
    return "\n".join(parts), overview


def _glossary() -> str:
    if not GLOSSARY.exists():
        return '<p class="note">docs/results.md (the glossary of columns) is not in this checkout.</p>'
    return f"<pre>{_e(GLOSSARY.read_text(encoding='utf-8'))}</pre>"


def write_report(out_dir: Path | str) -> Path:
    """Write ``OUT/report.html`` (and each ``OUT/<experiment>/summary.txt``); return the page's path.

    Raises ``FileNotFoundError`` when no ``OUT/<experiment>/results.parquet`` exists.
    """
    out = Path(out_dir)
    names = find_studies(out)
    if not names:
        raise FileNotFoundError(f"no results under {out}/<experiment>/results.parquet; run an experiment first")
    sections, overview = zip(*(_study(out, n) for n in names), strict=True)
    css = CSS.replace("PASS", PASS_COLOUR).replace("FAIL", FAIL_COLOUR)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    body = [
        "<h1>Associative-memory testbed: results</h1>",
        f'<p class="meta">{_e(out.resolve())} · written {_e(stamp)} · studies: {len(names)}</p>',
        pd.DataFrame(list(overview)).to_html(index=False, escape=False, border=0),
        *sections,
        '<h2 id="glossary">Glossary of columns</h2>',
        _glossary(),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Results: {_e(out.name)}</title><style>{css}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    path = out / "report.html"
    atomic_write_bytes(path, page.encode("utf-8"))
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="an --out directory of earlier runs")
    args = parser.parse_args(argv)
    try:
        print(write_report(args.out))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

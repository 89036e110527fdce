"""The results report in a real headless browser: every figure loads and the console stays clean.

Tiny capacity and spurious runs (seconds) go through ``experiments.cli.run_experiment``;
``experiments.report.write_report`` turns them into ``OUT/report.html``, which Debian's
``chromium`` opens through ``chromedriver`` (selenium, pointed at /usr/bin/chromedriver so it
never downloads a driver). Without a browser the test skips, except under ``CI=true``
(``.ci/run`` installs ``chromium chromium-driver``), where it fails.

``python -m tests.test_report_browser OUT/report.html docs/img/report.png`` saves a
screenshot of any report (the README's picture).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

DRIVER = "/usr/bin/chromedriver"
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_browser() -> str | None:
    """Path of an installed Chromium, or None."""
    return next((b for b in BROWSERS if os.path.exists(b)), None) or shutil.which("chromium")


def _browser_or_skip() -> str:
    """Path of the headless browser; skip (fail under CI=true) when it or its driver is missing."""
    browser = find_browser()
    missing = []
    if browser is None:
        missing.append("chromium")
    if not os.path.exists(DRIVER):
        missing.append(DRIVER)
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        reason = f"no headless browser: missing {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI must run this test")
        pytest.skip(reason)
    return browser


def open_browser(browser: str, width: int = 1280, height: int = 1500):
    """A headless Chromium session that records the browser console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def screenshot(report: Path | str, png: Path | str, *, width: int = 1280, height: int = 1500) -> Path:
    """Save the top ``width x height`` pixels of a report page as a PNG."""
    browser = find_browser()
    if browser is None or not os.path.exists(DRIVER):
        raise RuntimeError(f"screenshot needs chromium and {DRIVER}: apt-get install chromium chromium-driver")
    driver = open_browser(browser, width, height)
    try:
        driver.get(Path(report).resolve().as_uri())
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(png))
    finally:
        driver.quit()
    return Path(png)


@pytest.fixture(scope="module")
def tiny_out(tmp_path_factory):
    """OUT with real results of tiny capacity and spurious runs over two seeds, and its report.

    Figures are saved as small PNGs only (the PDFs of a full run would double the time).
    """
    import matplotlib.pyplot as plt

    from experiments import capacity, cli, spurious
    from experiments.figures import set_style
    from experiments.report import write_report

    out = tmp_path_factory.mktemp("report")
    tiny = {
        capacity: dataclasses.replace(
            capacity.PRESETS["quick"],
            models=("classical-hebb", "dense-n3", "modern-b1"),
            N=32,
            loads=(0.05, 0.14, 0.5),
            loads_high=(2.0,),
            n_probe=8,
            seeds=(0, 1),
        ),
        spurious: dataclasses.replace(
            spurious.PRESETS["quick"],
            models=("classical-hebb", "modern-b1"),
            N=32,
            loads=(0.05, 0.2),
            n_starts=8,
            seeds=(0, 1),
        ),
    }
    mp = pytest.MonkeyPatch()
    try:
        for module, config in tiny.items():
            mp.setitem(module.PRESETS, "tiny", config)
            results, _ = cli.run_experiment(module.NAME, preset="tiny", out=out, progress=False, figures=False)
            set_style()
            for fig_name, fig in module.plot(results, {}).items():
                (out / module.NAME / "figures").mkdir(exist_ok=True)
                fig.savefig(out / module.NAME / "figures" / f"{fig_name}.png", dpi=60)
    finally:
        mp.undo()
        plt.close("all")
    assert write_report(out) == out / "report.html"
    return out


def test_report_files(tiny_out):
    page = (tiny_out / "report.html").read_text()
    for name in ("capacity", "spurious"):
        summary = (tiny_out / name / "summary.txt").read_text()
        assert summary.strip() and summary.strip() in page.replace("&gt;", ">").replace("&#x27;", "'")
    # self-contained: no file or network reference, every figure inline
    assert "http://" not in page and "https://" not in page and "<script" not in page
    n_png = len(list(tiny_out.glob("*/figures/*.png")))
    assert n_png >= 3 and page.count('src="data:image/png;base64,') == n_png
    assert "± " in page  # two seeds: key numbers carry their spread


def test_report_shows_the_last_invocation_of_the_history(tiny_out, tmp_path):
    import html
    import json

    from experiments.report import write_report

    info = json.loads((tiny_out / "capacity" / "run.json").read_text())
    assert "command" not in info and info["history"][-1]["command"]  # the runner keeps it in the history only
    page = (tiny_out / "report.html").read_text()
    assert f"<th>command</th><td>{html.escape(info['history'][-1]['command'])}</td>" in page
    # two invocations (a resumed run): the last one is shown, and said to be the last
    (tmp_path / "capacity").mkdir()
    shutil.copy(tiny_out / "capacity" / "results.parquet", tmp_path / "capacity")
    info["history"] = [{**info["history"][-1], "command": "first --seeds 0"}, {"command": "second --seeds 0,1"}]
    (tmp_path / "capacity" / "run.json").write_text(json.dumps(info))
    page = write_report(tmp_path).read_text()
    assert "<th>command</th><td>second --seeds 0,1  (the last of 2 invocations; all are in run.json)</td>" in page
    info.pop("history")
    (tmp_path / "capacity" / "run.json").write_text(json.dumps(info))
    assert "<th>command</th><td>not recorded</td>" in write_report(tmp_path).read_text()


def test_report_without_results_is_a_clear_error(tmp_path):
    from experiments.report import main, write_report

    with pytest.raises(FileNotFoundError, match="no results under"):
        write_report(tmp_path)
    assert main([str(tmp_path)]) == 2


def test_report_opens_in_a_headless_browser(tiny_out, tmp_path):
    browser = _browser_or_skip()
    path = tiny_out / "report.html"
    driver = open_browser(browser)
    try:
        driver.get(path.resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);"
        )
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        title = driver.title
    finally:
        driver.quit()
    assert len(images) == len(list(tiny_out.glob("*/figures/*.png")))
    assert all(complete and width > 0 for _, complete, width in images), images
    assert errors == []
    assert title.startswith("Results:")
    assert shot.stat().st_size > 10_000


def _reproduce_out_or_skip() -> Path:
    """``$QUICK_REPRODUCE``: the --out of ``python -m experiments reproduce --preset quick`` (.ci/run sets it)."""
    out = os.environ.get("QUICK_REPRODUCE")
    if not out:
        reason = "QUICK_REPRODUCE names no quick reproduce run (.ci/run makes one before the slow tests)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI must run this test")
        pytest.skip(reason)
    return Path(out)


@pytest.mark.slow
def test_the_report_of_a_quick_reproduce_run_renders_in_a_headless_browser(tmp_path):
    """The README main job's page: every study of ``reproduce --preset quick``, every figure loaded, no error.

    Runs on the output of that command (``$QUICK_REPRODUCE``), which .ci/run produces once; the
    transition's slow acceptance test reads the same run (``TRANSITION_RESULTS``).
    """
    from experiments.registry import EXPERIMENTS

    out = _reproduce_out_or_skip()
    browser = _browser_or_skip()
    for name in EXPERIMENTS:  # reproduce ran every study, and each left figures
        assert (out / name / "results.parquet").is_file(), name
        assert list((out / name / "figures").glob("*.png")), name
    page = (out / "report.html").read_text()
    n_png = len(list(out.glob("*/figures/*.png")))
    assert page.count('src="data:image/png;base64,') == n_png
    # the transition's verdicts are on the page, all judged ones passing on this one-seed run
    # (the K = 128 absolute gaps are reported, not judged, on fewer than three seeds)
    assert re.search(r"(\d+) / \1 checks pass, 2 reported</span>", page), "a judged check failed"
    driver = open_browser(browser)
    try:
        driver.get((out / "report.html").resolve().as_uri())
        images = driver.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        headings = driver.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent);")
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    assert len(images) == n_png and all(complete and width > 0 for complete, width in images), images
    assert errors == []
    assert all(any(name in h for h in headings) for name in EXPERIMENTS), headings
    assert (tmp_path / "report.png").stat().st_size > 10_000


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m tests.test_report_browser OUT/report.html docs/img/report.png")
    print(screenshot(sys.argv[1], sys.argv[2]))

"""Package metadata: one version everywhere, the licence, the citation, type markers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import models
from models._version import __version__

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
TYPED = ("models", "energy", "experiments")


def test_version_is_written_once_and_read_by_pyproject():
    assert models.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d*)?", __version__), __version__
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "models._version.__version__"}


def test_citation_and_changelog_name_the_current_version():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(rf'^version: "{re.escape(__version__)}"$', cff, re.M)
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    assert "2604.26841" in cff  # the paper the testbed reproduces, as a reference
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(__version__)}\]", changelog, re.M)


def test_license_is_the_mit_text_that_pyproject_declares():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the hopfield-testbed authors" in text
    assert "Permission is hereby granted, free of charge" in text
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}


def test_packages_are_marked_typed_and_ship_the_marker():
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package in TYPED:
        assert (ROOT / package / "py.typed").is_file(), package
        assert "py.typed" in package_data[package], package

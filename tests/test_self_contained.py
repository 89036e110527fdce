"""The repository is self-contained: every citation in it points inside it.

Code, tests and docs cite the original papers (authors, year) or the repository's own pages
(``docs/theory.md §2.3``), never notes kept outside the repository, issue numbers of a
tracker, or a page that does not exist.  Every ``*.py``, ``*.md``, ``*.ipynb`` and ``*.toml`` file
is scanned, except virtual environments, caches, build outputs and the generated ``results/`` and
``out/`` folders (and a ``shared/`` folder of notes, if a checkout has one).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs/theory.md"
EXTENSIONS = {".py", ".md", ".ipynb", ".toml"}
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    ".ci-venv",
    "env",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".benchmarks",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "node_modules",
    "build",
    "dist",
}
TOP_SKIP = {"results", "out", "shared"}

# Pages that only count as citations when they are existing docs/ pages of this repository.  The
# names are joined at run time so that this file does not cite them itself.
PAGES = "|".join(("theory", "paper", "diffusion", "ecosystem", "DESIGN", "results", "transition"))
PAGE = re.compile(rf"(?<![\w./\-])(?P<path>(?:[\w.\-]+/)*)(?P<name>{PAGES})\.md\b")
NOTES = "/".join(("shared", "reference"))
OUTSIDE = [
    (re.compile(r"(?<![\w\-])reference/\w"), "a path into a reference/ folder of notes"),
    (re.compile(r"\.\./shared\b|/work/" + r"shared\b|\b" + NOTES + r"\b"), "the shared folder of notes"),
    (re.compile(r"(?<![\w#])[Ii]ssues?[- ]?#?\d+"), "an issue number"),
    (re.compile(r"(?<![\w&#/\"'])#\d{1,5}\b(?![\w\"'])"), "an issue number (#N)"),
]
# A citation of docs/theory.md and the section references that follow it.
SECTION = r"§[ \t]*(\d+(?:\.\d+)?)(?:[-–](\d+(?:\.\d+)?))?"
THEORY_CITE = re.compile(r"docs/theory\.md`{0,2}(?P<refs>(?:[ \t]*(?:,|/|and)?[ \t]*" + SECTION + ")+)")
SECTION_REF = re.compile(SECTION)
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.MULTILINE)


def repo_files() -> list[Path]:
    """Files of the repository that can carry citations, in a stable order."""
    out = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if not path.is_file() or path.suffix not in EXTENSIONS:
            continue
        if rel.parts[0] in TOP_SKIP or any(p in SKIP_DIRS or p.endswith(".egg-info") for p in rel.parts[:-1]):
            continue
        if any((ROOT.joinpath(*rel.parts[: k + 1]) / "pyvenv.cfg").exists() for k in range(len(rel.parts) - 1)):
            continue  # a virtual environment under another name
        out.append(path)
    return out


def _page_is_inside(path: Path, text: str, m: re.Match) -> bool:
    """A ``<page>.md`` mention is fine as an existing ``docs/`` path or a relative markdown link that resolves."""
    name = f"{m['name']}.md"
    if m["path"] == "docs/":
        return (ROOT / "docs" / name).is_file()
    if path.suffix == ".md" and text[max(0, m.start() - 2) : m.start()] == "](":
        target = (path.parent / m["path"] / name).resolve()
        return target.is_file() and (ROOT / "docs") in target.parents
    return False


def outside_citations(path: Path) -> list[str]:
    """``'file:line: what'`` for every citation in ``path`` that points outside the repository."""
    text = path.read_text(encoding="utf-8", errors="replace")
    rel = path.relative_to(ROOT).as_posix()
    found = []
    for m in PAGE.finditer(text):
        if not _page_is_inside(path, text, m):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{rel}:{line}: {m.group(0)!r} is not an existing docs/ page")
    for pattern, what in OUTSIDE:
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{rel}:{line}: {m.group(0)!r} cites {what}")
    return found


def theory_sections() -> set[str]:
    """Section numbers of docs/theory.md (``"2"``, ``"2.3"``, ...)."""
    return set(HEADING.findall(THEORY.read_text(encoding="utf-8")))


def cited_theory_sections(text: str, in_page: bool = False) -> list[str]:
    """Every section number a text cites in docs/theory.md (both ends of a range)."""
    spans = [text] if in_page else [m["refs"] for m in THEORY_CITE.finditer(text)]
    return [s for span in spans for pair in SECTION_REF.findall(span) for s in pair if s]


def test_no_citation_points_outside_the_repository():
    found = [f for path in repo_files() for f in outside_citations(path)]
    assert not found, f"{len(found)} citation(s) outside the repository:\n" + "\n".join(found)


def test_cited_sections_of_docs_theory_exist():
    sections = theory_sections()
    assert {"1", "2.1", "5.1", "7.4"} <= sections, sorted(sections)
    missing = []
    for path in repo_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for s in cited_theory_sections(text, in_page=path == THEORY):
            if s not in sections:
                missing.append(f"{path.relative_to(ROOT).as_posix()}: §{s}")
    assert not missing, "sections of docs/theory.md that do not exist:\n" + "\n".join(missing)


def test_every_check_id_of_the_tests_is_documented():
    """The tests' check ids (test_C1..., "# C12b: ...") and the rows of docs/theory.md §5 are the same set."""
    documented = set(re.findall(r"^\| (C\d+[a-d]?) \|", THEORY.read_text(encoding="utf-8"), re.MULTILINE))
    named, mentioned = set(), set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8")
        for prefix in re.findall(r"def test_((?:[Cc]\d+[a-d]?_)+)", text):
            named |= {"C" + c[1:].lower() for c in prefix.strip("_").split("_")}
        mentioned |= set(re.findall(r"(?<![\w'])C\d+[a-d]?(?![\w])", text))
    assert named, "no test is named after a check id"
    # test_C7_basins covers C7a and C7b: an id without its letter stands for all its rows.
    undocumented = {c for c in named if c not in documented and not any(d.rstrip("abcd") == c for d in documented)}
    assert not undocumented, sorted(undocumented)
    assert documented <= named | mentioned, sorted(documented - named - mentioned)


def test_the_scanner_finds_what_it_must():
    """The rules above on made-up text: each forbidden form is caught, each allowed form is not."""
    notes = "".join(("pa", "per"))
    bad = [
        f"see {notes}.md 6.4",
        f"(reference/{notes}.md section 2)",
        "the theory" + ".md 2.3 table",
        "done when: issue" + " 6",
        "Issue-" + "12 says",
        "fixed in #" + "12.",
        "../" + "shared/DESIGN" + ".md",
    ]
    good = [
        "docs/theory.md §2.3",
        "[docs/transition.md](docs/transition.md)",
        'colour "#' + '555"',
        "#1a9850",
        "# 1 comment",
        "tissue 5",
    ]
    probe = ROOT / "docs" / "probe.md"  # never written: only its name and folder matter

    def scan(text: str) -> list[str]:
        found = [m.group(0) for m in PAGE.finditer(text) if not _page_is_inside(probe, text, m)]
        return found + [m.group(0) for pattern, _ in OUTSIDE for m in pattern.finditer(text)]

    for text in bad:
        assert scan(text), text
    for text in good:
        assert not scan(text), text
    assert cited_theory_sections("docs/theory.md §6.4-6.7 and §7.2, docs/theory.md §5.1, C6a") == [
        "6.4",
        "6.7",
        "7.2",
        "5.1",
    ]

"""The documentation site: its code runs, its links resolve, and it builds.

Every ```python block in `docs/*.md` runs, in page order, each page's blocks in one namespace
(a page reads as one program), with a fresh temporary folder as the working directory. A block
is left out only when the line just above its opening fence is the HTML comment
`<!-- no-run -->` (invisible in the rendered site). Use it for code that needs hardware or
processes a test cannot have (several hosts, a TPU); such blocks are still compiled, so they
stay valid Python.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```python\s*\n(.*?)^```\s*$", flags=re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """`(line, code, runs)` for each ```python block; `runs` is False after `<!-- no-run -->`."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 2  # the first line of code, 1-based
        blocks.append((line, match.group(1), before != NO_RUN))
    return blocks


PAGES = sorted(DOCS.glob("*.md"))
PAGES_WITH_CODE = [p for p in PAGES if any(runs for *_, runs in python_blocks(p.read_text()))]


def test_block_extraction_follows_the_marker():
    text = "Intro\n\n```python\na = 1\n```\n\n<!-- no-run -->\n```python\nb = 2\n```\n"
    assert python_blocks(text) == [(4, "a = 1\n", True), (9, "b = 2\n", False)]


def test_every_no_run_marker_sits_on_a_python_block():
    # A marker above anything else (a typo, a blank line, a bash block) would silently do
    # nothing; a block it does skip must still be valid Python.
    for page in PAGES:
        text = page.read_text()
        skipped = [code for _, code, runs in python_blocks(text) if not runs]
        assert text.count(NO_RUN) == len(skipped), f"{page.name}: a stray {NO_RUN} marker"
        for code in skipped:
            compile(code, str(page), "exec")


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.name)
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pages save files under relative names
    # A real module, as a script has: dataclasses (so Equinox modules) look classes up in it.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for line, code, runs in python_blocks(page.read_text()):
        if runs:
            # Pad with newlines so tracebacks give the line number in the .md file; do not
            # inherit this file's `from __future__ import annotations`.
            padded = "\n" * (line - 1) + code
            exec(compile(padded, str(page), "exec", dont_inherit=True), module.__dict__)


def _local_links(text: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and t[0] != "#"]


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    missing = [t for t in _local_links(page.read_text()) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_every_page_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    nav = config.split("\nnav:", 1)[1]
    listed = set(re.findall(r"^\s*- [^:#]+: (\S+\.md)\s*$", nav, flags=re.M))
    excluded = set(re.findall(r"^\s+(\S+\.md)\s*$", config.split("\nnav:", 1)[0], flags=re.M))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages - excluded == listed


def _citation() -> str:
    return (ROOT / "CITATION.cff").read_text()


def test_citation_names_the_released_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, flags=re.M).group(1)
    text = _citation()
    assert re.search(rf"^version: {re.escape(version)}$", text, flags=re.M)
    assert re.search(r"^license: Apache-2\.0$", text, flags=re.M)
    assert 'title: "fkeras"' in text


def test_citation_is_valid_cff():
    citation = pytest.importorskip("cffconvert").Citation
    citation(_citation()).validate()  # raises jsonschema.ValidationError when invalid
    # The validator is live: an impossible release date must fail it.
    broken = _citation().replace("date-released: 2026-12-02", "date-released: 2026-13-45")
    assert broken != _citation()
    with pytest.raises(Exception, match="2026-13-45"):
        citation(broken).validate()


def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The API reference is generated from the docstrings, not left empty.
    layers = (site / "api" / "layers" / "index.html").read_text()
    assert 'id="fkeras.layers.Dense"' in layers and "Densely connected layer" in layers

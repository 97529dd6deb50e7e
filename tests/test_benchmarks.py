"""Smoke test of the benchmark suite (`python -m benchmarks.suite --quick`): one tiny case end
to end, checking the table's shape and that every figure is a positive finite number. Nothing
here asserts a speed."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The smoke test runs the lighter runners (Keras and Flax run in the full suite), so it stays
# fast in CI.
FRAMEWORKS = ["limit", "fkeras", "equinox"]
FIGURES = ("samples_per_s", "ratio_to_limit", "first_step_s", "peak_rss_mb", "loss_start")


def _table(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the Markdown table under the heading that starts with `heading`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if set("".join(cells)) != {"-"}:  # not the separator row
            rows.append(cells)
    return rows


@pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("keras") is None,
    reason="the benchmark suite needs the bench extra (scikit-learn, keras)",
)
def test_quick_suite_one_case(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import report

    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    command = [sys.executable, "-m", "benchmarks.suite", "--quick", "--models", "mlp"]
    command += ["--batch-sizes", "32", "--rows", "128", "--frameworks", *FRAMEWORKS]
    command += ["--probe-jobs", "2"]  # faster; the smoke test checks no timing
    command += ["--out", str(out), "--json", str(raw)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]

    results = json.loads(raw.read_text())["results"]
    assert [row["framework"] for row in results] == FRAMEWORKS
    flax_missing = importlib.util.find_spec("flax") is None
    for row in results:
        assert (row["model"], row["batch_size"]) == ("mlp", 32)
        assert (row["steps_per_epoch"], row["samples_per_epoch"]) == (4, 128)
        if row["framework"] == "flax" and flax_missing:
            assert row["status"].startswith("not installed"), row
            continue
        assert row["status"] == "ok", row
        for key in FIGURES:
            assert math.isfinite(row[key]) and row[key] > 0, (row["framework"], key, row[key])
        # Every framework trains: 12 Adam steps on the digits lower the loss on them.
        assert row["loss_end"] < row["loss_start"], row
    assert results[0]["ratio_to_limit"] == 1.0  # the limit against itself

    markdown = out.read_text()
    assert markdown.count(report.BEGIN) == 1 and markdown.count(report.END) == 1
    table = _table(markdown, "### MLP 64-256-256-10, batch 32")
    assert table[0] == list(report.COLUMNS)
    assert [cells[0] for cells in table[1:]] == [row["label"] for row in results]
    for cells, row in zip(table[1:], results):
        assert len(cells) == len(report.COLUMNS)
        if row["status"] != "ok":
            continue
        samples, ratio, first, memory = (cells[1], cells[3], cells[4], cells[5])
        for text in (samples, ratio.rstrip("x"), first, memory):
            assert float(text.replace(",", "")) >= 0, cells
        assert float(samples.replace(",", "")) > 0 and float(first) > 0
    summary = _table(markdown, "### Summary")
    assert summary[0] == ["throughput vs limit", "mlp b32"]
    assert summary[1] == [results[0]["label"], "1.00x"]


def test_report_write_keeps_the_rest_of_the_file(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import report

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nIntro.\n\n## Older section\n\n| a |\n")
    report.write(path, "## Suite\n\nfirst")
    report.write(path, "## Suite\n\nsecond")  # the second run replaces the first block
    text = path.read_text()
    assert text.startswith("# Benchmark results\n\n" + report.BEGIN)
    assert "second" in text and "first" not in text
    assert text.count(report.BEGIN) == 1 and "Intro.\n\n## Older section\n\n| a |\n" in text

    fresh = tmp_path / "new.md"
    report.write(fresh, "## Suite")
    assert fresh.read_text() == f"# Benchmark results\n\n{report.BEGIN}\n## Suite\n{report.END}\n"

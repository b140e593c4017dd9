"""benchmarks/README.md is generated from benchmarks/results/ and cannot drift from it."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from benchmarks import summary
from tests.conftest import REPO


def test_committed_files_are_what_summary_generates_now():
    for path, text in summary.render().items():
        with open(path) as f:
            assert f.read() == text, (
                f"{os.path.relpath(path, REPO)} is out of date: run `python -m benchmarks.summary`"
            )


@pytest.mark.parametrize(
    "table", sorted(glob.glob(os.path.join(summary.RESULTS, "*.md"))), ids=os.path.basename
)
def test_every_results_table_is_on_the_page(table):
    with open(summary.OUTPUT) as f:
        page = set(f.read().splitlines())
    with open(table) as f:
        # Every line but the headings, which move down a level or two on the page.
        lines = [line for line in f.read().splitlines() if line and not line.startswith("#")]
    assert any(line.startswith(("|", "```")) for line in lines), f"{table} holds no table"
    assert [line for line in lines if line not in page] == []


def test_a_results_table_left_out_of_the_template_is_refused(tmp_path, monkeypatch):
    for path in glob.glob(os.path.join(summary.RESULTS, "*.md")):
        shutil.copy(path, tmp_path)
    (tmp_path / "new_benchmark.md").write_text("# New\n\n| a |\n|---|\n| 1 |\n")
    monkeypatch.setattr(summary, "RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match=r"results/new_benchmark\.md is not included"):
        summary.benchmarks_readme()


def test_side_by_side_puts_the_baseline_beside_kgan_at_each_mark():
    table = summary.side_by_side("mnist").splitlines()
    header = table[2]
    assert header.startswith("| minutes | baseline steps |") and "| kgan steps |" in header
    rows = {row.split(" | ")[0].strip("| "): row for row in table[4:]}
    assert sorted(rows, key=float) == ["1", "2", "4", "8", "16"]
    # The 16-minute marks of results/time_to_quality.md: the tutorial's and kgan's FCD.
    marks = summary.parse_rows(summary.read_table("time_to_quality"))
    mnist_16 = {
        r["recipe"]: r["FCD"] for r in marks if r["dataset"] == "mnist" and r["minutes"] == "16"
    }
    assert f"{mnist_16['tutorial']} (" in rows["16"] and f"{mnist_16['kgan']} (" in rows["16"]


def test_readme_results_table_has_a_row_per_dataset_and_recipe():
    table = summary.results_table().splitlines()
    marks = summary.parse_rows(summary.read_table("time_to_quality"))
    pairs = {(r["dataset"], r["recipe"]) for r in marks}
    assert len(table) == 2 + len(pairs)
    assert sum("**kgan's defaults**" in row for row in table) == len({d for d, _ in pairs})


def test_summary_runs_without_tensorflow():
    code = (
        "import sys; from benchmarks import summary; summary.render(); "
        "assert 'tensorflow' not in sys.modules, 'summary imported TensorFlow'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]

"""The end-to-end benchmark's smoke run (`python -m benchmarks.e2e_bench --small`) on the live stack:
it does the work and prints every figure, with its baseline, in the table on stdout."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
HEADER = "| figure | measured | baseline | ratio | target | met? |"
FIGURES = ("`POST /leads` rate, 20 concurrent clients", "burst of 10 leads", "one lead at a time, idle",
           "positive reply → stage visible", "Temporal actions per email touch", "Temporal actions per touch",
           "history events per touch", "history events per email touch")
WITH_BASELINE = FIGURES[:4]


def test_small_run_prints_every_figure_next_to_its_baseline():
    run = subprocess.run([sys.executable, "-m", "benchmarks.e2e_bench", "--small"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    lines = run.stdout.splitlines()
    assert lines[0] == HEADER, lines[:3]  # nothing but the table and its notes on stdout
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:] if line.startswith("| ")]
    assert [r[0] for r in rows] == [next(r[0] for r in rows if r[0].startswith(f)) for f in FIGURES], rows
    for name, measured, baseline, ratio, target, met in rows:
        assert measured and met in ("yes", "no", "—"), (name, measured, met)
        if name.startswith(WITH_BASELINE):
            assert baseline != "—" and ratio.endswith("×"), (name, baseline, ratio)
    assert "NOT DONE" not in run.stdout
    assert "Actions counted: starts 1," in run.stdout

"""Smoke test of benchmarks/bench.py: the quick scale run prints its table and writes the JSON.

No timing is asserted (timings belong to `make bench`, not to the test suite).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"


def test_quick_scale_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "scale", "--sizes", "200", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    assert "QUICK (reduced settings)" in table
    assert "analyses, 200 patients" in table
    assert "load_cohort from CSV" in table
    assert "peak RSS of the analysis process" in table

    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["quick"] is True and figures["sections"] == ["scale"]
    size = figures["scale"]["results"]["200"]
    steps = size["analysis"]["steps"]
    # every chapter analysis ran once and was timed; the CSV load was measured separately
    assert len(steps) >= 30
    assert all(len(s["seconds"]) == 1 or s["errors"] for s in steps.values())
    assert size["load"]["ok"] is True and size["load"]["seconds"] > 0
    assert size["analysis"]["peak_rss_bytes"] > 0
    assert figures["table"] in table


def test_unknown_section_is_refused():
    done = subprocess.run([sys.executable, str(BENCH), "--only", "colds"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown section(s): colds" in done.stderr

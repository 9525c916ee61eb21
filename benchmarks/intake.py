"""Worst-case intake benchmark (issue 14): time and peak memory of refusing hostile deliveries.

Each case runs in its own subprocess (peak RSS = getrusage ru_maxrss of that process):

  zip bomb         a 300 MiB member of blank lines deflated to ~300 KiB (refused by ratio)
  tar.gz bomb      the same as a .tar.gz (refused while inflating)
  10 MB junk       adsl.csv of 10 MB random 3-letter cells, right field count (every cell fails)
  10 MB ragged     adsl.csv of 10 MB random lines with the wrong field count
  huge valid-looking  a simulated 100,000-patient delivery whose every ADTTE row breaks one rule

    .venv/bin/python benchmarks/intake.py [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ["zip bomb", "tar.gz bomb", "10 MB junk", "10 MB ragged", "huge valid-looking"]


def _prepare(name: str, tmp: Path) -> Path:
    from nscore.data.simulate import simulate_cohort, write_cohort

    if name in ("zip bomb", "tar.gz bomb"):
        if name == "zip bomb":
            src = tmp / "bomb.zip"
            with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
                with zf.open("adsl.csv", "w") as out:
                    for _ in range(300):
                        out.write(b"\n" * 2**20)
        else:
            import tarfile

            src = tmp / "bomb.tar.gz"
            with tarfile.open(src, "w:gz") as tf, tempfile.TemporaryFile() as blank:
                for _ in range(300):
                    blank.write(b"\n" * 2**20)
                blank.seek(0)
                info = tarfile.TarInfo("adsl.csv")
                info.size = 300 * 2**20
                tf.addfile(info, blank)
        return src
    n = 100_000 if name == "huge valid-looking" else 20
    d = tmp / "delivery"
    write_cohort(simulate_cohort(n=n, cutoff=date(2025, 8, 1)), d)
    if name == "huge valid-looking":
        text = (d / "adtte.csv").read_text().splitlines()
        header = text[0].split(",")
        i = header.index("AVAL")
        rows = []
        for line in text[1:]:
            cells = line.split(",")
            cells[i] = str(int(cells[i]) + 1)  # AVAL != ADT - STARTDT on every row
            rows.append(",".join(cells))
        (d / "adtte.csv").write_text("\n".join([text[0], *rows]) + "\n")
        return d
    header = (d / "adsl.csv").read_text().splitlines()[0]
    width = header.count(",") + 1
    rnd, lines, size = random.Random(1), [header], 0
    while size < 10_000_000:
        if name == "10 MB junk":
            line = ",".join("".join(rnd.choices(string.ascii_letters, k=3)) for _ in range(width))
        else:
            line = "".join(rnd.choices(string.ascii_letters + ",", k=40))
        lines.append(line)
        size += len(line) + 1
    (d / "adsl.csv").write_text("\n".join(lines) + "\n")
    return d


def _run_one(name: str) -> dict:
    """In the child: prepare, then time versions.store into an empty store."""
    from nscore.data import versions
    from nscore.errors import NscoreError

    with tempfile.TemporaryDirectory(prefix="nscore-intake-bench-") as tmp:
        tmp = Path(tmp)
        src = _prepare(name, tmp)
        size = src.stat().st_size if src.is_file() else sum(p.stat().st_size for p in src.iterdir())
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        try:
            versions.store(src, tmp / "store")
            outcome, rules, failures = "stored", [], 0
        except NscoreError as exc:
            table = getattr(exc, "failures", None)
            outcome = "refused"
            rules = sorted(set(table["rule"])) if table is not None else [type(exc).__name__]
            failures = 0 if table is None else len(table)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"case": name, "input_bytes": size, "seconds": round(seconds, 2), "outcome": outcome,
                "rules": rules, "failure_rows": failures, "peak_rss_mib": round(peak / 1024, 1),
                "rss_before_mib": round(rss_before / 1024, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(CASES))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_run_one(args.child)))
        return 0
    print(f"{'case':20} {'input':>10} {'seconds':>8} {'peak RSS':>10}  outcome")
    for name in [c.strip() for c in args.only.split(",") if c.strip()]:
        proc = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                              cwd=ROOT, timeout=900)
        if proc.returncode:
            print(f"{name:20} FAILED\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name:20} {r['input_bytes'] / 2**20:8.1f} MiB {r['seconds']:7.2f}s {r['peak_rss_mib']:7.0f} MiB"
              f"  {r['outcome']}: {', '.join(r['rules'][:4])} ({r['failure_rows']} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

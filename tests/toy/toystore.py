"""A tiny stand-in for nscore.data.versions, so the pipeline tests need neither the ADaM data nor pandas.

A cutoff is ``data/cutoffs/<YYYY-MM-DD>/`` holding ``counts.csv`` (columns group,n; n a non-negative
integer), an optional ``source.json`` and ``manifest.json`` (sha256 + rows per file), the same
layout ``nscore.data.versions`` keeps for the real data.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from nscore.errors import DataValidationError
from nscore.build.store import DataVersion, verify_manifests


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_manifest(d: Path) -> None:
    files = {}
    for p in sorted(d.iterdir()):
        if p.is_file() and p.name != "manifest.json":
            rows = sum(1 for _ in p.open()) - 1 if p.suffix == ".csv" else None
            files[p.name] = {"sha256": _sha(p), "rows": rows}
    (d / "manifest.json").write_text(json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")


def validate(d: Path) -> None:
    failures = []
    f = d / "counts.csv"
    if not f.exists():
        failures.append(("counts.csv", None, None, "file present", "missing"))
    else:
        for i, row in enumerate(csv.DictReader(f.open())):
            if set(row) != {"group", "n"}:
                failures.append(("counts.csv", i, None, "columns group,n", ",".join(row)))
            elif not str(row["n"]).isdigit():
                failures.append(("counts.csv", i, "n", "n is a non-negative integer", row["n"]))
    if not (d / "cutoff.txt").exists() and not _is_date(d.name):
        failures.append(("cutoff.txt", None, None, "cutoff date given", "missing"))
    if failures:
        raise DataValidationError(pd.DataFrame(failures, columns=DataValidationError.COLUMNS))


def _is_date(s: str) -> bool:
    try:
        dt.date.fromisoformat(s)
        return True
    except ValueError:
        return False


class ToyStore:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def cutoffs(self) -> list[str]:
        root = self.data_dir / "cutoffs"
        return sorted(p.name for p in root.iterdir() if p.is_dir() and _is_date(p.name))

    def load(self, cutoff: str) -> DataVersion:
        d = self.data_dir / "cutoffs" / cutoff
        validate(d)
        files = {p.name: _sha(p) for p in sorted(d.iterdir()) if p.is_file() and p.name != "manifest.json"}
        version = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
        src = d / "source.json"
        simulated = bool(json.loads(src.read_text()).get("simulated")) if src.exists() else False
        return DataVersion(cutoff=cutoff, version=version, simulated=simulated, files=files)

    def store(self, src: Path) -> str:
        src = Path(src)
        validate(src)
        cutoff = (src / "cutoff.txt").read_text().strip()
        dest = self.data_dir / "cutoffs" / cutoff
        if dest.exists():
            raise FileExistsError(dest)
        tmp = Path(tempfile.mkdtemp(dir=self.data_dir / "cutoffs", prefix=".incoming-"))
        for p in src.iterdir():
            if p.name != "cutoff.txt":
                shutil.copy2(p, tmp / p.name)
        write_manifest(tmp)
        os.replace(tmp, dest)
        return cutoff

    def verify(self) -> list[str]:
        return verify_manifests(self.data_dir / "cutoffs")

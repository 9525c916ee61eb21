"""The data-store adapter: the stored cutoffs as the build sees them.

The build asks a store for its cutoffs, loads (and so validates) each one, stores a new delivery and
verifies every cutoff's ``manifest.json``. :class:`VersionsStore` is the project's store
(:mod:`nscore.data.versions`); the tests give a :class:`DataStore` of their own (``tests/toy/toystore.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nscore.data.load import sha256_file
from nscore.errors import StaleOutputError


@dataclass(frozen=True)
class DataVersion:
    """One stored cutoff as the pipeline sees it (validated on load)."""

    cutoff: str
    version: str
    simulated: bool
    files: dict[str, str] = field(default_factory=dict)


class DataStore(Protocol):
    """What the pipeline needs from a data store (``nscore.data.versions`` in the real project)."""

    def cutoffs(self) -> list[str]: ...

    def load(self, cutoff: str) -> DataVersion: ...

    def store(self, src: Path) -> str: ...

    def verify(self) -> list[str]: ...


class VersionsStore:
    """The project's data store, through :mod:`nscore.data.versions` (validates on load)."""

    def __init__(self, data_dir: Path, cache_dir: Path | None = None):
        self.data_dir = Path(data_dir)
        #: Where the build keeps validated cohorts (``_build/cache``); None: validate every time.
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    def cutoffs(self) -> list[str]:
        from nscore.data import versions

        return sorted(str(c) for c in versions.list_cutoffs(self.data_dir))

    def load(self, cutoff: str) -> DataVersion:
        from nscore.data import versions

        cohort = versions.load(self.data_dir, cutoff, cache_dir=self.cache_dir)
        return DataVersion(
            cutoff=str(cohort.cutoff),
            version=str(cohort.version),
            simulated=bool(cohort.simulated),
            files=dict(getattr(cohort, "files", {}) or {}),
        )

    def store(self, src: Path, accept_warnings: bool = False) -> str:
        """Store a delivery after the intake checks (``nscore update``): warnings refuse it unless accepted."""
        from nscore.data import versions

        return Path(versions.store(src, self.data_dir, check_intake=True, accept_warnings=accept_warnings,
                                   cache_dir=self.cache_dir)).name

    def intake(self, cutoff: str) -> list[dict]:
        """The intake warnings accepted when ``cutoff`` was stored ([] if none)."""
        from nscore.data import intake, versions

        return (intake.read(versions.cutoff_dir(self.data_dir, cutoff)) or {}).get("warnings") or []

    def verify(self) -> list[str]:
        """Each stored cutoff's ``manifest.json`` against its files (``versions.check_manifest``)."""
        from nscore.data import versions
        from nscore.errors import DataValidationError

        problems: list[str] = []
        for c in versions.list_cutoffs(self.data_dir):
            d = versions.cutoff_dir(self.data_dir, c)
            try:
                versions.check_manifest(d)
            except StaleOutputError as exc:
                problems += exc.problems
            except DataValidationError as exc:
                problems.append(f"{d}: the data break {len(exc.failures)} rule(s); see `nscore validate`")
        return problems


def verify_manifests(cutoffs_dir: Path) -> list[str]:
    """Problems where a cutoff's ``manifest.json`` does not match its files.

    Reads the manifest tolerantly: any mapping ``file name -> {"sha256": ...}`` found at its top
    level or under ``"files"``. Files present but not listed (other than ``manifest.json``) and
    listed files that are missing are both problems.
    """
    problems: list[str] = []
    if not cutoffs_dir.is_dir():
        return problems
    for d in sorted(p for p in cutoffs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        mpath = d / "manifest.json"
        if not mpath.exists():
            problems.append(f"{_rel(mpath)}: missing")
            continue
        try:
            m = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{_rel(mpath)}: unreadable ({exc})")
            continue
        files = m.get("files", m) if isinstance(m, dict) else {}
        listed = {k: v for k, v in files.items() if isinstance(v, dict) and "sha256" in v}
        for name, entry in sorted(listed.items()):
            f = d / name
            if not f.exists():
                problems.append(f"{_rel(f)}: listed in manifest.json but missing")
            elif sha256_file(f) != entry["sha256"]:
                problems.append(f"{_rel(f)}: sha256 differs from manifest.json")
        extra = sorted(
            p.name for p in d.iterdir() if p.is_file() and p.name != "manifest.json" and p.name not in listed
            and not p.name.startswith(".")
        )
        for name in extra:
            problems.append(f"{_rel(d / name)}: not listed in manifest.json")
    return problems


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)

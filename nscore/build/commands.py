"""The commands that only call the data or PDF layers: ``nscore validate``, ``simulate`` and ``pdf``
(re-exported by :mod:`nscore.build.pipeline`, which the CLI calls)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from nscore.build.project import Project
from nscore.build.store import DataVersion


def validate(project: Project, path: str | os.PathLike | None = None) -> list[DataVersion] | Any:
    """Validate one directory of data files (``path``) or every stored cutoff; raise on failure."""
    if path is not None:
        from nscore.data import load, study, versions

        # as `nscore update` reads it: an archive unpacked strictly (issue 14), the delivery's own
        # study.yml, else the project's default
        with contextlib.ExitStack() as stack:
            directory = Path(path)
            if directory.is_file():
                import tempfile

                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="nscore-validate-"))
                directory = versions._extract(directory, Path(scratch))
            cohort = load.load_cohort(directory, default_study=study.default_study_path(project.data_path))
            versions.refuse_future_cutoff(cohort)  # as `nscore update` would: validate says what update says
        return cohort
    store = project.data_store()
    return [store.load(c) for c in store.cutoffs()]


def pdf(project: Project):
    """Build the PDF of the publication with :mod:`nscore.build.pdf`."""
    from nscore.build import pdf as _pdf

    return _pdf.build_pdf(project.root)


def simulate(
    project: Project,
    n: int | None = None,
    cutoff: str | None = None,
    seed: int | None = None,
    out: str | os.PathLike | None = None,
):
    """Regenerate the shipped simulated cutoffs (no options), or write one simulated cohort to ``out``."""
    from nscore.data import simulate as _sim

    if out is None:
        return _sim.write_shipped(project.data_path)
    kwargs: dict[str, Any] = {}
    if n is not None:
        kwargs["n"] = n
    if cutoff is not None:
        kwargs["cutoff"] = _dt.date.fromisoformat(str(cutoff))
    if seed is not None:
        kwargs["seed"] = seed
    frames = _sim.simulate_cohort(**kwargs)
    _sim.write_cohort(frames, Path(out), seed=kwargs.get("seed", getattr(_sim, "SEED", None)))
    return Path(out)

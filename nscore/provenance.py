"""Provenance of an executed chapter: which data, code, environment and parameters made it.

The pipeline (:mod:`nscore.pipeline`) records the same fields twice: in the executed notebook's
metadata (``metadata.nscore``) and, for the running kernel, in the ``NSCORE_BUILD`` environment
variable, so that :func:`box` can show them at the top of each page while the chapter executes.
Nothing here reads patient rows: the box is aggregate-only by construction.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any, Mapping

ENV_VAR = "NSCORE_BUILD"
"""Environment variable through which the pipeline hands the build context to each kernel."""

PACKAGES = ("pandas", "lifelines", "altair", "papermill", "jupyter-book", "myst-nb", "nscore")
"""Distributions whose versions every executed notebook records."""

SIMULATED_SENTENCE = (
    "The patient-level data in this publication are simulated for this data cutoff: they are not the "
    "records of real patients."
)
"""Said in the box when the cutoff's source record (source.json) says ``simulated: true``."""

REAL_SENTENCE = "The patient-level data of this data cutoff are records of real patients, as delivered."
"""Said instead when it does not: a real cutoff is never called simulated."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` ("not installed" when absent), for the provenance record."""
    out = {}
    for name in names:
        try:
            out[name] = _metadata.version(name)
        except _metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_commit(root: str | os.PathLike | None = None) -> str:
    """``git rev-parse HEAD`` of the repository holding ``root``, or ``"unknown"`` (no git, no repo)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root or None, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else "unknown"


def utc_now() -> str:
    """Current time, UTC, ISO 8601 to the second (e.g. ``2026-02-03T10:00:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Provenance:
    """What one executed chapter was made from.

    ``key`` is the pipeline's data-aware cache key (empty for an interactive run);
    ``build_time`` and ``commit`` are recorded but are deliberately not part of the key.
    """

    cutoff: str
    data_version: str
    simulated: bool
    parameters: dict[str, Any]
    build_time: str
    commit: str
    packages: dict[str, str] = field(default_factory=dict)
    key: str = ""
    chapter: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "Provenance":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in m.items() if k in names})

    def markdown(self) -> str:
        """The provenance box as a MyST admonition (renders in the HTML site and the PDF)."""
        params = ", ".join(f"`{k} = {v!r}`" for k, v in sorted(self.parameters.items()))
        commit = self.commit if self.commit == "unknown" else self.commit[:12]
        lines = [
            ":::{admonition} Provenance of this page",
            ":class: note nscore-provenance",
            f"**Data cutoff** {self.cutoff} · **data version** `{self.data_version}` · "
            f"**built** {self.build_time} · **code commit** `{commit}`",
            "",
            f"**Parameters** {params}" if params else "**Parameters** none",
        ]
        lines += ["", SIMULATED_SENTENCE if self.simulated else REAL_SENTENCE]
        lines.append(":::")
        return "\n".join(lines)

    def html(self) -> str:
        """The same box as plain HTML (for front ends that do not render Markdown)."""
        params = ", ".join(f"{k} = {v!r}" for k, v in sorted(self.parameters.items()))
        sim = f"<p>{html.escape(SIMULATED_SENTENCE if self.simulated else REAL_SENTENCE)}</p>"
        return (
            '<div class="admonition note nscore-provenance"><p class="admonition-title">'
            "Provenance of this page</p>"
            f"<p><b>Data cutoff</b> {html.escape(self.cutoff)} · <b>data version</b> "
            f"<code>{html.escape(self.data_version)}</code> · <b>built</b> {html.escape(self.build_time)}"
            f" · <b>code commit</b> <code>{html.escape(self.commit[:12])}</code></p>"
            f"<p><b>Parameters</b> {html.escape(params)}</p>{sim}</div>"
        )


class ProvenanceBox:
    """Display object for the box; Jupyter shows it as Markdown only, so myst-nb renders the
    admonition natively (HTML output would take priority and would not reach the PDF)."""

    def __init__(self, provenance: Provenance):
        self.provenance = provenance

    def _repr_markdown_(self) -> str:
        return self.provenance.markdown()

    def __repr__(self) -> str:
        return self.provenance.markdown()


def current(cohort: Any = None, *, data_dir: str = "data", cutoff: str = "latest") -> Provenance:
    """Provenance of the running chapter.

    Under ``nscore build`` this is the context the pipeline recorded (``NSCORE_BUILD``); in an
    interactive session it is computed on the spot from ``cohort`` (``.cutoff``, ``.version``,
    ``.simulated``), the clock and git, with an empty key.

    Whether the data are simulated is always the loaded cohort's own flag when a cohort is given
    (``cohort.simulated``, read from the source.json of the cutoff the page is built for), so the
    box cannot call a real cutoff simulated even if the recorded context disagreed.
    """
    raw = os.environ.get(ENV_VAR)
    if raw:
        prov = Provenance.from_mapping(json.loads(raw))
        if cohort is not None and hasattr(cohort, "simulated"):
            from dataclasses import replace

            prov = replace(prov, simulated=bool(cohort.simulated))
        return prov
    return Provenance(
        cutoff=str(getattr(cohort, "cutoff", cutoff)),
        data_version=str(getattr(cohort, "version", "unknown")),
        simulated=bool(getattr(cohort, "simulated", False)),
        parameters={"data_dir": data_dir, "cutoff": cutoff},
        build_time=utc_now(),
        commit=code_commit(Path.cwd()),
        packages=package_versions(),
    )


def box(cohort: Any = None, *, data_dir: str = "data", cutoff: str = "latest") -> ProvenanceBox:
    """The provenance box chapters display first: cutoff, data version, build time, commit, parameters.

    Call as the last expression of the cell after ``cohort = versions.load(data_dir, cutoff)``::

        provenance.box(cohort, data_dir=data_dir, cutoff=cutoff)
    """
    return ProvenanceBox(current(cohort, data_dir=data_dir, cutoff=cutoff))

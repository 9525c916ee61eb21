"""Provenance of an executed chapter: which data, code, environment and parameters made it.

The pipeline (:mod:`nscore.build.pipeline`) records the same fields twice: in the executed notebook's
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


MODIFIED_SUFFIX = "-modified"
"""Appended to the commit when the working tree's sources differ from it (``git describe --dirty``)."""

#: Outputs of a build, not sources: a tree that differs from HEAD only here is not "modified".
_NOT_SOURCES = (":(exclude)chapters/*.ipynb", ":(exclude)_build")


def code_commit(root: str | os.PathLike | None = None) -> str:
    """The commit whose sources produce the pages: ``git rev-parse HEAD`` of the repository
    holding ``root``, with :data:`MODIFIED_SUFFIX` when a file under ``root`` differs from it
    (edited, staged, deleted or untracked and not ignored; the executed notebooks
    ``chapters/*.ipynb`` and ``_build/`` are outputs and do not count), so that a page made from
    uncommitted sources never names a commit as if it were that commit's. ``"unknown"`` without
    git or a repository.
    """
    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run(["git", *args], cwd=root or None, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None

    done = git("rev-parse", "HEAD")
    out = done.stdout.strip() if done is not None else ""
    if done is None or done.returncode != 0 or not out:
        return "unknown"
    status = git("status", "--porcelain", "--untracked-files=all", "--", ".", *_NOT_SOURCES)
    if status is None or status.returncode != 0 or status.stdout.strip():
        return out + MODIFIED_SUFFIX  # dirty, or its state could not be read: never claim clean
    return out


def split_commit(commit: str) -> tuple[str, bool]:
    """``(commit id, modified)`` of a recorded commit (see :func:`code_commit`)."""
    commit = str(commit or "unknown")
    if commit.endswith(MODIFIED_SUFFIX):
        return commit[: -len(MODIFIED_SUFFIX)], True
    return commit, False


def commit_label(commit: str) -> str:
    """Short form for pages: 12 hex digits, plus "(modified)" when the tree differed from it."""
    cid, modified = split_commit(commit)
    short = cid if cid == "unknown" else cid[:12]
    return short + (" (modified: uncommitted changes)" if modified else "")


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
        cid, modified = split_commit(self.commit)
        commit = f"`{cid if cid == 'unknown' else cid[:12]}`"
        if modified:
            commit += " **modified** (built from uncommitted changes to it)"
        lines = [
            ":::{admonition} Provenance of this page",
            ":class: note nscore-provenance",
            f"**Data cutoff** {self.cutoff} · **data version** `{self.data_version}` · "
            f"**executed** {self.build_time} · **code commit** {commit}",
            "",
            f"**Parameters** {params}" if params else "**Parameters** none",
        ]
        lines += ["", SIMULATED_SENTENCE if self.simulated else REAL_SENTENCE]
        lines.append(":::")
        return "\n".join(lines)

    def _commit_html(self) -> str:
        cid, modified = split_commit(self.commit)
        out = f"<code>{html.escape(cid if cid == 'unknown' else cid[:12])}</code>"
        return out + (" <b>modified</b> (built from uncommitted changes to it)" if modified else "")

    def html(self) -> str:
        """The same box as plain HTML (for front ends that do not render Markdown)."""
        params = ", ".join(f"{k} = {v!r}" for k, v in sorted(self.parameters.items()))
        sim = f"<p>{html.escape(SIMULATED_SENTENCE if self.simulated else REAL_SENTENCE)}</p>"
        return (
            '<div class="admonition note nscore-provenance"><p class="admonition-title">'
            "Provenance of this page</p>"
            f"<p><b>Data cutoff</b> {html.escape(self.cutoff)} · <b>data version</b> "
            f"<code>{html.escape(self.data_version)}</code> · <b>executed</b> {html.escape(self.build_time)}"
            f" · <b>code commit</b> {self._commit_html()}</p>"
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


# ---------------------------------------------------------------------------------------------
# The site as a whole: which code versions its pages were executed with, and when it was built.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRecord:
    """Provenance of one page of a site, read from its executed notebook's ``metadata.nscore``."""

    doc: str
    cutoff: str = ""
    data_version: str = ""
    simulated: bool | None = None
    commit: str = "unknown"
    executed: str = ""


@dataclass(frozen=True)
class SiteRecord:
    """The pages of one site with their provenance (pages without a notebook record are left out)."""

    pages: tuple[PageRecord, ...] = ()

    def commits(self) -> dict[str, list[PageRecord]]:
        """Recorded commit (with its modified flag) -> its pages, oldest execution first."""
        out: dict[str, list[PageRecord]] = {}
        for page in sorted(self.pages, key=lambda p: (p.executed, p.doc)):
            out.setdefault(page.commit, []).append(page)
        return out

    def newest(self) -> dict[str, Any]:
        """Cutoff, data version and simulated flag of the newest cutoff among the pages."""
        if not self.pages:
            return {}
        page = max(self.pages, key=lambda p: p.cutoff)
        return {"cutoff": page.cutoff, "data_version": page.data_version, "simulated": page.simulated}

    def statement(self) -> str:
        """One paragraph: the single code version of the site, or why there are several."""
        groups = self.commits()
        if not groups:
            return ""
        if len(groups) == 1:
            (commit, pages), = groups.items()
            return (f"Code version: all {len(pages)} pages of this site were executed with code commit "
                    f"{commit_label(commit)}.")

        def names(pages: list[PageRecord]) -> str:
            return ", ".join(Path(p.doc).name for p in pages)

        parts = [f"{commit_label(c)} (executed {pages[0].executed}"
                 + (f" to {pages[-1].executed}" if pages[-1].executed != pages[0].executed else "")
                 + f": {names(pages)})" for c, pages in groups.items()]
        return (f"Code versions: the pages of this site were executed with {len(groups)} different code "
                "commits, because a build re-executes only the chapters whose rebuild key changed "
                "(chapter source, data, nscore code, environment, parameters) and reuses the others "
                "as executed earlier: " + "; ".join(parts) + ".")


def page_record(doc: str, notebook: str | os.PathLike) -> PageRecord | None:
    """The provenance recorded in ``notebook`` (None when it has none: not built by nscore)."""
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {}).get("nscore")
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    return PageRecord(doc=doc, cutoff=str(meta.get("cutoff", "")), data_version=str(meta.get("data_version", "")),
                      simulated=meta.get("simulated"), commit=str(meta.get("commit") or "unknown"),
                      executed=str(meta.get("build_time", "")))


def site_record(root: str | os.PathLike, docs: list[str]) -> SiteRecord:
    """The :class:`SiteRecord` of the documents ``docs`` (``_toc.yml`` names) of the book at ``root``."""
    pages = [page_record(d, Path(root) / f"{d}.ipynb") for d in docs]
    return SiteRecord(tuple(p for p in pages if p is not None))


# --- Sphinx extension: the site build time in every box, the code versions in the appendix's ---

SITE_BUILT_CLASS = "nscore-site-built"
CODE_VERSIONS_CLASS = "nscore-code-versions"


def _annotate_boxes(app, doctree, docname) -> None:
    """``doctree-resolved``: each provenance box gets the site's build time; the box of the page
    named ``appendix`` gets :meth:`SiteRecord.statement` (one code version, or why several)."""
    from docutils import nodes

    boxes = [n for n in doctree.findall(nodes.Element) if "nscore-provenance" in n.get("classes", [])]
    if not boxes:
        return
    built = app.config.nscore_site_built or app.env.nscore_site_built
    record = site_record(app.srcdir, list(getattr(app.env, "found_docs", []) or []))
    for box in boxes:
        if any(SITE_BUILT_CLASS in c.get("classes", []) for c in box.children if isinstance(c, nodes.Element)):
            continue
        para = nodes.paragraph(classes=[SITE_BUILT_CLASS])
        para += nodes.strong(text="Site built ")
        para += nodes.Text(f"{built} (the page's notebook was executed at the time given above)")
        box += para
    # (the PDF's single page has every box in one tree: nscore.build.pdf adds the statement to the box it keeps)
    if Path(docname).name == "appendix" and app.builder.name != "singlehtml":
        statement = record.statement()
        if statement:
            target = boxes[-1]
            target += nodes.paragraph(text=statement, classes=[CODE_VERSIONS_CLASS])


def _stamp_build(app) -> None:
    """``builder-inited``: one build time for every page of this build."""
    app.env.nscore_site_built = utc_now()


def setup(app):
    """Sphinx extension ``nscore.report.provenance`` (listed in ``_config.yml``'s ``extra_extensions``)."""
    app.add_config_value("nscore_site_built", "", "env")  # fixed time for reproducible builds (tests)
    app.connect("builder-inited", _stamp_build)
    app.connect("doctree-resolved", _annotate_boxes)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""Figures of other studies as ARD rows: what the Discussion quotes, traced like every other number.

:func:`literature_rows` turns the figures of ``data/literature.yml`` (read by
:func:`nscore.data.literature.read_literature`) into rows of the analysis-results dataset: analysis
id ``literature.<citation key>.<endpoint>``, the publication's population, statistic and value,
method ``published, <citation key>``, and a label that says whether the figure was verified against
the publication. Nothing is computed: the rows carry the published numbers, so the Discussion
prints them through ``nscore.report.format`` with the ``{ard}`` role and a reader's hover shows
where each number comes from. They are the same at every cutoff (What changed finds no change).
"""

from __future__ import annotations

from nscore.analyses import ard

__all__ = ["literature_rows", "method", "analysis_id"]


def method(source: str) -> str:
    """The ARD method of a quoted figure: ``published, <citation key>``."""
    return f"published, {source}"


def analysis_id(source: str, endpoint: str) -> str:
    """``literature.<citation key>.<endpoint>``."""
    return f"literature.{source}.{endpoint}"


def literature_rows(literature) -> list[dict]:
    """One ARD row per quoted figure of ``literature`` (:class:`nscore.data.literature.Literature`).

    The label names the figure and, when the figure was not verified against the publication,
    says so ("not verified"); the statistic's sentence and what it was checked against are in
    ``data/literature.yml``.
    """
    out = []
    for f in literature.figures:
        label = f.label if f.verified else f"{f.label} (not verified against the publication)"
        out.append(ard.row(analysis_id(f.source, f.endpoint), f.stat, f.value, population=f.population,
                           endpoint=f.endpoint, group_var=f.group_var, group_level=f.group_level, unit=f.unit,
                           method=method(f.source), label=label))
    return out

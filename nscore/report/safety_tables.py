"""Display frames of the Safety page's tables beyond CRS and ICANS (results of
:mod:`nscore.analyses.toxicity`): every cell a traced number (:func:`nscore.report.trace.cell`)
read from the result's ARD rows and formatted by :mod:`nscore.report.format`.
"""

from __future__ import annotations

import pandas as pd

from nscore.analyses.toxicity import slug
from nscore.report import format as fmt
from nscore.report.trace import cell

__all__ = ["terms_display", "cytopenia_display", "causes_display"]

_LABELS = {"CRS": "CRS", "ICANS": "ICANS", "CYTOPENIA": "Cytopenias", "INFECTION": "Infections", "IEC-HS": "IEC-HS",
           "GVHD": "GVHD"}
_CAUSES = {"RELAPSE OR PROGRESSION": "Relapse or progression", "INFECTION": "Infection", "GVHD": "GVHD",
           "CRS": "CRS", "ICANS": "ICANS", "IEC-HS": "IEC-HS", "OTHER": "Other", "Unknown": "Unknown"}
ANY, G3 = "Any grade, n (%)", "Grade \u22653, n (%)"


def terms_display(terms, categories=None) -> pd.DataFrame:
    """Category rows (any term) and their terms, indented: any grade and grade >= 3, n (%)
    (:func:`nscore.analyses.toxicity.term_table`); ``categories`` limits the rows (default all)."""
    out = []
    for r in terms.table.itertuples(index=False):
        if categories is not None and r.category not in categories:
            continue
        base = f"safety.ae.{slug(r.category)}"
        suffix = f"|AEDECOD={r.term}" if r.term else ""
        label = _LABELS.get(r.category, r.category) if not r.term else "\u2003" + r.term
        out.append({"Category / term": label, ANY: cell(terms, base + suffix, fmt.n_percent),
                    G3: cell(terms, f"{base}.g3{suffix}", fmt.n_percent)})
    return pd.DataFrame(out, columns=["Category / term", ANY, G3])


def cytopenia_display(course) -> pd.DataFrame:
    """Rows: any cytopenia and each term; columns: the days read, n (%) of the patients alive and
    followed that day (:func:`nscore.analyses.toxicity.cytopenia_course`); a day nobody was
    followed to is left out."""
    t = course.table
    days = [d for d in course.days if int(t.loc[(t["term"] == "") & (t["day"] == d), "N"].iloc[0]) > 0]
    out = []
    for term in dict.fromkeys(t["term"]):
        aid = "safety.cytopenia.course" + (f".{slug(term)}" if term else "")
        row = {"Grade \u22653 cytopenia": term or "Any"}
        for d in days:
            row[f"Day {d}"] = cell(course, f"{aid}|DAY={d}", fmt.n_percent)
        out.append(row)
    n_row = {"Grade \u22653 cytopenia": "Alive and followed, n"}
    for d in days:
        n_row[f"Day {d}"] = cell(course, f"safety.cytopenia.course|DAY={d}|N", fmt.count)
    out.append(n_row)
    return pd.DataFrame(out)


def causes_display(deaths) -> pd.DataFrame:
    """Causes of death (:func:`nscore.analyses.toxicity.deaths`, collected causes): all deaths
    and deaths without a prior relapse, n (% of that column's deaths)."""
    out = []
    nrm = deaths.n_without_relapse
    for r in deaths.causes.itertuples(index=False):
        row = {"Cause of death": _CAUSES.get(r.cause, r.cause),
               "All deaths, n (%)": cell(deaths, f"deaths.cause|DTHCAUS={r.cause}", fmt.n_percent)}
        if nrm is not None:
            row["Without prior relapse, n (%)"] = cell(deaths, f"deaths.cause.nrm|DTHCAUS={r.cause}", fmt.n_percent)
        out.append(row)
    return pd.DataFrame(out)

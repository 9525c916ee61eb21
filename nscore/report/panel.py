"""The expert panel of the book (``data/experts.yml``): profiles and the overview table.

Rendered as Markdown (not HTML) so the profiles reach the PDF as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from IPython.display import Markdown

from nscore.errors import TableError
from nscore.report.tables import _inline

def _read_experts(path) -> list[dict]:
    import yaml

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    experts = (data or {}).get("experts")
    if not experts:
        raise TableError(f"{path}: no 'experts' list")
    return experts


def experts_study(path) -> str | None:
    """The study id (``study:`` in ``data/experts.yml``) whose publication the experts presented."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    study = data.get("study")
    return str(study) if study else None


def expert_overview(path) -> pd.DataFrame:
    """One row per expert of ``data/experts.yml``: name, role, first affiliation, first position."""
    rows = []
    for e in _read_experts(path):
        rows.append({"Investigator": f"{e['name']}, {e['degrees']}", "Role in the study": e["role_in_study"],
                     "Affiliation": (e.get("affiliations") or [""])[0],
                     "Current position": (e.get("positions") or [""])[0]})
    return pd.DataFrame(rows)


def expert_profiles(path) -> "Markdown":
    """The expert profiles of ``data/experts.yml`` as MyST admonitions (one per expert).

    Rendered as Markdown (not HTML) so the profiles reach the PDF as well.
    """
    import yaml
    from IPython.display import Markdown

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    experts = (data or {}).get("experts")
    if not experts:
        raise TableError(f"{path}: no 'experts' list")
    parts = []
    for e in experts:
        missing = [k for k in ("name", "degrees", "role_in_study", "summary", "affiliations", "positions")
                   if not e.get(k)]
        if missing:
            raise TableError(f"{path}: expert {e.get('name', '?')!r} lacks {', '.join(missing)}")
        lines = [f":::{{admonition}} {e['name']}, {e['degrees']}", ":class: tip nscore-expert", "",
                 f"*{e['role_in_study']}.*", "", e["summary"].strip(), ""]
        for title, key in (("Affiliations", "affiliations"), ("Current positions", "positions"),
                           ("Training and licensure", "training"), ("Professional service", "memberships"),
                           ("Honours", "honours")):
            items = e.get(key) or []
            if items:
                lines += [f"**{title}**", ""] + ["- " + _inline(str(i)) for i in items] + [""]
        lines.append(":::")
        parts.append("\n".join(lines))
    return Markdown("\n\n".join(parts))


#: ARD key of the number of presenting investigators (:func:`panel_rows`).
PANEL_KEY = "experts.panel|=|n"


def panel_rows(overview: pd.DataFrame) -> list[dict]:
    """The number of presenting investigators (:func:`expert_overview` rows) as the ARD row
    ``experts.panel|=|n``, so the experts page states it traced, like every count of the book."""
    from nscore.analyses import ard

    return [ard.row("experts.panel", "n", len(overview), population="presenting investigators",
                    method="profiles in data/experts.yml", label="Investigators who presented the pooled analysis")]

"""Intake checks of a new cutoff against the one before it, and how cutoffs are told apart on What changed.

A delivery can pass every data rule and still be a mistake: another study's export, a truncated
extract, a file from the wrong cutoff. :func:`warnings` compares the new cohort with the newest
stored cutoff before it and returns what looks wrong (counts only, never a patient id: the messages
reach terminals, logs and the published What changed page). ``nscore update`` refuses a delivery
with warnings unless ``--accept-warnings`` is passed; accepted warnings are recorded with the cutoff
in ``intake.json`` (:data:`INTAKE_FILE`).

The rest serves the What changed page: which cutoffs are simulated, whether two cutoffs share
patients, and the recorded warnings, as small functions returning a table or a sentence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

INTAKE_FILE = "intake.json"

#: A cohort whose size changes by more than this fraction of the previous cutoff's is flagged.
#: Follow-up adds few patients between cutoffs (the shipped ones add none); a quarter more or fewer
#: is more likely another extract than accrual.
COHORT_CHANGE = 0.25

#: The warnings, by code: what each one means (the page and the CLI say it in these words).
CODES = {
    "no_shared_subjects": "no patient (USUBJID) is shared with the previous cutoff",
    "subjects_missing": "patients of the previous cutoff are missing",
    "cohort_size_change": "the number of patients changed by more than the set fraction",
    "death_gone": "patients who had died at the previous cutoff are not dead in this one",
}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def warnings(new, previous, max_change: float = COHORT_CHANGE) -> list[dict[str, Any]]:
    """What looks like a mistake or another study in ``new`` compared with ``previous`` (cohorts).

    Each warning is ``{"code", "count", "message"}``; ``[]`` when ``previous`` is None. Messages
    hold counts only: patient ids never leave the data.
    """
    if previous is None:
        return []
    old_ids = set(previous.adsl["USUBJID"])
    new_ids = set(new.adsl["USUBJID"])
    shared = old_ids & new_ids
    prev_label, new_label = previous.cutoff.isoformat(), new.cutoff.isoformat()
    out = []
    if not shared:
        out.append({"code": "no_shared_subjects", "count": len(new_ids), "message":
                    f"no patient (USUBJID) of cutoff {new_label} ({_plural(len(new_ids), 'patient')}) is in the "
                    f"previous cutoff {prev_label} ({_plural(len(old_ids), 'patient')}): another study or another "
                    "extract?"})
    else:
        missing = len(old_ids - new_ids)
        if missing:
            out.append({"code": "subjects_missing", "count": missing, "message":
                        f"{_plural(missing, 'patient')} of the previous cutoff {prev_label} "
                        f"{'is' if missing == 1 else 'are'} missing from cutoff {new_label} "
                        f"(of {len(old_ids)}; {len(shared)} kept)"})
    if old_ids and abs(len(new_ids) - len(old_ids)) > max_change * len(old_ids):
        change = (len(new_ids) - len(old_ids)) / len(old_ids)
        out.append({"code": "cohort_size_change", "count": len(new_ids) - len(old_ids), "message":
                    f"the cohort changed from {len(old_ids)} to {len(new_ids)} patients ({change:+.0%}), "
                    f"more than the {max_change:.0%} allowed without a warning"})
    died = set(previous.adsl.loc[previous.adsl["DTHFL"] == "Y", "USUBJID"])
    alive_now = set(new.adsl.loc[new.adsl["DTHFL"] != "Y", "USUBJID"]) & died
    gone = died - new_ids
    if shared and (alive_now or gone):
        n = len(alive_now) + len(gone)
        out.append({"code": "death_gone", "count": n, "message":
                    f"{_plural(n, 'patient')} recorded as dead at the previous cutoff {prev_label} "
                    f"{'is' if n == 1 else 'are'} not dead at cutoff {new_label} "
                    f"({len(alive_now)} with DTHFL = N, {len(gone)} no longer in the data)"})
    return out


def record(new, previous, found: list[dict], max_change: float = COHORT_CHANGE) -> str:
    """The bytes of ``intake.json`` for accepted warnings (deterministic: no clock, sorted keys)."""
    content = {
        "cutoff": new.cutoff.isoformat(),
        "compared_with": previous.cutoff.isoformat() if previous is not None else None,
        "accepted": True,
        "max_cohort_change": max_change,
        "warnings": found,
    }
    return json.dumps(content, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def read(directory) -> dict | None:
    """The intake record stored with a cutoff (``<cutoff dir>/intake.json``), or None."""
    path = Path(directory) / INTAKE_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# What changed: simulated or real, same patients or not, accepted warnings
# --------------------------------------------------------------------------------------------
def is_simulated(manifest: dict) -> bool:
    """Whether a stored cutoff is simulated, from its manifest's ``source`` (source.json)."""
    return (manifest.get("source") or {}).get("simulated") is True


def origin(manifest: dict) -> str:
    """'simulated' or 'real' for a stored cutoff (from its manifest)."""
    return "simulated" if is_simulated(manifest) else "real"


def origins_sentence(manifests: Iterable[dict]) -> str:
    """One sentence saying which of the compared cutoffs are simulated and which real."""
    manifests = list(manifests)
    sim = [m["cutoff"] for m in manifests if is_simulated(m)]
    real = [m["cutoff"] for m in manifests if not is_simulated(m)]
    if not manifests:
        return "No data cutoff is stored."
    if not real:
        return ("The data of every cutoff compared here are simulated." if len(sim) > 1
                else "The data of this cutoff are simulated.")
    if not sim:
        return ("The data of every cutoff compared here are real patient data." if len(real) > 1
                else "The data of this cutoff are real patient data.")
    return (f"Simulated and real data are stored side by side: {_join(sim)} "
            f"{'is' if len(sim) == 1 else 'are'} simulated, {_join(real)} "
            f"{'is' if len(real) == 1 else 'are'} real patient data; a change between the two kinds is a "
            "change of data source, not of follow-up.")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def shared_subjects(a, b) -> int:
    """Patients (USUBJID) two cohorts have in common."""
    return len(set(a.adsl["USUBJID"]) & set(b.adsl["USUBJID"]))


def _pair_sentence(a, b) -> tuple[str, str]:
    """(kind, sentence) for two consecutive cutoffs: "same", "mixed" or "different"."""
    shared = shared_subjects(a, b)
    na, nb = len(a.adsl), len(b.adsl)
    ca, cb = a.cutoff.isoformat(), b.cutoff.isoformat()
    if shared == 0:
        return "different", (f"The cutoffs {ca} and {cb} share no patient: they are different cohorts, so the "
                             "differences between them are differences between cohorts, not the result of "
                             "longer follow-up.")
    if shared == na == nb:
        return "same", f"The cutoffs {ca} and {cb} hold the same {_plural(nb, 'patient')}, followed for longer."
    return "mixed", (f"Of the {_plural(nb, 'patient')} at {cb}, {shared} {'was' if shared == 1 else 'were'} "
                     f"already in the data at {ca} ({_plural(na, 'patient')}); the change between them mixes "
                     "longer follow-up with a change of cohort.")


def cohorts_sentence(cohorts: list) -> str:
    """How consecutive compared cutoffs relate: the same patients followed longer, or different cohorts.

    Why: a change between two cohorts that share no patient is not follow-up; the page must say so
    instead of presenting it as such.
    """
    if len(cohorts) < 2:
        return "Only one data cutoff is stored up to this version, so there is no change to show yet."
    pairs = [_pair_sentence(a, b) for a, b in zip(cohorts, cohorts[1:])]
    if all(kind == "same" for kind, _ in pairs):
        n = len(cohorts[-1].adsl)
        return (f"Every cutoff compared here holds the same {_plural(n, 'patient')}, followed for longer."
                if len(cohorts) > 2 else pairs[0][1])
    return " ".join(sentence for kind, sentence in pairs if kind != "same")


def warnings_table(data_dir, cutoffs) -> pd.DataFrame:
    """The intake warnings accepted for ``cutoffs``: cutoff, compared with, warning (counts only)."""
    from nscore.data import versions

    rows = []
    for c in cutoffs:
        rec = read(versions.cutoff_dir(data_dir, c)) or {}
        for w in rec.get("warnings") or []:
            rows.append({"Data cutoff": rec.get("cutoff", str(c)), "Compared with": rec.get("compared_with") or "",
                         "Warning accepted at intake": _sentence_case(str(w.get("message", w.get("code", ""))))})
    return pd.DataFrame(rows, columns=["Data cutoff", "Compared with", "Warning accepted at intake"])


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def warnings_sentence(table: pd.DataFrame) -> str:
    """One line introducing the accepted intake warnings, or saying there were none."""
    if table.empty:
        return "No intake warning was raised when these cutoffs were stored."
    n, cutoffs = len(table), list(dict.fromkeys(table["Data cutoff"]))
    return (f"When {_join(cutoffs)} {'was' if len(cutoffs) == 1 else 'were'} stored, the data looked like a "
            f"mistake or another study ({_plural(n, 'intake warning')}); the delivery was accepted explicitly "
            "(nscore update --accept-warnings). The warnings, as recorded with the data, are listed below.")


def cutoffs_table(data_dir, cohorts: list) -> pd.DataFrame:
    """One row per compared cutoff: simulated or real (source.json via the manifest), patients, shared."""
    from nscore.data import versions

    rows, prev = [], None
    for cohort in cohorts:
        m = versions.read_manifest(versions.cutoff_dir(data_dir, cohort.cutoff))
        rows.append({
            "Data cutoff": cohort.cutoff.isoformat(),
            "Data": origin(m),
            "Patients": len(cohort.adsl),
            "Patients shared with the previous cutoff": "first cutoff" if prev is None else shared_subjects(prev, cohort),
        })
        prev = cohort
    return pd.DataFrame(rows, columns=["Data cutoff", "Data", "Patients", "Patients shared with the previous cutoff"])


def version_list(data_dir, cutoffs, current=None):
    """``tables.version_links`` with each version's data origin: "(simulated data)" or "(real data)".

    Same markup and relative links as :func:`nscore.report.tables.version_links` (the pipeline's stubs make
    ``../v/<cutoff>/index.html`` work from every copy of the site).
    """
    from IPython.display import Markdown

    from nscore.data import versions

    current = None if current is None else (current.isoformat() if hasattr(current, "isoformat") else str(current))
    items = []
    for c in cutoffs:
        iso = c.isoformat() if hasattr(c, "isoformat") else str(c)
        kind = origin(versions.read_manifest(versions.cutoff_dir(data_dir, iso)))
        mark = " (this version)" if iso == current else ""
        items.append(f'<li><a class="nscore-version-link" href="../v/{iso}/index.html">Data cutoff {iso}</a>'
                     f" ({kind} data){mark}</li>")
    return Markdown('<ul class="nscore-versions">\n' + "\n".join(items) + "\n</ul>\n")

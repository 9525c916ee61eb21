"""Intake checks of a new cutoff against the one before it, and how cutoffs are told apart on What changed.

A delivery can pass every data rule and still be a mistake: another study's export, a truncated
extract, a file from the wrong cutoff. :func:`warnings` compares the new cohort with the newest
stored cutoff before it and returns what looks wrong (counts only, never a patient id: the messages
reach terminals, logs and the published What changed page). ``nscore update`` refuses a delivery
with warnings unless ``--accept-warnings`` is passed; accepted warnings are recorded with the cutoff
in ``intake.json`` (:data:`INTAKE_FILE`).

It also tells cutoffs apart (simulated or real, patients shared); the What changed page's tables
and sentences about them are in :mod:`nscore.report.cutoffs`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
# telling cutoffs apart: simulated or real, same patients or not (the words are in
# nscore.report.cutoffs)
# --------------------------------------------------------------------------------------------
def is_simulated(manifest: dict) -> bool:
    """Whether a stored cutoff is simulated, from its manifest's ``source`` (source.json)."""
    return (manifest.get("source") or {}).get("simulated") is True


def origin(manifest: dict) -> str:
    """'simulated' or 'real' for a stored cutoff (from its manifest)."""
    return "simulated" if is_simulated(manifest) else "real"


def shared_subjects(a, b) -> int:
    """Patients (USUBJID) two cohorts have in common."""
    return len(set(a.adsl["USUBJID"]) & set(b.adsl["USUBJID"]))

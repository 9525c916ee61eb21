"""The patient flow per trial, as a table (:func:`nscore.analyses.cohort.patient_flow` ``by_trial``):
one row per step the data record, one column per trial and the total; every cell a traced count.
"""

from __future__ import annotations

import pandas as pd

from nscore.report import format as fmt
from nscore.report.trace import cell

__all__ = ["STEP_LABELS", "flow_by_trial_display", "shows_by_trial"]

#: Row labels of the steps, in flow order.
STEP_LABELS = {"enrolled": "Enrolled", "apheresed": "Apheresis", "manufactured": "Product manufactured",
               "infused": "Infused", "evaluable": "Efficacy-evaluable", "responders": "Responders (CR/CRi/PR)",
               "cr_cri": "CR/CRi"}


def shows_by_trial(flow) -> bool:
    """Whether a per-trial table says anything: patients in two or more trials."""
    bt = getattr(flow, "by_trial", None)
    return bt is not None and bt.loc[bt["n"] > 0, "trial"].nunique() >= 2


def flow_by_trial_display(flow) -> pd.DataFrame:
    """Steps (rows) by trial (columns) and overall, counts from the ARD rows ``flow.<step>`` (per
    trial: group_var STUDYID). A trial that enrolled nobody at any recorded step is left out."""
    bt = flow.by_trial
    trials = [t for t in dict.fromkeys(bt["trial"]) if bt.loc[bt["trial"] == t, "n"].sum() > 0]
    out = []
    for key in [k for k in STEP_LABELS if k in set(bt["key"])]:
        row = {"Step": STEP_LABELS[key]}
        for t in trials:
            row[t] = cell(flow, f"flow.{key}|STUDYID={t}", fmt.count)
        row["All trials"] = cell(flow, f"flow.{key}", fmt.count)
        out.append(row)
    return pd.DataFrame(out)

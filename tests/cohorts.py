"""Cohorts shared by the analysis tests: a hand-built 8-patient cohort whose every count is worked
out by hand, and the shipped cutoffs as the chapters load them."""

from __future__ import annotations

import types
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nscore.data import versions
from nscore.data.study import read_study

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_CUTOFF = "2025-08-01"

# --------------------------------------------------------------------------- hand-built cohort
# id  diag   age sex prior bminv blast dose  saf eff hct  BOR  MRD  CRS ICANS
PATIENTS = [
    ("0001", "T-ALL", 10, "M", 0, "Y", 50.0, "DL1", 5e5, "Y", "Y", "Y", "CR", "NEGATIVE", 2, 0),
    ("0002", "T-ALL", 30, "F", 1, "Y", 10.0, "DL2", 1e6, "Y", "Y", "Y", "CRi", "POSITIVE", 3, 3),
    ("0003", "T-LBL", 25, "M", 0, "N", None, "DL2", 1e6, "Y", "Y", "Y", "PR", None, 1, 0),
    ("0004", "T-LBL", 17, "M", 2, "Y", 25.0, "DL3", 2e6, "Y", "Y", "N", "NR", None, 4, 1),
    ("0005", "AML", 40, "F", 1, "Y", 5.0, "DL1", 5e5, "Y", "N", "N", None, None, 0, 0),
    ("0006", "MPAL", 60, "M", 0, "N", None, "DL2", 1e6, "Y", "Y", "Y", "CR", None, 1, 0),
    ("0007", "PTCL", 45, "M", 0, "N", None, "DL3", 2e6, "Y", "Y", "N", "NE", None, 2, 0),
    ("0008", "T-ALL", 8, "F", 0, "Y", 80.0, "DL2", 1e6, "Y", "Y", "Y", "CR", "NEGATIVE", 5, 4),
]
# (CRS onset ASTDY, CRS ADURN) per patient with CRS; ICANS (ASTDY, ADURN)
_CRS_TIMING = {"0001": (2, 5), "0002": (1, 8), "0003": (4, 3), "0004": (2, 10), "0006": (8, 2),
               "0007": (3, 4), "0008": (1, None)}
_ICANS_TIMING = {"0002": (6, 4), "0004": (9, 2), "0008": (5, None)}


def tiny_cohort():
    """8 patients (see table above); a stand-in with the Cohort's frame attributes (duck typing)."""
    cut = pd.Timestamp("2025-08-01")
    adsl, adrs, adtte, adae = [], [], [], []
    for i, (sid, diag, age, sex, prior, bminv, blast, dl, dose, saf, eff, hct, bor, mrd, crs, icans) in \
            enumerate(PATIENTS):
        uid = f"NCT04572308-{sid}"
        trt = pd.Timestamp("2024-01-01") + pd.Timedelta(days=10 * i)
        dead = crs == 5
        dth = trt + pd.Timedelta(days=20) if dead else pd.NaT
        adsl.append({
            "STUDYID": "NCT04572308", "USUBJID": uid, "SUBJID": sid, "AGE": age, "SEX": sex, "DIAG": diag,
            "PRIORHCT": prior, "BMINV": bminv, "BMBLAST": blast, "DOSELVL": dl, "DOSEKG": dose,
            "TRTSDT": trt, "SAFFL": saf, "EFFFL": eff, "HCTFL": hct,
            "HCTDT": trt + pd.Timedelta(days=40 + 10 * i) if hct == "Y" else pd.NaT,
            "DTHFL": "Y" if dead else "N", "DTHDT": dth, "LSTALVDT": dth if dead else cut, "DCUTDT": cut,
        })
        if eff == "Y":
            adrs.append({"STUDYID": "NCT04572308", "USUBJID": uid, "PARAMCD": "BOR",
                         "PARAM": "Best overall response", "AVALC": bor,
                         "AVAL": ["CR", "CRi", "PR", "NR", "NE"].index(bor) + 1,
                         "ADT": trt + pd.Timedelta(days=28), "MRDSTAT": mrd})
        end = dth if dead else cut
        for p in ("OS", "PFS"):
            adtte.append({"STUDYID": "NCT04572308", "USUBJID": uid, "PARAMCD": p, "STARTDT": trt, "ADT": end,
                          "AVAL": (end - trt).days, "CNSR": 0 if dead else 1,
                          "EVNTDESC": "DEATH" if dead else None,
                          "CNSDTDSC": None if dead else "ALIVE AT LAST CONTACT"})
        for cat, grade, timing in (("CRS", crs, _CRS_TIMING), ("ICANS", icans, _ICANS_TIMING)):
            if grade:
                astdy, adurn = timing[sid]
                adae.append({"STUDYID": "NCT04572308", "USUBJID": uid, "AECAT": cat, "AETOXGR": grade,
                             "ASTDY": astdy, "ADURN": adurn})
    return types.SimpleNamespace(adsl=pd.DataFrame(adsl), adrs=pd.DataFrame(adrs), adtte=pd.DataFrame(adtte),
                                 adae=pd.DataFrame(adae), cutoff=date(2025, 8, 1), simulated=True,
                                 study=read_study(ROOT / "data" / "study.yml"))


def shipped_cohort(cutoff: str = PUBLISHED_CUTOFF):
    """A shipped cutoff (in the repository: a missing one is an error), loaded the way chapters load it."""
    return versions.load(ROOT / "data", cutoff)

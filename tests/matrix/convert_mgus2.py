"""Convert R ``survival::mgus2`` (1,384 real Mayo Clinic MGUS patients) into this project's delivery format.

What the source is
------------------
``survival::mgus2`` (R package ``survival``, ``data(cancer)``), as its help page (``?mgus2``) says:
"Natural history of 1341 sequential patients with monoclonal gammopathy of undetermined
significance (MGUS). This is a superset of the 'mgus' data, at a later point in the accrual
process"; "A data frame with 1384 observations"; "containing enrollment through 1994 and follow-up
through 1999"; Source: "Mayo Clinic data courtesy of Dr. Robert Kyle. All patient identifiers have
been removed, age rounded to the nearest year, and follow-up times rounded to the nearest month."
Reference: R. Kyle, T. Therneau, V. Rajkumar, J. Offord, D. Larson, M. Plevak, and L. J. Melton
III, A long-term study of prognosis in monoclonal gammopathy of undetermined significance. New Engl
J Med, 346:564-569 (2002). These are **real patients** (de-identified, rounded), unlike
``survival::myeloid``, which its authors simulated. (The help text says 1341 patients; the data
frame has 1384 rows with 1384 distinct ids; we use the rows.)

Columns: ``id``, ``age`` (years at diagnosis), ``sex`` (F/M), ``dxyr`` (year of diagnosis),
``hgb`` (haemoglobin), ``creat`` (creatinine), ``mspike`` (size of the monoclonal serum spike),
``ptime``/``pstat`` (months to progression to a plasma-cell malignancy (PCM) or last contact; 1 =
progressed), ``futime``/``death`` (months to death or last contact; 1 = died).

The data are exported at run time (``Rscript -e 'write.csv(survival::mgus2, ...)'``), never
committed, and converted here.

Forced choices (the data hold a diagnosis year and month counts; the format wants dates and more)
-------------------------------------------------------------------------------------------------
- **Not a treatment study.** It is an observational natural-history cohort: nobody was treated.
  The format's "infusion date (day 0)" TRTSDT is the **date of diagnosis** (the data's time origin);
  SAFFL = Y for everyone (the format gives survival rows only to SAFFL = Y patients); ``study.yml``
  ``therapy: "no treatment (observation after diagnosis)"`` (the prose's product name has no true
  value here: this says what happened).
- **Diagnosis** ``MGUS`` ("monoclonal gammopathy of undetermined significance") for everyone, with
  ``criteria: leukemia``. The format knows only leukemia and lymphoma response criteria, and neither
  fits a plasma-cell disorder (IMWG criteria, serum M-protein and marrow plasma cells). ``leukemia``
  is the less wrong: like IMWG it is marrow/blood based, whereas lymphoma criteria are imaging
  based. No response is assessed in these data, so no analysis reads it.
- **One "trial", a made-up id** ``MGUS2`` (STUDYID); SUBJID = ``id`` zero-padded to 4 digits;
  USUBJID = ``MGUS2-<SUBJID>`` (``usubjid_is_studyid_subjid: true``, ``subject_id_pattern:
  "^MGUS2-[0-9]{4}$"``, ``subject_number_pattern: "^[0-9]{4}$"``).
- **Day 0 on a calendar**: TRTSDT = **1 January of** ``dxyr``. The year is all the data give. 1 January
  is the usual imputation of a year-only start date, and it is the only choice under which every
  derived date stays inside the documented follow-up ("through 1999"): the latest last contact is
  1999-12-02; with 1 July (mid-year) 16 patients' last dates would fall in 2000. All patients of
  one year share day 0 (no ordering within a year is known). ``first_infusion`` is not set (no study
  window: enrolment 1960-1994 is described by the data).
- **Months to days**: ``days = floor(months * 30.4375 + 0.5)`` (30.4375 = 365.25 / 12; round half
  up, written out because Python's and R's ``round`` round halves to even, and 8 months =
  243.5 days exactly). Monotone, so every Kaplan-Meier median in days is R's median in months
  converted the same way (when R does not average two times). ``MONTH_DAYS``, :func:`months_to_days`.
- **Cutoff** DCUTDT = **1999-12-31**, the end of the documented follow-up ("through 1999"), in the
  past; every date of the data is on or before it.
- **AGE** = ``age`` (years at diagnosis = at day 0; 24 to 96); **SEX** = ``sex``.
- **Death**: DTHFL = Y and DTHDT = TRTSDT + days(futime) when ``death`` = 1 (963 patients).
  **LSTALVDT** = TRTSDT + days(futime) for everyone (for a death the death date, the latest date the
  data can place them alive; rounded months do not give an earlier one).
- **OS**: ADT = TRTSDT + days(futime), AVAL = ADT - TRTSDT, CNSR = 1 - death; EVNTDESC DEATH,
  CNSDTDSC ALIVE AT LAST CONTACT.
- **PFS** = the first of progression to a plasma-cell malignancy (``pstat`` = 1 at ``ptime``:
  EVNTDESC "RELAPSE OR PROGRESSION", 115 patients) or death (``death`` = 1 at ``futime``: DEATH, 860
  patients without a progression), else censored at days(ptime) (= days(futime) in these data).
  ``ptime`` <= ``futime`` always, so PFS is never longer than OS; 9 progressions fall in the month
  of death or last contact (same day after conversion, allowed).
- **No response assessment**: EFFFL = N for everyone and ``adrs.csv`` holds only its header (the
  data model's columns without MRDSTAT: not collected).
- **No transplant variables**: HCTFL and HCTDT absent (not collected). **No dose**: PRIORHCT,
  BMINV, BMBLAST, DOSELVL, DOSEKG absent; ``dose_levels: []``.
- **No ADAE file**; ``study.yml`` ``adverse_events: []`` (not collected).
- **Extra sponsor columns**: ADSL ``hgb``, ``creat``, ``mspike`` as in R (lower case, empty where R
  has NA: 13, 30 and 11 patients). Used by no analysis; the data layer must accept them and list
  them as not used (``cohort.notes``).
- ``source.json``: ``simulated: false``, the citation, the help page's description and source.
- No ``published:`` block (nothing published to reproduce).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .convert_myeloid import RNotAvailable

STUDYID = "MGUS2"
#: Days per month: 365.25 / 12.
MONTH_DAYS = 30.4375
#: The end of the documented follow-up ("enrollment through 1994 and follow-up through 1999").
CUTOFF = date(1999, 12, 31)
SUBJECT_ID_PATTERN = "^MGUS2-[0-9]{4}$"
R_HELP_DESCRIPTION = ("Natural history of 1341 sequential patients with monoclonal gammopathy of undetermined "
                      "significance (MGUS). This is a superset of the 'mgus' data, at a later point in the "
                      "accrual process")
R_HELP_DETAILS = "This is an extension of the study found in the 'mgus' data set, containing enrollment through 1994 and follow-up through 1999."
R_HELP_SOURCE = ("Mayo Clinic data courtesy of Dr. Robert Kyle. All patient identifiers have been removed, "
                 "age rounded to the nearest year, and follow-up times rounded to the nearest month.")
CITATION = ("R. Kyle, T. Therneau, V. Rajkumar, J. Offord, D. Larson, M. Plevak, and L. J. Melton III. "
            "A long-term study of prognosis in monoclonal gammopathy of undetermined significance. "
            "N Engl J Med 2002;346:564-569")
COLUMNS = ["id", "age", "sex", "dxyr", "hgb", "creat", "mspike", "ptime", "pstat", "futime", "death"]
ADSL_COLUMNS = ["STUDYID", "USUBJID", "SUBJID", "AGE", "SEX", "DIAG", "TRTSDT", "SAFFL", "EFFFL",
                "DTHFL", "DTHDT", "LSTALVDT", "DCUTDT", "hgb", "creat", "mspike"]
ADRS_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT"]
ADTTE_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR",
                 "EVNTDESC", "CNSDTDSC"]
#: Columns of ADSL no analysis uses (delivered as in R).
EXTRA_COLUMNS = {"adsl": ["hgb", "creat", "mspike"]}

STUDY = {
    "id": "MAYO-MGUS2",
    "title": "Natural history of monoclonal gammopathy of undetermined significance (Mayo Clinic, R survival::mgus2)",
    "therapy": "no treatment (observation after diagnosis)",
    "subject_id_pattern": SUBJECT_ID_PATTERN,
    "subject_number_pattern": "^[0-9]{4}$",
    "usubjid_is_studyid_subjid": True,
    "trials": [{"id": STUDYID, "name": "Mayo Clinic MGUS cohort, Kyle et al. 2002 (made-up id)"}],
    "diagnoses": [{"code": "MGUS", "name": "monoclonal gammopathy of undetermined significance",
                   "criteria": "leukemia"}],
    "dose_levels": [],
    "adverse_events": [],
}


def months_to_days(months) -> np.ndarray:
    """Whole days for month counts: floor(months * 30.4375 + 0.5) (round half up)."""
    return np.floor(np.asarray(months, dtype=float) * MONTH_DAYS + 0.5).astype("int64")


def export_mgus2(directory: Path) -> Path:
    """Write ``survival::mgus2`` as ``mgus2.csv`` into ``directory`` with Rscript; its path."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise RNotAvailable("Rscript not found (install r-base-core and r-cran-survival)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "mgus2.csv"
    code = f'write.csv(survival::mgus2, file={json.dumps(str(out))}, row.names=FALSE)'
    proc = subprocess.run([rscript, "--vanilla", "-e", code], capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        raise RNotAvailable(f"Rscript could not export survival::mgus2: {proc.stderr.strip()[-500:]}")
    return out


def _iso(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m-%d").where(ts.notna(), "")


def _decimal(values: pd.Series) -> pd.Series:
    """A measurement as R prints it ("13.1"), empty where R has NA."""
    return values.map(lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))))


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def convert(raw: pd.DataFrame, out_dir: Path) -> Path:
    """Write adsl/adrs/adtte.csv, study.yml and source.json for ``raw`` (the mgus2 columns)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    d = raw[COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    n = len(d)
    if not d["id"].is_unique or d["id"].max() > 9999:
        raise ValueError("mgus2: ids must be unique and at most 4 digits")
    if (d["ptime"] > d["futime"]).any():
        raise ValueError("mgus2: ptime after futime")
    day = pd.to_timedelta
    trtsdt = pd.to_datetime(d["dxyr"].astype("int64").astype(str) + "-01-01")
    os_days = months_to_days(d["futime"])
    pfs_days = months_to_days(d["ptime"])
    end = trtsdt + day(os_days, unit="D")
    dcut = pd.Timestamp(CUTOFF)
    if end.max() > dcut or CUTOFF >= date.today():
        raise ValueError(f"mgus2: a date after the cutoff {CUTOFF} ({end.max().date()}), or the cutoff in the future")

    subjid = d["id"].astype("int64").astype(str).str.zfill(4)
    usubjid = STUDYID + "-" + subjid
    died = d["death"] == 1
    progressed = d["pstat"] == 1
    if not set(d["sex"]) <= {"F", "M"}:
        raise ValueError("mgus2: sex other than F/M")
    adsl = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "SUBJID": subjid, "AGE": d["age"].astype("int64"),
        "SEX": d["sex"], "DIAG": "MGUS", "TRTSDT": _iso(trtsdt), "SAFFL": "Y", "EFFFL": "N",
        "DTHFL": died.map({True: "Y", False: "N"}), "DTHDT": _iso(end.where(died)), "LSTALVDT": _iso(end),
        "DCUTDT": dcut.strftime("%Y-%m-%d"),
        "hgb": _decimal(d["hgb"]), "creat": _decimal(d["creat"]), "mspike": _decimal(d["mspike"]),
    })[ADSL_COLUMNS]

    adrs = pd.DataFrame(columns=ADRS_COLUMNS)  # nobody is efficacy-evaluable: the header only

    os_rows = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "PARAMCD": "OS", "PARAM": "Overall survival (days)",
        "STARTDT": _iso(trtsdt), "ADT": _iso(end), "AVAL": os_days,
        "CNSR": (1 - d["death"]).astype("int64"), "EVNTDESC": died.map({True: "DEATH", False: ""}),
        "CNSDTDSC": died.map({True: "", False: "ALIVE AT LAST CONTACT"}),
    })
    pfs_event = progressed | died
    pfs_aval = np.where(progressed, pfs_days, np.where(died, os_days, pfs_days))
    pfs_rows = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "PARAMCD": "PFS", "PARAM": "Progression-free survival (days)",
        "STARTDT": _iso(trtsdt), "ADT": _iso(trtsdt + day(pfs_aval, unit="D")), "AVAL": pfs_aval,
        "CNSR": (~pfs_event).astype("int64"),
        "EVNTDESC": pd.Series("", index=d.index).mask(died, "DEATH").mask(progressed, "RELAPSE OR PROGRESSION"),
        "CNSDTDSC": pfs_event.map({True: "", False: "ALIVE AT LAST CONTACT"}),
    })
    adtte = pd.concat([os_rows, pfs_rows]).sort_values(["USUBJID", "PARAMCD"], kind="stable")[ADTTE_COLUMNS]

    _write(adsl, out_dir / "adsl.csv")
    _write(adrs, out_dir / "adrs.csv")
    _write(adtte, out_dir / "adtte.csv")
    for stale in out_dir.glob("adae.*"):
        stale.unlink()
    source = {
        "simulated": False,
        "origin": "R package survival, dataset mgus2 (survival::mgus2), exported with write.csv: "
                  "real patients of the Mayo Clinic, de-identified",
        "origin_documentation": {"description": R_HELP_DESCRIPTION, "details": R_HELP_DETAILS,
                                 "source": R_HELP_SOURCE},
        "reference": CITATION,
        "converter": "tests/matrix/convert_mgus2.py",
        "n": int(n),
        "cutoff": CUTOFF.isoformat(),
        "time_origin": "date of diagnosis, imputed as 1 January of the year of diagnosis (dxyr)",
        "months_to_days": f"floor(months * {MONTH_DAYS} + 0.5)",
    }
    (out_dir / "source.json").write_text(json.dumps(source, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    (out_dir / "study.yml").write_text(
        "# Study definition of the converted survival::mgus2 cohort (tests/matrix/convert_mgus2.py).\n"
        + yaml.safe_dump(STUDY, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out_dir


def build_mgus2(out_dir: Path) -> Path:
    """Export ``survival::mgus2`` with Rscript and convert it into ``out_dir``; returns ``out_dir``."""
    out_dir = Path(out_dir)
    raw_dir = out_dir.parent / f".{out_dir.name}-r-export"
    raw = pd.read_csv(export_mgus2(raw_dir))
    shutil.rmtree(raw_dir, ignore_errors=True)
    return convert(raw, out_dir)

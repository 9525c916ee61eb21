"""Convert R ``survival::myeloid`` (646 simulated AML patients) into this project's delivery format.

What the source is
------------------
``survival::myeloid`` (R package ``survival``, ``data(cancer)``): 646 patients shaped like a
two-arm acute myeloid leukaemia trial, one row each: ``id`` (1-646), ``trt`` (arm A/B), ``sex`` (f/m),
``futime`` (days to death or last follow-up), ``death`` (1 = died at ``futime``), ``txtime`` (day
of haematopoietic stem-cell transplant), ``crtime`` (day of complete response), ``rltime`` (day of
relapse); NA = did not happen. **The data are simulated by the survival package's authors**: the
help page (``?myeloid``) says "This simulated data set is based on a trial in acute myeloid
leukemia. The correlation between within-subject event times strongly resembles that from an
actual trial, but none of the actual data values are from that source." So ``source.json`` says
``simulated: true``, names the generator (the R survival package's authors, not nscore) and quotes
the help page. It is still an external delivery nobody here made, shaped like another study's
export (one trial, AML only, no ADAE, many optional variables absent); the matrix's real-patient
cohort is ``survival::mgus2`` (:mod:`matrix.convert_mgus2`).

The data are exported at run time (``Rscript -e 'write.csv(survival::myeloid, ...)'``), never
committed, and converted here.

Forced choices (the data hold day counts only; the format wants dates and more)
-------------------------------------------------------------------------------
- **One trial, a made-up id** ``MYELOID`` (STUDYID). USUBJID = ``MYELOID-<id, 4 digits>``
  (``MYELOID-0001`` .. ``MYELOID-0646``); ``study.yml`` sets ``subject_id_pattern:
  "^MYELOID-[0-9]{4}$"`` and ``usubjid_is_studyid_subjid: false``. No SUBJID column.
- **Day 0 (TRTSDT)**: the data's time origin (study entry), placed on a calendar: patient ``id``
  enters on ``ORIGIN + round((id - 1) * ACCRUAL_DAYS / 645)``, i.e. evenly over a three-year
  accrual window 2010-01-04 .. 2013-01-03 in id order. The dates are invented; every interval of
  the source is kept exactly (AVAL = futime etc.). ``study.yml`` ``first_infusion`` = ORIGIN.
- **Cutoff** DCUTDT = the latest date in the data (max TRTSDT + futime): 2019-07-20, in the past.
- **Response** (ADRS, every patient evaluable, EFFFL = SAFFL = Y): CR (AVAL 1) with ADT = TRTSDT +
  crtime when ``crtime`` is present, else NR (AVAL 4) with ADT **empty** (the data hold no date of
  the assessment that found no CR). No MRDSTAT column (not collected).
- **Transplant**: HCTFL = Y and HCTDT = TRTSDT + txtime when ``txtime`` is present. Kept as they are
  when txtime <= crtime (12 patients; 1 on the CR day): a consolidation-after-CR rule must see
  them. 1 patient is transplanted on their last follow-up day.
- **Death**: DTHFL = Y and DTHDT = TRTSDT + futime when ``death`` = 1.
- **LSTALVDT** = TRTSDT + futime for every patient (the last day known alive of a censored patient;
  the death date of one who died, the latest date the data can place them alive).
- **OS**: ADT = TRTSDT + futime, CNSR = 1 - death (DEATH / ALIVE AT LAST CONTACT).
- **PFS** = the first of relapse (``rltime``) or death: RELAPSE OR PROGRESSION at rltime if
  present, else DEATH at futime if died, else censored at futime. Not censored at transplant. 20
  patients relapse with no recorded CR; kept (their relapse is their PFS event). A patient who
  never reached CR and is alive is PFS-censored at last contact (no "induction failure" event).
- **Diagnosis** ``AML`` for everyone; SEX = M/F from m/f.
- **Not collected, hence absent columns**: AGE, SUBJID, PRIORHCT, BMINV, BMBLAST, DOSELVL, DOSEKG
  (ADSL); MRDSTAT (ADRS). **No ADAE file**; ``study.yml`` ``adverse_events: []``.
- **Extra sponsor column**: ADSL ``ARM`` = ``trt`` (A/B). Not used by any analysis; the data layer
  must accept it and list it as not used.
- ``study.yml`` has no ``published:`` block (nothing published to reproduce) and ``dose_levels: []``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

STUDYID = "MYELOID"
ORIGIN = date(2010, 1, 4)
ACCRUAL_DAYS = 1095  # three years, 2010-01-04 .. 2013-01-03
SUBJECT_ID_PATTERN = "^MYELOID-[0-9]{4}$"
R_HELP_QUOTE = ("This simulated data set is based on a trial in acute myeloid leukemia. The correlation "
                "between within-subject event times strongly resembles that from an actual trial, but none "
                "of the actual data values are from that source.")
COLUMNS = ["id", "trt", "sex", "futime", "death", "txtime", "crtime", "rltime"]
ADSL_COLUMNS = ["STUDYID", "USUBJID", "SEX", "DIAG", "TRTSDT", "SAFFL", "EFFFL", "HCTFL", "HCTDT",
                "DTHFL", "DTHDT", "LSTALVDT", "DCUTDT", "ARM"]
ADRS_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT"]
ADTTE_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR",
                 "EVNTDESC", "CNSDTDSC"]
#: Columns of ADSL no analysis uses (the sponsor's extras).
EXTRA_COLUMNS = {"adsl": ["ARM"]}

STUDY = {
    "id": STUDYID,
    "title": "Acute myeloid leukemia trial, two arms (R survival::myeloid, simulated by its authors)",
    "therapy": "study treatment (arm A or B)",
    "subject_id_pattern": SUBJECT_ID_PATTERN,
    "usubjid_is_studyid_subjid": False,
    "first_infusion": ORIGIN,
    "trials": [{"id": STUDYID, "name": "AML trial of R survival::myeloid (made-up id)"}],
    "diagnoses": [{"code": "AML", "name": "acute myeloid leukemia", "criteria": "leukemia"}],
    "dose_levels": [],
    "adverse_events": [],
}


class RNotAvailable(RuntimeError):
    """Rscript or the survival package is missing."""


def export_myeloid(directory: Path) -> Path:
    """Write ``survival::myeloid`` as ``myeloid.csv`` into ``directory`` with Rscript; its path."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise RNotAvailable("Rscript not found (install r-base-core and r-cran-survival)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "myeloid.csv"
    code = f'write.csv(survival::myeloid, file={json.dumps(str(out))}, row.names=FALSE)'
    proc = subprocess.run([rscript, "--vanilla", "-e", code], capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        raise RNotAvailable(f"Rscript could not export survival::myeloid: {proc.stderr.strip()[-500:]}")
    return out


def _iso(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m-%d").where(ts.notna(), "")


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def convert(raw: pd.DataFrame, out_dir: Path) -> Path:
    """Write adsl/adrs/adtte.csv, study.yml and source.json for ``raw`` (the myeloid columns)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    d = raw[COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    n = len(d)
    if not d["id"].is_unique or n < 2:
        raise ValueError("myeloid: ids must be unique and there must be at least two patients")
    day = pd.to_timedelta
    entry = ((d["id"] - 1) * ACCRUAL_DAYS / (n - 1)).round().astype("int64")
    trtsdt = pd.Timestamp(ORIGIN) + day(entry, unit="D")
    end = trtsdt + day(d["futime"], unit="D")
    dcut = end.max()
    if dcut.date() >= date.today():
        raise ValueError(f"myeloid: the cutoff {dcut.date()} would be in the future")

    def at(col):  # date of an optional day count, NaT where it did not happen
        return trtsdt + day(d[col], unit="D")

    usubjid = STUDYID + "-" + d["id"].astype(str).str.zfill(4)
    died = d["death"] == 1
    hct = d["txtime"].notna()
    cr = d["crtime"].notna()
    adsl = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "SEX": d["sex"].map({"f": "F", "m": "M"}), "DIAG": "AML",
        "TRTSDT": _iso(trtsdt), "SAFFL": "Y", "EFFFL": "Y", "HCTFL": hct.map({True: "Y", False: "N"}),
        "HCTDT": _iso(at("txtime")), "DTHFL": died.map({True: "Y", False: "N"}),
        "DTHDT": _iso(end.where(died)), "LSTALVDT": _iso(end), "DCUTDT": dcut.strftime("%Y-%m-%d"),
        "ARM": d["trt"],
    })[ADSL_COLUMNS]
    if adsl["SEX"].isna().any():
        raise ValueError("myeloid: sex other than f/m")

    adrs = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "PARAMCD": "BOR", "PARAM": "Best overall response",
        "AVALC": cr.map({True: "CR", False: "NR"}), "AVAL": cr.map({True: 1, False: 4}),
        "ADT": _iso(at("crtime")),
    })[ADRS_COLUMNS]

    relapsed = d["rltime"].notna()
    pfs_days = d["rltime"].where(relapsed, d["futime"]).astype("int64")
    pfs_event = relapsed | died
    os_rows = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "PARAMCD": "OS", "PARAM": "Overall survival (days)",
        "STARTDT": _iso(trtsdt), "ADT": _iso(end), "AVAL": d["futime"].astype("int64"),
        "CNSR": (1 - d["death"]).astype("int64"), "EVNTDESC": died.map({True: "DEATH", False: ""}),
        "CNSDTDSC": died.map({True: "", False: "ALIVE AT LAST CONTACT"}),
    })
    pfs_rows = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": usubjid, "PARAMCD": "PFS", "PARAM": "Progression-free survival (days)",
        "STARTDT": _iso(trtsdt), "ADT": _iso(trtsdt + day(pfs_days, unit="D")), "AVAL": pfs_days,
        "CNSR": (~pfs_event).astype("int64"),
        "EVNTDESC": pd.Series("", index=d.index).mask(died, "DEATH").mask(relapsed, "RELAPSE OR PROGRESSION"),
        "CNSDTDSC": pfs_event.map({True: "", False: "ALIVE AT LAST CONTACT"}),
    })
    adtte = pd.concat([os_rows, pfs_rows]).sort_values(["USUBJID", "PARAMCD"], kind="stable")[ADTTE_COLUMNS]

    _write(adsl, out_dir / "adsl.csv")
    _write(adrs, out_dir / "adrs.csv")
    _write(adtte, out_dir / "adtte.csv")
    for stale in out_dir.glob("adae.*"):
        stale.unlink()
    source = {
        "simulated": True,
        "generator": "the authors of the R package survival (dataset myeloid: simulated, see origin_documentation)",
        "origin": "R package survival, dataset myeloid (survival::myeloid), exported with write.csv; "
                  "simulated by the package's authors after an AML trial, no real patient's values",
        "origin_documentation": R_HELP_QUOTE,
        "reference": "Le-Rademacher JG et al. Application of multi-state models in cancer clinical trials. "
                     "Clin Trials 2018;15(5):489-498",
        "converter": "tests/matrix/convert_myeloid.py",
        "n": int(n),
        "cutoff": dcut.strftime("%Y-%m-%d"),
    }
    (out_dir / "source.json").write_text(json.dumps(source, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    (out_dir / "study.yml").write_text(
        "# Study definition of the converted survival::myeloid cohort (tests/matrix/convert_myeloid.py).\n"
        + yaml.safe_dump(STUDY, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out_dir


def build_myeloid(out_dir: Path) -> Path:
    """Export ``survival::myeloid`` with Rscript and convert it into ``out_dir``; returns ``out_dir``."""
    out_dir = Path(out_dir)
    raw_dir = out_dir.parent / f".{out_dir.name}-r-export"
    raw = pd.read_csv(export_myeloid(raw_dir))
    shutil.rmtree(raw_dir, ignore_errors=True)
    return convert(raw, out_dir)

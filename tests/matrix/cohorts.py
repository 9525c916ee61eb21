"""The cohorts of issue 11's data matrix: each a function writing one delivery directory.

Every builder has the signature ``build_<name>(out_dir: Path) -> Path``: it writes the dataset CSVs,
``source.json`` and ``study.yml`` into ``out_dir`` (created if needed) and returns ``out_dir``.
:data:`COHORTS` maps the matrix names to the builders; :data:`SHAPES` says, per cohort, what the
tests promise about it.

- ``shipped``           the newest shipped simulated cutoff, copied as stored (data/cutoffs/), with
                        data/study.yml (it brings no study.yml of its own).
- ``myeloid``           R ``survival::myeloid`` converted (see :mod:`matrix.convert_myeloid`
                        for every forced choice; needs Rscript and the survival package). 646
                        patients, one trial, AML only, no ADAE, many optional variables absent,
                        an extra sponsor column (ARM). **Simulated by the survival package's
                        authors** (its help page says so): ``simulated: true``.
- ``mgus2``             R ``survival::mgus2`` converted (see :mod:`matrix.convert_mgus2`): 1,384
                        REAL Mayo Clinic patients with MGUS (Kyle et al., NEJM 2002), one
                        diagnosis, no response assessment (EFFFL = N, header-only adrs.csv), no
                        transplant variables, no ADAE, extra columns hgb/creat/mspike, cutoff
                        1999-12-31, ``simulated: false``.
- ``one_diagnosis``     the shipped cohort (n = 334, seed 20251206, cutoff 2025-08-01) restricted to
                        its 159 T-ALL patients; study.yml lists T-ALL only and the trials they are in.
- ``no_adverse_events`` a simulated cohort (n = 150, cutoff 2026-02-01) with no adae file and
                        ``adverse_events: []`` (not collected, which is not "nobody had CRS").
- ``tiny_censored``     12 simulated patients (cutoff 2025-11-01), everyone alive and censored: no
                        death, no relapse, no PFS or OS event.
- ``no_transplant``     a simulated cohort (n = 60, cutoff 2026-05-01) in which nobody was
                        transplanted (HCTFL = N, HCTDT empty for all).
- ``three_patients``    ``simulate_cohort(3)`` unchanged (seed SEED, cutoff 2025-08-01): the
                        smallest valid cohort, one death, two transplants (issue 14: models
                        without information must say "not estimable", not fail the build).

The simulated cohorts start from :func:`nscore.data.simulate.simulate_cohort` and are then transformed
so that every documented rule (data/README.md) still holds; their ``source.json`` says
``simulated: true`` and names the builder. Their ``study.yml`` is a copy of ``data/study.yml``
(adapted with yaml: comments are not kept) without the ``published:`` block (their data are not the
abstract's, so there is nothing to reproduce); when ``data/study.yml`` does not exist it is written
from the NS7CAR constants of :mod:`nscore.data.simulate`. Nothing here is committed data: the
directories are built at test time.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from nscore.data import schema, simulate
from .convert_mgus2 import build_mgus2
from .convert_myeloid import build_myeloid

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_STUDY = PROJECT / "data" / "study.yml"
SHIPPED = PROJECT / "data" / "cutoffs"
DATASET_FILES = ("adsl.csv", "adrs.csv", "adtte.csv", "adae.csv")

__all__ = ["COHORTS", "SHAPES", "default_study", "build_shipped", "build_myeloid", "build_mgus2", "build_one_diagnosis",
           "build_no_adverse_events", "build_tiny_censored", "build_no_transplant", "build_three_patients"]


# --------------------------------------------------------------------------------------------
# study.yml and source.json
# --------------------------------------------------------------------------------------------
_DIAGNOSIS_NAMES = {
    "T-ALL": ("T-cell acute lymphoblastic leukemia", "leukemia"),
    "T-LBL": ("T-cell lymphoblastic lymphoma", "lymphoma"),
    "MPAL": ("mixed-phenotype acute leukemia", "leukemia"),
    "AML": ("acute myeloid leukemia", "leukemia"),
    "PTCL": ("peripheral T-cell lymphoma", "lymphoma"),
}


def default_study() -> dict:
    """NS7CAR's study definition as a dict: data/study.yml, or built from nscore.data.simulate's constants."""
    if DEFAULT_STUDY.is_file():
        return yaml.safe_load(DEFAULT_STUDY.read_text(encoding="utf-8"))
    return {
        "id": "NS7CAR-POOLED",
        "title": "Pooled NS7CAR cohort (five trials)",
        "therapy": "NS7CAR-T",
        "subject_id_pattern": "^NCT[0-9]{8}-[0-9]{4,}$",
        "subject_number_pattern": "^[0-9]{4,}$",
        "usubjid_is_studyid_subjid": True,
        "first_infusion": simulate.FIRST_INFUSION,
        "trials": [{"id": t, "name": f"NS7CAR trial {t}"} for t in simulate.STUDIES],
        "diagnoses": [{"code": c, "name": _DIAGNOSIS_NAMES[c][0], "criteria": _DIAGNOSIS_NAMES[c][1]}
                      for c in simulate.DIAGNOSES],
        "dose_levels": [{"code": c, "cells_per_kg": float(k)}
                        for c, k in zip(simulate.DOSE_LEVELS, simulate.DOSE_PER_KG)],
        "adverse_events": list(schema.AE_TERMS),
    }


def _write_study(out_dir: Path, study: dict, note: str) -> None:
    text = f"# {note}\n" + yaml.safe_dump(study, sort_keys=False, allow_unicode=True)
    (out_dir / "study.yml").write_text(text, encoding="utf-8")


def _adapted_study(title: str, *, diagnoses: list[str] | None = None, trials: list[str] | None = None,
                   adverse_events: list[str] | None = None) -> dict:
    """The default study without ``published:``, retitled, optionally restricted to some diagnoses/trials."""
    study = copy.deepcopy(default_study())
    study.pop("published", None)
    study["title"] = title
    if diagnoses is not None:
        study["diagnoses"] = [d for d in study["diagnoses"] if d["code"] in diagnoses]
    if trials is not None:
        study["trials"] = [t for t in study["trials"] if t["id"] in trials]
    if adverse_events is not None:
        study["adverse_events"] = list(adverse_events)
    return study


def _write_simulated(frames: dict[str, pd.DataFrame], out_dir: Path, *, builder: str, seed: int,
                     latent_n: int, description: str, study: dict, adae: bool = True) -> Path:
    """Write ``frames`` (adae dropped when ``adae`` is False), source.json and study.yml."""
    out_dir = Path(out_dir)
    simulate.write_cohort(frames, out_dir)
    if not adae:
        (out_dir / "adae.csv").unlink()
    adsl = frames["adsl"]
    source = {
        "simulated": True,
        "generator": "nscore.simulate",
        "seed": int(seed),
        "n": int(len(adsl)),
        "latent_n": int(latent_n),
        "cutoff": pd.Timestamp(adsl["DCUTDT"].iloc[0]).date().isoformat(),
        "derived_by": f"tests/matrix/cohorts.py:{builder}",
        "derivation": description,
    }
    (out_dir / "source.json").write_text(json.dumps(source, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    _write_study(out_dir, study, f"Study definition of the data-matrix cohort {builder} (tests/matrix/cohorts.py): "
                                 "data/study.yml adapted, no published figures.")
    return out_dir


def _keep_patients(frames: dict[str, pd.DataFrame], keep: pd.Series) -> dict[str, pd.DataFrame]:
    """Frames restricted to the ADSL rows where ``keep`` holds (and those patients' rows elsewhere)."""
    adsl = frames["adsl"][keep.to_numpy()].reset_index(drop=True)
    ids = set(adsl["USUBJID"])
    out = {"adsl": adsl}
    for name in ("adrs", "adtte", "adae"):
        df = frames[name]
        out[name] = df[df["USUBJID"].isin(ids)].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------------------------
# the builders
# --------------------------------------------------------------------------------------------
def build_shipped(out_dir: Path) -> Path:
    """The newest shipped cutoff's four CSVs and source.json, with data/study.yml."""
    cutoffs = sorted(p for p in SHIPPED.iterdir() if p.is_dir() and (p / "adsl.csv").is_file())
    if not cutoffs:
        raise FileNotFoundError(f"no shipped cutoff under {SHIPPED}")
    newest = cutoffs[-1]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*DATASET_FILES, "source.json"):
        shutil.copyfile(newest / name, out_dir / name)
    study = newest / "study.yml"
    if study.is_file():
        shutil.copyfile(study, out_dir / "study.yml")
    elif DEFAULT_STUDY.is_file():
        shutil.copyfile(DEFAULT_STUDY, out_dir / "study.yml")
    else:
        _write_study(out_dir, default_study(), "NS7CAR study definition (built from nscore.data.simulate)")
    return out_dir


ONE_DIAGNOSIS = "T-ALL"


def build_one_diagnosis(out_dir: Path) -> Path:
    """The shipped cohort (n=334, seed SEED, 2025-08-01) restricted to its T-ALL patients."""
    n, seed, cutoff = simulate.PUBLISHED_N, simulate.SEED, simulate.PUBLISHED_CUTOFF
    frames = simulate.simulate_cohort(n, cutoff, seed)
    frames = _keep_patients(frames, frames["adsl"]["DIAG"] == ONE_DIAGNOSIS)
    trials = sorted(set(frames["adsl"]["STUDYID"]))
    study = _adapted_study(f"NS7CAR cohort, {ONE_DIAGNOSIS} patients only (simulated, data-matrix test)",
                           diagnoses=[ONE_DIAGNOSIS], trials=trials)
    return _write_simulated(frames, out_dir, builder="build_one_diagnosis", seed=seed, latent_n=n,
                            description=f"shipped cohort, {ONE_DIAGNOSIS} patients only", study=study)


def build_no_adverse_events(out_dir: Path) -> Path:
    """A simulated cohort (n=150, 2026-02-01) delivered without ADAE; adverse_events: []."""
    n, seed, cutoff = 150, simulate.SEED + 11, date(2026, 2, 1)
    frames = simulate.simulate_cohort(n, cutoff, seed)
    study = _adapted_study("NS7CAR cohort without adverse-event data (simulated, data-matrix test)",
                           adverse_events=[])
    return _write_simulated(frames, out_dir, builder="build_no_adverse_events", seed=seed, latent_n=n,
                            description="adverse events not collected: no adae file", study=study, adae=False)


TINY_N = 12


def build_tiny_censored(out_dir: Path) -> Path:
    """12 simulated patients (2025-11-01), everyone alive and censored for OS and PFS.

    From the simulated frames: DTHFL = N and DTHDT empty for all; LSTALVDT = the latest of the
    simulated last contact, death, transplant and response dates (a former death becomes a contact
    on that day; never after the cutoff); OS and PFS rows censored at LSTALVDT ("ALIVE AT LAST
    CONTACT", AVAL = ADT - STARTDT); a grade-5 CRS/ICANS (fatal) becomes grade 4.
    """
    n, seed, cutoff = TINY_N, simulate.SEED + 12, date(2025, 11, 1)
    frames = {k: v.copy() for k, v in simulate.simulate_cohort(n, cutoff, seed).items()}
    adsl, adrs, adtte, adae = frames["adsl"], frames["adrs"], frames["adtte"], frames["adae"]
    bor_adt = adsl["USUBJID"].map(adrs.set_index("USUBJID")["ADT"])
    last = pd.concat([adsl["LSTALVDT"], adsl["DTHDT"], adsl["HCTDT"], bor_adt], axis=1).max(axis=1)
    assert (last <= adsl["DCUTDT"]).all()
    adsl["LSTALVDT"] = last.astype("datetime64[ns]")
    adsl["DTHFL"] = "N"
    adsl["DTHDT"] = pd.NaT
    adsl["DTHDT"] = adsl["DTHDT"].astype("datetime64[ns]")
    end = adtte["USUBJID"].map(adsl.set_index("USUBJID")["LSTALVDT"])
    adtte["ADT"] = end.astype("datetime64[ns]")
    adtte["AVAL"] = (adtte["ADT"] - adtte["STARTDT"]).dt.days.astype(np.int64)
    adtte["CNSR"] = np.int64(1)
    adtte["EVNTDESC"] = np.nan
    adtte["EVNTDESC"] = adtte["EVNTDESC"].astype(object)
    adtte["CNSDTDSC"] = "ALIVE AT LAST CONTACT"
    adae["AETOXGR"] = adae["AETOXGR"].clip(upper=4).astype(np.int64)
    if "DTHCAUS" in adsl.columns:  # nobody died: no cause of death (H7, issue 15 data model)
        adsl["DTHCAUS"] = np.nan
    return _write_simulated(frames, out_dir, builder="build_tiny_censored", seed=seed, latent_n=n,
                            description="12 patients, deaths and relapses removed: everyone alive and censored",
                            study=_adapted_study("Tiny NS7CAR cohort, everyone censored (simulated, data-matrix test)"))


def build_no_transplant(out_dir: Path) -> Path:
    """A simulated cohort (n=60, 2026-05-01) in which nobody was transplanted (HCTFL = N, no HCTDT)."""
    n, seed, cutoff = 60, simulate.SEED + 13, date(2026, 5, 1)
    frames = {k: v.copy() for k, v in simulate.simulate_cohort(n, cutoff, seed).items()}
    adsl = frames["adsl"]
    adsl["HCTFL"] = "N"
    adsl["HCTDT"] = pd.Series(pd.NaT, index=adsl.index, dtype="datetime64[ns]")
    # GVHD only after a transplant (H7, issue 15 data model): without one after CAR-T, GVHD of a
    # patient never transplanted is gone, and so is it as a cause of death
    never = adsl.loc[adsl["PRIORHCT"] == 0, "USUBJID"]
    adae = frames["adae"]
    frames["adae"] = adae[~((adae["AECAT"] == "GVHD") & adae["USUBJID"].isin(never))].reset_index(drop=True)
    if "DTHCAUS" in adsl.columns:
        adsl.loc[(adsl["DTHCAUS"] == "GVHD") & (adsl["PRIORHCT"] == 0), "DTHCAUS"] = "OTHER"
    return _write_simulated(frames, out_dir, builder="build_no_transplant", seed=seed, latent_n=n,
                            description="transplants removed: HCTFL = N and HCTDT empty for everyone",
                            study=_adapted_study("NS7CAR cohort, nobody transplanted (simulated, data-matrix test)"))


THREE_N = 3


def build_three_patients(out_dir: Path) -> Path:
    """``simulate_cohort(3)`` as it comes (seed SEED, cutoff 2025-08-01): the smallest valid cohort.

    Three patients (two T-ALL, one T-LBL; two at DL2, one at DL1), one death (which is also the
    only PFS event), two transplants, everyone evaluable and in CR/CRi, CRS grade 1 in all three, no
    ICANS. Issue 14: it validated and was stored, then Results failed (a Cox model without
    information); every analysis must degrade to "not estimable" on it instead.
    """
    n, seed, cutoff = THREE_N, simulate.SEED, simulate.PUBLISHED_CUTOFF
    frames = simulate.simulate_cohort(n, cutoff, seed)
    return _write_simulated(frames, out_dir, builder="build_three_patients", seed=seed, latent_n=n,
                            description="simulate_cohort(3) unchanged: three patients, one death",
                            study=_adapted_study("Three-patient NS7CAR cohort (simulated, data-matrix test)"))


#: The matrix: name -> builder(out_dir) -> out_dir. ``myeloid`` and ``mgus2`` need Rscript with survival.
COHORTS: dict[str, Callable[[Path], Path]] = {
    "shipped": build_shipped,
    "myeloid": build_myeloid,
    "mgus2": build_mgus2,
    "one_diagnosis": build_one_diagnosis,
    "no_adverse_events": build_no_adverse_events,
    "tiny_censored": build_tiny_censored,
    "no_transplant": build_no_transplant,
    "three_patients": build_three_patients,
}

#: What each cohort promises (checked by tests/test_matrix_cohorts.py on the written CSVs).
SHAPES: dict[str, dict] = {
    "shipped": {"simulated": True, "adae": True},
    # simulated by the R survival package's authors (not by nscore): see convert_myeloid
    "myeloid": {"simulated": True, "adae": False, "n": 646, "diagnoses": {"AML"}, "trials": {"MYELOID"},
                "absent": {"adsl": {"AGE", "SUBJID", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DOSEKG"},
                           "adrs": {"MRDSTAT"}},
                "extra": {"adsl": {"ARM"}}},
    # real patients (Mayo Clinic): the matrix's "cohort converted from a public real-patient dataset"
    "mgus2": {"simulated": False, "adae": False, "n": 1384, "diagnoses": {"MGUS"}, "trials": {"MGUS2"},
              "deaths": 963, "evaluable": 0, "adrs_rows": 0,
              "absent": {"adsl": {"PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DOSEKG", "HCTFL", "HCTDT"},
                         "adrs": {"MRDSTAT"}},
              "extra": {"adsl": {"hgb", "creat", "mspike"}}},
    "one_diagnosis": {"simulated": True, "adae": True, "n": 159, "diagnoses": {ONE_DIAGNOSIS}},
    "no_adverse_events": {"simulated": True, "adae": False},
    "tiny_censored": {"simulated": True, "adae": True, "n": TINY_N, "deaths": 0, "events": 0},
    "no_transplant": {"simulated": True, "adae": True, "transplants": 0},
    "three_patients": {"simulated": True, "adae": True, "n": THREE_N, "deaths": 1, "transplants": 2},
}

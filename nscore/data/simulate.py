"""Simulated patient-level NS7CAR cohort (ADSL, ADRS, ADTTE, ADAE, ADDS): THE DATA ARE SIMULATED.

Why this module exists
----------------------
The trials' patient-level data are not public. The book therefore ships a simulated cohort, in the
ADaM-style format a sponsor's statisticians would hand over (see ``data/README.md``), so that a real
export can later replace it with no code change. At ``n=334`` and cutoff 2025-08-01 the cohort
reproduces *exactly* every aggregate the ASH 2025 abstract publishes (diagnosis counts, age, sex,
prior transplants, marrow blasts, dose, response, transplant, PFS/OS observed times, CRS, ICANS,
infusion window); everything else is clinically plausible, not real.

How it is built
---------------
1. *Latent cohort, drawn once from the seed*: baseline characteristics, best response, the true
   (uncensored) days from infusion to transplant, relapse/progression and death, a per-patient
   schedule of follow-up contacts, and CRS/ICANS. Published counts are met by construction (fixed
   counts from the published proportions, assigned with seeded weighted sampling so that clinical
   associations hold, e.g. grade >= 3 CRS with high blast burden and high dose); published
   quantiles by rank-preserving adjustment of the drawn values (no rejection sampling over seeds).
2. *Calibration at the published cutoff*: the few latent times that decide the published minimum,
   maximum and median of the observed PFS and OS times are nudged (relapse, death or last-contact
   day of patients near the median) so that the 2025-08-01 observation hits them exactly.
3. *Observation at a cutoff*: every dataset is derived from the latent cohort by censoring at the
   cutoff: a patient infused after it is absent, events after it are unseen, the last contact is
   the last scheduled contact (or relapse, transplant, response assessment) on or before it.
   Hence a later cutoff has the same patients and baseline, events never disappear and times never
   shrink; only follow-up moves on.

For any other ``n`` the same construction gives proportions close to the published ones
(vectorised numpy, no per-patient loop: a million patients simulate in well under a minute).
Subject numbers run per trial in infusion order with 4 digits; a trial with more than 9,999
patients (beyond about 20,000 in all) gets wider numbers, the same width for every patient.

What it reproduces is read from the study definition it models, ``data/study.yml`` (trials,
diagnoses, dose levels, first infusion, and the abstract's figures, each quoted with its source
sentence; :mod:`nscore.data.simtargets`): :mod:`nscore.data.simmodel` builds and calibrates the
latent cohort from them; this module observes it at a cutoff and writes the datasets. ``PUBLISHED_N``, ``PUBLISHED_CUTOFF``,
``SHIPPED_CUTOFFS``, ``FIRST_INFUSION``, ``LAST_INFUSION``, ``STUDIES``, ``DIAGNOSES``,
``DOSE_LEVELS`` and ``DOSE_PER_KG`` are read from there on first use (module ``__getattr__``), so
importing this module reads no file.

Entry points
------------
- ``write_shipped(data_dir="data")`` regenerates the two shipped cutoffs (2025-08-01, 2026-02-01)
  of the 334-patient cohort under ``data/cutoffs/<cutoff>/`` (``nscore simulate`` with no options).
- ``simulate_cohort(n, cutoff, seed)`` + ``write_cohort(frames, directory)`` write any cohort size
  and cutoff (``nscore simulate --n N --cutoff D --out DIR``).

Frames returned by ``simulate_cohort`` use: ``str`` columns as object dtype (missing = NaN), dates as
``datetime64[ns]`` (missing = NaT), counts/codes as ``int64``, ``BMBLAST``/``DOSEKG`` as
``float64`` and ``ADAE.ADURN`` and ``ADSL.HCTRELDY`` as nullable ``Int64``; i.e. what reading the CSVs with pandas and
parsing the date columns gives.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nscore.data import schema
from nscore.data.simmodel import NEVER, Latent, labels_where, latent_cohort, observed_times
from nscore.data.simtargets import targets
from nscore.errors import NscoreError, SimulationError

SEED = 20251206  # ASH 2025 annual meeting, where the abstract was presented
#: The second shipped cutoff: the same patients six months on (the first is the published cutoff).
LATER_CUTOFF = date(2026, 2, 1)
RESPONSES = tuple(schema.RESPONSE_CODES)  # AVAL = position + 1

#: The study facts of ``data/study.yml`` this module exposes by name (see the module docstring).
_FROM_STUDY = {
    "PUBLISHED_N": lambda t: t.n,
    "PUBLISHED_CUTOFF": lambda t: t.cutoff,
    "SHIPPED_CUTOFFS": lambda t: (t.cutoff, LATER_CUTOFF),
    "FIRST_INFUSION": lambda t: t.first_infusion,
    "LAST_INFUSION": lambda t: t.last_infusion,
    "STUDIES": lambda t: t.trials,
    "DIAGNOSES": lambda t: t.diagnoses,
    "DOSE_LEVELS": lambda t: t.dose_levels,
    "DOSE_PER_KG": lambda t: t.dose_per_kg,
}


def __getattr__(name: str):
    if name in _FROM_STUDY:
        return _FROM_STUDY[name](targets())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

ADSL_COLUMNS = ["STUDYID", "USUBJID", "SUBJID", "AGE", "SEX", "DIAG", "PRIORHCT", "HCTRELDY", "PRLINES",
                "DISSTAT", "EMDFL", "CNSFL", "BMINV", "BMBLAST",
                "DOSELVL", "DOSEKG", "TRTSDT", "SAFFL", "EFFFL", "HCTFL", "HCTDT", "DTHFL", "DTHDT",
                "DTHCAUS", "LSTALVDT", "DCUTDT"]
ADRS_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "MRDSTAT"]
ADTTE_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR",
                 "EVNTDESC", "CNSDTDSC"]
ADAE_COLUMNS = ["STUDYID", "USUBJID", "AECAT", "AEDECOD", "AETOXGR", "ASTDT", "ASTDY", "AENDT", "ADURN",
                "TOCIFL", "STERFL"]
ADDS_COLUMNS = ["STUDYID", "USUBJID", "APHFL", "MFGFL", "INFFL", "DSREAS"]
COLUMNS = {"adsl": ADSL_COLUMNS, "adrs": ADRS_COLUMNS, "adtte": ADTTE_COLUMNS, "adae": ADAE_COLUMNS,
           "adds": ADDS_COLUMNS}
#: Datasets written only when the frames hold them (a derived test cohort may drop them).
OPTIONAL_FRAMES = ("adds",)
SORT_KEYS = {"adsl": ["USUBJID"], "adrs": ["USUBJID", "PARAMCD"], "adtte": ["USUBJID", "PARAMCD"],
             "adae": ["USUBJID", "AECAT", "AEDECOD"], "adds": ["USUBJID"]}
DATE_COLUMNS = {"adsl": ["TRTSDT", "HCTDT", "DTHDT", "LSTALVDT", "DCUTDT"], "adrs": ["ADT"],
                "adtte": ["STARTDT", "ADT"], "adae": ["ASTDT", "AENDT"], "adds": []}
FLOAT_FORMATS = {"BMBLAST": "%.1f", "DOSEKG": "%.1f"}

#: The generator's name in ``source.json``. An identifier, not a module path: the shipped stores
#: were written as "nscore.simulate" before the layers moved the module to nscore.data.simulate,
#: and keeping the name keeps those stores byte-identical (same data version).
GENERATOR = "nscore.simulate"


# --------------------------------------------------------------------------------------------------
# observation at a cutoff
# --------------------------------------------------------------------------------------------------

def _dates(day0: np.ndarray, days: np.ndarray, present: np.ndarray | None = None) -> pd.Series:
    start = np.datetime64(targets().first_infusion, "D")
    out = (start + day0 + np.where(present if present is not None else True, days, 0)).astype("datetime64[ns]")
    s = pd.Series(out)
    if present is not None:
        s = s.where(present)
    return s


def simulate_cohort(n: int | None = None, cutoff: date | str | None = None, seed: int = SEED
                    ) -> dict[str, pd.DataFrame]:
    """Simulated ADSL, ADRS, ADTTE and ADAE of ``n`` patients observed at ``cutoff``.

    Parameters
    ----------
    n : int
        Size of the latent cohort (patients infused 2020-11-09 .. 2025-05-21). Patients infused
        after ``cutoff`` are not in the data. Default: the published number (``PUBLISHED_N``).
    cutoff : date or "YYYY-MM-DD"
        Data cutoff (DCUTDT). Default: the published cutoff (``PUBLISHED_CUTOFF``).
    seed : int
        Seed of the single random generator; same (n, seed) = same patients at every cutoff.

    Returns
    -------
    dict
        ``{"adsl", "adrs", "adtte", "adae"}`` -> DataFrame with the columns of ``data/README.md``,
        rows sorted as written. ``adsl.attrs["nscore_source"]`` holds what ``source.json`` records.

    Raises
    ------
    SimulationError
        If ``n`` < 1 or the cutoff precedes the first infusion (an empty cohort).

    Notes
    -----
    Simulated data. Only ``n=334``, ``cutoff=2025-08-01``, ``seed=SEED`` reproduces the abstract
    exactly; other sizes follow its proportions approximately.
    """
    t = targets()
    n = t.n if n is None else n
    cutoff = t.cutoff if cutoff is None else cutoff
    if int(n) < 1:
        raise SimulationError(f"n must be a positive number of patients, got {n}")
    if isinstance(cutoff, str):
        cutoff = date.fromisoformat(cutoff)
    elif isinstance(cutoff, datetime):
        cutoff = cutoff.date()
    if cutoff < t.first_infusion:
        raise SimulationError(f"cutoff {cutoff} is before the first infusion ({t.first_infusion}): no patients")
    lat = latent_cohort(int(n), int(seed))
    base = lat.base
    window = (cutoff - t.first_infusion).days - base["day0"].to_numpy()
    keep = window >= 0
    frames = _observe(lat, window, cutoff, keep)
    frames["adsl"].attrs["nscore_source"] = {"simulated": True, "generator": GENERATOR,
                                             "seed": int(seed), "n": int(n), "cutoff": cutoff.isoformat()}
    return frames


def _observe(lat: Latent, window: np.ndarray, cutoff: date, keep: np.ndarray) -> dict[str, pd.DataFrame]:
    b = lat.base
    day0 = b["day0"].to_numpy()
    dead, last, os_t, relapsed, pfs_t, pfs_kind = observed_times(lat, window)
    hct_seen = lat.hct <= window
    more = lat.more_ae
    mp = more["patient"].to_numpy()
    m_onset = more["onset"].to_numpy()
    # an event is in the data once the patient was seen after its onset (alive) or died after it
    m_fatal = more["AETOXGR"].to_numpy() == 5
    m_seen = np.where(dead[mp], m_onset <= lat.death[mp] - 1, (m_onset <= last[mp]) & ~m_fatal) & keep[mp]
    # a patient who died was last known alive at the latest contact or event onset before the death
    latest = np.zeros(len(b), dtype=np.int64)
    np.maximum.at(latest, mp[m_seen], m_onset[m_seen])
    last = np.where(dead, np.maximum(last, latest), last)
    assessed = b["EFFFL"].to_numpy() == "Y"
    assessed = assessed & (lat.bor_day <= window)
    dcut = pd.Timestamp(cutoff)

    adsl = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "SUBJID": b["SUBJID"], "AGE": b["AGE"],
        "SEX": b["SEX"], "DIAG": b["DIAG"], "PRIORHCT": b["PRIORHCT"],
        "HCTRELDY": pd.array(b["HCTRELDY"].to_numpy(), dtype="Int64"), "PRLINES": b["PRLINES"],
        "DISSTAT": b["DISSTAT"], "EMDFL": b["EMDFL"], "CNSFL": b["CNSFL"], "BMINV": b["BMINV"],
        "BMBLAST": b["BMBLAST"], "DOSELVL": np.asarray(targets().dose_levels, dtype=object)[b["dose_idx"]],
        "DOSEKG": np.asarray(targets().dose_per_kg)[b["dose_idx"]], "TRTSDT": _dates(day0, np.zeros_like(day0)),
        "SAFFL": "Y", "EFFFL": np.where(assessed, "Y", "N").astype(object),
        "HCTFL": np.where(hct_seen, "Y", "N").astype(object), "HCTDT": _dates(day0, lat.hct, hct_seen),
        "DTHFL": np.where(dead, "Y", "N").astype(object), "DTHDT": _dates(day0, lat.death, dead),
        "DTHCAUS": pd.Series(lat.cause, dtype=object).where(dead, np.nan).to_numpy(object),
        "LSTALVDT": _dates(day0, last), "DCUTDT": dcut,
    })
    adsl["DCUTDT"] = adsl["DCUTDT"].astype("datetime64[ns]")

    adrs_rows = keep & assessed
    adrs = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "PARAMCD": "BOR", "PARAM": "Best overall response",
        "AVALC": np.asarray(RESPONSES, dtype=object)[lat.resp - 1], "AVAL": lat.resp.astype(np.int64),
        "ADT": _dates(day0, lat.bor_day), "MRDSTAT": lat.mrd,
    })[adrs_rows]

    start = _dates(day0, np.zeros_like(day0))
    os_df = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "PARAMCD": "OS", "PARAM": schema.TTE_PARAMS["OS"],
        "STARTDT": start, "ADT": _dates(day0, os_t), "AVAL": os_t.astype(np.int64),
        "CNSR": np.where(dead, 0, 1).astype(np.int64),
        "EVNTDESC": labels_where(len(b), (dead, schema.DEATH)), "CNSDTDSC": labels_where(len(b), (~dead, schema.ALIVE)),
    })
    pfs_df = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "PARAMCD": "PFS", "PARAM": schema.TTE_PARAMS["PFS"],
        "STARTDT": start, "ADT": _dates(day0, pfs_t), "AVAL": pfs_t.astype(np.int64),
        "CNSR": np.where(pfs_kind == 0, 1, 0).astype(np.int64),
        "EVNTDESC": labels_where(len(b), (pfs_kind == 1, schema.RELAPSE), (pfs_kind == 2, schema.DEATH)),
        "CNSDTDSC": labels_where(len(b), (pfs_kind == 0, schema.ALIVE)),
    })
    adtte = pd.concat([os_df[keep], pfs_df[keep]], ignore_index=True)

    ae = lat.ae
    p = ae["patient"].to_numpy()
    onset = ae["onset"].to_numpy()
    end = onset + ae["ADURN"].to_numpy() - 1
    resolved = end <= window[p]
    crs_icans = pd.DataFrame({
        "patient": p, "AECAT": ae["AECAT"], "AEDECOD": ae["AECAT"].map(lambda c: schema.AE_TERMS[c][0]),
        "AETOXGR": ae["AETOXGR"].astype(np.int64), "onset": onset, "end": end, "resolved": resolved,
        "TOCIFL": ae["TOCIFL"], "STERFL": ae["STERFL"],
    })[keep[p] & (onset <= window[p])]
    m_end = m_onset + more["ADURN"].to_numpy() - 1
    m_resolved = ~m_fatal & (m_end <= np.minimum(window[mp], np.where(dead[mp], lat.death[mp], NEVER)))
    others = pd.DataFrame({
        "patient": mp, "AECAT": more["AECAT"], "AEDECOD": more["AEDECOD"], "AETOXGR": more["AETOXGR"],
        "onset": m_onset, "end": m_end, "resolved": m_resolved, "TOCIFL": np.nan, "STERFL": np.nan,
    })[m_seen]
    rows = pd.concat([crs_icans, others], ignore_index=True)
    rp, ron, rend, rres = (rows[c].to_numpy() for c in ("patient", "onset", "end", "resolved"))
    adae = pd.DataFrame({
        "STUDYID": b["STUDYID"].to_numpy()[rp], "USUBJID": b["USUBJID"].to_numpy()[rp], "AECAT": rows["AECAT"],
        "AEDECOD": rows["AEDECOD"], "AETOXGR": rows["AETOXGR"].astype(np.int64),
        "ASTDT": _dates(day0[rp], ron), "ASTDY": (ron + 1).astype(np.int64),
        "AENDT": _dates(day0[rp], rend, rres),
        "ADURN": pd.array(np.where(rres, rend - ron + 1, 0), dtype="Int64"),
        "TOCIFL": rows["TOCIFL"].to_numpy(object), "STERFL": rows["STERFL"].to_numpy(object),
    })
    adae.loc[~rres, "ADURN"] = pd.NA

    # disposition: every infused patient, and the enrolled patients never infused whose outcome is
    # known by the cutoff (a month after enrolment)
    ni = lat.not_infused
    ni = ni[ni["day"].to_numpy() + 30 <= (cutoff - targets().first_infusion).days]
    adds = pd.concat([
        pd.DataFrame({"STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "APHFL": "Y", "MFGFL": "Y",
                      "INFFL": "Y", "DSREAS": np.nan})[keep],
        pd.DataFrame({"STUDYID": ni["STUDYID"], "USUBJID": ni["USUBJID"], "APHFL": ni["APHFL"],
                      "MFGFL": ni["MFGFL"], "INFFL": "N", "DSREAS": ni["DSREAS"]}),
    ], ignore_index=True)
    adds["MFGFL"] = adds["MFGFL"].where(adds["MFGFL"].notna(), np.nan)

    key = b["row_key"].to_numpy()
    cat_code = pd.Categorical(adae["AECAT"], categories=sorted(schema.AE_TERMS)).codes
    term_code = pd.Categorical(adae["AEDECOD"], categories=sorted(pd.unique(adae["AEDECOD"].astype(str)))).codes
    orders = {
        "adsl": np.argsort(key[keep], kind="stable"),
        "adrs": np.argsort(key[adrs_rows], kind="stable"),
        "adtte": np.lexsort(((adtte["PARAMCD"] == "PFS").to_numpy(), np.concatenate([key[keep], key[keep]]))),
        "adae": np.lexsort((term_code, cat_code, key[rp])),
        "adds": np.argsort(adds["USUBJID"].to_numpy(str), kind="stable"),
    }
    frames = {"adsl": adsl[keep], "adrs": adrs, "adtte": adtte, "adae": adae, "adds": adds}
    return {name: df[COLUMNS[name]].iloc[orders[name]].reset_index(drop=True) for name, df in frames.items()}


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------

def _csv_field(value: str) -> str:
    """RFC 4180 quoting (as the csv module does it) for a value holding a comma, quote or newline."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _column_text(name: str, column: str, s: pd.Series) -> list[str]:
    """A column as the exact strings written to CSV (ISO dates, fixed float format, '' = missing)."""
    missing = s.isna().to_numpy()
    if column in DATE_COLUMNS[name]:
        dates = s if pd.api.types.is_datetime64_dtype(s) else pd.to_datetime(s)
        text = np.datetime_as_string(dates.to_numpy().astype("datetime64[D]"), unit="D")
    elif column in FLOAT_FORMATS:
        text = np.char.mod(FLOAT_FORMATS[column], s.to_numpy(float, na_value=0.0))
    elif pd.api.types.is_numeric_dtype(s):
        text = s.to_numpy("int64", na_value=0).astype(str)
    else:
        values = s.to_numpy(object).copy()
        values[missing] = ""
        uniques = [str(v) for v in pd.unique(values)]
        if any(ch in "".join(uniques) for ch in ',"\r\n'):
            values = pd.Series(values).map(lambda v: _csv_field(str(v))).to_numpy(object)
        return values.tolist()
    return np.where(missing, "", text).tolist()


def _sorted_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows in ``keys`` order (stable); a frame already in order is returned as is (cheap check)."""
    arrays = [df[k].to_numpy(object) for k in keys]
    if len(df) > 1:
        later, earlier = [a[1:] for a in arrays], [a[:-1] for a in arrays]
        ok = np.zeros(len(df) - 1, dtype=bool)
        tied = np.ones(len(df) - 1, dtype=bool)
        for lat, ear in zip(later, earlier):
            ok |= tied & (lat > ear)
            tied &= lat == ear
        if not (ok | tied).all():
            return df.iloc[np.lexsort(arrays[::-1])]
    return df


def write_cohort(frames: dict[str, pd.DataFrame], directory, *, seed: int | None = None,
                 study=None) -> None:
    """Write adsl/adrs/adtte/adae.csv, source.json and study.yml into ``directory`` (created if needed).

    ``study.yml`` is a copy of ``study`` (a path; default: the project's ``data/study.yml``, the
    NS7CAR definition this simulation follows), so the directory is a complete delivery.

    Bytes are deterministic: fixed column order, rows sorted by USUBJID (then PARAMCD/AECAT), ISO
    dates, one decimal for BMBLAST and DOSEKG, empty cells for missing values, ``\\n`` line endings,
    UTF-8. ``source.json`` records that the data are simulated, with seed, n and cutoff (sorted
    keys); the seed comes from ``seed`` or from what ``simulate_cohort`` attached to the ADSL frame.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, columns in COLUMNS.items():
        if name in OPTIONAL_FRAMES and name not in frames:
            continue
        df = _sorted_rows(frames[name][columns], SORT_KEYS[name])
        cells = [_column_text(name, c, df[c]) for c in columns]
        lines = [",".join(columns), *map(",".join, zip(*cells))]
        (directory / f"{name}.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    adsl = frames["adsl"]
    source = dict(adsl.attrs.get("nscore_source", {}))
    source.update({"simulated": True, "generator": GENERATOR})
    if seed is not None:
        source["seed"] = int(seed)
    source.setdefault("n", int(len(adsl)))
    if len(adsl):
        source.setdefault("cutoff", pd.Timestamp(adsl["DCUTDT"].iloc[0]).date().isoformat())
    (directory / "source.json").write_bytes((json.dumps(source, sort_keys=True, indent=2) + "\n").encode("utf-8"))
    study_path = Path(study) if study is not None else _default_study()
    (directory / "study.yml").write_bytes(study_path.read_bytes())


def _default_study() -> Path:
    """The project's study definition (``data/study.yml``), which this simulation follows."""
    from nscore.data.versions import project_root

    candidates = [Path.cwd() / "data" / "study.yml"]
    try:
        candidates.append(project_root(Path(__file__)) / "data" / "study.yml")
    except NscoreError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise SimulationError("no data/study.yml found for the simulated cohort (pass study=PATH)")


def write_shipped(data_dir="data") -> list[Path]:
    """Regenerate the shipped cutoffs (2025-08-01, 2026-02-01) of the 334-patient cohort.

    Each is validated and stored as ``<data_dir>/cutoffs/<cutoff>/`` (with its manifest) by
    :func:`nscore.data.versions.store`, replacing what is stored for that cutoff. A cutoff already
    stored keeps its own ``study.yml`` (the study definition it was validated with, part of its data
    version); a new one gets the project's ``data/study.yml``. Re-running gives byte-identical files.
    Returns the version directories.
    """
    import tempfile

    from nscore.data.versions import resolve_data_dir, store

    root = Path(resolve_data_dir(data_dir))
    paths = []
    t = targets()
    for cutoff in (t.cutoff, LATER_CUTOFF):
        frames = simulate_cohort(t.n, cutoff, SEED)
        stored_study = root / "cutoffs" / cutoff.isoformat() / "study.yml"
        with tempfile.TemporaryDirectory() as tmp:
            write_cohort(frames, tmp, study=stored_study if stored_study.is_file() else None)
            # the generator is the source of the shipped data: a regenerated version replaces it
            paths.append(Path(store(tmp, root, replace=True)))
    return paths

"""Simulated patient-level NS7CAR cohort (ADSL, ADRS, ADTTE, ADAE): THE DATA ARE SIMULATED.

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

Entry points
------------
- ``write_shipped(data_dir="data")`` regenerates the two shipped cutoffs (2025-08-01, 2026-02-01)
  of the 334-patient cohort under ``data/cutoffs/<cutoff>/`` (``nscore simulate`` with no options).
- ``simulate_cohort(n, cutoff, seed)`` + ``write_cohort(frames, directory)`` write any cohort size
  and cutoff (``nscore simulate --n N --cutoff D --out DIR``).

Frames returned by ``simulate_cohort`` use: ``str`` columns as object dtype (missing = NaN), dates as
``datetime64[ns]`` (missing = NaT), counts/codes as ``int64``, ``BMBLAST``/``DOSEKG`` as
``float64`` and ``ADAE.ADURN`` as nullable ``Int64``; i.e. what reading the CSVs with pandas and
parsing the date columns gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from nscore.errors import NscoreError, SimulationError

SEED = 20251206  # ASH 2025 annual meeting, where the abstract was presented
PUBLISHED_N = 334
PUBLISHED_CUTOFF = date(2025, 8, 1)
LATER_CUTOFF = date(2026, 2, 1)
SHIPPED_CUTOFFS = (PUBLISHED_CUTOFF, LATER_CUTOFF)
FIRST_INFUSION = date(2020, 11, 9)
LAST_INFUSION = date(2025, 5, 21)
NEVER = 1_000_000  # "day" of an event that never happens

STUDIES = ("NCT04572308", "NCT05626400", "NCT04916860", "NCT04928105", "NCT04938115")
DIAGNOSES = ("T-ALL", "T-LBL", "MPAL", "AML", "PTCL")
DOSE_LEVELS = ("DL1", "DL2", "DL3")
DOSE_PER_KG = (5e5, 1e6, 2e6)
RESPONSES = ("CR", "CRi", "PR", "NR", "NE")  # AVAL = position + 1

# Published figures (ASH 2025 abstract, /work/shared/seed/000_a34d2ef30ea8f0ef.txt).
PUB_DIAG = {"T-ALL": 159, "T-LBL": 121, "MPAL": 24, "AML": 21, "PTCL": 9}
PUB_AGE = (2, 24, 67)  # min, median, max
PUB_MALE = 255
PUB_PRIOR_HCT, PUB_PRIOR_HCT2 = 88, 4
PUB_BMINV, PUB_BLAST20 = 265, 79
PUB_EVALUABLE, PUB_RESPONDERS, PUB_CR_CRI = 329, 284, 278
PUB_HCT, PUB_HCT_DAYS = 245, (28, 57, 227)
PUB_PFS_DAYS = (45, 547.5, 1694)
PUB_OS_DAYS = (45, 567.5, 1694)
PUB_CRS, PUB_CRS_GE3 = 320, 34
PUB_ICANS, PUB_ICANS_GE3 = 11, 8

ADSL_COLUMNS = ["STUDYID", "USUBJID", "SUBJID", "AGE", "SEX", "DIAG", "PRIORHCT", "BMINV", "BMBLAST",
                "DOSELVL", "DOSEKG", "TRTSDT", "SAFFL", "EFFFL", "HCTFL", "HCTDT", "DTHFL", "DTHDT",
                "LSTALVDT", "DCUTDT"]
ADRS_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "MRDSTAT"]
ADTTE_COLUMNS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR",
                 "EVNTDESC", "CNSDTDSC"]
ADAE_COLUMNS = ["STUDYID", "USUBJID", "AECAT", "AEDECOD", "AETOXGR", "ASTDT", "ASTDY", "AENDT", "ADURN"]
COLUMNS = {"adsl": ADSL_COLUMNS, "adrs": ADRS_COLUMNS, "adtte": ADTTE_COLUMNS, "adae": ADAE_COLUMNS}
SORT_KEYS = {"adsl": ["USUBJID"], "adrs": ["USUBJID", "PARAMCD"], "adtte": ["USUBJID", "PARAMCD"],
             "adae": ["USUBJID", "AECAT"]}
DATE_COLUMNS = {"adsl": ["TRTSDT", "HCTDT", "DTHDT", "LSTALVDT", "DCUTDT"], "adrs": ["ADT"],
                "adtte": ["STARTDT", "ADT"], "adae": ["ASTDT", "AENDT"]}
FLOAT_FORMATS = {"BMBLAST": "%.1f", "DOSEKG": "%.1f"}
AEDECOD = {"CRS": "Cytokine release syndrome",
           "ICANS": "Immune effector cell-associated neurotoxicity syndrome"}
PARAM = {"OS": "Overall survival (days)", "PFS": "Progression-free survival (days)"}


# --------------------------------------------------------------------------------------------------
# small building blocks
# --------------------------------------------------------------------------------------------------

#: The generator's name in ``source.json``. An identifier, not a module path: the shipped stores
#: were written as "nscore.simulate" before the layers moved the module to nscore.data.simulate,
#: and keeping the name keeps those stores byte-identical (same data version).
GENERATOR = "nscore.simulate"

def _counts(n: int, weights) -> np.ndarray:
    """Split ``n`` in proportion to ``weights`` by largest remainder (exact for published counts)."""
    w = np.asarray(weights, dtype=float)
    raw = n * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    short = n - out.sum()
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:short]] += 1
    return out


def _scaled(k_published: int, of_published: int, m: int) -> int:
    """Published k out of ``of_published`` rescaled to a group of size ``m`` (exact when equal)."""
    return int(_counts(m, [k_published, of_published - k_published])[0])


def _choose(rng: np.random.Generator, k: int, weights: np.ndarray, eligible: np.ndarray | None = None
            ) -> np.ndarray:
    """Boolean mask of ``k`` units drawn without replacement with probability ~ ``weights``.

    Efraimidis-Spirakis keys (log u / w, largest k win): one vectorised pass, exact count.
    """
    w = np.asarray(weights, dtype=float)
    u = rng.random(len(w))
    keys = np.log(u) / np.where(w > 0, w, np.nan)
    keys = np.where(np.isnan(keys), -np.inf, keys)
    if eligible is not None:
        keys = np.where(eligible, keys, -np.inf)
    k = int(min(k, np.isfinite(keys).sum()))
    mask = np.zeros(len(w), dtype=bool)
    if k > 0:  # the k largest keys (finite keys are distinct with probability one)
        mask[np.argpartition(-keys, k - 1)[:k]] = True
    return mask


def _shuffled(rng: np.random.Generator, labels, counts) -> np.ndarray:
    """Array holding each label ``count`` times, in seeded random order."""
    return rng.permutation(np.repeat(np.asarray(labels, dtype=object), counts))


def _pin_quantiles(values: np.ndarray, lo: int, median: int, hi: int) -> np.ndarray:
    """Whole numbers whose minimum, median and maximum are exactly ``lo, median, hi``.

    A rank-preserving, piecewise-linear rescaling of the drawn values (lower half onto
    [lo, median], upper half onto [median, hi]) followed by rounding, which is monotone too: the
    shape and the associations drawn with the values survive.
    """
    n = len(values)
    if n < 3:
        return np.clip(np.rint(values), lo, hi).astype(np.int64)
    order = np.argsort(values, kind="stable")
    s = values[order].astype(float)
    a, b = (n // 2, n // 2) if n % 2 else (n // 2 - 1, n // 2)
    out = np.empty(n)
    out[: a + 1] = lo + (s[: a + 1] - s[0]) / max(s[a] - s[0], 1e-9) * (median - lo)
    out[b:] = median + (s[b:] - s[b]) / max(s[-1] - s[b], 1e-9) * (hi - median)
    pinned = np.empty(n, dtype=np.int64)
    pinned[order] = np.rint(out).astype(np.int64)
    return pinned


def _labels(n: int, *pairs) -> np.ndarray:
    """Object array of ``label`` where each ``mask`` holds (first match wins), NaN elsewhere."""
    out = np.full(n, np.nan, dtype=object)
    done = np.zeros(n, dtype=bool)
    for mask, label in pairs:
        out[mask & ~done] = label
        done |= mask
    return out


def _lognormal_days(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return np.rint(np.asarray(median) * np.exp(sigma * rng.standard_normal(n))).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# the latent cohort
# --------------------------------------------------------------------------------------------------

@dataclass
class _Latent:
    """Per-patient arrays of everything that is true regardless of the cutoff (days from infusion)."""

    base: pd.DataFrame          # baseline ADSL columns, TRTSDT offset ``day0`` and latent codes
    w_pub: np.ndarray           # days from infusion to the published cutoff (calibration window)
    resp: np.ndarray            # 1..4 true best response (also for non-evaluable patients)
    bor_day: np.ndarray         # day of the response assessment
    mrd: np.ndarray             # MRD status string or NaN
    hct: np.ndarray             # day of allo-HCT after CAR-T, NEVER if none
    rel: np.ndarray             # day of relapse/progression, NEVER if none
    death: np.ndarray           # day of death, NEVER if none within the horizon
    first_visit: np.ndarray     # first follow-up contact (day 45-60)
    anchor: np.ndarray          # scheduled contacts are anchor + k * gap (>= first_visit)
    gap: np.ndarray
    ae: pd.DataFrame            # CRS/ICANS rows: index into patients, AECAT, grade, onset day, duration


def _draw_baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    diag = _shuffled(rng, list(PUB_DIAG), _counts(n, list(PUB_DIAG.values())))
    typical_age = pd.Series(diag).map({"T-ALL": 19, "T-LBL": 22, "MPAL": 30, "AML": 38, "PTCL": 46})
    age = np.clip(typical_age.to_numpy(float) * np.exp(0.55 * rng.standard_normal(n)), 1.0, 80.0)
    age = _pin_quantiles(age, *PUB_AGE)

    n_male = _scaled(PUB_MALE, PUBLISHED_N, n)
    sex = _shuffled(rng, ["M", "F"], [n_male, n - n_male])

    # prior allo-HCT: more often in leukaemias and adults
    w_prior = np.where(np.isin(diag, ["T-ALL", "AML", "MPAL"]), 1.5, 1.0) * np.where(age >= 18, 1.5, 1.0)
    prior_any = _choose(rng, _scaled(PUB_PRIOR_HCT, PUBLISHED_N, n), w_prior)
    prior_two = _choose(rng, _scaled(PUB_PRIOR_HCT2, PUB_PRIOR_HCT, prior_any.sum()), np.ones(n), prior_any)
    priorhct = prior_any.astype(np.int64) + prior_two

    # marrow involvement: lymphomas (T-LBL, PTCL) are the ones often without it
    w_no_marrow = pd.Series(diag).map({"T-ALL": 0.15, "T-LBL": 6.0, "MPAL": 0.15, "AML": 0.15, "PTCL": 6.0})
    bminv = ~_choose(rng, n - _scaled(PUB_BMINV, PUBLISHED_N, n), w_no_marrow.to_numpy(float))
    w_high = pd.Series(diag).map({"T-ALL": 3.0, "T-LBL": 1.0, "MPAL": 3.0, "AML": 3.0, "PTCL": 0.5})
    high = _choose(rng, _scaled(PUB_BLAST20, PUB_BMINV, bminv.sum()), w_high.to_numpy(float), bminv)
    blast_hi = np.round(20.0 + 75.0 * rng.beta(1.2, 2.0, n), 1)
    blast_lo = np.round(0.1 + 19.8 * rng.beta(0.7, 1.6, n), 1)
    bmblast = np.where(bminv, np.where(high, blast_hi, blast_lo), np.nan)

    dose_idx = _shuffled(rng, [0, 1, 2], _counts(n, [0.25, 0.55, 0.20])).astype(np.int64)

    # infusion dates: enrolment grew over time; first and last date pinned to the published window
    span = (LAST_INFUSION - FIRST_INFUSION).days
    day0 = np.rint(span * rng.beta(0.9, 1.1, n)).astype(np.int64)
    if n >= 2:
        day0[np.argmin(day0)], day0[np.argmax(day0)] = 0, span
    return pd.DataFrame({
        "DIAG": diag.astype(object), "AGE": age.astype(np.int64), "SEX": sex.astype(object),
        "PRIORHCT": priorhct.astype(np.int64), "BMINV": np.where(bminv, "Y", "N").astype(object),
        "BMBLAST": bmblast, "dose_idx": dose_idx, "day0": day0,
    })


def _assign_studies(rng: np.random.Generator, base: pd.DataFrame) -> None:
    """Trial and subject numbers. Allocation is illustrative: by diagnosis and trial opening date."""
    opens = np.array([(date(y, m, d) - FIRST_INFUSION).days for y, m, d in
                      [(2020, 11, 9), (2022, 12, 1), (2021, 3, 1), (2021, 3, 1), (2021, 3, 1)]])
    # rows: DIAGNOSES, columns: STUDIES. NCT04572308 and NCT04916860 enrolled T-ALL/LBL (Zhang
    # et al., Am J Hematol 2023); which of the other three enrolled which diseases is not public.
    affinity = np.array([[3, 2, 3, 0, 0],     # T-ALL
                         [3, 2, 3, 0, 0],     # T-LBL
                         [1, 1, 0, 0, 4],     # MPAL
                         [1, 1, 0, 0, 4],     # AML
                         [1, 0, 0, 4, 0]],    # PTCL
                        dtype=float)
    d = pd.Categorical(base["DIAG"], categories=DIAGNOSES).codes
    w = affinity[d] * (base["day0"].to_numpy()[:, None] >= opens[None, :])
    w[w.sum(axis=1) == 0, 0] = 1.0
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    study = np.minimum((cum < rng.random(len(base))[:, None]).sum(axis=1), len(STUDIES) - 1)
    base["STUDYID"] = np.asarray(STUDIES, dtype=object)[study]
    # subject numbers in order of infusion within each trial (stable across cutoffs)
    tiebreak = rng.random(len(base))
    order = np.lexsort((tiebreak, base["day0"].to_numpy(), study))
    seq = np.empty(len(base), dtype=np.int64)
    sorted_study = study[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_study)) + 1]
    run = np.arange(len(base)) - np.repeat(starts, np.diff(np.r_[starts, len(base)]))
    seq[order] = run + 1
    width = max(4, len(str(int(seq.max()))))
    base["SUBJID"] = pd.Series(seq).astype(str).str.zfill(width).to_numpy(object)
    base["USUBJID"] = (base["STUDYID"] + "-" + base["SUBJID"]).to_numpy(object)
    # integer sort key in USUBJID order (trial name, then number), to sort rows without strings
    trial_rank = np.argsort(np.argsort(np.asarray(STUDIES)))[study]
    base["row_key"] = trial_rank * (len(base) + 1) + seq


def _draw_response(rng: np.random.Generator, base: pd.DataFrame):
    """Evaluability, true best response (1 CR, 2 CRi, 3 PR, 4 NR), assessment day and MRD."""
    n = len(base)
    evaluable = ~_choose(rng, n - _scaled(PUB_EVALUABLE, PUBLISHED_N, n), np.ones(n))
    m = int(evaluable.sum())
    n_resp = _scaled(PUB_RESPONDERS, PUB_EVALUABLE, m)
    n_crcri = _scaled(PUB_CR_CRI, PUB_EVALUABLE, m)
    diag = base["DIAG"].to_numpy()
    high = base["BMBLAST"].to_numpy() >= 20
    w_nr = (np.where(high, 3.0, 1.0) * np.where(diag == "AML", 3.0, 1.0) * np.where(diag == "MPAL", 1.5, 1.0)
            * np.where(diag == "PTCL", 2.0, 1.0) * np.where(base["PRIORHCT"].to_numpy() > 0, 1.3, 1.0))
    nr = _choose(rng, m - n_resp, w_nr, evaluable)
    pr = _choose(rng, n_resp - n_crcri, w_nr, evaluable & ~nr)
    cri = rng.random(n) < 0.2
    resp = np.where(nr, 4, np.where(pr, 3, np.where(cri, 2, 1)))
    # non-evaluable patients still have a true course: mostly responders
    latent = rng.choice([1, 2, 4], size=n, p=[0.6, 0.15, 0.25])
    resp = np.where(evaluable, resp, latent).astype(np.int64)
    bor_day = (28 + rng.integers(-5, 8, n)).astype(np.int64)
    u = rng.random(n)
    negative = (resp <= 2) & (u < 0.90)
    positive = ((resp <= 2) & (u >= 0.90) & (u < 0.97)) | ((resp == 3) & (u < 0.7)) | ((resp == 4) & (u < 0.4))
    mrd = _labels(n, (negative, "NEGATIVE"), (positive, "POSITIVE"))
    return evaluable, resp, bor_day, mrd


def _first_infusion_to_responder(rng: np.random.Generator, base: pd.DataFrame, resp: np.ndarray) -> None:
    """Give the first infusion date to a complete responder: the longest follow-up is event-free."""
    day0 = base["day0"].to_numpy().copy()
    first = int(np.argmin(day0))
    if resp[first] <= 2:
        return
    cand = np.flatnonzero(resp <= 2)
    if len(cand):
        other = int(rng.choice(cand))
        day0[first], day0[other] = day0[other], day0[first]
        base["day0"] = day0


def _draw_transplant(rng: np.random.Generator, base, w_pub, resp, evaluable) -> np.ndarray:
    """Day of allo-HCT after CAR-T (NEVER if none).

    Exactly the published share is transplanted by the published cutoff (median 57 days, range
    28-227); responders, fitter and younger patients are favoured. Responders infused too recently
    to be transplanted by then may be transplanted later (seen at later cutoffs).
    """
    n = len(base)
    delay = 28 + rng.gamma(2.2, 15.0, n)
    w = (np.select([resp <= 2, resp == 3], [10.0, 3.0], 0.6) * np.where(evaluable, 1.0, 0.5)
         * np.select([base["PRIORHCT"] >= 2, base["PRIORHCT"] == 1], [0.2, 0.6], 1.0)
         * np.where(base["AGE"] > 55, 0.5, 1.0) * np.where(base["DIAG"] == "PTCL", 0.7, 1.0))
    chosen = _choose(rng, _scaled(PUB_HCT, PUBLISHED_N, n), w, delay <= w_pub)
    lo, med, hi = PUB_HCT_DAYS
    idx = np.flatnonzero(chosen)
    d = delay[idx].copy()
    can_be_max = w_pub[idx] >= hi
    if can_be_max.any() and len(idx) >= 3:
        d[np.flatnonzero(can_be_max)[np.argmax(d[can_be_max])]] = d.max() + 1  # the longest interval
    d = _pin_quantiles(d, lo, med, hi)
    d = np.where(d > w_pub[idx], np.maximum(med, w_pub[idx] - 7), d)  # stretched past the cutoff
    hct = np.full(n, NEVER, dtype=np.int64)
    hct[idx] = d
    later = ~chosen & (delay > w_pub) & (resp <= 2) & (rng.random(n) < 0.6)
    hct[later] = np.ceil(delay[later]).astype(np.int64)
    return hct


def _draw_outcomes(rng: np.random.Generator, resp, hct, bor_day, high_blast):
    """True days of relapse/progression and death.

    Non-responders progress early (day 45 on) and most die within a year; responders relapse less,
    and less after transplant; non-relapse mortality is higher after transplant; relapse after
    CAR-T is mostly fatal within months.

    Notes
    -----
    Tuned so that, at the published cutoff, the Kaplan-Meier 2-year OS is about 64% as in the
    earlier NS7CAR series, and the observed-time medians land near the published ones before
    calibration. The 2-year PFS comes out near 60% rather than that series' 54%: the abstract's
    PFS and OS observed-time medians lie only 20 days apart, which leaves little room for patients
    alive after relapse.
    """
    n = len(resp)
    transplanted = hct < NEVER
    nr = resp == 4
    u = rng.random(n)
    p_rel = np.where(transplanted, 0.16, 0.40) * np.where(resp == 3, 1.6, 1.0) * np.where(high_blast, 1.3, 1.0)
    p_nrm = np.where(transplanted, 0.14, 0.08)
    relapse = nr | (u < p_rel)
    nrm = ~relapse & (u < p_rel + p_nrm)

    rel_resp = np.maximum(_lognormal_days(rng, np.where(transplanted, 420.0, 300.0), 0.6, n), 60)
    rel_resp = np.where(transplanted & (hct < NEVER), np.maximum(rel_resp, hct + 30), rel_resp)
    rel_nr = 45 + np.floor(rng.exponential(20.0, n)).astype(np.int64)
    rel = np.where(nr, rel_nr, np.where(relapse, np.maximum(rel_resp, bor_day + 14), NEVER))

    dies_after = rng.random(n) < np.where(nr, np.where(transplanted, 0.8, 0.95), 0.95)
    after = rel + 1 + _lognormal_days(rng, np.where(nr, 80.0, 75.0), 0.7, n)
    nrm_day = np.where(transplanted, hct, 20) + _lognormal_days(rng, 110.0, 0.8, n)
    death = np.where(relapse & dies_after, after, np.where(nrm, np.maximum(nrm_day, 45), NEVER))
    # nobody dies before the transplant they received
    early = transplanted & (death <= hct + 7)
    death = np.where(early, hct + 8 + np.floor(rng.exponential(60.0, n)).astype(np.int64), death)
    rel = np.where(rel >= death, NEVER, rel)
    return rel.astype(np.int64), death.astype(np.int64)


def _draw_toxicity(rng: np.random.Generator, base: pd.DataFrame) -> pd.DataFrame:
    """CRS and ICANS at maximum ASTCT grade, onset day and duration (never grade 5)."""
    n = len(base)
    high = base["BMBLAST"].to_numpy() >= 20
    marrow = base["BMINV"].to_numpy() == "Y"
    dose = base["dose_idx"].to_numpy()
    crs = _choose(rng, _scaled(PUB_CRS, PUBLISHED_N, n), np.where(marrow, 2.0, 1.0))
    w_severe = np.exp(1.4 * high + 0.6 * dose)
    severe = _choose(rng, _scaled(PUB_CRS_GE3, PUB_CRS, crs.sum()), w_severe, crs)
    crs_grade = np.where(severe, np.where(rng.random(n) < 0.15, 4, 3), np.where(rng.random(n) < 0.4, 2, 1))
    crs_onset = rng.choice(np.arange(8), size=n, p=[0.05, 0.30, 0.30, 0.18, 0.09, 0.05, 0.02, 0.01])
    crs_dur = 3 + np.minimum(rng.poisson(1.5 + 1.5 * (crs_grade - 1)), 9)

    w_icans = np.where(crs, np.select([crs_grade >= 3, crs_grade == 2], [8.0, 2.0], 1.0), 0.3)
    icans = _choose(rng, _scaled(PUB_ICANS, PUBLISHED_N, n), w_icans)
    icans_severe = _choose(rng, _scaled(PUB_ICANS_GE3, PUB_ICANS, icans.sum()),
                           np.where(crs_grade >= 3, 3.0, 1.0), icans)
    icans_grade = np.where(icans_severe, np.where(rng.random(n) < 0.25, 4, 3), np.where(rng.random(n) < 0.5, 2, 1))
    icans_onset = 5 + rng.integers(0, 6, n)
    icans_dur = 1 + np.minimum(rng.poisson(0.5 + 0.6 * icans_grade), 6)

    rows = [pd.DataFrame({"patient": np.flatnonzero(mask), "AECAT": cat, "AETOXGR": g[mask],
                          "onset": o[mask].astype(np.int64), "ADURN": d[mask].astype(np.int64)})
            for cat, mask, g, o, d in [("CRS", crs, crs_grade, crs_onset, crs_dur),
                                       ("ICANS", icans, icans_grade, icans_onset, icans_dur)]]
    return pd.concat(rows, ignore_index=True)


def _draw_contacts(rng: np.random.Generator, n: int):
    """Follow-up schedule: a first visit on day 45-60, then one every 30-90 days."""
    first_visit = (45 + rng.integers(0, 16, n)).astype(np.int64)
    gap = rng.integers(30, 91, n).astype(np.int64)
    return first_visit, first_visit.copy(), gap


def _last_contact(lat: _Latent, end: np.ndarray) -> np.ndarray:
    """Last day (<= ``end``) the patient was seen: scheduled visit, assessment, HCT or relapse."""
    a, g, fv = lat.anchor, lat.gap, lat.first_visit
    lattice = a + np.floor_divide(end - a, g) * g
    sched = np.where(lattice >= fv, lattice, np.where(fv <= end, fv, 0))
    seen = [np.where(x <= end, x, 0) for x in (sched, lat.bor_day, lat.hct, lat.rel)]
    return np.maximum.reduce(seen)


def _times(lat: _Latent, window: np.ndarray):
    """Observed OS/PFS days and kinds for a window (days from infusion to the cutoff)."""
    dead = lat.death <= window
    alive_end = np.where(dead, lat.death - 1, window)
    last = _last_contact(lat, alive_end)
    os_t = np.where(dead, lat.death, last)
    relapsed = lat.rel <= window
    pfs_t = np.where(relapsed, lat.rel, os_t)
    pfs_kind = np.where(relapsed, 1, np.where(dead, 2, 0))  # 0 censored, 1 relapse, 2 death
    return dead, last, os_t, relapsed, pfs_t, pfs_kind


# --------------------------------------------------------------------------------------------------
# calibration at the published cutoff
# --------------------------------------------------------------------------------------------------

def _set_last_contact(lat: _Latent, idx: np.ndarray, day: np.ndarray, window: np.ndarray) -> None:
    """Move the contact schedule so the last contact on or before ``window`` is ``day``."""
    lat.anchor[idx] = day
    lat.gap[idx] = np.maximum(lat.gap[idx], window[idx] - day + 1)


def _pin_extremes(rng: np.random.Generator, lat: _Latent) -> tuple[int, int]:
    """Published minimum (day 45) and maximum (day 1694) of observed PFS and OS.

    The maximum is an event-free patient infused first and last seen on day 1694; the minimum a
    responder without transplant who died on day 45 without relapse (a PFS and an OS event).
    Everybody else is capped below the maximum. Returns the two designated patients.
    """
    lo, _, hi = PUB_OS_DAYS
    w = lat.w_pub
    first = int(np.argmin(lat.base["day0"].to_numpy()))
    # the first infused patient (a complete responder, see _first_infusion_to_responder): no event
    lat.rel[first], lat.death[first] = NEVER, NEVER
    if w[first] >= hi:
        _set_last_contact(lat, np.array([first]), np.array([hi]), w)
    cand = np.flatnonzero((lat.resp <= 2) & (lat.hct == NEVER) & (np.arange(len(w)) != first))
    earliest = -1
    if len(cand):
        earliest = int(cand[np.argmin(np.minimum(lat.rel[cand], lat.death[cand]))])
        lat.rel[earliest], lat.death[earliest] = NEVER, lo

    others = np.arange(len(w)) != first
    lat.rel[others & (lat.rel >= hi) & (lat.rel <= w)] = NEVER  # no relapse seen after the maximum
    dead, last, os_t, relapsed, pfs_t, _ = _times(lat, w)
    too_late = others & ~dead & (last >= hi)
    floor_ = np.maximum.reduce([lat.first_visit, np.where(lat.hct <= w, lat.hct, 0),
                                np.where(relapsed, lat.rel, 0), lat.bor_day])
    idx = np.flatnonzero(too_late)
    _set_last_contact(lat, idx, np.maximum(floor_[idx], hi - rng.integers(1, 40, len(idx))), w)
    late_death = others & dead & (lat.death >= hi)
    lat.death[late_death] = hi - 1
    lat.rel[late_death & (lat.rel >= hi - 1)] = NEVER
    return first, earliest


MAX_SHIFT = 180  # days a calibrated time may move at most


def _median_moves(rng, t, lb, ub, movable, lo: int, hi: int, m: int) -> np.ndarray:
    """New times so that exactly ``m`` are <= lo, the largest of them is lo and the next is hi.

    Only ``movable`` patients within ``MAX_SHIFT`` days of the median move, each within [lb, ub],
    the ones nearest the median first; the rest keep their times. Best effort: for sizes other
    than the published one the median may stay off. Returns the adjusted copy of ``t``.
    """
    t = t.copy()
    movable = movable & (np.abs(t - lo) <= MAX_SHIFT)
    jitter = rng.integers(0, 15, len(t))
    count = int((t <= lo).sum())
    if count < m:
        cand = np.flatnonzero(movable & (t >= hi) & (lb <= lo))
        cand = cand[np.argsort(t[cand], kind="stable")][: m - count]
        t[cand] = np.maximum(lb[cand], lo - jitter[cand])
    elif count > m:
        cand = np.flatnonzero(movable & (t <= lo) & (ub >= hi))
        cand = cand[np.argsort(-t[cand], kind="stable")][: count - m]
        t[cand] = np.minimum(ub[cand], hi + jitter[cand])
    if not (t == lo).any():
        cand = np.flatnonzero(movable & (t <= lo) & (ub >= lo))
        if len(cand):
            t[cand[np.argmax(t[cand])]] = lo
    if not (t == hi).any():
        cand = np.flatnonzero(movable & (t >= hi) & (lb <= hi))
        if len(cand):
            t[cand[np.argmin(t[cand])]] = hi
    return t


def _pin_os_median(rng: np.random.Generator, lat: _Latent) -> None:
    """Published median of observed OS days: move death/last-contact days of relapsed patients.

    Their PFS time is the relapse day, so moving the OS time (never below it) leaves PFS alone.
    """
    w = lat.w_pub
    dead, last, os_t, relapsed, _, _ = _times(lat, w)
    hct_seen = np.where(lat.hct <= w, lat.hct, 0)
    lb = np.where(dead, np.maximum(lat.rel, hct_seen) + 1,
                  np.maximum.reduce([lat.first_visit, lat.bor_day, hct_seen, lat.rel]))
    lb = np.maximum(lb, PUB_OS_DAYS[0] + 1)
    ub = np.minimum(w, PUB_OS_DAYS[2] - 1)
    lo = int(np.floor(PUB_OS_DAYS[1]))
    new = _median_moves(rng, os_t, lb, ub, relapsed, lo, lo + 1, len(w) // 2)
    moved = np.flatnonzero(new != os_t)
    d, a = moved[dead[moved]], moved[~dead[moved]]
    lat.death[d] = new[d]
    _set_last_contact(lat, a, new[a], w)


def _pin_pfs_median(rng: np.random.Generator, lat: _Latent) -> None:
    """Published median of observed PFS days: move relapse days, never past the OS time."""
    w = lat.w_pub
    dead, last, os_t, relapsed, pfs_t, _ = _times(lat, w)
    no_rel = _Latent(**{**lat.__dict__, "rel": np.full_like(lat.rel, NEVER)})
    last_without_relapse = _last_contact(no_rel, np.where(dead, lat.death - 1, w))
    before_hct = lat.hct > lat.rel
    lb = np.maximum.reduce([np.full_like(w, PUB_PFS_DAYS[0] + 1), lat.bor_day + 1,
                            np.where(before_hct, 0, lat.hct + 1)])
    ub = np.minimum(np.where(dead, lat.death - 1, last_without_relapse),
                    np.where(before_hct, lat.hct - 1, NEVER))
    lo = int(np.floor(PUB_PFS_DAYS[1]))
    responder_relapse = relapsed & (lat.resp <= 3) & (lb <= ub)  # non-responders keep early progression
    new = _median_moves(rng, pfs_t, lb, ub, responder_relapse, lo, lo + 1, len(w) // 2)
    moved = np.flatnonzero(new != pfs_t)
    lat.rel[moved] = new[moved]


@lru_cache(maxsize=4)
def _latent_cohort(n: int, seed: int) -> _Latent:
    rng = np.random.default_rng(seed)
    base = _draw_baseline(rng, n)
    evaluable, resp, bor_day, mrd = _draw_response(rng, base)
    _first_infusion_to_responder(rng, base, resp)
    _assign_studies(rng, base)
    w_pub = (PUBLISHED_CUTOFF - FIRST_INFUSION).days - base["day0"].to_numpy()
    base["EFFFL"] = np.where(evaluable, "Y", "N").astype(object)
    hct = _draw_transplant(rng, base, w_pub, resp, evaluable)
    rel, death = _draw_outcomes(rng, resp, hct, bor_day, base["BMBLAST"].to_numpy() >= 20)
    first_visit, anchor, gap = _draw_contacts(rng, n)
    ae = _draw_toxicity(rng, base)
    lat = _Latent(base=base, w_pub=w_pub, resp=resp, bor_day=bor_day, mrd=mrd, hct=hct, rel=rel,
                  death=death, first_visit=first_visit, anchor=anchor, gap=gap, ae=ae)
    _pin_extremes(rng, lat)
    _pin_os_median(rng, lat)
    _pin_pfs_median(rng, lat)
    return lat


# --------------------------------------------------------------------------------------------------
# observation at a cutoff
# --------------------------------------------------------------------------------------------------

def _dates(day0: np.ndarray, days: np.ndarray, present: np.ndarray | None = None) -> pd.Series:
    start = np.datetime64(FIRST_INFUSION, "D")
    out = (start + day0 + np.where(present if present is not None else True, days, 0)).astype("datetime64[ns]")
    s = pd.Series(out)
    if present is not None:
        s = s.where(present)
    return s


def simulate_cohort(n: int = PUBLISHED_N, cutoff: date | str = PUBLISHED_CUTOFF, seed: int = SEED
                    ) -> dict[str, pd.DataFrame]:
    """Simulated ADSL, ADRS, ADTTE and ADAE of ``n`` patients observed at ``cutoff``.

    Parameters
    ----------
    n : int
        Size of the latent cohort (patients infused 2020-11-09 .. 2025-05-21). Patients infused
        after ``cutoff`` are not in the data.
    cutoff : date or "YYYY-MM-DD"
        Data cutoff (DCUTDT).
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
    if int(n) < 1:
        raise SimulationError(f"n must be a positive number of patients, got {n}")
    if isinstance(cutoff, str):
        cutoff = date.fromisoformat(cutoff)
    elif isinstance(cutoff, datetime):
        cutoff = cutoff.date()
    if cutoff < FIRST_INFUSION:
        raise SimulationError(f"cutoff {cutoff} is before the first infusion ({FIRST_INFUSION}): no patients")
    lat = _latent_cohort(int(n), int(seed))
    base = lat.base
    window = (cutoff - FIRST_INFUSION).days - base["day0"].to_numpy()
    keep = window >= 0
    frames = _observe(lat, window, cutoff, keep)
    frames["adsl"].attrs["nscore_source"] = {"simulated": True, "generator": GENERATOR,
                                             "seed": int(seed), "n": int(n), "cutoff": cutoff.isoformat()}
    return frames


def _observe(lat: _Latent, window: np.ndarray, cutoff: date, keep: np.ndarray) -> dict[str, pd.DataFrame]:
    b = lat.base
    day0 = b["day0"].to_numpy()
    dead, last, os_t, relapsed, pfs_t, pfs_kind = _times(lat, window)
    hct_seen = lat.hct <= window
    assessed = b["EFFFL"].to_numpy() == "Y"
    assessed = assessed & (lat.bor_day <= window)
    dcut = pd.Timestamp(cutoff)

    adsl = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "SUBJID": b["SUBJID"], "AGE": b["AGE"],
        "SEX": b["SEX"], "DIAG": b["DIAG"], "PRIORHCT": b["PRIORHCT"], "BMINV": b["BMINV"],
        "BMBLAST": b["BMBLAST"], "DOSELVL": np.asarray(DOSE_LEVELS, dtype=object)[b["dose_idx"]],
        "DOSEKG": np.asarray(DOSE_PER_KG)[b["dose_idx"]], "TRTSDT": _dates(day0, np.zeros_like(day0)),
        "SAFFL": "Y", "EFFFL": np.where(assessed, "Y", "N").astype(object),
        "HCTFL": np.where(hct_seen, "Y", "N").astype(object), "HCTDT": _dates(day0, lat.hct, hct_seen),
        "DTHFL": np.where(dead, "Y", "N").astype(object), "DTHDT": _dates(day0, lat.death, dead),
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
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "PARAMCD": "OS", "PARAM": PARAM["OS"],
        "STARTDT": start, "ADT": _dates(day0, os_t), "AVAL": os_t.astype(np.int64),
        "CNSR": np.where(dead, 0, 1).astype(np.int64),
        "EVNTDESC": _labels(len(b), (dead, "DEATH")), "CNSDTDSC": _labels(len(b), (~dead, "ALIVE AT LAST CONTACT")),
    })
    pfs_df = pd.DataFrame({
        "STUDYID": b["STUDYID"], "USUBJID": b["USUBJID"], "PARAMCD": "PFS", "PARAM": PARAM["PFS"],
        "STARTDT": start, "ADT": _dates(day0, pfs_t), "AVAL": pfs_t.astype(np.int64),
        "CNSR": np.where(pfs_kind == 0, 1, 0).astype(np.int64),
        "EVNTDESC": _labels(len(b), (pfs_kind == 1, "RELAPSE OR PROGRESSION"), (pfs_kind == 2, "DEATH")),
        "CNSDTDSC": _labels(len(b), (pfs_kind == 0, "ALIVE AT LAST CONTACT")),
    })
    adtte = pd.concat([os_df[keep], pfs_df[keep]], ignore_index=True)

    ae = lat.ae
    p = ae["patient"].to_numpy()
    onset = ae["onset"].to_numpy()
    end = onset + ae["ADURN"].to_numpy() - 1
    resolved = end <= window[p]
    adae = pd.DataFrame({
        "STUDYID": b["STUDYID"].to_numpy()[p], "USUBJID": b["USUBJID"].to_numpy()[p], "AECAT": ae["AECAT"],
        "AEDECOD": ae["AECAT"].map(AEDECOD), "AETOXGR": ae["AETOXGR"].astype(np.int64),
        "ASTDT": _dates(day0[p], onset), "ASTDY": (onset + 1).astype(np.int64),
        "AENDT": _dates(day0[p], end, resolved),
        "ADURN": pd.array(np.where(resolved, ae["ADURN"], 0), dtype="Int64"),
    })
    adae.loc[~resolved, "ADURN"] = pd.NA
    adae = adae[keep[p] & (onset <= window[p])]

    key = b["row_key"].to_numpy()
    orders = {
        "adsl": np.argsort(key[keep], kind="stable"),
        "adrs": np.argsort(key[adrs_rows], kind="stable"),
        "adtte": np.lexsort(((adtte["PARAMCD"] == "PFS").to_numpy(), np.concatenate([key[keep], key[keep]]))),
        "adae": np.lexsort(((adae["AECAT"] == "ICANS").to_numpy(), key[p][keep[p] & (onset <= window[p])])),
    }
    frames = {"adsl": adsl[keep], "adrs": adrs, "adtte": adtte, "adae": adae}
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


def _resolve_data_dir(data_dir) -> Path:
    try:
        from nscore.data.versions import resolve_data_dir
    except ImportError:
        path = Path(data_dir)
        return path if path.is_absolute() else Path.cwd() / path
    return Path(resolve_data_dir(data_dir))


def write_shipped(data_dir="data") -> list[Path]:
    """Regenerate the shipped cutoffs (2025-08-01, 2026-02-01) of the 334-patient cohort.

    Each is written to ``<data_dir>/cutoffs/<cutoff>/``; when ``nscore.data.versions.store`` exists it
    validates and stores the version (with its manifest), replacing what is stored for that cutoff,
    otherwise the CSVs are written directly.
    Re-running gives byte-identical files. Returns the version directories.
    """
    import tempfile

    root = _resolve_data_dir(data_dir)
    try:
        from nscore.data.versions import store
    except ImportError:  # the data store is optional: without it, write the files directly
        store = None
    paths = []
    for cutoff in SHIPPED_CUTOFFS:
        frames = simulate_cohort(PUBLISHED_N, cutoff, SEED)
        if store is None:
            target = root / "cutoffs" / cutoff.isoformat()
            write_cohort(frames, target)
            paths.append(target)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                write_cohort(frames, tmp)
                # the generator is the source of the shipped data: a regenerated version replaces it
                paths.append(Path(store(tmp, root, replace=True)))
    return paths

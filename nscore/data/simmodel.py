"""The latent NS7CAR cohort of the simulation: drawn once from the seed, calibrated to the abstract.

Everything here is true of a simulated patient regardless of the cutoff (days from infusion):
baseline, best response, the days of transplant, relapse and death, the follow-up schedule and
CRS/ICANS. :mod:`nscore.data.simulate` observes it at a cutoff and writes the datasets.

What it must reproduce (:class:`nscore.data.simtargets.Targets`) is read from the study
definition it models, the project's ``data/study.yml``. Its own parameters (typical age by
diagnosis, trial opening dates, hazards...) are NS7CAR's.

One cohesive thing, about 500 lines: the draws and the calibration share the latent arrays and
the order of the seeded random stream (reordering them changes every simulated patient).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from nscore.data.simtargets import Targets, targets

NEVER = 1_000_000  # "day" of an event that never happens


# --------------------------------------------------------------------------------------------------
# small building blocks
# --------------------------------------------------------------------------------------------------

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


def labels_where(n: int, *pairs) -> np.ndarray:
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
class Latent:
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
    # drawn after the calibration from their own stream (see _draw_after_calibration), so the
    # published figures above do not depend on them
    more_ae: pd.DataFrame | None = None     # other categories: patient, AECAT, AEDECOD, AETOXGR (5: fatal), onset, ADURN
    cause: np.ndarray | None = None         # cause of death (DTHCAUS) of each patient who dies
    not_infused: pd.DataFrame | None = None  # enrolled, never infused: STUDYID, USUBJID, APHFL, MFGFL, DSREAS, day


def _draw_baseline(rng: np.random.Generator, n: int, t: Targets) -> pd.DataFrame:
    diag = _shuffled(rng, list(t.diagnoses), _counts(n, list(t.diagnosis_counts)))
    typical_age = pd.Series(diag).map({"T-ALL": 19, "T-LBL": 22, "MPAL": 30, "AML": 38, "PTCL": 46})
    age = np.clip(typical_age.to_numpy(float) * np.exp(0.55 * rng.standard_normal(n)), 1.0, 80.0)
    age = _pin_quantiles(age, *t.age)

    n_male = _scaled(t.male, t.n, n)
    sex = _shuffled(rng, ["M", "F"], [n_male, n - n_male])

    # prior allo-HCT: more often in leukaemias and adults
    w_prior = np.where(np.isin(diag, ["T-ALL", "AML", "MPAL"]), 1.5, 1.0) * np.where(age >= 18, 1.5, 1.0)
    prior_any = _choose(rng, _scaled(t.prior_hct, t.n, n), w_prior)
    prior_two = _choose(rng, _scaled(t.prior_hct_2, t.prior_hct, prior_any.sum()), np.ones(n), prior_any)
    priorhct = prior_any.astype(np.int64) + prior_two

    # marrow involvement: lymphomas (T-LBL, PTCL) are the ones often without it
    w_no_marrow = pd.Series(diag).map({"T-ALL": 0.15, "T-LBL": 6.0, "MPAL": 0.15, "AML": 0.15, "PTCL": 6.0})
    bminv = ~_choose(rng, n - _scaled(t.marrow, t.n, n), w_no_marrow.to_numpy(float))
    w_high = pd.Series(diag).map({"T-ALL": 3.0, "T-LBL": 1.0, "MPAL": 3.0, "AML": 3.0, "PTCL": 0.5})
    high = _choose(rng, _scaled(t.blasts_20, t.marrow, bminv.sum()), w_high.to_numpy(float), bminv)
    blast_hi = np.round(20.0 + 75.0 * rng.beta(1.2, 2.0, n), 1)
    blast_lo = np.round(0.1 + 19.8 * rng.beta(0.7, 1.6, n), 1)
    bmblast = np.where(bminv, np.where(high, blast_hi, blast_lo), np.nan)

    dose_idx = _shuffled(rng, [0, 1, 2], _counts(n, [0.25, 0.55, 0.20])).astype(np.int64)

    # infusion dates: enrolment grew over time; first and last date pinned to the published window
    span = (t.last_infusion - t.first_infusion).days
    day0 = np.rint(span * rng.beta(0.9, 1.1, n)).astype(np.int64)
    if n >= 2:
        day0[np.argmin(day0)], day0[np.argmax(day0)] = 0, span
    return pd.DataFrame({
        "DIAG": diag.astype(object), "AGE": age.astype(np.int64), "SEX": sex.astype(object),
        "PRIORHCT": priorhct.astype(np.int64), "BMINV": np.where(bminv, "Y", "N").astype(object),
        "BMBLAST": bmblast, "dose_idx": dose_idx, "day0": day0,
    })


def _assign_studies(rng: np.random.Generator, base: pd.DataFrame, t: Targets) -> None:
    """Trial and subject numbers. Allocation is illustrative: by diagnosis and trial opening date."""
    opens = np.array([(date(y, m, d) - t.first_infusion).days for y, m, d in
                      [(2020, 11, 9), (2022, 12, 1), (2021, 3, 1), (2021, 3, 1), (2021, 3, 1)]])
    # rows: the study's diagnoses, columns: its trials (both in data/study.yml order). NCT04572308 and NCT04916860 enrolled T-ALL/LBL (Zhang
    # et al., Am J Hematol 2023); which of the other three enrolled which diseases is not public.
    affinity = np.array([[3, 2, 3, 0, 0],     # T-ALL
                         [3, 2, 3, 0, 0],     # T-LBL
                         [1, 1, 0, 0, 4],     # MPAL
                         [1, 1, 0, 0, 4],     # AML
                         [1, 0, 0, 4, 0]],    # PTCL
                        dtype=float)
    d = pd.Categorical(base["DIAG"], categories=t.diagnoses).codes
    w = affinity[d] * (base["day0"].to_numpy()[:, None] >= opens[None, :])
    w[w.sum(axis=1) == 0, 0] = 1.0
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    study = np.minimum((cum < rng.random(len(base))[:, None]).sum(axis=1), len(t.trials) - 1)
    base["STUDYID"] = np.asarray(t.trials, dtype=object)[study]
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
    trial_rank = np.argsort(np.argsort(np.asarray(t.trials)))[study]
    base["row_key"] = trial_rank * (len(base) + 1) + seq


def _draw_response(rng: np.random.Generator, base: pd.DataFrame, t: Targets):
    """Evaluability, true best response (1 CR, 2 CRi, 3 PR, 4 NR), assessment day and MRD."""
    n = len(base)
    evaluable = ~_choose(rng, n - _scaled(t.evaluable, t.n, n), np.ones(n))
    m = int(evaluable.sum())
    n_resp = _scaled(t.responders, t.evaluable, m)
    n_crcri = _scaled(t.cr_cri, t.evaluable, m)
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
    # lymphoma criteria (Lugano-like) know no "incomplete hematologic recovery": CR, not CRi
    lymphoma = np.isin(diag, list(t.lymphoma))
    resp = np.where(lymphoma & (resp == 2), 1, resp).astype(np.int64)
    bor_day = (28 + rng.integers(-5, 8, n)).astype(np.int64)
    u = rng.random(n)
    negative = (resp <= 2) & (u < 0.90)
    positive = ((resp <= 2) & (u >= 0.90) & (u < 0.97)) | ((resp == 3) & (u < 0.7)) | ((resp == 4) & (u < 0.4))
    # marrow MRD applies to leukaemias and to lymphomas involving the marrow only
    applies = ~lymphoma | (base["BMINV"].to_numpy() == "Y")
    mrd = labels_where(n, (negative & applies, "NEGATIVE"), (positive & applies, "POSITIVE"))
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


def _draw_transplant(rng: np.random.Generator, base, w_pub, resp, evaluable, t: Targets) -> np.ndarray:
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
    chosen = _choose(rng, _scaled(t.hct, t.n, n), w, delay <= w_pub)
    lo, med, hi = t.hct_days
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


def _draw_toxicity(rng: np.random.Generator, base: pd.DataFrame, t: Targets) -> pd.DataFrame:
    """CRS and ICANS at maximum ASTCT grade, onset day and duration (never grade 5)."""
    n = len(base)
    high = base["BMBLAST"].to_numpy() >= 20
    marrow = base["BMINV"].to_numpy() == "Y"
    dose = base["dose_idx"].to_numpy()
    crs = _choose(rng, _scaled(t.crs, t.n, n), np.where(marrow, 2.0, 1.0))
    w_severe = np.exp(1.4 * high + 0.6 * dose)
    severe = _choose(rng, _scaled(t.crs_ge3, t.crs, crs.sum()), w_severe, crs)
    crs_grade = np.where(severe, np.where(rng.random(n) < 0.15, 4, 3), np.where(rng.random(n) < 0.4, 2, 1))
    crs_onset = rng.choice(np.arange(8), size=n, p=[0.05, 0.30, 0.30, 0.18, 0.09, 0.05, 0.02, 0.01])
    crs_dur = 3 + np.minimum(rng.poisson(1.5 + 1.5 * (crs_grade - 1)), 9)

    w_icans = np.where(crs, np.select([crs_grade >= 3, crs_grade == 2], [8.0, 2.0], 1.0), 0.3)
    icans = _choose(rng, _scaled(t.icans, t.n, n), w_icans)
    icans_severe = _choose(rng, _scaled(t.icans_ge3, t.icans, icans.sum()),
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


def _last_contact(lat: Latent, end: np.ndarray) -> np.ndarray:
    """Last day (<= ``end``) the patient was seen: scheduled visit, assessment, HCT or relapse."""
    a, g, fv = lat.anchor, lat.gap, lat.first_visit
    lattice = a + np.floor_divide(end - a, g) * g
    sched = np.where(lattice >= fv, lattice, np.where(fv <= end, fv, 0))
    seen = [np.where(x <= end, x, 0) for x in (sched, lat.bor_day, lat.hct, lat.rel)]
    return np.maximum.reduce(seen)


def observed_times(lat: Latent, window: np.ndarray):
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

def _set_last_contact(lat: Latent, idx: np.ndarray, day: np.ndarray, window: np.ndarray) -> None:
    """Move the contact schedule so the last contact on or before ``window`` is ``day``."""
    lat.anchor[idx] = day
    lat.gap[idx] = np.maximum(lat.gap[idx], window[idx] - day + 1)


def _pin_extremes(rng: np.random.Generator, lat: Latent, t: Targets) -> tuple[int, int]:
    """Published minimum (day 45) and maximum (day 1694) of observed PFS and OS.

    The maximum is an event-free patient infused first and last seen on day 1694; the minimum a
    responder without transplant who died on day 45 without relapse (a PFS and an OS event).
    Everybody else is capped below the maximum. Returns the two designated patients.
    """
    lo, _, hi = t.os_days
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
    dead, last, os_t, relapsed, pfs_t, _ = observed_times(lat, w)
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


def _pin_os_median(rng: np.random.Generator, lat: Latent, t: Targets) -> None:
    """Published median of observed OS days: move death/last-contact days of relapsed patients.

    Their PFS time is the relapse day, so moving the OS time (never below it) leaves PFS alone.
    """
    w = lat.w_pub
    dead, last, os_t, relapsed, _, _ = observed_times(lat, w)
    hct_seen = np.where(lat.hct <= w, lat.hct, 0)
    lb = np.where(dead, np.maximum(lat.rel, hct_seen) + 1,
                  np.maximum.reduce([lat.first_visit, lat.bor_day, hct_seen, lat.rel]))
    lb = np.maximum(lb, t.os_days[0] + 1)
    ub = np.minimum(w, t.os_days[2] - 1)
    lo = int(np.floor(t.os_days[1]))
    new = _median_moves(rng, os_t, lb, ub, relapsed, lo, lo + 1, len(w) // 2)
    moved = np.flatnonzero(new != os_t)
    d, a = moved[dead[moved]], moved[~dead[moved]]
    lat.death[d] = new[d]
    _set_last_contact(lat, a, new[a], w)


def _pin_pfs_median(rng: np.random.Generator, lat: Latent, t: Targets) -> None:
    """Published median of observed PFS days: move relapse days, never past the OS time."""
    w = lat.w_pub
    dead, last, os_t, relapsed, pfs_t, _ = observed_times(lat, w)
    no_rel = Latent(**{**lat.__dict__, "rel": np.full_like(lat.rel, NEVER)})
    last_without_relapse = _last_contact(no_rel, np.where(dead, lat.death - 1, w))
    before_hct = lat.hct > lat.rel
    lb = np.maximum.reduce([np.full_like(w, t.pfs_days[0] + 1), lat.bor_day + 1,
                            np.where(before_hct, 0, lat.hct + 1)])
    ub = np.minimum(np.where(dead, lat.death - 1, last_without_relapse),
                    np.where(before_hct, lat.hct - 1, NEVER))
    lo = int(np.floor(t.pfs_days[1]))
    responder_relapse = relapsed & (lat.resp <= 3) & (lb <= ub)  # non-responders keep early progression
    new = _median_moves(rng, pfs_t, lb, ub, responder_relapse, lo, lo + 1, len(w) // 2)
    moved = np.flatnonzero(new != pfs_t)
    lat.rel[moved] = new[moved]


@lru_cache(maxsize=4)
def latent_cohort(n: int, seed: int) -> Latent:
    """The latent cohort of ``n`` patients drawn from ``seed`` (cached: every cutoff observes it)."""
    t = targets()
    rng = np.random.default_rng(seed)
    base = _draw_baseline(rng, n, t)
    evaluable, resp, bor_day, mrd = _draw_response(rng, base, t)
    _first_infusion_to_responder(rng, base, resp)
    _assign_studies(rng, base, t)
    w_pub = (t.cutoff - t.first_infusion).days - base["day0"].to_numpy()
    base["EFFFL"] = np.where(evaluable, "Y", "N").astype(object)
    hct = _draw_transplant(rng, base, w_pub, resp, evaluable, t)
    rel, death = _draw_outcomes(rng, resp, hct, bor_day, base["BMBLAST"].to_numpy() >= 20)
    first_visit, anchor, gap = _draw_contacts(rng, n)
    ae = _draw_toxicity(rng, base, t)
    lat = Latent(base=base, w_pub=w_pub, resp=resp, bor_day=bor_day, mrd=mrd, hct=hct, rel=rel,
                  death=death, first_visit=first_visit, anchor=anchor, gap=gap, ae=ae)
    _pin_extremes(rng, lat, t)
    _pin_os_median(rng, lat, t)
    _pin_pfs_median(rng, lat, t)
    _draw_after_calibration(np.random.default_rng([seed, 2]), lat, t)
    return lat


# --------------------------------------------------------------------------------------------------
# after the calibration: variables the abstract does not report (own random stream)
# --------------------------------------------------------------------------------------------------
#: Infection terms (CTCAE v5.0 / MedDRA preferred terms) and their weights.
INFECTION_TERMS = {"Lung infection": 0.35, "Upper respiratory infection": 0.2,
                   "Cytomegalovirus infection reactivation": 0.2, "Sepsis": 0.15, "Enterocolitis infectious": 0.1}
#: Cytopenias: term -> (P(any grade), P(grade 1..4 | any), median days of the episode at its grade).
CYTOPENIAS = {"Neutrophil count decreased": (0.95, (0.04, 0.08, 0.23, 0.65), 12.0),
              "Platelet count decreased": (0.80, (0.20, 0.20, 0.25, 0.35), 14.0),
              "Anemia": (0.85, (0.15, 0.35, 0.47, 0.03), 14.0)}


def _grades(rng: np.random.Generator, n: int, p) -> np.ndarray:
    return rng.choice(np.arange(1, len(p) + 1), size=n, p=np.asarray(p) / np.sum(p)).astype(np.int64)


def _rows(patient, category, term, grade, onset, duration) -> pd.DataFrame:
    patient = np.asarray(patient, dtype=np.int64)
    return pd.DataFrame({"patient": patient, "AECAT": category,
                         "AEDECOD": np.broadcast_to(np.asarray(term, dtype=object), patient.shape),
                         "AETOXGR": np.asarray(grade, dtype=np.int64), "onset": np.asarray(onset, dtype=np.int64),
                         "ADURN": np.maximum(np.asarray(duration, dtype=np.int64), 1)})


def _draw_after_calibration(rng: np.random.Generator, lat: Latent, t: Targets) -> None:
    """Cytopenias, infections, IEC-HS, GVHD, CRS/ICANS treatment, causes of death and the enrolled
    patients who were never infused. Plausible, not published (data/README.md says which is invented):
    cytopenias are near universal after lymphodepletion and often prolonged, infections common,
    IEC-HS rare and after severe CRS, GVHD only after a transplant, and a death without relapse
    has a non-relapse cause (infection; GVHD after a transplant; other).

    Drawn from their own stream after the calibration, so the published figures stay exact.
    Every event starts before the patient's death (day ``death - 1`` at the latest); a fatal one
    (grade 5) is the cause of death and has no resolution.
    """
    b = lat.base
    n = len(b)
    death, hct, rel = lat.death, lat.hct, lat.rel
    high = b["BMBLAST"].to_numpy() >= 20
    prior = b["PRIORHCT"].to_numpy() > 0
    transplanted = hct < NEVER
    parts = []

    # baseline history the abstract does not report: prior lines of therapy (more after a
    # transplant), disease status at infusion, extramedullary and CNS disease (lymphomas are
    # extramedullary by definition), days from the last prior transplant to the relapse
    diag = b["DIAG"].to_numpy()
    lymphoma = np.isin(diag, list(t.lymphoma))
    b["PRLINES"] = np.clip(1 + rng.poisson(np.where(prior, 2.2, 1.3), n), 1, 10).astype(np.int64)
    b["DISSTAT"] = rng.choice(["Relapsed", "Refractory", "MRD-positive CR"], size=n, p=[0.55, 0.37, 0.08]).astype(object)
    b["EMDFL"] = np.where(rng.random(n) < np.where(lymphoma, 0.9, 0.18), "Y", "N").astype(object)
    b["CNSFL"] = np.where(rng.random(n) < 0.07, "Y", "N").astype(object)
    relday = np.clip(_lognormal_days(rng, 240.0, 0.8, n), 30, 2000)
    b["HCTRELDY"] = pd.array(np.where(prior, relday, 0), dtype="Int64")
    b.loc[~prior, "HCTRELDY"] = pd.NA

    # cytopenias: onset within a week of infusion; the episode lasts longer with a high blast burden
    # or an earlier transplant (prolonged: still grade >= 3 on day 28)
    slow = np.where(high | prior, 1.6, 1.0)
    for term, (p_any, p_grade, median) in CYTOPENIAS.items():
        has = rng.random(n) < p_any
        grade = _grades(rng, n, p_grade)
        onset = rng.integers(0, 7, n)
        dur = _lognormal_days(rng, median * slow * np.where(grade >= 3, 1.0, 0.6), 0.8, n)
        idx = np.flatnonzero(has)
        parts.append(_rows(idx, "CYTOPENIA", term, grade[idx], onset[idx], dur[idx]))

    # infections: early after infusion or after the transplant
    p_inf = 0.35 * np.where(transplanted, 1.4, 1.0) * np.where(prior, 1.2, 1.0)
    names = np.asarray(list(INFECTION_TERMS), dtype=object)
    weights = np.asarray(list(INFECTION_TERMS.values()))
    for episode in range(2):
        has = rng.random(n) < (p_inf if episode == 0 else 0.3 * p_inf)
        term = names[rng.choice(len(names), size=n, p=weights / weights.sum())]
        cmv = transplanted & (rng.random(n) < 0.25)
        term = np.where(cmv, "Cytomegalovirus infection reactivation", term)
        grade = _grades(rng, n, (0.10, 0.50, 0.32, 0.08))
        after_hct = transplanted & (rng.random(n) < 0.5)
        onset = np.where(after_hct, np.minimum(hct, NEVER - 200) + rng.integers(7, 120, n),
                         np.maximum(_lognormal_days(rng, 25.0, 0.8, n), 1))
        dur = _lognormal_days(rng, 10.0, 0.6, n)
        idx = np.flatnonzero(has)
        parts.append(_rows(idx, "INFECTION", term[idx], grade[idx], onset[idx], dur[idx]))

    # IEC-HS: rare, after severe CRS mostly, in the second or third week
    crs = lat.ae[lat.ae["AECAT"] == "CRS"]
    crs_grade = np.zeros(n, dtype=np.int64)
    crs_grade[crs["patient"].to_numpy()] = crs["AETOXGR"].to_numpy()
    iec = _choose(rng, int(round(0.03 * n)), np.select([crs_grade >= 3, crs_grade >= 1], [8.0, 1.0], 0.2))
    idx = np.flatnonzero(iec)
    parts.append(_rows(idx, "IEC-HS", "Immune effector cell-associated HLH-like syndrome",
                       _grades(rng, n, (0.3, 0.4, 0.2, 0.1))[idx], rng.integers(8, 21, n)[idx],
                       _lognormal_days(rng, 10.0, 0.5, n)[idx]))

    # GVHD after the transplant that followed CAR-T: acute in about a third, chronic in a fifth
    for term, p, lo, hi, median, p_grade in (
            ("Acute graft versus host disease", 0.33, 14, 90, 30.0, (0.35, 0.40, 0.20, 0.05)),
            ("Chronic graft versus host disease", 0.20, 100, 365, 180.0, (0.40, 0.40, 0.20))):
        has = transplanted & (rng.random(n) < p)
        onset = np.minimum(hct, NEVER - 400) + rng.integers(lo, hi, n)
        idx = np.flatnonzero(has)
        parts.append(_rows(idx, "GVHD", term, _grades(rng, n, p_grade)[idx], onset[idx],
                           _lognormal_days(rng, median, 0.7, n)[idx]))

    # causes of death: after a relapse, the relapse; otherwise non-relapse causes
    dies = death < NEVER
    relapse_first = rel < death
    u = rng.random(n)
    gvhd_possible = transplanted & (death - hct > 30)
    cause = np.where(~dies, None, np.where(
        relapse_first, "RELAPSE OR PROGRESSION",
        np.where(gvhd_possible & (u < 0.35), "GVHD", np.where(u < 0.75, "INFECTION", "OTHER")))).astype(object)
    # the fatal event: a grade-5 row starting before the death (GVHD after the transplant)
    fatal_inf = np.flatnonzero(cause == "INFECTION")
    start = np.maximum(death[fatal_inf] - rng.integers(2, 16, len(fatal_inf)), 1)
    fatal_term = np.where(rng.random(len(fatal_inf)) < 0.7, "Sepsis", "Lung infection")
    parts.append(_rows(fatal_inf, "INFECTION", fatal_term, np.full(len(fatal_inf), 5), start,
                       np.zeros(len(fatal_inf))))
    fatal_gvhd = np.flatnonzero(cause == "GVHD")
    start = np.maximum(death[fatal_gvhd] - rng.integers(20, 80, len(fatal_gvhd)), hct[fatal_gvhd] + 14)
    acute = start - hct[fatal_gvhd] <= 100
    parts.append(_rows(fatal_gvhd, "GVHD", np.where(acute, "Acute graft versus host disease",
                                                    "Chronic graft versus host disease"),
                       np.full(len(fatal_gvhd), 5), start, np.zeros(len(fatal_gvhd))))
    more = pd.concat(parts, ignore_index=True)
    # an event starts before the death; a fatal row replaces a non-fatal one of the same term
    p = more["patient"].to_numpy()
    more = more[more["onset"].to_numpy() <= death[p] - 1]
    more = more.iloc[np.argsort(-more["AETOXGR"].to_numpy(), kind="stable")]
    more = more.drop_duplicates(["patient", "AECAT", "AEDECOD"], keep="first")
    # a non-fatal event of a patient who died of it would be fatal: grade 5 only for the cause
    lat.more_ae = more.sort_values(["patient", "AECAT", "AEDECOD"], kind="stable").reset_index(drop=True)
    lat.cause = cause

    # CRS/ICANS treatment: tocilizumab for CRS from grade 2, corticosteroids for severe CRS and ICANS
    ae = lat.ae
    g = ae["AETOXGR"].to_numpy()
    is_crs = (ae["AECAT"] == "CRS").to_numpy()
    v = rng.random(len(ae))
    w = rng.random(len(ae))
    p_toci = np.where(is_crs, np.select([g >= 3, g == 2], [0.95, 0.75], 0.15), np.where(g >= 3, 0.2, 0.05))
    p_ster = np.where(is_crs, np.select([g >= 3, g == 2], [0.90, 0.35], 0.03), np.where(g >= 2, 0.95, 0.5))
    ae["TOCIFL"] = np.where(v < p_toci, "Y", "N").astype(object)
    ae["STERFL"] = np.where(w < p_ster, "Y", "N").astype(object)

    # enrolled but never infused (about 7% of those enrolled): the stage they left at and why
    m = int(round(0.075 * n))
    stage = rng.choice(3, size=m, p=[0.35, 0.15, 0.50])  # 0 before apheresis, 1 manufacturing, 2 before infusion
    why0 = rng.choice(["INELIGIBLE", "WITHDRAWAL BY PATIENT", "DISEASE PROGRESSION"], size=m, p=[0.4, 0.3, 0.3])
    why2 = rng.choice(["DISEASE PROGRESSION", "DEATH", "ADVERSE EVENT", "OTHER"], size=m, p=[0.5, 0.3, 0.1, 0.1])
    reason = np.where(stage == 0, why0, np.where(stage == 1, "MANUFACTURING FAILURE", why2)).astype(object)
    trial_of = b["STUDYID"].to_numpy()
    trial = trial_of[rng.integers(0, n, m)] if n else np.array([], dtype=object)
    span = (t.last_infusion - t.first_infusion).days
    day = rng.integers(0, span + 1, m)
    seq = pd.Series(b["SUBJID"].to_numpy()).astype(np.int64).groupby(trial_of).max()
    order = np.lexsort((day, trial))
    number = np.empty(m, dtype=np.int64)
    for tr in np.unique(trial):
        where = order[trial[order] == tr]
        number[where] = seq.get(tr, 0) + 1 + np.arange(len(where))
    width = len(b["SUBJID"].iloc[0]) if n else 4
    subjid = pd.Series(number).astype(str).str.zfill(width).to_numpy(object)
    lat.not_infused = pd.DataFrame({
        "STUDYID": trial.astype(object), "USUBJID": (trial.astype(object) + "-" + subjid).astype(object),
        "APHFL": np.where(stage >= 1, "Y", "N").astype(object),
        "MFGFL": np.where(stage == 0, None, np.where(stage == 2, "Y", "N")).astype(object),
        "DSREAS": reason, "day": day.astype(np.int64),
    })

"""CRS and ICANS: incidence at the per-patient maximum ASTCT grade, grade distribution, onset and
duration, and grade >= 3 by dose level or marrow blast burden.

The denominator is the safety population (SAFFL = "Y"): every infused patient is at risk of CRS and
ICANS whether or not evaluable for response. ADAE holds one row per patient and syndrome at the
maximum grade; a patient without a row had no event (grade 0). The maximum is taken again here so
the functions stay correct if a sponsor export carries one row per episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscore.analyses.cohort import _flag, _require, derive_subgroups, dose_level_order, level_counts
from nscore.analyses import ard
from nscore.analyses.efficacy import Proportion, proportion
from nscore.errors import AnalysisInputError, NotCollectedError

__all__ = [
    "SYNDROMES",
    "NotCollectedError",
    "syndromes",
    "max_grades",
    "Incidence",
    "incidence",
    "GradeDistribution",
    "grade_distribution",
    "OnsetDuration",
    "onset_duration",
    "NO_EVENTS",
    "ALL_UNRESOLVED",
    "SUMMARISED",
    "STATUS_TEXT",
    "ONSET",
    "DURATION",
    "Grade3By",
    "grade3_by",
]

SYNDROMES = ("CRS", "ICANS")
#: ARD population of the safety analyses.
SAFETY = "infused (SAFFL)"
GRADES = (0, 1, 2, 3, 4, 5)


def syndromes(cohort) -> tuple[str, ...]:
    """The syndromes whose adverse events were collected, in :data:`SYNDROMES` order.

    Empty when there is no ADAE; with a study definition, those it lists as collected. A syndrome
    that was not collected has no incidence (not 0%).
    """
    if getattr(cohort, "adae", None) is None:
        return ()
    study = getattr(cohort, "study", None)
    if study is None:
        return SYNDROMES
    return tuple(s for s in SYNDROMES if s in study.adverse_events)


def _check_syndrome(syndrome: str, cohort=None) -> str:
    if syndrome not in SYNDROMES:
        raise AnalysisInputError(f"syndrome must be one of {', '.join(SYNDROMES)}, got {syndrome!r}")
    if cohort is not None and syndrome not in syndromes(cohort):
        raise NotCollectedError(f"{syndrome} was not collected in this delivery")
    return syndrome


def max_grades(cohort) -> pd.DataFrame:
    """Per safety patient, the maximum ASTCT grade of CRS and of ICANS (0 = no event).

    Returns a frame indexed like the safety rows of ADSL with ``USUBJID``, ``CRS``, ``ICANS``;
    an internal building block (patient level, never displayed).

    Notes
    -----
    Each ADAE row is placed on its safety patient's row with one lookup, and each syndrome's maximum
    taken with ``np.fmax.at``: every safety table and the abstract's figures call this, and a
    group-by on the identifier text cost over a second per call at a million patients.
    """
    adsl, adae = cohort.adsl, cohort.adae
    if adae is None:
        raise NotCollectedError("adverse events were not collected in this delivery")
    _require(adsl, ["USUBJID", "SAFFL"], "ADSL")
    _require(adae, ["USUBJID", "AECAT", "AETOXGR"], "ADAE")
    saf = adsl.loc[_flag(adsl["SAFFL"]), ["USUBJID"]]
    if saf.empty:
        raise AnalysisInputError("no patients in the safety population (SAFFL = Y)")
    patients = pd.Index(saf["USUBJID"])
    if not patients.is_unique:
        raise AnalysisInputError("ADSL must hold one row per USUBJID (duplicates found)")
    row = patients.get_indexer(adae["USUBJID"])  # -1: not a safety patient
    grade = pd.to_numeric(adae["AETOXGR"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = saf.copy()
    for s in syndromes(cohort):
        rows = (row >= 0) & adae["AECAT"].isin([s]).to_numpy(dtype=bool)
        worst = np.full(len(saf), np.nan)  # stays NaN for a patient without an event: grade 0
        np.fmax.at(worst, row[rows], grade[rows])  # NaN grades are skipped, as in a group-by max
        out[s] = pd.Series(worst, index=out.index).fillna(0).astype(int)
    return out


@dataclass(frozen=True)
class Incidence:
    """Incidence of one syndrome in the safety population, with exact 95% CIs.

    Attributes
    ----------
    table : DataFrame
        Rows "Any grade", "Grade 1-2", "Grade >=3": ``syndrome``, ``category``, ``k``, ``n``,
        ``estimate``, ``lower``, ``upper``, ``display``.
    any_grade, grade_1_2, grade_3_plus : Proportion
    """

    syndrome: str
    table: pd.DataFrame
    any_grade: Proportion
    grade_1_2: Proportion
    grade_3_plus: Proportion

    def rows(self) -> list[dict]:
        """ARD rows ``safety.<crs|icans>.any``, ``.g1_2``, ``.g3``: n, N, percent, exact CI."""
        s = self.syndrome
        base = f"safety.{s.lower()}"
        return (self.any_grade.rows(f"{base}.any", population=SAFETY, endpoint=s, label=f"{s}, any grade")
                + self.grade_1_2.rows(f"{base}.g1_2", population=SAFETY, endpoint=s, label=f"{s}, grade 1-2")
                + self.grade_3_plus.rows(f"{base}.g3", population=SAFETY, endpoint=s, label=f"{s}, grade >=3"))


def incidence(cohort, syndrome: str = "CRS", alpha: float = 0.05) -> Incidence:
    """Any-grade, grade 1-2 and grade >= 3 incidence of CRS or ICANS with Clopper-Pearson CIs.

    Notes
    -----
    Each patient counts once, at the maximum grade; grade 1-2 and >= 3 partition "any grade".
    Crude proportions: no account of time at risk or of deaths before onset could occur (CRS and
    ICANS occur within days of infusion, so this is the usual reporting).
    """
    _check_syndrome(syndrome, cohort)
    g = max_grades(cohort)[syndrome]
    n = len(g)
    any_ = proportion(int((g >= 1).sum()), n, alpha)
    g12 = proportion(int(g.between(1, 2).sum()), n, alpha)
    g3 = proportion(int((g >= 3).sum()), n, alpha)
    rows = [{"syndrome": syndrome, "category": cat, **p.as_row(), "display": p.format(ci=True)}
            for cat, p in (("Any grade", any_), ("Grade 1-2", g12), ("Grade >=3", g3))]
    return Incidence(syndrome=syndrome, table=pd.DataFrame(rows), any_grade=any_, grade_1_2=g12,
                     grade_3_plus=g3)


@dataclass(frozen=True)
class GradeDistribution:
    """Patients by maximum grade (0..5) of each syndrome.

    Attributes
    ----------
    table : DataFrame
        ``syndrome``, ``grade`` (0..5), ``n``, ``percent`` (of the safety population); for each
        syndrome the counts sum to ``n_safety`` and the percentages to 100.
    """

    table: pd.DataFrame
    n_safety: int

    def rows(self) -> list[dict]:
        """ARD rows ``safety.<syndrome>.grade``: per maximum grade (group_var GRADE, level "0".."5";
        0 = no event) n, N and percent of the safety population."""
        out = []
        for s, grade, n, pct in self.table[["syndrome", "grade", "n", "percent"]].itertuples(index=False):
            common = dict(population=SAFETY, endpoint=s, group_var="GRADE", group_level=str(int(grade)))
            what = f"{s}, maximum grade {int(grade)}" if grade else f"{s}, no event"
            out += [ard.row(f"safety.{s.lower()}.grade", "n", n, unit="patients", label=what, **common),
                    ard.row(f"safety.{s.lower()}.grade", "N", self.n_safety, unit="patients",
                            label="Safety population", **common),
                    ard.row(f"safety.{s.lower()}.grade", "percent", pct, unit="%", label=what, **common)]
        return out


def grade_distribution(cohort) -> GradeDistribution:
    """Counts and percentages of patients by maximum ASTCT grade, grade 0 meaning no event.

    Grade 0 is included so that a stacked bar of each syndrome covers the whole safety population.
    """
    mg = max_grades(cohort)
    n = len(mg)
    rows = []
    for s in syndromes(cohort):
        vc = mg[s].value_counts()
        for gr in GRADES:
            k = int(vc.get(gr, 0))
            rows.append({"syndrome": s, "grade": gr, "n": k, "percent": 100.0 * k / n})
    return GradeDistribution(table=pd.DataFrame(rows), n_safety=n)


#: ``status`` of an onset/duration row, and the words shown for it instead of a median
NO_EVENTS = "no events"
ALL_UNRESOLVED = "all unresolved"
SUMMARISED = "summarised"
STATUS_TEXT = {NO_EVENTS: "not applicable: no events",
               ALL_UNRESOLVED: "not known: every event unresolved"}

ONSET = "onset, days after infusion"
DURATION = "duration, days"


@dataclass(frozen=True)
class OnsetDuration:
    """Onset (days after infusion) and duration (days) of each collected syndrome, median (range).

    Attributes
    ----------
    table : DataFrame
        One row per collected syndrome and measure: ``syndrome``, ``measure`` (:data:`ONSET` /
        :data:`DURATION`), ``n_events`` (safety patients with the syndrome), ``n`` (patients with
        a value), ``median``, ``min``, ``max`` (NaN when there is no value), ``display``
        ("median (min–max)", or the words of :data:`STATUS_TEXT`, never "n/a"), ``n_ongoing``
        (events without a resolution date; duration rows only) and ``status``: :data:`SUMMARISED`,
        :data:`NO_EVENTS` (collected, and nobody had it) or :data:`ALL_UNRESOLVED` (duration of
        events none of which has resolved).
    """

    table: pd.DataFrame

    def row(self, syndrome: str, measure: str) -> dict:
        """The row of ``syndrome`` and ``measure`` ("onset"/"duration" or the full measure name)."""
        measure = {"onset": ONSET, "duration": DURATION}.get(measure, measure)
        hit = self.table[(self.table["syndrome"] == syndrome) & (self.table["measure"] == measure)]
        if len(hit) != 1:
            raise AnalysisInputError(f"no {measure!r} row for {syndrome!r} (collected: "
                                     f"{', '.join(dict.fromkeys(self.table['syndrome'])) or 'none'})")
        return hit.iloc[0].to_dict()

    def n_events(self, syndrome: str) -> int:
        """Safety patients who had ``syndrome``."""
        return int(self.row(syndrome, ONSET)["n_events"])

    def rows(self) -> list[dict]:
        """ARD rows ``safety.<syndrome>.onset`` / ``.duration``: events (patients with the
        syndrome), n (with a value), median, min, max (days; NaN when there is no value) and
        ``safety.<syndrome>.duration.unresolved`` n (events without a resolution date)."""
        out = []
        for r in self.table.itertuples(index=False):
            kind = "onset" if r.measure == ONSET else "duration"
            aid = f"safety.{r.syndrome.lower()}.{kind}"
            common = dict(population=SAFETY, endpoint=r.syndrome)
            what = f"{r.syndrome} {r.measure}"
            out += [ard.row(aid, "events", r.n_events, unit="patients", label=f"Patients with {r.syndrome}",
                            **common),
                    ard.row(aid, "n", r.n, unit="patients", label=f"{what}: patients with a value", **common)]
            out += [ard.row(aid, stat, getattr(r, stat), unit="days", label=f"{what}: {stat}", **common)
                    for stat in ("median", "min", "max")]
            if kind == "duration":
                out.append(ard.row(f"{aid}.unresolved", "n", r.n_ongoing, unit="patients",
                                   label=f"{r.syndrome} events without a resolution date", **common))
        return out


def _median_range(values: pd.Series) -> tuple[int, float, float, float, str]:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return 0, np.nan, np.nan, np.nan, ""
    med, lo, hi = float(v.median()), float(v.min()), float(v.max())
    return len(v), med, lo, hi, f"{_num(med)} ({_num(lo)}\u2013{_num(hi)})"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def onset_duration(cohort) -> OnsetDuration:
    """Median (range) of onset day after infusion (ASTDY - 1) and of duration (ADURN).

    A syndrome that was collected but that nobody had gets rows with ``status`` "no events" (its
    onset and duration are not applicable, not missing); a syndrome whose every event is unresolved
    gets a duration row "all unresolved". Syndromes not collected have no rows.

    Notes
    -----
    ASTDY is the ADaM study day (day 1 = infusion day), so onset in "days after infusion" is
    ASTDY - 1, the convention of CAR-T reports (onset on the infusion day = day 0). Durations of
    events still ongoing at death or cutoff (AENDT empty) are unknown and left out of the median;
    their number is reported, since leaving them out shortens the apparent duration.
    """
    adae = cohort.adae
    if adae is None:
        raise NotCollectedError("adverse events were not collected in this delivery")
    _require(adae, ["USUBJID", "AECAT", "ASTDY", "ADURN"], "ADAE")
    ae = adae[adae["USUBJID"].isin(cohort.adsl.loc[_flag(cohort.adsl["SAFFL"]), "USUBJID"])]
    rows = []
    for s in syndromes(cohort):
        part = ae[ae["AECAT"] == s]
        n_events = int(part["USUBJID"].nunique())
        onset = pd.to_numeric(part["ASTDY"], errors="coerce") - 1
        n, med, lo, hi, disp = _median_range(onset)
        status = SUMMARISED if n else NO_EVENTS
        rows.append({"syndrome": s, "measure": ONSET, "n_events": n_events, "n": n, "median": med,
                     "min": lo, "max": hi, "display": disp or STATUS_TEXT[status], "n_ongoing": 0,
                     "status": status})
        dur = pd.to_numeric(part["ADURN"], errors="coerce")
        n, med, lo, hi, disp = _median_range(dur)
        n_ongoing = int(dur.isna().sum())
        status = SUMMARISED if n else (ALL_UNRESOLVED if n_ongoing else NO_EVENTS)
        rows.append({"syndrome": s, "measure": DURATION, "n_events": n_events, "n": n, "median": med,
                     "min": lo, "max": hi, "display": disp or STATUS_TEXT[status], "n_ongoing": n_ongoing,
                     "status": status})
    columns = ["syndrome", "measure", "n_events", "n", "median", "min", "max", "display", "n_ongoing", "status"]
    return OnsetDuration(table=pd.DataFrame(rows, columns=columns))


@dataclass(frozen=True)
class Grade3By:
    """Grade >= 3 incidence of each collected syndrome by dose level or by marrow blast burden.

    Attributes
    ----------
    table : DataFrame
        ``syndrome``, ``by``, ``level``, ``n``, ``k``, ``estimate``, ``lower``, ``upper``, ``display``;
        one row per syndrome and level known for at least one patient.
    by : str
    levels : tuple of str
        The levels present, in table order (fewer than two: nothing to compare).
    n_unknown : int
        Safety patients whose level is unknown (missing dose level; marrow involvement unknown, or
        involvement without a blast count), left out of the table.
    n_safety : int
    """

    table: pd.DataFrame
    by: str
    levels: tuple[str, ...] = ()
    n_unknown: int = 0
    n_safety: int = 0

    def rows(self) -> list[dict]:
        """ARD rows ``safety.<syndrome>.g3.by_dose`` / ``.by_blasts``: per level (group_var
        DOSELVL / BLASTS) n, N, percent, exact CI; ``safety.g3.by_dose.unknown`` n (level unknown)."""
        suffix, var = ("by_dose", "DOSELVL") if self.by == "DOSELVL" else ("by_blasts", "BLASTS")
        out = []
        for r in self.table.itertuples(index=False):
            p = Proportion(k=int(r.k), n=int(r.n), estimate=float(r.estimate), lower=float(r.lower),
                           upper=float(r.upper))
            out += p.rows(f"safety.{r.syndrome.lower()}.g3.{suffix}", population=SAFETY, endpoint=r.syndrome,
                          group_var=var, group_level=str(r.level), label=f"{r.syndrome} grade >=3, {r.level}")
        out.append(ard.row(f"safety.g3.{suffix}.unknown", "n", self.n_unknown, population=SAFETY,
                           unit="patients", label=f"Safety patients whose {var} is unknown"))
        return out


_BY = {"DOSELVL": ("dose_level", ()),
       "blasts": ("marrow_blasts", (">=20%", "<20%", "No marrow involvement"))}


def grade3_by(cohort, by: str = "DOSELVL", alpha: float = 0.05) -> Grade3By:
    """Grade >= 3 incidence of each collected syndrome with exact CIs per dose level or blast group.

    Parameters
    ----------
    by : {"DOSELVL", "blasts"}
        Dose level label, or marrow blasts (">=20%", "<20%", "No marrow involvement", as defined in
        ``nscore.analyses.cohort.derive_subgroups``).

    Raises
    ------
    NotCollectedError
        Adverse events, or the variable(s) ``by`` needs (DOSELVL; BMINV and BMBLAST), were not
        collected.

    Notes
    -----
    Descriptive: levels are not randomised, and dose level is confounded with disease burden and
    enrolment period, so differences between levels are not causal estimates. Patients whose level
    is unknown are counted in ``n_unknown`` and left out of every row.
    """
    if by not in _BY:
        raise AnalysisInputError(f"by must be one of {', '.join(_BY)}, got {by!r}")
    var, preferred = _BY[by]
    if by == "DOSELVL":
        preferred = dose_level_order(cohort)
    mg = max_grades(cohort)
    sub = derive_subgroups(cohort.adsl).loc[mg.index]
    if var not in sub.columns:
        needs = "DOSELVL" if by == "DOSELVL" else "BMINV and BMBLAST"
        raise NotCollectedError(f"{needs} not collected: no grade >= 3 table by {by}")
    rows = []
    levels: tuple[str, ...] = ()
    for s in syndromes(cohort):
        counts = level_counts(sub[var], preferred, grade_3_plus=(mg[s] >= 3).to_numpy())
        levels = tuple(str(level) for level in counts["level"])
        for level, n, k in counts[["level", "n", "grade_3_plus"]].itertuples(index=False):
            p = proportion(int(k), int(n), alpha)
            rows.append({"syndrome": s, "by": by, "level": str(level), "n": p.n, "k": p.k,
                         "estimate": p.estimate, "lower": p.lower, "upper": p.upper,
                         "display": p.format(ci=True)})
    columns = ["syndrome", "by", "level", "n", "k", "estimate", "lower", "upper", "display"]
    return Grade3By(table=pd.DataFrame(rows, columns=columns), by=by, levels=levels,
                    n_unknown=int(sub[var].isna().sum()), n_safety=len(mg))

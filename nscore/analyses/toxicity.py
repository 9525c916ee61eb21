"""Safety beyond CRS and ICANS: adverse events by term, the time course of cytopenias, CRS/ICANS
treatment, deaths and their causes, and non-relapse mortality.

Every analysis here reads only what the delivery collected and says when it did not
(:class:`nscore.errors.NotCollectedError`): a category the study does not list in ``adverse_events``,
the treatment flags TOCIFL/STERFL or the cause of death DTHCAUS absent from their files are "not
collected", never 0. The denominator is the safety population (SAFFL = "Y").

Deaths and non-relapse mortality need only ADSL and ADTTE, which every delivery has: a death
without relapse is a PFS event described as DEATH (the competing event of the relapse analysis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscore.analyses import ard
from nscore.analyses.cohort import _flag, _require
from nscore.data.schema import AE_TERMS, DEATH, DEATH_CAUSES, RELAPSE
from nscore.errors import AnalysisInputError, NotCollectedError
from nscore.statistics import survival

__all__ = ["CATEGORIES", "categories", "not_collected", "slug", "TermTable", "term_table",
           "COURSE_DAYS", "CytopeniaCourse", "cytopenia_course", "DRUGS", "Treatments", "treatments",
           "Deaths", "deaths", "NRM_DAYS", "NonRelapseMortality", "non_relapse_mortality"]

#: Every category the data model knows, in table order (:data:`nscore.data.schema.AE_TERMS`).
CATEGORIES: tuple[str, ...] = tuple(AE_TERMS)
SAFETY = "infused (SAFFL)"
#: Days after infusion at which the cytopenia course is read (day 28: "prolonged" cytopenia).
COURSE_DAYS = (0, 7, 14, 21, 28, 60, 90)
#: Days after infusion at which non-relapse mortality is read (day 100, one and two years).
NRM_DAYS = (100, 365, 730)
#: Treatment flags of ADAE: column -> drug.
DRUGS = {"TOCIFL": "tocilizumab", "STERFL": "corticosteroids"}


def slug(text: str) -> str:
    """An analysis-id-safe form of a term: ``"Lung infection"`` -> ``"lung_infection"``."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "term"


def categories(cohort) -> tuple[str, ...]:
    """The adverse-event categories this delivery collected, in :data:`CATEGORIES` order (empty
    without ADAE; without a study definition, CRS and ICANS, the categories every delivery had)."""
    if getattr(cohort, "adae", None) is None:
        return ()
    study = getattr(cohort, "study", None)
    listed = study.adverse_events if study is not None else ("CRS", "ICANS")
    return tuple(c for c in CATEGORIES if c in listed)


def not_collected(cohort) -> tuple[str, ...]:
    """The categories of :data:`CATEGORIES` this delivery did not collect."""
    got = categories(cohort)
    return tuple(c for c in CATEGORIES if c not in got)


def _safety_ids(cohort) -> pd.Index:
    adsl = cohort.adsl
    _require(adsl, ["USUBJID", "SAFFL"], "ADSL")
    ids = pd.Index(adsl.loc[_flag(adsl["SAFFL"]), "USUBJID"])
    if ids.empty:
        raise AnalysisInputError("no patients in the safety population (SAFFL = Y)")
    return ids


def _adae(cohort, columns: list[str]) -> pd.DataFrame:
    adae = getattr(cohort, "adae", None)
    if adae is None:
        raise NotCollectedError("adverse events were not collected in this delivery")
    _require(adae, columns, "ADAE")
    return adae[adae["USUBJID"].isin(_safety_ids(cohort))]


def _pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else float("nan")


# --------------------------------------------------------------------------------- by term
@dataclass(frozen=True)
class TermTable:
    """Patients with each adverse-event term, any grade and grade >= 3 (worst grade per patient).

    Attributes
    ----------
    table : DataFrame
        ``category``, ``term`` (empty on the category's own row: any term of the category), ``n_any``,
        ``pct_any``, ``n_g3``, ``pct_g3``; rows of the collected categories in :data:`CATEGORIES`
        order, the category row first, then its terms: every term the data model lists for it (a
        collected term nobody had is a 0, not a gap), or, for a category of open terms
        (infections), the terms that occurred, most frequent first.
    n_safety : int
    collected : tuple of str
    """

    table: pd.DataFrame
    n_safety: int
    collected: tuple[str, ...]

    def rows(self) -> list[dict]:
        """ARD rows ``safety.ae.<category>`` (any grade) and ``safety.ae.<category>.g3`` (grade
        >= 3): n, N, percent overall (any term) and per term (group_var AEDECOD)."""
        out = []
        for r in self.table.itertuples(index=False):
            base = f"safety.ae.{slug(r.category)}"
            group = dict(group_var="AEDECOD", group_level=r.term) if r.term else {}
            what = r.term or f"{r.category}, any term"
            for aid, n, pct, grade in ((base, r.n_any, r.pct_any, "any grade"), (f"{base}.g3", r.n_g3, r.pct_g3, "grade >=3")):
                common = dict(population=SAFETY, endpoint=r.category, **group)
                out += [ard.row(aid, "n", n, unit="patients", label=f"{what}, {grade}", **common),
                        ard.row(aid, "N", self.n_safety, unit="patients", label="Safety population", **common),
                        ard.row(aid, "percent", pct, unit="%", label=f"{what}, {grade}", **common)]
        return out

    def category(self, category: str) -> dict:
        """The category's own row (any term) as a dict."""
        hit = self.table[(self.table["category"] == category) & (self.table["term"] == "")]
        if len(hit) != 1:
            raise NotCollectedError(f"{category} was not collected in this delivery")
        return hit.iloc[0].to_dict()


def term_table(cohort) -> TermTable:
    """Any-grade and grade >= 3 incidence by category and term in the safety population.

    Each patient counts once per term and once per category, at the worst grade (the maximum is
    taken here, so a delivery with one row per episode gives the same table).

    Raises
    ------
    NotCollectedError
        No adverse events were collected.
    """
    cats = categories(cohort)
    if not cats:
        raise NotCollectedError("adverse events were not collected in this delivery")
    ae = _adae(cohort, ["USUBJID", "AECAT", "AEDECOD", "AETOXGR"])
    n = len(_safety_ids(cohort))
    grade = pd.to_numeric(ae["AETOXGR"], errors="coerce")
    ae = ae.assign(_g=grade)
    rows = []
    for cat in cats:
        part = ae[ae["AECAT"] == cat]
        worst = part.groupby("USUBJID")["_g"].max()
        rows.append({"category": cat, "term": "", "n_any": int(len(worst)), "n_g3": int((worst >= 3).sum())})
        by_term = part.groupby(["AEDECOD", "USUBJID"])["_g"].max()
        listed = AE_TERMS.get(cat)
        counts = by_term.groupby(level=0).size()
        terms = list(listed) if listed is not None else list(counts.sort_values(ascending=False, kind="stable").index)
        for term in terms:
            g = by_term.loc[term] if term in counts.index else pd.Series(dtype=float)
            rows.append({"category": cat, "term": str(term), "n_any": int(len(g)), "n_g3": int((g >= 3).sum())})
    table = pd.DataFrame(rows, columns=["category", "term", "n_any", "n_g3"])
    table["pct_any"] = [_pct(k, n) for k in table["n_any"]]
    table["pct_g3"] = [_pct(k, n) for k in table["n_g3"]]
    return TermTable(table=table[["category", "term", "n_any", "pct_any", "n_g3", "pct_g3"]], n_safety=n,
                     collected=cats)


# --------------------------------------------------------------------------------- cytopenias
@dataclass(frozen=True)
class CytopeniaCourse:
    """Grade >= 3 cytopenia ongoing on given days after infusion, by term and for any cytopenia.

    Attributes
    ----------
    table : DataFrame
        ``term`` ("" = any of the three), ``day``, ``n`` (patients with a grade >= 3 episode
        ongoing that day), ``N`` (safety patients alive and followed to that day), ``percent``.
    days : tuple of int
    """

    table: pd.DataFrame
    days: tuple[int, ...]

    def rows(self) -> list[dict]:
        """ARD rows ``safety.cytopenia.course`` (any cytopenia) and
        ``safety.cytopenia.course.<term>``: per day (group_var DAY) n, N, percent."""
        out = []
        for r in self.table.itertuples(index=False):
            aid = "safety.cytopenia.course" + (f".{slug(r.term)}" if r.term else "")
            what = (r.term or "Any cytopenia") + f", grade >=3 ongoing on day {r.day}"
            common = dict(population=SAFETY, endpoint="CYTOPENIA", group_var="DAY", group_level=str(r.day))
            out += [ard.row(aid, "n", r.n, unit="patients", label=what, **common),
                    ard.row(aid, "N", r.N, unit="patients", label=f"Alive and followed on day {r.day}", **common),
                    ard.row(aid, "percent", r.percent, unit="%", label=what, **common)]
        return out

    def at(self, day: int, term: str = "") -> dict:
        hit = self.table[(self.table["day"] == day) & (self.table["term"] == term)]
        if len(hit) != 1:
            raise AnalysisInputError(f"no cytopenia course row for day {day} and term {term!r}")
        return hit.iloc[0].to_dict()


def cytopenia_course(cohort, days=COURSE_DAYS) -> CytopeniaCourse:
    """Share of patients with a grade >= 3 cytopenia ongoing on each of ``days`` after infusion.

    A grade >= 3 row is ongoing from its onset day (ASTDY - 1) to its last day (onset + ADURN - 1),
    or to the end of follow-up when unresolved (AENDT empty). The denominator on day d is the
    safety patients followed to day d: alive on it (DTHDT after it) and last known alive on or
    after it, or dead after it. Patients who died or left follow-up before day d are not in it,
    so the share is conditional on being alive and followed (stated under the table).

    Raises
    ------
    NotCollectedError
        CYTOPENIA is not a collected category.
    """
    if "CYTOPENIA" not in categories(cohort):
        raise NotCollectedError("cytopenias were not collected in this delivery")
    ae = _adae(cohort, ["USUBJID", "AECAT", "AEDECOD", "AETOXGR", "ASTDY", "ADURN"])
    adsl = cohort.adsl
    _require(adsl, ["USUBJID", "TRTSDT", "LSTALVDT"], "ADSL")
    saf = adsl[adsl["USUBJID"].isin(_safety_ids(cohort))]
    trt = pd.to_datetime(saf["TRTSDT"], errors="coerce")
    end = pd.to_datetime(saf["LSTALVDT"], errors="coerce")
    if "DTHDT" in saf.columns:
        dth = pd.to_datetime(saf["DTHDT"], errors="coerce")
        end = dth.where(dth.notna(), end)
    followed = (end - trt).dt.days.to_numpy(dtype=float, na_value=np.nan)
    follow = pd.Series(followed, index=saf["USUBJID"].to_numpy())
    cyto = ae[(ae["AECAT"] == "CYTOPENIA") & (pd.to_numeric(ae["AETOXGR"], errors="coerce") >= 3)]
    onset = pd.to_numeric(cyto["ASTDY"], errors="coerce").to_numpy(dtype=float) - 1
    dur = pd.to_numeric(cyto["ADURN"], errors="coerce").to_numpy(dtype=float)
    pf = follow.reindex(cyto["USUBJID"].to_numpy()).to_numpy(dtype=float)
    last = np.where(np.isnan(dur), pf, onset + dur - 1)
    terms = [t for t in (AE_TERMS["CYTOPENIA"] or ())]
    rows = []
    for day in days:
        at_risk = follow.index[follow.to_numpy() >= day]
        n_risk = int(len(at_risk))
        on = (onset <= day) & (last >= day) & cyto["USUBJID"].isin(at_risk).to_numpy()
        for term in ["", *terms]:
            sel = on if not term else on & (cyto["AEDECOD"] == term).to_numpy()
            k = int(cyto.loc[sel, "USUBJID"].nunique())
            rows.append({"term": term, "day": int(day), "n": k, "N": n_risk, "percent": _pct(k, n_risk)})
    return CytopeniaCourse(table=pd.DataFrame(rows, columns=["term", "day", "n", "N", "percent"]),
                           days=tuple(int(d) for d in days))


# --------------------------------------------------------------------------------- treatment
@dataclass(frozen=True)
class Treatments:
    """Tocilizumab and corticosteroids given for CRS or ICANS.

    Attributes
    ----------
    table : DataFrame
        ``drug``, ``among`` ("" = all safety patients, or "CRS"/"ICANS": patients with it), ``n``,
        ``N``, ``percent``; a patient counts once per drug.
    """

    table: pd.DataFrame

    def rows(self) -> list[dict]:
        """ARD rows ``safety.tx.<drug>``: n, N, percent overall and among patients with CRS or
        ICANS (group_var AECAT)."""
        out = []
        for r in self.table.itertuples(index=False):
            group = dict(group_var="AECAT", group_level=r.among) if r.among else {}
            who = f"patients with {r.among}" if r.among else "safety population"
            common = dict(population=SAFETY, endpoint="CRS/ICANS treatment", **group)
            aid = f"safety.tx.{slug(r.drug)}"
            out += [ard.row(aid, "n", r.n, unit="patients", label=f"{r.drug.capitalize()}, {who}", **common),
                    ard.row(aid, "N", r.N, unit="patients", label=who.capitalize(), **common),
                    ard.row(aid, "percent", r.percent, unit="%", label=f"{r.drug.capitalize()}, {who}", **common)]
        return out


def treatments(cohort) -> Treatments:
    """Patients given tocilizumab / corticosteroids for CRS or ICANS (ADAE TOCIFL, STERFL).

    Raises
    ------
    NotCollectedError
        No ADAE, or the treatment flags were not delivered.
    """
    cats = [c for c in ("CRS", "ICANS") if c in categories(cohort)]
    adae = getattr(cohort, "adae", None)
    if not cats or adae is None or not set(DRUGS) <= set(adae.columns):
        raise NotCollectedError("treatment of CRS and ICANS (TOCIFL, STERFL) was not collected")
    ae = _adae(cohort, ["USUBJID", "AECAT", *DRUGS])
    n = len(_safety_ids(cohort))
    rows = []
    for column, drug in DRUGS.items():
        given = ae[_flag(ae[column])]
        rows.append({"drug": drug, "among": "", "n": int(given["USUBJID"].nunique()), "N": n})
        for cat in cats:
            with_cat = ae.loc[ae["AECAT"] == cat, "USUBJID"].nunique()
            k = given.loc[given["AECAT"] == cat, "USUBJID"].nunique()
            rows.append({"drug": drug, "among": cat, "n": int(k), "N": int(with_cat)})
    table = pd.DataFrame(rows, columns=["drug", "among", "n", "N"])
    table["percent"] = [_pct(k, m) for k, m in zip(table["n"], table["N"])]
    return Treatments(table=table)


# --------------------------------------------------------------------------------- deaths
@dataclass(frozen=True)
class Deaths:
    """Deaths in the safety population, with and without a relapse before them, and their causes.

    Attributes
    ----------
    n_safety, n_deaths : int
    n_without_relapse, n_after_relapse : int or None
        Deaths without a relapse or progression before them (non-relapse mortality: PFS event
        DEATH) and after one; None when ADTTE has no PFS rows to tell.
    causes : DataFrame or None
        ``cause`` (:data:`nscore.data.schema.DEATH_CAUSES` order, then "Unknown" for a death with
        an empty DTHCAUS), ``n`` (all deaths), ``n_without_relapse``; None when DTHCAUS was not
        collected. Causes nobody died of are rows of 0.
    """

    n_safety: int
    n_deaths: int
    n_without_relapse: int | None
    n_after_relapse: int | None
    causes: pd.DataFrame | None

    def rows(self) -> list[dict]:
        """ARD rows ``deaths`` (n, N, percent), ``deaths.nrm`` / ``deaths.after_relapse``,
        and, when causes were collected, ``deaths.cause`` and ``deaths.cause.nrm``
        per cause (group_var DTHCAUS): n, N (deaths; deaths without relapse), percent."""
        common = dict(population=SAFETY, endpoint="Death")
        out = [ard.row("deaths", "n", self.n_deaths, unit="patients", label="Deaths", **common),
               ard.row("deaths", "N", self.n_safety, unit="patients", label="Safety population", **common),
               ard.row("deaths", "percent", _pct(self.n_deaths, self.n_safety), unit="%", label="Deaths",
                       **common)]
        for aid, n, what in (("deaths.nrm", self.n_without_relapse, "Deaths without prior relapse"),
                             ("deaths.after_relapse", self.n_after_relapse, "Deaths after relapse")):
            if n is not None:
                out += [ard.row(aid, "n", n, unit="patients", label=what, **common),
                        ard.row(aid, "N", self.n_safety, unit="patients", label="Safety population", **common),
                        ard.row(aid, "percent", _pct(n, self.n_safety), unit="%", label=what, **common)]
        if self.causes is not None:
            for r in self.causes.itertuples(index=False):
                for aid, n, total, who in (("deaths.cause", r.n, self.n_deaths, "all deaths"),
                                           ("deaths.cause.nrm", r.n_without_relapse,
                                            self.n_without_relapse, "deaths without prior relapse")):
                    if n is None or total is None or (aid.endswith(".nrm") and pd.isna(n)):
                        continue
                    g = dict(group_var="DTHCAUS", group_level=r.cause, **common)
                    out += [ard.row(aid, "n", n, unit="patients", label=f"Cause {r.cause}, {who}", **g),
                            ard.row(aid, "N", total, unit="patients", label=who.capitalize(), **g),
                            ard.row(aid, "percent", _pct(int(n), int(total)), unit="%",
                                    label=f"Cause {r.cause}, {who}", **g)]
        return out


def _pfs_event(cohort, ids: pd.Index) -> pd.Series | None:
    """Per safety patient, the PFS event description (NaN: censored), or None without PFS rows."""
    adtte = cohort.adtte
    if not {"USUBJID", "PARAMCD", "CNSR", "EVNTDESC"} <= set(adtte.columns):
        return None
    pfs = adtte[adtte["PARAMCD"] == "PFS"].drop_duplicates("USUBJID").set_index("USUBJID")
    if pfs.empty:
        return None
    desc = pfs["EVNTDESC"].where(pd.to_numeric(pfs["CNSR"], errors="coerce") == 0)
    return desc.reindex(ids)


def deaths(cohort) -> Deaths:
    """Deaths, deaths without a relapse before them, and causes of death (DTHCAUS, if collected)."""
    adsl = cohort.adsl
    _require(adsl, ["USUBJID", "SAFFL", "DTHFL"], "ADSL")
    ids = _safety_ids(cohort)
    saf = adsl[adsl["USUBJID"].isin(ids)].drop_duplicates("USUBJID").set_index("USUBJID").reindex(ids)
    dead = _flag(saf["DTHFL"]).to_numpy()
    desc = _pfs_event(cohort, ids)
    nrm = after = None
    no_relapse = None
    if desc is not None:
        no_relapse = dead & (desc == DEATH).to_numpy()
        nrm = int(no_relapse.sum())
        after = int((dead & (desc == RELAPSE).to_numpy()).sum())
    causes = None
    if "DTHCAUS" in saf.columns:
        cause = saf["DTHCAUS"].where(dead)
        labels = list(DEATH_CAUSES) + ["Unknown"]
        known = cause.where(cause.isin(DEATH_CAUSES) | ~pd.Series(dead, index=cause.index), "Unknown")
        rows = []
        for c in labels:
            hit = (known == c).to_numpy() & dead
            if c == "Unknown" and not hit.any():
                continue
            rows.append({"cause": c, "n": int(hit.sum()),
                         "n_without_relapse": int((hit & no_relapse).sum()) if no_relapse is not None else None})
        causes = pd.DataFrame(rows, columns=["cause", "n", "n_without_relapse"])
    return Deaths(n_safety=len(ids), n_deaths=int(dead.sum()), n_without_relapse=nrm, n_after_relapse=after,
                  causes=causes)


# --------------------------------------------------------------------------------- NRM
@dataclass(frozen=True)
class NonRelapseMortality:
    """Cumulative incidence of death without relapse, relapse or progression competing.

    Attributes
    ----------
    cif : :class:`nscore.statistics.survival.CumulativeIncidence`
        ``event`` DEATH (non-relapse mortality), ``competing`` RELAPSE OR PROGRESSION.
    at : DataFrame
        ``day``, ``estimate``, ``lower``, ``upper`` (percent) at :data:`NRM_DAYS`; NaN beyond the
        longest follow-up.
    """

    cif: object
    at: pd.DataFrame

    def rows(self) -> list[dict]:
        """ARD rows ``deaths.nrm.cif``: N, events (deaths without relapse), and per day (group_var
        DAYS) estimate, lower, upper (percent); ``deaths.nrm.cif.competing`` events (relapses)."""
        c = self.cif
        method = f"Aalen-Johansen, relapse or progression competing, {c.ci} {round(100 * (1 - c.alpha))}% CI"
        common = dict(population=SAFETY, endpoint="Non-relapse mortality")
        out = [ard.row("deaths.nrm.cif", "N", c.n, unit="patients", label="Patients", **common),
               ard.row("deaths.nrm.cif", "events", c.events, unit="patients", label="Deaths without relapse",
                       **common),
               ard.row("deaths.nrm.cif.competing", "events", c.competing_events, unit="patients",
                       population=SAFETY, endpoint="Relapse or progression", label="Relapses or progressions first")]
        for r in self.at.itertuples(index=False):
            g = dict(group_var="DAYS", group_level=str(int(r.day)), method=method, unit="%", **common)
            out += [ard.row("deaths.nrm.cif", "estimate", r.estimate,
                            label=f"Non-relapse mortality by day {int(r.day)}", **g),
                    ard.row("deaths.nrm.cif", "lower", r.lower, label="Lower confidence limit", **g),
                    ard.row("deaths.nrm.cif", "upper", r.upper, label="Upper confidence limit", **g)]
        return out


def non_relapse_mortality(cohort, days=NRM_DAYS, *, alpha: float = 0.05) -> NonRelapseMortality:
    """Aalen-Johansen cumulative incidence of death without relapse (PFS events DEATH), relapse
    or progression (PFS events RELAPSE OR PROGRESSION) competing, from infusion, in the safety
    population (:func:`nscore.statistics.survival.cumulative_incidence`).

    Raises
    ------
    NotCollectedError
        ADTTE has no PFS rows with event descriptions.
    """
    adtte = cohort.adtte
    if not {"PARAMCD", "EVNTDESC"} <= set(adtte.columns) or not (adtte["PARAMCD"] == "PFS").any():
        raise NotCollectedError("progression-free survival events were not delivered")
    ids = _safety_ids(cohort)
    rows = adtte[adtte["USUBJID"].isin(ids)]
    cif = survival.cumulative_incidence(rows, "PFS", event=DEATH, competing=RELAPSE, alpha=alpha)
    at = cif.at(list(days))
    table = pd.DataFrame({"day": [int(d) for d in days], "estimate": 100 * at["cif"].to_numpy(),
                          "lower": 100 * at["lower"].to_numpy(), "upper": 100 * at["upper"].to_numpy()})
    return NonRelapseMortality(cif=cif, at=table)

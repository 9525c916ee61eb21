"""Descriptive analyses of the infused cohort: derived subgroups, patient flow and "Table 1".

Table 1 lives in :mod:`nscore.analyses.baseline`.
Every analysis here reads only the ADaM frames of a cohort (``cohort.adsl``, ``cohort.adrs``, ...), so a
validated ``nscore.data.load.Cohort`` and any object with the same attributes (e.g. a
``types.SimpleNamespace`` of simulated frames in a test) work alike. Results are frozen dataclasses
whose ``.table`` holds aggregates only, never patient rows, so chapters can display and glue them
without leaking patient-level data.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
import pandas as pd

from nscore.analyses import ard
from nscore.errors import AnalysisInputError

__all__ = [
    "AnalysisInputError",
    "SUBGROUPS",
    "SUBGROUP_INPUTS",
    "diagnosis_order",
    "derive_subgroups",
    "level_order",
    "best_response",
    "PatientFlow",
    "flow_drawn",
    "patient_flow",
]

RESPONDER = ("CR", "CRi", "PR")
CR_CRI = ("CR", "CRi")

#: Subgroup variables of the forest plot and Table 1: derived column -> (display name, level order).
#: One place for the definitions; ``derive_subgroups`` computes the columns. Diagnoses follow the
#: study definition's clinical order and dose levels its list (:func:`diagnosis_order`), hence the
#: empty orders here.
SUBGROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "diagnosis": ("Diagnosis", ()),
    "prior_hct_any": ("Prior allo-HCT", ("No", "Yes")),
    "marrow_blasts": ("Marrow blasts", (">=20%", "<20%", "No marrow involvement")),
    "dose_level": ("Dose level", ()),
    "age_group": ("Age, years", ("<18", ">=18")),
}


#: The ADSL variables each subgroup is derived from: a subgroup whose variables were not collected
#: is left out (an optional variable absent from the delivery), never shown as empty.
SUBGROUP_INPUTS: dict[str, tuple[str, ...]] = {
    "diagnosis": ("DIAG",),
    "prior_hct_any": ("PRIORHCT",),
    "marrow_blasts": ("BMINV", "BMBLAST"),
    "dose_level": ("DOSELVL",),
    "age_group": ("AGE",),
}


def diagnosis_order(cohort) -> tuple[str, ...]:
    """Diagnosis codes in the study definition's clinical order (empty without a study)."""
    study = getattr(cohort, "study", None)
    return study.diagnosis_codes if study is not None else ()


def dose_level_order(cohort) -> tuple[str, ...]:
    """Dose-level codes in the study definition's order (empty without a study: sorted labels)."""
    study = getattr(cohort, "study", None)
    return study.dose_level_codes if study is not None else ()


def subgroup_orders(cohort) -> dict[str, tuple[str, ...]]:
    """Each subgroup's preferred level order for ``cohort`` (study-defined where the study says)."""
    orders = {var: preferred for var, (_, preferred) in SUBGROUPS.items()}
    orders["diagnosis"] = diagnosis_order(cohort)
    orders["dose_level"] = dose_level_order(cohort)
    return orders


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisInputError(f"{name} lacks required column(s): {', '.join(missing)}")


def _flag(series: pd.Series) -> pd.Series:
    """Y/N flag as booleans; anything but "Y" or "y" (including missing) is False.

    A hash lookup rather than upper-casing every cell: flags are read by most analyses, and at a
    million patients the string methods cost a third of a second per call.
    """
    return series.isin(("Y", "y"))


def level_order(values: pd.Series, preferred: tuple[str, ...]) -> list[str]:
    """Levels present in ``values``: preferred ones first in their order, then the rest sorted."""
    present = [v for v in pd.unique(values.dropna()) if v is not None]
    first = [p for p in preferred if p in present]
    rest = sorted(v for v in present if v not in first)
    return first + rest


def level_counts(values: pd.Series, preferred: tuple[str, ...] = (), **flags: np.ndarray) -> pd.DataFrame:
    """Patients per level of ``values``, and how many of them each boolean array in ``flags`` marks.

    One row per level present, in :func:`level_order`; missing values are left out. Columns
    ``level``, ``n`` and one per flag. The patients are numbered by level once
    (``pd.factorize``) and counted with ``np.bincount``, because comparing every patient's text
    with every level (subgroup tables, Table 1) took seconds at a million patients.
    """
    codes, uniques = pd.factorize(values)
    known = codes >= 0
    levels = level_order(pd.Series(uniques, dtype=object), preferred)
    at = {level: j for j, level in enumerate(uniques)}
    rows = [at[level] for level in levels]
    out = {"level": levels, "n": np.bincount(codes[known], minlength=len(uniques))[rows]}
    for name, flag in flags.items():
        out[name] = np.bincount(codes[known & np.asarray(flag, dtype=bool)], minlength=len(uniques))[rows]
    return pd.DataFrame(out)


def derive_subgroups(adsl: pd.DataFrame) -> pd.DataFrame:
    """Derived subgroup variables, one row per ADSL row (same index), keyed by USUBJID.

    The single definition of every subgroup used by Table 1, the forest plot and the safety tables,
    so that chapters cannot drift apart in how, e.g., "blasts >= 20%" is cut.

    Parameters
    ----------
    adsl : DataFrame
        ADSL with USUBJID and DIAG; AGE, PRIORHCT, BMINV + BMBLAST and DOSELVL where collected.

    Returns
    -------
    DataFrame
        Columns ``USUBJID``, ``diagnosis`` and, for the variables collected, ``age_group``
        ("<18"/">=18"), ``prior_hct`` ("0"/"1"/"2"... the number of prior allogeneic transplants as
        text), ``prior_hct_any`` ("Yes"/"No"), ``marrow_blasts`` (">=20%"/"<20%"/"No marrow
        involvement") and ``dose_level``. A subgroup whose inputs were not collected is absent.

    Notes
    -----
    Age is years at infusion, so "<18" means a paediatric patient at infusion. Blasts are cut at 20%
    (the abstract's threshold) among patients with marrow involvement (BMINV = "Y"); a patient
    flagged as involved with a missing blast count, or with unknown involvement, gets a missing
    ``marrow_blasts`` (unknown, not "no involvement").
    """
    _require(adsl, ["USUBJID", "DIAG"], "ADSL")

    def text(choice: np.ndarray, labels) -> pd.Series:
        # label ``labels[choice]`` per patient, missing where choice is -1 (a nullable string column)
        return pd.Series(pd.array(np.array([*labels, None], dtype=object)[choice], dtype="string"),
                         index=adsl.index)

    out = pd.DataFrame(index=adsl.index)
    out["USUBJID"] = adsl["USUBJID"].astype("string")
    if "AGE" in adsl.columns:
        # float (NaN for missing) so that comparisons never meet pandas' ambiguous NA
        age = pd.to_numeric(adsl["AGE"], errors="coerce").astype(float)
        out["age_group"] = text(np.select([age < 18, age >= 18], [0, 1], -1), ("<18", ">=18"))
    if "PRIORHCT" in adsl.columns:
        prior = pd.to_numeric(adsl["PRIORHCT"], errors="coerce").astype(float)
        number, counts = pd.factorize(prior)  # the few distinct counts are turned into text once
        counts_text = [str(v) for v in pd.Series(counts).astype("Int64").astype("string")]
        out["prior_hct"] = text(number, counts_text)
        out["prior_hct_any"] = text(np.select([prior < 1, prior >= 1], [0, 1], -1), ("No", "Yes"))
    if {"BMINV", "BMBLAST"} <= set(adsl.columns):
        blasts = pd.to_numeric(adsl["BMBLAST"], errors="coerce").astype(float)
        involved = _flag(adsl["BMINV"]).to_numpy()
        not_involved = adsl["BMINV"].isin(("N", "n")).to_numpy()  # missing: unknown, not "no"
        out["marrow_blasts"] = text(np.select([not_involved, involved & (blasts >= 20), involved & (blasts < 20)],
                                               [2, 0, 1], -1),
                                    (">=20%", "<20%", "No marrow involvement"))
    if "DOSELVL" in adsl.columns:
        out["dose_level"] = adsl["DOSELVL"].astype("string")
    out["diagnosis"] = adsl["DIAG"].astype("string")
    return out


def best_response(cohort) -> pd.DataFrame:
    """Efficacy-evaluable patients with their best overall response (USUBJID, AVALC, MRDSTAT).

    The denominator of every response rate is EFFFL = "Y" (SPEC); an evaluable patient without an
    ADRS row counts as not responding ("NE"), which keeps rates conservative if the data ever break
    the one-row-per-evaluable-patient rule that validation enforces. Rows are the evaluable rows of
    ADSL, in its order and with its index, so callers line them up with ADSL without a join.
    """
    adsl, adrs = cohort.adsl, cohort.adrs
    _require(adsl, ["USUBJID", "EFFFL"], "ADSL")
    _require(adrs, ["USUBJID", "AVALC"], "ADRS")
    merged = adsl.loc[_flag(adsl["EFFFL"]), ["USUBJID"]].copy()
    bor = adrs["PARAMCD"].isin(["BOR"]) if "PARAMCD" in adrs.columns else np.ones(len(adrs), dtype=bool)
    rows = np.flatnonzero(bor)
    ids = pd.Index(adrs["USUBJID"].to_numpy()[rows])
    if not ids.is_unique:  # the first BOR row of each patient
        first = ~ids.duplicated()
        rows, ids = rows[first], ids[first]
    # ADRS row of each evaluable patient (-1: none); a lookup, not a merge, as it runs for every rate
    source = np.append(rows, -1)[ids.get_indexer(merged["USUBJID"])]
    for column in ["AVALC"] + (["MRDSTAT"] if "MRDSTAT" in adrs.columns else []):
        merged[column] = adrs[column].array.take(source, allow_fill=True)
    merged["AVALC"] = merged["AVALC"].astype("string").fillna("NE")
    if "MRDSTAT" not in merged.columns:
        merged["MRDSTAT"] = pd.NA
    return merged


# --------------------------------------------------------------------------------------------
# Patient flow
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFlow:
    """Counts of the CONSORT/STROBE-style patient flow, as nodes and edges for drawing.

    Attributes
    ----------
    table : DataFrame
        One row per box: ``key``, ``label``, ``n``, ``parent`` (key of the box it comes from, empty
        for the root), ``kind`` ("main" for the main column, "exclusion" for side boxes) and
        ``reason`` (why patients leave the main column; empty for main boxes), ``drawn`` (whether
        the diagram draws the box: :func:`flow_drawn`; every box keeps its count here) and ``detail``
        (the ADDS reasons of a side box before the infusion as ``(DSREAS, n)`` pairs, else empty).
        With ADDS (disposition of every enrolled patient) the flow starts at enrolment: enrolled ->
        apheresis -> product manufactured -> infused, each step only if ADDS records it (APHFL, MFGFL).
    edges : DataFrame
        ``source``, ``target``, ``n``: one arrow per non-root box.
    n_infused, n_safety, n_evaluable, n_not_evaluable, n_responders, n_cr_cri : int
        The counts, for glue.
    n_hct_after_cr, n_hct_total, n_hct_not_after_cr, n_hct_timing_unknown : int or None
        Patients in CR/CRi transplanted strictly after the date of that response (consolidation);
        all patients transplanted after CAR-T; patients in CR/CRi transplanted on or before the
        response date; patients in CR/CRi transplanted whose transplant or response date is
        unknown. ``None`` (not 0) when transplants were not collected (no HCTFL in ADSL).
    """

    table: pd.DataFrame
    edges: pd.DataFrame
    n_infused: int
    n_safety: int
    n_evaluable: int
    n_not_evaluable: int
    n_responders: int
    n_cr_cri: int
    n_hct_after_cr: int | None
    n_hct_total: int | None
    n_hct_not_after_cr: int | None = None
    n_hct_timing_unknown: int | None = None
    #: ``key`` (an exclusion box), ``reason`` (ADDS DSREAS), ``n``: why enrolled patients left the
    #: path before the infusion; empty without ADDS.
    reasons: pd.DataFrame | None = None
    #: Enrolled patients (ADDS rows); None when the delivery has no ADDS (the flow starts at infusion).
    n_enrolled: int | None = None
    #: Per trial (STUDYID) and step (``key`` of a main box): ``trial``, ``key``, ``n``.
    by_trial: pd.DataFrame | None = None

    def rows(self) -> list[dict]:
        """ARD rows: ``flow.<box key>`` (n patients per box of the diagram, drawn or not) and, when
        transplants were collected, ``flow.hct_total``, ``flow.hct_before_cr``,
        ``flow.hct_timing_unknown``."""
        out = [ard.row(f"flow.{key}", "n", n, population="infused", endpoint="Patient flow", unit="patients",
                       label=str(label))
               for key, label, n in self.table[["key", "label", "n"]].itertuples(index=False)]
        extra = (("hct_total", self.n_hct_total, "Allo-HCT after infusion (all infused)"),
                 ("hct_before_cr", self.n_hct_not_after_cr, "CR/CRi transplanted on or before the response date"),
                 ("hct_timing_unknown", self.n_hct_timing_unknown,
                  "CR/CRi transplanted, timing relative to the response unknown"))
        out += [ard.row(f"flow.{key}", "n", n, population="infused", endpoint="Patient flow", unit="patients",
                        label=label) for key, n, label in extra if n is not None]
        if self.reasons is not None:
            out += [ard.row(f"flow.{key}", "n", n, population="enrolled", endpoint="Patient flow", unit="patients",
                            group_var="DSREAS", group_level=reason, label=f"Not infused: {reason}")
                    for key, reason, n in self.reasons[["key", "reason", "n"]].itertuples(index=False)]
        if self.by_trial is not None:
            out += [ard.row(f"flow.{key}", "n", n, population="enrolled" if self.n_enrolled is not None else "infused",
                            endpoint="Patient flow", unit="patients", group_var="STUDYID", group_level=trial,
                            label=f"{key}, trial {trial}")
                    for trial, key, n in self.by_trial[["trial", "key", "n"]].itertuples(index=False)]
        return out


def _response_dates(adrs: pd.DataFrame, usubjid: pd.Series) -> np.ndarray:
    """ADT of each patient's first BOR row in ADRS, as datetime64 (NaT: no row, or ADT empty).

    The same row :func:`best_response` takes for the patient. Used by :func:`patient_flow` only.
    """
    if "ADT" not in adrs.columns:
        return np.full(len(usubjid), np.datetime64("NaT"), dtype="datetime64[ns]")
    bor = adrs["PARAMCD"].isin(["BOR"]).to_numpy() if "PARAMCD" in adrs.columns else np.ones(len(adrs), bool)
    rows = adrs.loc[bor, ["USUBJID", "ADT"]].drop_duplicates("USUBJID")
    adt = pd.to_datetime(rows["ADT"], errors="coerce").to_numpy(dtype="datetime64[ns]")
    where = pd.Index(rows["USUBJID"].to_numpy()).get_indexer(usubjid.to_numpy())
    return np.where(where >= 0, np.append(adt, np.datetime64("NaT"))[where], np.datetime64("NaT"))


def flow_drawn(nodes: pd.DataFrame) -> np.ndarray:
    """Which boxes of a flow (``key``, ``n``, ``parent``, ``kind``) the diagram draws.

    An exclusion box with nobody in it is not drawn ("Not in safety population (n = 0)" says
    nothing). A main box with nobody in it is drawn (it is a result: nobody was evaluable, nobody
    reached CR), but nothing below it: the steps after it were not reached, and drawing them as
    zeros would look like recorded steps.
    """
    n = dict(zip(nodes["key"], nodes["n"].astype(int)))
    parent = dict(zip(nodes["key"], nodes["parent"]))
    kind = dict(zip(nodes["key"], nodes["kind"]))

    def below_empty_main(key: str) -> bool:
        up = parent.get(key, "")
        while up:
            if kind.get(up) == "main" and n.get(up, 0) == 0:
                return True
            up = parent.get(up, "")
        return False

    return np.array([not ((kind[k] == "exclusion" and n[k] == 0) or below_empty_main(k))
                     for k in nodes["key"]], dtype=bool)


def patient_flow(cohort) -> PatientFlow:
    """Patient flow from infusion to consolidative transplant, computed from the data.

    infused -> safety population (SAFFL) -> efficacy-evaluable (EFFFL; side box: "not evaluable for
    response") -> responders (CR/CRi/PR; side box: NR/NE) -> CR/CRi (side box: PR) -> allo-HCT after
    the CR/CRi (side box: no transplant after the CR/CRi, or its timing unknown).

    Notes
    -----
    A transplant counts as consolidation after CR/CRi only if its date (ADSL HCTDT) is strictly
    after the date of the CR/CRi assessment (ADRS ADT of the best-response row): a transplant on or
    before that date preceded the response (``n_hct_not_after_cr``). When either date is unknown
    (ADT empty, HCTDT empty or not delivered) the order cannot be told: such patients are counted in
    ``n_hct_timing_unknown``, never as consolidation. ``n_hct_total`` counts every transplant after
    CAR-T over all infused patients, including salvage transplants of non-responders. Without HCTFL
    in ADSL (transplants not collected) the transplant counts are ``None`` and the flow ends at
    CR/CRi.
    """
    adsl = cohort.adsl
    _require(adsl, ["USUBJID", "SAFFL", "EFFFL"], "ADSL")
    saf = _flag(adsl["SAFFL"])
    eff = _flag(adsl["EFFFL"]) & saf
    # best_response keeps the ADSL rows (index) of its patients, one row per patient
    br = best_response(cohort)
    in_flow = eff.loc[br.index].to_numpy()
    responder = br["AVALC"].isin(RESPONDER).to_numpy() & in_flow
    cr = br["AVALC"].isin(CR_CRI).to_numpy() & in_flow

    n_inf = len(adsl)
    n_saf = int(saf.sum())
    n_eff = int(eff.sum())
    n_resp = int(responder.sum())
    n_cr = int(cr.sum())
    therapy = getattr(getattr(cohort, "study", None), "therapy", None)

    before, reasons, n_enrolled, parent_of_infused = _enrolment_steps(cohort)
    rows = [
        *before,
        ("infused", f"Infused with {therapy}" if therapy else "Infused", n_inf, parent_of_infused, "main", ""),
        ("not_safety", "Not in safety population", n_inf - n_saf, "infused", "exclusion",
         "no confirmed infusion (SAFFL = N)"),
        ("safety", "Safety population", n_saf, "infused", "main", ""),
        ("not_evaluable", "Not evaluable for response", n_saf - n_eff, "safety", "exclusion",
         "not evaluable for response"),
        ("evaluable", "Efficacy-evaluable", n_eff, "safety", "main", ""),
        ("non_responders", "No response (NR/NE)", n_eff - n_resp, "evaluable", "exclusion",
         "best overall response NR or NE"),
        ("responders", "Responders (CR/CRi/PR)", n_resp, "evaluable", "main", ""),
        ("pr", "Partial response", n_resp - n_cr, "responders", "exclusion", "best overall response PR"),
        ("cr_cri", "CR/CRi", n_cr, "responders", "main", ""),
    ]
    n_hct_total = n_hct_cr = n_before = n_unknown = None
    if "HCTFL" in adsl.columns:  # transplants collected
        hct = _flag(adsl["HCTFL"])
        n_hct_total = int(hct.sum())
        hct_cr = cr & hct.loc[br.index].to_numpy()
        hctdt = (pd.to_datetime(adsl.loc[br.index, "HCTDT"], errors="coerce").to_numpy(dtype="datetime64[ns]")
                 if "HCTDT" in adsl.columns else np.full(len(br), np.datetime64("NaT"), dtype="datetime64[ns]"))
        adt = _response_dates(cohort.adrs, br["USUBJID"])
        known = ~np.isnat(hctdt) & ~np.isnat(adt)
        n_hct_cr = int((hct_cr & known & (hctdt > adt)).sum())
        n_before = int((hct_cr & known & (hctdt <= adt)).sum())
        n_unknown = int((hct_cr & ~known).sum())
        reason = "no allo-HCT after the CR/CRi date by the cutoff"
        if n_before:
            reason += f"; {n_before} transplanted on or before it"
        if n_unknown:
            reason += f"; {n_unknown} transplanted, timing relative to the CR/CRi unknown"
        rows += [
            ("no_hct", "No allo-HCT after CR/CRi" + (", or timing unknown" if n_unknown else ""),
             n_cr - n_hct_cr, "cr_cri", "exclusion", reason),
            ("hct", "Consolidative allo-HCT after CR/CRi", n_hct_cr, "cr_cri", "main", ""),
        ]
    table = pd.DataFrame(rows, columns=["key", "label", "n", "parent", "kind", "reason"])
    table["n"] = table["n"].astype(int)
    table["drawn"] = flow_drawn(table)
    by_trial = _flow_by_trial(cohort, eff, responder, cr, br.index) if "STUDYID" in adsl.columns else None
    # the reasons of each side box before the infusion, as (reason, n) pairs, for the diagram
    detail = {} if reasons is None else {k: tuple(zip(g["reason"], g["n"].astype(int)))
                                         for k, g in reasons.groupby("key", sort=False)}
    table["detail"] = [detail.get(k, ()) for k in table["key"]]
    edges = table.loc[table["parent"] != "", ["parent", "key", "n"]].rename(
        columns={"parent": "source", "key": "target"}).reset_index(drop=True)
    return PatientFlow(
        table=table, edges=edges, n_infused=n_inf, n_safety=n_saf, n_evaluable=n_eff,
        n_not_evaluable=n_saf - n_eff, n_responders=n_resp, n_cr_cri=n_cr,
        n_hct_after_cr=n_hct_cr, n_hct_total=n_hct_total, n_hct_not_after_cr=n_before,
        n_hct_timing_unknown=n_unknown, reasons=reasons, n_enrolled=n_enrolled, by_trial=by_trial,
    )


def _enrolment_steps(cohort):
    """The flow boxes before the infusion, from ADDS: enrolled -> apheresis -> product
    manufactured -> infused, with a side box per step for the patients who left (their reasons in
    ``reasons``). Steps whose flag ADDS does not hold (APHFL/MFGFL) are left out, not drawn as 0.

    Returns ``(rows, reasons, n_enrolled, parent of the infused box)``; without ADDS no rows, the
    flow starts at infusion.
    """
    adds = getattr(cohort, "adds", None)
    if adds is None or "INFFL" not in adds.columns:
        return [], None, None, ""
    enrolled = adds.drop_duplicates("USUBJID") if "USUBJID" in adds.columns else adds
    inf = _flag(enrolled["INFFL"])
    rows = [("enrolled", "Enrolled", len(enrolled), "", "main", "")]
    steps = []  # (key of the side box, its rows)
    parent = "enrolled"
    alive = pd.Series(True, index=enrolled.index)
    if "APHFL" in enrolled.columns:
        aph = _flag(enrolled["APHFL"])
        rows += [("not_apheresed", "No apheresis", int((~aph).sum()), parent, "exclusion", "no apheresis"),
                 ("apheresed", "Apheresis", int(aph.sum()), parent, "main", "")]
        steps.append(("not_apheresed", ~aph))
        parent, alive = "apheresed", aph
    if "MFGFL" in enrolled.columns:
        mfg = alive & _flag(enrolled["MFGFL"])
        rows += [("not_manufactured", "Product not manufactured", int((alive & ~mfg).sum()), parent, "exclusion",
                  "product not manufactured"),
                 ("manufactured", "Product manufactured", int(mfg.sum()), parent, "main", "")]
        steps.append(("not_manufactured", alive & ~mfg))
        parent, alive = "manufactured", mfg
    rows.append(("not_infused", "Not infused", int((alive & ~inf).sum()), parent, "exclusion", "not infused"))
    steps.append(("not_infused", alive & ~inf))
    reason = enrolled["DSREAS"] if "DSREAS" in enrolled.columns else pd.Series(np.nan, index=enrolled.index)
    reason = reason.fillna("Not given").astype(str)
    parts = []
    for key, mask in steps:
        counts = reason[mask.to_numpy()].value_counts(sort=True)
        parts += [(key, str(r), int(k)) for r, k in counts.items()]
    reasons = pd.DataFrame(parts, columns=["key", "reason", "n"])
    return rows, reasons, len(enrolled), parent


def _flow_by_trial(cohort, eff, responder, cr, br_index) -> pd.DataFrame:
    """Per trial (STUDYID) the count of each main step the data record: enrolled, apheresis,
    manufactured (from ADDS, when delivered), infused, efficacy-evaluable, responders, CR/CRi."""
    adsl = cohort.adsl
    trials = list(getattr(getattr(cohort, "study", None), "trial_ids", ()) or ())
    trials += [t for t in pd.unique(adsl["STUDYID"].dropna().astype(str)) if t not in trials]
    counts: list[tuple[str, str, int]] = []
    adds = getattr(cohort, "adds", None)
    if adds is not None and {"INFFL", "STUDYID"} <= set(adds.columns):
        enrolled = adds.drop_duplicates("USUBJID") if "USUBJID" in adds.columns else adds
        steps = [("enrolled", pd.Series(True, index=enrolled.index))]
        if "APHFL" in enrolled.columns:
            steps.append(("apheresed", _flag(enrolled["APHFL"])))
            if "MFGFL" in enrolled.columns:
                steps.append(("manufactured", _flag(enrolled["APHFL"]) & _flag(enrolled["MFGFL"])))
        trials += [t for t in pd.unique(enrolled["STUDYID"].dropna().astype(str)) if t not in trials]
        for key, mask in steps:
            per = enrolled.loc[mask.to_numpy(), "STUDYID"].astype(str).value_counts()
            counts += [(t, key, int(per.get(t, 0))) for t in trials]
    study = adsl["STUDYID"].astype(str)
    resp = pd.Series(False, index=adsl.index)
    resp.loc[br_index] = responder
    crs = pd.Series(False, index=adsl.index)
    crs.loc[br_index] = cr
    for key, mask in (("infused", pd.Series(True, index=adsl.index)), ("evaluable", eff),
                      ("responders", resp), ("cr_cri", crs)):
        per = study[mask.to_numpy()].value_counts()
        counts += [(t, key, int(per.get(t, 0))) for t in trials]
    return pd.DataFrame(counts, columns=["trial", "key", "n"])


# --------------------------------------------------------------------------------------------
# Potential follow-up (maturity of the data) and what the cutoff holds
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PotentialFollowUp:
    """Potential follow-up (cutoff minus infusion date, ADSL TRTSDT) of the infused patients.

    ``n``: patients with an infusion date; ``n_short``: those infused less than ``years`` before
    the cutoff (``threshold_days`` = years x 365.25), who could not yet have been followed that
    long; ``min_days``/``max_days`` (NaN without patients). Unlike observed follow-up it does not
    shrink when a patient dies: it measures how mature the data are.
    """

    n: int
    n_short: int
    years: int
    threshold_days: float
    min_days: float
    max_days: float
    n_trials: int = 0
    n_diagnoses: int = 0

    def rows(self) -> list[dict]:
        """ARD rows ``followup.potential``: N, n (group YEARS=<years>: infused less than ``years``
        before the cutoff), percent, time (threshold, days), min, max (days); ``cohort.trials`` n
        (trials with patients), ``cohort.diagnoses`` n (diagnoses with patients)."""
        aid, pop = "followup.potential", "infused"
        common = dict(population=pop, endpoint="Potential follow-up")
        y = dict(group_var="YEARS", group_level=str(self.years))
        pct = 100 * self.n_short / self.n if self.n else math.nan
        return [
            ard.row(aid, "N", self.n, unit="patients", label="Patients with an infusion date", **common),
            ard.row(aid, "min", self.min_days, unit="days", label="Shortest potential follow-up", **common),
            ard.row(aid, "max", self.max_days, unit="days", label="Longest potential follow-up", **common),
            ard.row(aid, "n", self.n_short, unit="patients",
                    label=f"Patients infused less than {self.years} year(s) before the cutoff", **common, **y),
            ard.row(aid, "percent", pct, unit="%",
                    label=f"Share infused less than {self.years} year(s) before the cutoff", **common, **y),
            ard.row(aid, "time", self.threshold_days, unit="days", label=f"{self.years} year(s) in days",
                    **common, **y),
            ard.row("cohort.trials", "n", self.n_trials, population=pop, endpoint="Trials",
                    label="Trials that contributed patients"),
            ard.row("cohort.diagnoses", "n", self.n_diagnoses, population=pop, endpoint="Diagnoses",
                    label="Diagnoses with patients"),
        ]


def potential_follow_up(cohort, years: int | None = None) -> PotentialFollowUp:
    """Potential follow-up at ``years`` (default: the last of ``statistics.survival.REPORT_YEARS``)."""
    from nscore.statistics.survival import REPORT_YEARS, YEAR_DAYS

    years = int(REPORT_YEARS[-1] if years is None else years)
    if years <= 0:
        raise AnalysisInputError(f"years must be positive, got {years}")
    adsl = cohort.adsl
    cutoff = pd.Timestamp(getattr(cohort, "cutoff", None) or pd.to_datetime(adsl["DCUTDT"]).max())
    days = (cutoff - pd.to_datetime(adsl["TRTSDT"], errors="coerce")).dt.days.dropna().astype(float)
    threshold = years * YEAR_DAYS
    n = int(len(days))
    n_trials = int(adsl["STUDYID"].nunique()) if "STUDYID" in adsl.columns else 0
    n_diag = int(adsl["DIAG"].dropna().nunique()) if "DIAG" in adsl.columns else 0
    return PotentialFollowUp(n=n, n_short=int((days < threshold).sum()), years=years, threshold_days=threshold,
                             min_days=float(days.min()) if n else math.nan,
                             max_days=float(days.max()) if n else math.nan, n_trials=n_trials, n_diagnoses=n_diag)


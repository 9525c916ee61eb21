"""Descriptive analyses of the infused cohort: derived subgroups, patient flow and "Table 1".

Every analysis here reads only the ADaM frames of a cohort (``cohort.adsl``, ``cohort.adrs``, ...), so a
validated ``nscore.load.Cohort`` and any object with the same attributes (e.g. a
``types.SimpleNamespace`` of simulated frames in a test) work alike. Results are frozen dataclasses
whose ``.table`` holds aggregates only, never patient rows, so chapters can display and glue them
without leaking patient-level data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscore.errors import NscoreError

__all__ = [
    "AnalysisInputError",
    "SUBGROUPS",
    "SUBGROUP_INPUTS",
    "diagnosis_order",
    "derive_subgroups",
    "level_order",
    "best_response",
    "PatientFlow",
    "patient_flow",
    "BaselineTable",
    "baseline_table",
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


class AnalysisInputError(NscoreError):
    """The cohort handed to an analysis lacks what the analysis needs (a column, a population)."""


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
        ``reason`` (why patients leave the main column; empty for main boxes).
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

    rows = [
        ("infused", f"Infused with {therapy}" if therapy else "Infused", n_inf, "", "main", ""),
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
    edges = table.loc[table["parent"] != "", ["parent", "key", "n"]].rename(
        columns={"parent": "source", "key": "target"}).reset_index(drop=True)
    return PatientFlow(
        table=table, edges=edges, n_infused=n_inf, n_safety=n_saf, n_evaluable=n_eff,
        n_not_evaluable=n_saf - n_eff, n_responders=n_resp, n_cr_cri=n_cr,
        n_hct_after_cr=n_hct_cr, n_hct_total=n_hct_total, n_hct_not_after_cr=n_before,
        n_hct_timing_unknown=n_unknown,
    )


# --------------------------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------------------------

_T1_LABELS = {
    "AGE": "Age, years",
    "SEX": "Sex",
    "DIAG": "Diagnosis",
    "PRIORHCT": "Prior allo-HCT",
    "BMINV": "Bone-marrow involvement",
    "BLAST20": "Marrow blasts >=20% (among involved)",
    "DOSELVL": "Dose level",
    "DOSE6": "Dose, x10^6 cells/kg",
}
#: Continuous rows of Table 1 and the decimals of their "median [min,max]".
_T1_CONTINUOUS = {"AGE": 0, "DOSE6": 2}
_T1_CATEGORICAL = ("SEX", "DIAG", "PRIORHCT", "BMINV", "BLAST20", "DOSELVL")


@dataclass(frozen=True)
class BaselineTable:
    """Baseline characteristics ("Table 1"), overall and by diagnosis, without p-values.

    Attributes
    ----------
    table : DataFrame
        Display-ready table in ``tableone``'s layout (rows: variable x level MultiIndex, an ``n`` row
        first; columns: Overall and one per diagnosis). Continuous rows read "median [min,max]",
        categorical "n (%)".
    counts : DataFrame
        The same categorical counts in tidy numeric form: ``variable``, ``level``, ``group``, ``n``,
        ``denominator``, ``percent`` (for tests and glue; aggregates only).
    n : int
        Number of patients in the table (all infused).
    """

    table: pd.DataFrame
    counts: pd.DataFrame
    n: int


#: The ADSL variables each Table 1 row reads: a row whose variables were not collected is left out.
_T1_INPUTS = {"AGE": ("AGE",), "SEX": ("SEX",), "DIAG": ("DIAG",), "PRIORHCT": ("PRIORHCT",),
              "BMINV": ("BMINV",), "BLAST20": ("BMINV", "BMBLAST"), "DOSELVL": ("DOSELVL",),
              "DOSE6": ("DOSEKG",)}


def _table1_variables(adsl: pd.DataFrame, cohort=None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The patient-level variables of Table 1 (display levels as text) and each one's level order.

    Only the variables collected in ``adsl`` appear. Patient level: an internal building block of
    :func:`baseline_table`, never displayed.
    """
    sub = derive_subgroups(adsl)
    present = {var for var, inputs in _T1_INPUTS.items() if set(inputs) <= set(adsl.columns)}
    df = pd.DataFrame(index=adsl.index)
    order: dict[str, list[str]] = {}
    if "AGE" in present:
        df["AGE"] = pd.to_numeric(adsl["AGE"], errors="coerce")
    if "SEX" in present:
        df["SEX"] = adsl["SEX"].astype("string").map({"M": "Male", "F": "Female"}).astype(object)
        order["SEX"] = ["Male", "Female"]
    df["DIAG"] = adsl["DIAG"].astype(str)
    order["DIAG"] = level_order(df["DIAG"], diagnosis_order(cohort))
    if "PRIORHCT" in present:
        df["PRIORHCT"] = sub["prior_hct"].astype(object)
        order["PRIORHCT"] = sorted(df["PRIORHCT"].dropna().unique(), key=int)
    if "BMINV" in present:
        df["BMINV"] = adsl["BMINV"].map({"Y": "Yes", "y": "Yes", "N": "No", "n": "No"}).astype(object)
        order["BMINV"] = ["Yes", "No"]
    if "BLAST20" in present:
        blast = sub["marrow_blasts"].astype(object)
        df["BLAST20"] = blast.where(blast != "No marrow involvement").map({">=20%": "Yes", "<20%": "No"})
        order["BLAST20"] = ["Yes", "No"]
    if "DOSELVL" in present:
        df["DOSELVL"] = adsl["DOSELVL"].astype("string").to_numpy(dtype=object, na_value=np.nan)
        order["DOSELVL"] = level_order(df["DOSELVL"], dose_level_order(cohort))
    if "DOSE6" in present:
        df["DOSE6"] = pd.to_numeric(adsl["DOSEKG"], errors="coerce") / 1e6
    return df, order


def _median_min_max(values: np.ndarray, decimals: int) -> str:
    """Median [min,max] as tableone prints it (``np.nanmedian``; "nan" when no value is known)."""
    known = values[~np.isnan(values)]
    if known.size == 0:
        return f"{np.nan:.{decimals}f} [{np.nan:.{decimals}f},{np.nan:.{decimals}f}]"
    return f"{np.nanmedian(values):.{decimals}f} [{known.min():.{decimals}f},{known.max():.{decimals}f}]"


def baseline_table(cohort, decimals: int = 1) -> BaselineTable:
    """Table 1 of the infused cohort, overall and by diagnosis, in ``tableone``'s layout.

    Age and dose are summarised as median (min, max), as the abstract reports them; categorical
    variables as n (%). Blasts >= 20% are given among patients with marrow involvement only (the
    abstract's 79/265), so non-involved patients are missing there and left out of its denominator.

    Notes
    -----
    No p-values: the diagnoses are not randomised groups and the table describes, it does not test.
    Percentages use the non-missing count of each column as denominator; a column without any (a
    diagnosis without involved marrow) prints "0 (\u2013)". The table is the one ``tableone.TableOne``
    builds from the same variables (same rows, level order and rounding; tested against it), counted
    here with one pass over the patients per variable because tableone converts every cell in Python
    (half a minute at a million patients).
    """
    adsl = cohort.adsl
    _require(adsl, ["DIAG"], "ADSL")
    if len(adsl) == 0:
        raise AnalysisInputError("ADSL has no patients: Table 1 needs at least one")
    df, order = _table1_variables(adsl, cohort)
    # one column per diagnosis after Overall; with a single diagnosis it would repeat Overall
    by_diagnosis = order["DIAG"] if len(order["DIAG"]) > 1 else []
    names = ["Overall", *by_diagnosis]
    # membership of each group: Overall is every patient, then one diagnosis each
    members = [np.ones(len(df), dtype=bool)] + [df["DIAG"].eq(g).to_numpy() for g in by_diagnosis]
    groups = {f"group{i}": m for i, m in enumerate(members)}

    index: list[tuple[str, str]] = [("n", "")]
    cells: list[list] = [[int(m.sum()) for m in members]]
    tallies = {}
    for var, label in _T1_LABELS.items():
        if var not in df.columns:
            continue  # not collected
        if var in _T1_CONTINUOUS:
            values = df[var].to_numpy(dtype=float, na_value=np.nan)
            index.append((f"{label}, median [min,max]", ""))
            cells.append([_median_min_max(values[m], _T1_CONTINUOUS[var]) for m in members])
            continue
        # levels present: the order's first, then the rest sorted as text (tableone's order)
        counts = level_counts(df[var], tuple(order[var]), **groups).set_index("level")[list(groups)]
        denominators = counts.sum(axis=0).to_numpy()  # patients with a known value, per group
        tallies[var] = (counts, denominators)
        for level, k in zip(counts.index, counts.to_numpy()):
            index.append((f"{label}, n (%)", level))
            # k / n * 100 in that order: tableone's rounding of the printed percentage
            cells.append([f"{k[g]} ({k[g] / denominators[g] * 100:.{decimals}f})" if denominators[g]
                          else f"{k[g]} (\u2013)" for g in range(len(names))])
    table = pd.DataFrame(cells, index=pd.MultiIndex.from_tuples(index, names=["Characteristic", "Level"]),
                         columns=names, dtype=object)

    rows = []
    for g, gname in enumerate(names):
        for var in _T1_CATEGORICAL:
            if var not in tallies:
                continue
            counts, denominators = tallies[var]
            d = int(denominators[g])
            for level, k in counts.iloc[:, g].reindex(order[var], fill_value=0).items():
                rows.append((_T1_LABELS[var], level, gname, int(k), d, 100.0 * int(k) / d if d else np.nan))
    counts_df = pd.DataFrame(rows, columns=["variable", "level", "group", "n", "denominator", "percent"])
    return BaselineTable(table=table, counts=counts_df, n=len(adsl))

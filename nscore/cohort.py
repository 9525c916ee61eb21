"""Descriptive analyses of the infused cohort: derived subgroups, patient flow and "Table 1".

Every analysis here reads only the ADaM frames of a cohort (``cohort.adsl``, ``cohort.adrs``, ...), so a
validated ``nscore.load.Cohort`` and any object with the same attributes (e.g. a
``types.SimpleNamespace`` of simulated frames in a test) work alike. Results are frozen dataclasses
whose ``.table`` holds aggregates only, never patient rows, so chapters can display and glue them
without leaking patient-level data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nscore.errors import NscoreError

__all__ = [
    "AnalysisInputError",
    "SUBGROUPS",
    "DIAGNOSES",
    "derive_subgroups",
    "level_order",
    "best_response",
    "PatientFlow",
    "patient_flow",
    "BaselineTable",
    "baseline_table",
]

#: Diagnoses in the order the abstract lists them (T-ALL, T-LBL, MPAL, AML, PTCL).
DIAGNOSES: tuple[str, ...] = ("T-ALL", "T-LBL", "MPAL", "AML", "PTCL")

RESPONDER = ("CR", "CRi", "PR")
CR_CRI = ("CR", "CRi")

#: Subgroup variables of the forest plot and Table 1: derived column -> (display name, level order).
#: One place for the definitions; ``derive_subgroups`` computes the columns. Dose levels are data
#: driven (sorted labels), hence the empty order for ``dose_level``.
SUBGROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "diagnosis": ("Diagnosis", DIAGNOSES),
    "prior_hct_any": ("Prior allo-HCT", ("No", "Yes")),
    "marrow_blasts": ("Marrow blasts", (">=20%", "<20%", "No marrow involvement")),
    "dose_level": ("Dose level", ()),
    "age_group": ("Age, years", ("<18", ">=18")),
}


class AnalysisInputError(NscoreError):
    """The cohort handed to an analysis lacks what the analysis needs (a column, a population)."""


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisInputError(f"{name} lacks required column(s): {', '.join(missing)}")


def _flag(series: pd.Series) -> pd.Series:
    """Y/N flag as booleans; anything but "Y" (including missing) is False."""
    return series.astype("string").fillna("N").str.upper().eq("Y")


def level_order(values: pd.Series, preferred: tuple[str, ...]) -> list[str]:
    """Levels present in ``values``: preferred ones first in their order, then the rest sorted."""
    present = [v for v in pd.unique(values.dropna()) if v is not None]
    first = [p for p in preferred if p in present]
    rest = sorted(v for v in present if v not in first)
    return first + rest


def derive_subgroups(adsl: pd.DataFrame) -> pd.DataFrame:
    """Derived subgroup variables, one row per ADSL row (same index), keyed by USUBJID.

    The single definition of every subgroup used by Table 1, the forest plot and the safety tables,
    so that chapters cannot drift apart in how, e.g., "blasts >= 20%" is cut.

    Parameters
    ----------
    adsl : DataFrame
        ADSL with USUBJID, AGE, PRIORHCT, BMINV, BMBLAST, DOSELVL, DIAG.

    Returns
    -------
    DataFrame
        Columns ``USUBJID``, ``age_group`` ("<18"/">=18"), ``prior_hct`` ("0"/"1"/"2"... the number
        of prior allogeneic transplants as text), ``prior_hct_any`` ("Yes"/"No"), ``marrow_blasts``
        (">=20%"/"<20%"/"No marrow involvement"), ``dose_level`` and ``diagnosis``.

    Notes
    -----
    Age is years at infusion, so "<18" means a paediatric patient at infusion. Blasts are cut at 20%
    (the abstract's threshold) among patients with marrow involvement (BMINV = "Y"); a patient
    flagged as involved with a missing blast count gets a missing ``marrow_blasts``.
    """
    _require(adsl, ["USUBJID", "AGE", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DIAG"], "ADSL")
    # float (NaN for missing) so that comparisons never meet pandas' ambiguous NA
    age = pd.to_numeric(adsl["AGE"], errors="coerce").astype(float)
    prior = pd.to_numeric(adsl["PRIORHCT"], errors="coerce").astype(float)
    blasts = pd.to_numeric(adsl["BMBLAST"], errors="coerce").astype(float)
    involved = _flag(adsl["BMINV"])

    out = pd.DataFrame(index=adsl.index)
    out["USUBJID"] = adsl["USUBJID"].astype("string")
    out["age_group"] = pd.Series(np.where(age < 18, "<18", ">=18"), index=adsl.index, dtype="string")
    out.loc[age.isna(), "age_group"] = pd.NA
    out["prior_hct"] = prior.astype("Int64").astype("string")
    out["prior_hct_any"] = pd.Series(np.where(prior >= 1, "Yes", "No"), index=adsl.index, dtype="string")
    out.loc[prior.isna(), "prior_hct_any"] = pd.NA
    mb = pd.Series(pd.NA, index=adsl.index, dtype="string")
    mb[~involved] = "No marrow involvement"
    mb[involved & (blasts >= 20)] = ">=20%"
    mb[involved & (blasts < 20)] = "<20%"
    out["marrow_blasts"] = mb
    out["dose_level"] = adsl["DOSELVL"].astype("string")
    out["diagnosis"] = adsl["DIAG"].astype("string")
    return out


def best_response(cohort) -> pd.DataFrame:
    """Efficacy-evaluable patients with their best overall response (USUBJID, AVALC, MRDSTAT).

    The denominator of every response rate is EFFFL = "Y" (SPEC); an evaluable patient without an
    ADRS row counts as not responding ("NE"), which keeps rates conservative if the data ever break
    the one-row-per-evaluable-patient rule that validation enforces.
    """
    adsl, adrs = cohort.adsl, cohort.adrs
    _require(adsl, ["USUBJID", "EFFFL"], "ADSL")
    _require(adrs, ["USUBJID", "AVALC"], "ADRS")
    ev = adsl.loc[_flag(adsl["EFFFL"]), ["USUBJID"]].copy()
    rs = adrs
    if "PARAMCD" in rs.columns:
        rs = rs[rs["PARAMCD"].astype("string").eq("BOR")]
    cols = ["USUBJID", "AVALC"] + (["MRDSTAT"] if "MRDSTAT" in rs.columns else [])
    merged = ev.merge(rs[cols].drop_duplicates("USUBJID"), on="USUBJID", how="left")
    merged["AVALC"] = merged["AVALC"].astype("string").fillna("NE")
    if "MRDSTAT" not in merged.columns:
        merged["MRDSTAT"] = pd.NA
    merged.index = ev.index
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
    n_infused, n_safety, n_evaluable, n_not_evaluable, n_responders, n_cr_cri, n_hct_after_cr,
    n_hct_total : int
        The counts, for glue.
    """

    table: pd.DataFrame
    edges: pd.DataFrame
    n_infused: int
    n_safety: int
    n_evaluable: int
    n_not_evaluable: int
    n_responders: int
    n_cr_cri: int
    n_hct_after_cr: int
    n_hct_total: int


def patient_flow(cohort) -> PatientFlow:
    """Patient flow from infusion to consolidative transplant, computed from the data.

    infused -> safety population (SAFFL) -> efficacy-evaluable (EFFFL; side box: "not evaluable for
    response") -> responders (CR/CRi/PR; side box: NR/NE) -> CR/CRi (side box: PR) -> allo-HCT after
    CAR-T while in CR/CRi (side box: no transplant).

    Notes
    -----
    The abstract's 245 transplants (73.4%) are over all 334 infused patients, including salvage
    transplants of non-responders; the flow's last box counts only patients in CR/CRi (consolidative),
    and ``n_hct_total`` keeps the abstract's count for the prose.
    """
    adsl = cohort.adsl
    _require(adsl, ["USUBJID", "SAFFL", "EFFFL", "HCTFL"], "ADSL")
    saf = _flag(adsl["SAFFL"])
    eff = _flag(adsl["EFFFL"]) & saf
    hct = _flag(adsl["HCTFL"])
    br = best_response(cohort)
    br = br[br["USUBJID"].isin(adsl.loc[eff, "USUBJID"])]
    resp_ids = set(br.loc[br["AVALC"].isin(RESPONDER), "USUBJID"])
    cr_ids = set(br.loc[br["AVALC"].isin(CR_CRI), "USUBJID"])
    hct_ids = set(adsl.loc[hct, "USUBJID"])

    n_inf = len(adsl)
    n_saf = int(saf.sum())
    n_eff = int(eff.sum())
    n_resp = len(resp_ids)
    n_cr = len(cr_ids)
    n_hct_cr = len(cr_ids & hct_ids)

    rows = [
        ("infused", "Infused with NS7CAR-T", n_inf, "", "main", ""),
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
        ("no_hct", "No transplant after CAR-T", n_cr - n_hct_cr, "cr_cri", "exclusion",
         "no allo-HCT after CAR-T by the cutoff"),
        ("hct", "Consolidative allo-HCT after CAR-T", n_hct_cr, "cr_cri", "main", ""),
    ]
    table = pd.DataFrame(rows, columns=["key", "label", "n", "parent", "kind", "reason"])
    table["n"] = table["n"].astype(int)
    edges = table.loc[table["parent"] != "", ["parent", "key", "n"]].rename(
        columns={"parent": "source", "key": "target"}).reset_index(drop=True)
    return PatientFlow(
        table=table, edges=edges, n_infused=n_inf, n_safety=n_saf, n_evaluable=n_eff,
        n_not_evaluable=n_saf - n_eff, n_responders=n_resp, n_cr_cri=n_cr,
        n_hct_after_cr=n_hct_cr, n_hct_total=int(hct.sum()),
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


@dataclass(frozen=True)
class BaselineTable:
    """Baseline characteristics ("Table 1"), overall and by diagnosis, without p-values.

    Attributes
    ----------
    table : DataFrame
        Display-ready table from ``tableone`` (rows: variable x level MultiIndex; columns: Overall
        and one per diagnosis). Continuous rows read "median [min,max]", categorical "n (%)".
    counts : DataFrame
        The same categorical counts in tidy numeric form: ``variable``, ``level``, ``group``, ``n``,
        ``denominator``, ``percent`` (for tests and glue; aggregates only).
    n : int
        Number of patients in the table (all infused).
    """

    table: pd.DataFrame
    counts: pd.DataFrame
    n: int
    tableone: object = field(repr=False, compare=False, default=None)


def baseline_table(cohort, decimals: int = 1) -> BaselineTable:
    """Table 1 of the infused cohort, overall and by diagnosis, built with ``tableone``.

    Age and dose are summarised as median (min, max), as the abstract reports them; categorical
    variables as n (%). Blasts >= 20% are given among patients with marrow involvement only (the
    abstract's 79/265), so non-involved patients are missing there and left out of its denominator.

    Notes
    -----
    No p-values: the diagnoses are not randomised groups and the table describes, it does not test.
    Percentages use the non-missing count of each column as denominator.
    """
    import tableone  # imported lazily: heavy, and only Table 1 needs it

    adsl = cohort.adsl
    _require(adsl, ["AGE", "SEX", "DIAG", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DOSEKG"], "ADSL")
    if len(adsl) == 0:
        raise AnalysisInputError("ADSL has no patients: Table 1 needs at least one")
    sub = derive_subgroups(adsl)
    df = pd.DataFrame(index=adsl.index)
    df["AGE"] = pd.to_numeric(adsl["AGE"], errors="coerce")
    df["SEX"] = adsl["SEX"].astype("string").map({"M": "Male", "F": "Female"}).astype(object)
    df["DIAG"] = adsl["DIAG"].astype(str)
    df["PRIORHCT"] = sub["prior_hct"].astype(object)
    df["BMINV"] = _flag(adsl["BMINV"]).map({True: "Yes", False: "No"}).astype(object)
    blast = sub["marrow_blasts"].astype(object)
    df["BLAST20"] = blast.where(blast != "No marrow involvement")
    df["BLAST20"] = df["BLAST20"].map({">=20%": "Yes", "<20%": "No"})
    df["DOSELVL"] = adsl["DOSELVL"].astype("string").to_numpy(dtype=object, na_value=np.nan)
    df["DOSE6"] = pd.to_numeric(adsl["DOSEKG"], errors="coerce") / 1e6

    order = {
        "SEX": ["Male", "Female"],
        "DIAG": level_order(df["DIAG"], DIAGNOSES),
        "PRIORHCT": sorted(df["PRIORHCT"].dropna().unique(), key=int),
        "BMINV": ["Yes", "No"],
        "BLAST20": ["Yes", "No"],
        "DOSELVL": level_order(df["DOSELVL"], ()),
    }
    groups = order["DIAG"]
    columns = list(_T1_LABELS)
    categorical = ["SEX", "DIAG", "PRIORHCT", "BMINV", "BLAST20", "DOSELVL"]
    t1 = tableone.TableOne(
        df, columns=columns, categorical=categorical, nonnormal=["AGE", "DOSE6"],
        min_max=["AGE", "DOSE6"], groupby="DIAG", pval=False, overall=True, missing=False,
        include_null=False, order=order, rename=_T1_LABELS, decimals={"AGE": 0, "DOSE6": 2,
                                                                     **{c: decimals for c in categorical}},
    )
    table = t1.tableone.copy()
    # flatten the "Grouped by DIAG" column level; keep Overall first, then diagnoses in abstract order
    table.columns = [c[1] if isinstance(c, tuple) else c for c in table.columns]
    table = table[["Overall"] + [g for g in groups if g in table.columns]]
    table.index.names = ["Characteristic", "Level"]
    # a diagnosis without any involved marrow has no denominator: tableone prints "0 (nan)"
    table = table.replace(to_replace=r"\(nan\)", value="(\u2013)", regex=True)

    counts = []
    for gname, part in [("Overall", df)] + [(g, df[df["DIAG"] == g]) for g in groups]:
        for var in categorical:
            col = part[var].dropna()
            denom = len(col)
            for level in order[var]:
                k = int((col == level).sum())
                counts.append((_T1_LABELS[var], level, gname, k, denom,
                               100.0 * k / denom if denom else np.nan))
    counts_df = pd.DataFrame(counts, columns=["variable", "level", "group", "n", "denominator", "percent"])
    return BaselineTable(table=table, counts=counts_df, n=len(adsl), tableone=t1)

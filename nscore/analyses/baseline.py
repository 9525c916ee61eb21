"""Table 1: baseline characteristics of the infused patients, overall and by diagnosis.

Split from :mod:`nscore.analyses.cohort`, whose subgroups and counts it uses. Aggregates only: counts,
percentages, medians, quartiles and ranges, never a patient row; :meth:`BaselineTable.rows` gives
the ARD rows (``baseline.<variable>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nscore.analyses import ard
from nscore.analyses.cohort import (
    _flag,
    _require,
    derive_subgroups,
    diagnosis_order,
    dose_level_order,
    level_counts,
    level_order,
)
from nscore.errors import AnalysisInputError
from nscore.statistics.outcomes import MONTH_DAYS as DAYS_PER_MONTH  # one home (YEAR_DAYS / 12): times in months

__all__ = ["BaselineTable", "baseline_table"]

# --------------------------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------------------------

#: Row headings of Table 1, in the order of the table. Continuous rows name their unit; categorical
#: ones say "n (%)".
_T1_LABELS = {
    "AGE": "Age, years",
    "AGEGRP": "Age group, n (%)",
    "SEX": "Sex, n (%)",
    "DIAG": "Diagnosis, n (%)",
    "PRIORHCT": "Prior allo-HCT, n (%)",
    "BMINV": "Bone-marrow involvement, n (%)",
    "BLAST20": "Marrow blasts, n (%)",
    "PRLINES": "Prior lines of therapy",
    "DISSTAT": "Disease status at infusion, n (%)",
    "EMDFL": "Extramedullary disease, n (%)",
    "CNSFL": "CNS involvement, n (%)",
    "HCTREL": "Time from prior allo-HCT to relapse, months",
    "DOSELVL": "Dose level, n (%)",
    "DOSE6": "Dose, \u00d710\u2076 cells/kg",
}
#: Continuous rows of Table 1 and the decimals of their median, quartiles and range.
_T1_CONTINUOUS = {"AGE": 0, "PRLINES": 0, "HCTREL": 1, "DOSE6": 2}
_T1_CATEGORICAL = ("AGEGRP", "SEX", "DIAG", "PRIORHCT", "BMINV", "BLAST20", "DISSTAT", "EMDFL", "CNSFL", "DOSELVL")
#: Rows a reader of a CAR-T Table 1 expects that the data model holds only as OPTIONAL ADSL
#: columns (``PRLINES``, ``DISSTAT``, ``EMDFL``, ``CNSFL``, ``HCTRELDY``): shown when the delivery
#: has the column, otherwise left out and named "not collected" (:attr:`BaselineTable.not_collected`).
_T1_OPTIONAL = ("PRLINES", "DISSTAT", "EMDFL", "CNSFL", "HCTREL")
#: Disease status at infusion from the most to the least disease (others follow, sorted).
_DISEASE_STATUS_ORDER = ("Refractory", "Relapsed", "MRD-positive CR")
#: Prefix of the helper column saying to which patients a continuous row applies (others: no value, not unknown).
_APPLIES = "__applies_"
#: Unit of a continuous row's statistics in the ARD.
_T1_UNITS = {"AGE": "years", "PRLINES": "lines", "HCTREL": "months", "DOSE6": "10^6 cells/kg"}
#: Footnote letters of the rows that need a footnote (the notes are written by the results prose).
_T1_FOOTNOTES = ("PRIORHCT", "BLAST20", "DOSELVL")
_SUPERSCRIPT = "\u1d43\u1d47\u1d9c\u1d48\u1d49\u1da0"  # a b c d e f

#: The ADSL variables each Table 1 row reads: a row whose variables were not collected is left out.
_T1_INPUTS = {"AGE": ("AGE",), "AGEGRP": ("AGE",), "SEX": ("SEX",), "DIAG": ("DIAG",),
              "PRIORHCT": ("PRIORHCT",), "BMINV": ("BMINV",), "BLAST20": ("BMINV", "BMBLAST"),
              "DOSELVL": ("DOSELVL",), "DOSE6": ("DOSEKG",), "PRLINES": ("PRLINES",), "DISSTAT": ("DISSTAT",),
              "EMDFL": ("EMDFL",), "CNSFL": ("CNSFL",), "HCTREL": ("HCTRELDY",)}


@dataclass(frozen=True)
class BaselineTable:
    """Baseline characteristics ("Table 1"), overall and by diagnosis, without p-values.

    Attributes
    ----------
    table : DataFrame
        The display table: a ``Characteristic`` column, then ``Overall (n = N)`` and, with more
        than one diagnosis, one ``<code> (n = k)`` column per diagnosis. A heading row per variable
        (its label, empty cells) is followed by its indented rows: ``Median (IQR)`` and ``Range``
        for a continuous variable, one row per level for a categorical one, and ``Unknown`` where a
        value is missing in any column. The diagnosis rows are filled in the Overall column only.
    row_kinds : tuple of str
        Per row of ``table``: ``"group"`` (a variable's heading row) or ``"indent"``, as
        :class:`nscore.report.tables.Table` takes them.
    header : tuple of (str, int) or None
        Spanning header over the columns (``("", 1), ("", 1), ("By diagnosis", k)``), or None when
        there is no column by diagnosis.
    counts : DataFrame
        Categorical counts in tidy numeric form: ``variable`` (code: SEX, DIAG, ...), ``level``,
        ``group`` (Overall or a diagnosis code), ``n``, ``denominator`` (patients of the group with
        a known value), ``percent``. Aggregates only.
    unknown : DataFrame
        ``variable``, ``group``, ``n``: patients of the group whose value is missing (categorical
        and continuous variables; blasts: patients with marrow involvement and no blast count).
    summaries : DataFrame
        Continuous variables: ``variable``, ``group``, ``n`` (known values), ``median``, ``q1``,
        ``q3``, ``min``, ``max``.
    n : int
        Number of patients in the table (all infused).
    groups : tuple of str
        ``"Overall"`` and the diagnoses with a column, in column order.
    variables : tuple of str
        The variable codes shown (collected), in row order.
    footnotes : dict
        Variable code -> its footnote letter, for the rows that carry one.
    dose_levels : tuple of (str, float)
        Dose levels shown that the study defines, with their cells/kg.
    not_collected : tuple of str
        Codes of the optional rows (:data:`_T1_OPTIONAL`) the delivery holds no column for: left out
        of the table, named in its notes.
    """

    table: pd.DataFrame
    row_kinds: tuple[str, ...]
    header: tuple[tuple[str, int], ...] | None
    counts: pd.DataFrame
    unknown: pd.DataFrame
    summaries: pd.DataFrame
    n: int
    groups: tuple[str, ...] = ("Overall",)
    variables: tuple[str, ...] = ()
    footnotes: dict = None
    dose_levels: tuple[tuple[str, float], ...] = ()
    not_collected: tuple[str, ...] = ()

    def rows(self) -> list[dict]:
        """ARD rows ``baseline.<variable>`` (lower-case code: baseline.sex, baseline.age, ...).

        Categorical: per level n, N (patients of the column with a known value) and percent
        (NaN when N = 0); group_var is the variable (``SEX``, level ``Male``) for the Overall
        column and ``DIAG,<VAR>`` (level ``<diagnosis>,<level>``) for a diagnosis column; unknown
        values are level ``Unknown`` (n only). Continuous (AGE years, DOSE6 10^6 cells/kg): n,
        median, q1, q3, min, max with group_var "" (Overall) or ``DIAG``.
        """
        out = []
        pop = "infused"

        def group(var, g, level=None):
            if level is None:
                return ("", "") if g == "Overall" else ("DIAG", str(g))
            return (var, str(level)) if g == "Overall" else (f"DIAG,{var}", f"{g},{level}")

        for r in self.counts.itertuples(index=False):
            gv, gl = group(r.variable, r.group, r.level)
            common = dict(population=pop, endpoint=_T1_LABELS.get(r.variable, r.variable), group_var=gv,
                          group_level=gl)
            aid = f"baseline.{r.variable.lower()}"
            out += [ard.row(aid, "n", r.n, unit="patients", label=f"{r.level}", **common),
                    ard.row(aid, "N", r.denominator, unit="patients", label="Patients with a known value", **common),
                    ard.row(aid, "percent", r.percent if r.denominator else math.nan, unit="%", label=f"{r.level}",
                            **common)]
        for r in self.unknown.itertuples(index=False):
            if r.variable not in self.variables:
                continue
            gv, gl = group(r.variable, r.group, "Unknown")
            out.append(ard.row(f"baseline.{r.variable.lower()}", "n", r.n, population=pop,
                               endpoint=_T1_LABELS.get(r.variable, r.variable), group_var=gv, group_level=gl,
                               unit="patients", label="Unknown"))
        units = _T1_UNITS
        for r in self.summaries.itertuples(index=False):
            gv, gl = group(r.variable, r.group)
            common = dict(population=pop, endpoint=_T1_LABELS.get(r.variable, r.variable), group_var=gv,
                          group_level=gl)
            aid = f"baseline.{r.variable.lower()}"
            out.append(ard.row(aid, "n", r.n, unit="patients", label="Patients with a known value", **common))
            out += [ard.row(aid, stat, getattr(r, stat), unit=units.get(r.variable, ""),
                            label=f"{_T1_LABELS.get(r.variable, r.variable)}: {stat}", **common)
                    for stat in ("median", "q1", "q3", "min", "max")]
        return out

    @property
    def by_diagnosis(self) -> bool:
        """Whether the table has columns by diagnosis (more than one diagnosis)."""
        return len(self.groups) > 1

    @property
    def empty_denominator(self) -> bool:
        """Whether a cell reads "\u2013" because its column has no patient with a known value."""
        return bool((self.counts["denominator"] == 0).any())


def _table1_variables(adsl: pd.DataFrame, cohort=None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The patient-level variables of Table 1 (display levels as text) and each one's level order.

    Only the variables collected in ``adsl`` appear. Patient level: an internal building block of
    :func:`baseline_table`, never displayed. Blasts (``BLAST20``) are given for patients with
    marrow involvement only: missing (unknown) for an involved patient without a count, and
    ``"n/a"`` (not applicable, left out of the row) for patients without involvement or with
    unknown involvement.
    """
    sub = derive_subgroups(adsl)
    present = {var for var, inputs in _T1_INPUTS.items() if set(inputs) <= set(adsl.columns)}
    # an optional column delivered empty (or added empty by the loader) was not collected either
    present -= {var for var in _T1_OPTIONAL if var in present
                and not any(adsl[c].notna().any() for c in _T1_INPUTS[var])}
    df = pd.DataFrame(index=adsl.index)
    order: dict[str, list[str]] = {}
    if "AGE" in present:
        df["AGE"] = pd.to_numeric(adsl["AGE"], errors="coerce").astype(float)
        df["AGEGRP"] = sub["age_group"].astype(object).map({"<18": "<18 years", ">=18": "\u226518 years"})
        order["AGEGRP"] = ["<18 years", "\u226518 years"]
    if "SEX" in present:
        df["SEX"] = adsl["SEX"].astype("string").str.upper().map({"M": "Male", "F": "Female"}).astype(object)
        order["SEX"] = ["Male", "Female"]
    df["DIAG"] = adsl["DIAG"].astype("string").to_numpy(dtype=object, na_value=np.nan)
    order["DIAG"] = level_order(df["DIAG"], diagnosis_order(cohort))
    if "PRIORHCT" in present:
        df["PRIORHCT"] = sub["prior_hct"].astype(object)
        order["PRIORHCT"] = sorted(df["PRIORHCT"].dropna().unique(), key=int)
    if "BMINV" in present:
        df["BMINV"] = adsl["BMINV"].map({"Y": "Yes", "y": "Yes", "N": "No", "n": "No"}).astype(object)
        order["BMINV"] = ["Yes", "No"]
    if "BLAST20" in present:
        blast = sub["marrow_blasts"].astype(object).map({">=20%": "\u226520%", "<20%": "<20%"})
        involved = _flag(adsl["BMINV"]).to_numpy()
        df["BLAST20"] = blast.where(involved, "n/a")  # NaN where involved: count unknown
        order["BLAST20"] = ["\u226520%", "<20%"]
    if "PRLINES" in present:
        df["PRLINES"] = pd.to_numeric(adsl["PRLINES"], errors="coerce").astype(float)
    if "DISSTAT" in present:
        df["DISSTAT"] = adsl["DISSTAT"].astype("string").str.strip().replace("", pd.NA).to_numpy(
            dtype=object, na_value=np.nan)
        order["DISSTAT"] = level_order(df["DISSTAT"], _DISEASE_STATUS_ORDER)
    for flag in ("EMDFL", "CNSFL"):
        if flag in present:
            df[flag] = adsl[flag].map({"Y": "Yes", "y": "Yes", "N": "No", "n": "No"}).astype(object)
            order[flag] = ["Yes", "No"]
    if "HCTREL" in present:
        days = pd.to_numeric(adsl["HCTRELDY"], errors="coerce").astype(float)
        df["HCTREL"] = days / DAYS_PER_MONTH
        # applies to patients with a prior allo-HCT only (others are not "unknown")
        prior = pd.to_numeric(adsl["PRIORHCT"], errors="coerce") if "PRIORHCT" in adsl.columns else None
        df[_APPLIES + "HCTREL"] = (prior > 0).to_numpy() if prior is not None else np.ones(len(df), dtype=bool)
    if "DOSELVL" in present:
        df["DOSELVL"] = adsl["DOSELVL"].astype("string").to_numpy(dtype=object, na_value=np.nan)
        order["DOSELVL"] = level_order(df["DOSELVL"], dose_level_order(cohort))
    if "DOSE6" in present:
        df["DOSE6"] = pd.to_numeric(adsl["DOSEKG"], errors="coerce").astype(float) / 1e6
    return df, order


def _number(value: float, decimals: int) -> str:
    """A summary statistic at ``decimals`` places; a whole-number summary (decimals 0) that falls
    between two integers (a median of 27.5 years) keeps one decimal instead of being rounded."""
    if decimals == 0 and not float(value).is_integer():
        return f"{value:.1f}"
    return f"{value:.{decimals}f}"


def _dash(low: str, high: str) -> str:
    return f"{low}\u2013{high}"


def _dose_text(cells_per_kg: float) -> str:
    """``5.0e5 -> '0.5'`` (in 10^6 cells/kg, no trailing zeros beyond one decimal)."""
    value = cells_per_kg / 1e6
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def baseline_table(cohort, decimals: int = 1) -> BaselineTable:
    """Table 1 of the infused cohort, overall and by diagnosis, in a journal layout.

    Continuous variables (age, dose) as median (interquartile range) on one row and range on the
    next; categorical variables as n (%), the percentage of the column's patients with a known
    value (``decimals`` places); missing values counted on an ``Unknown`` row (without a
    percentage) whenever any column has one. Blasts >= 20% are given among patients with marrow
    involvement only (the abstract's 79/265). Dose levels defined by the study are labelled with
    their cells/kg. Rows whose variables were not collected are left out.

    Notes
    -----
    No p-values: the diagnoses are not randomised groups and the table describes, it does not test.
    Quartiles are the 25th and 75th percentiles with linear interpolation (R's default, type 7). A
    column without any patient in a row's denominator (a diagnosis without involved marrow) prints
    an en dash. Counts use one pass over the patients per variable (:func:`level_counts`).
    """
    adsl = cohort.adsl
    _require(adsl, ["DIAG"], "ADSL")
    if len(adsl) == 0:
        raise AnalysisInputError("ADSL has no patients: Table 1 needs at least one")
    df, order = _table1_variables(adsl, cohort)
    # one column per diagnosis after Overall; with a single diagnosis it would repeat Overall
    by_diagnosis = order["DIAG"] if len(order["DIAG"]) > 1 else []
    names = ["Overall", *by_diagnosis]
    members = [np.ones(len(df), dtype=bool)] + [df["DIAG"].eq(g).to_numpy() for g in by_diagnosis]
    sizes = [int(m.sum()) for m in members]
    groups = {f"group{i}": m for i, m in enumerate(members)}
    study = getattr(cohort, "study", None)
    diag_names = {d.code: d.name for d in getattr(study, "diagnoses", ())} if study is not None else {}
    dose_defined = {d.code: d.cells_per_kg for d in getattr(study, "dose_levels", ())} if study is not None else {}

    shown = [var for var in _T1_LABELS if var in df.columns]
    letters = {var: _SUPERSCRIPT[i] for i, var in enumerate(v for v in _T1_FOOTNOTES if v in shown)}
    rows: list[list[str]] = []
    kinds: list[str] = []
    tidy, unknown_rows, summary_rows = [], [], []

    def add(label: str, cells: list[str], kind: str) -> None:
        rows.append([label, *cells])
        kinds.append(kind)

    for var in shown:
        add(_T1_LABELS[var] + letters.get(var, ""), [""] * len(names), "group")
        if var in _T1_CONTINUOUS:
            places = _T1_CONTINUOUS[var]
            values = df[var].to_numpy(dtype=float, na_value=np.nan)
            applies = (df[_APPLIES + var].to_numpy(dtype=bool) if _APPLIES + var in df.columns
                       else np.ones(len(df), dtype=bool))
            iqr, ranges, missing = [], [], []
            for g, m in zip(names, members):
                known = values[m & applies & ~np.isnan(values)]
                missing.append(int((m & applies).sum()) - known.size)
                unknown_rows.append((var, g, missing[-1]))
                if known.size == 0:
                    iqr.append("\u2013")
                    ranges.append("\u2013")
                    summary_rows.append((var, g, 0, *[np.nan] * 5))
                    continue
                q1, med, q3 = np.percentile(known, [25, 50, 75])
                lo, hi = known.min(), known.max()
                summary_rows.append((var, g, int(known.size), med, q1, q3, lo, hi))
                iqr.append(f"{_number(med, places)} ({_dash(_number(q1, places), _number(q3, places))})")
                ranges.append(_dash(_number(lo, places), _number(hi, places)))
            add("Median (IQR)", iqr, "indent")
            add("Range", ranges, "indent")
            if any(missing):
                add("Unknown", [str(k) for k in missing], "indent")
            continue
        applies = df[var].ne("n/a").to_numpy()
        counts = level_counts(df[var].where(applies), tuple(order[var]), **groups).set_index("level")
        counts = counts.reindex([lvl for lvl in order[var] if lvl in counts.index]
                                + [lvl for lvl in counts.index if lvl not in order[var]])[list(groups)]
        denominators = counts.sum(axis=0).to_numpy()
        missing = [int((m & applies).sum()) - int(d) for m, d in zip(members, denominators)]
        for g, gname in enumerate(names):
            unknown_rows.append((var, gname, missing[g]))
        levels = list(counts.index)
        for level in order[var]:  # every level the order names is a row, zero where absent
            if level not in levels and var in ("SEX", "BMINV", "BLAST20", "AGEGRP", "EMDFL", "CNSFL"):
                levels.append(level)
        levels = [lvl for lvl in order[var] if lvl in levels] + [lvl for lvl in levels if lvl not in order[var]]
        counts = counts.reindex(levels, fill_value=0)
        for level, k in zip(counts.index, counts.to_numpy()):
            cells = []
            for g in range(len(names)):
                d = int(denominators[g])
                tidy.append((var, level, names[g], int(k[g]), d, 100.0 * int(k[g]) / d if d else np.nan))
                if var == "DIAG" and g > 0:
                    cells.append("")  # the diagnosis is the column's own: its count is in the header
                else:
                    cells.append(f"{k[g]} ({k[g] / d * 100:.{decimals}f})" if d else "\u2013")
            label = str(level)
            if var == "DIAG" and level in diag_names:
                name = diag_names[level]
                label = f"{name[:1].upper()}{name[1:]} ({level})"
            elif var == "DOSELVL" and level in dose_defined:
                label = f"{level} ({_dose_text(dose_defined[level])} \u00d7 10\u2076 cells/kg)"
            elif var == "PRIORHCT":
                label = "No prior transplant" if label == "0" else label
            add(label, cells, "indent")
        if any(missing):
            add("Unknown", [str(k) if not (var == "DIAG" and g) else "" for g, k in enumerate(missing)], "indent")

    columns = ["Characteristic"] + [f"{g} (n = {k})" for g, k in zip(names, sizes)]
    table = pd.DataFrame(rows, columns=columns, dtype=object)
    header = (("", 1), ("", 1), ("By diagnosis", len(by_diagnosis))) if by_diagnosis else None
    counts_df = pd.DataFrame(tidy, columns=["variable", "level", "group", "n", "denominator", "percent"])
    unknown_df = pd.DataFrame(unknown_rows, columns=["variable", "group", "n"])
    summaries = pd.DataFrame(summary_rows, columns=["variable", "group", "n", "median", "q1", "q3", "min", "max"])
    doses = tuple((c, dose_defined[c]) for c in order.get("DOSELVL", []) if c in dose_defined)
    missing_rows = tuple(var for var in _T1_OPTIONAL if var not in df.columns)
    return BaselineTable(table=table, row_kinds=tuple(kinds), header=header, counts=counts_df,
                         unknown=unknown_df, summaries=summaries, n=len(adsl), groups=tuple(names),
                         variables=tuple(shown), footnotes=letters, dose_levels=doses,
                         not_collected=missing_rows)

"""Response rates with exact (Clopper-Pearson) confidence intervals, overall and by subgroup.

Rates are proportions of the efficacy-evaluable population (EFFFL = "Y"): ORR = CR, CRi or PR;
CR/CRi rate = CR or CRi (SPEC, data model ADRS). Exact intervals are used because several subgroups
are small (e.g. 9 PTCL patients) and the rates are close to 1, where Wald intervals fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import pandas as pd

from nscore.analyses import ard
from nscore.statistics.proportions import PROPORTION_COLUMNS, Proportion as _Proportion
from nscore.statistics.proportions import proportion as _stat_proportion
from nscore.analyses.cohort import (
    CR_CRI,
    RESPONDER,
    SUBGROUPS,
    subgroup_orders,
    AnalysisInputError,
    best_response,
    derive_subgroups,
    level_counts,
)

__all__ = [
    "Proportion",
    "proportion",
    "ResponseRates",
    "response_rates",
    "SubgroupResponse",
    "response_by_subgroup",
    "MRDNegativity",
    "mrd_negativity",
    "PROPORTION_COLUMNS",
    "EVALUABLE",
    "EXACT",
]

#: ARD population of the response analyses, and the method of every exact interval.
EVALUABLE = "efficacy-evaluable (EFFFL)"
EXACT = "Clopper-Pearson exact"


@dataclass(frozen=True)
class Proportion(_Proportion):
    """A binomial proportion k/n with its exact confidence interval
    (:class:`nscore.statistics.proportions.Proportion`, the one computation), with its ARD rows.

    Attributes
    ----------
    k, n : int
        Successes and trials.
    estimate, lower, upper : float
        k/n and the interval bounds, on the 0..1 scale.
    method : str
        "Clopper-Pearson".
    alpha : float
        1 - confidence level.
    """

    def rows(self, analysis_id: str, *, population: str = "", endpoint: str = "", group_var: str = "",
             group_level: str = "", label: str = "") -> list[dict]:
        """ARD rows: ``n`` (k), ``N`` (n), ``percent``, ``lower``, ``upper`` (percent, exact CI)."""
        level = round(100 * (1 - self.alpha))
        common = dict(population=population, endpoint=endpoint, group_var=group_var, group_level=group_level)
        what = label or endpoint or analysis_id
        return [
            ard.row(analysis_id, "n", self.k, unit="patients", label=f"{what}: patients with the event", **common),
            ard.row(analysis_id, "N", self.n, unit="patients", label=f"{what}: patients in the denominator", **common),
            ard.row(analysis_id, "percent", 100 * self.estimate, unit="%", method=EXACT, label=what, **common),
            ard.row(analysis_id, "lower", 100 * self.lower, unit="%", method=EXACT,
                    label=f"{what}: lower {level}% confidence limit", **common),
            ard.row(analysis_id, "upper", 100 * self.upper, unit="%", method=EXACT,
                    label=f"{what}: upper {level}% confidence limit", **common),
        ]

    def format(self, digits: int = 1, ci: bool = False) -> str:
        """``"86.3% (284/329)"``, the abstract's style; with ``ci=True`` the exact interval follows."""
        text = f"{format_percent(self.k, self.n, digits)} ({self.k}/{self.n})"
        if ci:
            level = round(100 * (1 - self.alpha))
            text += (f", {level}% CI {100 * self.lower:.{digits}f}"
                     f"\u2013{100 * self.upper:.{digits}f}")
        return text


def format_percent(k: int, n: int, digits: int = 1) -> str:
    """``k/n`` as a percentage rounded half-up on the exact fraction (no binary-float surprises).

    The abstract prints, e.g., 278/329 = 84.498...% as "84.5%"; rounding the exact rational keeps
    values such as 0.5 ties deterministic.
    """
    from decimal import ROUND_HALF_UP, Decimal
    from fractions import Fraction

    if n <= 0:
        raise AnalysisInputError(f"percentage needs a positive denominator, got n={n}")
    frac = Fraction(100 * int(k), int(n))
    q = Decimal(frac.numerator) / Decimal(frac.denominator)
    return f"{q.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)}%"


def proportion(k: int, n: int, alpha: float = 0.05) -> Proportion:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion:
    :func:`nscore.statistics.proportions.proportion` (checked against R there), as an analysis
    :class:`Proportion` (with ARD rows). Raises ``AnalysisInputError`` for bad counts or alpha."""
    p = _stat_proportion(k, n, alpha)
    return Proportion(**{f.name: getattr(p, f.name) for f in fields(_Proportion)})


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRates:
    """ORR and CR/CRi among efficacy-evaluable patients.

    Attributes
    ----------
    table : DataFrame
        ``endpoint`` ("ORR", "CR/CRi"), ``k``, ``n``, ``estimate``, ``lower``, ``upper``, ``display``.
    orr, cr_cri : Proportion
        For glue (``orr.format()`` gives "86.3% (284/329)").
    counts : DataFrame
        Best overall response distribution: ``response`` (CR, CRi, PR, NR, NE), ``n``, ``percent``.
    """

    table: pd.DataFrame
    orr: Proportion
    cr_cri: Proportion
    counts: pd.DataFrame

    def rows(self) -> list[dict]:
        """ARD rows: ``efficacy.orr``, ``efficacy.cr_cri`` (n, N, percent, exact CI) and
        ``efficacy.best_response`` (n, N, percent per best overall response)."""
        out = (self.orr.rows("efficacy.orr", population=EVALUABLE, endpoint="ORR",
                             label="Overall response rate (CR/CRi/PR)")
               + self.cr_cri.rows("efficacy.cr_cri", population=EVALUABLE, endpoint="CR/CRi",
                                  label="CR/CRi rate"))
        total = int(self.counts["n"].sum())
        for response, n, pct in self.counts[["response", "n", "percent"]].itertuples(index=False):
            common = dict(population=EVALUABLE, endpoint="Best overall response", group_var="AVALC",
                          group_level=str(response))
            out += [ard.row("efficacy.best_response", "n", n, unit="patients",
                            label=f"Best overall response {response}: patients", **common),
                    ard.row("efficacy.best_response", "N", total, unit="patients",
                            label="Efficacy-evaluable patients", **common),
                    ard.row("efficacy.best_response", "percent", pct, unit="%",
                            label=f"Best overall response {response}", **common)]
        return out


def _rates(n: int, responders: int, cr_cri: int, alpha: float) -> tuple[Proportion, Proportion]:
    """ORR and CR/CRi rate of ``n`` evaluable patients from the counts of each."""
    if n == 0:
        raise AnalysisInputError("no efficacy-evaluable patients (EFFFL = Y): response rates are undefined")
    return proportion(int(responders), n, alpha), proportion(int(cr_cri), n, alpha)


def response_rates(cohort, alpha: float = 0.05) -> ResponseRates:
    """ORR (CR+CRi+PR) and CR/CRi rate with exact CIs among efficacy-evaluable patients.

    Notes
    -----
    Patients not evaluable for response (EFFFL = "N") are left out of the denominator, as in the
    abstract (329 evaluable of 334 infused). NE among evaluable patients counts as non-response.
    """
    br = best_response(cohort)
    orr, crc = _rates(len(br), br["AVALC"].isin(RESPONDER).sum(), br["AVALC"].isin(CR_CRI).sum(), alpha)
    rows = []
    for name, p in (("ORR", orr), ("CR/CRi", crc)):
        rows.append({"endpoint": name, **p.as_row(), "display": p.format(ci=True)})
    levels = ["CR", "CRi", "PR", "NR", "NE"]
    vc = br["AVALC"].value_counts()
    counts = pd.DataFrame({"response": levels, "n": [int(vc.get(lv, 0)) for lv in levels]})
    counts["percent"] = 100.0 * counts["n"] / len(br)
    return ResponseRates(table=pd.DataFrame(rows), orr=orr, cr_cri=crc, counts=counts)


@dataclass(frozen=True)
class SubgroupResponse:
    """ORR and CR/CRi by subgroup, for a forest plot.

    Attributes
    ----------
    table : DataFrame
        Long format, overall rows first: ``subgroup`` (display name, "Overall" first), ``variable``
        (derived column, "overall"), ``level``, ``endpoint`` ("ORR"/"CR/CRi"), ``n``, ``k``,
        ``estimate``, ``lower``, ``upper``. Levels without patients are omitted.
    """

    table: pd.DataFrame

    def rows(self) -> list[dict]:
        """ARD rows: ``efficacy.orr.subgroup`` and ``efficacy.cr_cri.subgroup``, one set (n, N,
        percent, exact CI) per subgroup level; group_var is the derived variable in upper case
        (DIAGNOSIS, PRIOR_HCT_ANY, MARROW_BLASTS, DOSE_LEVEL, AGE_GROUP), "" for all evaluable."""
        out = []
        ids = {"ORR": "efficacy.orr.subgroup", "CR/CRi": "efficacy.cr_cri.subgroup"}
        for r in self.table.itertuples(index=False):
            overall = r.variable == "overall"
            p = Proportion(k=int(r.k), n=int(r.n), estimate=float(r.estimate), lower=float(r.lower),
                           upper=float(r.upper))
            out += p.rows(ids[r.endpoint], population=EVALUABLE, endpoint=r.endpoint,
                          group_var="" if overall else str(r.variable).upper(),
                          group_level="" if overall else str(r.level),
                          label=f"{r.endpoint} rate" + ("" if overall else f", {r.subgroup} {r.level}"))
        return out

    def comparable(self) -> pd.DataFrame:
        """``table`` without the subgroups that have a single level in the data.

        A subgroup with one level (every patient has the same diagnosis, say) repeats the overall
        row and compares nothing; the forest plot and its sentence leave it out. Only the overall
        rows remain when no subgroup has two levels.
        """
        t = self.table
        if t.empty:
            return t
        levels = t.groupby("variable", sort=False)["level"].nunique()
        keep = [v for v, n in levels.items() if v == "overall" or n > 1]
        return t.loc[t["variable"].isin(keep)].reset_index(drop=True)


def response_by_subgroup(cohort, alpha: float = 0.05) -> SubgroupResponse:
    """ORR and CR/CRi with exact CIs overall and by diagnosis, prior transplant (any), marrow blasts,
    dose level and age (<18 vs >=18); subgroups as defined in ``nscore.analyses.cohort.SUBGROUPS``.

    Notes
    -----
    Descriptive only: no interaction tests, and with small subgroups (PTCL n = 9) the exact
    intervals are wide; the forest plot shows them as they are. Patients with a missing subgroup
    value are left out of that subgroup's rows only.
    """
    br = best_response(cohort)
    sub = derive_subgroups(cohort.adsl).loc[br.index]
    responder = br["AVALC"].isin(RESPONDER).to_numpy()
    cr_cri = br["AVALC"].isin(CR_CRI).to_numpy()
    rows = []

    def add(subgroup, variable, level, n, n_responders, n_cr_cri):
        if n == 0:
            return
        orr, crc = _rates(n, n_responders, n_cr_cri, alpha)
        for endpoint, p in (("ORR", orr), ("CR/CRi", crc)):
            rows.append({"subgroup": subgroup, "variable": variable, "level": level, "endpoint": endpoint,
                         "n": p.n, "k": p.k, "estimate": p.estimate, "lower": p.lower, "upper": p.upper})

    add("Overall", "overall", "All evaluable", len(br), responder.sum(), cr_cri.sum())
    orders = subgroup_orders(cohort)
    for var, (name, _) in SUBGROUPS.items():
        if var not in sub.columns:
            continue  # its variables were not collected
        counts = level_counts(sub[var], orders[var], responders=responder, cr_cri=cr_cri)
        for level, n, n_responders, n_cr_cri in counts[["level", "n", "responders", "cr_cri"]].itertuples(
                index=False):
            add(name, var, str(level), int(n), n_responders, n_cr_cri)
    return SubgroupResponse(table=pd.DataFrame(rows))


@dataclass(frozen=True)
class MRDNegativity:
    """MRD negativity among CR/CRi patients with a known MRD status.

    Attributes
    ----------
    table : DataFrame
        One row: ``k`` (MRD-negative), ``n`` (CR/CRi with known MRD), ``estimate``, ``lower``,
        ``upper``, ``n_cr_cri``, ``n_unknown``.
    proportion : Proportion or None
        None when no CR/CRi patient has a known MRD status.
    """

    table: pd.DataFrame
    proportion: Proportion | None
    n_cr_cri: int
    n_unknown: int

    def rows(self) -> list[dict]:
        """ARD rows: ``efficacy.mrd_negative`` (n, N, percent, exact CI; N = 0 and NaN percent
        when no CR/CRi patient has a known status) and ``efficacy.mrd_unknown`` (n: CR/CRi
        patients with unknown MRD, N: CR/CRi patients)."""
        pop = "CR/CRi with known MRD status"
        if self.proportion is not None:
            out = self.proportion.rows("efficacy.mrd_negative", population=pop, endpoint="MRD negativity",
                                       label="MRD negativity among CR/CRi")
        else:
            out = [ard.row("efficacy.mrd_negative", stat, v, population=pop, endpoint="MRD negativity",
                           unit=u, method=EXACT if u == "%" else "", label="MRD negativity among CR/CRi")
                   for stat, v, u in (("n", 0, "patients"), ("N", 0, "patients"), ("percent", math.nan, "%"),
                                      ("lower", math.nan, "%"), ("upper", math.nan, "%"))]
        common = dict(population="CR/CRi", endpoint="MRD status unknown")
        out += [ard.row("efficacy.mrd_unknown", "n", self.n_unknown, unit="patients",
                        label="CR/CRi patients with unknown MRD status", **common),
                ard.row("efficacy.mrd_unknown", "N", self.n_cr_cri, unit="patients", label="CR/CRi patients",
                        **common)]
        return out


def mrd_negativity(cohort, alpha: float = 0.05) -> MRDNegativity:
    """Share of MRD-negative patients among CR/CRi with known MRD (MRDSTAT NEGATIVE or POSITIVE).

    Notes
    -----
    Patients not assessed are excluded from the denominator, which assumes they resemble the
    assessed ones; ``n_unknown`` reports how many there are so the reader can judge.
    """
    br = best_response(cohort)
    cr = br[br["AVALC"].isin(CR_CRI)]
    # statuses counted first and upper-cased after: a few distinct values, not one per patient
    status = cr["MRDSTAT"].astype("string").value_counts()
    status = status.groupby(status.index.str.upper()).sum()
    n_negative = int(status.get("NEGATIVE", 0))
    n_known = n_negative + int(status.get("POSITIVE", 0))
    n_unknown = len(cr) - n_known
    if n_known:
        p = proportion(n_negative, n_known, alpha)
        row = {**p.as_row(), "n_cr_cri": len(cr), "n_unknown": n_unknown}
    else:
        p = None
        row = {"k": 0, "n": 0, "estimate": float("nan"), "lower": float("nan"), "upper": float("nan"),
               "n_cr_cri": len(cr), "n_unknown": n_unknown}
    return MRDNegativity(table=pd.DataFrame([row]), proportion=p, n_cr_cri=len(cr), n_unknown=n_unknown)

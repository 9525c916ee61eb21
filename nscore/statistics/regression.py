"""Cox proportional-hazards regression on baseline covariates (lifelines), checked against R's
``coxph`` (Efron ties). Transplant is not a baseline covariate: it is modelled as time-dependent
by :func:`nscore.statistics.survival.transplant_time_dependent_cox`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nscore.errors import SurvivalInputError
from nscore.statistics.inputs import _check_alpha, _endpoint, _guard_hct, _with_adsl

__all__ = ["cox", "CoxResult"]


@dataclass(frozen=True)
class CoxResult:
    """Cox model; ``table``: term, coef, se, hr, lower, upper, z, p (CI on the HR scale)."""

    table: pd.DataFrame = field(repr=False)
    n: int
    events: int
    n_dropped: int
    concordance: float
    log_likelihood: float


def _design(d: pd.DataFrame, covariates: Sequence[str],
            reference: Mapping[str, str] | None) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design columns; text columns become 0/1 indicators against a reference level."""
    reference = dict(reference or {})
    out, names = {}, []
    for c in covariates:
        col = d[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            levels = sorted(col.dropna().astype(str).unique())
            ref = reference.get(c, levels[0] if levels else None)
            if ref not in levels:
                raise SurvivalInputError(f"reference level {ref!r} of {c!r} is not in the data")
            for lev in levels:
                if lev == ref:
                    continue
                name = f"{c}[{lev}]"
                out[name] = np.where(col.isna(), np.nan, (col.astype(str) == lev).astype(float))
                names.append(name)
        else:
            out[c] = col.astype(float).to_numpy()
            names.append(c)
    return pd.DataFrame(out, index=d.index), names


def _cox_table(summary: pd.DataFrame, alpha: float) -> pd.DataFrame:
    lo = [c for c in summary.columns if c.startswith("exp(coef) lower")][0]
    hi = [c for c in summary.columns if c.startswith("exp(coef) upper")][0]
    return pd.DataFrame({
        "term": summary.index.astype(str), "coef": summary["coef"].to_numpy(),
        "se": summary["se(coef)"].to_numpy(), "hr": summary["exp(coef)"].to_numpy(),
        "lower": summary[lo].to_numpy(), "upper": summary[hi].to_numpy(),
        "z": summary["z"].to_numpy(), "p": summary["p"].to_numpy(),
        "conf_level": 1 - alpha,
    })


def cox(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str, covariates: Sequence[str], *,
        alpha: float = 0.05, reference: Mapping[str, str] | None = None) -> CoxResult:
    """Cox proportional-hazards model of ``paramcd`` on baseline ADSL ``covariates``.

    Parameters
    ----------
    covariates : list of ADSL column names.  Numeric columns enter as they are; text columns as
        indicators against ``reference[col]`` (default: first level in sorted order, like an R
        factor read from CSV).
    reference : optional mapping column -> reference level.

    Notes
    -----
    lifelines ``CoxPHFitter`` (Efron ties, Wald CIs and p-values), equal to R
    ``coxph(..., ties="efron")``.  Patients with a missing covariate are dropped (``n_dropped``).
    Proportional hazards is assumed, not tested here.  HCTFL/HCTDT are refused
    (:class:`ImmortalTimeBiasError`): use :func:`transplant_time_dependent_cox`.
    """
    from lifelines import CoxPHFitter

    alpha = _check_alpha(alpha)
    if isinstance(covariates, str) or not len(covariates):
        raise SurvivalInputError("covariates must be a non-empty list of ADSL column names")
    for c in covariates:
        _guard_hct(c)
    d = _with_adsl(_endpoint(adtte, paramcd), adsl, list(covariates))
    X, names = _design(d, covariates, reference)
    frame = pd.concat([d[["AVAL", "EVENT"]], X], axis=1)
    keep = frame.notna().all(axis=1)
    frame = frame.loc[keep]
    cph = CoxPHFitter(alpha=alpha)
    cph.fit(frame, duration_col="AVAL", event_col="EVENT", fit_options={"precision": 1e-10})
    return CoxResult(table=_cox_table(cph.summary, alpha), n=int(keep.sum()),
                     events=int(frame["EVENT"].sum()), n_dropped=int((~keep).sum()),
                     concordance=float(cph.concordance_index_),
                     log_likelihood=float(cph.log_likelihood_))

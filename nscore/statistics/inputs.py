"""The inputs of the time-to-event estimators: argument checks and one endpoint's rows of ADTTE.

Every function of :mod:`nscore.statistics.survival` and :mod:`nscore.statistics.regression` starts
here: ADTTE rows of one PARAMCD with checked AVAL/CNSR (``EVENT = 1 - CNSR``), ADSL columns
attached by USUBJID, the transplant day, and the guard against grouping by transplant (immortal
time). Every problem is a :class:`~nscore.errors.SurvivalInputError` naming what is wrong.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from nscore.errors import ImmortalTimeBiasError, SurvivalInputError

#: Pointwise confidence-interval transforms (R's ``conf.type``).
CI_TYPES = ("log-log", "log", "plain")


def _check_alpha(alpha: float) -> float:
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < float(alpha) < 1:
        raise SurvivalInputError(f"alpha parameter must be between 0 and 1 (got {alpha!r})")
    return float(alpha)


def _check_ci(ci: str) -> str:
    if ci not in CI_TYPES:
        raise SurvivalInputError(f"ci must be one of {CI_TYPES} (got {ci!r})")
    return ci


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SurvivalInputError(f"{name} must be a pandas DataFrame (got {type(frame).__name__})")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SurvivalInputError(f"{name} lacks required column(s) {missing}")


def _endpoint(adtte: pd.DataFrame, paramcd: str, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of one PARAMCD: USUBJID, checked AVAL/CNSR, ``EVENT = 1 - CNSR`` and ``extra`` columns.

    Only the columns an analysis reads are carried: every survival function starts here, and at a
    million patients copying the text columns of ADTTE cost more than the analysis.
    """
    _require_columns(adtte, ["USUBJID", "PARAMCD", "AVAL", "CNSR", *extra], "adtte")
    rows = (adtte["PARAMCD"].isin([paramcd]).to_numpy(dtype=bool) if isinstance(paramcd, str)
            else np.zeros(len(adtte), dtype=bool))
    if not rows.any():
        raise SurvivalInputError(f"PARAMCD {paramcd!r} has no rows in adtte")
    columns = list(dict.fromkeys(["USUBJID", "AVAL", "CNSR", *extra]))
    d = adtte[columns].take(np.flatnonzero(rows))
    d.index = pd.RangeIndex(len(d))
    if d["USUBJID"].duplicated().any():
        raise SurvivalInputError(f"adtte must hold one {paramcd} row per USUBJID (duplicates found)")
    aval = pd.to_numeric(d["AVAL"], errors="coerce")
    if aval.isna().any() or (aval < 0).any():
        raise SurvivalInputError(f"AVAL must be a number >= 0 on every {paramcd} row")
    cnsr = pd.to_numeric(d["CNSR"], errors="coerce")
    if not cnsr.isin([0, 1]).all():
        raise SurvivalInputError(f"CNSR must be 0 (event) or 1 (censored) on every {paramcd} row")
    d["AVAL"] = aval.astype(float)
    d["CNSR"] = cnsr.astype(int)
    d["EVENT"] = 1 - d["CNSR"]
    return d


def _with_adsl(d: pd.DataFrame, adsl: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Attach ADSL ``columns`` to endpoint rows; every ADTTE patient must be in ADSL.

    A lookup of each row's position in ADSL (one hash of the identifiers) rather than a merge,
    which at a million patients spent seconds on indicator and validation passes.
    """
    _require_columns(adsl, ["USUBJID", *columns], "adsl")
    ids = pd.Index(adsl["USUBJID"])
    if not ids.is_unique:
        raise SurvivalInputError("adsl must hold one row per USUBJID (duplicates found)")
    pos = ids.get_indexer(d["USUBJID"])
    if (pos < 0).any():
        raise SurvivalInputError("every ADTTE USUBJID must be in adsl")
    cols = [c for c in dict.fromkeys(columns) if c not in d.columns]
    attached = adsl[cols].take(pos)
    attached.index = d.index
    return pd.concat([d, attached], axis=1)


def _require_transplants(adsl: pd.DataFrame, what: str) -> list[str]:
    """The ADSL transplant columns ``what`` reads; a clear error when transplants were not collected."""
    if isinstance(adsl, pd.DataFrame) and "HCTDT" not in adsl.columns:
        raise SurvivalInputError(
            f"{what} needs the transplant date (ADSL HCTDT), which was not collected in these data")
    return ["TRTSDT", "HCTDT"] + (["HCTFL"] if isinstance(adsl, pd.DataFrame) and "HCTFL" in adsl.columns else [])


def _hct_day(d: pd.DataFrame) -> pd.Series:
    """Days from infusion (TRTSDT) to transplant (HCTDT); NaN if not transplanted."""
    hctdt = pd.to_datetime(d["HCTDT"], errors="coerce")
    trtsdt = pd.to_datetime(d["TRTSDT"], errors="coerce")
    if trtsdt.isna().any():
        raise SurvivalInputError("TRTSDT must be a date on every patient row")
    if "HCTFL" in d.columns:
        flag = d["HCTFL"].eq("Y")
        if (flag != hctdt.notna()).any():
            raise SurvivalInputError("HCTDT must be present if and only if HCTFL = 'Y'")
    return (hctdt - trtsdt).dt.days.astype(float)


def _times(times: Iterable[float] | float) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or np.isnan(t).any() or (t < 0).any():
        raise SurvivalInputError("times must be numbers >= 0")
    return t


def _group_values(d: pd.DataFrame, by: str) -> pd.Series:
    g = d[by]
    if g.isna().any():
        raise SurvivalInputError(f"grouping column {by!r} must not be missing")
    return g.astype(str)


def _guard_hct(name: str) -> None:
    if name in ("HCTFL", "HCTDT"):
        raise ImmortalTimeBiasError(
            f"{name} must not define baseline groups or covariates: transplant happens after "
            "infusion (immortal-time bias); use landmark, transplant_time_dependent_cox or "
            "simon_makuch")

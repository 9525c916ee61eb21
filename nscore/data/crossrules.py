"""The cross-dataset rules of the data model: each checks rows of one dataset against another.

A rule is a plain function registered in :data:`CROSS_RULES` by ``@_cross_rule(name, dataset=columns)``
(the columns it reads: a rule whose dataset or column is absent, already reported as missing, finds
nothing); it takes the cohort's frames and yields its failing rows as tables with the columns of
:class:`nscore.errors.DataValidationError` (file, row, column, rule, value).
:func:`run_cross_rules` runs them all, sharing the ADSL lookups they have in common. The
single-dataset rules are the pandera models of :mod:`nscore.data.schema`; the README of data/ lists
every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar

import numpy as np
import pandas as pd

from nscore.errors import DataValidationError
from nscore.data.schema import DATASETS, DEATH, RELAPSE, _cutoff_of, _days, _fails, _known, cell_text

__all__ = ["CROSS_RULES", "CrossRule", "run_cross_rules", "failures_table"]

FAILURE_COLUMNS = list(DataValidationError.COLUMNS)


def _frame_of(frames, name: str):
    if isinstance(frames, Mapping):
        return frames.get(name)
    return getattr(frames, name, None)


def _file_labels(frames, files: Mapping[str, str] | None) -> dict[str, str]:
    labels = {name: f"{name}.csv" for name in DATASETS}
    known = files if files is not None else getattr(frames, "files", None)
    for label in known or {}:
        stem = str(label).split(".", 1)[0]
        if stem in labels:
            labels[stem] = str(label)
    return labels


def failures_table(file: str, frame: pd.DataFrame, mask, column: str, rule: str) -> pd.DataFrame:
    """Failing rows of ``frame`` (where ``mask``) as a failures table; row = 1-based data row."""
    mask = _fails(pd.Series(mask, index=frame.index))
    hits = frame.loc[mask]
    return pd.DataFrame(
        {
            "file": file,
            "row": pd.array(_row_numbers(frame, hits.index), dtype="Int64"),
            "column": column,
            "rule": rule,
            "value": [cell_text(v) for v in hits[column]] if column in hits else "",
        },
        columns=FAILURE_COLUMNS,
    )


def _row_numbers(frame: pd.DataFrame, index) -> list[int]:
    positions = frame.index.get_indexer(index)
    return [int(p) + 1 for p in positions]


class CrossRule:
    """A named rule across datasets; calling it returns its failures table.

    ``needs`` maps dataset -> columns the rule reads; when a dataset or column is absent (already
    reported as a missing file or column) the rule returns no failures rather than guessing.
    """

    def __init__(self, name: str, needs: dict[str, tuple[str, ...]], func: Callable):
        self.name, self.needs, self.func = name, needs, func
        self.__doc__ = func.__doc__
        self.__name__ = name

    def applicable(self, frames) -> bool:
        for dataset, columns in self.needs.items():
            frame = _frame_of(frames, dataset)
            if frame is None or any(c not in frame.columns for c in columns):
                return False
        return True

    def __call__(self, frames, files: Mapping[str, str] | None = None) -> pd.DataFrame:
        if not self.applicable(frames):
            return pd.DataFrame(columns=FAILURE_COLUMNS)
        labels = _file_labels(frames, files)
        data = {name: _frame_of(frames, name) for name in DATASETS}
        parts = [p for p in self.func(data, labels) if len(p)]
        if not parts:
            return pd.DataFrame(columns=FAILURE_COLUMNS)
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        return f"<CrossRule {self.name}>"


#: Every cross-dataset rule by name, in the order they run.
CROSS_RULES: dict[str, CrossRule] = {}


def _cross_rule(name: str, **needs: tuple[str, ...]):
    def register(func):
        rule = CrossRule(name, needs, func)
        CROSS_RULES[name] = rule
        return rule

    return register


#: Results shared by the rules of one :func:`run_cross_rules` call (per thread), keyed by the ids
#: of the objects they were computed from (held here too, so an id is not reused while it lasts).
_SHARED: ContextVar[dict[tuple, tuple[tuple, object]] | None] = ContextVar("_SHARED", default=None)


def _shared(sources: tuple, compute: Callable):
    """``compute()``, once per ``sources`` within a :func:`run_cross_rules` call.

    Twenty rules look patients up in ADSL; keying ADSL by USUBJID and matching each dataset's ids
    against it once, not once per rule, is most of their cost on a large cohort.
    """
    shared = _SHARED.get()
    if shared is None:
        return compute()
    key = tuple(id(s) for s in sources)
    if key not in shared:
        shared[key] = (sources, compute())
    return shared[key][1]


def _patients(adsl: pd.DataFrame) -> pd.DataFrame:
    """ADSL keyed by USUBJID (first row of a duplicated id; duplicates are reported elsewhere)."""

    def compute():
        known = adsl[adsl["USUBJID"].notna()]
        return known.drop_duplicates("USUBJID", keep="first").set_index("USUBJID")

    return _shared((adsl, "patients"), compute)


def _positions(frame: pd.DataFrame, adsl: pd.DataFrame) -> np.ndarray:
    """Position in :func:`_patients` of each row's patient (-1: missing id or not in ADSL)."""
    return _shared((frame, adsl), lambda: _patients(adsl).index.get_indexer(frame["USUBJID"]))


def _lookup(frame: pd.DataFrame, adsl: pd.DataFrame, column: str) -> pd.Series:
    """ADSL ``column`` for each row of ``frame`` (NaN for an unknown patient), as ``Series.map``."""
    values = _patients(adsl)[column].array.take(_positions(frame, adsl), allow_fill=True)
    return pd.Series(values, index=frame.index, name=frame["USUBJID"].name)


def _in_adsl(frame: pd.DataFrame, adsl: pd.DataFrame) -> pd.Series:
    return pd.Series(_positions(frame, adsl) >= 0, index=frame.index, name=frame["USUBJID"].name)


def _has(frame, *columns) -> bool:
    return frame is not None and all(c in frame.columns for c in columns)


def _orphans(data, labels, dataset):
    frame, adsl = data[dataset], data["adsl"]
    if not _has(frame, "USUBJID"):
        return
    bad = frame["USUBJID"].notna() & ~_in_adsl(frame, adsl)
    yield failures_table(labels[dataset], frame, bad, "USUBJID", "usubjid_in_adsl")


@_cross_rule("usubjid_in_adsl", adsl=("USUBJID",))
def usubjid_in_adsl(data, labels):
    """Every patient of ADRS, ADTTE and ADAE has an ADSL row."""
    for dataset in ("adrs", "adtte", "adae"):
        yield from _orphans(data, labels, dataset)


def _studyid_matches(data, labels, dataset):
    frame, adsl = data[dataset], data["adsl"]
    if not _has(frame, "USUBJID", "STUDYID"):
        return
    expected = _lookup(frame, adsl, "STUDYID")
    bad = expected.notna() & frame["STUDYID"].notna() & (frame["STUDYID"] != expected)
    yield failures_table(labels[dataset], frame, bad, "STUDYID", "studyid_matches_adsl")


@_cross_rule("studyid_matches_adsl", adsl=("USUBJID", "STUDYID"))
def studyid_matches_adsl(data, labels):
    """A patient's STUDYID is the same in every dataset."""
    for dataset in ("adrs", "adtte", "adae", "adds"):
        yield from _studyid_matches(data, labels, dataset)


@_cross_rule("response_only_if_evaluable", adsl=("USUBJID", "EFFFL"), adrs=("USUBJID",))
def response_only_if_evaluable(data, labels):
    """ADRS holds responses of efficacy-evaluable patients (EFFFL = Y) only."""
    adrs = data["adrs"]
    efffl = _lookup(adrs, data["adsl"], "EFFFL")
    yield failures_table(labels["adrs"], adrs, efffl == "N", "USUBJID", "response_only_if_evaluable")


@_cross_rule("evaluable_has_response", adsl=("USUBJID", "EFFFL"), adrs=("USUBJID",))
def evaluable_has_response(data, labels):
    """Every efficacy-evaluable patient has a best-overall-response row (reported on ADSL)."""
    adsl, adrs = data["adsl"], data["adrs"]
    bad = (adsl["EFFFL"] == "Y") & adsl["USUBJID"].notna() & ~adsl["USUBJID"].isin(adrs["USUBJID"])
    yield failures_table(labels["adsl"], adsl, bad, "USUBJID", "evaluable_has_response")


@_cross_rule("tte_only_if_safety", adsl=("USUBJID", "SAFFL"), adtte=("USUBJID",))
def tte_only_if_safety(data, labels):
    """ADTTE holds safety-population patients (SAFFL = Y) only."""
    adtte = data["adtte"]
    saffl = _lookup(adtte, data["adsl"], "SAFFL")
    yield failures_table(labels["adtte"], adtte, saffl == "N", "USUBJID", "tte_only_if_safety")


@_cross_rule("ae_only_if_safety", adsl=("USUBJID", "SAFFL"), adae=("USUBJID",))
def ae_only_if_safety(data, labels):
    """ADAE holds safety-population patients (SAFFL = Y) only."""
    adae = data["adae"]
    saffl = _lookup(adae, data["adsl"], "SAFFL")
    yield failures_table(labels["adae"], adae, saffl == "N", "USUBJID", "ae_only_if_safety")


@_cross_rule("safety_patient_has_os_and_pfs", adsl=("USUBJID", "SAFFL"), adtte=("USUBJID", "PARAMCD"))
def safety_patient_has_os_and_pfs(data, labels):
    """Every safety-population patient has an OS row and a PFS row (reported on ADSL)."""
    adsl, adtte = data["adsl"], data["adtte"]
    safety = (adsl["SAFFL"] == "Y") & adsl["USUBJID"].notna()
    has_os = adsl["USUBJID"].isin(adtte.loc[adtte["PARAMCD"] == "OS", "USUBJID"])
    has_pfs = adsl["USUBJID"].isin(adtte.loc[adtte["PARAMCD"] == "PFS", "USUBJID"])
    yield failures_table(labels["adsl"], adsl, safety & ~(has_os & has_pfs), "USUBJID", "safety_patient_has_os_and_pfs")


@_cross_rule("startdt_equals_trtsdt", adsl=("USUBJID", "TRTSDT"), adtte=("USUBJID", "STARTDT"))
def startdt_equals_trtsdt(data, labels):
    """ADTTE times start at the infusion: STARTDT = ADSL.TRTSDT."""
    adtte = data["adtte"]
    trtsdt = _lookup(adtte, data["adsl"], "TRTSDT")
    bad = _known(trtsdt, adtte["STARTDT"]) & (adtte["STARTDT"] != trtsdt)
    yield failures_table(labels["adtte"], adtte, bad, "STARTDT", "startdt_equals_trtsdt")


def _cutoff(adsl: pd.DataFrame):
    return _cutoff_of(adsl["DCUTDT"])


def _after_cutoff(data, labels, dataset, column, rule):
    cutoff = _cutoff(data["adsl"])
    if cutoff is None:
        return
    frame = data[dataset]
    if not _has(frame, column):
        return
    bad = frame[column].notna() & (frame[column] > cutoff)
    yield failures_table(labels[dataset], frame, bad, column, rule)


@_cross_rule("adt_not_after_cutoff", adsl=("DCUTDT",))
def adt_not_after_cutoff(data, labels):
    """Response assessments and event/censoring dates are not after the data cutoff (ADSL.DCUTDT)."""
    yield from _after_cutoff(data, labels, "adrs", "ADT", "adt_not_after_cutoff")
    yield from _after_cutoff(data, labels, "adtte", "ADT", "adt_not_after_cutoff")


@_cross_rule("astdt_not_after_cutoff", adsl=("DCUTDT",), adae=("ASTDT",))
def astdt_not_after_cutoff(data, labels):
    """An adverse event's onset is not after the data cutoff."""
    yield from _after_cutoff(data, labels, "adae", "ASTDT", "astdt_not_after_cutoff")


@_cross_rule("aendt_not_after_cutoff", adsl=("DCUTDT",), adae=("AENDT",))
def aendt_not_after_cutoff(data, labels):
    """An adverse event's resolution is not after the data cutoff."""
    yield from _after_cutoff(data, labels, "adae", "AENDT", "aendt_not_after_cutoff")


@_cross_rule("adt_after_trtsdt", adsl=("USUBJID", "TRTSDT"), adrs=("USUBJID", "ADT"))
def adt_after_trtsdt(data, labels):
    """A response is assessed after the infusion (ADRS.ADT > TRTSDT)."""
    adrs = data["adrs"]
    trtsdt = _lookup(adrs, data["adsl"], "TRTSDT")
    bad = _known(trtsdt, adrs["ADT"]) & (adrs["ADT"] <= trtsdt)
    yield failures_table(labels["adrs"], adrs, bad, "ADT", "adt_after_trtsdt")


@_cross_rule("astdt_not_before_trtsdt", adsl=("USUBJID", "TRTSDT"), adae=("USUBJID", "ASTDT"))
def astdt_not_before_trtsdt(data, labels):
    """CRS/ICANS start on or after the infusion day."""
    adae = data["adae"]
    trtsdt = _lookup(adae, data["adsl"], "TRTSDT")
    bad = _known(trtsdt, adae["ASTDT"]) & (adae["ASTDT"] < trtsdt)
    yield failures_table(labels["adae"], adae, bad, "ASTDT", "astdt_not_before_trtsdt")


@_cross_rule(
    "astdy_equals_astdt_minus_trtsdt_plus_1",
    adsl=("USUBJID", "TRTSDT"),
    adae=("USUBJID", "ASTDT", "ASTDY"),
)
def astdy_equals_astdt_minus_trtsdt_plus_1(data, labels):
    """ADaM study day of onset: ASTDY = ASTDT - TRTSDT + 1 (day 1 = infusion day)."""
    adae = data["adae"]
    trtsdt = _lookup(adae, data["adsl"], "TRTSDT")
    expected = _days(adae["ASTDT"], trtsdt) + 1
    bad = _known(expected, adae["ASTDY"]) & (adae["ASTDY"] != expected)
    yield failures_table(labels["adae"], adae, bad, "ASTDY", "astdy_equals_astdt_minus_trtsdt_plus_1")


@_cross_rule("grade5_requires_death", adsl=("USUBJID", "DTHFL"), adae=("USUBJID", "AETOXGR"))
def grade5_requires_death(data, labels):
    """A grade-5 (fatal) CRS or ICANS belongs to a patient who died (DTHFL = Y)."""
    adae = data["adae"]
    dthfl = _lookup(adae, data["adsl"], "DTHFL")
    bad = (adae["AETOXGR"] == 5).fillna(False) & (dthfl == "N")
    yield failures_table(labels["adae"], adae, bad, "AETOXGR", "grade5_requires_death")


def _not_after_alive(data, labels, dataset, column, rule, rows=None):
    """``column`` of ``dataset`` (where ``rows``) is not after the patient's last date known alive.

    Why: a response assessment, a transplant, an adverse-event onset or a relapse are all dates the
    patient was alive; one later than LSTALVDT (and so, for a patient who died, possibly after the
    death) contradicts the record.
    """
    frame = data[dataset]
    if not _has(frame, "USUBJID", column):
        return
    lstalvdt = _lookup(frame, data["adsl"], "LSTALVDT")
    bad = _known(lstalvdt, frame[column]) & (frame[column] > lstalvdt)
    cutoff = _cutoff(data["adsl"]) if "DCUTDT" in data["adsl"].columns else None
    if cutoff is not None:
        bad &= ~(frame[column] > cutoff).fillna(False)  # after the cutoff: reported as that, once
    if rows is not None:
        bad &= rows.fillna(False).astype(bool)
    yield failures_table(labels[dataset], frame, bad, column, rule)


@_cross_rule("adt_not_after_lstalvdt", adsl=("USUBJID", "LSTALVDT"), adrs=("USUBJID", "ADT"))
def adt_not_after_lstalvdt(data, labels):
    """A response is assessed while the patient is known alive (ADRS.ADT <= LSTALVDT)."""
    yield from _not_after_alive(data, labels, "adrs", "ADT", "adt_not_after_lstalvdt")


@_cross_rule("astdt_not_after_lstalvdt", adsl=("USUBJID", "LSTALVDT"), adae=("USUBJID", "ASTDT"))
def astdt_not_after_lstalvdt(data, labels):
    """An adverse event starts while the patient is known alive (ASTDT <= LSTALVDT)."""
    yield from _not_after_alive(data, labels, "adae", "ASTDT", "astdt_not_after_lstalvdt")


@_cross_rule("aendt_not_after_dthdt", adsl=("USUBJID", "DTHDT"), adae=("USUBJID", "AENDT"))
def aendt_not_after_dthdt(data, labels):
    """An adverse event does not resolve after the patient's death (AENDT <= DTHDT)."""
    adae = data["adae"]
    dthdt = _lookup(adae, data["adsl"], "DTHDT")
    bad = _known(dthdt, adae["AENDT"]) & (adae["AENDT"] > dthdt)
    yield failures_table(labels["adae"], adae, bad, "AENDT", "aendt_not_after_dthdt")


def _tte(adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """The ``paramcd`` rows of ADTTE, one per patient (first if duplicated), keeping row labels."""

    def compute():
        rows = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].notna()]
        return rows[~rows["USUBJID"].duplicated(keep="first")]

    return _shared((adtte, paramcd), compute)


@_cross_rule("pfs_not_after_os", adtte=("USUBJID", "PARAMCD", "AVAL"))
def pfs_not_after_os(data, labels):
    """A patient's PFS time is not longer than the OS time (reported on the PFS row)."""
    adtte = data["adtte"]
    pfs = _tte(adtte, "PFS")
    os_aval = pfs["USUBJID"].map(_tte(adtte, "OS").set_index("USUBJID")["AVAL"])
    bad = _known(os_aval, pfs["AVAL"]) & (pfs["AVAL"].astype("Int64") > os_aval.astype("Int64"))
    yield failures_table(labels["adtte"], adtte, _mask_on(adtte, pfs, bad), "AVAL", "pfs_not_after_os")


def _os_with_adsl(data, *columns):
    adtte = data["adtte"]
    os_rows = _tte(adtte, "OS")
    looked = {c: _lookup(os_rows, data["adsl"], c) for c in columns}
    return adtte, os_rows, looked


def _mask_on(adtte, rows, bad):
    """A mask over all of ADTTE that is True on the failing ``rows``."""
    mask = pd.Series(False, index=adtte.index)
    mask[rows.index[_fails(pd.Series(bad, index=rows.index)).to_numpy()]] = True
    return mask


@_cross_rule("os_event_iff_death", adsl=("USUBJID", "DTHFL"), adtte=("USUBJID", "PARAMCD", "CNSR"))
def os_event_iff_death(data, labels):
    """A patient died (DTHFL = Y) exactly when the OS row is an event (CNSR = 0)."""
    adtte, os_rows, adsl = _os_with_adsl(data, "DTHFL")
    dthfl, cnsr = adsl["DTHFL"], os_rows["CNSR"]
    bad = ((dthfl == "Y") & (cnsr == 1)) | ((dthfl == "N") & (cnsr == 0))
    yield failures_table(labels["adtte"], adtte, _mask_on(adtte, os_rows, bad), "CNSR", "os_event_iff_death")


@_cross_rule("os_adt_equals_dthdt", adsl=("USUBJID", "DTHDT"), adtte=("USUBJID", "PARAMCD", "CNSR", "ADT"))
def os_adt_equals_dthdt(data, labels):
    """An OS event happens on the death date: OS ADT = ADSL.DTHDT."""
    adtte, os_rows, adsl = _os_with_adsl(data, "DTHDT")
    dthdt = adsl["DTHDT"]
    bad = (os_rows["CNSR"] == 0) & _known(dthdt, os_rows["ADT"]) & (os_rows["ADT"] != dthdt)
    yield failures_table(labels["adtte"], adtte, _mask_on(adtte, os_rows, bad), "ADT", "os_adt_equals_dthdt")


@_cross_rule(
    "censored_os_adt_equals_lstalvdt",
    adsl=("USUBJID", "LSTALVDT"),
    adtte=("USUBJID", "PARAMCD", "CNSR", "ADT"),
)
def censored_os_adt_equals_lstalvdt(data, labels):
    """Censored OS is censored on the last date known alive: OS ADT = ADSL.LSTALVDT."""
    adtte, os_rows, adsl = _os_with_adsl(data, "LSTALVDT")
    lstalvdt = adsl["LSTALVDT"]
    bad = (os_rows["CNSR"] == 1) & _known(lstalvdt, os_rows["ADT"]) & (os_rows["ADT"] != lstalvdt)
    yield failures_table(
        labels["adtte"], adtte, _mask_on(adtte, os_rows, bad), "ADT", "censored_os_adt_equals_lstalvdt"
    )


@_cross_rule(
    "pfs_death_requires_dthfl",
    adsl=("USUBJID", "DTHFL"),
    adtte=("USUBJID", "PARAMCD", "CNSR", "EVNTDESC"),
)
def pfs_death_requires_dthfl(data, labels):
    """A PFS event described as DEATH belongs to a patient who died (DTHFL = Y)."""
    adtte = data["adtte"]
    dthfl = _lookup(adtte, data["adsl"], "DTHFL")
    death = (adtte["PARAMCD"] == "PFS") & (adtte["CNSR"] == 0) & (adtte["EVNTDESC"] == DEATH)
    bad = death.fillna(False) & (dthfl == "N")
    yield failures_table(labels["adtte"], adtte, bad, "EVNTDESC", "pfs_death_requires_dthfl")


# ------------------------------------------------------------------------------------------
# disposition (ADDS), causes of death and GVHD (optional variables: skipped when absent)
# ------------------------------------------------------------------------------------------
@_cross_rule("adds_infused_iff_in_adsl", adsl=("USUBJID",), adds=("USUBJID", "INFFL"))
def adds_infused_iff_in_adsl(data, labels):
    """An enrolled patient is infused (ADDS INFFL = Y) exactly when ADSL has the patient."""
    adds = data["adds"]
    in_adsl = adds["USUBJID"].isin(data["adsl"]["USUBJID"].dropna())
    bad = adds["USUBJID"].notna() & (((adds["INFFL"] == "Y") & ~in_adsl) | ((adds["INFFL"] == "N") & in_adsl))
    yield failures_table(labels["adds"], adds, bad, "INFFL", "adds_infused_iff_in_adsl")


@_cross_rule("adsl_patient_in_adds", adsl=("USUBJID",), adds=("USUBJID",))
def adsl_patient_in_adds(data, labels):
    """Every infused patient of ADSL is one of ADDS's enrolled patients (reported on ADSL)."""
    adsl = data["adsl"]
    bad = adsl["USUBJID"].notna() & ~adsl["USUBJID"].isin(data["adds"]["USUBJID"].dropna())
    yield failures_table(labels["adsl"], adsl, bad, "USUBJID", "adsl_patient_in_adds")


@_cross_rule("gvhd_requires_transplant", adsl=("USUBJID", "HCTFL", "PRIORHCT"), adae=("USUBJID", "AECAT"))
def gvhd_requires_transplant(data, labels):
    """GVHD belongs to a patient transplanted before (PRIORHCT > 0) or after (HCTFL = Y) CAR-T."""
    adae = data["adae"]
    hctfl = _lookup(adae, data["adsl"], "HCTFL")
    prior = pd.to_numeric(_lookup(adae, data["adsl"], "PRIORHCT"), errors="coerce")
    bad = (adae["AECAT"] == "GVHD").fillna(False) & (hctfl == "N") & (prior == 0)
    yield failures_table(labels["adae"], adae, bad, "AECAT", "gvhd_requires_transplant")


@_cross_rule("gvhd_not_before_transplant", adsl=("USUBJID", "HCTDT", "PRIORHCT"), adae=("USUBJID", "AECAT", "ASTDT"))
def gvhd_not_before_transplant(data, labels):
    """GVHD of a patient without a transplant before CAR-T starts after the transplant after it."""
    adae = data["adae"]
    hctdt = _lookup(adae, data["adsl"], "HCTDT")
    prior = pd.to_numeric(_lookup(adae, data["adsl"], "PRIORHCT"), errors="coerce")
    bad = (adae["AECAT"] == "GVHD").fillna(False) & (prior == 0) & _known(hctdt, adae["ASTDT"]) & (adae["ASTDT"] <= hctdt)
    yield failures_table(labels["adae"], adae, bad, "ASTDT", "gvhd_not_before_transplant")


@_cross_rule("dthcaus_relapse_requires_relapse", adsl=("USUBJID", "DTHCAUS"),
             adtte=("USUBJID", "PARAMCD", "CNSR", "EVNTDESC"))
def dthcaus_relapse_requires_relapse(data, labels):
    """A death from relapse or progression (DTHCAUS) follows a PFS event RELAPSE OR PROGRESSION
    (reported on ADSL)."""
    adsl, adtte = data["adsl"], data["adtte"]
    relapsed = adtte.loc[(adtte["PARAMCD"] == "PFS") & (adtte["CNSR"] == 0)
                         & (adtte["EVNTDESC"] == RELAPSE), "USUBJID"]
    has_pfs = adsl["USUBJID"].isin(adtte.loc[adtte["PARAMCD"] == "PFS", "USUBJID"])
    bad = (adsl["DTHCAUS"] == RELAPSE).fillna(False) & has_pfs & ~adsl["USUBJID"].isin(relapsed)
    yield failures_table(labels["adsl"], adsl, bad, "DTHCAUS", "dthcaus_relapse_requires_relapse")


def run_cross_rules(frames, files: Mapping[str, str] | None = None, rules=None) -> pd.DataFrame:
    """Run ``rules`` (default: all of :data:`CROSS_RULES`) and return all failures in one table."""
    selected = CROSS_RULES.values() if rules is None else [CROSS_RULES[r] if isinstance(r, str) else r for r in rules]
    token = _SHARED.set({})
    try:
        parts = [rule(frames, files) for rule in selected]
    finally:
        _SHARED.reset(token)
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    return pd.concat(parts, ignore_index=True)

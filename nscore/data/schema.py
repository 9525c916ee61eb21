"""The data model of the four ADaM-style datasets, as pandera schemas plus cross-dataset rules.

One ``DataFrameModel`` per dataset (ADSL, ADRS, ADTTE, ADAE and the optional ADDS) holds the rules that one file can
check on its own: types, controlled terms, ranges, and row-wise rules across columns as named
``@pa.dataframe_check`` methods, so a failure names the rule. Rules that need two datasets (an
ADTTE row against its patient's ADSL row, say) are plain functions registered in
:data:`nscore.data.crossrules.CROSS_RULES`; each takes the cohort's frames and returns its failing rows as a table with
the columns of :class:`nscore.errors.DataValidationError` (file, row, column, rule, value).

The schemas describe *typed* frames as :func:`nscore.data.load.read_dataset` returns them: strings as
``str`` (object dtype, missing = NaN), dates as ``datetime64[ns]`` at midnight, integers as
``int64`` (``Int64`` where a value may be missing), floats as ``float64``.

Notes
-----
Row-wise rules pass when an input they compare is missing or unparseable: that problem is reported
once, by the rule that owns it (``not_null``, ``invalid_date``, ...), not again by every rule that
reads the value. ``*_present_iff_*`` rules are the exception, since missingness is what they check.

One module (about 620 lines) because it is one thing: the five schemas of the data model, side by
side as ``data/README.md`` documents them.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

__all__ = [
    "SEXES",
    "YN",
    "OPTIONAL",
    "RESPONSE_CODES",
    "MRD_STATUSES",
    "TTE_PARAMS",
    "DEATH",
    "RELAPSE",
    "ALIVE",
    "EVENT_DESCRIPTIONS",
    "CENSOR_DESCRIPTIONS",
    "AE_TERMS",
    "AE_CATEGORIES",
    "TREATMENT_CATEGORIES",
    "DEATH_CAUSES",
    "DISEASE_STATUSES",
    "DISPOSITION_REASONS",
    "ADSL",
    "ADRS",
    "ADTTE",
    "ADAE",
    "ADDS",
    "MODELS",
    "DATASETS",
    "ROW_RULES",
    "column_kinds",
    "validation_schema",
    "check_rule_name",
    "expected",
    "cell_text",
]

SEXES = ("M", "F")
YN = ("Y", "N")
#: Best overall response: AVALC -> AVAL.
RESPONSE_CODES = {"CR": 1, "CRi": 2, "PR": 3, "NR": 4, "NE": 5}
MRD_STATUSES = ("NEGATIVE", "POSITIVE")
#: Time-to-event parameters: PARAMCD -> PARAM.
TTE_PARAMS = {"OS": "Overall survival (days)", "PFS": "Progression-free survival (days)"}
#: ADTTE event and censoring descriptions (EVNTDESC, CNSDTDSC): the one home of these terms.
DEATH = "DEATH"
RELAPSE = "RELAPSE OR PROGRESSION"
ALIVE = "ALIVE AT LAST CONTACT"
EVENT_DESCRIPTIONS = (DEATH, RELAPSE)
CENSOR_DESCRIPTIONS = (ALIVE,)
#: Adverse-event categories (AECAT) and the terms (AEDECOD) each allows, in the order tables show
#: them. CRS, ICANS and IEC-HS are graded by the ASTCT consensus (IEC-HS: ASTCT 2023), cytopenias,
#: infections and GVHD by CTCAE v5.0; a study collects the categories its ``adverse_events`` lists.
#: ``None``: any non-empty term (infections are delivered as MedDRA preferred terms, too many to list).
AE_TERMS: dict[str, tuple[str, ...] | None] = {
    "CRS": ("Cytokine release syndrome",),
    "ICANS": ("Immune effector cell-associated neurotoxicity syndrome",),
    "CYTOPENIA": ("Neutrophil count decreased", "Platelet count decreased", "Anemia"),
    "INFECTION": None,
    "IEC-HS": ("Immune effector cell-associated HLH-like syndrome",),
    "GVHD": ("Acute graft versus host disease", "Chronic graft versus host disease"),
}
AE_CATEGORIES: tuple[str, ...] = tuple(AE_TERMS)
#: The categories whose rows may carry the treatment flags TOCIFL and STERFL.
TREATMENT_CATEGORIES = ("CRS", "ICANS")
#: ADSL DTHCAUS: the primary cause of death, one of these (empty for a death: cause unknown).
DEATH_CAUSES = ("RELAPSE OR PROGRESSION", "INFECTION", "GVHD", "CRS", "ICANS", "IEC-HS", "OTHER")
#: ADSL DISSTAT: disease status at infusion.
DISEASE_STATUSES = ("Relapsed", "Refractory", "MRD-positive CR")
#: ADDS DSREAS: why an enrolled patient was not infused.
DISPOSITION_REASONS = ("INELIGIBLE", "WITHDRAWAL BY PATIENT", "DISEASE PROGRESSION", "DEATH",
                       "MANUFACTURING FAILURE", "ADVERSE EVENT", "OTHER")

#: Variables a delivery may leave out (not collected); every other column of a model is required.
#: HCTFL and HCTDT come together. Absent means "not collected", never "none".
OPTIONAL: dict[str, frozenset[str]] = {
    "adsl": frozenset({"SUBJID", "AGE", "SEX", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DOSEKG",
                       "HCTFL", "HCTDT", "DTHCAUS", "PRLINES", "DISSTAT", "EMDFL", "CNSFL", "HCTRELDY"}),
    "adrs": frozenset({"MRDSTAT"}),
    "adtte": frozenset(),
    "adae": frozenset({"TOCIFL", "STERFL"}),
    "adds": frozenset({"APHFL", "MFGFL"}),
}
#: Optional variables that only make sense together: either all present or all absent.
OPTIONAL_PAIRS: dict[str, tuple[tuple[str, ...], ...]] = {
    "adsl": (("HCTFL", "HCTDT"), ("BMINV", "BMBLAST"), ("DOSELVL", "DOSEKG")),
    "adae": (("TOCIFL", "STERFL"),),
    "adds": (("APHFL", "MFGFL"),),
}


# --------------------------------------------------------------------------------------------
# helpers for row-wise rules: "unknown" (a missing or unparseable input) passes
# --------------------------------------------------------------------------------------------
def _passes(mask) -> pd.Series:
    """A rule's verdict as plain bools, with unknown (NA) counted as a pass."""
    return pd.Series(mask).astype("boolean").fillna(True).astype(bool)


def _fails(mask) -> pd.Series:
    """A failure mask as plain bools, with unknown (NA) counted as not failing."""
    return pd.Series(mask).astype("boolean").fillna(False).astype(bool)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days between two date columns, as nullable integers."""
    return (later - earlier).dt.days.astype("Int64")


def _known(*series: pd.Series) -> pd.Series:
    out = pd.Series(True, index=series[0].index)
    for s in series:
        out &= s.notna()
    return out


def _present_iff(value: pd.Series, flag: pd.Series, when: str = "Y", valid=YN) -> pd.Series:
    """``value`` present exactly when ``flag == when``; rows with an invalid flag are skipped."""
    checked = flag.isin(valid)
    return _passes(~checked | (value.notna() == (flag == when)))


def _before(a: pd.Series, b: pd.Series, strict: bool = False) -> pd.Series:
    """``a < b`` (strict) or ``a <= b``; passes when either side is missing."""
    ok = (a < b) if strict else (a <= b)
    return _passes(~_known(a, b) | ok)


def _duplicated(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Every row sharing its key with another row (rows with a missing key are not compared)."""
    known = df[keys].notna().all(axis=1)
    return (df[keys].duplicated(keep=False) & known).astype(bool)


def _cutoff_of(dcutdt: pd.Series):
    """The cohort's cutoff: the most frequent DCUTDT (ties: the earliest), or None."""
    known = dcutdt.dropna()
    if known.empty:
        return None
    counts = known.value_counts()
    return min(counts.index[counts == counts.max()])


# --------------------------------------------------------------------------------------------
# the four models
# --------------------------------------------------------------------------------------------
class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class ADSL(_Base):
    """Subject level: one row per infused patient."""

    STUDYID: Series[str]
    USUBJID: Series[str] = pa.Field(unique=True)
    SUBJID: Series[str]
    AGE: Series[int] = pa.Field(in_range={"min_value": 0, "max_value": 100})
    SEX: Series[str] = pa.Field(isin=list(SEXES))
    DIAG: Series[str]
    PRIORHCT: Series[int] = pa.Field(in_range={"min_value": 0, "max_value": 3})
    PRLINES: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 20})
    DISSTAT: Series[str] = pa.Field(isin=list(DISEASE_STATUSES), nullable=True)
    EMDFL: Series[str] = pa.Field(isin=list(YN), nullable=True)
    CNSFL: Series[str] = pa.Field(isin=list(YN), nullable=True)
    HCTRELDY: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    BMINV: Series[str] = pa.Field(isin=list(YN), nullable=True)
    BMBLAST: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 100}, nullable=True)
    DOSELVL: Series[str] = pa.Field(str_length={"min_value": 1})
    DOSEKG: Series[float] = pa.Field(gt=0)
    TRTSDT: Series[pa.DateTime]
    SAFFL: Series[str] = pa.Field(isin=list(YN))
    EFFFL: Series[str] = pa.Field(isin=list(YN))
    HCTFL: Series[str] = pa.Field(isin=list(YN))
    HCTDT: Series[pa.DateTime] = pa.Field(nullable=True)
    DTHFL: Series[str] = pa.Field(isin=list(YN))
    DTHDT: Series[pa.DateTime] = pa.Field(nullable=True)
    DTHCAUS: Series[str] = pa.Field(isin=list(DEATH_CAUSES), nullable=True)
    LSTALVDT: Series[pa.DateTime]
    DCUTDT: Series[pa.DateTime]

    @pa.check("DOSEKG", name="dosekg_finite")
    def dosekg_finite(cls, s: Series) -> Series[bool]:
        return _passes(s.isna() | np.isfinite(s))

    @pa.dataframe_check(name="usubjid_is_studyid_subjid")
    def usubjid_is_studyid_subjid(cls, df: pd.DataFrame) -> Series[bool]:
        known = _known(df["STUDYID"], df["SUBJID"], df["USUBJID"])
        expected = df["STUDYID"].where(known, "") + "-" + df["SUBJID"].where(known, "")
        return _passes(~known | (df["USUBJID"] == expected))

    @pa.dataframe_check(name="bmblast_present_iff_marrow_involved")
    def bmblast_present_iff_marrow_involved(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["BMBLAST"], df["BMINV"])

    @pa.dataframe_check(name="efffl_requires_saffl")
    def efffl_requires_saffl(cls, df: pd.DataFrame) -> Series[bool]:
        return _passes(~((df["EFFFL"] == "Y") & (df["SAFFL"] == "N")))

    @pa.dataframe_check(name="hctdt_present_iff_hctfl")
    def hctdt_present_iff_hctfl(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["HCTDT"], df["HCTFL"])

    @pa.dataframe_check(name="hctdt_after_trtsdt")
    def hctdt_after_trtsdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["TRTSDT"], df["HCTDT"], strict=True)

    @pa.dataframe_check(name="dthdt_present_iff_dthfl")
    def dthdt_present_iff_dthfl(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["DTHDT"], df["DTHFL"])

    @pa.dataframe_check(name="dthdt_after_trtsdt")
    def dthdt_after_trtsdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["TRTSDT"], df["DTHDT"], strict=True)

    @pa.dataframe_check(name="hctreldy_only_after_prior_hct")
    def hctreldy_only_after_prior_hct(cls, df: pd.DataFrame) -> Series[bool]:
        return _passes(~(df["HCTRELDY"].notna() & (df["PRIORHCT"] == 0)))

    @pa.dataframe_check(name="dthcaus_only_if_dead")
    def dthcaus_only_if_dead(cls, df: pd.DataFrame) -> Series[bool]:
        return _passes(~(df["DTHCAUS"].notna() & (df["DTHFL"] == "N")))

    @pa.dataframe_check(name="dthcaus_gvhd_requires_transplant")
    def dthcaus_gvhd_requires_transplant(cls, df: pd.DataFrame) -> Series[bool]:
        known = df["HCTFL"].isin(YN) & df["PRIORHCT"].notna()
        transplanted = (df["HCTFL"] == "Y") | (df["PRIORHCT"] > 0).fillna(False)
        return _passes(~((df["DTHCAUS"] == "GVHD") & known & ~transplanted))

    @pa.dataframe_check(name="lstalvdt_not_before_trtsdt")
    def lstalvdt_not_before_trtsdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["TRTSDT"], df["LSTALVDT"])

    @pa.dataframe_check(name="lstalvdt_not_after_dthdt")
    def lstalvdt_not_after_dthdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["LSTALVDT"], df["DTHDT"])

    @pa.dataframe_check(name="hctdt_not_after_lstalvdt")
    def hctdt_not_after_lstalvdt(cls, df: pd.DataFrame) -> Series[bool]:
        # a transplant after the cutoff is reported once, by hctdt_not_after_cutoff
        late = (df["HCTDT"] > df["DCUTDT"]).fillna(False) if "DCUTDT" in df.columns else False
        return _before(df["HCTDT"], df["LSTALVDT"]) | late

    @pa.dataframe_check(name="dcutdt_constant")
    def dcutdt_constant(cls, df: pd.DataFrame) -> Series[bool]:
        cutoff = _cutoff_of(df["DCUTDT"])
        return _passes(df["DCUTDT"].isna() | (df["DCUTDT"] == cutoff))

    @pa.dataframe_check(name="trtsdt_not_after_cutoff")
    def trtsdt_not_after_cutoff(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["TRTSDT"], df["DCUTDT"])

    @pa.dataframe_check(name="hctdt_not_after_cutoff")
    def hctdt_not_after_cutoff(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["HCTDT"], df["DCUTDT"])

    @pa.dataframe_check(name="dthdt_not_after_cutoff")
    def dthdt_not_after_cutoff(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["DTHDT"], df["DCUTDT"])

    @pa.dataframe_check(name="lstalvdt_not_after_cutoff")
    def lstalvdt_not_after_cutoff(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["LSTALVDT"], df["DCUTDT"])


class ADRS(_Base):
    """Best overall response: one row per efficacy-evaluable patient."""

    STUDYID: Series[str]
    USUBJID: Series[str] = pa.Field(unique=True)
    PARAMCD: Series[str] = pa.Field(isin=["BOR"])
    PARAM: Series[str] = pa.Field(isin=["Best overall response"])
    AVALC: Series[str] = pa.Field(isin=list(RESPONSE_CODES))
    AVAL: Series[int] = pa.Field(isin=list(RESPONSE_CODES.values()))
    ADT: Series[pa.DateTime] = pa.Field(nullable=True)
    MRDSTAT: Series[str] = pa.Field(isin=list(MRD_STATUSES), nullable=True)

    @pa.dataframe_check(name="aval_matches_avalc")
    def aval_matches_avalc(cls, df: pd.DataFrame) -> Series[bool]:
        expected = df["AVALC"].map(RESPONSE_CODES).astype("Int64")
        return _passes(expected.isna() | df["AVAL"].isna() | (df["AVAL"] == expected))


class ADTTE(_Base):
    """Time to event: one OS and one PFS row per safety-population patient."""

    STUDYID: Series[str]
    USUBJID: Series[str]
    PARAMCD: Series[str] = pa.Field(isin=list(TTE_PARAMS))
    PARAM: Series[str] = pa.Field(isin=list(TTE_PARAMS.values()))
    STARTDT: Series[pa.DateTime]
    ADT: Series[pa.DateTime]
    AVAL: Series[int] = pa.Field(ge=0)
    CNSR: Series[int] = pa.Field(isin=[0, 1])
    EVNTDESC: Series[str] = pa.Field(isin=list(EVENT_DESCRIPTIONS), nullable=True)
    CNSDTDSC: Series[str] = pa.Field(isin=list(CENSOR_DESCRIPTIONS), nullable=True)

    @pa.dataframe_check(name="param_matches_paramcd")
    def param_matches_paramcd(cls, df: pd.DataFrame) -> Series[bool]:
        expected = df["PARAMCD"].map(TTE_PARAMS)
        return _passes(expected.isna() | df["PARAM"].isna() | (df["PARAM"] == expected))

    @pa.dataframe_check(name="one_row_per_patient_and_param")
    def one_row_per_patient_and_param(cls, df: pd.DataFrame) -> Series[bool]:
        return ~_duplicated(df, ["USUBJID", "PARAMCD"])

    @pa.dataframe_check(name="adt_not_before_startdt")
    def adt_not_before_startdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["STARTDT"], df["ADT"])

    @pa.dataframe_check(name="aval_equals_adt_minus_startdt")
    def aval_equals_adt_minus_startdt(cls, df: pd.DataFrame) -> Series[bool]:
        days = _days(df["ADT"], df["STARTDT"])
        return _passes(days.isna() | df["AVAL"].isna() | (df["AVAL"] == days))

    @pa.dataframe_check(name="evntdesc_present_iff_event")
    def evntdesc_present_iff_event(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["EVNTDESC"], df["CNSR"], when=0, valid=[0, 1])

    @pa.dataframe_check(name="cnsdtdsc_present_iff_censored")
    def cnsdtdsc_present_iff_censored(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["CNSDTDSC"], df["CNSR"], when=1, valid=[0, 1])

    @pa.dataframe_check(name="os_event_is_death")
    def os_event_is_death(cls, df: pd.DataFrame) -> Series[bool]:
        os_event = (df["PARAMCD"] == "OS") & (df["CNSR"] == 0) & df["EVNTDESC"].notna()
        return _passes(~os_event | (df["EVNTDESC"] == DEATH))


class ADAE(_Base):
    """Adverse events of the collected categories: one row per patient and term, at the worst grade."""

    STUDYID: Series[str]
    USUBJID: Series[str]
    AECAT: Series[str] = pa.Field(isin=list(AE_TERMS))
    AEDECOD: Series[str] = pa.Field(str_length={"min_value": 1})
    AETOXGR: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 5})
    ASTDT: Series[pa.DateTime]
    ASTDY: Series[int] = pa.Field(ge=1)
    AENDT: Series[pa.DateTime] = pa.Field(nullable=True)
    ADURN: Series[pd.Int64Dtype] = pa.Field(ge=1, nullable=True)
    TOCIFL: Series[str] = pa.Field(isin=list(YN), nullable=True)
    STERFL: Series[str] = pa.Field(isin=list(YN), nullable=True)

    @pa.dataframe_check(name="aedecod_matches_aecat")
    def aedecod_matches_aecat(cls, df: pd.DataFrame) -> Series[bool]:
        ok = pd.Series(True, index=df.index)
        for category, terms in AE_TERMS.items():
            if terms is not None:
                rows = (df["AECAT"] == category).fillna(False).astype(bool)
                ok &= ~rows | df["AEDECOD"].isna() | df["AEDECOD"].isin(terms)
        return _passes(ok)

    @pa.dataframe_check(name="one_row_per_patient_and_syndrome")
    def one_row_per_patient_and_syndrome(cls, df: pd.DataFrame) -> Series[bool]:
        return ~_duplicated(df, ["USUBJID", "AECAT", "AEDECOD"])

    @pa.dataframe_check(name="treatment_only_for_crs_icans")
    def treatment_only_for_crs_icans(cls, df: pd.DataFrame) -> Series[bool]:
        other = df["AECAT"].notna() & ~df["AECAT"].isin(TREATMENT_CATEGORIES)
        return _passes(~(other & (df["TOCIFL"].notna() | df["STERFL"].notna())))

    @pa.dataframe_check(name="aendt_not_before_astdt")
    def aendt_not_before_astdt(cls, df: pd.DataFrame) -> Series[bool]:
        return _before(df["ASTDT"], df["AENDT"])

    @pa.dataframe_check(name="adurn_present_iff_aendt")
    def adurn_present_iff_aendt(cls, df: pd.DataFrame) -> Series[bool]:
        return _passes(df["ADURN"].isna() == df["AENDT"].isna())

    @pa.dataframe_check(name="adurn_equals_aendt_minus_astdt_plus_1")
    def adurn_equals_aendt_minus_astdt_plus_1(cls, df: pd.DataFrame) -> Series[bool]:
        days = _days(df["AENDT"], df["ASTDT"]) + 1
        return _passes(days.isna() | df["ADURN"].isna() | (df["ADURN"] == days))


class ADDS(_Base):
    """Disposition (optional): one row per enrolled patient, infused or not, for the CONSORT flow."""

    STUDYID: Series[str]
    USUBJID: Series[str] = pa.Field(unique=True)
    APHFL: Series[str] = pa.Field(isin=list(YN))
    MFGFL: Series[str] = pa.Field(isin=list(YN), nullable=True)
    INFFL: Series[str] = pa.Field(isin=list(YN))
    DSREAS: Series[str] = pa.Field(isin=list(DISPOSITION_REASONS), nullable=True)

    @pa.dataframe_check(name="mfgfl_present_iff_apheresis")
    def mfgfl_present_iff_apheresis(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["MFGFL"], df["APHFL"])

    @pa.dataframe_check(name="infused_requires_product")
    def infused_requires_product(cls, df: pd.DataFrame) -> Series[bool]:
        return _passes(~((df["INFFL"] == "Y") & ((df["APHFL"] == "N") | (df["MFGFL"] == "N"))))

    @pa.dataframe_check(name="dsreas_present_iff_not_infused")
    def dsreas_present_iff_not_infused(cls, df: pd.DataFrame) -> Series[bool]:
        return _present_iff(df["DSREAS"], df["INFFL"], when="N")


MODELS: dict[str, type[pa.DataFrameModel]] = {"adsl": ADSL, "adrs": ADRS, "adtte": ADTTE, "adae": ADAE,
                                               "adds": ADDS}
DATASETS: tuple[str, ...] = tuple(MODELS)

#: Row-wise rules (the models' dataframe checks): rule -> (column reported, columns it reads).
#: The reported column is the one a reader should look at first; a rule is skipped when a column it
#: reads is missing from the file (the missing column is reported instead).
ROW_RULES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "adsl": {
        "usubjid_is_studyid_subjid": ("USUBJID", ("STUDYID", "SUBJID", "USUBJID")),
        "bmblast_present_iff_marrow_involved": ("BMBLAST", ("BMBLAST", "BMINV")),
        "efffl_requires_saffl": ("EFFFL", ("EFFFL", "SAFFL")),
        "hctdt_present_iff_hctfl": ("HCTDT", ("HCTDT", "HCTFL")),
        "hctdt_after_trtsdt": ("HCTDT", ("HCTDT", "TRTSDT")),
        "dthdt_present_iff_dthfl": ("DTHDT", ("DTHDT", "DTHFL")),
        "dthdt_after_trtsdt": ("DTHDT", ("DTHDT", "TRTSDT")),
        "hctreldy_only_after_prior_hct": ("HCTRELDY", ("HCTRELDY", "PRIORHCT")),
        "dthcaus_only_if_dead": ("DTHCAUS", ("DTHCAUS", "DTHFL")),
        "dthcaus_gvhd_requires_transplant": ("DTHCAUS", ("DTHCAUS", "HCTFL", "PRIORHCT")),
        "lstalvdt_not_before_trtsdt": ("LSTALVDT", ("LSTALVDT", "TRTSDT")),
        "lstalvdt_not_after_dthdt": ("LSTALVDT", ("LSTALVDT", "DTHDT")),
        "hctdt_not_after_lstalvdt": ("HCTDT", ("HCTDT", "LSTALVDT", "DCUTDT")),
        "dcutdt_constant": ("DCUTDT", ("DCUTDT",)),
        "trtsdt_not_after_cutoff": ("TRTSDT", ("TRTSDT", "DCUTDT")),
        "hctdt_not_after_cutoff": ("HCTDT", ("HCTDT", "DCUTDT")),
        "dthdt_not_after_cutoff": ("DTHDT", ("DTHDT", "DCUTDT")),
        "lstalvdt_not_after_cutoff": ("LSTALVDT", ("LSTALVDT", "DCUTDT")),
    },
    "adrs": {
        "aval_matches_avalc": ("AVAL", ("AVAL", "AVALC")),
    },
    "adtte": {
        "param_matches_paramcd": ("PARAM", ("PARAM", "PARAMCD")),
        "one_row_per_patient_and_param": ("USUBJID", ("USUBJID", "PARAMCD")),
        "adt_not_before_startdt": ("ADT", ("ADT", "STARTDT")),
        "aval_equals_adt_minus_startdt": ("AVAL", ("AVAL", "ADT", "STARTDT")),
        "evntdesc_present_iff_event": ("EVNTDESC", ("EVNTDESC", "CNSR")),
        "cnsdtdsc_present_iff_censored": ("CNSDTDSC", ("CNSDTDSC", "CNSR")),
        "os_event_is_death": ("EVNTDESC", ("EVNTDESC", "CNSR", "PARAMCD")),
    },
    "adae": {
        "aedecod_matches_aecat": ("AEDECOD", ("AEDECOD", "AECAT")),
        "one_row_per_patient_and_syndrome": ("AECAT", ("USUBJID", "AECAT", "AEDECOD")),
        "treatment_only_for_crs_icans": ("TOCIFL", ("AECAT", "TOCIFL", "STERFL")),
        "aendt_not_before_astdt": ("AENDT", ("AENDT", "ASTDT")),
        "adurn_present_iff_aendt": ("ADURN", ("ADURN", "AENDT")),
        "adurn_equals_aendt_minus_astdt_plus_1": ("ADURN", ("ADURN", "AENDT", "ASTDT")),
    },
    "adds": {
        "mfgfl_present_iff_apheresis": ("MFGFL", ("MFGFL", "APHFL")),
        "infused_requires_product": ("INFFL", ("INFFL", "APHFL", "MFGFL")),
        "dsreas_present_iff_not_infused": ("DSREAS", ("DSREAS", "INFFL")),
    },
}


def column_kinds(dataset: str) -> dict[str, str]:
    """Each column of ``dataset`` in schema order with its kind: "str", "int", "float" or "date"."""
    kinds = {}
    for name, column in MODELS[dataset].to_schema().columns.items():
        text = str(column.dtype).lower()
        if "datetime" in text:
            kinds[name] = "date"
        elif "int" in text:
            kinds[name] = "int"
        elif "float" in text:
            kinds[name] = "float"
        else:
            kinds[name] = "str"
    return kinds


def study_checks(dataset: str, study) -> dict[str, list[pa.Check]]:
    """The column checks a study definition adds to ``dataset``: its trials, id patterns, diagnoses,
    dose levels, adverse-event categories and first infusion (see :mod:`nscore.data.study`)."""
    checks: dict[str, list[pa.Check]] = {
        "STUDYID": [pa.Check.isin(list(study.trial_ids))],
        "USUBJID": [pa.Check.str_matches(study.subject_id_pattern)],
    }
    if dataset == "adsl":
        if study.subject_number_pattern:
            checks["SUBJID"] = [pa.Check.str_matches(study.subject_number_pattern)]
        checks["DIAG"] = [pa.Check.isin(list(study.diagnosis_codes))]
        if study.dose_levels:
            checks["DOSELVL"] = [pa.Check.isin(list(study.dose_level_codes))]
        else:
            checks["DOSELVL"] = [pa.Check.str_length(min_value=1)]
        if study.first_infusion is not None:
            start = pd.Timestamp(study.first_infusion)
            checks["TRTSDT"] = [pa.Check(lambda s: _passes(s.isna() | (s >= start)),
                                         name="trtsdt_not_before_study_start")]
    if dataset == "adae":
        checks["AECAT"] = [pa.Check.isin([c for c in AE_TERMS if c in study.adverse_events])]
    return checks


def validation_schema(dataset: str, columns=None, study=None) -> pa.DataFrameSchema:
    """The schema used to validate a freshly read (possibly broken) file of ``dataset``.

    Same rules as the model plus those of ``study`` (:func:`study_checks`), but integer columns are
    nullable ``Int64`` (a missing or unparseable integer is then one ``not_null`` failure rather than
    a dtype failure of the whole column) and only the columns in ``columns`` (default: all) are
    checked, with the row rules whose inputs are all present.
    """
    schema = copy.deepcopy(MODELS[dataset].to_schema())
    present = set(schema.columns) if columns is None else set(columns)
    ints = {name: {"dtype": "Int64"} for name, kind in column_kinds(dataset).items() if kind == "int"}
    schema = schema.update_columns(ints)
    if study is not None:
        updates = {}
        for name, checks in study_checks(dataset, study).items():
            if name in schema.columns:
                updates[name] = {"checks": list(schema.columns[name].checks) + checks}
        schema = schema.update_columns(updates)
    # the loader has typed every cell already (reporting what it could not read): no coercion here
    schema = schema.update_columns({name: {"coerce": False} for name in schema.columns})
    schema.coerce = False
    schema = schema.remove_columns([c for c in schema.columns if c not in present])
    rules = ROW_RULES[dataset]
    schema.checks = [c for c in schema.checks if set(rules[c.name][1]) <= present]
    if study is not None and not study.usubjid_is_studyid_subjid:
        schema.checks = [c for c in schema.checks if c.name != "usubjid_is_studyid_subjid"]
    # Every row rule passes a row whose inputs are all missing (see the module notes), which is
    # all pandera's ``ignore_na`` adds, at the price of an isna() of the whole frame per rule.
    for check in schema.checks:
        check.ignore_na = False
    return schema


def expected(dataset: str, column: str, rule: str, study=None) -> str:
    """What ``rule`` allows in ``column`` of ``dataset``: the allowed values, pattern or range.

    Why: a failure summary that says "isin" is half an answer; a data manager fixing a delivery
    needs the controlled terms (from the study definition where the study sets them).
    """
    schema = validation_schema(dataset, study=study)
    if column not in schema.columns:
        return ""
    for check in schema.columns[column].checks:
        if check_rule_name(check.name) != rule:
            continue
        stats = check.statistics or {}
        if "allowed_values" in stats:
            return "one of " + ", ".join(str(v) for v in stats["allowed_values"])
        if "pattern" in stats:
            return f"matches {stats['pattern']}"
        if {"min_value", "max_value"} <= set(stats):
            return f"{stats['min_value']} to {stats['max_value']}"
        if "min_value" in stats:
            return f"{'>' if rule == 'gt' else '>='} {stats['min_value']}"
    return ""


_BUILTIN_RULES = {
    "not_nullable": "not_null",
    "field_uniqueness": "unique",
    "column_in_dataframe": "missing_column",
    "column_in_schema": "unexpected_column",
    "greater_than_or_equal_to": "ge",
    "greater_than": "gt",
    "less_than_or_equal_to": "le",
    "less_than": "lt",
    "dtype": "type",
    "coerce_dtype": "type",
}


def check_rule_name(check: str) -> str:
    """Stable rule name for a pandera check label: ``isin(['M', 'F'])`` -> ``isin``."""
    head = str(check).split("(", 1)[0]
    return _BUILTIN_RULES.get(head, head)


def cell_text(value) -> str:
    """A cell value as a reader would see it in the CSV."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a SAS/Parquet number 6.0 reads as the 6 it stands for
    return str(value)


"""The schemas themselves: every SPEC rule exists under a stable name, the models are strict, row
rules report a column, and cross-dataset rules compose (callable alone, on frames or a Cohort)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pandera.pandas as pa
import pytest

from nscore.data import crossrules, schema
from nscore.data.load import load_cohort

#: The rules of SPEC.md's data model, by the name a failure reports. Changing a name breaks the
#: contract with whoever reads the failure tables (CLI users, the update tests), hence this list.
SPEC_ROW_RULES = {
    "adsl": {
        "usubjid_is_studyid_subjid", "bmblast_present_iff_marrow_involved", "efffl_requires_saffl",
        "hctdt_present_iff_hctfl", "hctdt_after_trtsdt", "dthdt_present_iff_dthfl", "dthdt_after_trtsdt",
        "lstalvdt_not_before_trtsdt", "lstalvdt_not_after_dthdt", "hctdt_not_after_lstalvdt", "dcutdt_constant", "trtsdt_not_after_cutoff",
        "hctdt_not_after_cutoff", "dthdt_not_after_cutoff", "lstalvdt_not_after_cutoff",
        "dthcaus_only_if_dead", "dthcaus_gvhd_requires_transplant", "hctreldy_only_after_prior_hct",
    },
    "adrs": {"aval_matches_avalc"},
    "adtte": {
        "param_matches_paramcd", "one_row_per_patient_and_param", "adt_not_before_startdt",
        "aval_equals_adt_minus_startdt", "evntdesc_present_iff_event", "cnsdtdsc_present_iff_censored",
        "os_event_is_death",
    },
    "adae": {
        "aedecod_matches_aecat", "one_row_per_patient_and_syndrome", "aendt_not_before_astdt",
        "adurn_present_iff_aendt", "adurn_equals_aendt_minus_astdt_plus_1", "treatment_only_for_crs_icans",
    },
    "adds": {"mfgfl_present_iff_apheresis", "infused_requires_product", "dsreas_present_iff_not_infused"},
}
SPEC_CROSS_RULES = {
    "usubjid_in_adsl", "studyid_matches_adsl", "response_only_if_evaluable", "evaluable_has_response",
    "tte_only_if_safety", "ae_only_if_safety", "safety_patient_has_os_and_pfs", "startdt_equals_trtsdt",
    "adt_not_after_cutoff", "astdt_not_after_cutoff", "aendt_not_after_cutoff", "adt_after_trtsdt",
    "astdt_not_before_trtsdt", "astdy_equals_astdt_minus_trtsdt_plus_1", "grade5_requires_death",
    "adt_not_after_lstalvdt", "astdt_not_after_lstalvdt", "aendt_not_after_dthdt",
    "pfs_not_after_os", "os_event_iff_death", "os_adt_equals_dthdt", "censored_os_adt_equals_lstalvdt",
    "pfs_death_requires_dthfl", "adds_infused_iff_in_adsl", "adsl_patient_in_adds", "gvhd_requires_transplant",
    "gvhd_not_before_transplant", "dthcaus_relapse_requires_relapse",
}


@pytest.fixture(scope="module")
def frames(small_frames, tmp_path_factory):
    """Typed frames of the small simulated cohort, as load_cohort returns them."""
    from nscore.data.simulate import write_cohort

    directory = tmp_path_factory.mktemp("schema") / "cohort"
    write_cohort(small_frames, directory)
    return load_cohort(directory).frames


def test_study_start_is_the_first_infusion():
    """The abstract's observation period starts on November 9, 2020 (data/study.yml)."""
    from cohorts import ROOT
    from nscore.data.study import read_study

    assert read_study(ROOT / "data" / "study.yml").first_infusion == date(2020, 11, 9)


@pytest.mark.parametrize("dataset", schema.DATASETS)
def test_row_rules_are_named_dataframe_checks(dataset):
    model = schema.MODELS[dataset].to_schema()
    assert {c.name for c in model.checks} == set(schema.ROW_RULES[dataset]) == SPEC_ROW_RULES[dataset]
    for rule, (column, reads) in schema.ROW_RULES[dataset].items():
        assert column in model.columns and column in reads and set(reads) <= set(model.columns), rule


@pytest.mark.parametrize("dataset", schema.DATASETS)
def test_models_are_strict_and_coercing(dataset):
    model = schema.MODELS[dataset].to_schema()
    assert model.strict is True and model.coerce is True


def test_cross_rules_registry():
    assert set(crossrules.CROSS_RULES) == SPEC_CROSS_RULES
    for name, rule in crossrules.CROSS_RULES.items():
        assert rule.name == name and getattr(crossrules, name) is rule and rule.__doc__


def test_typed_frames_validate_against_models(frames):
    for name, frame in frames.items():
        schema.MODELS[name].validate(frame, lazy=True)


def test_model_reports_named_row_rule(frames):
    adsl = frames["adsl"].copy()
    i = adsl.index[adsl["BMINV"] == "Y"][0]
    adsl.loc[i, "BMBLAST"] = float("nan")
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.ADSL.validate(adsl, lazy=True)
    assert set(info.value.failure_cases["check"]) == {"bmblast_present_iff_marrow_involved"}
    assert set(info.value.failure_cases["index"]) == {i}


def test_model_is_strict_about_columns(frames):
    adrs = frames["adrs"].assign(EXTRA=1)
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.ADRS.validate(adrs, lazy=True)
    assert "column_in_schema" in set(info.value.failure_cases["check"])


def test_cross_rule_alone_on_frames_and_on_cohort(frames, valid_dir):
    assert crossrules.pfs_not_after_os(frames).empty
    assert crossrules.pfs_not_after_os(load_cohort(valid_dir)).empty
    broken = dict(frames)
    adtte = frames["adtte"].copy()
    pfs = adtte.index[adtte["PARAMCD"] == "PFS"][0]
    adtte.loc[pfs, "AVAL"] = 10**6
    broken["adtte"] = adtte
    failures = crossrules.pfs_not_after_os(broken, files={"adtte.xpt": None})
    assert failures.to_dict("records") == [
        {"file": "adtte.xpt", "row": pfs + 1, "column": "AVAL", "rule": "pfs_not_after_os", "value": "1000000"}
    ]


def test_cross_rules_compose(frames):
    broken = dict(frames)
    adae = frames["adae"].copy()
    adae.loc[0, "ASTDY"] = adae.loc[0, "ASTDY"] + 1
    adae.loc[1, "USUBJID"] = "NCT04572308-9999"
    broken["adae"] = adae
    picked = crossrules.run_cross_rules(broken, rules=["astdy_equals_astdt_minus_trtsdt_plus_1", crossrules.usubjid_in_adsl])
    assert sorted(zip(picked["rule"], picked["row"])) == [
        ("astdy_equals_astdt_minus_trtsdt_plus_1", 1),
        ("usubjid_in_adsl", 2),
    ]
    assert list(picked.columns) == ["file", "row", "column", "rule", "value"]


def test_cross_rules_skip_what_is_missing(frames):
    no_adtte = {k: v for k, v in frames.items() if k != "adtte"}
    assert crossrules.run_cross_rules(no_adtte).empty
    no_column = dict(frames, adsl=frames["adsl"].drop(columns=["DTHFL"]))
    assert crossrules.os_event_iff_death(no_column).empty
    assert not crossrules.os_event_iff_death.applicable(no_column)


def test_check_rule_names_are_stable():
    assert schema.check_rule_name("isin(['M', 'F'])") == "isin"
    assert schema.check_rule_name("in_range(1, 5)") == "in_range"
    assert schema.check_rule_name("not_nullable") == "not_null"
    assert schema.check_rule_name("field_uniqueness") == "unique"
    assert schema.check_rule_name("greater_than_or_equal_to(0)") == "ge"
    assert schema.check_rule_name("str_matches('^\\d{4}$')") == "str_matches"
    assert schema.check_rule_name("dcutdt_constant") == "dcutdt_constant"


def test_validation_schema_drops_missing_columns_and_their_rules():
    columns = [c for c in schema.column_kinds("adsl") if c != "BMINV"]
    reduced = schema.validation_schema("adsl", columns)
    assert "BMINV" not in reduced.columns
    assert "bmblast_present_iff_marrow_involved" not in {c.name for c in reduced.checks}
    assert str(reduced.columns["AGE"].dtype) == "Int64"


def test_dcutdt_constant_flags_the_odd_rows_out():
    dcut = pd.Series(pd.to_datetime(["2025-08-01", "2025-08-01", "2025-09-01"]))
    assert schema._cutoff_of(dcut) == pd.Timestamp("2025-08-01")

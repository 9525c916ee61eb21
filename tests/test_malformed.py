"""Malformed deliveries: each case breaks one thing in a valid simulated cohort and names exactly
what load_cohort must report (file, row, column, rule), no more and no less, so a rule that stops
firing, fires under another name, or drags a cascade of derived failures along is caught.

Rows are 1-based data rows of the file (header not counted); file-level problems have no row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import edit, failures_of, keys, read_cells, shift, write_cells
from nscore.errors import DataValidationError, NscoreError
from nscore.data.load import load_cohort


# --------------------------------------------------------------------------------------------
# small helpers to pick rows of the simulated cohort by what they hold
# --------------------------------------------------------------------------------------------
def first(frame: pd.DataFrame, mask) -> int:
    """Position of the first row where ``mask`` holds (fails the test if none does)."""
    hits = frame.index[pd.Series(mask, index=frame.index)]
    assert len(hits), "the simulated cohort has no row of the kind this case needs"
    return int(hits[0])


def row_of(directory: Path, dataset: str, **match) -> int:
    """1-based data row of the first row of ``dataset`` matching ``column=value`` pairs."""
    frame = read_cells(directory, dataset)
    mask = pd.Series(True, index=frame.index)
    for column, value in match.items():
        mask &= frame[column] == value
    return first(frame, mask) + 1


def adsl_patient(directory: Path, mask_fn) -> tuple[int, str]:
    """(ADSL row, USUBJID) of the first patient for whom ``mask_fn(adsl)`` holds."""
    adsl = read_cells(directory, "adsl")
    i = first(adsl, mask_fn(adsl))
    return i + 1, adsl.at[i, "USUBJID"]


def set_cell(directory: Path, dataset: str, row: int, column: str, value: str) -> None:
    def change(frame):
        frame.at[row - 1, column] = value

    edit(directory, dataset, change)


def append_copy(directory: Path, dataset: str, row: int, **changes) -> int:
    """Append a copy of ``row`` (with ``changes``); return the new row's number."""
    frame = read_cells(directory, dataset)
    new = frame.iloc[[row - 1]].copy()
    for column, value in changes.items():
        new[column] = value
    frame = pd.concat([frame, new], ignore_index=True)
    write_cells(directory, dataset, frame)
    return len(frame)


UNKNOWN_ID = "NCT04572308-9999"


# --------------------------------------------------------------------------------------------
# the cases: each mutates ``d`` and returns the exact set of (file, row, column, rule) expected
# --------------------------------------------------------------------------------------------
def missing_file(d):
    (d / "adae.csv").unlink()
    return {("adae.*", None, None, "missing_file")}


def empty_file(d):
    (d / "adrs.csv").write_bytes(b"")
    return {("adrs.csv", None, None, "empty_file")}


def missing_column(d):
    edit(d, "adsl", lambda f: f.drop(columns="TRTSDT", inplace=True))
    return {("adsl.csv", None, "TRTSDT", "missing_column")}


def half_of_an_optional_pair(d):
    # HCTFL without HCTDT: a transplant flag whose dates were not delivered cannot be analysed
    edit(d, "adsl", lambda f: f.drop(columns="HCTDT", inplace=True))
    return {("adsl.csv", None, "HCTDT", "optional_columns_together")}


def subject_id_in_full_width_digits(d):
    # "０００１" (U+FF10..) would match a \d pattern; the study's pattern says [0-9]
    def change(f):
        f.loc[0, "USUBJID"] = f.loc[0, "STUDYID"] + "-" + "\uff10\uff10\uff10\uff11"
    edit(d, "adrs", change)
    # the row no longer belongs to patient 0001, who is then evaluable without a response
    return {("adrs.csv", 1, "USUBJID", "str_matches"), ("adrs.csv", 1, "USUBJID", "usubjid_in_adsl"),
            ("adsl.csv", 1, "USUBJID", "evaluable_has_response")}


def wrong_type_integer(d):
    set_cell(d, "adsl", 3, "AGE", "twelve")
    return {("adsl.csv", 3, "AGE", "invalid_integer")}


def wrong_type_number(d):
    set_cell(d, "adsl", 4, "DOSEKG", "1e6 cells")
    return {("adsl.csv", 4, "DOSEKG", "invalid_number")}


def unparseable_date(d):
    set_cell(d, "adrs", 2, "ADT", "07/03/2021")
    return {("adrs.csv", 2, "ADT", "invalid_date")}


def impossible_date(d):
    row = row_of(d, "adsl", HCTFL="Y")
    set_cell(d, "adsl", row, "HCTDT", "2021-02-30")
    return {("adsl.csv", row, "HCTDT", "invalid_date")}


def duplicate_usubjid(d):
    new = append_copy(d, "adsl", 1)
    return {("adsl.csv", 1, "USUBJID", "unique"), ("adsl.csv", new, "USUBJID", "unique")}


def orphan_in_adtte(d):
    new = append_copy(d, "adtte", 1, USUBJID=UNKNOWN_ID)
    return {("adtte.csv", new, "USUBJID", "usubjid_in_adsl")}


def orphan_in_adrs(d):
    new = append_copy(d, "adrs", 1, USUBJID=UNKNOWN_ID)
    return {("adrs.csv", new, "USUBJID", "usubjid_in_adsl")}


def orphan_in_adae(d):
    new = append_copy(d, "adae", 1, USUBJID=UNKNOWN_ID)
    return {("adae.csv", new, "USUBJID", "usubjid_in_adsl")}


def pfs_after_os(d):
    # a patient who relapsed and then died: move the relapse to the day after death
    tte = read_cells(d, "adtte")
    relapsed = tte.loc[(tte["PARAMCD"] == "PFS") & (tte["EVNTDESC"] == "RELAPSE OR PROGRESSION"), "USUBJID"]
    died = tte.loc[(tte["PARAMCD"] == "OS") & (tte["CNSR"] == "0"), "USUBJID"]
    usubjid = sorted(set(relapsed) & set(died))[0]
    os_i = first(tte, (tte["USUBJID"] == usubjid) & (tte["PARAMCD"] == "OS"))
    pfs_i = first(tte, (tte["USUBJID"] == usubjid) & (tte["PARAMCD"] == "PFS"))
    tte.at[pfs_i, "ADT"] = shift(tte.at[os_i, "ADT"], 1)
    tte.at[pfs_i, "AVAL"] = str(int(tte.at[os_i, "AVAL"]) + 1)
    write_cells(d, "adtte", tte)
    return {("adtte.csv", pfs_i + 1, "AVAL", "pfs_not_after_os")}


def negative_aval(d):
    # PFS recorded 5 days before infusion, with AVAL consistent with the dates
    row = row_of(d, "adtte", PARAMCD="PFS")
    tte = read_cells(d, "adtte")
    tte.at[row - 1, "ADT"] = shift(tte.at[row - 1, "STARTDT"], -5)
    tte.at[row - 1, "AVAL"] = "-5"
    write_cells(d, "adtte", tte)
    return {("adtte.csv", row, "AVAL", "ge"), ("adtte.csv", row, "ADT", "adt_not_before_startdt")}


def aval_not_adt_minus_startdt(d):
    row = row_of(d, "adtte", PARAMCD="OS")
    edit(d, "adtte", lambda f: f.__setitem__("AVAL", [str(int(v) + 1) if i == row - 1 else v for i, v in enumerate(f["AVAL"])]))
    return {("adtte.csv", row, "AVAL", "aval_equals_adt_minus_startdt")}


def grade_6(d):
    set_cell(d, "adae", 2, "AETOXGR", "6")
    return {("adae.csv", 2, "AETOXGR", "in_range")}


def grade_0(d):
    set_cell(d, "adae", 3, "AETOXGR", "0")
    return {("adae.csv", 3, "AETOXGR", "in_range")}


def unknown_diagnosis(d):
    set_cell(d, "adsl", 5, "DIAG", "B-ALL")
    return {("adsl.csv", 5, "DIAG", "isin")}


def unknown_sex(d):
    set_cell(d, "adsl", 6, "SEX", "U")
    return {("adsl.csv", 6, "SEX", "isin")}


def missing_required_value(d):
    set_cell(d, "adsl", 7, "SEX", "")
    return {("adsl.csv", 7, "SEX", "not_null")}


def response_after_cutoff(d):
    set_cell(d, "adrs", 1, "ADT", "2025-08-02")
    return {("adrs.csv", 1, "ADT", "adt_not_after_cutoff")}


def ae_resolution_after_cutoff(d):
    adae = read_cells(d, "adae")
    i = first(adae, adae["AENDT"] != "")
    adae.at[i, "ADURN"] = str(int(adae.at[i, "ADURN"]) + (pd.Timestamp("2025-08-02") - pd.Timestamp(adae.at[i, "AENDT"])).days)
    adae.at[i, "AENDT"] = "2025-08-02"
    write_cells(d, "adae", adae)
    return {("adae.csv", i + 1, "AENDT", "aendt_not_after_cutoff")}


def transplant_after_cutoff(d):
    row = row_of(d, "adsl", HCTFL="Y")
    set_cell(d, "adsl", row, "HCTDT", "2025-08-02")
    return {("adsl.csv", row, "HCTDT", "hctdt_not_after_cutoff")}


def infusion_before_study_start(d):
    # move the first infused patient one day earlier, consistently in every dataset
    row, usubjid = adsl_patient(d, lambda f: f["TRTSDT"] == "2020-11-09")
    set_cell(d, "adsl", row, "TRTSDT", "2020-11-08")

    def tte(f):
        mine = f["USUBJID"] == usubjid
        f.loc[mine, "STARTDT"] = "2020-11-08"
        f.loc[mine, "AVAL"] = [str(int(v) + 1) for v in f.loc[mine, "AVAL"]]

    def ae(f):
        mine = f["USUBJID"] == usubjid
        f.loc[mine, "ASTDY"] = [str(int(v) + 1) for v in f.loc[mine, "ASTDY"]]

    edit(d, "adtte", tte)
    edit(d, "adae", ae)
    return {("adsl.csv", row, "TRTSDT", "trtsdt_not_before_study_start")}


def death_without_os_event(d):
    row, usubjid = adsl_patient(d, lambda f: (f["DTHFL"] == "N") & (f["LSTALVDT"] > f["TRTSDT"]))
    adsl = read_cells(d, "adsl")
    adsl.at[row - 1, "DTHFL"] = "Y"
    adsl.at[row - 1, "DTHDT"] = adsl.at[row - 1, "LSTALVDT"]
    write_cells(d, "adsl", adsl)
    return {("adtte.csv", row_of(d, "adtte", USUBJID=usubjid, PARAMCD="OS"), "CNSR", "os_event_iff_death")}


def os_event_without_death(d):
    tte = read_cells(d, "adtte")
    relapsed = set(tte.loc[(tte["PARAMCD"] == "PFS") & (tte["EVNTDESC"] == "RELAPSE OR PROGRESSION"), "USUBJID"])
    row, usubjid = adsl_patient(d, lambda f: (f["DTHFL"] == "Y") & f["USUBJID"].isin(relapsed))
    adsl = read_cells(d, "adsl")
    adsl.at[row - 1, "DTHFL"] = "N"
    adsl.at[row - 1, "DTHDT"] = ""
    if "DTHCAUS" in adsl.columns:
        adsl.at[row - 1, "DTHCAUS"] = ""
    write_cells(d, "adsl", adsl)
    return {("adtte.csv", row_of(d, "adtte", USUBJID=usubjid, PARAMCD="OS"), "CNSR", "os_event_iff_death")}


def response_for_non_evaluable(d):
    row, usubjid = adsl_patient(d, lambda f: f["EFFFL"] == "Y")
    set_cell(d, "adsl", row, "EFFFL", "N")
    return {("adrs.csv", row_of(d, "adrs", USUBJID=usubjid), "USUBJID", "response_only_if_evaluable")}


def evaluable_without_response(d):
    adrs = read_cells(d, "adrs")
    usubjid = adrs.at[4, "USUBJID"]
    write_cells(d, "adrs", adrs.drop(index=4))
    return {("adsl.csv", row_of(d, "adsl", USUBJID=usubjid), "USUBJID", "evaluable_has_response")}


def duplicate_ae_per_syndrome(d):
    new = append_copy(d, "adae", 2, AETOXGR="1")
    return {("adae.csv", 2, "AECAT", "one_row_per_patient_and_syndrome"), ("adae.csv", new, "AECAT", "one_row_per_patient_and_syndrome")}


def aedecod_aecat_mismatch(d):
    row = row_of(d, "adae", AECAT="CRS")
    set_cell(d, "adae", row, "AEDECOD", "Immune effector cell-associated neurotoxicity syndrome")
    return {("adae.csv", row, "AEDECOD", "aedecod_matches_aecat")}


def latin1_file(d):
    text = (d / "adae.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    line = next(i for i, t in enumerate(text) if i >= 3 and "Cytokine release syndrome" in t)
    text[line] = text[line].replace("Cytokine release syndrome", "Cytokine release syndrome (fièvre)")
    (d / "adae.csv").write_bytes("".join(text).encode("latin-1"))
    return {("adae.csv", line, None, "encoding_not_utf8")}


def two_formats(d):
    pd.read_csv(d / "adsl.csv", dtype=str).to_parquet(d / "adsl.parquet")
    return {("adsl.*", None, None, "multiple_formats")}


def bmblast_missing_with_marrow_involvement(d):
    row = row_of(d, "adsl", BMINV="Y")
    set_cell(d, "adsl", row, "BMBLAST", "")
    return {("adsl.csv", row, "BMBLAST", "bmblast_present_iff_marrow_involved")}


def bmblast_without_marrow_involvement(d):
    row = row_of(d, "adsl", BMINV="N")
    set_cell(d, "adsl", row, "BMBLAST", "12.0")
    return {("adsl.csv", row, "BMBLAST", "bmblast_present_iff_marrow_involved")}


def dcutdt_not_constant(d):
    set_cell(d, "adsl", 8, "DCUTDT", "2025-09-01")
    return {("adsl.csv", 8, "DCUTDT", "dcutdt_constant")}


def transplant_date_without_flag(d):
    row = row_of(d, "adsl", HCTFL="Y")
    set_cell(d, "adsl", row, "HCTFL", "N")
    return {("adsl.csv", row, "HCTDT", "hctdt_present_iff_hctfl")}


def transplant_on_infusion_day(d):
    row = row_of(d, "adsl", HCTFL="Y")
    adsl = read_cells(d, "adsl")
    set_cell(d, "adsl", row, "HCTDT", adsl.at[row - 1, "TRTSDT"])
    return {("adsl.csv", row, "HCTDT", "hctdt_after_trtsdt")}


def wrong_study_day(d):
    set_cell(d, "adae", 4, "ASTDY", str(int(read_cells(d, "adae").at[3, "ASTDY"]) + 1))
    return {("adae.csv", 4, "ASTDY", "astdy_equals_astdt_minus_trtsdt_plus_1")}


def wrong_duration(d):
    adae = read_cells(d, "adae")
    i = first(adae, adae["ADURN"] != "")
    set_cell(d, "adae", i + 1, "ADURN", str(int(adae.at[i, "ADURN"]) + 3))
    return {("adae.csv", i + 1, "ADURN", "adurn_equals_aendt_minus_astdt_plus_1")}


def aval_avalc_mismatch(d):
    row = row_of(d, "adrs", AVALC="CR")
    set_cell(d, "adrs", row, "AVAL", "3")
    return {("adrs.csv", row, "AVAL", "aval_matches_avalc")}


def grade_5_alive(d):
    row, usubjid = adsl_patient(d, lambda f: f["DTHFL"] == "N")
    ae = row_of(d, "adae", USUBJID=usubjid)
    set_cell(d, "adae", ae, "AETOXGR", "5")
    return {("adae.csv", ae, "AETOXGR", "grade5_requires_death")}


def subjid_not_tail_of_usubjid(d):
    set_cell(d, "adsl", 9, "SUBJID", "9")
    return {("adsl.csv", 9, "SUBJID", "str_matches"), ("adsl.csv", 9, "USUBJID", "usubjid_is_studyid_subjid")}


def evaluable_not_in_safety(d):
    row, usubjid = adsl_patient(d, lambda f: f["EFFFL"] == "Y")
    set_cell(d, "adsl", row, "SAFFL", "N")
    expected = {("adsl.csv", row, "EFFFL", "efffl_requires_saffl")}
    tte = read_cells(d, "adtte")
    expected |= {("adtte.csv", i + 1, "USUBJID", "tte_only_if_safety") for i in tte.index[tte["USUBJID"] == usubjid]}
    ae = read_cells(d, "adae")
    expected |= {("adae.csv", i + 1, "USUBJID", "ae_only_if_safety") for i in ae.index[ae["USUBJID"] == usubjid]}
    return expected


def wrong_field_count(d):
    lines = (d / "adrs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",extra\n"
    (d / "adrs.csv").write_text("".join(lines), encoding="utf-8")
    return {("adrs.csv", 5, None, "wrong_field_count")}


def safety_patient_without_pfs(d):
    tte = read_cells(d, "adtte")
    i = first(tte, tte["PARAMCD"] == "PFS")
    usubjid = tte.at[i, "USUBJID"]
    write_cells(d, "adtte", tte.drop(index=i))
    return {("adsl.csv", row_of(d, "adsl", USUBJID=usubjid), "USUBJID", "safety_patient_has_os_and_pfs")}


def os_event_not_death(d):
    row = row_of(d, "adtte", PARAMCD="OS", CNSR="0")
    set_cell(d, "adtte", row, "EVNTDESC", "RELAPSE OR PROGRESSION")
    return {("adtte.csv", row, "EVNTDESC", "os_event_is_death")}


def censored_without_description(d):
    row = row_of(d, "adtte", CNSR="1")
    set_cell(d, "adtte", row, "CNSDTDSC", "")
    return {("adtte.csv", row, "CNSDTDSC", "cnsdtdsc_present_iff_censored")}


def invalid_source_json(d):
    (d / "source.json").write_text("{simulated: yes", encoding="utf-8")
    return {("source.json", None, None, "invalid_json")}


CASES = [
    missing_file,
    empty_file,
    missing_column,
    half_of_an_optional_pair,
    subject_id_in_full_width_digits,

    wrong_type_integer,
    wrong_type_number,
    unparseable_date,
    impossible_date,
    duplicate_usubjid,
    orphan_in_adtte,
    orphan_in_adrs,
    orphan_in_adae,
    pfs_after_os,
    negative_aval,
    aval_not_adt_minus_startdt,
    grade_6,
    grade_0,
    unknown_diagnosis,
    unknown_sex,
    missing_required_value,
    response_after_cutoff,
    ae_resolution_after_cutoff,
    transplant_after_cutoff,
    infusion_before_study_start,
    death_without_os_event,
    os_event_without_death,
    response_for_non_evaluable,
    evaluable_without_response,
    duplicate_ae_per_syndrome,
    aedecod_aecat_mismatch,
    latin1_file,
    two_formats,
    bmblast_missing_with_marrow_involvement,
    bmblast_without_marrow_involvement,
    dcutdt_not_constant,
    transplant_date_without_flag,
    transplant_on_infusion_day,
    wrong_study_day,
    wrong_duration,
    aval_avalc_mismatch,
    grade_5_alive,
    subjid_not_tail_of_usubjid,
    evaluable_not_in_safety,
    wrong_field_count,
    safety_patient_without_pfs,
    os_event_not_death,
    censored_without_description,
    invalid_source_json,
]


def test_the_valid_delivery_loads(valid_dir):
    cohort = load_cohort(valid_dir)
    assert cohort.simulated is True
    assert len(CASES) >= 25 and len({c.__name__ for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_malformed_input_reports_exactly_its_rule(case, valid_dir):
    expected = case(valid_dir)
    failures = failures_of(valid_dir)
    assert keys(failures) == expected, failures.to_string()
    assert list(failures.columns) == ["file", "row", "column", "rule", "value"]


def test_several_problems_are_all_reported_in_one_error(valid_dir):
    cases = [unknown_sex, unknown_diagnosis, pfs_after_os, evaluable_without_response, aval_avalc_mismatch,
             dcutdt_not_constant, latin1_file, invalid_source_json]
    expected = set().union(*(case(valid_dir) for case in cases))
    failures = failures_of(valid_dir)
    assert keys(failures) == expected, failures.to_string()
    assert len({k[0] for k in expected}) == 5  # adsl, adrs, adtte, adae and source.json at once


def test_reported_value_is_the_cell_as_written(valid_dir):
    grade_6(valid_dir)
    unknown_diagnosis(valid_dir)
    wrong_type_integer(valid_dir)
    failures = failures_of(valid_dir).set_index("rule")
    assert failures.loc["in_range", "value"] == "6"
    assert failures.loc["isin", "value"] == "B-ALL"
    assert failures.loc["invalid_integer", "value"] == "twelve"


def test_latin1_failure_says_which_byte(valid_dir):
    latin1_file(valid_dir)
    (value,) = failures_of(valid_dir)["value"]
    assert value.startswith("byte 0xE8")  # 'è' in Latin-1


def test_missing_file_names_the_accepted_formats(valid_dir):
    missing_file(valid_dir)
    (value,) = failures_of(valid_dir)["value"]
    assert value == "adae.csv | adae.parquet | adae.xpt"


def test_failures_render_as_a_table(valid_dir):
    grade_6(valid_dir)
    with pytest.raises(DataValidationError) as info:
        load_cohort(valid_dir)
    text = str(info.value)
    assert "1 problem" in text and "adae.csv" in text and "in_range" in text


def test_not_a_directory_is_an_nscore_error(tmp_path):
    with pytest.raises(NscoreError, match="no such data directory"):
        load_cohort(tmp_path / "nowhere")


def test_header_only_adsl_reports_no_patients(valid_dir):
    adsl = read_cells(valid_dir, "adsl")
    write_cells(valid_dir, "adsl", adsl.iloc[0:0])
    rules = set(failures_of(valid_dir)["rule"])
    assert "no_patients" in rules and "usubjid_in_adsl" in rules


def test_broken_parquet_is_reported_not_raised(valid_dir):
    (valid_dir / "adsl.csv").unlink()
    (valid_dir / "adsl.parquet").write_bytes(b"PAR1 this is not parquet")
    assert keys(failures_of(valid_dir)) == {("adsl.parquet", None, None, "unreadable_file")}


def test_copy_is_independent(valid_dir, tmp_path):
    # the fixture hands each test its own files: mutating one copy leaves a fresh copy valid
    other = tmp_path / "other"
    shutil.copytree(valid_dir, other)
    grade_6(valid_dir)
    load_cohort(other)


def test_extra_sponsor_columns_are_accepted_and_reported_as_not_used(valid_dir):
    """A sponsor's extra variables are kept in the delivery and listed, not refused (issue 11)."""
    from nscore.data.load import load_cohort

    edit(valid_dir, "adtte", lambda f: f.insert(3, "FOO", "x"))
    edit(valid_dir, "adsl", lambda f: f.insert(5, "RACE", "ASIAN"))
    cohort = load_cohort(valid_dir)
    assert "FOO" not in cohort.adtte.columns and "RACE" not in cohort.adsl.columns
    assert cohort.notes == ("adsl.csv: not used: RACE", "adtte.csv: not used: FOO")


def test_optional_variables_may_be_absent(valid_dir):
    """AGE, dose and marrow variables not collected: the cohort loads without them (issue 11)."""
    from nscore.data.load import load_cohort

    edit(valid_dir, "adsl", lambda f: f.drop(columns=["AGE", "DOSELVL", "DOSEKG", "BMINV", "BMBLAST"], inplace=True))
    cohort = load_cohort(valid_dir)
    assert not cohort.collected("adsl", "AGE") and cohort.collected("adsl", "DIAG")


def test_unknown_marrow_involvement_is_allowed(valid_dir):
    from nscore.data.load import load_cohort

    def change(f):
        f.loc[0, "BMINV"] = ""
        f.loc[0, "BMBLAST"] = ""
    edit(valid_dir, "adsl", change)
    assert load_cohort(valid_dir).adsl["BMINV"].isna().sum() == 1


def test_adverse_events_not_collected(valid_dir):
    """A study that lists no adverse events delivers no ADAE; one that does, must (issue 11)."""
    import yaml

    from nscore.data.load import load_cohort

    (valid_dir / "adae.csv").unlink()
    assert ("adae.*", None, None, "missing_file") in keys(failures_of(valid_dir))
    study = yaml.safe_load((valid_dir / "study.yml").read_text(encoding="utf-8"))
    study["adverse_events"] = []
    study.pop("published")
    (valid_dir / "study.yml").write_text(yaml.safe_dump(study), encoding="utf-8")
    cohort = load_cohort(valid_dir)
    assert cohort.adae is None and not cohort.collected("adae")
    assert "adae" not in cohort.frames


def test_another_study_validates_with_its_own_definition(valid_dir):
    """Trials, diagnoses and the id pattern come from study.yml, not from code (issue 11)."""
    import yaml

    from nscore.data.load import load_cohort

    study = yaml.safe_load((valid_dir / "study.yml").read_text(encoding="utf-8"))
    study["diagnoses"] = [d for d in study["diagnoses"] if d["code"] != "AML"]
    (valid_dir / "study.yml").write_text(yaml.safe_dump(study), encoding="utf-8")
    failures = failures_of(valid_dir)
    assert set(failures["rule"]) == {"isin"} and set(failures["column"]) == {"DIAG"}
    assert set(failures["value"]) == {"AML"}


def test_invalid_study_definition_is_reported_with_its_field(valid_dir):
    (valid_dir / "study.yml").write_text(
        "id: X\ntitle: T\ntherapy: T\nsubject_id_pattern: '^X\\d+$'\ntrials: []\n"
        "diagnoses: [{code: A, name: a, criteria: solid}]\n", encoding="utf-8")
    got = {(r.column, r.rule) for r in failures_of(valid_dir).itertuples()}
    assert ("subject_id_pattern", "study_pattern_not_ascii") in got
    assert ("trials", "study_no_trials") in got
    assert ("diagnoses[0].criteria", "study_unknown_criteria") in got


def test_full_width_digits_in_numbers_and_dates_are_not_read_as_numbers(valid_dir):
    """Python's int()/float() accept "２５" as 25; the data format says ASCII digits (issue 14)."""
    adsl = read_cells(valid_dir, "adsl")
    involved = int(adsl.index[adsl["BMINV"] == "Y"][0]) + 1
    set_cell(valid_dir, "adsl", 1, "AGE", "\uff12\uff15")
    set_cell(valid_dir, "adsl", involved, "BMBLAST", "\uff15.0")
    set_cell(valid_dir, "adsl", 3, "TRTSDT", "\uff12\uff10\uff12\uff14-01-01")
    got = {(r.row, r.column, r.rule) for r in failures_of(valid_dir).itertuples()}
    assert {(1, "AGE", "invalid_integer"), (involved, "BMBLAST", "invalid_number"),
            (3, "TRTSDT", "invalid_date")} <= got


def test_events_after_the_last_date_known_alive_are_refused(valid_dir):
    """A transplant, response, AE onset or relapse dated after LSTALVDT contradicts the record."""
    adsl = read_cells(valid_dir, "adsl")
    hct = adsl.index[(adsl["HCTFL"] == "Y")][0]
    late = shift(adsl.loc[hct, "LSTALVDT"], 1)
    set_cell(valid_dir, "adsl", hct + 1, "HCTDT", late)
    adrs = read_cells(valid_dir, "adrs")
    who = adrs.loc[0, "USUBJID"]
    alive_until = adsl.set_index("USUBJID").loc[who, "LSTALVDT"]
    set_cell(valid_dir, "adrs", 1, "ADT", shift(alive_until, 3))
    got = {(r.file, r.row, r.column, r.rule) for r in failures_of(valid_dir).itertuples()}
    assert ("adsl.csv", hct + 1, "HCTDT", "hctdt_not_after_lstalvdt") in got
    assert ("adrs.csv", 1, "ADT", "adt_not_after_lstalvdt") in got


@pytest.mark.parametrize("text, says", [
    ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
    ("[" * 40_000 + "]" * 40_000, "larger than"),
    ('{"a": ' * 20 + "1" + "}" * 20, "nested deeper than"),
    ('{"simulated": true, "note": "\\ud800"}', "lone surrogate"),
])
def test_hostile_source_json_is_a_rule_not_a_traceback(valid_dir, text, says):
    """Deep nesting and lone surrogates used to raise (RecursionError, UnicodeEncodeError) (issue 14)."""
    (valid_dir / "source.json").write_text(text, encoding="utf-8")
    failures = failures_of(valid_dir)
    assert list(failures["rule"]) == ["invalid_json"]
    assert says in failures["value"].iloc[0]


def test_summary_says_what_each_rule_allows(valid_dir):
    """The report's summary gives the controlled terms and patterns, from the study definition."""
    from nscore.errors import DataValidationError
    from nscore.data.load import load_cohort

    unknown_diagnosis(valid_dir)
    unknown_sex(valid_dir)
    with pytest.raises(DataValidationError) as info:
        load_cohort(valid_dir)
    summary = info.value.summary().set_index(["rule", "column"])
    assert summary.loc[("isin", "DIAG"), "expected"] == "one of T-ALL, T-LBL, MPAL, AML, PTCL"
    assert summary.loc[("isin", "SEX"), "expected"] == "one of M, F"
    assert "one of T-ALL" in str(info.value)

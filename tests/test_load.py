"""Reading and typing the datasets: CSV, Parquet and SAS transport give the same frames, and the
Cohort carries what the chapters and the provenance box need (cutoff, version, hashes, simulated).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from conftest import read_cells, write_cells
from nscore.data import schema
from nscore.errors import DataValidationError, NscoreError
from nscore.data.load import DATASETS, Cohort, data_version, load_cohort, read_dataset, sha256_file

SAS_EPOCH = pd.Timestamp("1960-01-01")


def _dates_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime.date and nullable ints as floats: what a SAS/Parquet export holds."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = [None if pd.isna(v) else v.date() for v in out[column]]
        elif str(out[column].dtype) == "Int64":
            out[column] = out[column].astype("float64")
    return out


def _copy_as(cohort: Cohort, directory, fmt: str, sas_numbers: bool = False):
    """Write the cohort's frames in another format (plus its source.json) into ``directory``."""
    import pyreadstat

    directory.mkdir()
    for name, frame in cohort.frames.items():
        if fmt == "parquet":
            frame.to_parquet(directory / f"{name}.parquet", index=False)
        elif fmt == "parquet-date32":
            _dates_as_objects(frame).to_parquet(directory / f"{name}.parquet", index=False)
        else:
            out = _dates_as_objects(frame)
            if sas_numbers:  # a SAS date without a date format: days since 1960-01-01
                for column in frame.columns:
                    if pd.api.types.is_datetime64_any_dtype(frame[column]):
                        out[column] = (frame[column] - SAS_EPOCH).dt.days.astype("float64")
            pyreadstat.write_xport(out, str(directory / f"{name}.xpt"), table_name=name.upper())
    shutil.copyfile(cohort.source / "source.json", directory / "source.json")
    shutil.copyfile(cohort.source / "study.yml", directory / "study.yml")
    return directory


@pytest.fixture
def csv_cohort(valid_dir) -> Cohort:
    return load_cohort(valid_dir)


# --------------------------------------------------------------------------------------------
# typing
# --------------------------------------------------------------------------------------------
def test_frames_are_typed_per_model(csv_cohort):
    for name in DATASETS:
        frame = getattr(csv_cohort, name)
        kinds = schema.column_kinds(name)
        assert list(frame.columns) == list(kinds)
        for column, kind in kinds.items():
            dtype = str(frame[column].dtype)
            expected = {"date": "datetime64[ns]", "float": "float64", "str": "object"}.get(kind)
            if kind == "int":
                expected = "Int64" if schema.MODELS[name].to_schema().columns[column].nullable else "int64"
            assert dtype == expected, (name, column)
        schema.MODELS[name].validate(frame)  # the returned frame is what the model declares


def test_dates_are_normalised_midnight(csv_cohort):
    trtsdt = csv_cohort.adsl["TRTSDT"]
    assert (trtsdt == trtsdt.dt.normalize()).all()


def test_y_n_flags_and_missing_strings(csv_cohort):
    assert set(csv_cohort.adsl["SAFFL"]) == {"Y"}
    mrd = csv_cohort.adrs["MRDSTAT"]
    assert set(mrd.dropna()) <= {"NEGATIVE", "POSITIVE"}
    assert all(isinstance(v, str) for v in mrd.dropna())


def test_read_dataset_matches_load_cohort(valid_dir, csv_cohort):
    for name in DATASETS:
        pd.testing.assert_frame_equal(read_dataset(valid_dir / f"{name}.csv"), getattr(csv_cohort, name))


def test_read_dataset_reports_its_file_problems(valid_dir):
    adae = read_cells(valid_dir, "adae")
    adae.loc[0, "AETOXGR"] = "6"
    write_cells(valid_dir, "adae", adae)
    with pytest.raises(DataValidationError) as info:
        read_dataset(valid_dir / "adae.csv")
    assert info.value.failures[["file", "row", "column", "rule"]].values.tolist() == [
        ["adae.csv", 1, "AETOXGR", "in_range"]
    ]


def test_read_dataset_refuses_an_unknown_name(tmp_path):
    (tmp_path / "adlb.csv").write_text("A\n1\n", encoding="utf-8")
    with pytest.raises(NscoreError, match="not a dataset file"):
        read_dataset(tmp_path / "adlb.csv")


def test_integers_are_strict(valid_dir):
    # "1.0" is not an integer in a CSV delivery: a float where an integer belongs is a data error
    adsl = read_cells(valid_dir, "adsl")
    adsl.loc[0, "AGE"] = adsl.loc[0, "AGE"] + ".0"
    write_cells(valid_dir, "adsl", adsl)
    with pytest.raises(DataValidationError) as info:
        read_dataset(valid_dir / "adsl.csv")
    assert info.value.failures["rule"].tolist() == ["invalid_integer"]


def test_ongoing_event_has_missing_end_and_duration(valid_dir):
    adae = read_cells(valid_dir, "adae")
    adae.loc[0, ["AENDT", "ADURN"]] = ""
    write_cells(valid_dir, "adae", adae)
    adurn = load_cohort(valid_dir).adae["ADURN"]
    assert str(adurn.dtype) == "Int64" and adurn.isna().tolist()[:2] == [True, False]


def test_utf8_byte_order_mark_is_accepted(valid_dir, csv_cohort):
    path = valid_dir / "adsl.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    pd.testing.assert_frame_equal(read_dataset(path), csv_cohort.adsl)


# --------------------------------------------------------------------------------------------
# the Cohort record
# --------------------------------------------------------------------------------------------
def test_cohort_identity(valid_dir, csv_cohort):
    assert csv_cohort.cutoff == date(2025, 8, 1)
    assert csv_cohort.source == valid_dir.resolve()
    assert csv_cohort.simulated is True
    names = [f"{n}.csv" for n in DATASETS] + ["study.yml"]  # the study definition is data too
    assert csv_cohort.files == {name: hashlib.sha256((valid_dir / name).read_bytes()).hexdigest() for name in names}
    assert len(csv_cohort.version) == 12 and int(csv_cohort.version, 16) >= 0
    pairs = "".join(f"{name}\0{sha}\n" for name, sha in sorted(csv_cohort.files.items()))
    assert csv_cohort.version == hashlib.sha256(pairs.encode()).hexdigest()[:12]
    assert data_version(csv_cohort.files) == csv_cohort.version


def test_cohort_is_frozen(csv_cohort):
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'version'"):
        csv_cohort.version = "000000000000"


def test_version_changes_with_any_data_byte(valid_dir, csv_cohort):
    path = valid_dir / "adrs.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    again = load_cohort(valid_dir)
    assert again.version != csv_cohort.version
    assert again.files["adrs.csv"] == sha256_file(path)


def test_without_source_json_data_are_not_called_simulated(valid_dir):
    (valid_dir / "source.json").unlink()
    assert load_cohort(valid_dir).simulated is False


def test_source_json_does_not_change_the_version(valid_dir, csv_cohort):
    (valid_dir / "source.json").write_text(json.dumps({"simulated": False}), encoding="utf-8")
    cohort = load_cohort(valid_dir)
    assert cohort.simulated is False and cohort.version == csv_cohort.version


# --------------------------------------------------------------------------------------------
# other formats load to the same frames
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fmt, sas_numbers",
    [("parquet", False), ("parquet-date32", False), ("xpt", False), ("xpt", True)],
    ids=["parquet", "parquet-date32", "xpt-dates", "xpt-sas-day-numbers"],
)
def test_other_formats_give_identical_frames(csv_cohort, tmp_path, fmt, sas_numbers):
    other = load_cohort(_copy_as(csv_cohort, tmp_path / "copy", fmt, sas_numbers))
    for name in DATASETS:
        pd.testing.assert_frame_equal(getattr(other, name), getattr(csv_cohort, name), check_exact=True)
    assert other.cutoff == csv_cohort.cutoff and other.simulated is csv_cohort.simulated
    ext = ".xpt" if fmt == "xpt" else ".parquet"
    assert sorted(other.files) == sorted([f"{n}{ext}" for n in DATASETS] + ["study.yml"])


def test_xpt_copy_of_shipped_data_gives_identical_analyses(shipped_dir, tmp_path):
    """Issue 3: loading a .xpt copy of the data gives identical results."""
    shipped = load_cohort(shipped_dir)
    xpt = load_cohort(_copy_as(shipped, tmp_path / "xpt", "xpt"))
    for name in DATASETS:
        if getattr(shipped, name) is None:  # an optional dataset the delivery does not hold
            assert getattr(xpt, name) is None
            continue
        pd.testing.assert_frame_equal(getattr(xpt, name), getattr(shipped, name), check_exact=True)
    from nscore.analyses.headline import headline_figures

    pd.testing.assert_frame_equal(headline_figures(xpt), headline_figures(shipped), check_exact=True)


def test_xpt_errors_are_reported_by_file(csv_cohort, tmp_path):
    directory = _copy_as(csv_cohort, tmp_path / "xpt", "xpt")
    import pyreadstat

    adae, _ = pyreadstat.read_xport(str(directory / "adae.xpt"))
    adae.loc[1, "AETOXGR"] = 6.0
    adae.loc[2, "AETOXGR"] = 2.5
    pyreadstat.write_xport(adae, str(directory / "adae.xpt"), table_name="ADAE")
    failures = pytest.raises(DataValidationError, load_cohort, directory).value.failures
    assert failures[["file", "row", "column", "rule", "value"]].values.tolist() == [
        ["adae.xpt", 2, "AETOXGR", "in_range", "6"],
        ["adae.xpt", 3, "AETOXGR", "invalid_integer", "2.5"],
    ]


def test_numbers_in_a_text_column_are_read_as_text(csv_cohort, tmp_path):
    # a Parquet export with SUBJID stored as an integer loses its leading zeros: reported, not crashed
    directory = _copy_as(csv_cohort, tmp_path / "pq", "parquet")
    adsl = pd.read_parquet(directory / "adsl.parquet")
    adsl["SUBJID"] = adsl["SUBJID"].astype(int)
    adsl.to_parquet(directory / "adsl.parquet", index=False)
    failures = pytest.raises(DataValidationError, load_cohort, directory).value.failures
    assert set(failures["rule"]) == {"str_matches", "usubjid_is_studyid_subjid"}
    assert failures.loc[failures["rule"] == "str_matches", "value"].iloc[0] == str(int(csv_cohort.adsl["SUBJID"].iloc[0]))
    assert np.isin(["SUBJID", "USUBJID"], failures["column"]).all()

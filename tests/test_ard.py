"""The ARD row model (nscore.analyses.ard): columns, row key, validation, JSON with NaN/inf, the
Recorder's stamps, emit -> executed notebook -> read_notebook, and the CSV/Parquet/dictionary writer."""

from __future__ import annotations

import json
import math
import types
from datetime import date

import pandas as pd
import pytest

from nscore.analyses import ard
from nscore.errors import AnalysisInputError


def _rows():
    return ard.frame([
        ard.row("efficacy.orr", "percent", 100 * 284 / 329, unit="%", method="Clopper-Pearson exact",
                population="efficacy-evaluable (EFFFL)", endpoint="ORR", label="ORR"),
        ard.row("os.km", "median", math.inf, unit="days", label="Median OS"),
        ard.row("os.km", "rate", math.nan, unit="%", group_var="YEARS", group_level="2"),
        ard.row("efficacy.orr.subgroup", "n", 150, unit="patients", group_var="DIAGNOSIS", group_level="T-ALL"),
    ])


def test_columns_are_the_contract():
    assert ard.COLUMNS == ["cutoff", "data_version", "analysis_id", "population", "endpoint", "group_var",
                           "group_level", "stat", "value", "unit", "method", "label", "chapter", "cell"]
    assert ard.RESULT_COLUMNS == [c for c in ard.COLUMNS if c not in ard.STAMPS]
    assert ard.MIME == "application/vnd.nscore.ard+json"


def test_row_key():
    f = _rows()
    assert ard.row_key(f).tolist() == ["efficacy.orr|=|percent", "os.km|=|median", "os.km|YEARS=2|rate",
                                       "efficacy.orr.subgroup|DIAGNOSIS=T-ALL|n"]
    assert ard.row_key(f.iloc[2]) == "os.km|YEARS=2|rate"


@pytest.mark.parametrize("bad, message", [
    (ard.row("Efficacy.ORR", "n", 1), "ASCII"),
    (ard.row("efficacy.orr", "ratio", 1), "unknown statistics"),
    (ard.row("efficacy.orr", "n", 1, unit="pts"), "unknown units"),
    (ard.row("os.km", "median", math.inf, unit="days"), "duplicate"),  # already in _rows()
])
def test_validate_refuses(bad, message):
    with pytest.raises(AnalysisInputError, match=message):
        ard.validate(ard.frame([_rows(), bad]))


def test_value_must_be_a_number():
    with pytest.raises(AnalysisInputError, match="number"):
        ard.row("x", "n", "many")
    assert math.isnan(ard.row("x", "n", None)["value"])


def test_payload_is_strict_json_and_round_trips_nan_and_inf():
    f = _rows()
    payload = ard.to_payload(f)
    text = json.dumps(payload, allow_nan=False)  # no bare NaN/Infinity tokens
    assert '"Infinity"' in text and '"NaN"' in text
    back = ard.from_payload(text)
    assert math.isinf(back.loc[1, "value"]) and back.loc[1, "value"] > 0
    assert math.isnan(back.loc[2, "value"])
    assert back.loc[0, "value"] == pytest.approx(100 * 284 / 329, abs=0)
    pd.testing.assert_frame_equal(back[ard.RESULT_COLUMNS], f[ard.RESULT_COLUMNS])


def test_recorder_stamps_cutoff_version_chapter_and_cell():
    cohort = types.SimpleNamespace(cutoff=date(2025, 8, 1), version="2be2c135d984")
    rec = ard.Recorder(cohort, chapter="results")
    thing = object()

    class Result:
        def rows(self):
            return [ard.row("flow.infused", "n", 334, unit="patients")]

    r = Result()
    assert rec.record(r, cell=7) is r
    assert rec.record(None) is None
    with pytest.raises(AnalysisInputError, match="no ARD rows"):
        rec.record(thing)
    f = rec.frame()
    assert list(f.columns) == ard.COLUMNS
    assert f.loc[0, ["cutoff", "data_version", "chapter", "cell", "value"]].tolist() == \
        ["2025-08-01", "2be2c135d984", "results", 7, 334.0]
    rec.record(Result(), cell=9)  # a cell run again: the row keeps its last recording
    assert len(rec.frame()) == 1 and rec.frame().loc[0, "cell"] == 9
    assert ard.Recorder().record(Result()) is not None and ard.Recorder().frame().empty


def test_default_recorder_start_record():
    rec = ard.start(types.SimpleNamespace(cutoff=date(2026, 2, 1), version="abc"), "index")
    ard.record(_rows())
    assert ard.recorder() is rec and len(rec.frame()) == 4
    assert set(rec.frame()["cell"]) == {None}  # outside a kernel


def test_read_notebook_from_a_display_output():
    import nbformat

    rows = _rows().assign(cutoff="2025-08-01", data_version="v", chapter="results", cell=3)[ard.COLUMNS]
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ard.emit()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={ard.MIME: ard.to_payload(rows),
                                                                 "text/plain": "ARD"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("1"), cell]
    back = ard.read_notebook(nb)
    assert list(back.columns) == ard.COLUMNS and len(back) == 4
    assert math.isinf(back.loc[1, "value"]) and back.loc[1, "cell"] == 3
    assert ard.read_notebook(nbformat.v4.new_notebook()).empty


def test_emit_in_a_kernel_round_trip(tmp_path):
    """A real kernel: the chapter records, its last cell emits, the executed notebook gives the rows back
    with the cell's execution count."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import math, types, datetime\nfrom nscore.analyses import ard\n"
                                  "c = types.SimpleNamespace(cutoff=datetime.date(2025, 8, 1), version='v1')\n"
                                  "ard.start(c, 'results')"),
        nbformat.v4.new_code_cell("ard.record([ard.row('os.km', 'median', math.inf, unit='days'),\n"
                                  "            ard.row('os.km', 'lower', math.nan, unit='days')])"),
        nbformat.v4.new_code_cell("ard.emit()", metadata={"tags": ["remove-cell", "nscore-ard"]}),
    ]
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    except Exception as exc:  # no kernel on this machine
        pytest.skip(f"kernel not available: {exc}")
    path = tmp_path / "results.ipynb"
    nbformat.write(nb, str(path))
    back = ard.read_notebook(path)
    assert back["analysis_id"].tolist() == ["os.km", "os.km"]
    assert back.loc[0, ["cutoff", "data_version", "chapter", "cell"]].tolist() == ["2025-08-01", "v1", "results", 2]
    assert math.isinf(back.loc[0, "value"]) and math.isnan(back.loc[1, "value"])
    outputs = nb.cells[2].outputs
    assert len(outputs) == 1 and ard.MIME in outputs[0]["data"]


def test_write_csv_parquet_and_dictionary(tmp_path):
    rows = _rows().assign(cutoff="2025-08-01", data_version="v", chapter="results", cell=[1, 2, None, 4])
    paths = ard.write(rows, tmp_path / "ard")
    assert sorted(p.name for p in paths) == ["ard-dictionary.csv", "ard.csv", "ard.parquet"]
    pq = pd.read_parquet(tmp_path / "ard" / "ard.parquet")
    assert list(pq.columns) == ard.COLUMNS and math.isinf(pq.loc[1, "value"]) and pd.isna(pq.loc[2, "cell"])
    csv = pd.read_csv(tmp_path / "ard" / "ard.csv")
    assert math.isinf(csv.loc[1, "value"]) and math.isnan(csv.loc[2, "value"])
    d = pd.read_csv(tmp_path / "ard" / "ard-dictionary.csv")
    assert d["column"].tolist() == ard.COLUMNS


def test_combine_keeps_the_first_chapters_row():
    a = _rows().assign(cutoff="2025-08-01", data_version="v", chapter="index", cell=1)[ard.COLUMNS]
    b = a.assign(chapter="discussion", cell=5)
    out = ard.combine([a, b])
    assert len(out) == len(a) and set(out["chapter"]) == {"index"}
    assert ard.combine([]).empty

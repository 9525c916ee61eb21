"""The loader's fast paths give what the strict, cell-by-cell paths give.

Plain CSVs are read by pandas' C parser instead of :mod:`csv`, and text columns are typed once per
distinct cell. Each test below holds a fast path against the slow one (or against the exact
failures a data manager must see), on inputs that mix what each path has to tell apart.
"""

from __future__ import annotations

from nscore.data import simulate as sim

import csv
import io

import numpy as np
import pandas as pd
import pytest

from conftest import failures_of, keys
from nscore.data import cells, readers

# cells that read as valid and as invalid integers, dates and numbers, with repeats and gaps
MIXED = [
    "12", " 12", "12 ", "+5", "-3", "1e3", "1.5", "x", "", "١٢", "12345678901234567", "123456789012345",
    "2025-01-31", "2025-02-30", "2025-1-01", " 2025-01-01", "9999-12-31", "nan", "inf", "0", "12", "",
    "2025-01-31", "x",
]


def _strict_cells(data: bytes) -> pd.DataFrame:
    records = [r for r in csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True) if r]
    return pd.DataFrame(records[1:], columns=records[0], dtype=object).replace("", np.nan).astype(object)


@pytest.mark.parametrize("kind", ["int", "date", "float"])
def test_distinct_value_typing_equals_the_cell_by_cell_typing(kind):
    raw = pd.Series([np.nan if v == "" else v for v in MIXED * 3], dtype=object)
    slow_values, slow_bad = cells._COERCERS[kind](raw)
    fast_values, fast_bad = cells._by_distinct(kind, raw)
    pd.testing.assert_series_equal(pd.Series(fast_values), pd.Series(slow_values), check_exact=True)
    assert list(np.asarray(fast_bad, dtype=bool)) == list(np.asarray(slow_bad, dtype=bool))
    assert np.asarray(slow_bad, dtype=bool).any() and not np.asarray(slow_bad, dtype=bool).all()


def test_plain_csv_reads_the_cells_the_strict_reader_reads():
    data = "A,B,C\n1, 2 ,\n\n,,x\n١٢,é,2025-01-01\n,,\n".encode()
    fast = readers._read_plain_csv(data)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _strict_cells(data), check_exact=True)
    assert [type(v) for v in fast["C"]] == [float, str, str, float]


@pytest.mark.parametrize(
    "text",
    [
        'A,B\n"1",2\n',  # quoting
        "A,B\r\n1,2\r\n",  # carriage returns
        "A,B\n1,2\n3\n",  # a short row
        "A,B\n1,2\n   \n",  # a line of spaces is a one-field record
        "A,A\n1,2\n",  # duplicate column names
        "A,B\n",  # no data row
    ],
)
def test_files_that_are_not_plain_go_to_the_strict_reader(text):
    assert readers._read_plain_csv(text.encode()) is None


def _append_line(directory, dataset: str, line: str, blank_before: bool = False) -> int:
    """Append ``line`` to a dataset's CSV; return its 1-based data row as the strict reader counts."""
    path = directory / f"{dataset}.csv"
    text = path.read_text(encoding="utf-8")
    rows = sum(1 for r in csv.reader(io.StringIO(text, newline="")) if r) - 1
    path.write_text(text + ("\n" if blank_before else "") + line + "\n", encoding="utf-8")
    return rows + 1


def test_short_row_after_a_blank_line_is_reported_at_its_row(valid_dir):
    row = _append_line(valid_dir, "adrs", "NCT04572308,NCT04572308-0001", blank_before=True)
    assert keys(failures_of(valid_dir)) == {("adrs.csv", row, None, "wrong_field_count")}


def test_line_of_spaces_is_reported_as_a_short_row(valid_dir):
    row = _append_line(valid_dir, "adae", "   ")
    failures = failures_of(valid_dir)
    assert keys(failures) == {("adae.csv", row, None, "wrong_field_count")}
    assert failures["value"].tolist() == [f"1 fields, header has {len(sim.ADAE_COLUMNS)}"]


def test_mixed_good_and_bad_cells_are_each_reported_once(valid_dir):
    path = valid_dir / "adsl.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = {2: " x", 5: "1e3", 9: "12345678901234567", 11: "x"}
    good = {3: " 30", 7: "+40"}
    for i, value in {**bad, **good}.items():
        frame.at[i - 1, "AGE"] = value
    frame.at[4 - 1, "TRTSDT"] = "2021-02-30"
    frame.at[6 - 1, "TRTSDT"] = "2021-02-30"
    path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    failures = failures_of(valid_dir)
    expected = {("adsl.csv", i, "AGE", "invalid_integer") for i in bad}
    expected |= {("adsl.csv", i, "TRTSDT", "invalid_date") for i in (4, 6)}
    assert keys(failures) == expected
    ages = failures[failures["column"] == "AGE"].sort_values("row")
    assert ages["value"].tolist() == [bad[i] for i in sorted(bad)]

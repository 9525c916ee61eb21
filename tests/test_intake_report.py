"""The validation report a person reads: a summary by rule first (failures, first rows, distinct
values), then the failure table capped at ``TABLE_ROWS`` rows with "... N more", every value escaped."""

from __future__ import annotations

import pandas as pd

from nscore.errors import DataValidationError, escape


def error(rows, message=None):
    return DataValidationError(pd.DataFrame(rows, columns=DataValidationError.COLUMNS), message)


def test_summary_groups_by_rule_with_counts_first_rows_and_values():
    rows = [("adsl.csv", r, "SEX", "isin", v) for r, v in zip(range(1, 9), "XYXZWVUX")]
    rows += [("adrs.csv", 4, "ADT", "invalid_date", "2025-13-01"), ("adae.csv", None, None, "missing_file", "")]
    summary = error(rows).summary()
    assert summary[["rule", "file", "column", "failures"]].values.tolist() == [
        ["invalid_date", "adrs.csv", "ADT", 1], ["isin", "adsl.csv", "SEX", 8], ["missing_file", "adae.csv", "", 1]]
    isin = summary.iloc[1]
    assert isin["first rows"] == "1, 2, 3, 4, 5, ... (3 more)"
    assert isin["values"] == "'X', 'Y', 'Z', 'W', 'V', ... (1 more)"  # distinct, in order of appearance
    assert summary.iloc[2]["first rows"] == "-" and summary.iloc[2]["values"] == "-"
    text = str(error(rows))
    assert text.index("by rule:") < text.index("failures:")
    assert text.splitlines()[0] == "data validation failed: 10 problems"


def test_table_is_capped_with_a_count_of_the_rest():
    rows = [("adsl.csv", i, "AGE", "in_range", str(200 + i)) for i in range(1, 121)]
    text = str(error(rows))
    table = text.split("failures:\n", 1)[1].splitlines()
    assert len(table) == 1 + DataValidationError.TABLE_ROWS + 1  # header, 50 rows, the count
    assert table[-1] == "... 70 more (the full table has 120 rows)"
    assert "250" in text and "251" not in text.split("failures:", 1)[1]
    assert "more" not in str(error(rows[:50])).split("failures:", 1)[1]


def test_control_characters_are_escaped_everywhere(tmp_path):
    rows = [("adsl\x07.csv", 1, "SE\x1bX", "isin", "\x1b]0;pwned\x07"), ("adsl.csv", 2, "DIAG", "isin", "tab\there\u202e")]
    err = error(rows, "delivery\x1b[31m: data validation failed")
    text = str(err)
    assert not any(ch in text for ch in "\x1b\x07\t\u202e")
    assert "\\x1b]0;pwned\\x07" in text and "tab\\x09here\\u202e" in text and "SE\\x1bX" in text
    assert text.startswith("delivery\\x1b[31m: data validation failed")
    assert escape("CR ok é 95%") == "CR ok é 95%"
    # the file keeps the values as delivered
    back = pd.read_csv(err.write_csv(tmp_path / "v" / "f.csv"), dtype=str, keep_default_na=False)
    assert back.loc[0, "value"] == "\x1b]0;pwned\x07"

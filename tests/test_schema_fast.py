"""Shortcuts the validation schema takes, each held to the rule that makes it exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nscore.data import crossrules, schema

_MISSING = {"str": np.nan, "int": pd.NA, "float": np.nan, "date": pd.NaT}
_DTYPES = {"str": object, "int": "Int64", "float": "float64", "date": "datetime64[ns]"}


def _all_missing_row(dataset: str) -> pd.DataFrame:
    kinds = schema.column_kinds(dataset)
    return pd.DataFrame(
        {c: pd.Series([_MISSING[k]], dtype=_DTYPES[k]) for c, k in kinds.items()}
    )


@pytest.mark.parametrize("dataset", schema.DATASETS)
def test_every_row_rule_passes_a_row_of_missing_inputs(dataset):
    """Why ``validation_schema`` may turn pandera's ``ignore_na`` off for the row rules."""
    frame = _all_missing_row(dataset)
    checks = schema.validation_schema(dataset).checks
    assert {c.name for c in checks} == set(schema.ROW_RULES[dataset])
    for check in checks:
        assert not check.ignore_na
        assert bool(check(frame).check_output.all()), check.name


def test_the_models_keep_their_own_checks_unchanged():
    for dataset in schema.DATASETS:
        schema.validation_schema(dataset)
        assert all(c.ignore_na for c in schema.MODELS[dataset].to_schema().checks)


def _with_unknown_and_missing_ids(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    adsl = frames["adsl"].copy()
    adsl = pd.concat([adsl, adsl.iloc[[0]]], ignore_index=True)  # a duplicated patient
    adsl.loc[1, "USUBJID"] = np.nan
    adae = frames["adae"].copy()
    adae.loc[0, "USUBJID"] = "NCT04572308-9999"
    adae.loc[1, "USUBJID"] = np.nan
    return adsl, adae


def test_lookup_gives_what_series_map_gives(small_frames):
    adsl, adae = _with_unknown_and_missing_ids(small_frames)
    known = adsl[adsl["USUBJID"].notna()].drop_duplicates("USUBJID", keep="first").set_index("USUBJID")
    for column in adsl.columns.drop("USUBJID"):
        expected = adae["USUBJID"].map(known[column])
        pd.testing.assert_series_equal(crossrules._lookup(adae, adsl, column), expected, check_exact=True)
    expected = adae["USUBJID"].isin(known.index)
    pd.testing.assert_series_equal(crossrules._in_adsl(adae, adsl), expected, check_exact=True)


def test_cross_rules_share_lookups_only_within_one_run(small_frames):
    adsl, adae = _with_unknown_and_missing_ids(small_frames)
    frames = {**small_frames, "adsl": adsl, "adae": adae}
    first = crossrules.run_cross_rules(frames)
    assert crossrules._SHARED.get() is None
    assert ("adae.csv", 1, "USUBJID", "usubjid_in_adsl") in {
        (r.file, r.row, r.column, r.rule) for r in first.itertuples()
    }
    adsl.loc[adsl.index[-2], "USUBJID"] = "NCT04572308-9999"  # the same frame objects, changed
    second = crossrules.run_cross_rules(frames)
    orphans = second[second["rule"] == "usubjid_in_adsl"]
    assert not ((orphans["file"] == "adae.csv") & (orphans["row"] == 1)).any()

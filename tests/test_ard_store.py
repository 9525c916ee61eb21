"""Store rows and settings rows (issue 13): the numbers What changed, the appendix and Methods print
about the data store and the analysis settings are ARD rows, and the sentences that print them
name rows that exist (fast: the shipped store, no build)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cohorts import ROOT
from nscore.analyses import ard, settings, store
from nscore.data import versions
from nscore.report import cutoffs, trace
from nscore.report.prose import changes as changes_prose
from nscore.report.prose import methods as methods_prose

DATA = ROOT / "data"


@pytest.fixture(scope="module")
def shipped():
    stored = versions.list_cutoffs(DATA)
    return stored, [versions.load(DATA, c) for c in stored]


def _keys(rows) -> set[str]:
    return set(ard.row_key(ard.validate(ard.frame(rows))))


def _role_keys(markup: str) -> set[str]:
    return {key for _, key in trace.roles(markup)}


def test_store_rows_and_the_what_changed_sentences(shipped):
    stored, cohorts = shipped
    rows = store.store_rows(DATA, stored, cohorts, version=cohorts[-1].version)
    keys = _keys(rows)
    frame = ard.frame(rows).assign(key=lambda f: ard.row_key(f)).set_index("key")
    assert frame.loc["store.cutoffs|=|n", "value"] == len(stored)
    assert frame.loc[store.patients_key(stored[-1]), "value"] == len(cohorts[-1].adsl)
    assert frame.loc["store.version_id|=|n", "value"] == len(cohorts[-1].version)
    assert frame.loc["store.intake|setting=cohort_change|percent", "value"] == 25
    if len(cohorts) > 1:
        assert store.shared_key(stored[-1]) in keys
    sentence = cutoffs.cohorts_sentence(cohorts, traced=True)
    assert _role_keys(sentence) <= keys and (len(cohorts) < 2 or _role_keys(sentence))
    assert cutoffs.cohorts_sentence(cohorts) == trace.plain(sentence)  # the same words, traced
    table = cutoffs.cutoffs_table(DATA, cohorts, traced=True)
    assert {c.key for c in table["Patients"]} <= keys
    assert _role_keys(changes_prose.cohort_change_text(0.25)) <= keys
    assert trace.plain(changes_prose.cohort_change_text(0.25)) == "25%"


def test_withdrawals_and_warnings_sentences_carry_their_counts():
    one = pd.DataFrame({"Data cutoff": ["2025-11-01"], "Withdrawn on": ["2026-01-02"], "Reason": ["x"],
                        "Data version": ["abc"]})
    text = cutoffs.withdrawals_sentence(one, key="store.withdrawals|=|n")
    assert trace.plain(text).startswith("The data cutoff 2025-11-01 was withdrawn from the published versions")
    assert _role_keys(text) == {"store.withdrawals|=|n"}
    assert cutoffs.withdrawals_sentence(one.iloc[:0]) == "No stored data cutoff has been withdrawn."
    warnings = pd.DataFrame({"Data cutoff": ["2026-06-01"], "Compared with": ["2026-02-01"],
                             "Warning accepted at intake": ["x"]})
    assert _role_keys(cutoffs.warnings_sentence(warnings, key="store.intake_warnings|=|n")) == \
        {"store.intake_warnings|=|n"}


def test_settings_rows_back_every_traced_setting_of_methods(shipped):
    _, cohorts = shipped
    cohort = cohorts[-1]
    rows = settings.settings_rows(cohort, landmark_day=100, grid_days=7, censor_bin_days=28)
    keys = _keys(rows + [settings.datasets_row(4)])
    texts = [methods_prose.rate_years_text(traced=True), methods_prose.year_days_text(traced=True),
             methods_prose.setting_text(100, "landmark_day"), methods_prose.criteria(cohort, traced=True),
             methods_prose.ae_grading(cohort, traced=True),
             methods_prose.populations(cohort, key="methods.populations|=|n"),
             methods_prose.data_model(cohort, key="data.datasets|=|n")]
    for text in texts:
        assert _role_keys(text) <= keys, text
    assert methods_prose.rate_years_text() == trace.plain(methods_prose.rate_years_text(traced=True))
    assert settings.grade_range() == (1, 5)
    n_pop = ard.frame(rows).query("analysis_id == 'methods.populations'")["value"].iloc[0]
    assert f"use {int(n_pop)} populations" in trace.plain(methods_prose.populations(cohort, key="methods.populations|=|n"))
    # every row says where the setting comes from
    assert all(r["method"] for r in rows) and not any(re.search("nan", r["label"]) for r in rows)

"""What changed says which cutoffs are simulated and which real, whether compared cutoffs are the same
patients or different cohorts, and which intake warnings were accepted: the small functions of
``nscore.data.intake`` the page glues, on their edge cases and on a real store."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pandas as pd

from nscore.data import versions
from nscore.report import cutoffs


class C:
    def __init__(self, ids, cutoff):
        self.adsl = pd.DataFrame({"USUBJID": list(ids), "DTHFL": "N"})
        self.cutoff = date.fromisoformat(cutoff)


def m(cutoff, simulated):
    return {"cutoff": cutoff, "source": {"simulated": simulated} if simulated is not None else {}}


def test_origins_sentence():
    assert cutoffs.origins_sentence([m("2025-08-01", True)]) == "The data of this cutoff are simulated."
    assert cutoffs.origins_sentence([m("2025-08-01", True), m("2026-02-01", True)]) == \
        "The data of every cutoff compared here are simulated."
    assert cutoffs.origins_sentence([m("2025-08-01", False)]) == "The data of this cutoff are real patient data."
    assert cutoffs.origins_sentence([m("2025-08-01", None), m("2026-02-01", False)]) == \
        "The data of every cutoff compared here are real patient data."  # no source.json: real
    mixed = cutoffs.origins_sentence([m("2025-08-01", True), m("2026-02-01", True), m("2026-06-01", False)])
    assert mixed.startswith("Simulated and real data are stored side by side: 2025-08-01 and 2026-02-01 are "
                            "simulated, 2026-06-01 is real patient data;")
    assert cutoffs.origins_sentence([]) == "No data cutoff is stored."


def test_cohorts_sentence():
    a, b = C("pqrs", "2025-08-01"), C("pqrs", "2026-02-01")
    assert cutoffs.cohorts_sentence([a]).startswith("Only one data cutoff is stored")
    assert cutoffs.cohorts_sentence([a, b]) == \
        "The cutoffs 2025-08-01 and 2026-02-01 hold the same 4 patients, followed for longer."
    assert cutoffs.cohorts_sentence([a, b, C("pqrs", "2026-03-01")]) == \
        "Every cutoff compared here holds the same 4 patients, followed for longer."
    other = cutoffs.cohorts_sentence([a, b, C("wxyz", "2026-06-01")])
    assert other == ("The cutoffs 2026-02-01 and 2026-06-01 share no patient: they are different cohorts, so the "
                     "differences between them are differences between cohorts, not the result of longer follow-up.")
    assert "followed for longer" not in other
    mixed = cutoffs.cohorts_sentence([a, C("pqrt", "2026-02-01")])
    assert mixed == ("Of the 4 patients at 2026-02-01, 3 were already in the data at 2025-08-01 (4 patients); "
                     "the change between them mixes longer follow-up with a change of cohort.")


def test_warnings_sentence_and_table_are_counts_only(tmp_path):
    empty = pd.DataFrame(columns=["Data cutoff", "Compared with", "Warning accepted at intake"])
    assert cutoffs.warnings_sentence(empty) == "No intake warning was raised when these cutoffs were stored."
    one = pd.DataFrame([{"Data cutoff": "2026-06-01", "Compared with": "2026-02-01", "Warning accepted at intake": "x"}])
    assert "When 2026-06-01 was stored" in cutoffs.warnings_sentence(one) and "(1 intake warning)" in cutoffs.warnings_sentence(one)


def test_cutoffs_table_and_version_list_read_the_source_record(valid_dir, tmp_path):
    store = tmp_path / "data"
    versions.store(valid_dir, store)
    real = tmp_path / "real"
    shutil.copytree(valid_dir, real)
    (real / "source.json").unlink()  # no source record: real data
    adsl = pd.read_csv(real / "adsl.csv", dtype=str, keep_default_na=False)
    adsl["DCUTDT"] = "2025-09-01"
    (real / "adsl.csv").write_text(adsl.to_csv(index=False, lineterminator="\n"))
    versions.store(real, store)
    stored = versions.list_cutoffs(store)
    cohorts = [versions.load(store, c) for c in stored]
    table = cutoffs.cutoffs_table(store, cohorts)
    n = len(cohorts[0].adsl)
    assert table.values.tolist() == [["2025-08-01", "simulated", n, "first cutoff"], ["2025-09-01", "real", n, n]]
    links = cutoffs.version_list(store, stored, current=stored[-1]).data
    assert ('<a class="nscore-version-link" href="../v/2025-08-01/index.html">Data cutoff 2025-08-01</a> '
            "(simulated data)</li>") in links
    assert "Data cutoff 2025-09-01</a> (real data) (this version)</li>" in links
    assert cutoffs.warnings_table(store, stored).empty

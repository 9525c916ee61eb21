"""The book's analysis plan as one ARD (nscore.analyses.results.book_results): stable analysis ids
between the two shipped cutoffs, every cohort of the data matrix without an exception, and the
comparison of cutoffs (nscore.analyses.changes) on the shipped data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cohorts import ROOT, shipped_cohort, tiny_cohort
from matrix import COHORTS
from nscore.analyses import ard, changes, results

SHIPPED = ("2025-08-01", "2026-02-01")


@pytest.fixture(scope="module")
def shipped_ards():
    if not all((ROOT / "data" / "cutoffs" / c).is_dir() for c in SHIPPED):
        pytest.skip("both shipped cutoffs are needed")
    from nscore.data import versions

    return {c: results.book_results(versions.load(ROOT / "data", c)) for c in SHIPPED}


def test_shipped_ards_are_valid_and_stamped(shipped_ards):
    for cutoff, f in shipped_ards.items():
        ard.validate(f)
        assert list(f.columns) == ard.COLUMNS
        assert set(f["cutoff"]) == {cutoff}
        assert f["data_version"].str.fullmatch(r"[0-9a-f]{12}").all()
        assert set(f["chapter"]) == {"index", "results", "safety", "discussion"}
        assert f.attrs["skipped"] == {}


def test_analysis_ids_stable_between_shipped_cutoffs(shipped_ards):
    a, b = (set(f["analysis_id"]) for f in shipped_ards.values())
    assert a == b
    ka, kb = (set(ard.row_key(f)) for f in shipped_ards.values())
    assert ka == kb  # same patients: even the subgroup levels are the same
    for aid in ("efficacy.orr", "os.km", "pfs.km", "followup.os", "relapse.cif", "os.landmark", "os.hct.tdcox",
                "safety.crs.g3", "flow.infused", "baseline.age", "headline.orr", "os.km.diag.logrank"):
        assert aid in a, aid


def test_shipped_ard_values(shipped_ards):
    f = shipped_ards["2025-08-01"]
    v = dict(zip(ard.row_key(f), f["value"]))
    assert (v["efficacy.orr|=|n"], v["efficacy.orr|=|N"]) == (284, 329)
    assert v["headline.orr|=|percent"] == v["efficacy.orr|=|percent"]
    assert v["headline.followup_median|=|median"] == v["followup.os|=|median"]
    assert v["headline.os_1y|=|rate"] == v["os.km|YEARS=1|rate"]


def test_changes_between_shipped_cutoffs(shipped_ards):
    a, b = shipped_ards.values()
    cmp = changes.compare(a, b)
    assert len(cmp) == len(b) and set(cmp["kind"]) == {"both"}
    listed = cmp[cmp["changed"]].set_index("row_key")
    # same patients followed longer: counts fixed at baseline do not move, events and follow-up do
    assert "efficacy.orr|=|n" not in listed.index and "flow.infused|=|n" not in listed.index
    assert "os.km|=|events" in listed.index and "followup.os|=|median" in listed.index
    assert listed.loc["followup.os|=|median", "change"] > 30


def test_book_results_on_tiny_without_a_version():
    f = results.book_results(tiny_cohort())
    assert set(f["data_version"]) == {""} and set(f["cutoff"]) == {"2025-08-01"}
    assert set(f["cell"]) == {None}


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ard-matrix")
    built = {}

    def get(name):
        if name not in built:
            try:
                built[name] = COHORTS[name](root / name)
            except Exception as exc:  # R missing for the converted cohorts, or no shipped data
                if type(exc).__name__ in ("RNotAvailable", "FileNotFoundError"):
                    pytest.skip(str(exc))
                raise
        return built[name]

    return get


EXPECTED_SKIPS = {
    "shipped": {}, "one_diagnosis": {}, "tiny_censored": {}, "three_patients": {},
    "myeloid": {"safety"}, "no_adverse_events": {"safety"}, "no_transplant": {"transplant"},
    "mgus2": {"efficacy", "transplant", "safety"},
}


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_book_results_on_every_matrix_cohort(matrix_dir, name):
    from nscore.data.load import load_cohort

    cohort = load_cohort(matrix_dir(name))
    f = results.book_results(cohort)  # never raises
    ard.validate(f)
    assert set(f.attrs["skipped"]) == set(EXPECTED_SKIPS[name]), f.attrs["skipped"]
    ids = set(f["analysis_id"])
    assert {"flow.infused", "os.km", "pfs.km", "followup.os", "headline.n_infused", "followup.potential"} <= ids
    if name == "one_diagnosis":  # one curve, recorded as the chapter records it; nothing to test
        assert set(f.loc[f["analysis_id"] == "os.km.diag", "group_level"]) == {"T-ALL"}
        assert "os.km.diag.logrank" not in ids
    if name == "tiny_censored":  # everyone censored: medians not reached, no events
        v = dict(zip(ard.row_key(f), f["value"]))
        assert v["os.km|=|events"] == 0 and math.isinf(v["os.km|=|median"])
    if "safety" in EXPECTED_SKIPS[name]:
        assert not any(i.startswith("safety.") for i in ids)
        hv = f[f["analysis_id"] == "headline.crs_g3"]
        assert hv["value"].isna().all()  # not collected: rows kept, NaN


def test_book_results_comparable_across_any_two_cohorts(matrix_dir):
    """What changed across two different deliveries: analyses added and dropped are listed."""
    from nscore.data.load import load_cohort

    a = results.book_results(load_cohort(matrix_dir("three_patients")))
    b = results.book_results(load_cohort(matrix_dir("no_adverse_events")))
    cmp = changes.compare(a, b)
    dropped = cmp[cmp["kind"] == "dropped"]
    assert (dropped[dropped["analysis_id"].str.startswith("safety.")]["rule"] == "analysis dropped").all()
    assert isinstance(cmp, pd.DataFrame) and cmp["changed"].any()


def test_ids_the_chapters_record_are_in_the_book_plan(shipped_ards):
    """The analysis ids a chapter names when it records survival rows are ids of book_results, so the
    executed chapters' ARD and the plan's ARD of a cutoff describe the same analyses."""
    import re

    named = set()
    for page in sorted((ROOT / "chapters" / "src").glob("*.md")):
        named |= set(re.findall(r"survival_rows\.[a-z_]+\([^,()]+,\s*\"([a-z0-9_.-]+)\"", page.read_text("utf-8")))
    plan = set(shipped_ards["2026-02-01"]["analysis_id"])
    assert named, "no chapter records survival rows"
    assert named <= plan, named - plan

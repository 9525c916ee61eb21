"""The abstract's figures (the ``published`` block of data/study.yml) and their reproduction.

Published values are copied from the abstract (ASH 2025, Zhang X, Lu P et al., shared/seed/ beside
the checkout): the test below re-reads the abstract text so that a typo in ``data/study.yml``
cannot slip through.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from nscore.analyses import published as pub
from nscore.data.study import read_study
from cohorts import ROOT, shipped_cohort, tiny_cohort

ABSTRACT = ROOT.parent / "shared" / "seed" / "000_a34d2ef30ea8f0ef.txt"
PUBLISHED = read_study(ROOT / "data" / "study.yml").published


def test_published_cutoff():
    assert PUBLISHED.cutoff == date(2025, 8, 1)
    assert PUBLISHED.source == "zhang2025ash"


def test_every_figure_names_a_known_statistic():
    assert {f.statistic for f in PUBLISHED.figures} <= set(pub.STATISTICS)


def test_no_published_block_means_nothing_to_compare():
    cohort = tiny_cohort()
    cohort.study = dataclasses.replace(cohort.study, published=None)
    assert pub.reproduction_table(cohort) is None


def test_keys_unique_and_complete():
    keys = [f.key for f in PUBLISHED.figures]
    assert len(keys) == len(set(keys))
    for k in ("n_patients", "diag_tall", "diag_tlbl", "diag_mpal", "diag_aml", "diag_ptcl", "age", "male",
              "female", "prior_hct", "prior_hct_2", "blasts_20", "dose_levels", "median_dose", "n_evaluable",
              "orr", "cr_cri", "hct", "hct_interval", "pfs_median_observed", "os_median_observed", "crs",
              "crs_g12", "crs_g3", "icans", "icans_g12", "icans_g3"):
        assert k in keys


@pytest.mark.skipif(not ABSTRACT.exists(), reason="abstract copy not on this machine")
def test_every_number_of_the_results_is_covered():
    """Each number printed in the abstract's Results appears in some published value."""
    text = ABSTRACT.read_text(encoding="utf-8")
    results = text.split("Results", 1)[1].split("Conclusion", 1)[0]
    numbers = set(re.findall(r"\d+(?:\.\d+)?", results))
    # grades 1-2 and >=3, 1x10^6, the year, the ">=20%" threshold, "CD7"
    numbers -= {"1", "2", "3", "10", "6", "2025", "20", "7"}
    covered = " ".join(f.value for f in PUBLISHED.figures)
    covered_numbers = set(re.findall(r"\d+(?:\.\d+)?", covered))
    assert numbers - covered_numbers == set()
    # and the published strings' numbers are all in the abstract (no typo)
    # (the abstract spells 88 out: "Eighty-eight patients (26.3%)")
    assert "Eighty-eight patients (26.3%)" in text
    assert covered_numbers - set(re.findall(r"\d+(?:\.\d+)?", text)) == {"88"}


def test_reproduction_table_shape_on_tiny():
    r = pub.reproduction_table(tiny_cohort())
    assert list(r.table.columns) == ["key", "figure", "published", "reproduced", "match"]
    assert r.n_figures == len(PUBLISHED.figures)
    assert not r.all_match  # 8 patients cannot give the abstract
    t = r.table.set_index("key")
    # formatted like the abstract: tiny has 3 T-ALL of 8 -> 37.5%; ORR 5/7
    assert t.loc["diag_tall", "reproduced"] == "3 (37.5%)"
    assert t.loc["orr", "reproduced"] == "71.4% (5/7)"
    assert t.loc["dose_levels", "reproduced"] == "three"
    assert t.loc["median_dose", "reproduced"] == "1\u00d710\u2076 cells/kg"
    assert t.loc["crs_g3", "reproduced"] == "37.5%"  # 3/8


def test_every_row_matches_for_shipped_data():
    r = pub.reproduction_table(shipped_cohort())
    bad = r.table.loc[~r.table["match"], ["key", "published", "reproduced"]]
    assert bad.empty, "\n" + bad.to_string()
    assert r.all_match and r.n_match == len(PUBLISHED.figures)
    assert r.is_published_cutoff and r.cutoff == date(2025, 8, 1)


def test_later_cutoff_differs_only_in_follow_up_figures():
    """Same patients at a later cutoff: baseline, response and safety figures still match."""
    from cohorts import ROOT

    if not (ROOT / "data" / "cutoffs" / "2026-02-01").is_dir():
        pytest.skip("second shipped cutoff not there")
    r = pub.reproduction_table(shipped_cohort("2026-02-01"))
    assert not r.is_published_cutoff
    changed = set(r.table.loc[~r.table["match"], "key"])
    assert "cutoff" in changed
    assert changed <= {"cutoff", "hct", "hct_interval", "pfs_median_observed", "os_median_observed"}


def test_shared_tables_computed_once_per_reproduction(monkeypatch):
    """The six adverse-event figures share one max_grades, the two rates one response_rates."""
    calls = {"max_grades": 0, "response_rates": 0}
    for name in calls:
        original = getattr(pub, name)

        def counted(cohort, _name=name, _original=original):
            calls[_name] += 1
            return _original(cohort)

        monkeypatch.setattr(pub, name, counted)
    r = pub.reproduction_table(tiny_cohort())
    assert calls == {"max_grades": 1, "response_rates": 1}
    assert r.table.set_index("key").loc["icans_g3", "reproduced"] == "25.0%"  # 0002, 0008 of 8


def test_failing_shared_table_is_reported_on_each_of_its_figures():
    """No safety population: every adverse-event figure says why, the others are still computed."""
    cohort = tiny_cohort()
    cohort.adsl = cohort.adsl.assign(SAFFL="N")
    t = pub.reproduction_table(cohort).table.set_index("key")
    for key in ("crs", "crs_g12", "crs_g3", "icans", "icans_g12", "icans_g3"):
        assert t.loc[key, "reproduced"].startswith("error: AnalysisInputError: no patients in the"), key
    assert t.loc["orr", "reproduced"] == "71.4% (5/7)"

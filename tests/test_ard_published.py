"""Published versus reproduced as a join (nscore.analyses.published.published_rows / reproduction_join /
reproduction_summary, and the abstract's own rows, abstract_rows)."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from cohorts import ROOT, shipped_cohort, tiny_cohort
from nscore.analyses import ard, published as pub, results
from nscore.data.study import read_study

PUBLISHED = read_study(ROOT / "data" / "study.yml").published


def test_published_rows_shape_and_numbers():
    p = pub.published_rows(PUBLISHED)
    assert list(p.columns) == pub.PUBLISHED_COLUMNS
    orr = p[p["key"] == "orr"].set_index("stat")
    assert orr["analysis_id"].unique().tolist() == ["efficacy.orr"]
    assert (orr.loc["percent", "published_value"], orr.loc["n", "published_value"], orr.loc["N", "published_value"]) \
        == (86.3, 284, 329)
    assert orr.loc["percent", "decimals"] == 1 and orr.loc["n", "decimals"] == 0
    assert orr.loc["n", "published_text"] == "86.3% (284/329)" and set(p["source"]) == {"zhang2025ash"}
    # every figure of the study definition is there, mapped or not
    assert set(p["key"]) == {f.key for f in PUBLISHED.figures}
    # every figure has its ARD row(s): no figure is compared as text
    assert (p["analysis_id"] != "").all() and p["analysis_id"].map(ard.ID_RULE.match).all()
    t = p.set_index(["key", "stat"])
    # dates are numbers (days since 1970-01-01, unit "date"), a number word its numeral
    assert t.loc[("infusion_window", "min"), "published_value"] == ard.date_value("2020-11-09")
    assert t.loc[("infusion_window", "max"), "published_value"] == ard.date_value("2025-05-21")
    assert t.loc[("cutoff", "max"), "unit"] == "date" and t.loc[("cutoff", "max"), "published_value"] == \
        ard.date_value("2025-08-01")
    assert t.loc[("dose_levels", "n"), "published_value"] == 3
    assert (t.loc[("prior_hct", "n"), "analysis_id"], t.loc[("prior_hct", "percent"), "published_value"]) == \
        ("baseline.priorhct_any", 26.3)
    assert [t.loc[("hct_interval", s), "published_value"] for s in ("median", "min", "max")] == [57, 28, 227]


def test_sentence_is_carried_when_the_study_gives_one():
    fig = PUBLISHED.figures[0]
    with_sentence = type("Fig", (), {**{f.name: getattr(fig, f.name) for f in dataclasses.fields(fig)},
                                     "kwargs": fig.kwargs, "sentence": "ORR was 86.3% (284/329)."})()
    p = pub.published_rows(dataclasses.replace(PUBLISHED, figures=(with_sentence,)))
    assert set(p["sentence"]) == {"ORR was 86.3% (284/329)."}
    rows = pub.published_rows(PUBLISHED).set_index("key")
    for f in PUBLISHED.figures:  # the study definition's own sentences (optional per figure)
        assert set(rows.loc[[f.key], "sentence"]) == {getattr(f, "sentence", None) or ""}


def test_reproduction_join_shipped_all_mapped_figures_match():
    ard_rows = results.book_results(shipped_cohort(PUBLISHED.cutoff.isoformat()))
    j = pub.reproduction_join(pub.published_rows(PUBLISHED), ard_rows)
    assert list(j.columns) == pub.JOIN_COLUMNS
    assert j["match"].all(), j.loc[~j["match"], ["key", "stat", "published_value", "reproduced_rounded"]].to_string()
    orr = j[(j["key"] == "orr")].set_index("stat")
    assert orr.loc["n", "row_key"] == "efficacy.orr|=|n" and orr.loc["n", "reproduced_value"] == 284
    assert orr.loc["percent", "reproduced_value"] == 100 * 284 / 329  # full precision kept beside the rounding
    d = j.set_index(["key", "stat"])
    assert d.loc[("cutoff", "max"), "row_key"] == "flow.cutoff|=|max" and d.loc[("cutoff", "max"), "unit"] == "date"
    assert d.loc[("hct_interval", "median"), "row_key"] == "transplant.interval|=|median"
    r = pub.reproduction_summary(j, PUBLISHED, PUBLISHED.cutoff)
    assert (r.n_figures, r.n_match, r.all_match, r.is_published_cutoff) == (len(PUBLISHED.figures),) * 2 + (True, True)


def test_later_cutoff_differs_only_in_follow_up_figures():
    """Same patients at a later cutoff: baseline, response and safety figures still match."""
    j = pub.reproduction_join(pub.published_rows(PUBLISHED), results.book_results(shipped_cohort("2026-02-01")))
    r = pub.reproduction_summary(j, PUBLISHED, "2026-02-01")
    assert not r.is_published_cutoff and not r.all_match
    changed = set(j.loc[~j["match"], "key"])
    assert "cutoff" in changed
    assert changed <= {"cutoff", "hct", "hct_interval", "pfs_median_observed", "os_median_observed"}


def test_abstract_rows_on_tiny_and_without_the_variables():
    """The abstract's own rows: counts and dates from tiny (8 patients); an uncollected variable
    gives no rows of its analysis, an empty population NaN summaries, never an exception."""
    c = tiny_cohort()
    rows = ard.frame(pub.abstract_rows(c))
    ard.validate(rows)
    v = dict(zip(ard.row_key(rows), rows["value"]))
    assert v["flow.infusion_dates|=|n"] == 8 and v["flow.cutoff|=|max"] == ard.date_value("2025-08-01")
    assert v["flow.infusion_dates|=|min"] <= v["flow.infusion_dates|=|max"] < v["flow.cutoff|=|max"]
    assert v["baseline.priorhct_any|=|N"] == 8 and v["baseline.dose_levels|=|n"] == 3
    assert set(rows.loc[rows["unit"] == "date", "stat"]) == {"min", "max"}
    c.adsl = c.adsl.drop(columns=["PRIORHCT", "DOSELVL", "HCTDT"])
    ids = set(ard.frame(pub.abstract_rows(c))["analysis_id"])
    assert ids == {"flow.infusion_dates", "flow.cutoff"}
    c = tiny_cohort()
    c.adsl = c.adsl.assign(HCTFL="N")
    t = ard.frame(pub.abstract_rows(c)).set_index(["analysis_id", "stat"])["value"]
    assert t[("transplant.interval", "n")] == 0 and math.isnan(t[("transplant.interval", "median")])


def test_reproduction_join_tiny_differs_and_missing_rows():
    c = tiny_cohort()
    j = pub.reproduction_join(pub.published_rows(PUBLISHED), results.book_results(c)).set_index(["key", "stat"])
    assert j.loc[("orr", "n"), "status"] == "differs" and j.loc[("orr", "n"), "reproduced_value"] == 5
    assert j.loc[("n_patients", "n"), "reproduced_value"] == 8
    # a published figure whose ARD row is absent (no such level) is "no ARD row", not an error
    empty = pub.reproduction_join(pub.published_rows(PUBLISHED), ard.frame([]))
    assert set(empty["status"]) == {"no ARD row"} and not empty["match"].any()
    assert empty["reproduced_value"].isna().all()
    r = pub.reproduction_summary(empty, PUBLISHED, PUBLISHED.cutoff)
    assert (r.n_match, r.all_match) == (0, False) and r.n_figures == len(PUBLISHED.figures)


def test_a_statistic_without_an_ard_mapping_is_no_ard_row():
    fig = dataclasses.replace(PUBLISHED.figures[0], statistic="not_a_statistic")
    p = pub.published_rows(dataclasses.replace(PUBLISHED, figures=(fig,)))
    assert p["analysis_id"].tolist() == [""]
    j = pub.reproduction_join(p, ard.frame([]))
    assert j["status"].tolist() == ["no ARD row"]


def test_printed_numbers():
    assert pub.printed_numbers("November 9, 2020, to May 21, 2025") == [
        (ard.date_value("2020-11-09"), 0, "date"), (ard.date_value("2025-05-21"), 0, "date")]
    assert pub.printed_numbers("three") == [(3.0, 0, "")]
    assert pub.printed_numbers("547.5 (range, 45\u20131694)") == [(547.5, 1, ""), (45.0, 0, ""), (1694.0, 0, "")]


def test_half_up_rounding_at_the_published_precision():
    assert pub._round_half_up(84.49848024316109, 1) == 84.5  # 278/329
    assert pub._round_half_up(2.25, 1) == 2.3 and pub._round_half_up(547.5, 1) == 547.5
    assert math.isinf(pub._round_half_up(math.inf, 1))
    p = pd.DataFrame([{"key": "k", "figure": "f", "analysis_id": "efficacy.orr", "group_var": "", "group_level": "",
                       "stat": "percent", "unit": "", "published_value": 86.3, "decimals": 1, "published_text": "86.3%",
                       "sentence": "", "source": "s"}])
    rows = ard.frame([ard.row("efficacy.orr", "percent", 86.34, unit="%")])
    assert pub.reproduction_join(p, rows)["match"].tolist() == [True]
    rows = ard.frame([ard.row("efficacy.orr", "percent", 86.36, unit="%")])
    assert pub.reproduction_join(p, rows)["status"].tolist() == ["differs"]


def test_dates_print_through_the_one_formatter():
    from nscore.report import format as fmt

    v = ard.date_value("2025-08-01")
    assert fmt.date(v) == "August 1, 2025" and fmt.value(v, "date") == "August 1, 2025"
    assert fmt.date(ard.date_value("2020-11-09")) == "November 9, 2020"
    assert math.isnan(ard.date_value(None))
    for bad in (math.nan, 1.5):
        try:
            fmt.date(bad)
        except fmt.FormatError:
            pass
        else:
            raise AssertionError(bad)


def test_reproduction_display_is_the_join_printed():
    """The Results table: both sides of every published number through nscore.report.format, each
    carrying its key; dates as dates; a figure without ARD row says so."""
    from nscore.report import presenters
    from nscore.report.trace import Traced

    c = shipped_cohort(PUBLISHED.cutoff.isoformat())
    j = pub.reproduction_join(pub.published_rows(PUBLISHED), ard.frame(pub.abstract_rows(c)))
    t = presenters.reproduction_join_display(j, "2025-08-01")
    window = t[t["Figure"] == "observation period (infusions)"]
    assert window["Published"].tolist() == ["November 9, 2020", "May 21, 2025"]
    assert window["Reproduced"].tolist() == ["November 9, 2020", "May 21, 2025"]
    assert window["Statistic"].tolist() == ["first", "last"] and set(window["Match"]) == {"yes"}
    cut = t[t["Figure"] == "as of (data cutoff)"].iloc[0]
    assert isinstance(cut["Reproduced"], Traced) and cut["Reproduced"].key == "flow.cutoff|=|max@2025-08-01"
    assert cut["Published"].key == "published.cutoff|=|max@2025-08-01"
    levels = t[t["Figure"] == "different dose levels"].iloc[0]
    assert (levels["Statistic"], levels["Published"], levels["Reproduced"], levels["Match"]) == ("count", "3", "3", "yes")
    orr = t[t["Figure"] == "ORR"]  # not in abstract_rows: no ARD row here
    assert set(orr["Reproduced"]) == {"no ARD row"} and set(orr["Match"]) == {"no"}
    ref = presenters.published_reference_rows(pub.published_rows(PUBLISHED), "2025-08-01")
    assert set(ref.loc[ref["analysis_id"] == "published.cutoff", "unit"]) == {"date"}

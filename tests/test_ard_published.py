"""Published versus reproduced as a join (nscore.analyses.published.published_rows / reproduction_join)."""

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
    unmapped = set(p.loc[p["analysis_id"] == "", "key"])
    assert unmapped == {"infusion_window", "prior_hct", "dose_levels", "cutoff", "hct_interval"}
    assert p.loc[p["analysis_id"] != "", "analysis_id"].map(ard.ID_RULE.match).all()


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
    mapped = j[j["analysis_id"] != ""]
    assert mapped["match"].all(), mapped.loc[~mapped["match"], ["key", "stat", "published_value",
                                                               "reproduced_rounded"]].to_string()
    assert set(j.loc[j["analysis_id"] == "", "status"]) == {"no ARD row"}
    orr = j[(j["key"] == "orr")].set_index("stat")
    assert orr.loc["n", "row_key"] == "efficacy.orr|=|n" and orr.loc["n", "reproduced_value"] == 284
    assert orr.loc["percent", "reproduced_value"] == 100 * 284 / 329  # full precision kept beside the rounding
    # the text comparison of the existing table agrees on the mapped figures
    text = pub.reproduction_table(shipped_cohort(PUBLISHED.cutoff.isoformat())).table.set_index("key")
    assert text.loc[sorted(set(mapped["key"])), "match"].all()


def test_reproduction_join_tiny_differs_and_missing_rows():
    c = tiny_cohort()
    j = pub.reproduction_join(pub.published_rows(PUBLISHED), results.book_results(c)).set_index(["key", "stat"])
    assert j.loc[("orr", "n"), "status"] == "differs" and j.loc[("orr", "n"), "reproduced_value"] == 5
    assert j.loc[("n_patients", "n"), "reproduced_value"] == 8
    # a published figure whose ARD row is absent (no such level) is "no ARD row", not an error
    empty = pub.reproduction_join(pub.published_rows(PUBLISHED), ard.frame([]))
    assert set(empty["status"]) == {"no ARD row"} and not empty["match"].any()
    assert empty["reproduced_value"].isna().all()


def test_half_up_rounding_at_the_published_precision():
    assert pub._round_half_up(84.49848024316109, 1) == 84.5  # 278/329
    assert pub._round_half_up(2.25, 1) == 2.3 and pub._round_half_up(547.5, 1) == 547.5
    assert math.isinf(pub._round_half_up(math.inf, 1))
    p = pd.DataFrame([{"key": "k", "figure": "f", "analysis_id": "efficacy.orr", "group_var": "", "group_level": "",
                       "stat": "percent", "published_value": 86.3, "decimals": 1, "published_text": "86.3%",
                       "sentence": "", "source": "s"}])
    rows = ard.frame([ard.row("efficacy.orr", "percent", 86.34, unit="%")])
    assert pub.reproduction_join(p, rows)["match"].tolist() == [True]
    rows = ard.frame([ard.row("efficacy.orr", "percent", 86.36, unit="%")])
    assert pub.reproduction_join(p, rows)["status"].tolist() == ["differs"]

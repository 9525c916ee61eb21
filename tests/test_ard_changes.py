"""What changed, number by number (nscore.analyses.changes): each rule on hand-made ARDs, and the
thresholds config data/what-changed.yml."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from cohorts import ROOT
from nscore.analyses import ard, changes
from nscore.errors import AnalysisInputError

T = {"version": 1, "percent_points": 5.0, "days": 30.0, "count": 0.0, "hazard_ratio_relative": 0.2,
     "p_value_level": 0.05, "ci_excludes_previous": True, "reached": True, "estimable": True}


def A(*rows, cutoff="2025-08-01"):
    """An ARD from (analysis_id, group_var, group_level, stat, value, unit) tuples."""
    f = ard.frame([ard.row(a, s, v, group_var=gv, group_level=gl, unit=u) for a, gv, gl, s, v, u in rows])
    return f.assign(cutoff=cutoff)


def rule(prev_rows, cur_rows, key, thresholds=T):
    cmp = changes.compare(A(*prev_rows), A(*cur_rows, cutoff="2026-02-01"), thresholds).set_index("row_key")
    return cmp.loc[key, "rule"], bool(cmp.loc[key, "changed"])


def test_config_file_is_the_documented_one():
    t = changes.load_thresholds()
    raw = yaml.safe_load((ROOT / "data" / "what-changed.yml").read_text(encoding="utf-8"))
    assert t == changes.check_thresholds(raw) and set(t) == set(changes.THRESHOLD_KEYS)
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "what-changed.yml" in readme
    for key in changes.THRESHOLD_KEYS:
        assert f"`{key}`" in readme, key


@pytest.mark.parametrize("raw, message", [
    ({**T, "extra": 1}, "unknown keys"),
    ({k: v for k, v in T.items() if k != "days"}, "missing keys"),
    ({**T, "days": -1}, "number >= 0"),
    ({**T, "reached": "yes"}, "true or false"),
    ([1, 2], "mapping"),
])
def test_bad_thresholds_refused(raw, message):
    with pytest.raises(AnalysisInputError, match=message):
        changes.check_thresholds(raw)


def test_median_becoming_reached_and_no_longer_reached():
    r, c = rule([("os.km", "", "", "median", math.inf, "days")], [("os.km", "", "", "median", 612, "days")],
                "os.km|=|median")
    assert (r, c) == ("median became reached", True)
    r, _ = rule([("os.km", "", "", "upper", 900, "days")], [("os.km", "", "", "upper", math.inf, "days")],
                "os.km|=|upper")
    assert r == "limit no longer reached"
    r, c = rule([("os.km", "", "", "median", math.inf, "days")], [("os.km", "", "", "median", math.inf, "days")],
                "os.km|=|median")
    assert (r, c) == ("", False)


def test_estimable_rule():
    r, _ = rule([("os.km", "YEARS", "2", "rate", math.nan, "%")], [("os.km", "YEARS", "2", "rate", 63.9, "%")],
                "os.km|YEARS=2|rate")
    assert r == "became estimable"
    r, _ = rule([("os.km", "YEARS", "2", "rate", 63.9, "%")], [("os.km", "YEARS", "2", "rate", math.nan, "%")],
                "os.km|YEARS=2|rate")
    assert r == "no longer estimable"


def test_percent_threshold_is_strict():
    key = "efficacy.orr|=|percent"
    assert rule([("efficacy.orr", "", "", "percent", 80.0, "%")], [("efficacy.orr", "", "", "percent", 85.0, "%")],
                key) == ("", False)  # exactly 5 points: within
    r, c = rule([("efficacy.orr", "", "", "percent", 80.0, "%")], [("efficacy.orr", "", "", "percent", 85.1, "%")],
                key)
    assert c and r == changes.RULES["percent_points"]


def test_count_change_any_and_with_a_threshold():
    prev, cur = [("os.km", "", "", "events", 115, "patients")], [("os.km", "", "", "events", 116, "patients")]
    assert rule(prev, cur, "os.km|=|events") == (changes.RULES["count"], True)
    assert rule(prev, cur, "os.km|=|events", {**T, "count": 1}) == ("", False)


def test_ci_no_longer_containing_the_earlier_estimate():
    prev = [("os.km", "YEARS", "1", "rate", 72.0, "%"), ("os.km", "YEARS", "1", "lower", 67.0, "%"),
            ("os.km", "YEARS", "1", "upper", 77.0, "%")]
    cur = [("os.km", "YEARS", "1", "rate", 68.0, "%"), ("os.km", "YEARS", "1", "lower", 64.0, "%"),
           ("os.km", "YEARS", "1", "upper", 71.9, "%")]
    r, c = rule(prev, cur, "os.km|YEARS=1|rate")
    assert c and r == "CI no longer contains the earlier estimate"  # 4 points: only the CI rule
    assert rule(prev, cur, "os.km|YEARS=1|rate", {**T, "ci_excludes_previous": False}) == ("", False)
    cur_wide = cur[:2] + [("os.km", "YEARS", "1", "upper", 72.0, "%")]
    assert rule(prev, cur_wide, "os.km|YEARS=1|rate") == ("", False)  # the limit itself still contains it


def test_median_days_hr_and_p_rules():
    assert rule([("followup.os", "", "", "median", 933, "days")], [("followup.os", "", "", "median", 964, "days")],
                "followup.os|=|median")[0] == changes.RULES["days"]
    assert rule([("os.hct.tdcox", "", "", "hr", 0.30, "")], [("os.hct.tdcox", "", "", "hr", 0.37, "")],
                "os.hct.tdcox|=|hr")[0] == changes.RULES["hazard_ratio_relative"]
    assert rule([("os.hct.tdcox", "", "", "hr", 0.30, "")], [("os.hct.tdcox", "", "", "hr", 0.35, "")],
                "os.hct.tdcox|=|hr") == ("", False)
    assert rule([("os.km.diag.logrank", "", "", "p", 0.04, "")], [("os.km.diag.logrank", "", "", "p", 0.06, "")],
                "os.km.diag.logrank|=|p")[0] == changes.RULES["p_value_level"]


def test_analyses_and_rows_added_or_dropped():
    prev = A(("safety.crs.g3", "", "", "percent", 10.2, "%"), ("efficacy.orr.subgroup", "DIAGNOSIS", "AML", "n", 3, "patients"),
             ("efficacy.orr.subgroup", "DIAGNOSIS", "T-ALL", "n", 100, "patients"))
    cur = A(("efficacy.orr.subgroup", "DIAGNOSIS", "T-ALL", "n", 100, "patients"),
            ("efficacy.orr.subgroup", "DIAGNOSIS", "PTCL", "n", 2, "patients"),
            ("os.landmark", "", "", "N", 300, "patients"), cutoff="2026-02-01")
    cmp = changes.compare(prev, cur, T).set_index("row_key")
    assert list(cmp.columns) == [c for c in changes.COLUMNS if c != "row_key"]
    assert cmp.loc["os.landmark|=|N", ["kind", "rule"]].tolist() == ["added", "analysis added"]
    assert cmp.loc["safety.crs.g3|=|percent", ["kind", "rule"]].tolist() == ["dropped", "analysis dropped"]
    assert cmp.loc["efficacy.orr.subgroup|DIAGNOSIS=PTCL|n", "rule"] == "row added"
    assert cmp.loc["efficacy.orr.subgroup|DIAGNOSIS=AML|n", "rule"] == "row dropped"
    assert cmp.loc["efficacy.orr.subgroup|DIAGNOSIS=T-ALL|n", ["kind", "changed"]].tolist() == ["both", False]
    assert set(cmp["previous_cutoff"]) == {"2025-08-01"} and set(cmp["current_cutoff"]) == {"2026-02-01"}
    assert math.isnan(cmp.loc["os.landmark|=|N", "previous"]) and math.isnan(cmp.loc["os.landmark|=|N", "change"])


def test_duplicate_keys_refused():
    dup = A(("os.km", "", "", "N", 1, "patients"), ("os.km", "", "", "N", 2, "patients"))
    with pytest.raises(AnalysisInputError, match="duplicate"):
        changes.compare(dup, dup, T)


def test_compare_consecutive_and_summary():
    a = A(("os.km", "", "", "events", 10, "patients"), ("os.km", "", "", "N", 50, "patients"), cutoff="2025-08-01")
    b = A(("os.km", "", "", "events", 12, "patients"), ("os.km", "", "", "N", 50, "patients"), cutoff="2026-02-01")
    c = A(("os.km", "", "", "events", 12, "patients"), ("os.km", "", "", "N", 50, "patients"),
          ("relapse.cif", "", "", "N", 50, "patients"), cutoff="2026-08-01")
    cmp = changes.compare_consecutive([c, a, b], T)  # any order: sorted by cutoff
    assert list(cmp.drop_duplicates(["previous_cutoff", "current_cutoff"])[["previous_cutoff", "current_cutoff"]]
                .itertuples(index=False, name=None)) == [("2025-08-01", "2026-02-01"), ("2026-02-01", "2026-08-01")]
    s = changes.summary(cmp)
    assert s.to_dict("records") == [
        {"previous_cutoff": "2025-08-01", "current_cutoff": "2026-02-01", "analysis_id": "os.km", "rows": 2,
         "changed": 1, "rules": changes.RULES["count"]},
        {"previous_cutoff": "2026-02-01", "current_cutoff": "2026-08-01", "analysis_id": "relapse.cif", "rows": 1,
         "changed": 1, "rules": "analysis added"}]
    assert changes.compare_consecutive([a], T).empty
    with pytest.raises(AnalysisInputError, match="share a cutoff"):
        changes.compare_consecutive([a, a], T)


def test_rule_texts_carry_no_number_and_the_thresholds_are_rows():
    """The listed rules name their threshold; its value is an ARD row the page states traced."""
    import re

    assert not any(re.search("[0-9]", text) for text in changes.RULES.values())
    rows = pd.DataFrame(changes.threshold_rows(T))
    keys = set(rows["analysis_id"] + "|" + rows["group_var"] + "=" + rows["group_level"] + "|" + rows["stat"])
    assert {changes.threshold_key(k) for k in changes.RULES} == keys
    assert rows.set_index("group_level").loc["hazard_ratio_relative", "value"] == 100 * T["hazard_ratio_relative"]


def test_comparison_and_headline_change_rows():
    assert changes.comparison_rows(None) == []
    cmp = changes.compare(A(("os.km", "", "", "events", 115, "patients")),
                          A(("os.km", "", "", "events", 116, "patients"), cutoff="2026-02-01"), T)
    got = {r["analysis_id"]: r["value"] for r in changes.comparison_rows(cmp)}
    assert got == {"changes.compared": 1, "changes.listed": 1}
    headline = pd.DataFrame({"key": ["orr", "os_median"], "label": ["ORR", "Median OS"], "unit": ["%", "days"],
                             "change": [0.1, float("nan")]})
    rows = changes.headline_change_rows(headline)
    assert [(r["group_level"], r["value"], r["unit"]) for r in rows] == [("orr", 0.1, "%")]
    assert changes.headline_change_key("orr") == "changes.headline|figure=orr|estimate"

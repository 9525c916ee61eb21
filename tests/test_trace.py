"""nscore.report.trace: the {ard} role on a toy book built with jupyter-book (-W).

The toy page is a hand-made executed notebook holding every way a number reaches a page: typed
in a Markdown cell, glued as text/markdown and cited with ``{glue:md}`key:myst``` (inline) and the
``glue:md`` directive, emitted by a code cell as MyST (``narrative.md``), in a list-table cell and
in a reStructuredText grid-table cell (``Table.grid_table``); the last cell holds the page's ARD
rows (MIME ``application/vnd.nscore.ard+json``) as the chapters' recorder emits them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from nscore.report import trace

GLUE = "application/papermill.record/"
ORR = "86.3% (284/329; 95% CI 82.1\u201389.8)"
ROWS = [
    {"cutoff": "2025-06-30", "data_version": "abcdef0123456789", "analysis_id": "efficacy.orr",
     "population": "efficacy-evaluable (EFFFL)", "endpoint": "ORR", "group_var": "", "group_level": "",
     "stat": stat, "value": value, "unit": unit, "method": "Clopper-Pearson exact",
     "label": "Overall response rate (CR/CRi/PR)", "chapter": "index", "cell": 7}
    for stat, value, unit in (("n", 284.0, "patients"), ("N", 329.0, "patients"),
                              ("percent", 86.32, "%"), ("lower", 82.14, "%"), ("upper", 89.83, "%"))
] + [
    {"cutoff": "2025-06-30", "data_version": "abcdef0123456789", "analysis_id": "os.km",
     "population": "infused (SAFFL)", "endpoint": "OS", "group_var": "", "group_level": "",
     "stat": stat, "value": value, "unit": "days", "method": "Kaplan-Meier, log-log 95% CI",
     "label": "Median overall survival", "chapter": "index", "cell": 8}
    for stat, value in (("N", 334.0), ("median", float("inf")), ("lower", 900.0), ("upper", float("inf")))
]


def _md_output(text: str, glue_key: str | None = None) -> nbformat.NotebookNode:
    if glue_key:
        return nbformat.v4.new_output("display_data", data={GLUE + "text/markdown": text,
                                                            GLUE + "text/plain": repr(text)},
                                      metadata={"scrapbook": {"name": glue_key, "mime_prefix": GLUE}})
    return nbformat.v4.new_output("display_data", data={"text/markdown": text, "text/plain": text})


def _payload(rows):
    """As nscore.analyses.ard.to_payload writes it: inf -> "Infinity", NaN -> "NaN"."""
    def v(x):
        return "Infinity" if x == float("inf") else "NaN" if x != x else x
    return {"rows": [{**r, "value": v(r["value"])} for r in rows]}


def _toy_book(root: Path, body_extra: str = "", rows=ROWS) -> Path:
    from nscore.report import tables
    import pandas as pd

    orr_role = trace.role(ORR, "efficacy.orr")
    grid = tables.Table(pd.DataFrame({"Figure": ["ORR", "Median OS"],
                                      "Estimate": [ORR, "not reached (95% CI 900\u2013NR)"]}),
                        name="tbl-grid", caption="Grid table", row_kinds=("", ""),
                        keys={(0, "Estimate"): "efficacy.orr", (1, "Estimate"): "os.km"}).to_myst()
    lst = tables.Table(pd.DataFrame({"Figure": ["ORR"], "Estimate": [ORR]}), name="tbl-list",
                       caption="List table", keys={(0, "Estimate"): "efficacy.orr"}).to_myst()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    glue_cell = nbformat.v4.new_code_cell("glue(...)", metadata={"tags": ["remove-cell"]})
    glue_cell.outputs = [_md_output(orr_role, "orr_md"),
                         _md_output(trace.role("not reached (95% CI 900\u2013NR)", "os.km|=|median"), "os_md")]
    prose_cell = nbformat.v4.new_code_cell("narrative.md(...)", metadata={"tags": ["remove-input"]})
    prose_cell.outputs = [_md_output(f"From code: the ORR was {orr_role}.")]
    table_cell = nbformat.v4.new_code_cell("tables.table(...)", metadata={"tags": ["remove-input"]})
    table_cell.outputs = [_md_output(grid), _md_output(lst)]
    ard_cell = nbformat.v4.new_code_cell("ard.emit()", metadata={"tags": ["remove-cell", "nscore-ard"]})
    ard_cell.outputs = [nbformat.v4.new_output("display_data", data={trace.ARD_MIME: _payload(rows),
                                                                     "text/plain": "ARD rows"})]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy results\n\nTyped: the ORR was " + orr_role + ".\n\n"
                                      "Glued inline: {glue:md}`orr_md:myst`; median OS {glue:md}`os_md:myst`."
                                      + body_extra),
        glue_cell, prose_cell, table_cell,
        nbformat.v4.new_markdown_cell("```{glue:md} orr_md\n:format: myst\n```"),
        ard_cell,
    ]
    book = root / "book"
    book.mkdir()
    nbformat.write(nb, book / "index.ipynb")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (book / "_config.yml").write_text(
        "title: Toy\nauthor: tests\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "parse:\n  myst_enable_extensions: [colon_fence]\n"
        "sphinx:\n  extra_extensions: [nscore.report.trace]\n"
        "  config:\n    html_sourcelink_suffix: ''\n    numfig: true\n    nb_render_markdown_format: myst\n"
    )
    return book


def _build(book: Path, builder: str = "html") -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe), "build", str(book), "--builder", builder, "-W", "-n", "--keep-going"]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    book = _toy_book(tmp_path_factory.mktemp("trace"))
    proc = _build(book)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return book / "_build" / "html"


class _Spans(HTMLParser):
    """Each traced span: its attributes, its own text and its note's text."""

    def __init__(self):
        super().__init__()
        self.found, self._stack = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        cls = (attrs.get("class") or "").split()
        if tag == "span" and "nscore-ard" in cls:
            self.found.append({"attrs": attrs, "text": "", "note": "", "links": []})
            self._stack.append("number")
        elif tag == "span" and "nscore-ard-note" in cls:
            self.found[-1]["note_attrs"] = attrs
            self._stack.append("note")
        elif tag == "span" and self._stack:
            self._stack.append(self._stack[-1])
        elif tag == "a" and self._stack and self._stack[-1] == "note":
            self.found[-1]["links"].append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "span" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._stack:
            self.found[-1]["text" if self._stack[-1] == "number" else "note"] += data


def _spans(page: Path) -> list[dict]:
    p = _Spans()
    p.feed(page.read_text(encoding="utf-8"))
    return p.found


def test_every_route_renders_a_focusable_traced_number(site):
    spans = _spans(site / "index.html")
    texts = [s["text"] for s in spans]
    # typed, glue:md inline, from code, grid table, list table, glue:md directive; median OS twice
    assert texts.count(ORR) == 6, texts
    assert texts.count("not reached (95% CI 900\u2013NR)") == 2, texts
    for s in spans:
        a = s["attrs"]
        assert a["tabindex"] == "0"
        assert a["data-ard"] in ("efficacy.orr", "os.km", "os.km|=|median")
        assert a["aria-describedby"] == s["note_attrs"]["id"]
        assert s["note_attrs"]["role"] == "tooltip"
    ids = [s["note_attrs"]["id"] for s in spans]
    assert len(set(ids)) == len(ids)


def test_note_says_what_population_method_cutoff_version_and_where(site):
    spans = _spans(site / "index.html")
    orr = next(s for s in spans if s["attrs"]["data-ard"] == "efficacy.orr")
    note = orr["note"]
    for part in ("Overall response rate (CR/CRi/PR)", "efficacy-evaluable (EFFFL), N\u00a0=\u00a0329",
                 "Clopper-Pearson exact", "Data cutoff 2025-06-30", "abcdef012345", "ARD key efficacy.orr (ard-2025-06-30.csv)",
                 "cell [7]"):
        assert part in note, (part, note)
    assert "_sources/index.ipynb" in orr["links"]
    assert (site / "_sources" / "index.ipynb").is_file()
    # the prose number links to the numbered table that shows the same analysis
    assert "#tbl-grid" in orr["links"]
    assert re.search(r"Table 1\b", note)


def test_assets_are_local_and_notes_hidden_in_print(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "_static/nscore-ard.css" in html and "_static/nscore-ard.js" in html
    css = (site / "_static" / "nscore-ard.css").read_text()
    assert re.search(r"@media print\s*{[^@]*\.nscore-ard-note\s*{\s*display:\s*none", css)
    assert ":focus-within > .nscore-ard-note" in css and ":hover > .nscore-ard-note" in css
    assert (site / "_static" / "nscore-ard.js").is_file()
    assert not re.search(r"https?://", css + (site / "_static" / "nscore-ard.js").read_text())


def test_unknown_key_fails_a_strict_build_naming_page_and_key(tmp_path):
    book = _toy_book(tmp_path, body_extra="\n\nBad: {ard}`12.0% <efficacy.nothing>`.")
    proc = _build(book)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "unknown ARD key 'efficacy.nothing' on page 'index'" in out, out[-3000:]


def test_latex_shows_the_text_only(tmp_path):
    book = _toy_book(tmp_path)
    proc = _build(book, "latex")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    tex = next((book / "_build" / "latex").glob("*.tex")).read_text(encoding="utf-8")
    assert "82.1" in tex
    assert "Clopper" not in tex and "nscore-ard" not in tex and "tooltip" not in tex


def test_markup_helpers():
    assert trace.role("547 days", "os.km|=|median") == "{ard}`547 days <os.km|=|median>`"
    assert trace.parse("p < 0.001 <os.km.diag.logrank|=|p>") == ("p < 0.001", "os.km.diag.logrank|=|p")
    assert trace.rst_role("p < 0.001", "x.y") == r":ard:`p \< 0.001 <x.y>`"
    with pytest.raises(ValueError):
        trace.role("", "x")
    with pytest.raises(ValueError):
        trace.role("1", "Not A Key")
    rows = [dict(r) for r in ROWS]
    assert len(trace.resolve(rows, "efficacy.orr")) == 5
    assert [r["stat"] for r in trace.resolve(rows, "efficacy.orr|=|N")] == ["N"]
    assert trace.resolve(rows, "efficacy.orr|DIAG=T-ALL") == []


def test_reference_rows_are_cited_with_their_cutoff_only():
    own = [dict(r) for r in ROWS]
    ref = [{**r, "cutoff": "2024-01-01", "value": 80.0 if r["stat"] == "percent" else r["value"], "_reference": True}
           for r in ROWS if r["analysis_id"] == "efficacy.orr"]
    rows = own + ref
    assert [r["cutoff"] for r in trace.resolve(rows, "efficacy.orr|=|percent")] == ["2025-06-30"]
    assert [r["value"] for r in trace.resolve(rows, "efficacy.orr|=|percent@2024-01-01")] == [80.0]
    assert trace.resolve(rows, "efficacy.orr@2023-01-01") == []
    assert trace.role("80.0%", "efficacy.orr|=|percent@2024-01-01").endswith("<efficacy.orr|=|percent@2024-01-01>`")


def test_plain_build_names_the_ard_file_without_a_link(site):
    orr = next(s for s in _spans(site / "index.html") if s["attrs"]["data-ard"] == "efficacy.orr")
    assert "(ard-2025-06-30.csv)" in orr["note"]
    assert not any("ard-2025-06-30.csv" in (h or "") for h in orr["links"])  # no such file on a plain site


def test_pipeline_sites_link_the_cutoffs_ard_file():
    """On a pipeline-built version site (``nscore_ard_link``) the note links ``ard/ard-<cutoff>.csv``
    relative to the page; a number of another cutoff (``KEY@<cutoff>``) names that file only."""
    from types import SimpleNamespace

    from nscore.build import site as build_site

    assert trace.PIPELINE_ENV == build_site.STAGED_ENV
    assert trace.ARD_FILE.split("/")[0] == build_site.RESULTS_DIR
    config = SimpleNamespace(nscore_ard_link=True, html_copy_source=False)
    builder = SimpleNamespace(config=config, get_target_uri=lambda doc: f"{doc}.html")
    translator = SimpleNamespace(builder=builder)
    node = {"ard_label": "ORR", "ard_cutoff": "2026-02-01", "ard_key": "efficacy.orr", "ard_docname": "chapters/results",
            "ard_note_id": "ard-n1"}
    html = trace._note_html(translator, node)
    assert '(<a href="../ard/ard-2026-02-01.csv" download>ard-2026-02-01.csv</a>)' in html
    assert 'href="ard/ard-2026-02-01.csv"' in trace._note_html(translator, {**node, "ard_docname": "index"})
    assert "<a" not in trace._note_html(translator, {**node, "ard_reference": "1"})
    config.nscore_ard_link = False
    assert "<a" not in trace._note_html(translator, node) and "(ard-2026-02-01.csv)" in trace._note_html(translator, node)

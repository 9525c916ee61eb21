"""Fast tests of the site features of issue 16 items 6 and 7: citation metadata and CITATION.cff,
licences, the version lists and the notebook view (no book build; the built site is checked in
tests/test_site.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from nscore.build import notebookview
from nscore.report import citation, versions

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- citation, licences


def test_citation_cff_is_generated_from_config_and_valid_cff_1_2_0():
    """One source: CITATION.cff is exactly what _config.yml gives, and it validates against the
    Citation File Format 1.2.0 JSON schema (vendored from citation-file-format/citation-file-format)."""
    import jsonschema

    text = (REPO / "CITATION.cff").read_text(encoding="utf-8")
    assert text == citation.cff_text(CONFIG), "CITATION.cff is stale: python -m nscore.report.citation > CITATION.cff"
    doc = yaml.safe_load(text)
    schema = json.loads((REPO / "tests" / "data" / "cff-1.2.0-schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(doc)
    assert doc["cff-version"] == "1.2.0" and doc["title"] == CONFIG["title"]
    assert doc["authors"] == [{"name": CONFIG["author"]}]
    assert doc["license"] == ["CC-BY-4.0", "MIT"]
    assert "url" not in doc  # no public address configured yet (html.baseurl "")


def test_cff_names_the_public_address_when_configured():
    config = {**CONFIG, "html": {"baseurl": "https://publisher.invalid/ns7car"}}
    doc = yaml.safe_load(citation.cff_text(config))
    assert doc["url"] == "https://publisher.invalid/ns7car/"


def test_licence_files():
    code = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in code and "Permission is hereby granted, free of charge" in code
    assert "CC BY 4.0" in code and "LICENSE-TEXT.md" in code
    text = (REPO / "LICENSE-TEXT.md").read_text(encoding="utf-8")
    assert "Attribution 4.0 International" in text and "Section 1 -- Definitions." in text


def test_meta_tags_highwire_and_dublin_core():
    c = citation.Citation(title="A <book>", authors=("Team A", "Team B"), date="2026-02-03", cutoff="2026-02-01")
    tags = citation.meta_tags(c)
    names = re.findall(r'<meta name="([^"]+)" content="([^"]*)">', tags)
    got = {}
    for name, content in names:
        got.setdefault(name, []).append(content)
    assert got["citation_title"] == ["A &lt;book&gt;"] and got["DC.title"] == ["A &lt;book&gt;"]
    assert got["citation_author"] == ["Team A", "Team B"] == got["DC.creator"]
    assert got["citation_publication_date"] == ["2026/02/03"] and got["DC.date"] == ["2026-02-03"]
    assert "CC BY 4.0" in got["DC.rights"][0] and "MIT" in got["DC.rights"][0]
    assert "citation_public_url" not in got and "DC.identifier" not in got  # no address: none invented
    with_url = citation.meta_tags(citation.Citation("T", ("A",), "2026-02-03", url="https://x.invalid/"),
                                  "https://x.invalid/chapters/results.html")
    assert '<meta name="citation_public_url" content="https://x.invalid/chapters/results.html">' in with_url


def test_how_to_cite_and_licence_line():
    c = citation.Citation(title="T", authors=("Team",), date="2026-02-03", cutoff="2026-02-01")
    section = citation.how_to_cite_html(c)
    assert 'id="how-to-cite"' in section and "<h2>How to cite</h2>" in section
    assert "Team (2026). T. Living publication. Version of data cutoff 2026-02-01." in section
    assert "@misc{ns7car20260201" in section and "No public address is configured" in section
    line = citation.licence_html("../chapters/index.html#how-to-cite")
    assert 'rel="license"' in line and "CC BY 4.0" in line and "MIT" in line


def test_config_registers_the_extensions():
    extensions = CONFIG["sphinx"]["extra_extensions"]
    for name in ("nscore.report.versions", "nscore.report.citation", "nscore.build.notebookview"):
        assert name in extensions
    assert (CONFIG["html"].get("baseurl") or "") == ""  # documented: no public address known yet


# --------------------------------------------------------------------------- versions


def test_version_lists_in_an_assembled_tree(tmp_path):
    tree = tmp_path / "tree"
    for c in ("2025-08-01", "2026-02-01"):
        (tree / "v" / c).mkdir(parents=True)
        (tree / "v" / c / "index.html").write_text("x")
    (tree / "index.html").write_text("x")
    versions.write_version_lists(tree, ["2025-08-01", "2026-02-01", "2026-08-01"], "2026-02-01")
    root = (tree / versions.VERSIONS_FILE).read_text()
    old = (tree / "v" / "2025-08-01" / versions.VERSIONS_FILE).read_text()

    def data(text):
        return json.loads(text.removeprefix("window.nscoreVersions = ").rstrip(";\n"))

    assert data(root) == {"versions": ["2026-02-01", "2025-08-01"], "newest": "2026-02-01", "prefix": ""}
    assert data(old) == {"versions": ["2026-02-01", "2025-08-01"], "newest": "2026-02-01", "prefix": "../../"}


def test_nav_html_is_labelled_and_loads_the_local_list():
    nav = versions.nav_html("2025-08-01", "../nscore-versions.js", "chapters/results.html")
    assert 'aria-label="Versions of the publication"' in nav and 'data-cutoff="2025-08-01"' in nav
    assert '<script src="../nscore-versions.js"></script>' in nav and "http" not in nav
    assert 'class="nscore-version-banner" role="note"' in nav and " hidden>" in nav
    js = (versions.STATIC / versions.JS_FILE).read_text()
    assert "http://" not in js and "https://" not in js
    assert 'setAttribute("role", "tooltip")' in js and "aria-describedby" in js and "Escape" in js


# --------------------------------------------------------------------------- notebook view

_PIXEL = "R0lGODlhAQABAAAAACw="


def _notebook():
    nb = nbformat.v4.new_notebook()
    chart = (f'<div class="nscore-chart"><script type="application/json" class="nscore-chart-spec">'
             f'{{"datasets": {{"d": [{{"USUBJID": "P-001"}}]}}}}</script>'
             f'<img class="nscore-chart-fallback" src="data:image/svg+xml;base64,{_PIXEL}" alt="KM curve of OS"></div>')
    glue = nbformat.v4.new_code_cell("glue('fig_os', figures.km(...), display=False)", execution_count=2)
    glue.metadata["tags"] = ["remove-cell"]
    glue.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/html": chart,
                              "application/papermill.record/text/plain": "<Figure>"},
        metadata={"scrapbook": {"name": "fig_os", "mime_prefix": "application/papermill.record/"}})]
    table = nbformat.v4.new_code_cell("tables.table(df, name='tbl-base')", execution_count=3)
    table.metadata["tags"] = ["remove-input"]
    table.outputs = [nbformat.v4.new_output(
        "execute_result", data={"text/markdown": "````{list-table} Base\n:name: tbl-base\n\n* - {glue:text}`n`\n````",
                                "text/plain": "<Table>"}, execution_count=3)]
    rows = nbformat.v4.new_code_cell("ard.emit()", execution_count=4)
    rows.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/vnd.nscore.ard+json": {"rows": [{"stat": 1}, {"stat": 2}]},
                              "text/plain": "ARD"})]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Results\n\nText {glue:text}`n`."),
        glue,
        nbformat.v4.new_markdown_cell("```{glue:figure} fig_os\n:name: fig-os\n\nCaption.\n```"),
        table,
        rows,
    ]
    return nb


def test_label_cells_finds_the_cell_of_each_figure_and_table():
    assert notebookview.label_cells(_notebook()) == {"tbl-base": 3, "fig-os": 1}


def test_view_shows_code_and_outputs_without_data(tmp_path):
    view = notebookview.render_view(_notebook(), title="Results", chapter_href="results.html",
                                    notebook_href="../_sources/chapters/results.ipynb", outdir=tmp_path,
                                    prefix="../", cutoff="2026-02-01")
    page = view.html
    for i in range(5):
        assert f'id="cell-{i}"' in page
    assert "glue(&#x27;fig_os&#x27;" in page or "glue('fig_os'" in page  # the code is shown
    assert "In [2]" in page and "remove-cell" in page and "hidden on the chapter page" in page
    assert 'makes <a href="results.html#fig-os">fig-os</a>' in page
    assert 'makes <a href="results.html#tbl-base">tbl-base</a>' in page
    # the chart as its static image file with its alt text; never its spec or data
    assert 'alt="KM curve of OS"' in page and 'src="../_images/chart-' in page
    assert "USUBJID" not in page and "nscore-chart-spec" not in page and "<script" not in page
    assert len(list((tmp_path / "_images").iterdir())) == 1
    # the ARD rows are counted, not dumped
    assert "2 analysis-results rows recorded" in page and '"stat"' not in page
    # a role in a source shown is text (braces as references), folded
    assert "{glue" not in page and "&#123;glue:text&#125;" in page
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page and "<main><h1>" in page
    assert "http://" not in page and "https://" not in page


def test_link_chapter_body_links_figures_tables_and_the_view():
    body = ('<section id="results"><h1>Results</h1><p>x</p>'
            '<figure class="align-default" id="fig-os"><div>chart</div><figcaption><p>'
            '<span class="caption-number">Fig. 3.1 </span>Caption</p></figcaption></figure>'
            '<div class="pst-scrollable-table-container"><table class="table" id="tbl-base">'
            '<caption><span class="caption-number">Table 3.1 </span>Base</caption></table></div>'
            '<table id="tbl-other"><caption>Not ours</caption></table></section>')
    out = notebookview.link_chapter_body(body, "results.notebook.html", {"fig-os": 1, "tbl-base": 3})
    assert out.index("View the executed notebook") > out.index("</h1>")
    assert ('</figure><p class="nscore-cell-link"><a href="results.notebook.html#cell-1">'
            "Code and output that made Figure 3.1 (executed notebook)</a></p>") in out
    assert ('</table></div><p class="nscore-cell-link"><a href="results.notebook.html#cell-3">'
            "Code and output that made Table 3.1 (executed notebook)</a></p>") in out
    assert out.count("nscore-cell-link") == 2


@pytest.mark.parametrize("name", ["results", "safety", "index", "appendix"])
def test_every_numbered_label_of_the_chapters_has_its_cell(name):
    """Each ``:name: tbl-/fig-`` label the chapter's source or outputs define is found."""
    path = REPO / "chapters" / f"{name}.ipynb"
    if not path.is_file():
        pytest.skip(f"{path} not executed")
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells) + "\n".join(
        str(o.get("data", {})) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    labels = set(re.findall(r":name: *((?:tbl|fig)-[A-Za-z0-9_-]+)", text))
    found = notebookview.label_cells(nb)
    assert labels and labels <= set(found), sorted(labels - set(found))
    for label, index in found.items():
        assert nb.cells[index].cell_type == "code"


# --------------------------------------------------------------------------- a plain jupyter-book build


def test_plain_jupyter_book_build_writes_views_links_and_metadata(tmp_path):
    """The three extensions in a plain ``jupyter-book build`` of a one-page book: the notebook view
    is written and linked (so no link to a missing view), the table links its cell, the page head
    carries the citation tags, and ``nscore-versions.js`` lists this build's cutoff only."""
    import subprocess
    import sys

    nb = nbformat.v4.new_notebook()
    nb.metadata["nscore"] = {"cutoff": "2026-02-01"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    table = nbformat.v4.new_code_cell("tables.table(df, name='tbl-toy')", execution_count=1)
    table.outputs = [nbformat.v4.new_output("display_data", data={
        "text/markdown": "```{list-table} Toy table.\n:name: tbl-toy\n:header-rows: 1\n\n* - A\n* - 1\n```",
        "text/plain": "<Table>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy\n\n{numref}`tbl-toy` is a table."), table]
    book = tmp_path / "book"
    book.mkdir()
    nbformat.write(nb, book / "index.ipynb")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (book / "_config.yml").write_text(
        "title: Toy book\nauthor: Toy team\ncopyright: '2026'\nonly_build_toc_files: true\n"
        "execute:\n  execute_notebooks: 'off'\nparse:\n  myst_enable_extensions: [colon_fence]\n"
        "sphinx:\n  extra_extensions: [nscore.report.versions, nscore.report.citation, nscore.build.notebookview]\n"
        "  config:\n    html_sourcelink_suffix: ''\n    numfig: true\n    nb_render_markdown_format: myst\n"
    )
    exe = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(exe), "build", str(book), "-W", "-n", "--keep-going"], capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = book / "_build" / "html"
    page = (out / "index.html").read_text(encoding="utf-8")
    view = (out / "index.notebook.html").read_text(encoding="utf-8")
    assert '<a href="index.notebook.html">View the executed notebook</a>' in page
    assert '<a href="index.notebook.html#cell-1">Code and output that made Table 1 (executed notebook)</a>' in page
    assert 'id="cell-1"' in view and 'makes <a href="index.html#tbl-toy">Table 1</a>' in view
    assert '<a href="_sources/index.ipynb" download>' in view and (out / "_sources" / "index.ipynb").is_file()
    assert '<meta name="citation_title" content="Toy book">' in page
    assert '<meta name="DC.creator" content="Toy team">' in page
    assert '<section id="how-to-cite"><h2>How to cite</h2>' in page and 'href="#how-to-cite"' in page
    assert 'data-cutoff="2026-02-01"' in page and '<script src="nscore-versions.js"></script>' in page
    assert (out / "nscore-versions.js").read_text() == versions.versions_script(["2026-02-01"], "2026-02-01", "")
    assert (out / "_static" / versions.JS_FILE).is_file() and (out / "_static" / versions.CSS_FILE).is_file()

"""The notebook view (issue 16 item 6): each chapter's executed notebook published as a page of the
site, ``chapters/<name>.notebook.html`` beside ``chapters/<name>.html``, showing every cell's code
with its outputs, and every numbered figure and table of the chapter linked to the cell that made it.

Sphinx extension ``nscore.build.notebookview`` (listed in ``_config.yml``), so every build writes
the views: ``nscore build`` (each version's site) and a plain ``jupyter-book build .`` alike, and a
link to a view is only written on a page whose view is written too (no broken link anywhere).

What a view shows (a light renderer of the executed ``.ipynb``, no JavaScript, nothing from
another host):

* code cells: the source, the execution count and the cell's tags (``remove-input``: the chapter
  shows the output only; ``remove-cell``: the chapter shows neither), then the outputs:
  plain text and stream output as text; Markdown outputs (tables, sentences) as their MyST source,
  with a link to where the chapter renders them; glued values (``myst_nb.glue``) under their glue
  name, a glued chart as its static image (the same content-hashed file the chapter page uses,
  :func:`nscore.report.pages.images_to_files`: never the chart's JSON spec or its data);
  the analysis-results rows a chapter records (``application/vnd.nscore.ard+json``) as their count
  only (the rows are the site's analysis-results dataset);
* Markdown cells: folded (``<details>``), their source shown on demand; headings become the
  view's section headings.

Only what the executed notebook already holds is shown (aggregates, see the privacy tests); no
output is added, and outputs of a kind not listed above are named, not dumped.

Anchors: cell ``i`` (0-based, as in the ``.ipynb``) is ``#cell-<i>``. The cell that made a figure or
table is found from the notebook itself: a ``{glue:figure} KEY`` directive with ``:name: LABEL`` in a
Markdown cell names the glue key, and the code cell with the output glued as ``KEY`` made it; a
Markdown output holding ``:name: LABEL`` (``nscore.report.tables.table``) is made by its own cell.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from nscore.files import write_atomic
from nscore.report import citation, pages

#: The view of ``chapters/<name>`` is ``chapters/<name>`` + this suffix.
SUFFIX = ".notebook.html"
#: Anchor of cell ``i`` in a view.
CELL_ID = "cell-{index}"
#: Classes of what this extension adds to a chapter page (hidden in print: nscore-notebook.css).
LINK_CLASS = "nscore-notebook-link"
CELL_LINK_CLASS = "nscore-cell-link"

_RECORD_PREFIX = "application/papermill.record/"
_ARD_MIMES = ("application/vnd.nscore.ard+json", "application/vnd.nscore.ard-reference+json")
_GLUE_DIRECTIVE = re.compile(r"^[`:]{3,}\{glue(?::[a-z]+)?\}\s+(?P<key>[A-Za-z0-9_.-]+)\s*$"
                             r"(?P<options>(?:\n:[a-z_-]+:.*$)*)", re.M)
_NAME_OPTION = re.compile(r"^\s*:name:\s*(?P<label>[A-Za-z0-9_.:-]+)\s*$", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def view_name(docname: str) -> str:
    """``chapters/results`` -> ``chapters/results.notebook.html`` (path relative to the site root)."""
    return f"{docname}{SUFFIX}"


def cell_anchor(index: int) -> str:
    return CELL_ID.format(index=index)


# --------------------------------------------------------------------------- labels -> cells


def glue_names(cell) -> list[str]:
    """The glue keys a code cell recorded (``myst_nb.glue``)."""
    names = []
    for out in cell.get("outputs", []) or []:
        name = ((out.get("metadata") or {}).get("scrapbook") or {}).get("name")
        if name:
            names.append(str(name))
    return names


def _output_text(out) -> str:
    data = out.get("data") or {}
    parts = [data.get(k, "") for k in ("text/markdown", f"{_RECORD_PREFIX}text/markdown")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def label_cells(nb) -> dict[str, int]:
    """``{figure or table label: index of the code cell that made it}`` for one executed notebook."""
    glued: dict[str, int] = {}
    direct: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for name in glue_names(cell):
            glued.setdefault(name, i)
        for out in cell.get("outputs", []) or []:
            for m in _NAME_OPTION.finditer(_output_text(out)):
                direct.setdefault(m.group("label"), i)
    found = dict(direct)
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    texts += [_output_text(o) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) or []]
    for text in texts:
        for m in _GLUE_DIRECTIVE.finditer(text):
            label = _NAME_OPTION.search(m.group("options") or "")
            if label and m.group("key") in glued:
                found.setdefault(label.group("label"), glued[m.group("key")])
    return found


# --------------------------------------------------------------------------- the view


@dataclass
class View:
    """One notebook view: its HTML and the labels it anchors."""

    html: str
    labels: dict[str, int] = field(default_factory=dict)


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value or [])


def _pre(text: str, cls: str) -> str:
    # braces as character references: a role in a source shown here is text, not a markup left unparsed
    escaped = html.escape(text, quote=False).replace("{", "&#123;").replace("}", "&#125;")
    return f'<pre class="{cls}"><code>{escaped}</code></pre>'


def _chart_image(fragment: str, outdir: Path, prefix: str) -> str | None:
    """The static image of a chart fragment as ``<img>`` with the chart's alt text (file of the site)."""
    m = re.search(r'<img class="nscore-chart-fallback" src="data:[^"]*" alt="[^"]*"', fragment)
    if not m:
        return None
    img = pages.images_to_files(m.group(0), outdir, lambda path: prefix + path)
    return img.replace('class="nscore-chart-fallback"', 'class="nscore-nb-image"') + ' loading="lazy">'


def _render_output(out, outdir: Path, prefix: str, chapter_href: str, labels_here: list[str]) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return _pre(_text(out.get("text")), "nscore-nb-output")
    if kind == "error":
        return _pre(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}", "nscore-nb-output nscore-nb-error")
    data = out.get("data") or {}
    glue = ((out.get("metadata") or {}).get("scrapbook") or {}).get("name")
    parts = []
    if glue:
        parts.append(f'<p class="nscore-nb-note">Glued as <code>{html.escape(str(glue))}</code> '
                     "(shown on the chapter page where the text refers to it):</p>")
        data = {k[len(_RECORD_PREFIX):]: v for k, v in data.items() if k.startswith(_RECORD_PREFIX)}
    for mime in _ARD_MIMES:
        if mime in data:
            value = data[mime]
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = None
            rows = value.get("rows", value) if isinstance(value, dict) else value
            n = len(rows) if isinstance(rows, list) else None
            what = "analysis-results rows" if mime.endswith("ard+json") else "reference rows"
            counted = f"{n} {what}" if n is not None else what.capitalize()
            parts.append(f'<p class="nscore-nb-note">{counted} recorded for the analysis-results dataset '
                         "(the rows are published as that dataset, not repeated here).</p>")
            return "".join(parts)
    html_out = _text(data.get("text/html"))
    if "nscore-chart" in html_out:
        img = _chart_image(html_out, outdir, prefix)
        if img:
            parts.append(f'<p class="nscore-nb-figure">{img}</p>')
            return "".join(parts)
    if "text/markdown" in data:
        text = _text(data["text/markdown"])
        names = [m.group("label") for m in _NAME_OPTION.finditer(text)]
        labels_here.extend(names)
        target = f"{chapter_href}#{names[0]}" if names else chapter_href
        parts.append(f'<p class="nscore-nb-note">Markdown output, rendered on '
                     f'<a href="{html.escape(target, quote=True)}">the chapter page</a>.</p>')
        parts.append(f"<details><summary>Its MyST Markdown source</summary>"
                     f'{_pre(text, "nscore-nb-output nscore-nb-markdown")}</details>')
        return "".join(parts)
    for mime in ("image/svg+xml", "image/png"):
        if mime in data:
            raw = _text(data[mime]) if mime == "image/svg+xml" else None
            payload = base64.b64encode(raw.encode()).decode() if raw is not None else _text(data[mime]).replace("\n", "")
            kind_ = "svg+xml" if raw is not None else "png"
            tag = f'<img class="nscore-chart-fallback" src="data:image/{kind_};base64,{payload}" alt="Image output"'
            img = _chart_image(tag, outdir, prefix)
            if img:
                parts.append(f'<p class="nscore-nb-figure">{img}</p>')
                return "".join(parts)
    if "text/plain" in data:
        parts.append(_pre(_text(data["text/plain"]), "nscore-nb-output"))
    else:
        parts.append(f'<p class="nscore-nb-note">Output of type {html.escape(", ".join(sorted(data)))} (not shown).</p>')
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;margin:0;line-height:1.5}
header,main,footer{max-width:56rem;margin:0 auto;padding:0 1rem}
header{border-bottom:1px solid #ccc;padding-bottom:.5rem}
h1{font-size:1.6rem;margin:1rem 0 .25rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd}
a{color:#0b5394}a:focus{outline:2px solid #0b5394;outline-offset:2px}
.nscore-nb-cell{margin:1rem 0;border-left:3px solid #bbb;padding-left:.75rem}
.nscore-nb-cell:target{border-left-color:#0b5394;background:#f0f6fc}
.nscore-nb-label{font-size:.85rem;color:#4a4a4a;margin:.25rem 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f5f5f5;color:#1a1a1a;padding:.5rem;margin:.25rem 0;font-size:.85rem}
pre.nscore-nb-output{background:#fff;border:1px solid #ddd}
.nscore-nb-note{font-size:.9rem;margin:.25rem 0}
.nscore-nb-image{max-width:100%;height:auto}
details summary{cursor:pointer;font-size:.85rem;color:#4a4a4a}
footer{border-top:1px solid #ccc;margin-top:2rem;font-size:.85rem;color:#4a4a4a}
"""


def render_view(nb, *, title: str, chapter_href: str, notebook_href: str | None, outdir: Path,
                prefix: str, cutoff: str = "", footer: str = "", numbers: dict[str, str] | None = None,
                head: str = "") -> View:
    """The notebook view of ``nb`` as one HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    title : str
        The chapter's title.
    chapter_href, notebook_href : str
        Links (relative to the view) to the chapter page and the ``.ipynb`` download (None: none).
    outdir, prefix : Path, str
        The site root (images are written to its ``_images``) and the path from the view to it.
    footer : str
        HTML of the page's footer (the licence line).
    numbers : dict, optional
        ``{label: "Figure 3.1"}``: how the chapter numbers its figures and tables.
    """
    numbers = numbers or {}
    labels = label_cells(nb)
    by_cell: dict[int, list[str]] = {}
    for label, index in labels.items():
        by_cell.setdefault(index, []).append(label)
    body = []
    for i, cell in enumerate(nb.cells):
        anchor = cell_anchor(i)
        if cell.cell_type == "markdown":
            for level, text in _HEADING.findall(cell.source):
                if len(level) <= 2:
                    body.append(f"<h2>{html.escape(text.replace('{', '').replace('}', ''))}</h2>")
            body.append(f'<div class="nscore-nb-cell nscore-nb-md" id="{anchor}">'
                        f'<details><summary>Cell {i}: text (Markdown source)</summary>'
                        f'{_pre(cell.source, "nscore-nb-source")}</details></div>')
            continue
        if cell.cell_type != "code":
            continue
        tags = list((cell.get("metadata") or {}).get("tags") or [])
        count = cell.get("execution_count")
        shown = ("hidden on the chapter page" if "remove-cell" in tags else
                 "the chapter page shows its output only" if "remove-input" in tags or "remove_input" in tags else
                 "")
        note = [f"Cell {i}", f"In [{count}]" if count is not None else "not executed"]
        if tags:
            note.append("tags: " + ", ".join(html.escape(t) for t in tags))
        if shown:
            note.append(shown)
        made = by_cell.get(i, [])
        if made:
            links = ", ".join(f'<a href="{html.escape(chapter_href, quote=True)}#{html.escape(lb, quote=True)}">'
                              f"{html.escape(numbers.get(lb, lb))}</a>" for lb in sorted(made))
            note.append(f"makes {links}")
        outs = []
        found_here: list[str] = []
        for out in cell.get("outputs", []) or []:
            outs.append(_render_output(out, outdir, prefix, chapter_href, found_here))
        body.append(f'<div class="nscore-nb-cell nscore-nb-code" id="{anchor}">'
                    f'<p class="nscore-nb-label">{" · ".join(note)}</p>'
                    f'{_pre(cell.source, "nscore-nb-source")}{"".join(outs)}</div>')
    downloads = (f' · <a href="{html.escape(notebook_href, quote=True)}" download>Download the executed notebook '
                 "(.ipynb)</a>" if notebook_href else "")
    cut = f" (data cutoff {html.escape(cutoff)})" if cutoff else ""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Executed notebook: {html.escape(title)}{cut}</title>"
        '<meta name="robots" content="noindex">' + head +
        f"<style>{_STYLE}</style></head><body>"
        f'<header><p><a href="{html.escape(chapter_href, quote=True)}">Back to the chapter</a></p></header>'
        f'<main><h1>Executed notebook: {html.escape(title)}</h1>'
        f'<p>The code of the chapter <a href="{html.escape(chapter_href, quote=True)}">{html.escape(title)}</a>{cut} '
        f"with the outputs it produced when the chapter was executed, cell by cell{downloads}. "
        "Each numbered figure and table of the chapter links to the cell that made it; text cells are folded "
        "(their source opens on demand).</p>"
        f'{"".join(body)}</main>'
        f"<footer>{footer}</footer></body></html>\n"
    )
    return View(page, labels)


# --------------------------------------------------------------------------- chapter pages


_FIGURE = re.compile(r'<figure\b[^>]*\bid="(?P<label>[^"]+)"')
_TABLE = re.compile(r'<table\b[^>]*\bid="(?P<label>[^"]+)"')
_NUMBER = re.compile(r'<span class="caption-number">(?P<number>[^<]*)</span>')


def link_chapter_body(body: str, view_href: str, labels: dict[str, int]) -> str:
    """The chapter page body with a link to its notebook view after its title, and after each
    numbered figure and table a link to the cell that made it."""
    inserts: list[tuple[int, str]] = []
    for pattern, closing, kind in ((_FIGURE, "</figure>", "figure"), (_TABLE, "</table>", "table")):
        for m in pattern.finditer(body):
            label = m.group("label")
            if label not in labels:
                continue
            end = body.find(closing, m.end())
            if end < 0:
                continue
            end += len(closing)
            wrapper = re.match(r"\s*</div>", body[end:])  # the table's scroll box
            if kind == "table" and wrapper:
                end += wrapper.end()
            number = _NUMBER.search(body, m.end(), end)
            name = " ".join(number.group("number").split()) if number else kind.capitalize()
            name = name.replace("Fig.", "Figure")
            href = html.escape(f"{view_href}#{cell_anchor(labels[label])}", quote=True)
            inserts.append((end, f'<p class="{CELL_LINK_CLASS}"><a href="{href}">'
                                 f"Code and output that made {html.escape(name)} (executed notebook)</a></p>"))
    for pos, text in sorted(inserts, reverse=True):
        body = body[:pos] + text + body[pos:]
    link = (f'<p class="{LINK_CLASS}"><a href="{html.escape(view_href, quote=True)}">View the executed notebook</a> '
            "(the code of this page with its outputs, cell by cell)</p>")
    h1 = body.find("</h1>")
    return body[:h1 + 5] + link + body[h1 + 5:] if h1 >= 0 else link + body


# --------------------------------------------------------------------------- Sphinx side


def _notebook_docs(app) -> dict[str, Path]:
    """``{docname: executed notebook}`` for every document of the book whose source is an ``.ipynb``."""
    found = {}
    for doc in sorted(getattr(app.env, "found_docs", []) or []):
        path = Path(app.env.doc2path(doc))
        if path.suffix == ".ipynb" and path.is_file():
            found[doc] = path
    return found


def _labels_for(app, docname: str) -> dict[str, int] | None:
    cache = app.env.__dict__.setdefault("_nscore_notebook_labels", {})
    if docname not in cache:
        path = _notebook_docs(app).get(docname)
        cache[docname] = label_cells(nbformat.read(path, as_version=4)) if path else None
    return cache[docname]


def _is_html(app) -> bool:
    return getattr(app.builder, "name", "") in ("html", "dirhtml")


def _link_page(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: links to the view on a chapter page (:func:`link_chapter_body`)."""
    if not _is_html(app) or not context.get("body"):
        return
    labels = _labels_for(app, pagename)
    if labels is None:
        return
    context["body"] = link_chapter_body(context["body"], Path(view_name(pagename)).name, labels)


def _relative(doc: str, target: str) -> str:
    """The URL of page ``target`` from page ``doc`` (both docnames, ``.html`` pages)."""
    import posixpath

    return posixpath.relpath(f"{target}.html", posixpath.dirname(doc) or ".")


def _numbers(app, doc: str) -> dict[str, str]:
    """``{label: "Figure 3.1" | "Table 3.1"}`` of ``doc`` as Sphinx numbered them (``numfig``)."""
    found = {}
    names = {"figure": "Figure", "table": "Table"}
    for kind, ids in (getattr(app.env, "toc_fignumbers", {}).get(doc) or {}).items():
        for label, number in ids.items():
            if kind in names and number:
                found[label] = f"{names[kind]} {'.'.join(map(str, number))}"
    return found


def _write_views(app, exception) -> None:
    """``build-finished``: write the view of every notebook page into the site."""
    if exception is not None or not _is_html(app):
        return
    out = Path(app.builder.outdir)
    for doc, path in _notebook_docs(app).items():
        nb = nbformat.read(path, as_version=4)
        title = app.env.titles.get(doc).astext() if doc in app.env.titles else Path(doc).name
        depth = doc.count("/")
        prefix = "../" * depth
        source = out / "_sources" / f"{doc}.ipynb"
        view = render_view(
            nb, title=title, chapter_href=f"{Path(doc).name}.html",
            notebook_href=f"{prefix}_sources/{doc}.ipynb" if source.is_file() else None,
            outdir=out, prefix=prefix, cutoff=str(((nb.metadata.get("nscore") or {}).get("cutoff")) or ""),
            footer=citation.licence_html(_relative(doc, app.config.root_doc) + f"#{citation.HOW_TO_CITE_ID}"),
            numbers=_numbers(app, doc),
            head=citation.meta_tags(citation.citation_for(app)),
        )
        write_atomic(out / view_name(doc), view.html)


def setup(app):
    """Sphinx extension hook (``extra_extensions`` in ``_config.yml``)."""
    app.connect("html-page-context", _link_page, priority=650)
    app.connect("build-finished", _write_views)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

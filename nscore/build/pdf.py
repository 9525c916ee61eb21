"""PDF of the whole publication: jupyter-book's singlehtml page printed by headless Chromium.

Why this route: the LaTeX route needs TeX Live (gigabytes, not installed); Debian's ``chromium``
is needed anyway by the browser tests. The single page is served on localhost, every chart is
left to render with the vendored vega (the renderer's static images stay as fallback), and then
Chromium prints it. Figure and table numbers come from Sphinx's ``numfig``, as on the site.

Chromium itself is driven by :mod:`nscore.build.browser`, which the browser tests share.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nscore.build.browser import (CHROMIUM, block_foreign_requests, chromium_available, launch_chromium,
                                  serve_directory, wait_for_charts)
from nscore.build.site import jupyter_book_command
from nscore.errors import BuildError

#: A4 (210 mm) minus the 15 mm side margins of ``print_to_pdf``, in CSS pixels (96 per inch):
#: the page is laid out at this width, so what fits here fits on paper.
PRINT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)


def overflowing(page) -> list[str]:
    """Tables and charts wider than the text column (in the current media), which print clips."""
    return page.evaluate(
        """() => {
            const out = [];
            for (const el of document.querySelectorAll('table, .nscore-chart-view svg, .vega-embed svg, img')) {
                const column = el.closest('.bd-article') || document.body;
                const w = el.getBoundingClientRect().width;
                if (w > column.clientWidth + 1) {
                    const cap = el.closest('figure, table');
                    const label = (cap && (cap.querySelector('caption, figcaption') || {}).textContent || el.tagName).trim();
                    out.push(`${label.slice(0, 70)} (${Math.round(w)} px > ${column.clientWidth} px)`);
                }
            }
            return out;
        }"""
    )


def build_singlehtml(project_root: Path, work_dir: Path) -> Path:
    """Build the book as one HTML page under ``work_dir``; returns the page's directory.

    Uses the executed notebooks as they are (``execute_notebooks: off`` in ``_config.yml``) and
    a build directory of its own, so a concurrent site build in ``_build/`` is not disturbed.
    """
    cmd = jupyter_book_command() + [
        "build", str(project_root), "--builder", "singlehtml", "--path-output", str(work_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out_dir = work_dir / "_build" / "singlehtml"
    if proc.returncode != 0 or not (out_dir / "index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BuildError(f"singlehtml build failed (exit {proc.returncode}):\n{tail}")
    return out_dir


_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def singlehtml_page(html_dir: Path) -> str:
    """The name of the single page to print, placed so that its relative links resolve.

    When the book's root document sits in a folder (``root: chapters/index``), jupyter-book
    writes the page to ``chapters/index.html`` with links relative to the output root and
    a redirect at ``index.html``; the page is then copied to ``book.html`` at the root.
    """
    index = html_dir / "index.html"
    match = _REFRESH.search(index.read_text(errors="replace"))
    if match is None:
        return "index.html"
    target = html_dir / match.group(1).split("#")[0]
    if not target.is_file():
        raise BuildError(f"singlehtml index.html redirects to a missing page: {match.group(1)}")
    shutil.copyfile(target, html_dir / "book.html")
    return "book.html"


@dataclass
class BookInfo:
    """What the PDF says about itself: title page and document metadata."""

    title: str = "Untitled"
    author: str = ""
    language: str = "en"
    cutoff: str = ""
    data_version: str = ""
    simulated: bool | None = None
    public_url: str = ""  # the published site ("" = links to its pages are dropped)
    appendix: str = ""  # docname whose provenance box the PDF keeps ("" = the last box)
    code_versions: str = ""  # one sentence: the code version(s) the pages were executed with
    made: str = ""  # when the PDF was made (UTC)
    root_doc: str = ""  # the book's root document (jupyter-book writes the single page there)

    def subject(self) -> str:
        parts = [f"Data cutoff {self.cutoff}" if self.cutoff else "",
                 f"data version {self.data_version}" if self.data_version else ""]
        return ", ".join(p for p in parts if p)


def _toc_docnames(toc: Any) -> list[str]:
    """Every ``root``/``file`` of a ``_toc.yml`` mapping, in reading order."""
    out: list[str] = []
    if isinstance(toc, dict):
        for key in ("root", "file"):
            if isinstance(toc.get(key), str):
                out.append(toc[key])
        for value in toc.values():
            if isinstance(value, (list, dict)):
                out += _toc_docnames(value)
    elif isinstance(toc, list):
        for item in toc:
            out += _toc_docnames(item)
    return out


def book_info(root: Path) -> BookInfo:
    """Title page and metadata of the book at ``root``: ``_config.yml`` (title, author,
    ``sphinx: config: language``, ``html: baseurl`` = the public address of the site) and the
    executed notebooks' provenance (cutoff, data version, code versions)."""
    import yaml

    from nscore.report import provenance

    root = Path(root)
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    docs = _toc_docnames(toc)
    record = provenance.site_record(root, docs)
    newest = record.newest()
    sphinx_config = (config.get("sphinx") or {}).get("config") or {}
    appendix = next((d for d in docs if Path(d).name == "appendix"), "")
    return BookInfo(
        title=str(config.get("title") or "Untitled"),
        author=str(config.get("author") or ""),
        language=str(sphinx_config.get("language") or config.get("language") or "en"),
        cutoff=str(newest.get("cutoff", "")),
        data_version=str(newest.get("data_version", "")),
        simulated=newest.get("simulated"),
        public_url=str((config.get("html") or {}).get("baseurl") or "").strip(),
        appendix=appendix,
        code_versions=record.statement(),
        made=_now_utc(),
        root_doc=docs[0] if docs else "",
    )


def _now_utc() -> str:
    from nscore.report.provenance import utc_now

    return utc_now()


#: Interactive-only wording removed from the printed text (the same pattern runs in the page).
INTERACTIVE_WORDING = re.compile(r"\s*\((?:hover|click|tap|mouse over|point at)\b[^()]*\)", re.I)


def print_wording(text: str) -> str:
    """``text`` as the PDF prints it: without the interactive-only parentheticals."""
    return INTERACTIVE_WORDING.sub("", text)


#: Run in the page before printing (argument: BookInfo as a dict plus the page's own URL).
_PREPARE_JS = r"""(info) => {
    const report = {internal: 0, public: 0, dropped: 0, wording: 0, boxes_hidden: 0};
    document.documentElement.classList.add('nscore-book-print');
    if (info.language) document.documentElement.setAttribute('lang', info.language);
    const here = new URL(info.page_url);
    // the pages whose content is this one page: the printed copy and jupyter-book's original
    const selfPaths = new Set([here.pathname, ...info.self_paths.map(p => new URL(p, here.origin + '/').pathname)]);
    const unlink = (a) => {  // keep the words, drop the link
        const span = document.createElement('span');
        span.className = a.className; span.innerHTML = a.innerHTML;
        a.replaceWith(span); report.dropped++;
    };
    // download links (data: URIs, "Download this table as CSV") mean nothing on paper
    for (const a of Array.from(document.querySelectorAll('a[download], a[href^="data:"]'))) {
        const block = a.closest('p, div');
        if (block && block.textContent.trim().startsWith('Download')) { block.classList.add('nscore-print-hidden'); }
        unlink(a);
    }
    for (const a of Array.from(document.querySelectorAll('a[href]'))) {
        const raw = a.getAttribute('href');
        if (raw.startsWith('#')) { report.internal++; continue; }
        let url;
        try { url = new URL(raw, here); } catch (e) { unlink(a); continue; }
        if (url.origin !== here.origin) {
            if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:') continue;
            unlink(a); continue;
        }
        if (selfPaths.has(url.pathname)) {  // a place in this very page: an in-PDF link
            const id = decodeURIComponent(url.hash.slice(1));
            if (id && document.getElementById(id)) { a.setAttribute('href', '#' + id); report.internal++; }
            else unlink(a);
            continue;
        }
        if (info.public_url) {  // another page of the site: its published address
            const path = url.pathname.replace(/^\/+/, '');
            a.setAttribute('href', new URL(path + url.search + url.hash, info.public_url).href);
            report.public++;
        } else unlink(a);
    }
    // interactive-only wording: "(hover for the number)", "(click to ...)"
    const wording = /\s*\((?:hover|click|tap|mouse over|point at)\b[^()]*\)/gi;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const t of texts) {
        if (t.parentElement && t.parentElement.closest('script, style, svg')) continue;
        if (wording.test(t.nodeValue)) { t.nodeValue = t.nodeValue.replace(wording, ''); report.wording++; }
        wording.lastIndex = 0;
    }
    // provenance once: the appendix's box (or the last one) stays, the others are hidden
    const boxes = Array.from(document.querySelectorAll('.nscore-provenance'));
    let keep = null;
    if (info.appendix) {
        const mark = document.getElementById('document-' + info.appendix);
        const section = mark && mark.nextElementSibling;
        keep = section ? section.querySelector('.nscore-provenance') : null;
    }
    if (!keep && boxes.length) keep = boxes[boxes.length - 1];
    for (const box of boxes) {
        if (box === keep) box.classList.add('nscore-provenance-kept');
        else { box.classList.add('nscore-print-hidden'); report.boxes_hidden++; }
    }
    if (keep && info.code_versions && !keep.querySelector('.nscore-code-versions')) {
        const p = document.createElement('p');
        p.className = 'nscore-code-versions';
        p.textContent = info.code_versions;
        keep.appendChild(p);
    }
    // the title page
    // jupyter-book's print-only contents block (#jb-print-docs-body) comes first on paper: the title
    // page goes before it; its copy of the first page's title becomes an h2, so that the bookmarks
    // start at the book's top level (contents, parts, chapters) rather than under that one title
    const printToc = document.getElementById('jb-print-docs-body');
    if (printToc) for (const h of printToc.querySelectorAll(':scope > h1')) {
        const h2 = document.createElement('h2');
        h2.className = 'nscore-print-first-title';
        h2.innerHTML = h.innerHTML;
        h.replaceWith(h2);
    }
    const article = printToc || document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
    const page = document.createElement('section');
    page.className = 'nscore-title-page';
    const line = (cls, text) => {
        if (!text) return;
        const p = document.createElement('p'); p.className = cls; p.textContent = text; page.appendChild(p);
    };
    line('nscore-title-page-title', info.title);
    line('nscore-title-page-authors', info.author);
    line('nscore-title-page-cutoff', info.cutoff ? 'Data cutoff ' + info.cutoff + (info.data_version ? ' · data version ' + info.data_version : '') : '');
    if (info.simulated === true) line('nscore-title-page-note', 'The patient-level data are simulated: they are not the records of real patients.');
    line('nscore-title-page-made', 'PDF made ' + info.made + (info.public_url ? ' · published at ' + info.public_url : ''));
    if (printToc) printToc.parentNode.insertBefore(page, printToc);
    else article.insertBefore(page, article.firstChild);
    return report;
}"""


def prepare_for_print(tab, book: BookInfo, page_url: str) -> dict:
    """Make the loaded page fit for paper; returns counts of what was changed.

    Links to places in this page become in-PDF links, links to other pages of the site point at
    ``book.public_url`` (or are dropped when none is configured), download links go; the wording
    of interactive-only hints ("(hover for the number)") goes; every provenance box but the
    appendix's is hidden (the kept box says which code versions made the pages); a title page
    with title, authors, cutoff and date opens the document.
    """
    from dataclasses import asdict

    info = asdict(book)
    if info["public_url"] and not info["public_url"].endswith("/"):
        info["public_url"] += "/"
    info["page_url"] = page_url
    # jupyter-book writes the single page at <root doc>.html (copied to book.html for printing)
    info["self_paths"] = ["index.html", "book.html"] + ([f"{book.root_doc}.html"] if book.root_doc else [])
    return tab.evaluate(_PREPARE_JS, info)


def finish_pdf(path: Path, book: BookInfo) -> None:
    """Write title, authors, subject (cutoff), keywords and language into the PDF at ``path``."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(str(path)))
    meta = {"/Title": book.title, "/Author": book.author, "/Subject": book.subject(),
            "/Keywords": ", ".join(x for x in (f"cutoff {book.cutoff}" if book.cutoff else "",
                                               book.code_versions) if x),
            "/Creator": "nscore (jupyter-book singlehtml printed by Chromium)"}
    writer.add_metadata({k: v for k, v in meta.items() if v})
    writer._root_object[NameObject("/Lang")] = TextStringObject(book.language)
    if writer._root_object.get("/Outlines") is not None:
        writer._root_object[NameObject("/PageMode")] = NameObject("/UseOutlines")
    with open(path, "wb") as fh:
        writer.write(fh)


def print_to_pdf(html_dir: Path, out: Path, page: str = "index.html", timeout_ms: int = 60_000,
                 book: "BookInfo | None" = None) -> Path:
    """Print ``html_dir/page`` (served on localhost) to ``out`` once every chart has rendered.

    Before printing, :func:`prepare_for_print` makes the page fit for paper (title page, links,
    one provenance box, no interactive-only wording); afterwards :func:`finish_pdf` writes the
    document metadata. ``book`` (from :func:`book_info`) says what goes on the title page.

    Raises
    ------
    BuildError
        Chromium is missing, a chart did not render, the page requested a foreign host, or the
        page raised a JavaScript error.
    """
    if not chromium_available():
        raise BuildError(f"PDF needs Chromium at {CHROMIUM} and the playwright package")
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    foreign: list[str] = []
    js_errors: list[str] = []
    with serve_directory(html_dir) as base, sync_playwright() as pw, launch_chromium(
        pw, viewport={"width": PRINT_WIDTH_PX, "height": 1000}
    ) as context:
        block_foreign_requests(context, base, foreign)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: js_errors.append(str(exc)))
        tab.goto(base + page, wait_until="load", timeout=timeout_ms)
        boxes, rendered = wait_for_charts(tab, timeout_ms)
        if rendered < boxes:
            raise BuildError(f"only {rendered} of {boxes} charts rendered in {page}; PDF not written")
        if foreign or js_errors:
            raise BuildError(f"page not self-contained: foreign requests {foreign}, JS errors {js_errors}")
        prepare_for_print(tab, book or BookInfo(), base + page)
        tab.emulate_media(media="print")
        cut = overflowing(tab)
        if cut:
            raise BuildError("wider than the printed page, so cut off in the PDF: " + "; ".join(cut))
        tmp = out.with_name(out.name + ".part")
        tab.pdf(
            path=str(tmp),
            format="A4",
            print_background=True,
            margin={"top": "18mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
            display_header_footer=True,
            outline=True,  # bookmarks from the headings (chapters and sections)
            tagged=True,  # a structured (tagged) PDF: screen readers, text order
            header_template="<span></span>",
            footer_template=(
                '<div style="font-size:8px;width:100%;text-align:center;">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
            ),
        )
        tab.close()
    finish_pdf(tmp, book or BookInfo())
    tmp.replace(out)  # never leave a half-written PDF under the final name
    return out


def build_pdf(project_root: Path | str, out: Path | str | None = None, *, work_dir: Path | str | None = None) -> Path:
    """Build the PDF of the whole publication; returns its path.

    Parameters
    ----------
    project_root
        Directory holding ``_config.yml`` and ``_toc.yml`` with the executed chapters.
    out
        Where to write the PDF; default ``<project_root>/_build/pdf/book.pdf``.
    work_dir
        Where to build the single HTML page (kept, under ``_build/singlehtml``); default a
        temporary directory removed afterwards.

    Raises
    ------
    BuildError
        The book does not build, Chromium is missing, or a chart did not render.

    Notes
    -----
    Renders what the executed notebooks hold; it does not re-execute chapters (``nscore build``
    does). Charts print as the live vega SVG, which matches the static vl-convert image.
    """
    root = Path(project_root).resolve()
    if not (root / "_toc.yml").is_file():
        raise BuildError(f"{root} is not a book: no _toc.yml")
    out = Path(out) if out is not None else root / "_build" / "pdf" / "book.pdf"
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="nscore-pdf-"))
        html_dir = build_singlehtml(root, Path(work_dir))
        print_to_pdf(html_dir, out, page=singlehtml_page(html_dir), book=book_info(root))
    print(f"PDF written: {out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return out

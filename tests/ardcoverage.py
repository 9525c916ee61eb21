"""How many of the numbers a page shows carry their ARD key (the ``{ard}`` role), per page.

A *number* is a run of digits (with its decimal part) in the text of the page's article, outside
what is not a result: the provenance box (cutoff, hashes, build time), caption and section
numbers and cross-references ("Table 3.2"), citations and the bibliography, figures (their
SVG/PNG and chart code), code, math, download links, the row labels of a table (its first
column), dates, the confidence level ("95% CI"), the definitions a statistic's label carries
(a grade threshold, "grade 3 or higher", "grades 1-2"; the time point of a rate, "2 years after
infusion", "1-year"; a threshold of a subgroup, "<20%", ">=18 years"), identifiers (the seed of a
simulation, "seed 20251206", like the data version hash: it names a random stream, nothing is
counted or estimated by it), calendar years standing as dates (an award year in a biography,
"(2021)"; a year in the name of a guideline or format, "European LeukemiaNet 2022", "ISO 8601",
"UTF-8"; a licence, "CC BY 4.0"), links to the executed notebook ("Code and output that made
Table 2.1") and the licence notice, and the notes of the traced numbers. A number is *traced* when it sits inside
``span.nscore-ard``.

Settings the pages state (a landmark day, a threshold of What changed, the grid of the figures)
are numbers like any other here: they are traced to ARD rows that name their source.

Usage: ``python tests/ardcoverage.py _build/html`` prints one line per page; the browser test
(``tests/test_browser.py``) asserts the share on the rendered pages.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString

NUMBER = re.compile(r"(?<![A-Za-z0-9.])[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9])")  # not the 7 of CD7 or NS7CAR, nor 67th
#: Digits that are no result wherever they stand: ISO dates, the confidence level.
NOT_RESULT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"                                   # ISO dates
    r"|(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r" [0-9]{1,2}, [0-9]{4}"                                          # long dates
    r"|95% (?:CI|confidence|interval)|95\u00a0% CI"                 # the confidence level
    r"|(?i:grades?)\s+[0-9](?:\s*(?:or|to|and|-|\u2013)\s*[0-9])?"    # grade thresholds: grade 3, grades 1-2
    r"|[0-9]+(?:-| )years?\b(?= after| estimate|\b)"                  # time points: 2 years after, 1-year
    r"|[<>\u2264\u2265]=?\s*[0-9]+(?:\.[0-9]+)?%?"                      # subgroup thresholds: <20%, >=18
    r"|[0-9]+(?:\.[0-9]+){2,}(?:\.?post[0-9]+)?"                      # software versions: 2.3.3
    r"|SHA-256|ISO 8601|UTF-8|LeukemiaNet 2022"                     # names with digits
    r"|\b(?:CC BY|Attribution)(?:-[A-Za-z]+)* [0-9]+\.[0-9]+"        # licence names: CC BY 4.0
    r"|\bseed [0-9]+"                                                # identifiers: a simulation's seed
    r"|\((?:19|20)[0-9]{2}\)"                                        # a calendar year as a date: (2021)
)
#: Elements whose digits are not results (see the module docstring).
SKIP = [
    ".nscore-provenance", ".caption-number", "span.caption-number", ".headerlink", "figure", "svg", "img",
    "script", "style", "pre", "code", ".math", "math", "mjx-container", ".nscore-csv-download",
    ".nscore-ard-note", ".bibliography", "div.citation", "a.reference.internal[href^='#id']",
    "span.cite", ".nscore-chart", ".nscore-chart-downloads", ".nscore-bundle-link", ".nscore-versions",
    "nav", ".toctree-wrapper", ".prev-next-area", ".nscore-print-hidden", "a[role='doc-biblioref']",
    "span.std-numref", "span.std-ref", "span.doc", "th", "tr > td:first-child", "caption",
    "span.bibtex-citation", "a[href*='references.html#']",
    "h1", "h2", "h3", "h4",
    ".nscore-cell-link", ".nscore-licence",      # the link to a table's cell in the executed notebook; the licence
]


def page_counts(html: str) -> tuple[int, int, list[str]]:
    """``(numbers, traced, examples of untraced text)`` of one page."""
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article.bd-article") or soup.select_one("div[role=main]") or soup.body
    if article is None:
        return 0, 0, []
    for sel in SKIP:
        for el in article.select(sel):
            el.decompose()
    total = traced = 0
    untraced = []
    for text in article.find_all(string=True):
        if not isinstance(text, NavigableString):
            continue
        found = NUMBER.findall(NOT_RESULT.sub(" ", str(text)))
        if not found:
            continue
        inside = text.find_parent("span", class_="nscore-ard") is not None
        total += len(found)
        if inside:
            traced += len(found)
        else:
            untraced.append(str(text).strip()[:80])
    return total, traced, untraced


def site_counts(site: Path) -> dict[str, tuple[int, int, list[str]]]:
    """Per chapter page of a built site (``chapters/*.html``)."""
    return {p.stem: page_counts(p.read_text(encoding="utf-8")) for p in chapter_pages(site)}


def chapter_pages(site: Path) -> list[Path]:
    """The chapter pages of a built site: ``chapters/*.html`` without the views of the executed
    notebooks (``<chapter>.notebook.html``: code and its outputs, not the publication's text)."""
    return [p for p in sorted((Path(site) / "chapters").glob("*.html")) if not p.name.endswith(".notebook.html")]


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "_build/html")
    verbose = "-v" in argv
    for name, (total, traced, untraced) in site_counts(site).items():
        share = 100 * traced / total if total else 100.0
        print(f"{name:12s} {traced:5d}/{total:<5d} numbers traced ({share:5.1f}%)")
        if verbose:
            for t in untraced[:15]:
                print("      untraced:", t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

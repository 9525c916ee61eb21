"""The PDF of the whole publication (nscore.pdf.build_pdf): built, long enough, every figure and
table caption present with its number, every chart printed (its titles are text in the PDF, which
a missing chart or a fallback bitmap would not give)."""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore import pdf  # noqa: E402

pypdf = pytest.importorskip("pypdf", reason="pypdf extracts the PDF text (pip install pypdf)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not pdf.chromium_available(), reason=f"Chromium not installed at {pdf.CHROMIUM} or playwright missing"),
]


def _squash(text: str) -> str:
    """Comparable text: ligatures unfolded (NFKC: "\ufb02" -> "fl"), no whitespace or soft
    hyphens (line breaks in the PDF fall anywhere), no permalink marks."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\u00ad#\u00b6]+", "", text)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    book, origin = sitecheck.book_source()
    work = tmp_path_factory.mktemp("pdf")
    out = pdf.build_pdf(book, work / "book.pdf", work_dir=work)
    html_dir = work / "_build" / "singlehtml"
    html_text = (html_dir / pdf.singlehtml_page(html_dir)).read_text()
    reader = pypdf.PdfReader(str(out))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return {"origin": origin, "book": book, "pdf": out, "html": html_text, "reader": reader, "text": text}


def _captions(html_text: str, tag: str) -> list[str]:
    from html import unescape

    found = []
    for block in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html_text, re.S):
        text = unescape(re.sub(r"<[^>]+>", " ", block))
        text = re.sub(r"\s+", " ", text).replace("#", "").strip()
        if text:
            found.append(text)
    return found


def test_pdf_is_a_whole_book(built):
    n_pages = len(built["reader"].pages)
    n_docs = len(sitecheck.toc_files(built["book"]))
    assert built["pdf"].read_bytes()[:5] == b"%PDF-"
    # every chapter starts on a new page (nscore.css print rules)
    assert n_pages >= n_docs, f"{n_pages} pages for {n_docs} documents ({built['origin']})"


def test_every_figure_caption_with_number_is_in_the_pdf(built):
    captions = _captions(built["html"], "figcaption")
    assert captions, f"no figure in the book ({built['origin']})"
    text = _squash(built["text"])
    missing = [c for c in captions if _squash(c) not in text]
    assert not missing, "figure captions missing from the PDF:\n" + "\n".join(missing)
    assert all(re.match(r"(Fig\.|Figure)\s*\d", c) for c in captions), captions


def test_every_table_caption_with_number_is_in_the_pdf(built):
    captions = _captions(built["html"], "caption")
    text = _squash(built["text"])
    missing = [c for c in captions if _squash(c) not in text]
    assert not missing, "table captions missing from the PDF:\n" + "\n".join(missing)
    assert all(re.match(r"Table\s*\d", c) for c in captions), captions


def test_no_chart_missing(built):
    """Each chart's titles are PDF text: vega drew it (a missing chart or bitmap has none)."""
    specs = sitecheck.chart_specs(built["html"])
    assert specs, f"no chart in the book ({built['origin']})"
    text = _squash(built["text"])
    missing = []
    for spec in specs:
        titles = sitecheck.spec_titles(spec)
        if titles and not any(_squash(t) in text for t in titles):
            missing.append(f"{spec.get('description', '?')[:80]} (titles {titles[:3]})")
    assert not missing, "charts not drawn in the PDF:\n" + "\n".join(missing)

"""The PDF of the whole publication (nscore.build.pdf.build_pdf): built, long enough, every figure and
table caption present with its number, every chart printed (its titles are text in the PDF, which
a missing chart or a fallback bitmap would not give); fit to circulate: links resolve inside the
PDF or point at the site's configured public address, a bookmark outline of the chapters, title,
authors, language and cutoff in the metadata and on a title page, provenance once, no wording
that only makes sense on screen."""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore.build import browser, pdf  # noqa: E402

pypdf = pytest.importorskip("pypdf", reason="pypdf extracts the PDF text (pip install pypdf)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not browser.chromium_available(), reason=f"Chromium not installed at {browser.CHROMIUM} or playwright missing"),
]


PUBLIC_URL = "https://example.org/ns7car/"


def _squash(text: str) -> str:
    """Comparable text: ligatures unfolded (NFKC: "\ufb02" -> "fl"), no whitespace or soft
    hyphens (line breaks in the PDF fall anywhere), no permalink marks."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\u00ad#\u00b6]+", "", text)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    source, origin = sitecheck.book_source()
    work = tmp_path_factory.mktemp("pdf")
    # a copy whose _config.yml names a public address of the site (html: baseurl)
    book = work / "book"
    shutil.copytree(source, book, ignore=shutil.ignore_patterns("_build"))
    config = book / "_config.yml"
    text = config.read_text()
    if re.search(r"^  baseurl:.*$", text, re.M):
        text = re.sub(r"^  baseurl:.*$", f'  baseurl: "{PUBLIC_URL}"', text, count=1, flags=re.M)
    else:
        text = re.sub(r"^html:\n", f'html:\n  baseurl: "{PUBLIC_URL}"\n', text, count=1, flags=re.M)
        if PUBLIC_URL not in text:
            text += f'\nhtml:\n  baseurl: "{PUBLIC_URL}"\n'
    config.write_text(text)
    out = pdf.build_pdf(book, work / "book.pdf", work_dir=work)
    html_dir = work / "_build" / "singlehtml"
    html_text = (html_dir / pdf.singlehtml_page(html_dir)).read_text()
    reader = pypdf.PdfReader(str(out))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return {"origin": origin, "book": book, "pdf": out, "html": html_text, "reader": reader, "text": text}


def _captions(html_text: str, tag: str) -> list[str]:
    from html import unescape

    found = []
    # a traced number's note is screen-only (hidden in print, tested below): the caption prints the number
    html_text = re.sub(r'<span class="nscore-ard-note"[^>]*>.*?</span>', "", html_text, flags=re.S)
    # a traced number in a caption is marked "\x00" on both sides: the PDF's text layer may give it out of
    # the caption's reading order (a separate tagged span), so :func:`_in_pdf` looks for it on its own
    html_text = re.sub(r'(<span class="nscore-ard"[^>]*>)(.*?)(</span>)', "\x00\\2\x00", html_text, flags=re.S)
    for block in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html_text, re.S):
        text = unescape(re.sub(r"<[^>]+>", " ", block))
        text = re.sub(r"\s+", " ", pdf.print_wording(text)).replace("#", "").strip()
        if text:
            found.append(text)
    return found


def _in_pdf(caption: str, text: str) -> bool:
    """The caption is in the PDF's (squashed) text: its words in order, and each traced number
    (between "\x00" marks) as well, though possibly out of the caption's reading order."""
    parts = caption.split("\x00")
    words, numbers = parts[0::2], parts[1::2]
    pattern = ".*?".join(re.escape(_squash(w)) for w in words if _squash(w))
    return (re.search(pattern, text, re.S) is not None if len(words) > 1 else _squash(caption) in text) \
        and all(_squash(n) in text for n in numbers)


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
    missing = [c.replace("\x00", "") for c in captions if not _in_pdf(c, text)]
    assert not missing, "figure captions missing from the PDF:\n" + "\n".join(missing)
    assert all(re.match(r"(Fig\.|Figure)\s*\d", c) for c in captions), captions


def test_every_table_caption_with_number_is_in_the_pdf(built):
    captions = _captions(built["html"], "caption")
    text = _squash(built["text"])
    missing = [c.replace("\x00", "") for c in captions if not _in_pdf(c, text)]
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


# --- fit to circulate ------------------------------------------------------------------------


def _links(reader):
    """(internal destinations, external URIs) of every link annotation in the PDF."""
    internal, uris = [], []
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot.get("/A")
            action = action.get_object() if action is not None else None
            if action is not None and action.get("/S") == "/URI":
                uris.append(str(action["/URI"]))
            elif annot.get("/Dest") is not None:
                internal.append(annot["/Dest"])
            elif action is not None and action.get("/S") == "/GoTo":
                internal.append(action["/D"])
            else:
                raise AssertionError(f"link of unknown kind: {annot}")
    return internal, uris


def test_internal_links_resolve_inside_the_pdf(built):
    reader = built["reader"]
    internal, uris = _links(reader)
    assert internal, "no link inside the PDF (cross-references, contents)"
    named = reader.named_destinations
    page_ids = {p.indirect_reference.idnum for p in reader.pages}
    for dest in internal:
        if isinstance(dest, (str, bytes)) or not hasattr(dest, "__len__"):
            assert str(dest) in named, f"link to a destination the PDF does not hold: {dest}"
            target = named[str(dest)].page
        else:
            target = dest[0]
        assert target.idnum in page_ids, f"link to no page of the PDF: {dest}"
    # nothing points at the temporary server the page was printed from, or at a data: URI
    local = [u for u in uris if re.match(r"(?i)^(https?://(127\.0\.0\.1|localhost)|file:|data:)", u)]
    assert not local, local


def test_links_to_the_site_point_at_its_public_address(built):
    _, uris = _links(built["reader"])
    for uri in uris:
        assert uri.startswith(("https://", "http://", "mailto:")), uri
    html_text = built["html"]
    # the printed page links other pages of the site (the versions) only when the book has them
    site_pages = re.findall(r'href="(v/[^"#]+|[^":#]+\.html)(?:#[^"]*)?"', html_text)
    others = [h for h in site_pages if not h.startswith(("chapters/index.html", "index.html", "book.html",
                                                         "search.html", "genindex.html"))]
    if others:
        assert any(u.startswith(PUBLIC_URL) for u in uris), (others[:5], uris[:10])


def _outline_titles(outline, depth=0):
    for item in outline:
        if isinstance(item, list):
            yield from _outline_titles(item, depth + 1)
        else:
            yield depth, item.title


def test_bookmark_outline_of_chapters_and_sections(built):
    reader = built["reader"]
    titles = list(_outline_titles(reader.outline))
    assert titles, "the PDF has no bookmarks"
    flat = [_squash(t) for _, t in titles]
    # every document's title is a bookmark (in singlehtml each document starts with this mark)
    chapter_titles = [
        re.sub(r"<[^>]+>", "", m.group(1)).strip()
        for m in re.finditer(r'<span id="document-[^"]+"></span>\s*<section[^>]*>\s*<h[1-6][^>]*>(.*?)<a class="headerlink"',
                             built["html"], re.S)
    ]
    assert chapter_titles, "no documents found in the single page"
    from html import unescape
    missing = [t for t in chapter_titles if _squash(unescape(t)) not in flat]
    assert not missing, f"chapters without a bookmark: {missing}"
    # sections are nested under their chapter
    assert max(d for d, _ in titles) >= 1, titles[:20]
    assert reader.trailer["/Root"].get("/PageMode") == "/UseOutlines"


def _config(book):
    import yaml

    return yaml.safe_load((book / "_config.yml").read_text())


def _newest_cutoff(book):
    cutoffs = []
    for nb in book.glob("**/*.ipynb"):
        if "_build" in nb.parts:
            continue
        meta = json.loads(nb.read_text()).get("metadata", {}).get("nscore", {})
        if meta.get("cutoff"):
            cutoffs.append(meta["cutoff"])
    return max(cutoffs) if cutoffs else None


def test_metadata_and_title_page(built):
    reader, book = built["reader"], built["book"]
    config = _config(book)
    meta = reader.metadata
    assert meta.title == config["title"]
    assert meta.author == config["author"]
    assert reader.trailer["/Root"]["/Lang"] == "en"
    cutoff = _newest_cutoff(book)
    first = _squash(reader.pages[0].extract_text())
    for expected in (config["title"], config["author"], "PDF made", PUBLIC_URL):
        assert _squash(expected) in first, f"{expected!r} not on the title page"
    if cutoff:
        assert f"Data cutoff {cutoff}" in meta.subject
        assert _squash(f"Data cutoff {cutoff}") in first
    # the title page is a page of its own: the book's text starts after it
    assert "Contents" not in reader.pages[0].extract_text()


def test_provenance_once_in_the_appendix(built):
    reader = built["reader"]
    pages = [i for i, p in enumerate(reader.pages) if "Provenance of this page" in (p.extract_text() or "")]
    n_boxes = built["html"].count("nscore-provenance")
    if not n_boxes:
        pytest.skip(f"no provenance box in the book ({built['origin']})")
    assert len(pages) == 1, f"provenance box on pages {pages}"
    assert built["text"].count("Provenance of this page") == 1
    page_text = _squash(reader.pages[pages[0]].extract_text())
    assert _squash("Code version") in page_text  # one code version, or why several
    assert _squash("Site built") in page_text
    if 'id="document-chapters/appendix"' in built["html"]:
        assert pages[0] > len(reader.pages) // 2, "the kept box is not the appendix's"


def test_no_interactive_only_wording(built):
    text = built["text"].lower()
    for words in ("hover", "click", "download this"):
        assert words not in text, f"{words!r} in the PDF"


def test_pdf_holds_no_number_note_and_prints_the_orr_one_way(built):
    """The numbers' notes are screen-only, and the ORR reads as the one formatter writes it wherever
    the PDF prints its count (issue 13)."""
    from nscore.analyses import ard

    text = re.sub(r"\s+", " ", built["text"])
    assert "ARD key" not in text and "Method: Clopper-Pearson" not in text
    rows = ard.read_notebook(built["book"] / "chapters" / "index.ipynb")
    orr = rows[rows["analysis_id"] == "headline.orr"].set_index("stat")["value"]
    counts = f"({int(orr['n'])}/{int(orr['N'])}"
    shown = re.findall(r"[0-9.]+% " + re.escape(counts) + r"[^)]*\)", text)
    assert shown, f"the ORR {counts}) is not in the PDF"
    assert len(set(shown)) == 1 and "; 95% CI " in shown[0], shown

"""Light pages: the theme's assets trimmed to what the book's pages use (issue 16 item 1).

A page without a chart loaded about 0.9 MiB, most of it the theme's: the Font Awesome solid
icon font (156 KB, of which the pages show about fifteen icons), the stylesheet's 2,500 icon
rules (93 KB), Bootstrap's components and utilities no page uses (about 200 KB more of the 397 KB
stylesheet) and sphinx-design's stylesheet and tab script (62 KB) on pages that hold no
sphinx-design element. Hooked into the build by :mod:`nscore.report.pages`:

* :func:`drop_unused_design_assets` (``html-page-context``): sphinx-design's stylesheet and script
  only on pages whose body has a sphinx-design element (``class="sd-...``), and likewise the code
  blocks' pygments/copy-button assets and sphinx-togglebutton's (about 46 KB more), and MathJax
  (1.2 MB) on pages without math (:func:`drop_unused_mathjax`);
* :func:`trim_icon_assets` (``build-finished``): in the written site, the theme stylesheet keeps
  the icon rules (``.fa-NAME:before{content:"..."}``) of the icons named in a page or in a script
  of the site (:func:`used_icon_names`), and the solid icon font is replaced by a subset holding
  exactly the glyphs of those rules (WOFF, made with fontTools from the theme's own TTF; the
  ``@font-face`` points at it). Then the stylesheet's rules that cannot match any page are dropped
  (:func:`purge_unused_rules`: a rule goes only when every one of its selectors names a class that
  no page and no script of the site contains, as PurgeCSS does; 312 -> 108 KB). Kept rules are
  copied unchanged; trimming starts from the theme's own file, so running it twice gives the same
  files. Checked on the built site: screenshots of every kind of page at 1280 and 390 px, in light
  and dark mode, with the search dialog and the mobile sidebar open, are pixel-identical before
  and after, and none of the dropped selectors matches an element of those pages.

An icon a page shows is named in that page's HTML (the theme's templates write ``<i class="fa-solid
fa-bars">``) or in a script that adds it; both are scanned, so a new template or script that names
an icon keeps it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from nscore.files import write_atomic

#: sphinx-design's page assets (file names as its extension registers them, possibly hashed).
DESIGN_ASSETS = re.compile(r"(?:^|/)(?:sphinx-design\.[0-9a-f.]*min\.css|sphinx-design\.min\.css|design-tabs\.js)$")
#: The theme stylesheet that holds the Font Awesome rules (pydata-sphinx-theme).
THEME_CSS = Path("_static/styles/pydata-sphinx-theme.css")
#: The solid icon font the theme ships, and the subset written beside it.
SOLID_TTF = Path("_static/vendor/fontawesome/webfonts/fa-solid-900.ttf")
SOLID_SUBSET = "fa-solid-900-subset.woff"

_ICON_NAME = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")
#: A top-level rule that only gives icons their glyph: ``.fa-a:before,.fa-b:before{content:"\f0c9"}``.
_ICON_RULE = re.compile(r'(?<=[}\n])((?:\.fa-[a-z0-9-]+::?(?:before|after),?)+)\{content:"((?:\\[0-9a-f]+|[^"\\])+)"\}')
_SOLID_FACE = re.compile(r"@font-face\{(?=[^}]*font-weight:900)[^}]*src:(?P<src>url\([^)]*fa-solid-900[^)]*\)[^;}]*)[^}]*\}")


def _asset_name(asset) -> str:
    return str(getattr(asset, "filename", asset) or "")


#: Page assets of extensions jupyter-book always loads, each needed only by a page whose body holds
#: that extension's markup: (markup that needs them, asset file names).
CONDITIONAL_ASSETS = (
    (re.compile(r'class="sd-|\ssd-'), DESIGN_ASSETS),
    # code blocks: syntax colours and the copy button (chapters show no code; notebook views do)
    (re.compile(r'class="highlight'), re.compile(r"(?:^|/)(?:pygments\.css|copybutton\.css|copybutton\.js|clipboard\.min\.js)$")),
    # sphinx-togglebutton: toggled admonitions and elements of class "toggle"
    (re.compile(r"toggle|dropdown"), re.compile(r"(?:^|/)togglebutton\.(?:css|js)$")),
)


#: Markup MathJax typesets (Sphinx's math nodes and TeX delimiters in notebook outputs).
_MATH = re.compile(r'class="math|\\\(|\\\[|\$\$')
#: MathJax's loader (``mathjax_path``, 1.2 MB with its TeX input) and its inline configuration.
_MATHJAX = re.compile(r"(?:^|/)(?:tex-mml-chtml|tex-chtml|tex-svg|mathjax)[^/]*\.js$|mathjax", re.I)


def drop_unused_mathjax(context) -> None:
    """No MathJax on a page whose body has nothing for it to typeset (Sphinx adds it to every page
    of a notebook book: the landing page loaded 1.2 MB for no formula)."""
    body = context.get("body") or ""
    scripts = context.get("script_files")
    if not scripts or _MATH.search(body):
        return
    def is_mathjax(script) -> bool:
        name = _asset_name(script).split("?")[0]
        config = str((getattr(script, "attributes", {}) or {}).get("body", ""))
        return bool(_MATHJAX.search(name)) or "window.MathJax" in config
    scripts[:] = [s for s in scripts if not is_mathjax(s)]


def drop_unused_design_assets(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: no sphinx-design, code-block or togglebutton stylesheet/script on a page
    whose body has none of that extension's markup (:data:`CONDITIONAL_ASSETS`)."""
    drop_unused_mathjax(context)
    body = context.get("body") or ""
    for needed, files in CONDITIONAL_ASSETS:
        if needed.search(body):
            continue
        for key in ("css_files", "script_files"):
            assets = context.get(key)
            if assets:
                assets[:] = [a for a in assets if not files.search(_asset_name(a).split("?")[0])]


def used_icon_names(outdir: Path) -> set[str]:
    """Every ``fa-...`` name in the site's pages and in its scripts outside ``_static/vendor``."""
    names: set[str] = set()
    for path in outdir.rglob("*"):
        if not path.is_file() or path.suffix not in (".html", ".js"):
            continue
        rel = path.relative_to(outdir).parts
        if path.suffix == ".js" and "vendor" in rel:
            continue
        names.update(_ICON_NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def _codepoints(content: str) -> list[int]:
    """Code points of a CSS ``content`` string such as ``\\f0c9`` (escapes) or a literal glyph."""
    out, i = [], 0
    while i < len(content):
        if content[i] == "\\":
            m = re.match(r"\\([0-9a-fA-F]{1,6})", content[i:])
            out.append(int(m.group(1), 16))
            i += len(m.group(0))
        else:
            out.append(ord(content[i]))
            i += 1
    return out


def prune_icon_rules(css: str, used: set[str]) -> tuple[str, set[int]]:
    """``css`` without the icon rules none of whose names is in ``used``; the code points kept."""
    kept: set[int] = set()

    def rule(m: re.Match) -> str:
        names = set(re.findall(r"\.(fa-[a-z0-9-]+)::?(?:before|after)", m.group(1)))
        if names & used:
            kept.update(_codepoints(m.group(2)))
            return m.group(0)
        return ""

    return _ICON_RULE.sub(rule, css), kept


def subset_font(ttf: bytes, codepoints: set[int]) -> bytes:
    """A WOFF font with the glyphs of ``codepoints`` only (fontTools' subsetter)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(ttf))
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def _pristine_theme_css(outdir: Path) -> str:
    """The theme stylesheet as the theme ships it (its package copy when installed, else the site's).

    An incremental build may leave the site's copy trimmed by an earlier build; trimming always
    starts from the full file, so a class a page starts to use keeps its rules.
    """
    try:
        import pydata_sphinx_theme

        source = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "styles" / THEME_CSS.name
        if source.is_file():
            return source.read_text(encoding="utf-8")
    except ImportError:  # pragma: no cover - the book's theme depends on it
        pass
    return (outdir / THEME_CSS).read_text(encoding="utf-8")


def trim_icon_assets(outdir: Path) -> dict[str, int] | None:
    """Trim the theme stylesheet and the solid icon font of the site in ``outdir`` (module notes).

    The stylesheet keeps the icon rules of the icons used (:func:`prune_icon_rules`) and, of the
    other rules, those that can match a page (:func:`purge_unused_rules`); its ``@font-face`` for
    the solid icons points at the subset font. Returns the bytes before and after (``css``,
    ``font``), or None when the theme's files are not there (another theme: nothing is changed).
    """
    css_path, ttf_path = outdir / THEME_CSS, outdir / SOLID_TTF
    if not css_path.is_file() or not ttf_path.is_file():
        return None
    css = _pristine_theme_css(outdir)
    face = _SOLID_FACE.search(css)
    if face is None:
        return None
    pruned, codepoints = prune_icon_rules(css, used_icon_names(outdir))
    font = subset_font(ttf_path.read_bytes(), codepoints)
    write_atomic(ttf_path.with_name(SOLID_SUBSET), font)
    rel = face.group("src").split("url(", 1)[1].split(")", 1)[0].rsplit("/", 1)[0]
    src = f'url({rel}/{SOLID_SUBSET}) format("woff")'
    pruned = purge_unused_rules(pruned.replace(face.group("src"), src, 1), used_words(outdir))
    if pruned != css_path.read_text(encoding="utf-8"):
        write_atomic(css_path, pruned.encode("utf-8"))
    woff2 = ttf_path.with_suffix(".woff2")
    return {"css_before": len(css.encode()), "css_after": len(pruned.encode()),
            "font_before": woff2.stat().st_size if woff2.is_file() else 0, "font_after": len(font)}


def trim_icon_assets_hook(app, exception) -> None:
    """``build-finished``: :func:`trim_icon_assets` on an HTML build's output."""
    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    trim_icon_assets(Path(app.builder.outdir))


# --------------------------------------------------------------------------- unused theme rules

#: Stylesheets of the site purged of rules no page can use (:func:`purge_unused_rules`).
PURGED_CSS = (THEME_CSS,)
_WORD = re.compile(r"-?[_a-zA-Z][_a-zA-Z0-9-]*")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][_a-zA-Z0-9-]*)")
#: At-rules whose block holds rules (purged inside); any other at-rule block is kept whole.
_GROUPING = ("@media", "@supports", "@layer", "@container")


def used_words(outdir: Path) -> set[str]:
    """Every identifier-like word of the site's pages and of its scripts outside ``_static/vendor``.

    A superset of the class names a page can carry: the classes written into the HTML and every
    name a script could add (``classList.add("show")``, ``"bd-search-active"``), plus the prose's
    words, which only make the purge keep more.
    """
    words: set[str] = set()
    for path in outdir.rglob("*"):
        if not path.is_file() or path.suffix not in (".html", ".js"):
            continue
        if path.suffix == ".js" and "vendor" in path.relative_to(outdir).parts:
            continue
        words.update(_WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
    return words


def _skip_string(css: str, i: int) -> int:
    """Index after the quoted string starting at ``css[i]``."""
    quote, i = css[i], i + 1
    while i < len(css) and css[i] != quote:
        i += 2 if css[i] == "\\" else 1
    return i + 1


def _find(css: str, i: int, stops: str) -> int:
    """Index of the first of ``stops`` at or after ``i`` outside strings, comments and brackets."""
    depth = 0
    while i < len(css):
        c = css[i]
        if c in "\"'":
            i = _skip_string(css, i)
            continue
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c in stops:
            return i
        i += 1
    return len(css)


def _block_end(css: str, i: int) -> int:
    """Index of the ``}`` closing the block whose ``{`` is at ``css[i]``."""
    depth, i = 0, i
    while i < len(css):
        c = css[i]
        if c in "\"'":
            i = _skip_string(css, i)
            continue
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(css) - 1


def _split_selectors(prelude: str) -> list[str]:
    out, start = [], 0
    while True:
        end = _find(prelude, start, ",")
        out.append(prelude[start:end])
        if end >= len(prelude):
            return out
        start = end + 1


def _selector_may_match(selector: str, used: set[str]) -> bool:
    """False only when the selector names a class no page or script has (a sure non-match)."""
    if "\\" in selector or re.search(r":(?:is|where|has|host|slotted)\(", selector):
        return True  # escapes and selector-list pseudo-classes: kept as they are
    selector = re.sub(r":not\((?:[^()]|\([^()]*\))*\)", "", selector)  # :not() never needs a class present
    selector = re.sub(r"\[[^\]]*\]", "", selector)  # attribute values are not class names
    return all(name in used for name in _CLASS.findall(selector))


def purge_unused_rules(css: str, used: set[str]) -> str:
    """``css`` without the style rules none of whose selectors can match (see
    :func:`_selector_may_match`); at-rule groups are purged inside and dropped when emptied;
    ``@font-face``, ``@keyframes`` and other at-rules are kept. Kept rules are copied unchanged."""
    out, i = [], 0
    while i < len(css):
        if css[i].isspace():
            out.append(css[i])
            i += 1
            continue
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            end = len(css) if end < 0 else end + 2
            out.append(css[i:end])
            i = end
            continue
        stop = _find(css, i, "{;}")
        if stop >= len(css) or css[stop] in ";}":
            out.append(css[i:stop + 1])  # a statement at-rule (@charset, @import) or stray text
            i = stop + 1
            continue
        end = _block_end(css, stop)
        prelude, body = css[i:stop], css[stop + 1:end]
        head = prelude.strip().lower()
        if head.startswith("@"):
            if head.startswith(_GROUPING):
                inner = purge_unused_rules(body, used)
                if inner.strip():
                    out.append(f"{prelude}{{{inner}}}")
            else:
                out.append(css[i:end + 1])
        elif any(_selector_may_match(s, used) for s in _split_selectors(prelude)):
            out.append(css[i:end + 1])
        i = end + 1
    return "".join(out)

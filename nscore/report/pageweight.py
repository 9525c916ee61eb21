"""Light pages: the theme's assets trimmed to what the book's pages use (issue 16 item 1).

A page without a chart loaded about 0.9 MiB, most of it the theme's: the Font Awesome solid
icon font (156 KB, of which the pages show about fifteen icons), the stylesheet's 2,500 icon
rules (93 KB) and sphinx-design's stylesheet and tab script (62 KB) on pages that hold no
sphinx-design element. Hooked into the build by :mod:`nscore.report.pages`:

* :func:`drop_unused_design_assets` (``html-page-context``): sphinx-design's stylesheet and script
  only on pages whose body has a sphinx-design element (``class="sd-...``), and likewise the code
  blocks' pygments/copy-button assets and sphinx-togglebutton's (about 46 KB more);
* :func:`trim_icon_assets` (``build-finished``): in the written site, the theme stylesheet keeps
  the icon rules (``.fa-NAME:before{content:"..."}``) of the icons named in a page or in a script
  of the site (:func:`used_icon_names`), and the solid icon font is replaced by a subset holding
  exactly the glyphs of those rules (WOFF, made with fontTools from the theme's own TTF; the
  ``@font-face`` points at it). Nothing else in the stylesheet changes; running it twice gives the
  same files.

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


def drop_unused_design_assets(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: no sphinx-design, code-block or togglebutton stylesheet/script on a page
    whose body has none of that extension's markup (:data:`CONDITIONAL_ASSETS`)."""
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


def trim_icon_assets(outdir: Path) -> dict[str, int] | None:
    """Trim the icon rules and the solid font of the site in ``outdir`` (see module notes).

    Returns the bytes before and after (``css``, ``font``), or None when the theme's files are not
    there (another theme: nothing is changed).
    """
    css_path, ttf_path = outdir / THEME_CSS, outdir / SOLID_TTF
    if not css_path.is_file() or not ttf_path.is_file():
        return None
    css = css_path.read_text(encoding="utf-8")
    face = _SOLID_FACE.search(css)
    if face is None:
        return None
    pruned, codepoints = prune_icon_rules(css, used_icon_names(outdir))
    font = subset_font(ttf_path.read_bytes(), codepoints)
    write_atomic(ttf_path.with_name(SOLID_SUBSET), font)
    rel = face.group("src").split("url(", 1)[1].split(")", 1)[0].rsplit("/", 1)[0]
    src = f'url({rel}/{SOLID_SUBSET}) format("woff")'
    pruned = pruned.replace(face.group("src"), src, 1)
    if pruned != css:
        write_atomic(css_path, pruned.encode("utf-8"))
    woff2 = ttf_path.with_suffix(".woff2")
    return {"css_before": len(css.encode()), "css_after": len(pruned.encode()),
            "font_before": woff2.stat().st_size if woff2.is_file() else 0, "font_after": len(font)}


def trim_icon_assets_hook(app, exception) -> None:
    """``build-finished``: :func:`trim_icon_assets` on an HTML build's output."""
    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    trim_icon_assets(Path(app.builder.outdir))

"""How to cite the publication, its citation metadata and its licences (issue 16 item 7), from one
source: ``_config.yml`` (``title``, ``author``, ``copyright``, ``html: baseurl`` and
``sphinx: config: nscore_citation``).

* :func:`citation` gathers the fields; :func:`meta_tags` writes them into every page's head as
  Highwire Press (``citation_*``, read by Google Scholar and Zotero) and Dublin Core (``DC.*``)
  tags; :func:`how_to_cite_html` is the "How to cite" section of the landing page; every page ends
  with the licence line (:func:`licence_html`).
* ``CITATION.cff`` at the repository root (Citation File Format 1.2.0) is :func:`cff_text` of the same
  configuration; a test keeps the file equal to it (``python -m nscore.report.citation > CITATION.cff``
  rewrites it after ``_config.yml`` changed).

The public address is ``html: baseurl`` (empty: none known yet; then no URL is written anywhere).
Sphinx extension ``nscore.report.citation`` (``extra_extensions`` in ``_config.yml``).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path

#: Licences: the text and figures of the publication; the code (``nscore``, chapters' code). Data are not
#: licensed from the site: the site never carries patient-level rows, and real data are not distributed.
TEXT_LICENCE = ("CC-BY-4.0", "Creative Commons Attribution 4.0 International (CC BY 4.0)",
                "https://creativecommons.org/licenses/by/4.0/")
CODE_LICENCE = ("MIT", "MIT License", "https://opensource.org/license/mit")
HOW_TO_CITE_ID = "how-to-cite"
LICENCE_CLASS = "nscore-licence"


@dataclass(frozen=True)
class Citation:
    """What a citation of one version of the publication says."""

    title: str
    authors: tuple[str, ...]
    date: str  # YYYY-MM-DD: the site build date of this version
    cutoff: str = ""  # the data cutoff of this version ("" unknown)
    url: str = ""  # the public address ("" none configured)
    language: str = "en"
    abstract: str = ""

    @property
    def year(self) -> str:
        return self.date[:4]

    def text(self) -> str:
        """The reference as a reader writes it in a bibliography (plain text)."""
        version = f" Version of data cutoff {self.cutoff}." if self.cutoff else ""
        where = f" {self.url}" if self.url else ""
        return (f"{'; '.join(self.authors)} ({self.year}). {self.title}. Living publication.{version}"
                f" Published {self.date}.{where}")

    def bibtex(self) -> str:
        key = "ns7car" + (self.cutoff.replace("-", "") if self.cutoff else self.year)
        fields = [("title", "{" + self.title + "}"), ("author", "{" + " and ".join("{" + a + "}" for a in self.authors) + "}"),
                  ("year", "{" + self.year + "}"), ("note", "{Living publication" + (f", data cutoff {self.cutoff}" if self.cutoff else "") + "}")]
        if self.url:
            fields.append(("url", "{" + self.url + "}"))
        body = ",\n".join(f"  {k} = {v}" for k, v in fields)
        return f"@misc{{{key},\n{body}\n}}"


def _authors(config: dict) -> tuple[str, ...]:
    extra = (config.get("sphinx") or {}).get("config", {}).get("nscore_citation", {}) or {}
    names = extra.get("authors") or [config.get("author") or ""]
    return tuple(str(n) for n in names if str(n).strip())


def public_url(config: dict) -> str:
    """``html: baseurl`` of ``_config.yml`` with a trailing slash, or "" when none is configured."""
    url = str((config.get("html") or {}).get("baseurl") or "").strip()
    return url if not url or url.endswith("/") else url + "/"


def _q(value) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(str(value), ensure_ascii=False)


def cff_text(config: dict) -> str:
    """``CITATION.cff`` (CFF 1.2.0) for the book configured by ``config`` (``_config.yml`` as a dict)."""
    extra = (config.get("sphinx") or {}).get("config", {}).get("nscore_citation", {}) or {}
    lines = [
        "# Generated from _config.yml by `python -m nscore.report.citation > CITATION.cff` (tests keep them equal).",
        "cff-version: 1.2.0",
        f'message: {_q(extra.get("message", "If you use this publication, please cite it as below."))}',
        "type: software",
        f'title: {_q(config["title"])}',
        "authors:",
        *[f"  - name: {_q(a)}" for a in _authors(config)],
        "license:",
        f"  - {TEXT_LICENCE[0]}",
        f"  - {CODE_LICENCE[0]}",
    ]
    if extra.get("abstract"):
        lines.append(f"abstract: {_q(extra['abstract'])}")
    if public_url(config):
        lines.append(f"url: {_q(public_url(config))}")
    if extra.get("keywords"):
        lines.append("keywords:")
        lines += [f"  - {_q(k)}" for k in extra["keywords"]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML


def meta_tags(c: Citation, page_url: str = "") -> str:
    """Highwire Press and Dublin Core ``<meta>`` tags for one page of the publication."""
    def meta(name: str, content: str) -> str:
        return f'<meta name="{name}" content="{html.escape(content, quote=True)}">'

    tags = [meta("citation_title", c.title)]
    tags += [meta("citation_author", a) for a in c.authors]
    tags += [meta("citation_publication_date", c.date.replace("-", "/")),
             meta("citation_online_date", c.date.replace("-", "/")),
             meta("citation_language", c.language)]
    if c.url:
        tags.append(meta("citation_public_url", page_url or c.url))
    if c.cutoff:
        tags.append(meta("citation_technical_report_number", f"data cutoff {c.cutoff}"))
    tags += [meta("DC.title", c.title)]
    tags += [meta("DC.creator", a) for a in c.authors]
    tags += [meta("DC.date", c.date), meta("DC.language", c.language), meta("DC.type", "Text"),
             meta("DC.format", "text/html"),
             meta("DC.rights", f"Text: {TEXT_LICENCE[1]}; code: {CODE_LICENCE[1]}")]
    if c.url:
        tags.append(meta("DC.identifier", page_url or c.url))
    if c.cutoff:
        tags.append(meta("DC.coverage", f"data cutoff {c.cutoff}"))
    return "\n".join(tags) + "\n"


def licence_html(cite_href: str) -> str:
    """The licence line that ends every page."""
    return (f'<p class="{LICENCE_CLASS}">Text and figures: '
            f'<a href="{TEXT_LICENCE[2]}" rel="license">{TEXT_LICENCE[1]}</a>; code: '
            f'<a href="{CODE_LICENCE[2]}" rel="license">{CODE_LICENCE[1]}</a>. '
            f'<a href="{html.escape(cite_href, quote=True)}">How to cite this publication</a>.</p>')


def how_to_cite_html(c: Citation) -> str:
    """The "How to cite" section of the landing page."""
    url = (f' Its public address is <a href="{html.escape(c.url, quote=True)}">{html.escape(c.url)}</a>.'
           if c.url else " No public address is configured for this build (<code>html: baseurl</code> in "
                         "<code>_config.yml</code>).")
    return (
        f'<section id="{HOW_TO_CITE_ID}"><h2>How to cite</h2>'
        "<p>This is a living publication: each data cutoff is a version of its own, kept at a stable "
        "address; cite the version you read, by its data cutoff." + url + "</p>"
        f'<p class="nscore-citation-text">{html.escape(c.text())}</p>'
        f'<pre class="nscore-citation-bibtex" aria-label="BibTeX entry">{html.escape(c.bibtex())}</pre>'
        "<p>The same fields are in each page's metadata (Highwire Press <code>citation_*</code> and Dublin "
        "Core <code>DC.*</code> tags, read by reference managers) and in <code>CITATION.cff</code> in the "
        f"repository. Licences: the text and figures under {TEXT_LICENCE[1]}, the code under "
        f"the {CODE_LICENCE[1]} (<code>LICENSE</code>, <code>LICENSE-TEXT.md</code>).</p></section>"
    )


# --------------------------------------------------------------------------- Sphinx side


def _cutoff(app) -> str:
    """The data cutoff of this build: the root notebook's ``metadata.nscore.cutoff``."""
    if not hasattr(app.env, "_nscore_cutoff"):
        import nbformat

        cutoff = ""
        root = Path(app.srcdir) / f"{app.config.root_doc}.ipynb"
        try:
            cutoff = str((nbformat.read(root, as_version=4).metadata.get("nscore") or {}).get("cutoff") or "")
        except (OSError, ValueError):
            pass
        app.env._nscore_cutoff = cutoff
    return app.env._nscore_cutoff


def citation_for(app) -> Citation:
    built = str(getattr(app.env, "nscore_site_built", "") or getattr(app.config, "nscore_site_built", "") or "")[:10]
    date = built or _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    extra = app.config.nscore_citation or {}
    authors = tuple(extra.get("authors") or [app.config.author])
    url = str(app.config.html_baseurl or "").strip()
    url = url if not url or url.endswith("/") else url + "/"
    return Citation(title=str(app.config.html_title or app.config.project), authors=authors, date=date,
                    cutoff=_cutoff(app), url=url, language=app.config.language or "en")


def _page(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: the citation tags in the head; the licence line (and on the landing page
    the "How to cite" section) at the end of the body."""
    c = citation_for(app)
    page_url = c.url + pagename + ".html" if c.url else ""
    context["metatags"] = context.get("metatags", "") + meta_tags(c, page_url)
    body = context.get("body")
    if not body or getattr(app.builder, "name", "") not in ("html", "dirhtml"):
        return
    if pagename == app.config.root_doc:
        body += how_to_cite_html(c)
    root = "" if pagename == app.config.root_doc else context["pathto"](app.config.root_doc)
    body += licence_html(f"{root}#{HOW_TO_CITE_ID}")
    context["body"] = body


def setup(app):
    app.add_config_value("nscore_citation", {}, "html")
    app.connect("html-page-context", _page, priority=700)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # python -m nscore.report.citation [_config.yml] > CITATION.cff
    import yaml

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "_config.yml")
    sys.stdout.write(cff_text(yaml.safe_load(path.read_text(encoding="utf-8"))))

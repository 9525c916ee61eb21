"""The ``{ard}`` role: every number on a page carries the analysis result it comes from.

One cohesive module (about 500 lines): the role's markup, the rows it names, and the Sphinx
extension that renders it, kept together so the key syntax has one definition.

Markup (written by :func:`role`, never by hand)::

    {ard}`86.3% (284/329; 95% CI 82.1–89.8) <efficacy.orr>`          MyST
    :ard:`86.3% (284/329; 95% CI 82.1–89.8) <efficacy.orr>`          reStructuredText (grid tables)

``TEXT`` is what the reader sees (formatted by :mod:`nscore.report.format`); ``KEY`` is an ARD
``row_key`` (``analysis_id|group_var=group_level|stat``), an ``analysis_id`` (its overall rows), or
``analysis_id|group_var=group_level`` (one subgroup's rows).

Where the note's content comes from (the simple, robust way chosen)
--------------------------------------------------------------------
The page's own executed notebook. Its last cell (tags ``remove-cell``, ``nscore-ard``) holds the
chapter's ARD rows as a display output of MIME type :data:`ARD_MIME` (``{"rows": [...]}``,
:mod:`nscore.analyses.ard`). When Sphinx reads a page, the role reads ``<srcdir>/<docname>.ipynb``
once (:func:`page_rows`, cached by path and modification time), looks the key up and stores the
note's fields on the node, so the rendered note always matches the rows recorded in the same
execution as the text. Carrying the fields inside the role text was rejected: it would make every
number's markup a few hundred characters and duplicate what the notebook already holds. A key
with no row on the page (or a page without ARD output) is a Sphinx warning naming the page and the
key; the site builds with ``-W``, so it fails the build.

Where the markup may stand (checked on a toy book, ``tests/test_trace.py``)
-------------------------------------------------------------------------
- Markdown cells, and ``text/markdown`` outputs of code cells (``narrative.md``, tables): the book
  renders them as MyST (``nb_render_markdown_format: myst``), so the role is parsed.
- Glued values: glue the markup as ``IPython.display.Markdown`` and cite it with
  ``{glue:md}`key:myst``` inline or the ``glue:md`` directive with ``:format: myst``. The plain
  ``{glue:md}`key``` parses the value as CommonMark, where the role is not recognised (it would
  print as code); ``{glue:text}`` prints the markup as text.
- Grid tables (``{eval-rst}``): the reStructuredText form, :func:`rst_role`
  (:class:`nscore.report.tables.Table` writes the right form for each table kind).

What each builder shows
-----------------------
- HTML: ``<span class="nscore-ard" tabindex="0" data-ard="KEY" aria-describedby="ID">TEXT
  <span class="nscore-ard-note" role="tooltip" id="ID">…</span></span>``. The note (statistic,
  population and N, method, cutoff and data version, analysis id with a link to the cutoff's ARD
  file where the site has one, where it is shown and the executed notebook's cell with a download
  link) is shown on hover and on keyboard focus (CSS
  ``:hover``/``:focus-within``, so its links can be tabbed to), dismissed with Escape
  (``nscore-ard.js``), read by screen readers as the span's description, and hidden in print
  (the PDF is printed from the HTML). Stylesheet and script are files of this package
  (``nscore/report/static``), copied into the site's ``_static``: nothing is fetched.
- Every other builder (LaTeX, text, man...): ``TEXT`` only.

The ARD file link
-----------------
The cutoff's analysis-results dataset is written as ``ard/ard-<cutoff>.csv`` at the root of each
version's site by the pipeline (``nscore.build.site.write_results``), after Sphinx has run, so the
role cannot look for the file. It links it when the Sphinx option ``nscore_ard_link`` is true; by
default (None) that is when the book was staged by the pipeline (environment variable
:data:`PIPELINE_ENV`, ``nscore.build.site.STAGED_ENV``), whose every fresh version site gets the
file. A plain ``jupyter-book build`` has no such file and names it without a link. Numbers of
another cutoff (``KEY@<cutoff>``) name that cutoff's file without a link: it lives in that
version's site, not in this one.
"""

from __future__ import annotations

import json
import os
import re
from html import escape
from pathlib import Path

from docutils import nodes

__all__ = ["ARD_MIME", "REFERENCE_MIME", "ROLE", "emit_reference", "Traced", "traced", "cite", "cell", "select", "auto", "role", "rst_role", "roles", "plain", "parse", "page_rows", "resolve", "setup"]

#: MIME type of the display output holding a chapter's ARD rows (``{"rows": [...]}``).
ARD_MIME = "application/vnd.nscore.ard+json"
#: MIME type of rows a page shows from another cutoff (the published cutoff's values beside the
#: published figures): cited as ``KEY@<cutoff>``, never part of this cutoff's ARD.
REFERENCE_MIME = "application/vnd.nscore.ard-reference+json"
#: The role's name.
ROLE = "ard"
#: Set by the pipeline for the books it stages (``nscore.build.site.STAGED_ENV``); their version sites
#: get ``ard/ard-<cutoff>.csv`` (``nscore.build.site.RESULTS_DIR``), which the notes then link.
PIPELINE_ENV = "NSCORE_STAGED_BOOK"
#: Where a version's site holds its cutoff's ARD, relative to the site root.
ARD_FILE = "ard/ard-{cutoff}.csv"
#: Class of the span around a traced number (tests and the coverage count look for it).
CLASS = "nscore-ard"
STATIC = Path(__file__).resolve().parent / "static"
CSS_FILE = "nscore-ard.css"
JS_FILE = "nscore-ard.js"

_ROLE_TEXT = re.compile(r"^(?P<text>.*?)\s*<(?P<key>[^<>\s][^<>]*)>$", re.S)
_KEY = re.compile(r"^[a-z0-9_.-]+(\|[^|\n=]*=[^|\n]*(\|[A-Za-z0-9_.-]+)?)?(@[0-9]{4}-[0-9]{2}-[0-9]{2})?$")
_AT = re.compile(r"@([0-9]{4}-[0-9]{2}-[0-9]{2})$")
#: Characters of a key (a group level such as "<18 years") that the role's ``TEXT <KEY>`` syntax
#: cannot hold: written percent-encoded in the markup, decoded by :func:`parse`.
_KEY_ESCAPES = {"%": "%25", "<": "%3C", ">": "%3E", "`": "%60"}


def _encode_key(key: str) -> str:
    return "".join(_KEY_ESCAPES.get(ch, ch) for ch in key)


def _decode_key(key: str) -> str:
    from urllib.parse import unquote

    return unquote(key)


# ------------------------------------------------------------------------------------ markup
def _check(text: str, key: str) -> None:
    if not str(text).strip():
        raise ValueError("an ard role needs the text the reader sees")
    if "`" in str(text) or "\n" in str(text):
        raise ValueError(f"ard role text must be one line without backticks: {text!r}")
    if not _KEY.match(str(key)):
        raise ValueError(f"not an ARD key (analysis_id, analysis_id|var=level or a row_key): {key!r}")


def role(text: str, key: str) -> str:
    """MyST markup of a traced number: ``{ard}`TEXT <KEY>```."""
    _check(text, key)
    return f"{{{ROLE}}}`{text} <{_encode_key(key)}>`"


_RST_SPECIAL = re.compile(r"([\\`<>])")


def rst_role(text: str, key: str) -> str:
    """reStructuredText markup of a traced number (for grid tables): ``:ard:`TEXT <KEY>```."""
    _check(text, key)
    shown = _RST_SPECIAL.sub(r"\\\1", str(text))
    return f":{ROLE}:`{shown} <{_encode_key(key)}>`"


_MYST_ROLE = re.compile(r"\{ard\}`(?P<content>[^`]*)`")


def roles(markup: str) -> list[tuple[str, str]]:
    """``(TEXT, KEY)`` of every ``{ard}`` role in MyST ``markup``, in order."""
    return [parse(m.group("content")) for m in _MYST_ROLE.finditer(markup)]


def plain(markup: str) -> str:
    """``markup`` with every ``{ard}`` role replaced by its TEXT (what the reader sees)."""
    return _MYST_ROLE.sub(lambda m: parse(m.group("content"))[0], markup)


def parse(content: str) -> tuple[str, str]:
    """``(TEXT, KEY)`` of a role's content ``TEXT <KEY>``; ValueError otherwise."""
    m = _ROLE_TEXT.match(content.strip())
    if not m or not m.group("text").strip():
        raise ValueError(f"the ard role reads 'TEXT <KEY>', got {content!r}")
    return m.group("text").strip(), _decode_key(m.group("key"))


class Traced(str):
    """A formatted number that knows its ARD key: a table cell holding one is written with the
    role (:class:`nscore.report.tables.Table`); anywhere else it is the plain text (CSV downloads,
    ``str()``, f-strings)."""

    key: str

    def __new__(cls, text: str, key: str):
        _check(text, key)
        obj = super().__new__(cls, text)
        obj.key = key
        return obj

    def myst(self) -> str:
        return role(str(self), self.key)

    def rst(self) -> str:
        return rst_role(str(self), self.key)


def emit_reference(*sources) -> None:
    """Display ARD rows of other cutoffs that the page cites (``KEY@<cutoff>``) as one output of
    MIME type :data:`REFERENCE_MIME`, in a cell tagged ``remove-cell``: the notes read them, the
    cutoff's ARD (:data:`ARD_MIME` only) does not. ``sources``: results, row frames or lists."""
    import pandas as pd
    from IPython.display import display

    from nscore.analyses import ard

    frames = [rows_frame(x) for x in sources if x is not None]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ard.COLUMNS)
    payload = ard.to_payload(frame)
    display({REFERENCE_MIME: payload, "text/plain": f"ARD reference rows: {len(frame)}"}, raw=True)


def traced(text: str, key: str) -> Traced:
    """``text`` (from :mod:`nscore.report.format`) carrying its ARD ``key``, for table cells."""
    return Traced(text, key)


# ------------------------------------------------------------------------- citing ARD rows in prose
def rows_frame(source):
    """ARD rows as a DataFrame: an analysis result (its ``rows()``), a frame, or a list of row dicts."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    from nscore.analyses import ard

    return ard.rows_of(source)


def select(source, key: str):
    """The rows of ``source`` that ``key`` names (see :func:`resolve`), as a DataFrame.

    Raises :class:`nscore.report.format.FormatError` when none do: a number is never printed
    without the row it comes from.
    """
    from nscore.report.format import FormatError

    frame = rows_frame(source)
    records = frame.to_dict("records")
    if not resolve(records, key):
        raise FormatError(f"no ARD row has the key {key!r}")
    return frame.iloc[[i for i, r in enumerate(records) if _named(r, key)]]


def _named(r: dict, key: str) -> bool:
    """Whether row ``r`` is one of the rows ``key`` names. ``KEY@<cutoff>`` names a reference row
    of that cutoff (:func:`emit_reference`); a key without it, the page's own ARD rows only."""
    at = _AT.search(key)
    if at:
        if r.get("_reference") is not True or str(r.get("cutoff")) != at.group(1):
            return False
        key = key[:at.start()]
    elif r.get("_reference") is True:
        return False
    parts = key.split("|")
    if len(parts) == 3:
        return row_key(r) == key
    if len(parts) == 2:
        var, _, level = parts[1].partition("=")
        return r["analysis_id"] == parts[0] and (r.get("group_var") or "") == var and \
            (r.get("group_level") or "") == level
    return r["analysis_id"] == key and not (r.get("group_var") or "")


def _group(key: str) -> tuple[str, str]:
    parts = key.split("|")
    if len(parts) >= 2:
        var, _, level = parts[1].partition("=")
        return var, level
    return "", ""


def auto(rows, group: tuple[str, str] | None = None) -> str:
    """The formatter a set of rows calls for, by the statistics they hold (proportion, median,
    rate, hazard ratio, log-rank, p, count, percent)."""
    from nscore.report import format as fmt

    have = set(rows["stat"])
    if {"n", "N", "lower", "upper"} <= have:
        return fmt.proportion(rows, group=group)
    if "median" in have and {"lower", "upper"} <= have:
        return fmt.median(rows, group=group)
    if "median" in have and {"min", "max"} <= have:
        return fmt.range_(rows, group=group)
    if "median" in have and {"q1", "q3"} <= have:
        return fmt.iqr(rows, group=group)
    if "rate" in have or ("estimate" in have and {"lower", "upper"} <= have and "hr" not in have):
        return fmt.rate(rows, group=group)
    if "hr" in have:
        return fmt.hazard_ratio(rows, group=group)
    if {"statistic", "df", "p"} <= have:
        return fmt.logrank(rows, group=group)
    if have == {"p"}:
        return fmt.p_value(rows, group=group)
    if have <= {"n", "N", "events"} and len(have) == 1:
        return fmt.count(rows.assign(stat="n"), group=group)
    if have == {"percent"}:
        return fmt.percent(rows, group=group)
    if have == {"median"}:
        return fmt.days(rows, group=group)
    if have == {"time"}:
        return fmt.days(rows, group=group)
    raise fmt.FormatError(f"no formatter for the statistics {sorted(have)}")


def cite(source, key: str, how=None, **kwargs) -> str:
    """A traced number for prose: ``{ard}`TEXT <key>``` with TEXT = ``how(rows)`` (a function of
    :mod:`nscore.report.format`; default :func:`auto`), rows = the rows of ``source`` (an analysis
    result, its rows, or the recorder's frame) that ``key`` names."""
    rows = select(source, key)
    text = (how or auto)(rows, group=_group(key), **kwargs)
    return role(text, key)


def cell(source, key: str, how=None, **kwargs) -> Traced:
    """:func:`cite` for a table cell: the text carrying its key (:class:`Traced`)."""
    rows = select(source, key)
    return Traced((how or auto)(rows, group=_group(key), **kwargs), key)


# ------------------------------------------------------------------------------------ ARD rows
_CACHE: dict[str, tuple[float, list[dict] | None]] = {}


def notebook_rows(path) -> list[dict] | None:
    """The ARD rows of an executed notebook (all :data:`ARD_MIME` outputs, in order), or None."""
    path = Path(path)
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    hit = _CACHE.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    nb = json.loads(path.read_text(encoding="utf-8"))
    rows, found = [], False
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            for mime, reference in ((ARD_MIME, False), (REFERENCE_MIME, True)):
                data = (out.get("data") or {}).get(mime)
                if data is None:
                    continue
                if isinstance(data, str):
                    data = json.loads(data)
                found = found or not reference
                rows.extend({**r, "_reference": True} if reference else r for r in data.get("rows", []))
    result = rows if found else None
    _CACHE[str(path)] = (mtime, result)
    return result


def page_rows(srcdir, docname: str) -> list[dict] | None:
    """The ARD rows of page ``docname`` (from ``<srcdir>/<docname>.ipynb``), or None."""
    return notebook_rows(Path(srcdir) / f"{docname}.ipynb")


def row_key(row: dict) -> str:
    return f"{row['analysis_id']}|{row.get('group_var') or ''}={row.get('group_level') or ''}|{row['stat']}"


def resolve(rows: list[dict], key: str) -> list[dict]:
    """The rows ``key`` names: a row_key (one row), ``analysis_id|var=level`` (that group's rows)
    or an analysis_id (its overall rows); with ``@<cutoff>``, among the reference rows of that
    cutoff (:func:`emit_reference`)."""
    return [r for r in rows if _named(r, key)]


def _num(v) -> str:
    """A count or cell number for the note; "" when missing or not a finite number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    if f != f or f in (float("inf"), float("-inf")):
        return ""
    return str(int(f)) if f.is_integer() else f"{f:g}"


#: Statistics that say what a set of rows is about (their label and method name the note).
PRIMARY = ("percent", "rate", "estimate", "median", "hr", "statistic", "p", "mean", "n", "N", "events", "time")
_LABEL_NOISE = re.compile(r"\s*\((?:inf|NaN)[^)]*\)")


def note_fields(rows: list[dict], key: str, all_rows: list[dict]) -> dict[str, str]:
    """What the note says, from the rows ``key`` names: the label and method of the main statistic
    (a proportion's percent, a median...), population and N of the analysis group, cutoff, data
    version and the cell that recorded them."""
    by_stat = {r["stat"]: r for r in rows}
    first = next((by_stat[s] for s in PRIMARY if s in by_stat), rows[0])
    label = _LABEL_NOISE.sub("", str(first.get("label") or first.get("endpoint") or first["analysis_id"]))
    method = first.get("method") or next((r.get("method") for r in rows if r.get("method")), "")
    group = ""
    if first.get("group_var"):
        group = f"{first['group_var']} = {first.get('group_level', '')}"
    same = [r for r in all_rows if r["analysis_id"] == first["analysis_id"]
            and (r.get("group_var") or "") == (first.get("group_var") or "")
            and (r.get("group_level") or "") == (first.get("group_level") or "")]
    big = {r["stat"]: r["value"] for r in same}
    n = big.get("N", big.get("n"))
    return {
        "key": key, "analysis_id": first["analysis_id"], "label": label, "group": group,
        "population": str(first.get("population") or ""), "n": "" if n is None else _num(n),
        "method": str(method or ""), "cutoff": str(first.get("cutoff") or ""),
        "data_version": str(first.get("data_version") or ""),
        "cell": "" if first.get("cell") in (None, "") or first.get("cell") != first.get("cell") else _num(first["cell"]),
        "reference": "1" if first.get("_reference") is True else "",
    }


# ------------------------------------------------------------------------------------ Sphinx
class ard_number(nodes.inline):
    """A traced number: its text as children, the note's fields as ``ard_*`` attributes."""


def _role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    env = inliner.document.settings.env
    docname = env.docname
    try:
        shown, key = parse(text)
    except ValueError as exc:
        msg = inliner.reporter.error(f"{exc} (page {docname})", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    rows = page_rows(env.srcdir, docname)
    hits = resolve(rows, key) if rows else []
    node = ard_number(rawtext, "", nodes.Text(shown), classes=[CLASS])
    node["ard_key"] = key
    if not hits:
        why = "the page has no ARD output" if rows is None else "no ARD row has this key"
        logger.warning(f"unknown ARD key {key!r} on page {docname!r} ({why})",
                       location=(docname, lineno), type="nscore", subtype="ard")
        return [nodes.Text(shown)], []
    for k, v in note_fields(hits, key, rows).items():
        node[f"ard_{k}"] = v
    return [node], []


def _link_tables(app, doctree, docname) -> None:
    """``doctree-resolved``: each traced number learns the table of this page that shows its
    analysis (a number inside a table: that table), for the note's "Shown in Table 2.3" link."""

    numbers = app.env.toc_fignumbers.get(docname, {}).get("table", {})
    shown: dict[str, tuple[str, str]] = {}
    for table in doctree.findall(nodes.table):
        ids = table.get("ids") or []
        if not ids:
            continue
        num = numbers.get(ids[0])
        label = "Table " + ".".join(map(str, num)) if num else "the table"
        for n in table.findall(ard_number):
            n["ard_where"], n["ard_where_label"] = ids[0], label + " (this table)"
            shown.setdefault(n.get("ard_analysis_id", ""), (ids[0], label))
    for n in doctree.findall(ard_number):
        if "ard_where" not in n and n.get("ard_analysis_id") in shown:
            n["ard_where"], n["ard_where_label"] = shown[n["ard_analysis_id"]]


def _text_only(app, doctree, docname) -> None:
    """``doctree-resolved``: every builder but HTML shows the number's text only."""
    if app.builder.format == "html":
        return
    for n in list(doctree.findall(ard_number)):
        n.parent.replace(n, [child.deepcopy() for child in n.children])


def _source_link(builder, docname: str) -> str:
    """Relative link from the page to its executed notebook as the site copies it (``_sources``)."""
    from sphinx.util.osutil import relative_uri

    if not builder.config.html_copy_source:
        return ""
    source = builder.env.doc2path(docname, False)
    source = str(source).replace("\\", "/")
    if not source.endswith(".ipynb"):
        return ""
    suffix = builder.config.html_sourcelink_suffix
    if suffix and not source.endswith(suffix):
        source += suffix
    return relative_uri(builder.get_target_uri(docname), "_sources/" + source)


def _ard_file_link(builder, docname: str, cutoff: str) -> str:
    """Relative link from the page to its cutoff's ARD file (:data:`ARD_FILE` at the site root), or
    "" when the site is not known to have it (``nscore_ard_link``)."""
    from sphinx.util.osutil import relative_uri

    if not getattr(builder.config, "nscore_ard_link", False):
        return ""
    return relative_uri(builder.get_target_uri(docname), ARD_FILE.format(cutoff=cutoff))


def _visit_html(self, node) -> None:
    count = getattr(self, "_nscore_ard_count", 0) + 1
    self._nscore_ard_count = count
    docname = self.builder.current_docname
    note_id = f"ard-n{count}"
    key = node["ard_key"]
    self.body.append(f'<span class="{CLASS}" tabindex="0" data-ard="{escape(key)}" '
                     f'aria-describedby="{note_id}">')
    node["ard_note_id"] = note_id
    node["ard_docname"] = docname


def _note_html(self, node) -> str:
    g = node.get
    parts = [f'<b>{escape(g("ard_label", ""))}</b>']
    what = []
    if g("ard_group"):
        what.append(escape(g("ard_group")))
    if g("ard_population"):
        pop = escape(g("ard_population"))
        what.append(pop + (f", N\u00a0=\u00a0{escape(g('ard_n'))}" if g("ard_n") else ""))
    if what:
        parts.append("Population: " + "; ".join(what))
    if g("ard_method"):
        parts.append("Method: " + escape(g("ard_method")))
    if g("ard_cutoff"):
        version = g("ard_data_version", "")
        parts.append(f"Data cutoff {escape(g('ard_cutoff'))}"
                     + (f", data version <code>{escape(version[:12])}</code>" if version else ""))
    where = ""
    if g("ard_cutoff"):
        name = f"ard-{escape(g('ard_cutoff'))}.csv"
        href = _ard_file_link(self.builder, g("ard_docname"), g("ard_cutoff")) if not g("ard_reference") else ""
        where = f' (<a href="{escape(href)}" download>{name}</a>)' if href else f" ({name})"
    parts.append(f"ARD key <code>{escape(g('ard_key', ''))}</code>{where}")
    links = []
    if g("ard_where"):
        links.append(f'shown in <a href="#{escape(g("ard_where"))}">{escape(g("ard_where_label", "the table"))}</a>')
    href = _source_link(self.builder, g("ard_docname"))
    cell = f" (cell [{escape(g('ard_cell'))}])" if g("ard_cell") else ""
    if href:
        links.append(f'computed in the <a href="{escape(href)}" download>executed notebook</a>{cell}')
    elif cell:
        links.append(f"computed in the executed notebook{cell}")
    if links:
        text = "; ".join(links)
        parts.append(text[:1].upper() + text[1:])
    body = "<br>".join(parts)  # lean markup: every traced number carries its note
    return f'<span class="nscore-ard-note" role="tooltip" id="{node["ard_note_id"]}">{body}</span>'


def _depart_html(self, node) -> None:
    self.body.append(_note_html(self, node) + "</span>")


def _static(app, config) -> None:
    """``config-inited``: this package's static files join the site's ``_static``; ``nscore_ard_link``
    left at None becomes whether the pipeline staged this book (:data:`PIPELINE_ENV`)."""
    if config.nscore_ard_link is None:
        config.nscore_ard_link = bool(os.environ.get(PIPELINE_ENV))
    if str(STATIC) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC))


def _assets(app) -> None:
    if app.builder.format == "html":
        app.add_css_file(CSS_FILE)
        app.add_js_file(JS_FILE, loading_method="defer")


def setup(app):
    """Sphinx extension: ``sphinx: extra_extensions: [nscore.report.trace]`` in ``_config.yml``."""
    app.add_node(ard_number, html=(_visit_html, _depart_html))
    app.add_config_value("nscore_ard_link", None, "html", types=[bool, type(None)])
    app.add_role(ROLE, _role)
    app.connect("config-inited", _static)
    app.connect("builder-inited", _assets)
    app.connect("doctree-resolved", _link_tables)
    app.connect("doctree-resolved", _text_only, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

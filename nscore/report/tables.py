"""Numbered, captioned clinical tables for the book, each with a CSV download.

Why this route: a chapter cell displays a :class:`Table`, whose only rich output is ``text/markdown``
holding a MyST ``{list-table}`` directive with a caption and a ``:name:``. The book's
``_config.yml`` sets ``nb_render_markdown_format: myst``, so myst-nb parses that output as MyST:
Sphinx then numbers it ("Table 3.2"), ``{numref}`tbl-...``` cross-references resolve, and the HTML
is a real ``<table>`` whose ``<caption>`` carries the number and the caption text (checked on a test
book with ``jupyter-book build -W -n``). A raw-HTML ``<table>`` output would be a table but neither
numbered nor referable. The CSV download is an ``<a download>`` link with a ``data:`` URI, so the
page needs no extra file and makes no request outside itself.

A :class:`Table` must never carry ``text/html``: myst-nb prefers ``text/html`` over
``text/markdown`` and would then skip the numbered directive.

One module on purpose (about 700 lines): the :class:`Table` type (list and grid directives with
spanning headers, traced cells, the spreadsheet-safe CSV download) and the small frame helpers a
chapter uses to shape a table before showing it, read together when a table looks wrong. The
clinical presenters are in :mod:`nscore.report.presenters`, the version and manifest tables in
:mod:`nscore.report.cutoffs`, the expert panel in :mod:`nscore.report.panel`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from nscore.errors import TableError
from nscore.report import format as fmt

__all__ = [
    "YEAR_DAYS",
    "TIME_UNIT",
    "EARLY_TIME_UNIT",
    "DAYS_PER_MONTH",
    "time_convention",
    "typeset",
    "RATE_YEARS",
    "Table",
    "FORMULA_START",
    "csv_safe",
    "csv_frame",
    "TableError",
    "table",
    "ROW_KINDS",
    "select",
    "glue_figures",
    "wide",
    "stack",
    "lookup",
    "km_summary",
    "km_group_table",
    "cif_table",
    "grade_table",
    "csv_download",
    "reproduction_display",
    "dataset_summary",
    "counts_by",
    "n_distinct",
]

#: Days per year, for rates "n years after infusion" (one home: headline, results and methods read it).
#: The times (years after infusion) at which survival rates are read from the curves: the results
#: chapter's ``survival.REPORT_YEARS``, so landing, methods and results name the same years.
from nscore.statistics.survival import REPORT_YEARS as RATE_YEARS  # noqa: E402
from nscore.statistics.survival import YEAR_DAYS  # noqa: E402

#: The book's one unit convention for times (issue 15: "medians in days beside axes in months").
#: Follow-up, survival, duration of response and every time-to-event median, rate and axis are in
#: MONTHS from infusion (1 month = 365.25 / 12 = 30.44 days; rates at whole years); onset and
#: duration of early toxicities (CRS, ICANS, IEC-HS, cytopenia recovery) and landmark days, which are
#: short and protocol-defined in days, are in DAYS. Symbols: "≥"/"≤" (never ">="), en dash in
#: ranges ("1–2", "16–33"), "×10⁶ cells/kg". Methods states it (:func:`time_convention`).
TIME_UNIT = "months"
EARLY_TIME_UNIT = "days"
DAYS_PER_MONTH = fmt.DAYS_PER_MONTH  # one home: nscore.statistics.outcomes.MONTH_DAYS (YEAR_DAYS / 12)


def time_convention(days_per_month: str | None = None) -> str:
    """The sentence Methods gives for the book's unit convention of times (:data:`TIME_UNIT`).
    ``days_per_month``: the text of :data:`DAYS_PER_MONTH` to print (Methods passes it traced)."""
    dpm = f"{DAYS_PER_MONTH:.2f}" if days_per_month is None else days_per_month
    return (f"Times to event, follow-up and survival are given in months from infusion (a month being "
            f"{dpm} days; rates at whole years after infusion); the onset and duration of "
            "early toxicities and landmark times are given in days.")


FENCE = "````"  # four backticks: the directive may sit next to ``` code in a page
_NAME_RULE = re.compile(r"^tbl-[a-z0-9][a-z0-9-]*$")
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# markup inside a list-table cell (emphasis, links, roles, html, math, list markers, headings).
_ESCAPE = re.compile(r"([\\`*_\[\]<>#|~${}!])")
# Columns that would identify a patient; a table holding one is refused.
PATIENT_COLUMNS = frozenset({"USUBJID", "SUBJID"})


#: Kinds of body row a grid table knows (``Table.row_kinds``): a heading row, a row indented under
#: it, a plain row.
ROW_KINDS = ("group", "indent", "")
#: What an indented row's first cell starts with: two em spaces (kept by HTML, unlike spaces).
INDENT = "\u2003\u2003"
# reStructuredText: every ASCII punctuation character may be backslash-escaped and is then literal,
# which keeps a cell from starting a list, a comment, a role, a substitution or a reference.
_RST_ESCAPE = re.compile(r"([!-/:-@\[-`{-~])")


def _rst(text: str) -> str:
    """Plain text escaped for reStructuredText inline content."""
    return _RST_ESCAPE.sub(r"\\\1", str(text).replace("\n", " ").strip())


def _grid_lines(grid: list[list[int]], texts: dict[int, str], n_head: int) -> list[str]:
    """The lines of a reStructuredText grid table.

    ``grid[r][j]`` is the id of the cell at row ``r``, column ``j`` (a cell spanning rows or
    columns repeats its id; spans are rectangles); ``texts[id]`` its one line of text; the first
    ``n_head`` rows are the header. Widths are counted as docutils counts them (East Asian wide
    characters take two columns).
    """
    from docutils.utils import column_width

    n_rows, n_cols = len(grid), len(grid[0])
    width = [1] * n_cols
    extent: dict[int, tuple[int, int, int]] = {}  # id -> first row, first col, last col
    for r in range(n_rows):
        for j in range(n_cols):
            cid = grid[r][j]
            if cid not in extent:
                last = j
                while last + 1 < n_cols and grid[r][last + 1] == cid:
                    last += 1
                extent[cid] = (r, j, last)
    for cid, (r, j, last) in sorted(extent.items(), key=lambda kv: kv[1][2] - kv[1][1]):
        need = column_width(texts[cid])
        have = sum(width[j:last + 1]) + 3 * (last - j)
        if need > have:
            width[last] += need - have

    def vertical(r: int, k: int) -> bool:  # a line at column boundary k within row r
        return k in (0, n_cols) or grid[r][k - 1] != grid[r][k]

    def horizontal(b: int, j: int) -> bool:  # a line over column j at row boundary b
        return b in (0, n_rows) or grid[b - 1][j] != grid[b][j]

    lines = []
    for b in range(n_rows + 1):
        fill = "=" if b == n_head else "-"
        out = []
        for k in range(n_cols + 1):
            above = b > 0 and vertical(b - 1, k)
            below = b < n_rows and vertical(b, k)
            left = k > 0 and horizontal(b, k - 1)
            right = k < n_cols and horizontal(b, k)
            if (left or right) and (above or below or k in (0, n_cols)):
                out.append("+")
            elif left or right:
                out.append(fill)
            else:
                out.append("|" if above or below else " ")
            if k < n_cols:
                if right:
                    out.append(fill * (width[k] + 2))
                else:  # inside a cell spanning rows: blank
                    out.append(" " * (width[k] + 2))
        lines.append("".join(out))
        if b == n_rows:
            break
        out, j = [], 0
        while j < n_cols:
            cid = grid[b][j]
            first, start, last = extent[cid]
            out.append("|" if vertical(b, j) else " ")
            span = sum(width[j:last + 1]) + 3 * (last - j)
            text = texts[cid] if first == b else ""
            out.append(" " + text + " " * (span - column_width(text)) + " ")
            j = last + 1
        out.append("|")
        lines.append("".join(out))
    return lines


def _inline(text: str) -> str:
    """Plain text escaped for MyST inline content."""
    return _ESCAPE.sub(r"\\\1", text)


def _cell(value) -> str:
    """Text of one cell, escaped so that MyST renders it literally."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "\u00a0"  # a visible empty cell; an empty list item would break the directive
    text = str(value).replace("\n", " ").strip()
    if not text:
        return "\u00a0"
    text = _ESCAPE.sub(r"\\\1", text)
    if re.match(r"^[-+]\s", text) or re.match(r"^\d+[.)]\s", text):
        text = "\\" + text  # would otherwise start a nested list
    if text.startswith("%"):
        text = "\\" + text  # a line starting with % is a MyST comment: the cell would be empty
    return text


#: A cell starting with one of these is run as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Text that is a plain number (a sign, digits, a decimal point, an exponent, a percent sign): a
#: spreadsheet reads it as that number, never as a formula, so it is left as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?%?")


def csv_safe(value):
    """``value`` as it may go into a downloadable CSV: text that a spreadsheet would run as a formula
    gets a leading single quote (``"=HYPERLINK(...)"`` -> ``"'=HYPERLINK(...)"``).

    The rule (OWASP, CSV injection): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return is prefixed with ``'``, which spreadsheets show as text and never evaluate.
    Numbers stay numbers: non-text values (ints, floats, a negative -0.5 included) are returned
    unchanged, and so is text that is entirely a plain number (``"-0.5"``, ``"+2.3"``, ``"-12%"``).
    Any other text starting with one of those characters is neutralised, even when it reads like a
    number to a person (``"-<0.1"``, ``"+2.3 pp"``): it is text to a spreadsheet, which would try to
    evaluate it.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name passed through :func:`csv_safe`.

    Numeric columns are not touched (their CSV formatting stays pandas' own).
    """
    out = frame.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
                or pd.api.types.is_datetime64_any_dtype(col)):
            out.isetitem(i, col.astype(object).map(csv_safe))
    out.columns = [csv_safe(c) for c in out.columns]
    return out


@dataclass(frozen=True)
class Table:
    """A captioned table that renders as a numbered Sphinx table plus a CSV download.

    Parameters
    ----------
    frame : DataFrame
        Aggregated values only (counts, rates, summaries). Its columns become the header row.
    name : str
        Cross-reference label, ``tbl-<words>`` (used with ``{numref}`` in the prose).
    caption : str
        One-line caption saying what is shown (MyST inline markup allowed).
    notes : str, optional
        A footnote paragraph under the table (abbreviations, methods).
    csv_name : str, optional
        File name of the download; defaults to ``<name>.csv``.
    """

    frame: pd.DataFrame
    name: str
    caption: str
    notes: str | None = None
    csv_name: str | None = None
    widths: tuple[int, ...] | None = field(default=None)
    header: tuple[tuple[str, int], ...] | None = None
    row_kinds: tuple[str, ...] | None = None
    #: ARD key of a cell, ``{(row position, column name): key}``: the cell is written with the
    #: ``{ard}`` role (:mod:`nscore.report.trace`). A cell holding a :class:`nscore.report.trace.Traced`
    #: value carries its own key. The CSV download holds the plain text either way.
    keys: Mapping[tuple[int, str], str] | None = None

    def __post_init__(self):
        if not _NAME_RULE.match(self.name or ""):
            raise TableError(f"table name must match 'tbl-<lowercase words>', got {self.name!r}")
        if not (self.caption or "").strip() or "\n" in self.caption:
            raise TableError(f"table {self.name}: caption must be one non-empty line")
        if not isinstance(self.frame, pd.DataFrame) or self.frame.shape[1] == 0:
            raise TableError(f"table {self.name}: frame must be a DataFrame with at least one column")
        bad = PATIENT_COLUMNS & {str(c).upper() for c in self.frame.columns}
        if bad:
            raise TableError(f"table {self.name}: patient-level column(s) {sorted(bad)} not allowed")
        if self.header is not None:
            spans = [int(span) for _, span in self.header]
            if min(spans, default=0) < 1 or sum(spans) != self.frame.shape[1]:
                raise TableError(f"table {self.name}: the spanning header {self.header!r} must cover the "
                                 f"{self.frame.shape[1]} columns, each group at least one")
        for (i, col) in (self.keys or {}):
            if col not in self.frame.columns or not 0 <= int(i) < len(self.frame):
                raise TableError(f"table {self.name}: a key for cell ({i}, {col!r}), which is not in the table")
        if self.row_kinds is not None:
            if len(self.row_kinds) != len(self.frame):
                raise TableError(f"table {self.name}: {len(self.row_kinds)} row kinds for {len(self.frame)} rows")
            unknown = set(self.row_kinds) - set(ROW_KINDS)
            if unknown:
                raise TableError(f"table {self.name}: row kinds {sorted(unknown)}; allowed: {ROW_KINDS}")

    # -- outputs -------------------------------------------------------------------------------
    def _traced(self, i: int, col, value):
        """The cell's value as a :class:`~nscore.report.trace.Traced` when it has a key, else None."""
        from nscore.report.trace import Traced

        if isinstance(value, Traced):
            return value
        key = (self.keys or {}).get((i, col))
        if key is None or _missing(value) or not str(value).strip():
            return None
        return Traced(str(value).replace("\n", " ").strip(), key)

    def csv(self) -> str:
        """The table as CSV text (UTF-8, comma, header), as downloaded by readers.

        Text a spreadsheet would run as a formula is neutralised (:func:`csv_safe`): numbers stay
        numbers, a text cell or header starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
        return gets a leading single quote.
        """
        return csv_frame(self.frame).to_csv(index=False, lineterminator="\n")

    def csv_href(self) -> str:
        """``data:`` URI of the CSV download."""
        payload = base64.b64encode(self.csv().encode("utf-8")).decode("ascii")
        return f"data:text/csv;charset=utf-8;base64,{payload}"

    def download_link(self) -> str:
        """Raw-HTML download link (ignored by non-HTML builders such as LaTeX)."""
        fname = self.csv_name or f"{self.name}.csv"
        return (
            f'<a class="nscore-csv-download" href="{self.csv_href()}" download="{fname}">'
            f"Download this table as CSV ({fname})</a>"
        )

    def to_myst(self) -> str:
        """MyST source: the ``{list-table}`` directive, the notes and the download link.

        A table with a spanning ``header`` or ``row_kinds`` is written as a reStructuredText grid
        table instead (:meth:`grid_table`, inside MyST's ``{eval-rst}``), the docutils table form
        that has cells spanning columns and rows; it is numbered and referred to the same way.
        """
        if self.header is not None or self.row_kinds is not None:
            out = self.grid_table()
            if self.notes:
                out += "\n" + self.notes.strip() + "\n"
            return out + "\n" + self.download_link() + "\n"
        lines = [f"{FENCE}{{list-table}} {self.caption}", f":name: {self.name}", ":header-rows: 1"]
        if self.widths:
            lines.append(":widths: " + " ".join(str(w) for w in self.widths))
        lines.append("")
        lines += ["* - " + _cell(c) if j == 0 else "  - " + _cell(c) for j, c in enumerate(map(str, self.frame.columns))]
        for i, row in enumerate(self.frame.astype(object).values.tolist()):
            for j, value in enumerate(row):
                t = self._traced(i, self.frame.columns[j], value)
                lines.append(("* - " if j == 0 else "  - ") + (t.myst() if t is not None else _cell(value)))
        lines.append(FENCE)
        out = "\n".join(lines) + "\n"
        if self.notes:
            out += "\n" + self.notes.strip() + "\n"
        out += "\n" + self.download_link() + "\n"
        return out

    def grid_table(self) -> str:
        """The table as an ``{eval-rst}`` block holding a ``.. table::`` directive with a grid table.

        Header: with ``header`` (``((label, n_columns), ...)`` over the frame's columns, left to
        right), a first header row of spanning labels over their columns; a group with an empty
        label over one column merges with that column's label into one cell two rows high. Rows:
        ``row_kinds`` gives each body row's kind, ``"group"`` (a heading row: its first cell bold),
        ``"indent"`` (first cell indented under the heading) or ``""`` (plain). The caption is
        plain text here (escaped, no MyST roles). Cell text is escaped for reStructuredText.
        """
        frame = self.frame.astype(object)
        n_cols = frame.shape[1]
        # a header's "(n = 334)" is never broken inside: no-break spaces around the "=" (page only)
        labels = [str(c).replace(" = ", "\u00a0=\u00a0") for c in frame.columns]
        # cells: (row, col) -> (cell id, text); a cell spanning rows/columns shares its id
        grid: list[list[int]] = []
        texts: dict[int, str] = {}
        header = list(self.header) if self.header is not None else [("", 1)] * n_cols
        two_rows = any(label for label, _ in header)
        if two_rows:
            top, bottom, col = [], [], 0
            for label, span in header:
                if not label and span == 1:
                    cid = len(texts)
                    texts[cid] = _rst(labels[col])
                    top.append(cid)
                    bottom.append(cid)
                else:
                    cid = len(texts)
                    texts[cid] = _rst(label)
                    top += [cid] * span
                    for j in range(col, col + span):
                        texts[len(texts)] = _rst(labels[j])
                        bottom.append(len(texts) - 1)
                col += span
            grid += [top, bottom]
        else:
            row = []
            for j in range(n_cols):
                texts[len(texts)] = _rst(labels[j])
                row.append(len(texts) - 1)
            grid.append(row)
        n_head = len(grid)
        kinds = list(self.row_kinds) if self.row_kinds is not None else [""] * len(frame)
        for i, (values, kind) in enumerate(zip(frame.values.tolist(), kinds)):
            row = []
            for j, value in enumerate(values):
                t = self._traced(i, frame.columns[j], value)
                text = "" if _missing(value) else str(value).replace("\n", " ").strip()
                text = t.rst() if t is not None else _rst(text)
                if j == 0 and text and kind == "group":
                    text = f"**{text}**"
                elif j == 0 and text and kind == "indent":
                    text = "\\" + INDENT + text  # escaped, so docutils keeps the leading em spaces
                texts[len(texts)] = text
                row.append(len(texts) - 1)
            grid.append(row)
        body = _grid_lines(grid, texts, n_head)
        lines = [f"{FENCE}{{eval-rst}}", f".. table:: {_rst(self.caption)}", f"   :name: {self.name}", ""]
        lines += ["   " + line for line in body]
        lines.append(FENCE)
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_myst()

    def __repr__(self) -> str:  # text/plain fallback (e.g. a terminal)
        return f"Table {self.name}: {self.caption}\n{self.frame.to_string(index=False)}"


#: ``>=``/``<=`` as typeset symbols.
_RELATIONS = {">=": "\u2265", "<=": "\u2264"}
#: A numeric range written with a hyphen ("1-2", "0.5-1.2"), not part of a date, id or word.
_HYPHEN_RANGE = re.compile(r"(?<![\w.\-\u2013/])([0-9]+(?:\.[0-9]+)?)-([0-9]+(?:\.[0-9]+)?)(?![\w\-/])")
#: MyST inline code and roles (``{ard}`TEXT <KEY>```, ```code```): never retypeset (keys stay keys).
_BACKTICKS = re.compile(r"(`[^`]*`)")


def typeset(text):
    """``text`` with the book's symbols: ``\u2265``/``\u2264`` for ``>=``/``<=`` and an en dash in
    numeric ranges ("Grade 1-2" -> "Grade 1\u20132"); text inside backticks (roles, keys, code)
    and anything that is not a string are returned unchanged.

    Every table goes through it (:func:`table`: cells, headers, caption, notes), so a label that an
    analysis keeps as a plain code (``">=20%"``, ``"Grade >=3"``, ARD levels) reads the same as the
    prose on every page: one convention, "\u226520%" and "1\u20132" (issue 15).
    """
    if type(text) is not str or not text:  # a traced cell (a str subclass) keeps its text and key
        return text
    parts = _BACKTICKS.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside backticks
        part = parts[i]
        for ascii_, symbol in _RELATIONS.items():
            part = part.replace(ascii_, symbol)
        parts[i] = _HYPHEN_RANGE.sub("\\1\u2013\\2", part)
    return "".join(parts)


def table(frame: pd.DataFrame, name: str, caption: str, notes: str | None = None, *,
          index: bool = False, index_names: list[str] | None = None, **kw) -> Table:
    """Build a :class:`Table`; with ``index=True`` the (multi-)index becomes leading columns.

    Why: Table 1 from ``tableone`` and most grouped summaries carry their row labels in the index.
    Text cells, headers, the caption and the notes are typeset (:func:`typeset`); traced cells keep
    their text.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TableError(f"table {name}: expected a DataFrame, got {type(frame).__name__}")
    df = frame.copy()
    if isinstance(df.columns, pd.MultiIndex):
        df.columns = [" ".join(str(p) for p in c if str(p) and not str(p).startswith("Unnamed")).strip()
                      for c in df.columns]
    if index:
        names = index_names or [n if n else "" for n in df.index.names]
        df = df.reset_index()
        df.columns = list(names) + list(df.columns[len(names):])
        if len(names) > 1:
            # a grouped row label is printed once, on the first row of its group
            first = df.columns[0]
            df[first] = df[first].where(df[first].ne(df[first].shift()), "")
    df = df.reset_index(drop=True)
    renamed = {c: typeset(c) if isinstance(c, str) else c for c in df.columns}
    df = df.rename(columns=renamed)
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(typeset)
    if kw.get("keys"):
        kw["keys"] = {(i, renamed.get(c, c)): key for (i, c), key in kw["keys"].items()}
    if kw.get("header"):
        kw["header"] = tuple((typeset(label), span) for label, span in kw["header"])
    return Table(df, name, typeset(caption), typeset(notes), **kw)


# -- number formatting for glue (presentation only) ------------------------------------------
def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


# -- presenters: aggregated frames -> display frames (no statistics here) --------------------
def select(frame: pd.DataFrame, columns: Mapping[str, str], formats: Mapping[str, str] | None = None
           ) -> pd.DataFrame:
    """Keep ``columns`` (source name -> display name) in their given order, renamed.

    ``formats`` maps a source column to a format string applied to each value, e.g.
    ``{"percent": "{:.1f}"}``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(f"columns not in the frame: {', '.join(missing)}")
    out = frame[list(columns)].copy()
    for col, pattern in (formats or {}).items():
        out[col] = [pattern.format(v) for v in out[col]]
    return out.rename(columns=dict(columns))


def glue_figures(frame: pd.DataFrame, key: str = "key", value: str = "display", prefix: str = "") -> list[str]:
    """Glue one text per row (``prefix + row[key]`` -> ``row[value]``), hidden; returns the keys.

    Why: the landing page glues every headline figure by its stable key, so the prose can cite
    ``{glue:text}`hl_orr``` without a line of code per number.
    """
    from IPython.display import Markdown
    from myst_nb import glue

    from nscore.report.trace import Traced

    keys = []
    for k, v in zip(frame[key], frame[value]):
        # a traced value is glued as MyST (cite it with {glue:md}`key:myst`), others as text
        glue(f"{prefix}{k}", Markdown(v.myst()) if isinstance(v, Traced) else str(v), display=False)
        keys.append(f"{prefix}{k}")
    return keys


#: One-line descriptions of the ADaM datasets (the data model, SPEC "Data model").
DATASETS = {
    "adsl": ("ADSL", "Subject level: one row per infused patient", "USUBJID"),
    "adrs": ("ADRS", "Best overall response: one row per efficacy-evaluable patient", "USUBJID, PARAMCD"),
    "adtte": ("ADTTE", "Time to event: one OS and one PFS row per safety patient", "USUBJID, PARAMCD"),
    "adae": ("ADAE", "Adverse events: one row per patient and category, at the maximum grade",
             "USUBJID, AECAT"),
}


def dataset_summary(cohort) -> pd.DataFrame:
    """Dataset, content, key, rows and columns of each ADaM frame the cohort holds (sizes only).

    A dataset that was not collected (``cohort.adae`` is None) has no row: the methods chapter says
    in words what was not collected. The ADAE content names the categories the study collects.
    """
    rows = []
    study = getattr(cohort, "study", None)
    for attr, (name, what, key) in DATASETS.items():
        frame = getattr(cohort, attr, None)
        if frame is None:
            continue
        if attr == "adae" and study is not None and study.adverse_events:
            from nscore.report.narrative import join

            what = f"{join(study.adverse_events)}: one row per patient and category, at the maximum grade"
        rows.append({"Dataset": name, "Content": what, "Key": key, "Rows": int(len(frame)),
                     "Variables": int(frame.shape[1])})
    return pd.DataFrame(rows, columns=["Dataset", "Content", "Key", "Rows", "Variables"])


def n_distinct(frame: pd.DataFrame, column: str) -> int:
    """Number of distinct non-missing values of ``column`` (e.g. trials, diagnoses)."""
    return int(frame[column].nunique(dropna=True))


def counts_by(frame: pd.DataFrame, rows: str, columns: str, *, row_label: str | None = None,
              row_order: list[str] | None = None, column_order: list[str] | None = None,
              total: str = "Total") -> pd.DataFrame:
    """Patients per ``rows`` x ``columns`` with margins (a contingency table of counts only)."""
    ct = pd.crosstab(frame[rows], frame[columns], margins=True, margins_name=total)
    if column_order is not None:
        ct = ct.reindex(columns=[c for c in column_order if c in ct.columns] + [total], fill_value=0)
    if row_order is not None:
        ct = ct.reindex([r for r in row_order if r in ct.index] + [total], fill_value=0)
    ct.columns.name = None
    return ct.reset_index().rename(columns={rows: row_label or rows})


def grade_table(distribution: pd.DataFrame) -> pd.DataFrame:
    """Maximum grade (rows: none, 1..5) by syndrome (columns), cells "n (%)".

    ``distribution`` is ``nscore.analyses.safety.grade_distribution(...).table``.
    """
    d = distribution.copy()
    d["cell"] = [f"{fmt.count(n)} ({fmt.percent(p)})" for n, p in zip(d["n"], d["percent"])]
    d["Maximum ASTCT grade"] = ["No event" if int(g) == 0 else str(int(g)) for g in d["grade"]]
    wide = d.pivot(index="Maximum ASTCT grade", columns="syndrome", values="cell")
    order = ["No event"] + [str(g) for g in range(1, 6)]
    wide = wide.reindex([o for o in order if o in wide.index])
    wide.columns.name = None
    return wide.reset_index()


def csv_download(frame: pd.DataFrame, file_name: str, text: str, *, gzip: bool = False) -> "Markdown":
    """A download link (``data:`` URI, no extra file) of ``frame`` as CSV (cells neutralised as in
    :func:`csv_frame`), for a table too long to show (the full comparison of What changed).

    ``gzip``: the file is ``<file_name>.gz`` (gzip, fixed timestamp, so the page is the same at every
    build), a tenth of the bytes a long table weighs in the page.
    """
    import gzip as gz

    from IPython.display import Markdown

    data = csv_frame(frame).to_csv(index=False, lineterminator="\n", float_format="%.6g").encode("utf-8")
    mime = "text/csv;charset=utf-8"
    if gzip:
        data, mime, file_name = gz.compress(data, 9, mtime=0), "application/gzip", file_name + ".gz"
    href = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return Markdown(f'<p><a class="nscore-csv-download" href="{href}" download="{file_name}">{text} '
                    f"({file_name})</a></p>\n")


def wide(frame: pd.DataFrame, index: str, columns: str, values: str, *, index_label: str | None = None,
         column_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Long aggregated rows -> one row per ``index`` level, one column per ``columns`` level.

    Row and column order follow first appearance (the analysis functions already order levels).
    """
    rows = list(dict.fromkeys(frame[index]))
    cols = list(dict.fromkeys(frame[columns]))
    out = frame.pivot(index=index, columns=columns, values=values).reindex(index=rows, columns=cols)
    out.columns.name = None
    out = out.reset_index().rename(columns={index: index_label or index})
    return out.rename(columns=dict(column_labels or {}))


def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Aggregated tables with the same columns, one under the other."""
    return pd.concat(list(frames), ignore_index=True)


def lookup(frame: pd.DataFrame, value: str = "display", **where) -> object:
    """The one ``value`` of the row matching every ``column=value`` in ``where`` (for glue).

    Raises :class:`TableError` unless exactly one row matches, so a renamed level cannot silently
    glue the wrong number.
    """
    mask = pd.Series(True, index=frame.index)
    for col, v in where.items():
        if col not in frame.columns:
            raise TableError(f"lookup: no column {col!r}")
        mask &= frame[col].astype(str) == str(v)
    hits = frame.loc[mask, value]
    if len(hits) != 1:
        raise TableError(f"lookup {where}: expected one row, found {len(hits)}")
    out = hits.iloc[0]
    return out.item() if hasattr(out, "item") else out


def km_summary(curves: Mapping[str, object], years: tuple[int, ...] = RATE_YEARS,
               ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per fitted Kaplan-Meier curve: patients, events, median (95% CI), rates at ``years``.

    ``curves`` maps a display name to a fitted :class:`nscore.statistics.survival.KaplanMeier`.
    ``ids`` maps a display name to the curve's ARD analysis id (``os.km``): each cell of that row is
    then formatted from the curve's ARD rows (:func:`nscore.analyses.survival_rows.km_rows`) and
    carries its key (:class:`nscore.report.trace.Traced`); the text is the same either way.
    """
    from nscore.report.trace import cell

    rows = []
    for name, km in curves.items():
        aid = (ids or {}).get(name)
        if aid is not None:
            from nscore.analyses.survival_rows import km_rows

            ard_rows = pd.DataFrame(km_rows(km, aid, years=tuple(years)))
            row = {"Endpoint": name, "Patients": cell(ard_rows, f"{aid}|=|N"),
                   "Events": cell(ard_rows, f"{aid}|=|events"), "Median (95% CI)": cell(ard_rows, aid)}
            for y in years:
                row[f"{y}-year estimate (95% CI)"] = cell(ard_rows, f"{aid}|YEARS={y}", fmt.rate)
            rows.append(row)
            continue
        at = km.survival_at([y * YEAR_DAYS for y in years]).reset_index(drop=True)
        row = {"Endpoint": name, "Patients": int(km.n_), "Events": int(km.events_),
               "Median (95% CI)": fmt.median(km.median_, *km.median_ci_)}
        for i, y in enumerate(years):
            row[f"{y}-year estimate (95% CI)"] = fmt.rate(*(100 * at.loc[i, c] for c in ("survival", "lower", "upper")))
        rows.append(row)
    return pd.DataFrame(rows)


def km_group_table(table: pd.DataFrame, labels: Mapping[str, str] | None = None,
                   group_label: str = "Group", *, rows=None, analysis_id: str | None = None,
                   by: str | None = None) -> pd.DataFrame:
    """Per-group KM summary (``kaplan_meier_by(...).table`` or ``landmark(...).table``) for display.

    With the result's ARD ``rows`` (:func:`nscore.analyses.survival_rows.km_by_rows` or
    ``landmark_rows``), its ``analysis_id`` and grouping variable ``by`` (``DIAG``,
    ``HCT_BY_LANDMARK``), every number is formatted from its row and carries its key.
    """
    labels = dict(labels or {})
    name_col = "group" if "group" in table.columns else "label"
    names = [str(g) for g in table[name_col]]
    if rows is not None:
        from nscore.report.trace import cell

        keys = [f"{analysis_id}|{by}={g}" for g in names]
        return pd.DataFrame({
            group_label: [labels.get(g, g) for g in names],
            "Patients": [cell(rows, f"{k}|N") for k in keys],
            "Events": [cell(rows, f"{k}|events") for k in keys],
            "Median, months (95% CI)": [cell(rows, k, fmt.median, label=False) for k in keys],
        })
    return pd.DataFrame({
        group_label: [labels.get(g, g) for g in names],
        "Patients": table["n"].astype(int),
        "Events": table["events"].astype(int),
        "Median, months (95% CI)": [fmt.median(m, lo, hi, label=False) for m, lo, hi in zip(table["median"], table["lower"], table["upper"])],
    })


def cif_table(cif, years: tuple[int, ...] = RATE_YEARS, event_label: str = "Relapse or progression",
              competing_label: str = "Death without relapse or progression", *,
              analysis_id: str | None = None) -> pd.DataFrame:
    """Cumulative incidence of the event and of the competing event at ``years`` (from
    ``survival.cumulative_incidence``), as display text with 95% CIs. With ``analysis_id``
    (``relapse.cif``) each estimate is formatted from its ARD row
    (:func:`nscore.analyses.survival_rows.cif_rows`) and carries its key."""
    traced = None
    if analysis_id is not None:
        from nscore.analyses.survival_rows import cif_rows
        from nscore.report.trace import cell

        traced = pd.DataFrame(cif_rows(cif, analysis_id, years=tuple(years)))
    at = cif.at([y * YEAR_DAYS for y in years]).reset_index(drop=True)
    rows = []
    for label, sfx, aid in ((event_label, "", analysis_id), (competing_label, "_competing", f"{analysis_id}.competing")):
        row = {"Event": label}
        for i, y in enumerate(years):
            head = f"{y} year{'s' if y > 1 else ''} (95% CI)"
            if traced is not None:
                row[head] = cell(traced, f"{aid}|YEARS={y}", fmt.rate)
            else:
                row[head] = fmt.rate(*(100 * at.loc[i, c + sfx] for c in ("cif", "lower", "upper")))
        rows.append(row)
    return pd.DataFrame(rows)


def reproduction_display(table: pd.DataFrame | None) -> pd.DataFrame:
    """The published-vs-reproduced rows for display, with a yes/no match column.

    ``None`` (the published cutoff is not stored) gives a one-row table saying so, so the page
    still builds and states why the comparison is missing.
    """
    if table is None:
        return pd.DataFrame([{"Figure": "(published cutoff not stored)", "Published": "", "Reproduced": "",
                              "Match": "no"}])
    return pd.DataFrame({"Figure": table["figure"], "Published": table["published"],
                         "Reproduced": table["reproduced"],
                         "Match": ["yes" if m else "no" for m in table["match"]]})

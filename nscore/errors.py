"""The one family of errors nscore raises on purpose, so callers can catch ``NscoreError``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nscore.files import write_atomic


class NscoreError(Exception):
    """Base class of every error nscore raises on purpose."""


class DataValidationError(NscoreError):
    """The data broke one or more rules; ``failures`` lists every one (file, row, column, rule, value).

    ``str()`` is what a person reads in a terminal: a summary by rule first, then the table capped
    at ``TABLE_ROWS`` rows (the CLI writes the whole table to a CSV file and prints its path), with
    every value escaped so a delivery cannot put control characters on the user's terminal.
    """

    COLUMNS = ["file", "row", "column", "rule", "value"]
    #: Rows of the failure table printed; the rest is counted ("... N more").
    TABLE_ROWS = 50
    #: Per rule in the summary: the first rows named and the distinct values shown.
    SUMMARY_ROWS = 5
    SUMMARY_VALUES = 5

    def __init__(self, failures: pd.DataFrame, message: str | None = None, expected=None):
        self.failures = failures.reindex(columns=self.COLUMNS).reset_index(drop=True)
        #: (rule, file, column) -> what the rule allows there ("one of M, F"), where it is known
        self.expected = dict(expected or {})
        n = len(self.failures)
        head = message or f"data validation failed: {n} problem{'s' if n != 1 else ''}"
        super().__init__(head)

    def summary(self) -> pd.DataFrame:
        """One row per (rule, file, column): failures, the first rows and the distinct values seen.

        Why: a delivery with one systematic mistake fails thousands of rows; the summary says what
        to fix in a few lines. Values are escaped, rows and values cut at ``SUMMARY_*``.
        """
        f = self.failures
        keys = pd.DataFrame({c: f[c].map(lambda v: "" if _missing(v) else escape(v)) for c in ("rule", "file", "column")})
        out = []
        for (rule, file, column), idx in keys.groupby(["rule", "file", "column"], sort=True).groups.items():
            part = f.loc[idx]
            rows = [int(r) for r in part["row"] if not _missing(r)]
            values = list(dict.fromkeys(escape(v) for v in part["value"] if not _missing(v) and str(v) != ""))
            out.append({
                "rule": rule, "file": file, "column": column, "failures": len(part),
                "first rows": _cut(rows, self.SUMMARY_ROWS) or "-",
                "values": _cut([f"'{v}'" for v in values], self.SUMMARY_VALUES) or "-",
                "expected": escape(self.expected.get((rule, file, column), "")) or "-",
            })
        return pd.DataFrame(out, columns=["rule", "file", "column", "failures", "first rows", "values", "expected"])

    def table(self, limit: int | None = None) -> str:
        """The failure table as text, escaped, at most ``limit`` rows (default ``TABLE_ROWS``)."""
        limit = self.TABLE_ROWS if limit is None else limit
        shown = self.failures.head(limit).copy()
        for c in ("file", "column", "rule", "value"):
            shown[c] = shown[c].map(lambda v: "" if _missing(v) else escape(v))
        shown["row"] = shown["row"].map(lambda v: "" if _missing(v) else str(int(v)))
        with pd.option_context("display.max_rows", None, "display.max_colwidth", 80, "display.width", 200):
            text = shown.to_string(index=False)
        more = len(self.failures) - len(shown)
        return text + (f"\n... {more} more (the full table has {len(self.failures)} rows)" if more > 0 else "")

    def write_csv(self, path) -> Path:
        """Write the complete failure table (values as delivered) to ``path`` (atomically); return it."""
        return write_atomic(path, self.failures.to_csv(index=False, lineterminator="\n"))

    def __str__(self) -> str:
        head = escape(self.args[0])
        if not len(self.failures):
            return head
        with pd.option_context("display.max_rows", None, "display.max_colwidth", 100, "display.width", 200):
            summary = self.summary().to_string(index=False)
        return f"{head}\n\nby rule:\n{summary}\n\nfailures:\n{self.table()}"


def escape(value) -> str:
    """``value`` as text with control and other non-printing characters as ``\\xNN`` escapes.

    Why: failure values come from a delivery; an ESC byte printed raw would drive the terminal.
    """
    text = str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def _missing(v) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _cut(items: list, n: int) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


class IntakeWarningError(NscoreError):
    """A valid delivery looks like a mistake or another study; refused unless the user accepts it.

    ``warnings`` lists ``{"code", "count", "message"}`` (counts only, see :mod:`nscore.data.intake`).
    """

    def __init__(self, cutoff: str, previous: str, warnings: list[dict]):
        self.cutoff, self.previous, self.warnings = cutoff, previous, list(warnings)
        lines = [f"the delivery for cutoff {cutoff} looks like a mistake or another study "
                 f"(compared with the stored cutoff {previous}):"]
        lines += [f"  - {escape(w['message'])}" for w in self.warnings]
        lines.append("Nothing was stored. If the delivery is right, run the command again with --accept-warnings: "
                     "the warnings are then recorded with the cutoff (intake.json) and shown on the What changed page.")
        super().__init__("\n".join(lines))


class ChapterExecutionError(NscoreError):
    """A chapter raised while executing; says which chapter and which cell."""

    def __init__(self, chapter: str, cell_index: int | None, source: str, ename: str, evalue: str):
        self.chapter, self.cell_index, self.source = chapter, cell_index, source
        self.ename, self.evalue = ename, evalue
        where = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        super().__init__(f"chapter '{chapter}' failed in {where}: {ename}: {evalue}\n--- cell source ---\n{source}")


class StaleOutputError(NscoreError):
    """Committed outputs (executed notebooks, manifests) do not match the current data and code."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("stale outputs:\n" + "\n".join(f"  - {p}" for p in self.problems))


class BuildError(NscoreError):
    """The site could not be built; the previous site is left in place."""


class AnalysisInputError(NscoreError):
    """The cohort handed to an analysis lacks what the analysis needs (a column, a population)."""


class SurvivalInputError(AnalysisInputError, ValueError):
    """A survival function got an argument or a frame that breaks a rule; the message names it.

    An :class:`nscore.analyses.cohort.AnalysisInputError` (what every analysis raises when the data lack
    what it needs: a chapter catches one class), and a ``ValueError`` for callers that expect one.
    """


class ImmortalTimeBiasError(SurvivalInputError):
    """Transplant status was used as a baseline covariate, which credits it with immortal time."""


class NotCollectedError(AnalysisInputError):
    """The analysis needs data the delivery did not collect (not the same as "no events")."""


class RenderError(NscoreError):
    """A chart cannot be rendered for the book (no description, or data loaded from a URL)."""


class TableError(NscoreError):
    """A table could not be built (bad name, empty caption, patient-level columns)."""


class FigureError(NscoreError):
    """A chart could not be built from what it was given (missing columns, patient-level fields)."""


class SimulationError(NscoreError):
    """The simulation was asked for something it cannot produce (e.g. n < 1)."""


class BundleError(NscoreError):
    """A reviewer bundle cannot be reproduced: not a zip, a file missing, a hash that does not match."""

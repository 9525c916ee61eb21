"""The one family of errors nscore raises on purpose, so callers can catch ``NscoreError``."""

from __future__ import annotations

import pandas as pd


class NscoreError(Exception):
    """Base class of every error nscore raises on purpose."""


class DataValidationError(NscoreError):
    """The data broke one or more rules; ``failures`` lists every one (file, row, column, rule, value)."""

    COLUMNS = ["file", "row", "column", "rule", "value"]

    def __init__(self, failures: pd.DataFrame, message: str | None = None):
        self.failures = failures.reindex(columns=self.COLUMNS).reset_index(drop=True)
        n = len(self.failures)
        head = message or f"data validation failed: {n} problem{'s' if n != 1 else ''}"
        super().__init__(head)

    def __str__(self) -> str:
        head = self.args[0]
        with pd.option_context("display.max_rows", None, "display.max_colwidth", 80, "display.width", 200):
            table = self.failures.to_string(index=False)
        return f"{head}\n{table}"


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

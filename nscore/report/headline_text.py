"""Absorbed by issue 13's one formatter: kept only so that callers not yet switched still import.

The text of a headline figure is :func:`nscore.report.format.headline`, of a change between cutoffs
:func:`nscore.report.format.change`; the presenters are :func:`nscore.report.presenters.with_display`
and :func:`nscore.report.presenters.comparison_text`. Delete this module once nothing imports it
(tests/test_headline.py does).
"""

from __future__ import annotations

from nscore.report.format import MISSING_TEXT, change as _change_text, headline as figure_text  # noqa: F401
from nscore.report.format import short as _short  # noqa: F401
from nscore.report.presenters import comparison_text, headline_columns, with_display

__all__ = ["COLUMNS", "figure_text", "with_display", "comparison_text"]

#: The headline figures' columns with their text (``display``) after ``upper``.
COLUMNS = headline_columns()

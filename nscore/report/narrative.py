"""The data-dependent words of the chapters: counts, plurals, lists, comparisons, "not reached".

A chapter sentence such as "spread over the 5 trials" or "ICANS was less common" is only true for
the data it was written against. The functions here compute those words from the numbers, so the
sentence stays true for any cohort: "1 trial", "no deaths", "as common as", "not reached", "only
one diagnosis: no comparison". They build words and sentences only; numbers are formatted by
:mod:`nscore.report.format` (the one formatter) and reused here, never formatted a second way.

Conventions
-----------
- Counts are printed as digits ("5 trials", never "five trials"); zero reads as a word ("no trials").
- "None", "unknown" and "not collected" are different things and read differently: ``count(0, ...)``
  is "no ..." (collected, and there were none), :func:`unknown` is "unknown for 3 patients"
  (collected, but not known for them), :func:`not_collected` is "... not collected" (the dataset
  or variable was not delivered). None of them ever reads as "0%" or "n/a".
- Everything is pure: no I/O, no state; inputs that make a sentence meaningless (a negative count,
  a proportion with no denominator) raise ``ValueError`` or ``TypeError`` rather than printing
  something false.
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction
from typing import Iterable

__all__ = [
    "plural",
    "count",
    "number",
    "join",
    "capitalize",
    "sentence",
    "compare_rates",
    "compare_if_collected",
    "median_phrase",
    "events_phrase",
    "groups_sentence",
    "directive",
    "md",
    "not_collected",
    "unknown",
]

_ES = re.compile(r"(s|x|z|ch|sh)$")
_IES = re.compile(r"[^aeiou]y$")


def plural(noun: str) -> str:
    """Regular English plural of the last word of ``noun``.

    ``"trial" -> "trials"``, ``"diagnosis" -> "diagnoses"``, ``"therapy" -> "therapies"``,
    ``"box" -> "boxes"``, ``"dose level" -> "dose levels"``. Irregular nouns and phrases whose
    noun is not last ("relapse or progression", "patient in CR") need an explicit plural wherever
    a ``plural`` argument is offered.
    """
    if not isinstance(noun, str) or not noun:
        raise ValueError(f"plural needs a non-empty word, got {noun!r}")
    if noun.endswith("is"):
        return noun[:-2] + "es"
    if _IES.search(noun):
        return noun[:-1] + "ies"
    if _ES.search(noun):
        return noun + "es"
    return noun + "s"


_plural = plural  # for functions whose ``plural`` argument shadows the function


def _whole(n, name: str = "n") -> int:
    """``n`` as a non-negative int; bools, NaN, fractions, negatives and None are refused."""
    if n is None or isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise TypeError(f"{name} must be a whole number, got {n!r}")
    if isinstance(n, numbers.Integral):
        value = int(n)
    elif math.isfinite(float(n)) and float(n).is_integer():
        value = int(n)
    else:
        raise ValueError(f"{name} must be a whole number, got {n!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {n!r}")
    return value


def count(n, singular: str, plural: str | None = None, zero: str | None = "no", *, key: str | None = None) -> str:
    """``n`` things: ``"1 trial"``, ``"5 trials"``, ``"no trials"``.

    Parameters
    ----------
    n : int
        A count, >= 0 (a float that is a whole number is accepted; NaN, None and bools are not).
    singular, plural : str
        The noun; ``plural`` defaults to :func:`plural` of ``singular``.
    zero : str or None
        The word printed instead of the digit 0 ("no trials", or e.g. "none of the"); ``None``
        prints "0 trials".
    key : str or None
        The ARD key of the count: the digits are written with the ``{ard}`` role
        (:mod:`nscore.report.trace`), so the page links the number to its row.

    Returns
    -------
    str
        The number as digits (no thousands separator, like every count in the book) and the noun.
    """
    n = _whole(n)
    noun = singular if n == 1 else (plural if plural is not None else _plural(singular))
    if n == 0 and zero is not None:
        return f"{zero} {noun}"
    return f"{number(n, key)} {noun}"


def number(n, key: str | None = None) -> str:
    """A whole count as digits, with the ``{ard}`` role when ``key`` is given."""
    n = _whole(n)
    if key is None:
        return str(n)
    from nscore.report.trace import role

    return role(str(n), key)


def join(items: Iterable, conj: str = "and") -> str:
    """Items as an English list: ``"A"``, ``"A and B"``, ``"A, B and C"`` (no serial comma).

    Items are turned into text with ``str``; an empty list gives ``""``.
    """
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def capitalize(text: str) -> str:
    """First character upper-cased, the rest untouched (``"iCANS"`` stays, unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


def sentence(*parts: str, sep: str = " ") -> str:
    """The non-empty ``parts`` joined, capitalised, with a final full stop (``""`` if all are empty).

    ``sentence("adverse events not collected")`` -> ``"Adverse events not collected."``
    """
    text = sep.join(p.strip() for p in parts if p and p.strip())
    if not text:
        return ""
    return capitalize(text) + ("" if text[-1] in ".!?" else ".")


# ---------------------------------------------------------------------------------- comparisons
def _k_n(p, side: str) -> tuple[int, int]:
    """``(k, n)`` of a proportion given as a pair or as an object with ``k`` and ``n``."""
    if p is None:
        raise TypeError(f"{side} is None (not collected): use compare_if_collected")
    if hasattr(p, "k") and hasattr(p, "n"):
        k, n = p.k, p.n
    else:
        try:
            k, n = p
        except (TypeError, ValueError):
            raise TypeError(f"{side} must be (k, n) or have .k and .n, got {p!r}") from None
    k, n = _whole(k, f"{side}.k"), _whole(n, f"{side}.n")
    if n == 0:
        raise ValueError(f"{side} has no denominator (n = 0): there is no rate to compare")
    if k > n:
        raise ValueError(f"{side} has k > n ({k}/{n})")
    return k, n


def _interval(p, k: int, n: int) -> tuple[float, float]:
    lower, upper = getattr(p, "lower", None), getattr(p, "upper", None)
    if lower is None or upper is None:
        from nscore.analyses.efficacy import proportion  # exact (Clopper-Pearson), as everywhere in the book

        q = proportion(k, n)
        lower, upper = q.lower, q.upper
    return float(lower), float(upper)


def compare_rates(a, b, *, digits: int | None = 1, more: str = "more common than",
                  less: str = "less common than", same: str = "as common as",
                  far: str | None = None) -> str:
    """The word that compares rate ``a`` with rate ``b``: ``"less common than"`` etc.

    Built for sentences "<a> was {word} <b>", so the word is driven by the same numbers the
    sentence prints and cannot contradict them.

    Parameters
    ----------
    a, b : (k, n) or Proportion-like
        Each a pair ``(k, n)`` or an object with ``k`` and ``n`` (and optionally ``lower`` and
        ``upper``), such as :class:`nscore.analyses.efficacy.Proportion`.
    digits : int or None
        Compare the percentages as the book prints them (rounded half-up to ``digits`` decimals,
        :func:`nscore.report.format.percent`), so two rates that print the same read ``same``
        (41/333 and 37/300 both print 12.3%). ``None`` compares the exact fractions.
    more, less, same : str
        The words for a > b, a < b, and a tie (equal as printed; e.g. 0/5 and 0/9, or 1/2 and 2/4).
    far : str or None
        A qualifier put before ``more``/``less`` (e.g. ``"far"``) when the two exact 95% confidence
        intervals do not overlap; never for a tie. ``None`` (default): no qualifier.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        A side is None (not collected): use :func:`compare_if_collected`.
    ValueError
        A side has n = 0 (no patients, so no rate: a comparison sentence would be false either
        way), or k > n, or a negative or fractional count.
    """
    ka, na = _k_n(a, "a")
    kb, nb = _k_n(b, "b")
    if digits is None:
        ra, rb = Fraction(ka, na), Fraction(kb, nb)
    else:
        from nscore.report.format import percent

        ra, rb = (Fraction(percent(k, n, digits=digits).rstrip("%")) for k, n in ((ka, na), (kb, nb)))
    if ra == rb:
        return same
    word = more if ra > rb else less
    if far:
        (la, ua), (lb, ub) = _interval(a, ka, na), _interval(b, kb, nb)
        if ua < lb or ub < la:
            word = f"{far} {word}"
    return word


def compare_if_collected(a, b, *, not_comparable: str = "not comparable", **kwargs) -> str:
    """:func:`compare_rates`, or ``not_comparable`` when a side was not collected or has no patients.

    A side that is ``None`` (the dataset or variable was not delivered) or has n = 0 has no rate;
    the result is then ``"not comparable"``, never a comparison with 0%. Keyword arguments go to
    :func:`compare_rates`.
    """
    for p in (a, b):
        if p is None:
            return not_comparable
        n = p.n if hasattr(p, "n") else (p[1] if isinstance(p, (tuple, list)) and len(p) == 2 else None)
        if n is not None and _whole(n) == 0:
            return not_comparable
    return compare_rates(a, b, **kwargs)


# ------------------------------------------------------------------------------- survival words
def median_phrase(median, lower, upper, unit: str = "months", *, nan_is_not_reached: bool = False,
                  key: str | None = None) -> str:
    """What follows "The median ... was": the median with its 95% CI, or "not reached".

    ``"18.0 months (95% CI 15.8–NR)"``; ``"not reached (95% CI 29.6–NR)"``; ``"not reached, nor was
    the lower limit of its 95% CI"`` when the lower limit is not reached either; ``"not reached
    (95% CI not estimable)"``; ``"not estimable"``. The numbers come from :func:`nscore.report.format.median`.

    Parameters
    ----------
    median, lower, upper : float
        As :mod:`nscore.statistics.survival` returns them: ``inf`` = not reached, NaN (or None) = not
        estimable.
    unit : str
        ``"months"`` (the book's unit of times to event, values in days) or ``"days"``.
    nan_is_not_reached : bool
        Read a NaN median (and NaN limits) as "not reached", for values stored the way
        :mod:`nscore.analyses.headline` stores them (NaN when not reached).
    key : str or None
        The ARD key of the median: the formatted part is written with the ``{ard}`` role.
    """
    from nscore.report.format import median as median_ci_text

    def raw(v):
        v = float("nan") if v is None else float(v)
        return math.inf if nan_is_not_reached and math.isnan(v) else v

    median, lower, upper = raw(median), raw(lower), raw(upper)
    text = median_ci_text(median, lower, upper, unit=unit)
    shown = text
    if key is not None:
        from nscore.report.trace import role

        shown = role(text, key)
    if text == "not reached":  # format.median drops the interval when its lower limit says nothing
        if math.isinf(lower):
            return f"{shown}, nor was the lower limit of its 95% CI"
        return f"{shown} (95% CI not estimable)"
    return shown


def events_phrase(n, what: str, plural: str | None = None, *, key: str | None = None) -> str:
    """``"no deaths"``, ``"1 death"``, ``"12 deaths"``.

    ``what`` is the singular event; pass ``plural`` for phrases whose plural is not regular:
    ``events_phrase(3, "relapse or progression", "relapses or progressions")``. ``key``: the ARD
    key of the count (see :func:`count`).
    """
    return count(n, what, plural, zero="no", key=key)


def groups_sentence(n_groups, what: str, sentence: str = "The smaller groups carry wide uncertainty.",
                    *, plural: str | None = None,
                    single: str | None = "Only one {what}: no comparison.", none: str = "") -> str:
    """A sentence that is only true when there are groups to compare.

    Parameters
    ----------
    n_groups : int
        Number of groups present in the data.
    what : str
        What a group is, singular ("diagnosis").
    sentence : str
        Said with two or more groups. May use ``{n}`` (digits), ``{what}`` and ``{whats}`` (plural).
    plural : str or None
        Plural of ``what`` (default :func:`plural`).
    single : str or None
        Said with exactly one group ("Only one diagnosis: no comparison."); ``None`` -> ``""``.
    none : str
        Said with no group at all (default ``""``).
    """
    n = _whole(n_groups, "n_groups")
    whats = plural if plural is not None else _plural(what)
    template = sentence if n >= 2 else (single or "") if n == 1 else none
    return template.format(n=n, what=what, whats=whats)


# ------------------------------------------------------------------- missing, unknown, collected
def not_collected(what: str) -> str:
    """``"adverse events not collected"``: the dataset or variable was not delivered.

    Distinct from "none" (``count(0, ...)``: collected, and nobody had it) and from
    :func:`unknown` (collected, but unknown for some patients).
    """
    if not what:
        raise ValueError("not_collected needs what was not collected")
    return f"{what} not collected"


def unknown(n, what: str = "patient", plural: str | None = None) -> str:
    """``"unknown for 3 patients"``, ``"unknown for 1 patient"``; ``""`` when n = 0.

    For values collected but not known for some patients (marrow involvement, MRD status): the
    phrase is appended to what is unknown ("MRD status " + ``unknown(3)``). With n = 0 nothing is
    unknown and there is nothing to say, hence the empty string (callers drop the clause).
    """
    n = _whole(n)
    return f"unknown for {count(n, what, plural)}" if n else ""


# --------------------------------------------------------------------------------------------
# MyST blocks a chapter shows from code, for sections that exist only when the data allow them
# --------------------------------------------------------------------------------------------
FENCE = "`" * 3


def directive(kind: str, argument: str = "", body: str = "", **options) -> str:
    """A MyST directive block, e.g. ``directive("glue:figure", "fig_km", caption, name="fig-km")``.

    Why: a figure, a table reference or a whole paragraph that applies only to some cohorts is
    emitted by a code cell (:func:`md`), so the page never holds a reference to a figure that the
    data did not produce; writing the fence here keeps backticks out of the chapters' code cells.
    """
    lines = [f"{FENCE}{{{kind}}} {argument}".rstrip()]
    lines += [f":{key.replace('_', '-')}: {value}" for key, value in options.items()]
    if body:
        lines += ["", body.strip()]
    lines.append(FENCE)
    return "\n".join(lines)


def md(*blocks: str):
    """The non-empty ``blocks`` as one MyST Markdown output (rendered as MyST by the book).

    Roles (``{numref}``, ``{glue:text}``, ``{cite:p}``) and directives work in it as in the page's
    own text. An all-empty call shows nothing.
    """
    from IPython.display import Markdown

    return Markdown("\n\n".join(b.strip() for b in blocks if b and b.strip()))

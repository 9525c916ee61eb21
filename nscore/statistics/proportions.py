"""Exact binomial proportions: k/n with its Clopper-Pearson confidence interval, checked against R.

The book's rates (response, transplant, adverse events) are proportions of small groups close to 0
or 1 (e.g. 9 PTCL patients, ORR near 90%), where Wald intervals fail; exact intervals are used
throughout. Numbers only: the analyses attach populations and ARD rows, the report layer formats
them (``nscore.report.format``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binomtest

from nscore.errors import AnalysisInputError

__all__ = ["Proportion", "proportion", "PROPORTION_COLUMNS", "METHOD"]

#: What :func:`proportion` computes, as its ``method`` says.
METHOD = "Clopper-Pearson"
#: The columns of :meth:`Proportion.as_row` (for building tables).
PROPORTION_COLUMNS = ["k", "n", "estimate", "lower", "upper"]


@dataclass(frozen=True)
class Proportion:
    """A binomial proportion k/n with its two-sided exact confidence interval.

    Attributes
    ----------
    k, n : int
        Successes and trials.
    estimate, lower, upper : float
        k/n and the interval bounds, on the 0..1 scale.
    method : str
        "Clopper-Pearson".
    alpha : float
        1 - confidence level.
    """

    k: int
    n: int
    estimate: float
    lower: float
    upper: float
    method: str = METHOD
    alpha: float = 0.05

    def as_row(self) -> dict:
        """The proportion as a dict of ``PROPORTION_COLUMNS``."""
        return {"k": self.k, "n": self.n, "estimate": self.estimate, "lower": self.lower, "upper": self.upper}


def proportion(k: int, n: int, alpha: float = 0.05) -> Proportion:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion.

    Parameters
    ----------
    k : int
        Number of successes, 0 <= k <= n.
    n : int
        Number of trials, n > 0.
    alpha : float
        Two-sided error rate, 0 < alpha < 1 (0.05 gives a 95% interval).

    Raises
    ------
    AnalysisInputError
        For counts that are not whole numbers with 0 <= k <= n and n > 0, or alpha outside (0, 1).

    Notes
    -----
    Computed with ``scipy.stats.binomtest(k, n).proportion_ci(method="exact")``, the inversion of two
    one-sided binomial tests (Clopper and Pearson 1934), identical to R's ``binom.test``. The
    interval is conservative: coverage is at least 1 - alpha for every true proportion, and the
    bound is exactly 0 (1) when k = 0 (k = n).
    """
    if isinstance(k, bool) or isinstance(n, bool):
        raise AnalysisInputError("k and n must be integers, not booleans")
    try:
        k_i, n_i = int(k), int(n)
    except (TypeError, ValueError) as exc:
        raise AnalysisInputError(f"k and n must be integers, got k={k!r}, n={n!r}") from exc
    if k_i != k or n_i != n:
        raise AnalysisInputError(f"k and n must be whole numbers, got k={k!r}, n={n!r}")
    if n_i <= 0:
        raise AnalysisInputError(f"n must be > 0, got n={n_i}")
    if not 0 <= k_i <= n_i:
        raise AnalysisInputError(f"k must satisfy 0 <= k <= n, got k={k_i}, n={n_i}")
    if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and 0 < alpha < 1 and not math.isnan(alpha)):
        raise AnalysisInputError(f"alpha must be between 0 and 1, got {alpha!r}")
    ci = binomtest(k_i, n_i).proportion_ci(confidence_level=1 - alpha, method="exact")
    return Proportion(k=k_i, n=n_i, estimate=k_i / n_i, lower=float(ci.low), upper=float(ci.high),
                      alpha=float(alpha))

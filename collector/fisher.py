"""The one-sided Fisher exact test the correlation uses: is a value more common among failures than chance?

Usage::

    p = fisher_greater(a=12, failed=20, succeeded=980, with_value=40)   # P(X >= 12), X hypergeometric

Pure arithmetic (``math.lgamma``), no I/O. Why not scipy: one function, and
the project has no other use for it.
"""

from __future__ import annotations

import math

def _log_pmf(k: int, population: int, marked: int, draws: int) -> float:
    """log P(X = k) for X ~ Hypergeometric(population, marked, draws)."""
    return (_log_comb(marked, k) + _log_comb(population - marked, draws - k) - _log_comb(population, draws))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(a: int, failed: int, succeeded: int, with_value: int) -> float:
    """One-sided Fisher exact p: the chance that ``with_value`` attempts drawn at random from
    ``failed + succeeded`` hold at least ``a`` failures.

    The tail is summed from its large end and stops once terms no longer
    count, so a 100k-attempt job costs a few dozen terms, not 100k.
    """
    population = failed + succeeded
    low, high = max(0, with_value - succeeded), min(failed, with_value)
    if a <= low:
        return 1.0
    if a > high:
        return 0.0
    mean = with_value * failed / population
    if a > mean:  # the upper tail, terms falling from a upward
        return min(1.0, _tail(a, high, 1, population, failed, with_value))
    # the lower tail below a, terms falling from a - 1 downward; p = 1 - P(X <= a - 1)
    return max(0.0, 1.0 - _tail(a - 1, low, -1, population, failed, with_value))


def _tail(start: int, stop: int, step: int, population: int, marked: int, draws: int) -> float:
    total = 0.0
    first = _log_pmf(start, population, marked, draws)
    for k in range(start, stop + step, step):
        term = math.exp(_log_pmf(k, population, marked, draws) - first)
        total += term
        if term < 1e-17 * total:
            break
    return total * math.exp(first)

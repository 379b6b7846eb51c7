"""Ranking policy: which candidate comes first, and which candidates are the same function.

The policy ``"verified-first"`` (the default) orders candidates by

1. verified before unverified;
2. more leading terms matched;
3. calibrated scores (the log of the function's probability under its grammar, which
   lookup knows exactly) before uncalibrated ones (a network's log-probability of its
   tokens): the two scales are not comparable, and among the functions that share the
   given series the grammar prior is what makes the most probable one come first;
4. higher score;
5. lower complexity (fewer expression-tree nodes);
6. SymPy's canonical sort order, so that ties are broken deterministically.

Candidates that are the same function are merged first: structurally equal expressions
always; differently written ones (``sin(2*x)/2`` and ``sin(x)*cos(x)``) when their series
agree well beyond the given order and ``simplify`` proves the difference zero within a
small size budget. The merged candidate keeps the calibrated score if either has one (else
the best score) and lists every source.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable

import sympy

from . import engine
from .errors import InputError, SeriesInverseError
from .grammar import complexity
from .series import SeriesData

__all__ = ["Candidate", "POLICIES", "rank"]


@dataclass(frozen=True)
class Candidate:
    """One ranked candidate with everything known about it.

    ``status`` is one of :data:`~sympy_series_inverse.verify.STATUSES`; ``matched`` the
    number of leading terms reproduced and ``first_mismatch`` the first order that differs;
    ``source`` names the backend(s) that proposed it.
    """

    expr: sympy.Expr | None
    verified: bool
    matched: int
    first_mismatch: int | None
    score: float
    complexity: int
    source: str
    status: str
    reason: str = ""
    grammar: str | None = None
    calibrated: bool = False

    def __str__(self) -> str:
        return str(self.expr)


def _verified_first(c: Candidate) -> tuple:
    expr_key = sympy.default_sort_key(c.expr) if c.expr is not None else ()
    return (not c.verified, -c.matched, not c.calibrated, -c.score, c.complexity, expr_key)


#: policy name -> sort key (smaller sorts first)
POLICIES: dict[str, Callable[[Candidate], tuple]] = {"verified-first": _verified_first}

_SIMPLIFY_MAX_COMPLEXITY = 60
_EXTRA_TERMS = 8


def _merge(a: Candidate, b: Candidate) -> Candidate:
    best, other = (a, b) if (a.calibrated, a.score) >= (b.calibrated, b.score) else (b, a)
    sources = list(dict.fromkeys(best.source.split(", ") + other.source.split(", ")))
    return replace(best, source=", ".join(sources))


def _signature(c: Candidate, series: SeriesData):
    try:
        return engine.taylor_coefficients(c.expr, series.x, series.x0, series.n + _EXTRA_TERMS)
    except (SeriesInverseError, ArithmeticError, ValueError, TypeError):
        return None


def _provably_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    if complexity(a) + complexity(b) > _SIMPLIFY_MAX_COMPLEXITY:
        return False
    try:
        return sympy.simplify(a - b) == 0
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return False


def dedupe(candidates: Iterable[Candidate], series: SeriesData | None = None) -> list[Candidate]:
    """Merge candidates that are the same function (see the module docstring)."""
    by_expr: dict = {}
    others: list[Candidate] = []
    for c in candidates:
        if c.expr is None:
            others.append(c)
        elif c.expr in by_expr:
            by_expr[c.expr] = _merge(by_expr[c.expr], c)
        else:
            by_expr[c.expr] = c
    unique = list(by_expr.values())
    if series is None:
        return unique + others
    groups: dict = {}
    for c in unique:
        key = _signature(c, series) if c.verified else None
        groups.setdefault(key if key is not None else ("unique", id(c)), []).append(c)
    merged: list[Candidate] = []
    for group in groups.values():
        kept: list[Candidate] = []
        for c in group:
            for i, k in enumerate(kept):
                if _provably_equal(c.expr, k.expr):
                    kept[i] = _merge(k, c)
                    break
            else:
                kept.append(c)
        merged.extend(kept)
    return merged + others


def rank(candidates: Iterable[Candidate], policy: str = "verified-first", series: SeriesData | None = None) -> list[Candidate]:
    """Deduplicate, then sort by the named policy (best first)."""
    try:
        key = POLICIES[policy]
    except KeyError:
        raise InputError(f"unknown ranking policy {policy!r}; known: {', '.join(POLICIES)}") from None
    return sorted(dedupe(candidates, series), key=key)

"""Metrics shared by the trainer and the benchmarks.

- ``exact_match``: canonical tree equality (SymPy's structural equality; both sides are in
  the form the grammar and the parser produce).
- ``equivalent``: the same function written differently (``simplify`` proves the
  difference zero, after a cheap numeric screen).
- ``token_accuracy``: position-wise token agreement over the longer sequence.
- ``levenshtein_similarity``: 1 - edit distance / longer length.
- ``curve_errors``: MSE and MAE on a grid over ``[x0 - 1, x0 + 1]``, and WMSE as the paper's
  equation 1 with ``w(x) = 1 / ((x - x0)**2 + delta**2)`` on ``[x0 - eps, x0 + eps]``,
  normalised by ``Z = sum(w)``. Non-finite points (poles of a wrong prediction) are
  skipped and counted.
- ``ceiling``: the best exact-match rate any method can reach when functions share a
  truncated series (the most probable member of each ambiguity set).

Floats appear only here, never in a verified result.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Hashable, Iterable, Sequence

import sympy

__all__ = [
    "exact_match",
    "equivalent",
    "token_accuracy",
    "levenshtein_similarity",
    "curve_errors",
    "curve_values",
    "ceiling",
    "GRID_POINTS",
]

GRID_POINTS = 201


def exact_match(pred: sympy.Expr | None, target: sympy.Expr) -> bool:
    """Canonical tree equality."""
    return pred is not None and pred == target


def equivalent(pred: sympy.Expr | None, target: sympy.Expr, x: sympy.Symbol, *, max_nodes: int = 80) -> bool:
    """Whether ``pred`` and ``target`` are the same function (bounded cost: large
    expressions that are not structurally equal count as different)."""
    if pred is None:
        return False
    if pred == target:
        return True
    diff = pred - target
    for point in (sympy.Rational(3, 10), sympy.Rational(-7, 10), sympy.Rational(11, 20)):
        try:
            value = complex(diff.subs(x, point).evalf(20))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not (abs(value) < 1e-12):
            return False
    if sympy.count_ops(diff) > max_nodes:
        return False
    try:
        return sympy.simplify(diff) == 0
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return False


def token_accuracy(pred: Sequence[str], target: Sequence[str]) -> float:
    """Fraction of positions where the tokens agree, over the longer sequence."""
    longest = max(len(pred), len(target))
    if longest == 0:
        return 1.0
    return sum(a == b for a, b in zip(pred, target)) / longest


def levenshtein_similarity(pred: Sequence[str], target: Sequence[str]) -> float:
    """``1 - edit_distance / max(len)``, 1.0 for two empty sequences."""
    longest = max(len(pred), len(target))
    if longest == 0:
        return 1.0
    previous = list(range(len(target) + 1))
    for i, a in enumerate(pred, start=1):
        current = [i]
        for j, b in enumerate(target, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1.0 - previous[-1] / longest


def curve_values(expr: sympy.Expr, x: sympy.Symbol, points: Sequence[float]) -> list[float]:
    """``expr`` evaluated in floats at ``points``; NaN where it cannot be (poles, domain errors)."""
    try:
        f = sympy.lambdify(x, expr, modules="math")
    except (TypeError, ValueError, SyntaxError):
        return [math.nan] * len(points)
    out = []
    for p in points:
        try:
            v = float(f(p))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            v = math.nan
        out.append(v)
    return out


def curve_errors(
    pred: sympy.Expr | None,
    target: sympy.Expr,
    x: sympy.Symbol,
    x0: float = 0.0,
    *,
    eps: float = 1.0,
    delta: float = 0.1,
    points: int = GRID_POINTS,
) -> dict[str, float]:
    """MSE and MAE over ``[x0 - 1, x0 + 1]`` and the paper's WMSE over ``[x0 - eps, x0 + eps]``.

    Returns ``{"mse", "mae", "wmse", "skipped"}``; all three errors are ``nan`` when the
    prediction is missing or nowhere finite.
    """
    nan = {"mse": math.nan, "mae": math.nan, "wmse": math.nan, "skipped": points}
    if pred is None:
        return nan
    grid = [x0 - 1 + 2 * i / (points - 1) for i in range(points)]
    wgrid = [x0 - eps + 2 * eps * i / (points - 1) for i in range(points)]
    p, t = curve_values(pred, x, grid), curve_values(target, x, grid)
    pairs = [(a, b) for a, b in zip(p, t) if math.isfinite(a) and math.isfinite(b)]
    wp, wt = curve_values(pred, x, wgrid), curve_values(target, x, wgrid)
    wpairs = [(g, a, b) for g, a, b in zip(wgrid, wp, wt) if math.isfinite(a) and math.isfinite(b)]
    if not pairs or not wpairs:
        return nan
    weights = [1.0 / ((g - x0) ** 2 + delta**2) for g, _, _ in wpairs]
    return {
        "mse": sum((a - b) ** 2 for a, b in pairs) / len(pairs),
        "mae": sum(abs(a - b) for a, b in pairs) / len(pairs),
        "wmse": sum(w * (a - b) ** 2 for w, (_, a, b) in zip(weights, wpairs)) / sum(weights),
        "skipped": points - len(pairs),
    }


def ceiling(items: Iterable[tuple[Hashable, Hashable, float]]) -> float:
    """Best achievable exact-match rate from ``(series_key, function, weight)`` items: within
    each group of equal series, at most the heaviest function can be answered."""
    groups: dict[Hashable, dict[Hashable, float]] = defaultdict(lambda: defaultdict(float))
    total = 0.0
    for key, function, weight in items:
        groups[key][function] += weight
        total += weight
    if total == 0:
        return 0.0
    return sum(max(g.values()) for g in groups.values()) / total

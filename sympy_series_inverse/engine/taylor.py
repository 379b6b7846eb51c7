"""The public entry point :func:`taylor_coefficients`: argument checks, the choice of tier
and its restarts, the working-precision loop, and two-sided expansions at branch points."""

from __future__ import annotations

import functools
import time
from typing import Any

import sympy

from ..errors import (
    BudgetExceededError,
    InputError,
    NotAnalyticError,
    UnsupportedSeriesError,
)
from .control import (
    _DEADLINE,
    _MAX_RAMIFIED,
    _MAX_RESTARTS,
    MAX_NODES,
    MAX_ORDER,
    TIERS,
    _NeedGens,
    _NeedPrecision,
    _NeedRamification,
)
from .laurent import _INFINITIES, _Ctx
from .normal_form import canonical_constant
from .tiers import _backend, _sympy_two_sided, flint
from .walk import _series

_PLACEHOLDER = sympy.Dummy("c")  # a field generator for a symbolic tier with no constants yet


def taylor_coefficients(expr: Any, x: sympy.Symbol, x0: Any = 0, n: int = 6, *,
                        tier: str | None = None, deadline: float | None = None
                        ) -> tuple[sympy.Expr, ...]:
    """Exact Taylor coefficients c_0..c_{n-1} of expr about x0:
    expr = sum_{k<n} c_k (x - x0)**k + O((x - x0)**n).

    Coefficients are SymPy Rationals when they are rational, else exact SymPy expressions
    (e.g. sin(1), E, sqrt(2), log(2)) in the normal form of :func:`canonical_constant`.

    ``tier`` forces "flint", "ring", "symbolic" or "sympy" (default: the cheapest that
    works); ``deadline`` is a ``time.monotonic()`` value after which BudgetExceededError is
    raised. Raises NotAnalyticError for poles, branch points and logarithms at x0,
    UnsupportedSeriesError for forced tiers that cannot represent the coefficients,
    InputError for bad arguments and BudgetExceededError beyond the size limits.
    """
    expr, x0, n = _validate(expr, x, x0, n, tier, deadline)
    if deadline is None:
        return _taylor(expr, x, x0, n, tier)
    token = _DEADLINE.set(deadline)
    try:
        return _taylor(expr, x, x0, n, tier)
    finally:
        _DEADLINE.reset(token)


def _validate(expr: Any, x: Any, x0: Any, n: Any, tier: Any, deadline: Any):
    if tier is not None and tier not in TIERS:
        raise InputError(f"unknown tier {tier!r}; choose one of {TIERS} or None")
    if not isinstance(x, sympy.Symbol):
        raise InputError(f"x must be a SymPy Symbol, not {x!r}")
    if isinstance(n, bool) or not isinstance(n, (int, sympy.Integer)):
        raise InputError(f"n must be an integer number of coefficients, not {n!r}")
    if n <= 0:
        raise InputError(f"n must be positive (the order of the O-term), got {n}")
    if n > MAX_ORDER:
        raise BudgetExceededError(f"n = {n} exceeds the limit of {MAX_ORDER} coefficients")
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceededError("deadline already passed")
    try:
        expr, x0 = sympy.sympify(expr, strict=True), sympy.sympify(x0, strict=True)
    except sympy.SympifyError as exc:
        raise InputError(f"not a SymPy expression: {exc}") from None
    if not isinstance(expr, sympy.Expr) or not isinstance(x0, sympy.Expr) or x0.has(x):
        raise InputError(f"expected an expression and a point free of {x}, got {expr!r}, {x0!r}")
    if x0.has(*_INFINITIES):
        raise UnsupportedSeriesError(f"expansion at {x0} (an asymptotic series) is not supported")
    if x0.has(sympy.Float):
        raise InputError("floating-point numbers are not exact: use sympy.Rational or nsimplify")
    for count, node in enumerate(sympy.preorder_traversal(expr)):  # one pass over expr
        if count > MAX_NODES:
            raise BudgetExceededError(f"expression larger than {MAX_NODES} nodes")
        if node.is_Float:
            raise InputError("floating-point numbers are not exact: use sympy.Rational or nsimplify")
        if node in _INFINITIES or isinstance(node, sympy.Order):
            raise InputError(f"{expr} contains an infinity, NaN or an O-term")
    return expr, x0, int(n)


@functools.lru_cache(maxsize=4096)
def _taylor(expr: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int, tier: str | None):
    if tier == "sympy":
        coeffs, val, prec = _sympy_two_sided(expr, x, x0, n)
        if val < 0:
            raise NotAnalyticError(f"{expr} has a pole at {x} = {x0}: its expansion is a "
                                   "Laurent series, which is not supported")
        if prec < n:
            raise UnsupportedSeriesError(f"sympy.series gave only {prec} terms of {expr}")
        return tuple(canonical_constant(c) for c in [sympy.S.Zero] * val + coeffs[: n - val])
    if tier == "flint" and flint is None:
        raise UnsupportedSeriesError("tier 'flint' needs python-flint, which is not installed")
    kind = tier or ("flint" if flint is not None else "ring")
    gens = (_PLACEHOLDER,) if kind == "symbolic" else ()
    for _ in range(_MAX_RESTARTS):
        try:
            return _at_precision(expr, x, x0, n, _backend(kind, gens))
        except _NeedGens as need:  # restart over a field that contains the new constants
            new = need.atoms - set(gens)
            if tier in ("flint", "ring") or not new:
                raise UnsupportedSeriesError(
                    f"the coefficients of {expr} involve {', '.join(map(str, need.atoms))}; "
                    f"tier {kind!r} needs rational coefficients (use tier='symbolic')") from None
            kind = "symbolic"
            gens = tuple(sorted((set(gens) | new) - {_PLACEHOLDER}, key=sympy.default_sort_key))
    raise BudgetExceededError(f"more than {_MAX_RESTARTS} symbolic constants in {expr}")


def _at_precision(expr: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int, B: Any):
    try:
        out = _expand(expr, x, x0, n, B)
    except _NeedRamification as need:
        out = _puiseux(expr, x, x0, n, B, need.m)
    out = [B.to_sympy(c) for c in out]
    return tuple(canonical_constant(c) for c in out) if B.kind == "symbolic" else tuple(out)


def _expand(expr: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int, B: Any,
            d: int = 0, sign: int = 1) -> list:
    """The first n coefficients in t, where x = x0 + t (d = 0) or x = x0 + sign * t**d."""
    guard = 2  # extra working terms; grows when divisions by t**k use them up
    for _ in range(6):
        ctx = _Ctx(x, x0, n + guard, B, d, sign)
        try:
            s = _series(expr, ctx)
        except _NeedPrecision:
            guard = 2 * guard + 4
            continue
        ctx.no_log(s)
        if s.c and s.val < 0:
            raise NotAnalyticError(f"{expr} has a pole at {x} = {x0}: its expansion is a "
                                   f"{'Laurent' if d < 2 else 'Puiseux'} series, which is not supported")
        if s.prec >= n:
            return ctx.window(s, 0, n)
        guard = 2 * guard + n - s.prec
    raise UnsupportedSeriesError(f"{expr}: precision ran out at {n + guard} working terms "
                                 "(is it identically zero somewhere it is divided by?)")


def _puiseux(expr: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int, B: Any, d: int) -> list:
    """Fractional powers of series vanishing at x0 (cos(sqrt(x)), sqrt(x**2)): expand
    f(x0 + t**d) and f(x0 - t**d) for t > 0; f is analytic iff both are series g(+-t**d).
    That is checked to order m > n only: x + x**(99/2) passes at n = 5."""
    m = n + min(n, 8) + 2  # stray fractional terms are looked for beyond order n too
    while d * m <= _MAX_RAMIFIED:
        try:
            plus, minus = (_expand(expr, x, x0, d * m, B, d, sign) for sign in (1, -1))
        except _NeedRamification as need:
            d *= need.m
            continue
        stray = [c for j, c in [*enumerate(plus), *enumerate(minus)] if j % d]
        if any(not B.is_zero(c) for c in stray) \
                or any(not B.is_zero(plus[d * k] - (-1) ** k * minus[d * k]) for k in range(m)):
            raise NotAnalyticError(f"{expr} has a branch point at {x} = {x0} (one-sided expansions "
                                   "differ): its expansion is a Puiseux series, which is not supported")
        return [plus[d * k] for k in range(n)]
    raise BudgetExceededError(f"{expr}: fractional powers need more than {_MAX_RAMIFIED} terms")

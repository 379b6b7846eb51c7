"""The tree walk: the series of each subexpression, from the leaves up, memoised."""

from __future__ import annotations

import functools

import sympy

from .control import _check_deadline
from .laurent import _F, _S, _Ctx
from .normal_form import canonical_constant
from .tiers import _T, _sympy_coefficients, _sympy_two_sided

_NAMES = {f: name for name, f in _F.items()}


@functools.lru_cache(maxsize=8192)
def _series(e: sympy.Expr, ctx: _Ctx) -> _S:
    """Series of the subexpression e in t = x - x0 (memoised: grammars reuse sin(x), exp(x))."""
    _check_deadline()
    if not e.has(ctx.x):
        return ctx.const(e)
    if e == ctx.x:
        d = max(ctx.d, 1)
        return ctx.make([ctx.elem(ctx.x0)] + [ctx.B.zero] * (d - 1) + [ctx.B.const(sympy.Integer(ctx.sign))], 0, ctx.N)
    if e.is_Add or e.is_Mul:
        acc = _series(e.args[0], ctx)
        for arg in e.args[1:]:
            s = _series(arg, ctx)
            acc = ctx.add(acc, s) if e.is_Add else ctx.mul(acc, s)
        return acc
    if e.is_Pow:
        b, k = e.args
        if k.is_Integer:
            return ctx.pow_int(_series(b, ctx), int(k))
        if k.is_Rational:
            return ctx.pow_rat(_series(b, ctx), k)
        return ctx.fn("exp", ctx.mul(_series(k, ctx), ctx.fn("log", _series(b, ctx))))
    name = _NAMES.get(e.func)
    if name is not None and len(e.args) == 1:
        return ctx.fn(name, _series(e.args[0], ctx))
    # gamma, erf, besselj, ...: sympy.series, bounded
    if ctx.d:  # _puiseux compares both sides itself
        coeffs, val, prec = _sympy_coefficients(e, ctx.x, ctx.x0 + ctx.sign * _T**ctx.d, ctx.N)
    else:
        coeffs, val, prec = _sympy_two_sided(e, ctx.x, ctx.x0, ctx.N)
    return ctx.make([ctx.elem(canonical_constant(c)) for c in coeffs], val, prec)

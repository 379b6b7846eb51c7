"""Truncated Laurent series in ``t = x - x0`` (:class:`_S`) and their arithmetic over a
tier (:class:`_Ctx`): sums, products, powers and the unary functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import sympy

from ..errors import BudgetExceededError, NotAnalyticError
from ..functions import UNARY_FUNCTIONS
from .control import _MAX_POW_BITS, _check_deadline, _NeedPrecision, _NeedRamification
from .normal_form import _log_const, canonical_constant

_INFINITIES = (sympy.S.Infinity, sympy.S.NegativeInfinity, sympy.S.ComplexInfinity, sympy.S.NaN)


class _S(NamedTuple):
    """lg * log(t) + t**val * (c[0] + c[1] t + ...) + O(t**prec), len(c) == prec - val;
    c == () is O(t**prec). lg (None for 0) only lives in the two-sided mode of _puiseux."""

    val: int
    prec: int
    c: tuple
    lg: Any = None


@dataclass(frozen=True)
class _Ctx:
    x: sympy.Symbol
    x0: sympy.Expr
    N: int  # working precision: nothing is kept beyond O(t**N)
    B: Any
    d: int = 0  # 0: x = x0 + t; else x = x0 + sign * t**d (fractional powers allowed)
    sign: int = 1

    def make(self, coeffs: list, val: int, prec: int, lead_known: bool = False, lg=None) -> _S:
        """Series from coefficients of t**val, t**(val+1), ...; strips leading zeros."""
        _check_deadline()  # after every operation: one node can be costly
        prec = min(prec, self.N)
        lg = None if lg is None or self.B.is_zero(lg) else lg
        if prec <= val:
            return _S(prec, prec, (), lg)
        coeffs = list(coeffs[: prec - val]) + [self.B.zero] * (prec - val - len(coeffs))
        i = 0
        if not lead_known:
            while i < len(coeffs) and self.B.is_zero(coeffs[i]):
                i += 1
        return _S(val + i, prec, tuple(coeffs[i:]), lg) if i < len(coeffs) else _S(prec, prec, (), lg)

    def const(self, e: sympy.Expr) -> _S:
        return self.make([self.elem(e)], 0, self.N)

    def window(self, a: _S, start: int, stop: int) -> list:
        """Coefficients of t**start .. t**(stop-1) (start <= a.val or a.c == ())."""
        out = [self.B.zero] * (min(a.val, stop) - start) + list(a.c[: stop - a.val])
        return out + [self.B.zero] * (stop - start - len(out))

    def add(self, a: _S, b: _S, sign: int = 1) -> _S:
        p, v = min(a.prec, b.prec), min(a.val, b.val)
        lg = (a.lg or self.B.zero) + sign * (b.lg or self.B.zero) if a.lg or b.lg else None
        wb = self.window(b, v, p) if v < p else []
        return self.make([u + sign * w for u, w in zip(self.window(a, v, p), wb)], v, p, lg=lg)

    def mul(self, a: _S, b: _S) -> _S:
        if a.lg or b.lg:  # only a constant times a series with log(t) terms
            k, s = (a, b) if b.lg else (b, a)
            if k.lg or k.val or not k.c or any(k.c[1:]):
                self.no_log(s)
            return self.scale(s, k.c[0])
        v = a.val + b.val
        if not a.c or not b.c:
            return self.make([], v, min(a.prec + b.val, b.prec + a.val))
        r = min(len(a.c), len(b.c), self.N - v)
        if r <= 0:
            return self.make([], self.N, self.N)
        return self.make(self.B.mul(list(a.c[:r]), list(b.c[:r]), r), v, v + r, True)

    def no_log(self, a: _S) -> None:
        if a.lg:
            t = self.x - self.x0
            raise NotAnalyticError(f"log({t}) terms that do not cancel at {self.x} = {self.x0}: "
                                   "a logarithmic singularity, not a Taylor series")

    def inv(self, a: _S) -> _S:
        self.no_log(a)
        if not a.c:
            raise _NeedPrecision
        return self.make(self.B.inv(list(a.c), len(a.c)), -a.val, len(a.c) - a.val, True)

    def scale(self, a: _S, k) -> _S:
        return self.make([k * c for c in a.c], a.val, a.prec, lg=a.lg and k * a.lg)

    def diff(self, a: _S) -> _S:
        return self.make([(a.val + i) * c for i, c in enumerate(a.c)], a.val - 1, a.prec - 1)

    def integrate(self, a: _S) -> _S:
        if a.c and a.val < 0:  # a t**-1 term integrates to a logarithm, lower ones to poles
            raise NotAnalyticError("a derivative has a pole: logarithmic branch point")
        return self.make([c / (a.val + i + 1) for i, c in enumerate(a.c)], a.val + 1, a.prec + 1)

    def split(self, a: _S, what: str):
        """(c, c as sympy, w) with a = c + w, w of positive valuation."""
        self.no_log(a)
        if a.c and a.val < 0:
            raise NotAnalyticError(f"{what} of a series with a pole: essential singularity")
        if a.prec <= 0:
            raise _NeedPrecision
        w = self.window(a, 0, a.prec)
        c, w[0] = w[0], self.B.zero
        cx = canonical_constant(self.B.to_sympy(c)) if c else sympy.S.Zero
        return c, cx, w

    def prim(self, name: str, w: list) -> _S:
        if not any(w):  # name(O(t**r)); also, rs_cosh(0) returns 0 in SymPy 1.14
            return self.make([self.B.one] if name in ("exp", "cos", "cosh") else [], 0, len(w))
        return self.make(self.B.fn(name, w, len(w)), 0, len(w))

    def pow_int(self, a: _S, k: int) -> _S:
        self.no_log(a)
        if k == 0:
            return self.const(sympy.S.One)
        if not a.c:
            if k > 0 and a.prec > 0:
                return self.make([], self.N, min(k * a.prec, self.N))
            raise _NeedPrecision
        v, r = k * a.val, len(a.c)
        if v >= self.N:  # x**(10**9): valuation arithmetic only
            return self.make([], self.N, self.N)
        if abs(k) <= 64:
            unit = self.B.ipow(list(a.c), abs(k), r)
        else:  # c0**k * (1 + w)**k, with the size of c0**k checked first
            c0 = a.c[0]
            w = [self.B.zero] + [c / c0 for c in a.c[1:]]
            ck = self._big_power(c0, abs(k))
            unit = [ck * c for c in self.B.powr(w, sympy.Integer(abs(k)), r)]
        return self.make(self.B.inv(unit, r) if k < 0 else unit, v, v + r, True)

    def _big_power(self, c, k: int):
        cx = self.B.to_sympy(c)
        if cx in (1, -1):
            return self.B.const(cx**k)
        if cx.is_Rational and k * max(int(cx.p).bit_length(), int(cx.q).bit_length()) <= _MAX_POW_BITS:
            return c**k
        raise BudgetExceededError(f"({cx})**{k} is too large to expand")

    def elem(self, e: sympy.Expr):
        if e.has(*_INFINITIES):
            raise NotAnalyticError(f"the expansion meets the non-finite value {e}")
        return self.B.const(e)

    def pow_rat(self, a: _S, q: sympy.Rational) -> _S:
        """a**q = c**q t**(v q) (1 + w)**q: principal branch, along x -> x0+ if v != 0."""
        self.no_log(a)
        if not a.c:
            raise _NeedPrecision
        v, r, c0 = a.val * q, len(a.c), a.c[0]
        if a.val and (not self.d or not v.is_Integer):  # a branch point: see _puiseux
            raise _NeedRamification(q.q // math.gcd(a.val, q.q))
        w = [self.B.zero] + [c / c0 for c in a.c[1:]]
        unit = self.B.powr(w, q, r)
        cq = self.elem(sympy.Pow(canonical_constant(self.B.to_sympy(c0)), q))
        return self.make([cq * c for c in unit], int(v), int(v) + r, True)

    def fn(self, name: str, a: _S) -> _S:
        """name(a) for the functions of functions.UNARY_FUNCTIONS (sqrt is a Pow)."""
        if name in _RECIPROCAL:
            return self.inv(self.fn(_RECIPROCAL[name], a))
        if name == "acos":
            return self.add(self.const(sympy.pi / 2), self.fn("asin", a), -1)
        if a.c and (a.val < 0 and name in ("atan", "atanh") or a.val > 0 and name == "log"):
            return self.at_singularity(name, a)
        c, cx, w = self.split(a, name)
        if name == "log":
            if not c:
                raise _NeedPrecision
            return self.add(self.const(_log_const(cx)), self.prim("log1p", [wi / c for wi in w]))
        if not c and name != "acosh":
            return self.prim(name, w)
        if name == "exp":
            return self.scale(self.prim("exp", w), self.elem(sympy.exp(cx)))
        if name in ("sin", "cos", "sinh", "cosh"):  # addition formulas
            s_name, c_name, sign = ("sin", "cos", -1) if name in ("sin", "cos") else ("sinh", "cosh", 1)
            S, C = self.prim(s_name, w), self.prim(c_name, w)
            sc, cc = self.elem(_F[s_name](cx)), self.elem(_F[c_name](cx))
            if name == s_name:
                return self.add(self.scale(C, sc), self.scale(S, cc))
            return self.add(self.scale(C, cc), self.scale(S, sc), sign)
        if name in ("tan", "tanh"):
            tc = _F[name](cx)
            if tc.has(sympy.S.ComplexInfinity):  # c is a pole of tan: go through sin/cos
                s_name, c_name = ("sin", "cos") if name == "tan" else ("sinh", "cosh")
                return self.mul(self.fn(s_name, a), self.inv(self.fn(c_name, a)))
            T = self.prim(name, w)  # (tan c + tan w) / (1 -+ tan c tan w)
            den = self.add(self.const(sympy.S.One), self.scale(T, self.elem(tc)), -1 if name == "tan" else 1)
            return self.mul(self.add(self.const(tc), T), self.inv(den))
        # inverse functions at c != 0 (and acosh): f(c) + integral of f'(a) a'
        one, a2 = self.const(sympy.S.One), self.mul(a, a)
        half = -sympy.S.Half
        deriv = {"atan": lambda: self.inv(self.add(one, a2)),  # SymPy's own fdiff formulas
                 "atanh": lambda: self.inv(self.add(one, a2, -1)),
                 "asin": lambda: self.pow_rat(self.add(one, a2, -1), half),
                 "asinh": lambda: self.pow_rat(self.add(one, a2), half),
                 "acosh": lambda: self.mul(self.pow_rat(self.add(a, one, -1), half),
                                           self.pow_rat(self.add(a, one), half))}[name]()
        integral = self.integrate(self.mul(deriv, self.diff(a)))
        return self.add(self.const(_F[name](cx)), integral)

    def at_singularity(self, name: str, a: _S) -> _S:
        """log(c t**v u) = log(c) + v log(t) + log(u); atan(s) = +-pi/2 - atan(1/s) and
        atanh(s) = atanh(1/s) -+ I*pi/2 at a pole. Valid for t > 0 only: two-sided mode."""
        if not self.d:
            raise _NeedRamification(1)
        c0 = canonical_constant(self.B.to_sympy(a.c[0]))
        if name == "log":
            u = self.make([c / a.c[0] for c in a.c], 0, len(a.c), True)
            out = self.add(self.const(_log_const(c0)), self.fn("log", u))
            return out._replace(lg=self.B.const(sympy.Integer(a.val)))
        if c0.is_extended_real is not True:
            raise NotAnalyticError(f"{name} of a series with a complex pole at {self.x} = {self.x0}")
        jump = sympy.sign(c0) * (sympy.pi / 2 if name == "atan" else -sympy.I * sympy.pi / 2)
        return self.add(self.const(jump), self.fn(name, self.inv(a)), -1 if name == "atan" else 1)


_F = {name: f for name, f in UNARY_FUNCTIONS.items() if isinstance(f, type)}
_RECIPROCAL = {"sec": "cos", "csc": "sin", "cot": "tan"}

"""Exact truncated Taylor series of SymPy expressions, fast.

The engine walks the expression tree itself (``Add``, ``Mul``, ``Pow``, constants and the
functions of :data:`functions.UNARY_FUNCTIONS`) with ``x = x0 + t``. A series is kept as
``t**val * (c_0 + c_1 t + ...) + O(t**prec)`` with ``c_0 != 0`` (a Laurent series with an
absolute precision, as in PARI or Sage), so that divisions by series starting at ``t``
(``sin(x)/x``) cost precision in a known way; the computation runs at a working precision
above ``n`` and is repeated with more guard terms when that precision runs short.

Coefficient arithmetic, cheapest first (the *tiers*):

* ``flint``: python-flint ``fmpq_series`` (rational coefficients);
* ``ring``: ``sympy.polys.ring_series`` primitives over ``QQ``;
* ``symbolic``: the same primitives over ``QQ(g_1, ..., g_k)``, a rational function field
  whose generators are the constants met on the way (``sin(1)``, ``E``, ``sqrt(2)``,
  ``pi``, other symbols); meeting a new one restarts the computation in a larger field;
* ``sympy``: ``sympy.series``, bounded, for functions the walk does not know (``gamma``),
  taken on both sides of ``x0``.

What "analytic" means: the expansion holds on both sides of ``x0`` along the real line.
Poles raise :class:`NotAnalyticError` (Laurent series), and so do branch points
(``sqrt(x)``, ``sqrt(x**2)``, ``log(x)``, ``atan(1/x)``: Puiseux or logarithmic series).
Fractional powers and logarithms of series vanishing at ``x0`` are allowed when they cancel
(``cos(sqrt(x))``, ``log(x) - log(sin(x))``, ``atan(1/x**2)``): the expression is then
expanded in ``x = x0 + t**d`` and ``x = x0 - t**d`` for ``t > 0`` and both expansions must be
power series in ``+-t**d``, checked to order ``n + min(n, 8) + 2``.

Symbolic coefficients come in the normal form of :func:`canonical_constant`: a reduced
fraction of polynomials in the atoms, ``sec``/``csc`` written with ``cos``/``sin`` (and
``tan`` too when ``sin`` or ``cos`` of the same argument occurs), ``cos(a)**2 = 1 -
sin(a)**2``, ``cosh(a)**2 = 1 + sinh(a)**2``, ``sqrt(q)**2 = q`` (q rational) and
``I**2 = -1`` applied, the denominator free of those square roots; logarithms of
rationals made by the engine are split over primes. Two equal coefficients therefore
print alike unless their atoms obey other relations (``sin(2) = 2*sin(1)*cos(1)``,
``sqrt(6) = sqrt(2)*sqrt(3)``); :func:`coefficients_equal` decides equality in any case.
Valuations (whether a leading coefficient is zero) are decided exactly: normal form,
then a 30-digit evaluation, then ``simplify``; undecidable cases raise
:class:`UnsupportedSeriesError` rather than guess.

Examples
--------
>>> from sympy import Symbol, cos, exp, sin
>>> x = Symbol("x")
>>> taylor_coefficients(cos(x), x, 0, 5)
(1, 0, -1/2, 0, 1/24)
>>> taylor_coefficients(sin(x) / x, x, 0, 5)
(1, 0, -1/6, 0, 1/120)
>>> taylor_coefficients(exp(x), x, 1, 3)
(E, E, E/2)
>>> taylor_coefficients(sin(x), x, 1, 3)
(sin(1), cos(1), -sin(1)/2)
>>> taylor_coefficients(1 / x, x, 0, 3)
Traceback (most recent call last):
...
sympy_series_inverse.errors.NotAnalyticError: 1/x has a pole at x = 0: its expansion is a Laurent series, which is not supported
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import sympy
from sympy.core.exprtools import decompose_power
from sympy.polys import ring_series as rs
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from ..errors import (
    BudgetExceededError,
    InputError,
    NotAnalyticError,
    UnsupportedSeriesError,
)
from ..functions import UNARY_FUNCTIONS

try:
    import flint
except ImportError:  # the ring tier does the same work without it
    flint = None

__all__ = ["TIERS", "canonical_constant", "coefficients_equal", "taylor_coefficients"]

TIERS = ("flint", "ring", "symbolic", "sympy")
MAX_ORDER = 2000  # largest n accepted
MAX_NODES = 5000  # largest expression (tree nodes) accepted
SYMPY_MAX_OPS, SYMPY_MAX_ORDER = 40, 10  # sympy.series cannot be interrupted: keep it small
_MAX_RESTARTS = 40  # new symbolic constants discovered in one call
_SIMPLIFY_MAX_OPS = 80  # simplify is tried on differences this small only
_MAX_POW_BITS = 10**6  # c**k with rational c may not exceed this size
_MAX_RAMIFIED = 4 * MAX_ORDER  # terms in t when x = x0 + t**d

_FLINT_LOCK = threading.RLock()  # flint.ctx.cap is process-global
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)
_INFINITIES = (sympy.S.Infinity, sympy.S.NegativeInfinity, sympy.S.ComplexInfinity, sympy.S.NaN)
_PLACEHOLDER = sympy.Dummy("c")  # a field generator for a symbolic tier with no constants yet
_T = sympy.Dummy("t")


def _check_deadline() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceededError("deadline passed while expanding")


class _NeedGens(Exception):
    """Internal: a constant outside the current coefficient field was met."""

    def __init__(self, atoms: frozenset):
        self.atoms = atoms


class _NeedRamification(Exception):
    """Internal: a fractional power of a series vanishing at x0; x = x0 +- t**m would do."""

    def __init__(self, m: int):
        self.m = m


class _NeedPrecision(Exception):
    """Internal: a series vanished to working precision where its valuation matters."""


def _atoms(e: sympy.Expr) -> frozenset:
    """The generators a rational function field needs to contain the constant ``e``."""
    if e.is_Rational:
        return frozenset()
    if e.is_Add or e.is_Mul:
        return frozenset().union(*map(_atoms, e.args))
    base, _ = decompose_power(e)  # the same split that QQ.frac_field(...).from_sympy uses
    return _atoms(base) if base != e else frozenset([e])


_TRIG = {sympy.tan: (sympy.sin, sympy.cos), sympy.cot: (sympy.cos, sympy.sin),
         sympy.tanh: (sympy.sinh, sympy.cosh), sympy.coth: (sympy.cosh, sympy.sinh)}
_RECIP = {sympy.sec: sympy.cos, sympy.csc: sympy.sin, sympy.sech: sympy.cosh, sympy.csch: sympy.sinh}


def canonical_constant(e: sympy.Expr) -> sympy.Expr:
    """Normal form of a constant: reduced fraction of polynomials in its atoms, modulo the
    quadratic relations listed in the module docstring. Returns ``e`` unchanged if that fails."""
    e = sympy.sympify(e)
    if e.is_Rational or e.has(sympy.Float):
        return e
    atoms = _atoms(e)
    rep = {a: 1 / _RECIP[a.func](a.args[0]) for a in atoms if a.func in _RECIP}
    rep.update({a: _TRIG[a.func][0](a.args[0]) / _TRIG[a.func][1](a.args[0]) for a in atoms
                if a.func in _TRIG and any(b.args == a.args and b != a for b in atoms)})
    if rep:  # tan(a) next to sin(a) or cos(a): one family of atoms
        e = e.xreplace(rep)
        atoms = _atoms(e)
    quad = {}
    for a in atoms:
        if a is sympy.I:
            quad[a] = sympy.Integer(-1)
        elif a.is_Pow and a.exp == sympy.S.Half and a.base.is_Rational:
            quad[a] = a.base
        elif isinstance(a, sympy.cos) and sympy.sin(a.args[0]) in atoms:
            quad[a] = 1 - sympy.sin(a.args[0]) ** 2
        elif isinstance(a, sympy.cosh) and sympy.sinh(a.args[0]) in atoms:
            quad[a] = 1 + sympy.sinh(a.args[0]) ** 2
    gens = sorted(quad, key=sympy.default_sort_key)
    gens += sorted(atoms - set(quad), key=sympy.default_sort_key)
    if not gens:
        return e
    try:
        F = QQ.frac_field(*gens)
        f = F.from_sympy(e)
    except Exception:  # noqa: BLE001 - atoms this normal form does not cover
        return e
    R = F.field.ring
    basis = []  # g**2 - r, built on the ring's generators (I**2 - (-1) would evaluate to 0)
    for i, r in enumerate(quad[g] for g in gens[: len(quad)]):
        rr = F.from_sympy(r)
        basis.append(R.gens[i] ** 2 - rr.numer.quo_ground(rr.denom.LC))
    num, den = f.numer.rem(basis), f.denom.rem(basis)
    for i in range(len(quad)):  # quadratic atoms sort first: gens[i] is one of them
        b = R.from_dict({m[:i] + (0,) + m[i + 1:]: c for m, c in den.items() if m[i]})
        if b:  # den = a + g*b; multiply by a - g*b, leaving a**2 - r*b**2
            conj = den - 2 * R.gens[i] * b
            num, den = (num * conj).rem(basis), (den * conj).rem(basis)
    num, den = num.cancel(den)
    _, den_int = den.clear_denoms()
    scale = den_int.LC / den.LC
    num, den = num * scale, den_int
    content, den = den.primitive()
    num = num.quo_ground(content)
    if den.LC < 0:
        num, den = -num, -den
    return num.as_expr() / den.as_expr()


def _is_const_zero(e: sympy.Expr) -> bool:
    """Exact zero test of a constant that is not structurally zero in its field."""
    if e.is_Rational or canonical_constant(e) == 0:
        return e == 0 or not e.is_Rational
        return True
    if not e.free_symbols:
        v = e.evalf(30)
        if v.is_number and abs(v) > sympy.Float("1e-20"):
            return False
    if sympy.count_ops(e) <= _SIMPLIFY_MAX_OPS and sympy.simplify(e) == 0:
        return True
    if e.free_symbols:  # relations among symbols that the field treats as free: none known
        return False
    raise UnsupportedSeriesError(f"cannot decide whether the coefficient {e} is zero")


def coefficients_equal(a: Any, b: Any) -> bool:
    """Decide ``a == b`` for two exact coefficients (Rationals or constant expressions).

    Rationals compare directly. Otherwise ``a - b`` is tested by, in order: its normal form
    (:func:`canonical_constant`), a 30-digit evaluation (a clear difference means False),
    ``simplify``, and, when no proof is found for a number, agreement to 50 digits (a
    heuristic: it meets branch-cut forms such as ``asin(pi/2)`` against
    ``-I*log(I*sqrt(-1 + pi**2/4) + I*pi/2)``). With free symbols, False means "not proved".
    """
    a, b = sympy.sympify(a), sympy.sympify(b)
    if a == b:
        return True
    if a.is_Rational and b.is_Rational:
        return False
    d = a - b
    try:
        return _is_const_zero(d)
    except UnsupportedSeriesError:  # numerically zero, no proof: compare at 50 digits
        scale = max(abs(sympy.N(a, 60)), abs(sympy.N(b, 60)), 1)
        return bool(abs(sympy.N(d, 60)) < sympy.Float("1e-50", 60) * scale)


# --------------------------------------------------------------------------- backends
# A backend does arithmetic on lists of r coefficients (truncated power series mod t**r).

class _FlintBackend:
    kind = "flint"

    def __init__(self) -> None:
        self.zero, self.one = flint.fmpq(0), flint.fmpq(1)

    def const(self, e: sympy.Expr):
        if e.is_Rational:
            return flint.fmpq(int(e.p), int(e.q))
        raise _NeedGens(_atoms(e))

    def to_sympy(self, c) -> sympy.Expr:
        return sympy.Rational(int(c.p), int(c.q))

    def is_zero(self, c) -> bool:
        return not c

    def _do(self, r: int, op, *series: list) -> list:
        with _FLINT_LOCK:
            old, flint.ctx.cap = flint.ctx.cap, r
            try:
                out = op(*(flint.fmpq_series(s, prec=r) for s in series)).coeffs()
            finally:
                flint.ctx.cap = old
        return out[:r] + [self.zero] * (r - len(out))

    def mul(self, a: list, b: list, r: int) -> list:
        return self._do(r, lambda p, q: p * q, a, b)

    def inv(self, a: list, r: int) -> list:
        return self._do(r, lambda p: p.inv(), a)

    def fn(self, name: str, w: list, r: int) -> list:
        if name == "log1p":
            return self._do(r, lambda p: (1 + p).log(), w)
        return self._do(r, lambda p: getattr(p, name)(), w)

    def ipow(self, a: list, k: int, r: int) -> list:
        return self._do(r, lambda p: p**k, a)

    def powr(self, w: list, q: sympy.Rational, r: int) -> list:
        """(1 + w)**q for w with zero constant term."""
        if q == sympy.S.Half:
            return self._do(r, lambda p: (1 + p).sqrt(), w)
        qq = self.const(q)
        return self._do(r, lambda p: (qq * (1 + p).log()).exp(), w)


_RS = {"exp": rs.rs_exp, "sin": rs.rs_sin, "cos": rs.rs_cos, "tan": rs.rs_tan,
       "atan": rs.rs_atan, "asin": rs.rs_asin, "asinh": rs.rs_asinh, "atanh": rs.rs_atanh,
       "sinh": rs.rs_sinh, "cosh": rs.rs_cosh, "tanh": rs.rs_tanh}


class _RingBackend:
    """ring_series over QQ (``ring`` tier) or over QQ(gens) (``symbolic`` tier)."""

    def __init__(self, gens: tuple) -> None:
        self.gens = gens
        self.kind = "symbolic" if gens else "ring"
        self.K = QQ.frac_field(*gens) if gens else QQ
        self.R, self.t = ring("t", self.K)
        self.zero, self.one = self.K.zero, self.K.one

    def const(self, e: sympy.Expr):
        if e.is_Rational or self.gens:
            try:
                return self.K.from_sympy(e)
            except Exception as exc:
                new = _atoms(e) - set(self.gens)
                if not new:
                    raise UnsupportedSeriesError(f"cannot represent the constant {e}") from exc
        raise _NeedGens(_atoms(e))

    def to_sympy(self, c) -> sympy.Expr:
        return self.K.to_sympy(c)

    def is_zero(self, c) -> bool:
        return not c or (bool(self.gens) and _is_const_zero(self.K.to_sympy(c)))

    def _p(self, a: list):
        return self.R.from_dict({(i,): c for i, c in enumerate(a) if c})

    def _l(self, p, r: int) -> list:
        out = [self.zero] * r
        for (i,), c in p.items():
            if i < r:
                out[i] = c
        return out

    def mul(self, a: list, b: list, r: int) -> list:
        return self._l(rs.rs_mul(self._p(a), self._p(b), self.t, r), r)

    def inv(self, a: list, r: int) -> list:
        return self._l(rs.rs_series_inversion(self._p(a), self.t, r), r)

    def fn(self, name: str, w: list, r: int) -> list:
        if name == "log1p":
            return self._l(rs.rs_log(1 + self._p(w), self.t, r), r)
        return self._l(_RS[name](self._p(w), self.t, r), r)

    def ipow(self, a: list, k: int, r: int) -> list:
        return self._l(rs.rs_pow(self._p(a), k, self.t, r), r)

    def powr(self, w: list, q: sympy.Rational, r: int) -> list:
        """(1 + w)**q by J.C.P. Miller's recurrence: O(r**2) products, no exp(q log)."""
        q1, y = self.const(q + 1), [self.one] + [self.zero] * (r - 1)
        for k in range(1, r):
            acc = sum((w[j] * y[k - j] * (q1 * j - k) for j in range(1, k + 1) if w[j]), self.zero)
            y[k] = acc / k
        return y


@functools.lru_cache(maxsize=64)
def _backend(kind: str, gens: tuple):
    return _FlintBackend() if kind == "flint" else _RingBackend(gens)


# --------------------------------------------------------------------------- series core

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
_NAMES = {f: name for name, f in _F.items()}
_RECIPROCAL = {"sec": "cos", "csc": "sin", "cot": "tan"}


def _log_const(c: sympy.Expr) -> sympy.Expr:
    """log of a constant; logs of rationals are split over primes so that they add up."""
    if not c.is_Rational:
        return sympy.log(c)
    out = sympy.I * sympy.pi if c < 0 else sympy.S.Zero
    for m, sign in ((abs(c.p), 1), (c.q, -1)):
        for p, e in sympy.factorint(m, limit=2**16).items():
            out += sign * e * sympy.log(p)
    return out


# --------------------------------------------------------------------------- tree walk

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


def _sympy_two_sided(e: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int):
    """sympy.series on both sides of x0: they must agree (Abs(x) at 0 does not)."""
    plus, val, prec = _sympy_coefficients(e, x, x0 + _T, n)
    minus, mval, mprec = _sympy_coefficients(e, x, x0 - _T, n)
    for k in range(min(val, mval), min(prec, mprec)):
        p = plus[k - val] if val <= k < prec else 0
        m = minus[k - mval] if mval <= k < mprec else 0
        if not _is_const_zero(sympy.expand(p - (-1) ** k * m)):
            raise NotAnalyticError(f"{e} is not analytic at {x} = {x0}: its one-sided "
                                   "expansions differ")
    return plus, val, min(prec, mprec)


def _sympy_coefficients(e: sympy.Expr, x: sympy.Symbol, at: sympy.Expr, n: int):
    """(coefficients from t**val on, val, precision) of sympy.series of e with x = at,
    a function of _T; refused beyond a bounded size."""
    if n > SYMPY_MAX_ORDER or sympy.count_ops(e) > SYMPY_MAX_OPS:
        raise BudgetExceededError(f"sympy.series fallback refused for {e} at order {n} "
                                  f"(limits: {SYMPY_MAX_OPS} operations, order {SYMPY_MAX_ORDER})")
    where = f"{e} at {x} = {at.subs(_T, 0)}"
    try:
        s = sympy.series(e.xreplace({x: at}), _T, 0, n)
    except Exception as exc:
        raise UnsupportedSeriesError(f"sympy.series cannot expand {where}: {exc}") from exc
    prec, o, terms = n, s.getO(), {}
    if o is not None:
        base, k = o.expr.as_base_exp()
        if base != _T or not k.is_Integer:
            raise NotAnalyticError(f"{where}: error term {o} is not a power of {x}")
        prec = int(k)
    for term in sympy.Add.make_args(sympy.expand(s.removeO())):
        coeff, rest = term.as_independent(_T, as_Add=False)
        base, k = rest.as_base_exp() if rest != 1 else (_T, sympy.S.Zero)
        if term != 0 and (base != _T or not k.is_Integer):
            raise NotAnalyticError(f"{where}: its expansion has the term {rest}: it is not a "
                                   "Laurent series (Puiseux or logarithmic), which is not supported")
        if term != 0 and k < prec:
            terms[int(k)] = terms.get(int(k), 0) + coeff
    val = min(terms, default=prec)
    return [terms.get(k, sympy.S.Zero) for k in range(val, prec)], val, prec


# --------------------------------------------------------------------------- public API

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

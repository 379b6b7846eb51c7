"""Symbolic coefficients: the normal form :func:`canonical_constant`, the exact zero test
behind valuations, and :func:`coefficients_equal`."""

from __future__ import annotations

from typing import Any

import sympy
from sympy.core.exprtools import decompose_power
from sympy.polys.domains import QQ

from ..errors import UnsupportedSeriesError
from .control import _SIMPLIFY_MAX_OPS


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
    quadratic relations listed in the docstring of :mod:`sympy_series_inverse.engine`.
    Returns ``e`` unchanged if that fails."""
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


def _log_const(c: sympy.Expr) -> sympy.Expr:
    """log of a constant; logs of rationals are split over primes so that they add up."""
    if not c.is_Rational:
        return sympy.log(c)
    out = sympy.I * sympy.pi if c < 0 else sympy.S.Zero
    for m, sign in ((abs(c.p), 1), (c.q, -1)):
        for p, e in sympy.factorint(m, limit=2**16).items():
            out += sign * e * sympy.log(p)
    return out

"""Size caps (:class:`Limits`) and the cheap size estimates they are checked with.

The estimates bound the digits or ``log10`` of a number *before* SymPy builds it, without
``str`` or ``evalf`` (both can be slow on the very numbers they guard against).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import sympy

from .vocabulary import _CONSTANT_NAMES


@dataclass(frozen=True)
class Limits:
    """Caps applied while parsing and building; see :mod:`sympy_series_inverse.parser` for their
    meaning."""

    max_tokens: int = 256  # token sequence length
    max_depth: int = 64  # nesting depth
    max_int_digits: int = 30  # digits of an integer literal
    max_exponent: int = 64  # |integer exponent| of a power
    max_result_digits: int = 400  # digits of any integer/rational SymPy would build
    max_chars: int = 2000  # length of a user string

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_depth", "max_int_digits", "max_exponent",
                     "max_result_digits", "max_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")


DEFAULT_LIMITS = Limits()

_LOG10_2 = math.log10(2)


# ----------------------------------------------------------------------------------------
# Size estimates, used before SymPy evaluates anything that could blow up
# ----------------------------------------------------------------------------------------

def _int_digits(n: int) -> int:
    """Decimal digits of ``n`` (within one), without ``str`` (slow, and capped for big ints)."""
    n = abs(n)
    return 1 if n < 10 else int(n.bit_length() * _LOG10_2) + 1


def _rational_digits(r: sympy.Rational) -> int:
    return _int_digits(r.p) + (_int_digits(r.q) if r.q != 1 else 0)


def _float_log10(f: sympy.Float) -> float:
    """``log10 |f|`` from the mpf fields, without converting a possibly huge value."""
    _sign, man, exp, bc = f._mpf_
    if not man:
        return 0.0
    try:
        return (exp + bc) * _LOG10_2
    except OverflowError:  # an exponent beyond float range: inf/nan mpf, or truly huge
        return math.inf if exp + bc > 0 else -math.inf


def _short(value: sympy.Basic) -> str:
    """A printable form of a number that may have hundreds of digits."""
    if isinstance(value, sympy.Integer) and _int_digits(value.p) > 20:
        return f"(an integer of about {_int_digits(value.p)} digits)"
    if isinstance(value, sympy.Rational) and _rational_digits(value) > 24:
        return f"(a rational of about {_rational_digits(value)} digits)"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_LN10 = math.log(10)


def _cheap_real(e: sympy.Expr, positive: bool = False) -> bool:
    """Structurally real (or positive) for sure; False means "not known".  SymPy's own
    ``is_extended_real`` can take seconds on nested complex numbers such as
    ``tanh(log(asin(2)))``, so the guard never asks it."""
    if e.is_Rational or e.is_Float:
        return e > 0 if positive else True
    if e in _CONSTANT_NAMES:
        return True
    if e.is_Add or e.is_Mul:
        return all(_cheap_real(a, positive) for a in e.args)
    if e.is_Pow:
        base, k = e.args
        if _cheap_real(base, True) and _cheap_real(k):
            return True
        return not positive and k.is_Integer and _cheap_real(base)
    if isinstance(e, (sympy.exp, sympy.cosh)):
        return _cheap_real(e.args[0])
    if isinstance(e, (sympy.sin, sympy.cos, sympy.tanh, sympy.atan, sympy.sinh, sympy.asinh)):
        return not positive and _cheap_real(e.args[0])
    return False


def _log10_upper(e: sympy.Expr) -> float:
    """A cheap upper bound of ``log10 |e|`` for a numeric expression; ``inf`` when unknown.

    Works in log space so that towers such as ``exp(exp(9))`` (about ``10**3519``) are fine,
    and never calls ``evalf``: ``exp(exp(exp(9))).evalf()`` alone takes seconds.
    """
    try:
        if e.is_Rational:
            if not e.p:
                return -math.inf
            return (abs(e.p).bit_length() - e.q.bit_length() + 1) * _LOG10_2
        if e.is_Float:
            return -math.inf if not e._mpf_[1] else _float_log10(e) + 1
        if e in _CONSTANT_NAMES or e is sympy.I:
            return 0.5
        if e.is_Add:
            return max(_log10_upper(a) for a in e.args) + math.log10(len(e.args))
        if e.is_Mul:
            return math.fsum(_log10_upper(a) for a in e.args)
        if e.is_Pow:
            base, k = e.args
            if k.is_Rational:
                kf = float(k)
                return kf * _log10_upper(base) if kf > 0 else -kf * -_log10_lower(base)
            size = _upper_bound(k)
            spread = max(_log10_upper(base), -_log10_lower(base), 0.0)
            return size * (spread + math.pi / _LN10)  # |b**k| <= exp(|k| (|ln|b|| + pi))
        if isinstance(e, (sympy.exp, sympy.sinh, sympy.cosh, sympy.sin, sympy.cos)):
            arg = e.args[0]
            if isinstance(e, (sympy.sin, sympy.cos)) and _cheap_real(arg):
                return 0.0
            lg = _log10_upper(arg)
            # |exp(a)|, |sinh a|, |cosh a|, |sin a|, |cos a| <= exp(|a|)
            return 10.0**lg / _LN10 if lg < 300 else math.inf
        if isinstance(e, (sympy.tanh, sympy.atan)) and _cheap_real(e.args[0]):
            return 0.2
    except (OverflowError, ValueError, TypeError, ZeroDivisionError):
        return math.inf
    return math.inf


def _log10_lower(e: sympy.Expr) -> float:
    """A cheap lower bound of ``log10 |e|`` for a numeric expression; ``-inf`` when unknown."""
    try:
        if e.is_Rational:
            if not e.p:
                return -math.inf
            return (abs(e.p).bit_length() - 1 - e.q.bit_length()) * _LOG10_2
        if e.is_Float:
            return -math.inf if not e._mpf_[1] else _float_log10(e) - 1
        if e in _CONSTANT_NAMES:
            return 0.4  # pi and E
        if e is sympy.I:
            return 0.0
        if e.is_Mul:
            return math.fsum(_log10_lower(a) for a in e.args)
        if e.is_Pow and e.exp.is_Rational:
            kf = float(e.exp)
            return kf * _log10_lower(e.base) if kf > 0 else -kf * -_log10_upper(e.base)
        if isinstance(e, sympy.exp):
            lg = _log10_upper(e.args[0])
            return -(10.0**lg) / _LN10 if lg < 300 else -math.inf
    except (OverflowError, ValueError, TypeError, ZeroDivisionError):
        return -math.inf
    return -math.inf


def _upper_bound(e: sympy.Expr) -> float:
    """A cheap upper bound of ``|e|`` for a numeric expression, ``inf`` when unknown."""
    if e.is_Rational:
        try:
            return abs(e.p) / e.q
        except OverflowError:
            return math.inf
    lg = _log10_upper(e)
    return 10.0**lg if lg < 300 else math.inf


def _content(e: sympy.Expr, size_of: Callable[[sympy.Expr], float]) -> float:
    """Digits of the numbers a power of ``e`` would raise: ``(c*x*b**r)**k`` becomes
    ``c**k * x**k * b**(r*k)``, so count the numbers in Mul factors and Pow bases; SymPy never
    expands a power of a sum or raises numbers inside a function, so those count zero."""
    if e.is_Rational:
        return float(_rational_digits(e))
    if e.is_Mul:
        return math.fsum(_content(a, size_of) for a in e.args)
    if e.is_Pow:
        base, k = e.args
        inner = _content(base, size_of)
        if not inner or not k.is_number:
            return inner
        return inner * max(1.0, size_of(k))
    return 0.0


def _content_all(e: sympy.Expr) -> float:
    """Digits of every rational anywhere inside ``e`` (a deliberately generous estimate)."""
    return math.fsum(_rational_digits(r) for r in e.atoms(sympy.Rational))

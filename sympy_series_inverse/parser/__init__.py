"""Turn model tokens and user text into SymPy expressions, safely.

Nothing here ever hands model output to ``eval``, ``exec``, ``sympify`` or ``parse_expr``:
the two token notations are parsed by hand over a closed vocabulary, and every node is
built through a guard that refuses, *before* SymPy evaluates it, anything that could hang
or allocate a huge number (``7 ** (10 ** 7)``).  Errors are :class:`~.errors.ParseError`
with ``position`` = where parsing stopped (a token index for token lists, a character
index for user strings, ``None`` for a SymPy tree given to :func:`safe_build`).

Infix notation ("paper" notation), :func:`parse_infix` / :func:`to_infix`
-------------------------------------------------------------------------
A list of tokens, one string each, no whitespace tokens::

    ["-", "x", "**", "4", "/", "24", "+", "x", "**", "3", "-", "2", "*", "x"]

* operators ``+ - * / **`` and ``^`` (a synonym of ``**``), parentheses ``(`` ``)``;
* integers: one token of decimal digits, e.g. ``"24"`` (no sign inside the token, no
  ``_``; leading zeros are allowed here, ``"007"`` is 7);
* decimals: one token ``"0.5"``, ``"2."`` or ``".5"``, read as the *exact* rational
  (``"0.5"`` -> ``1/2``); no exponent notation (``"1e5"`` is refused);
* function names from :data:`functions.UNARY_FUNCTIONS` (``exp log sqrt sin cos ...``),
  always followed by ``"("`` expr ``")"``;
* constants from :data:`functions.CONSTANTS` (``pi``, ``E``);
* symbol names: the keys of ``symbols`` (default ``{"x": Symbol("x")}``).

Precedence is Python's: ``**`` binds tightest and is right-associative, then unary
``+``/``-`` (so ``-x**2 == -(x**2)`` and ``2**-1`` is allowed), then ``* /``, then ``+ -``
(both left-associative).  No implicit multiplication: ``["2", "x"]`` is an error.
:func:`to_infix` emits ``str(expr)`` split into such tokens, except that a number is
never put next to a lone sum in a product (``2*((x + 1)/y)`` instead of ``2*(x + 1)/y``),
since re-reading would distribute it (``2*(x + 1)`` evaluates to ``2*x + 2``).

Prefix (Polish) notation, :func:`parse_prefix` / :func:`to_prefix`
------------------------------------------------------------------
Each operator token comes before its operands::

    ["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"]   # sin(x) + 2*x**3

* binary operators (two operands): ``add sub mul div pow``
  (:data:`functions.BINARY_OPERATORS`); ``sub a b`` is ``a - b``, ``div a b`` is ``a / b``;
* unary functions (one operand): the names of :data:`functions.UNARY_FUNCTIONS`;
* leaves: constants ``pi`` ``E``, symbol names, and integers;
* an integer is a sign token ``"INT+"`` or ``"INT-"`` followed by one or more
  single-digit tokens ``"0"`` ... ``"9"``, most significant first, read greedily up to the
  first non-digit token: ``["INT+", "1", "2"]`` = 12, ``["INT-", "3"]`` = -3,
  ``["INT+", "0"]`` = 0.  A leading ``"0"`` before more digits is refused.
  A plain non-negative integer token (``"12"``, no leading zeros) is also a leaf; note that
  a single-digit plain token directly after an ``INT±`` integer would be read as one of its
  digits, so tokenizers should use the ``INT±`` form (as :func:`to_prefix` does);
* rationals need no special token: ``["div", "INT+", "1", "INT+", "3"]`` = 1/3.

:func:`to_prefix` writes n-ary sums and products as right-nested chains
(``a + b + c`` -> ``add a add b c``), ``Pow(b, 1/2)`` as ``sqrt b``, a rational ``p/q``
as ``div INT± p INT+ q``, and never emits ``sub``/``div`` for differences/quotients
(SymPy stores them as ``Add``/``Mul`` with ``-1`` and ``Pow(., -1)``).

User strings, :func:`parse_user_string`
---------------------------------------
Text such as ``"1 - x**2/2 + x**4/24 + O(x**6)"``, ``"x - x^3/6"``, ``"2*x + 3 x**2"`` or
``"O((x - 1)**5, (x, 1))"``.  The text is vetted with Python's :mod:`tokenize` first
(whitelisted names, operators and number forms only; see the function), then read by
SymPy's ``parse_expr`` with an explicit namespace that builds *inert* nodes only, and
finally evaluated node by node through :func:`safe_build`.  Decimal numbers stay
``Float`` here (the caller decides), ``^`` means power, juxtaposition multiplies.

Limits (:class:`Limits`)
------------------------
``max_tokens``        length of a token list (infix and prefix);
``max_depth``         nesting depth: each ``(``/function call, unary sign and ``**`` exponent
                      opens a level in infix; each pending operator in prefix (so a prefix
                      sum of k terms nests k-1 deep); tree depth in :func:`safe_build`;
``max_int_digits``    digits of one integer (or decimal) literal in tokens or text;
``max_exponent``      ``|e|`` of a numeric exponent, whatever the base, and the denominator
                      of a rational exponent (``x**(1/3)`` fine, ``x**65`` refused);
``max_result_digits`` digits of any integer/rational SymPy would build while evaluating
                      (estimated *before* evaluating a power: ``|e| * digits(base)``), also
                      the bound on ``|log10|`` of a Float and on the digits of a Float;
``max_chars``         length of a user string.

Three more rules keep SymPy's own evaluation cheap (each found by fuzzing):

* a numeric argument of ``exp sinh cosh tanh sin cos tan cot sec csc`` must be below
  ``10**max_result_digits`` in absolute value (``cot(sinh(cosh(exp(5))))`` would otherwise make
  mpmath compute pi to ~10**64 bits, ``exp(exp(exp(9)))`` is refused the same way);
* a constant built by a power or a function must be real (``sqrt(-1)``, ``log(-2)``,
  ``asin(2)`` are refused): SymPy's assumption queries on nested complex constants can take
  minutes, and a real Taylor series has no use for them;
* the argument of ``O(...)`` must be a monomial in symbols or ``symbol - point``
  (``x**6``, ``(x - 1)**5``, ``x*y``): ``sympy.Order`` factors anything else, which for
  ``O((x + y + 1)**64)`` alone takes ~10 s.

>>> parse_infix(["sin", "(", "x", ")", "/", "cos", "(", "x", ")"])
sin(x)/cos(x)
>>> parse_prefix(["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"])
2*x**3 + sin(x)
>>> parse_user_string("1 - x^2/2 + x**4/24 + O(x**6)")
1 - x**2/2 + x**4/24 + O(x**6)
>>> parse_infix(["7", "**", "(", "10", "**", "7", ")"])
Traceback (most recent call last):
...
sympy_series_inverse.errors.ParseError: exponent 10000000 exceeds max_exponent=64 (at position 1)
"""

from __future__ import annotations

import builtins
import io
import keyword
import math
import re
import tokenize
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)

from ..errors import ParseError
from ..functions import BINARY_OPERATORS, CONSTANTS, UNARY_FUNCTIONS

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "INT_POS",
    "INT_NEG",
    "DIGIT_TOKENS",
    "INFIX_OPERATORS",
    "INFIX_FIXED_TOKENS",
    "PREFIX_FIXED_TOKENS",
    "parse_infix",
    "parse_prefix",
    "safe_build",
    "parse_user_string",
    "to_prefix",
    "to_infix",
]


@dataclass(frozen=True)
class Limits:
    """Caps applied while parsing and building; see the module docstring for their meaning."""

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

INT_POS = "INT+"
INT_NEG = "INT-"
DIGIT_TOKENS: tuple[str, ...] = tuple("0123456789")
INFIX_OPERATORS: tuple[str, ...] = ("+", "-", "*", "/", "**", "^")

# Fixed vocabulary of each notation (symbol names and, in infix, number tokens come on top).
INFIX_FIXED_TOKENS: tuple[str, ...] = (
    INFIX_OPERATORS + ("(", ")") + tuple(UNARY_FUNCTIONS) + tuple(CONSTANTS)
)
PREFIX_FIXED_TOKENS: tuple[str, ...] = (
    tuple(BINARY_OPERATORS) + tuple(UNARY_FUNCTIONS) + tuple(CONSTANTS)
    + (INT_POS, INT_NEG) + DIGIT_TOKENS
)

_X = sympy.Symbol("x")
_DEFAULT_SYMBOLS: dict[str, sympy.Symbol] = {"x": _X}

_INT_RE = re.compile(r"[0-9]+")
_DEC_RE = re.compile(r"(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_IDENT_RE = re.compile(r"[^\W\d]\w*")
_LOG10_2 = math.log10(2)

# SymPy function class -> our name (sqrt is Pow(., 1/2), not a class).
_FUNC_CLASSES: dict[type, str] = {
    builder: name for name, builder in UNARY_FUNCTIONS.items() if isinstance(builder, type)
}
_CONSTANT_NAMES: dict[sympy.Basic, str] = {value: name for name, value in CONSTANTS.items()}
_ORDER_NAMES = ("O", "Order")
# Functions whose numeric evaluation needs precision proportional to log|argument|
# (argument reduction modulo pi or ln 2), or that produce astronomically large values.
_MAGNITUDE_GUARDED = frozenset({"exp", "sinh", "cosh", "tanh", "sin", "cos", "tan", "cot",
                                "sec", "csc"})
_BAD_NUMBERS = {
    sympy.S.NaN: "an undefined value (nan)",
    sympy.S.ComplexInfinity: "division by zero or a pole (zoo)",
    sympy.S.Infinity: "an infinite value (oo)",
    sympy.S.NegativeInfinity: "an infinite value (-oo)",
}


def _vocabulary_names() -> set[str]:
    return set(UNARY_FUNCTIONS) | set(CONSTANTS) | set(BINARY_OPERATORS) | set(_ORDER_NAMES) | {
        INT_POS, INT_NEG}


def _blocked_names() -> frozenset[str]:
    """Names a user string may not use even as a symbol: Python builtins (``eval``, ``open``),
    SymPy objects that would silently mean something else (``oo``, ``I``, ``S``, ``Integral``),
    and the names of the constructors our own namespace exposes to generated code."""
    names = set(dir(builtins))
    for name in dir(sympy):
        value = getattr(sympy, name, None)
        if name[:1].isupper() or isinstance(value, sympy.Basic):
            names.add(name)
    names |= {"oo", "zoo", "nan", "inf", "Infinity", "NaN", "I", "S", "N", "Q", "true", "false"}
    names |= _INTERNAL_NAMES
    return frozenset(names - set(UNARY_FUNCTIONS) - set(CONSTANTS) - set(_ORDER_NAMES))


# Names the code generated by parse_expr calls: never a symbol, whatever ``symbols`` says.
_INTERNAL_NAMES = frozenset({"Integer", "Float", "Rational", "Symbol", "Add", "Mul", "Pow",
                             "Function", "Tuple"})
_BLOCKED_NAMES = _blocked_names()


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


# ----------------------------------------------------------------------------------------
# The guard: every node of every notation is built through these methods
# ----------------------------------------------------------------------------------------

def _is_o_monomial(expr: sympy.Expr) -> bool:
    """A product of numbers and numeric powers of symbols or of ``symbol ± constant``."""
    for factor in sympy.Mul.make_args(expr):
        if factor.is_number:
            continue
        base, k = factor.as_base_exp()
        if not k.is_number:
            return False
        if isinstance(base, sympy.Symbol):
            continue
        if not (base.is_Add and len(base.args) == 2):
            return False
        const = [a for a in base.args if a.is_number]
        var = [a for a in base.args if not a.is_number]
        if len(const) != 1 or len(var) != 1:
            return False
        v = var[0]
        if not (isinstance(v, sympy.Symbol) or (
                v.is_Mul and len(v.args) == 2 and v.args[0] == -1
                and isinstance(v.args[1], sympy.Symbol))):
            return False
    return True


class _Guard:
    """Builds SymPy nodes with evaluation, after checking that the evaluation is cheap."""

    def __init__(self, limits: Limits):
        self.limits = limits

    # -- leaves ------------------------------------------------------------------------
    def integer(self, digits: str, negative: bool, pos: int | None) -> sympy.Integer:
        if len(digits) > self.limits.max_int_digits:
            raise ParseError(
                f"integer literal has {len(digits)} digits, more than "
                f"max_int_digits={self.limits.max_int_digits}", pos)
        value = int(digits)
        return sympy.Integer(-value if negative else value)

    def decimal(self, text: str, pos: int | None) -> sympy.Rational:
        whole, _, frac = text.partition(".")
        if len(whole) + len(frac) > self.limits.max_int_digits:
            raise ParseError(
                f"decimal literal has {len(whole) + len(frac)} digits, more than "
                f"max_int_digits={self.limits.max_int_digits}", pos)
        scale = 10 ** len(frac)
        return sympy.Rational(int(whole or "0") * scale + int(frac or "0"), scale)

    # -- checks ------------------------------------------------------------------------
    def exponent_magnitude(self, e: sympy.Expr) -> float:
        """``|e|`` (an upper bound) of a numeric exponent, without raising."""
        if e.is_Rational:
            return _upper_bound(e)
        lg = self.magnitude_log10(e, math.log10(self.limits.max_exponent))
        return 10.0**lg if lg < 300 else math.inf

    def exponent_size(self, e: sympy.Expr, pos: int | None) -> float | None:
        """``|e|`` (an upper bound) if ``e`` is numeric, after checking it against
        ``max_exponent``; ``None`` for a symbolic exponent (SymPy leaves ``2**x`` alone)."""
        cap = self.limits.max_exponent
        if e.is_Rational:
            if abs(e.p) > cap * e.q:
                raise ParseError(f"exponent {_short(e)} exceeds max_exponent={cap}", pos)
            if e.q > cap:
                raise ParseError(
                    f"exponent {_short(e)} has a denominator larger than max_exponent={cap}", pos)
            return abs(e.p) / e.q
        if not e.is_number:
            return None
        size = self.exponent_magnitude(e)
        if not size <= cap:  # also catches nan
            shown = "" if math.isinf(size) else f" (about {size:.3g})"
            raise ParseError(
                f"numeric exponent {_short(e)}{shown} cannot be shown to be within "
                f"max_exponent={cap}", pos)
        return size

    def magnitude_log10(self, e: sympy.Expr, threshold: float) -> float:
        """An upper bound of ``log10 |e|`` for a numeric ``e`` (``inf`` if none is found).

        The cheap symbolic bound first; if it is above ``threshold``, ``evalf``.  That is safe
        here because every part of ``e`` was built through this guard, which never lets a
        periodic or exponential function see an argument beyond ``10**max_result_digits``:
        without that rule, ``exp(exp(exp(9))).evalf()`` takes seconds and
        ``cot(sinh(cosh(exp(5)))).evalf()`` computes pi to ~10**64 bits.
        """
        lg = _log10_upper(e)
        if lg <= threshold:
            return lg
        try:
            value = e.evalf(15)
            parts = value.as_real_imag()
        except Exception:  # SymPy/mpmath raise many types; unknown means refused
            return math.inf
        if not all(isinstance(v, sympy.Number) and v.is_finite for v in parts):
            return math.inf
        logs = [_float_log10(sympy.Float(v)) for v in parts if v != 0]
        if not logs:
            return -math.inf
        if -300 < max(logs) < 300:  # exact enough in float range; +1e-9 absorbs rounding
            return math.log10(math.hypot(*(float(v) for v in parts))) + 1e-9
        return max(logs) + 0.5

    def check_function_argument(self, name: str, arg: sympy.Expr, pos: int | None) -> None:
        """A numeric argument of a periodic or exponential function must stay below
        ``10**max_result_digits``: evaluating ``sin`` of a larger number needs that many
        digits of pi, and ``exp`` of it has more digits than any later step could handle."""
        if name not in _MAGNITUDE_GUARDED or not arg.is_number:
            return
        lg = self.magnitude_log10(arg, self.limits.max_result_digits)
        if not lg <= self.limits.max_result_digits:
            shown = "unknown size" if math.isinf(lg) else f"about 10**{lg:.4g}"
            raise ParseError(
                f"argument of {name} is too large ({shown}) for "
                f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_real_constant(self, value: sympy.Expr, pos: int | None) -> sympy.Expr:
        """A constant built by a power or a function must be real.

        Complex constants (``sqrt(-2)``, ``log(-1)``, ``asin(2)``) have no place in a real
        Taylor series, and SymPy's assumption queries on nested ones are pathological
        (``1**tanh(log(asin(2)))`` spends tens of seconds in ``as_real_imag``).  ``evalf``
        is cheap here: the magnitude rule bounds the precision it needs.
        """
        if not value.is_number or value.is_Number or value in _CONSTANT_NAMES:
            return value
        try:
            re_part, im_part = value.evalf(15).as_real_imag()
        except Exception as e:  # SymPy/mpmath raise many types
            raise ParseError(f"cannot evaluate the constant {_short(value)}", pos) from e
        if not (isinstance(re_part, sympy.Number) and isinstance(im_part, sympy.Number)):
            raise ParseError(f"cannot evaluate the constant {_short(value)}", pos)
        if im_part != 0 and abs(im_part) > 1e-12 * max(1.0, abs(float(re_part))):
            raise ParseError(
                f"constant {_short(value)} is not real (about {complex(re_part, im_part):.3g})",
                pos)
        return value

    def check_power_size(self, content: float, size: float, pos: int | None) -> None:
        estimate = content * max(1.0, size)
        if estimate > self.limits.max_result_digits:
            raise ParseError(
                f"power would build a number of about {int(estimate)} digits, more than "
                f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_exp_argument(self, arg: sympy.Expr, pos: int | None) -> None:
        """SymPy rewrites ``exp(c*log(b))`` to ``b**c`` (``exp(10**7*log(7))`` is ``7**10**7``),
        so a numeric term with a log in it is checked like an exponent."""
        for term in sympy.Add.make_args(arg):
            if not term.is_number or not term.has(sympy.log):
                continue
            factors = sympy.Mul.make_args(term)
            coeff = sympy.Mul(*[f for f in factors if not f.has(sympy.log)])
            size = self.exponent_size(coeff, pos)
            logs = [f for f in factors if f.has(sympy.log)]
            self.check_power_size(math.fsum(_content_all(f) for f in logs), size or 1.0, pos)

    def checked(self, expr: sympy.Expr, pos: int | None) -> sympy.Expr:
        """Refuse non-finite values and oversized numbers in the node just built (its top two
        levels: deeper nodes were checked when they were built)."""
        stack = [(expr, 0)]
        while stack:
            node, level = stack.pop()
            self.check_atom(node, pos)
            if level < 2:
                stack.extend((a, level + 1) for a in node.args)
        return expr

    def check_atom(self, node: sympy.Basic, pos: int | None) -> None:
        if node in _BAD_NUMBERS:
            raise ParseError(f"expression evaluates to {_BAD_NUMBERS[node]}", pos)
        if isinstance(node, sympy.Rational):
            if _rational_digits(node) > self.limits.max_result_digits:
                raise ParseError(
                    f"a number of about {_rational_digits(node)} digits exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)
        elif isinstance(node, sympy.Float):
            if node.is_finite is not True:
                raise ParseError(f"expression evaluates to a non-finite float {node}", pos)
            if abs(_float_log10(node)) > self.limits.max_result_digits:
                raise ParseError(
                    f"a float of magnitude about 10**{_float_log10(node):.4g} exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)
            if node._prec * _LOG10_2 > self.limits.max_result_digits:
                raise ParseError(
                    f"a float with {int(node._prec * _LOG10_2)} digits of precision exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_tree(self, expr: sympy.Expr, pos: int | None) -> sympy.Expr:
        for node in sympy.preorder_traversal(expr):
            self.check_atom(node, pos)
        return expr

    # -- nodes -------------------------------------------------------------------------
    def _apply(self, build: Callable[[], sympy.Expr], pos: int | None) -> sympy.Expr:
        try:
            result = build()
        except ParseError:
            raise
        except RecursionError as e:
            raise ParseError("expression is too deeply nested for SymPy", pos) from e
        except Exception as e:  # SymPy raises many types; the caller only needs to know why
            raise ParseError(
                f"SymPy could not build this expression ({type(e).__name__}: {e})", pos) from e
        return self.checked(result, pos)

    def add(self, args: Sequence[sympy.Expr], pos: int | None) -> sympy.Expr:
        return self._apply(lambda: sympy.Add(*args), pos)

    def mul(self, args: Sequence[sympy.Expr], pos: int | None) -> sympy.Expr:
        # exp(a)*exp(b) becomes exp(a + b): check the merged argument first.
        exps = [a.args[0] for a in args if isinstance(a, sympy.exp)]
        if len(exps) > 1:
            merged = self._apply(lambda: sympy.Add(*exps), pos)
            self.check_function_argument("exp", merged, pos)
            self.check_exp_argument(merged, pos)
        return self._apply(lambda: sympy.Mul(*args), pos)

    def neg(self, a: sympy.Expr, pos: int | None) -> sympy.Expr:
        return self.mul([sympy.S.NegativeOne, a], pos)

    def sub(self, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        return self.add([a, self.neg(b, pos)], pos)

    def div(self, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        if b == 0:  # structural: b is evaluated (asking b.is_zero can be slow)
            raise ParseError("division by zero", pos)
        return self.mul([a, self.pow(b, sympy.S.NegativeOne, pos)], pos)

    def pow(self, base: sympy.Expr, e: sympy.Expr, pos: int | None) -> sympy.Expr:
        size = self.exponent_size(e, pos)
        if size is not None:
            self.check_power_size(_content(base, self.exponent_magnitude), size, pos)
            if base == 0 and (e.is_Rational or e.is_Float) and e < 0:
                raise ParseError("division by zero (0 to a negative power)", pos)
        if base == sympy.E:
            self.check_function_argument("exp", e, pos)
            self.check_exp_argument(e, pos)
        elif isinstance(base, sympy.exp):
            merged = self._apply(lambda: sympy.Mul(e, base.args[0]), pos)  # exp(a)**k = exp(k*a)
            self.check_function_argument("exp", merged, pos)
            self.check_exp_argument(merged, pos)
        return self.check_real_constant(self._apply(lambda: sympy.Pow(base, e), pos), pos)

    def binary(self, name: str, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        if name == "add":
            return self.add([a, b], pos)
        if name == "sub":
            return self.sub(a, b, pos)
        if name == "mul":
            return self.mul([a, b], pos)
        if name == "div":
            return self.div(a, b, pos)
        if name == "pow":
            return self.pow(a, b, pos)
        raise ParseError(f"unknown binary operator {name!r}", pos)  # pragma: no cover

    def func(self, name: str, arg: sympy.Expr, pos: int | None) -> sympy.Expr:
        if name == "sqrt":
            return self.pow(arg, sympy.S.Half, pos)
        self.check_function_argument(name, arg, pos)
        if name == "exp":
            self.check_exp_argument(arg, pos)
        builder = UNARY_FUNCTIONS[name]
        return self.check_real_constant(self._apply(lambda: builder(arg), pos), pos)

    def order(self, expr: sympy.Expr, specs: Sequence[Any], pos: int | None) -> sympy.Expr:
        # sympy.Order factors its argument (an Add) and takes its leading term: for
        # O((x + y + 1)**64) that alone is ~10 s, so only monomials are accepted.
        if not _is_o_monomial(expr):
            raise ParseError(
                f"O(...) takes a monomial such as x**6 or (x - 1)**5, got {_short(expr)}", pos)
        args: list[Any] = []
        for spec in specs:
            if isinstance(spec, sympy.Symbol):
                args.append(spec)
            elif isinstance(spec, (tuple, sympy.Tuple)) and len(spec) == 2 and isinstance(
                    spec[0], sympy.Symbol):
                args.append((spec[0], spec[1]))
            else:
                raise ParseError(
                    "O-term arguments after the first must be a symbol or a (symbol, point) "
                    f"pair, got {spec}", pos)
        return self._apply(lambda: sympy.Order(expr, *args), pos)


# ----------------------------------------------------------------------------------------
# Token lists: common checks
# ----------------------------------------------------------------------------------------

def _symbol_table(symbols: Mapping[str, sympy.Symbol] | None) -> dict[str, sympy.Symbol]:
    if symbols is None:
        return dict(_DEFAULT_SYMBOLS)
    table: dict[str, sympy.Symbol] = {}
    reserved = _vocabulary_names()
    for name, sym in symbols.items():
        if not isinstance(name, str) or not _IDENT_RE.fullmatch(name) or keyword.iskeyword(name):
            raise ParseError(f"symbol name {name!r} is not an identifier")
        if name in reserved:
            raise ParseError(f"symbol name {name!r} clashes with a function, constant or operator")
        if not isinstance(sym, sympy.Symbol):
            raise ParseError(f"symbols[{name!r}] must be a sympy.Symbol, got {type(sym).__name__}")
        table[name] = sym
    return table


def _check_tokens(tokens: Sequence[str], limits: Limits) -> list[str]:
    if isinstance(tokens, str):
        raise ParseError("expected a sequence of tokens, got a single string", 0)
    try:
        n = len(tokens)
    except TypeError as e:
        raise ParseError(f"expected a sequence of tokens, got {type(tokens).__name__}", 0) from e
    if n > limits.max_tokens:
        raise ParseError(f"{n} tokens, more than max_tokens={limits.max_tokens}",
                         limits.max_tokens)
    out = list(tokens)
    for i, tok in enumerate(out):
        if not isinstance(tok, str):
            raise ParseError(f"token {tok!r} is not a string", i)
    if not out:
        raise ParseError("empty token sequence", 0)
    return out


# ----------------------------------------------------------------------------------------
# Infix
# ----------------------------------------------------------------------------------------

class _InfixParser:
    """Recursive descent with Python's precedence; recursion depth bounded by ``max_depth``."""

    def __init__(self, tokens: list[str], symbols: dict[str, sympy.Symbol], limits: Limits):
        self.toks = tokens
        self.n = len(tokens)
        self.i = 0
        self.depth = 0
        self.symbols = symbols
        self.limits = limits
        self.g = _Guard(limits)

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < self.n else None

    def parse(self) -> sympy.Expr:
        result = self.expr()
        if self.i < self.n:
            tok = self.toks[self.i]
            if tok == ")":
                raise ParseError("unmatched ')'", self.i)
            raise ParseError(f"unexpected token {tok!r} after a complete expression", self.i)
        return self.g.check_tree(result, self.n)

    def expr(self) -> sympy.Expr:
        left = self.term()
        while self.peek() in ("+", "-"):
            op, pos = self.toks[self.i], self.i
            self.i += 1
            right = self.term()
            left = self.g.add([left, right], pos) if op == "+" else self.g.sub(left, right, pos)
        return left

    def term(self) -> sympy.Expr:
        left = self.unary()
        while self.peek() in ("*", "/"):
            op, pos = self.toks[self.i], self.i
            self.i += 1
            right = self.unary()
            left = self.g.mul([left, right], pos) if op == "*" else self.g.div(left, right, pos)
        return left

    def unary(self) -> sympy.Expr:
        # Every recursion of the grammar passes through here, so this is the depth gate.
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise ParseError(f"nesting deeper than max_depth={self.limits.max_depth}", self.i)
        try:
            tok = self.peek()
            if tok in ("+", "-"):
                pos = self.i
                self.i += 1
                operand = self.unary()
                return self.g.neg(operand, pos) if tok == "-" else operand
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.peek() in ("**", "^"):
            pos = self.i
            self.i += 1
            exponent = self.unary()  # right-associative; allows x**-2 as Python does
            return self.g.pow(base, exponent, pos)
        return base

    def expect_close(self, opened_at: int) -> None:
        if self.i >= self.n:
            raise ParseError(f"missing ')' for '(' at position {opened_at}", self.n)
        if self.toks[self.i] != ")":
            raise ParseError(
                f"expected ')' to close '(' at position {opened_at}, got {self.toks[self.i]!r}",
                self.i)
        self.i += 1

    def atom(self) -> sympy.Expr:
        if self.i >= self.n:
            raise ParseError("unexpected end of tokens: missing operand", self.n)
        tok, pos = self.toks[self.i], self.i
        if tok == "(":
            self.i += 1
            inner = self.expr()
            self.expect_close(pos)
            return inner
        if tok in UNARY_FUNCTIONS:
            self.i += 1
            if self.peek() != "(":
                raise ParseError(f"expected '(' after function {tok!r}", self.i)
            self.i += 1
            arg = self.expr()
            self.expect_close(pos + 1)
            return self.g.func(tok, arg, pos)
        if tok in CONSTANTS:
            self.i += 1
            return CONSTANTS[tok]
        if tok in self.symbols:
            self.i += 1
            return self.symbols[tok]
        if _INT_RE.fullmatch(tok):
            self.i += 1
            return self.g.integer(tok, False, pos)
        if _DEC_RE.fullmatch(tok):
            self.i += 1
            return self.g.decimal(tok, pos)
        if tok == ")":
            raise ParseError("missing operand before ')'", pos)
        if tok in INFIX_OPERATORS:
            raise ParseError(f"missing operand before {tok!r}", pos)
        raise ParseError(f"unknown token {tok!r}", pos)


def parse_infix(tokens: Sequence[str], symbols: Mapping[str, sympy.Symbol] | None = None, *,
                limits: Limits = DEFAULT_LIMITS) -> sympy.Expr:
    """Parse a token list in infix ("paper") notation into an evaluated SymPy expression.

    ``symbols`` maps symbol tokens to SymPy symbols (default ``{"x": Symbol("x")}``).
    Raises :class:`ParseError` whose ``position`` is the index of the offending token
    (``len(tokens)`` when the tokens ran out).

    >>> parse_infix(["-", "x", "**", "4", "/", "24", "+", "x", "**", "3", "-", "2", "*", "x"])
    -x**4/24 + x**3 - 2*x
    >>> parse_infix(["x", "^", "0.5"])
    sqrt(x)
    """
    toks = _check_tokens(tokens, limits)
    parser = _InfixParser(toks, _symbol_table(symbols), limits)
    try:
        return parser.parse()
    except RecursionError as e:  # only reachable with a max_depth above Python's own limit
        raise ParseError("expression too deeply nested for Python's recursion limit",
                         parser.i) from e


# ----------------------------------------------------------------------------------------
# Prefix
# ----------------------------------------------------------------------------------------

def parse_prefix(tokens: Sequence[str], symbols: Mapping[str, sympy.Symbol] | None = None, *,
                 limits: Limits = DEFAULT_LIMITS) -> sympy.Expr:
    """Parse a token list in prefix (Polish) notation into an evaluated SymPy expression.

    Uses an explicit stack (no recursion); ``max_depth`` caps the number of operators
    waiting for operands.  ``position`` of a :class:`ParseError` is the index of the first
    bad token, ``len(tokens)`` when the tokens ran out.

    >>> parse_prefix(["div", "INT-", "1", "INT+", "3"])
    -1/3
    >>> parse_prefix(["pow", "x", "12"])
    x**12
    """
    toks = _check_tokens(tokens, limits)
    table = _symbol_table(symbols)
    g = _Guard(limits)
    n = len(toks)
    # frame: [name, position, arity, operands]
    stack: list[list[Any]] = []
    i = 0
    while True:
        if i >= n:
            name, pos, arity, operands = stack[-1]
            missing = arity - len(operands)
            raise ParseError(
                f"ran out of tokens: {name!r} at position {pos} needs {missing} more operand"
                f"{'s' if missing > 1 else ''}", n)
        tok = toks[i]
        arity = 2 if tok in BINARY_OPERATORS else 1 if tok in UNARY_FUNCTIONS else 0
        if arity:
            if len(stack) >= limits.max_depth:
                raise ParseError(f"nesting deeper than max_depth={limits.max_depth}", i)
            stack.append([tok, i, arity, []])
            i += 1
            continue
        value, i = _prefix_leaf(toks, i, table, g, limits)
        # Reduce every operator that now has all its operands.
        while stack:
            frame = stack[-1]
            frame[3].append(value)
            if len(frame[3]) < frame[2]:
                break
            stack.pop()
            name, pos, _, operands = frame
            if name in BINARY_OPERATORS:
                value = g.binary(name, operands[0], operands[1], pos)
            else:
                value = g.func(name, operands[0], pos)
        else:
            if i < n:
                raise ParseError(
                    f"trailing token {toks[i]!r} after a complete expression", i)
            return g.check_tree(value, n)


def _prefix_leaf(toks: list[str], i: int, table: dict[str, sympy.Symbol], g: _Guard,
                 limits: Limits) -> tuple[sympy.Expr, int]:
    tok = toks[i]
    if tok in (INT_POS, INT_NEG):
        j = i + 1
        while j < len(toks) and toks[j] in DIGIT_TOKENS:
            if j - i > limits.max_int_digits:
                raise ParseError(
                    f"integer has more than max_int_digits={limits.max_int_digits} digits", j)
            j += 1
        if j == i + 1:
            where = "ran out of tokens" if j >= len(toks) else f"got {toks[j]!r}"
            raise ParseError(f"{tok!r} must be followed by digit tokens '0'..'9' ({where})", j)
        digits = "".join(toks[i + 1:j])
        if len(digits) > 1 and digits[0] == "0":
            raise ParseError("integer has a leading zero", i + 1)
        return g.integer(digits, tok == INT_NEG, i), j
    if tok in CONSTANTS:
        return CONSTANTS[tok], i + 1
    if tok in table:
        return table[tok], i + 1
    if _INT_RE.fullmatch(tok):
        if len(tok) > 1 and tok[0] == "0":
            raise ParseError(f"integer token {tok!r} has a leading zero", i)
        return g.integer(tok, False, i), i + 1
    raise ParseError(f"unknown token {tok!r}", i)


# ----------------------------------------------------------------------------------------
# SymPy -> tokens
# ----------------------------------------------------------------------------------------

def _as_expr(expr: Any) -> sympy.Basic:
    if isinstance(expr, int) and not isinstance(expr, bool):
        return sympy.Integer(expr)
    if not isinstance(expr, sympy.Basic):
        raise ParseError(f"expected a SymPy expression, got {type(expr).__name__}")
    return expr


def _int_tokens(n: int) -> list[str]:
    return [INT_NEG if n < 0 else INT_POS, *str(abs(n))]


def _symbol_token(sym: sympy.Symbol) -> str:
    name = sym.name
    if not _IDENT_RE.fullmatch(name) or keyword.iskeyword(name) or name in _vocabulary_names():
        raise ParseError(f"symbol name {name!r} cannot be written as a token")
    return name


def to_prefix(expr: sympy.Expr) -> list[str]:
    """The prefix tokens of ``expr`` (built from symbols, integers, rationals, ``pi``, ``E``,
    the unary functions and ``+ * **``); :func:`parse_prefix` reads them back to ``expr``.

    >>> from sympy import Symbol, exp
    >>> x = Symbol("x")
    >>> " ".join(to_prefix(exp(-x) + x**2/3))
    'add mul div INT+ 1 INT+ 3 pow x INT+ 2 exp mul INT- 1 x'
    """
    out: list[str] = []
    # Explicit stack of pending nodes, so a deep tree cannot hit the recursion limit.
    todo: list[Any] = [_as_expr(expr)]
    while todo:
        node = todo.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        if isinstance(node, sympy.Integer):
            out.extend(_int_tokens(node.p))
        elif isinstance(node, sympy.Rational):
            out.append("div")
            out.extend(_int_tokens(node.p))
            out.extend(_int_tokens(node.q))
        elif node in _CONSTANT_NAMES:
            out.append(_CONSTANT_NAMES[node])
        elif isinstance(node, sympy.Symbol):
            out.append(_symbol_token(node))
        elif isinstance(node, (sympy.Add, sympy.Mul)):
            op = "add" if isinstance(node, sympy.Add) else "mul"
            args = list(node.args)
            # right-nested chain: op a0 op a1 ... a_{n-2} a_{n-1}
            pending: list[Any] = []
            for a in args[:-1]:
                pending.extend([op, a])
            pending.append(args[-1])
            todo.extend(reversed(pending))
        elif isinstance(node, sympy.Pow):
            base, e = node.args
            if e == sympy.S.Half:
                todo.extend([base, "sqrt"])
            else:
                todo.extend([e, base, "pow"])
        elif type(node) in _FUNC_CLASSES and len(node.args) == 1:
            todo.extend([node.args[0], _FUNC_CLASSES[type(node)]])
        else:
            raise ParseError(f"no prefix token for a SymPy {type(node).__name__} ({_short(node)})")
    return out


# Precedence of a printed form, as Python parses it (a leading unary minus counts as MUL).
_ADD, _MUL, _POW, _ATOM = 1, 2, 3, 4


def to_infix(expr: sympy.Expr) -> list[str]:
    """The infix tokens of ``expr``, printed like ``str(expr)`` and split into tokens
    (operators, parentheses, function names, integers, symbol names), such that
    :func:`parse_infix` reads them back to ``expr``.

    One deliberate difference from ``str``: where ``str`` puts a number next to a sum in a
    product (``2*(x + 1)/y``, ``1/(2*(x + 1))``), re-reading would distribute the number over
    the sum (SymPy turns ``2*(x + 1)`` into ``2*x + 2``), so the other factors are grouped
    first: ``2*((x + 1)/y)``, ``(1/(x + 1))/2``.

    >>> from sympy import Symbol, sin
    >>> x = Symbol("x")
    >>> to_infix(x**3 - sin(x)/6)
    ['x', '**', '3', '-', 'sin', '(', 'x', ')', '/', '6']
    """
    node = _as_expr(expr)
    to_prefix(node)  # same vocabulary check (and error) as the prefix notation
    try:
        return _infix(node)[0]
    except RecursionError as e:
        raise ParseError("expression too deeply nested to print") from e


def _wrap(printed: tuple[list[str], int], below: int) -> list[str]:
    """Tokens of a printed operand, in parentheses when its precedence is below ``below``."""
    tokens, prec = printed
    return ["(", *tokens, ")"] if prec < below else tokens


def _infix(e: sympy.Basic) -> tuple[list[str], int]:
    if isinstance(e, sympy.Integer):
        return (["-", str(-e.p)], _MUL) if e.p < 0 else ([str(e.p)], _ATOM)
    if isinstance(e, sympy.Rational):
        sign = ["-"] if e.p < 0 else []
        return [*sign, str(abs(e.p)), "/", str(e.q)], _MUL
    if e in _CONSTANT_NAMES:
        return [_CONSTANT_NAMES[e]], _ATOM
    if isinstance(e, sympy.Symbol):
        return [_symbol_token(e)], _ATOM
    if type(e) in _FUNC_CLASSES:
        return [_FUNC_CLASSES[type(e)], "(", *_infix(e.args[0])[0], ")"], _ATOM
    if isinstance(e, sympy.Add):
        out: list[str] = []
        for k, term in enumerate(e.as_ordered_terms()):
            tokens = _wrap(_infix(term), _ADD)
            if k == 0:
                out.extend(tokens)
            elif tokens[0] == "-":  # as str does: "a - b" rather than "a + -b"
                out.extend(["-", *tokens[1:]])
            else:
                out.extend(["+", *tokens])
        return out, _ADD
    if isinstance(e, sympy.Pow):
        return _infix_pow(e)
    if isinstance(e, sympy.Mul):
        return _infix_mul(e)
    raise ParseError(f"no infix token for a SymPy {type(e).__name__}")  # pragma: no cover


def _infix_pow(e: sympy.Pow) -> tuple[list[str], int]:
    base, exp = e.args
    if exp == sympy.S.Half:
        return ["sqrt", "(", *_infix(base)[0], ")"], _ATOM
    if exp == -sympy.S.Half:
        return ["1", "/", "sqrt", "(", *_infix(base)[0], ")"], _MUL
    if exp == sympy.S.NegativeOne:
        return ["1", "/", *_wrap(_infix(base), _POW)], _MUL
    return [*_wrap(_infix(base), _ATOM), "**", *_wrap(_infix(exp), _ATOM)], _POW


def _infix_mul(e: sympy.Mul) -> tuple[list[str], int]:
    coeff, rest = e.as_coeff_Mul()
    sign = ["-"] if coeff.is_negative else []
    coeff = abs(coeff)
    num: list[sympy.Expr] = []
    den: list[sympy.Expr] = []
    for f in rest.as_ordered_factors():  # str's order
        if f.is_Pow and f.exp.is_Rational and f.exp.is_negative:
            den.append(sympy.Pow(f.base, -f.exp) if f.exp != -1 else f.base)
        else:
            num.append(f)
    p, q = coeff.p, coeff.q
    # Re-reading "p*A*..." or "(q*D*...)" evaluates p*A (q*D) first, and SymPy distributes a
    # number over a lone sum; a leading "-" likewise hits the first factor alone.
    risky = (bool(num) and num[0].is_Add and (p != 1 or sign)) or (
        bool(den) and den[0].is_Add and q != 1)
    if risky:
        inner = _product(num, den, 1, 1)
        tokens = [*sign]
        if p != 1:
            tokens += [str(p), "*"]
        tokens += ["(", *inner, ")"]
        if q != 1:
            tokens += ["/", str(q)]
        return tokens, _MUL
    return [*sign, *_product(num, den, p, q)], _MUL


def _product(num: list[sympy.Expr], den: list[sympy.Expr], p: int, q: int) -> list[str]:
    """``p*n1*n2/(q*d1*d2)`` in str's layout."""
    top: list[list[str]] = ([[str(p)]] if p != 1 else []) + [_wrap(_infix(f), _MUL) for f in num]
    bottom_printed = ([([str(q)], _ATOM)] if q != 1 else []) + [_infix(f) for f in den]
    tokens = _join(top) if top else ["1"]
    if not bottom_printed:
        return tokens
    if len(bottom_printed) == 1:
        return [*tokens, "/", *_wrap(bottom_printed[0], _POW)]
    return [*tokens, "/", "(", *_join([_wrap(b, _MUL) for b in bottom_printed]), ")"]


def _join(factors: list[list[str]]) -> list[str]:
    out: list[str] = []
    for k, f in enumerate(factors):
        if k:
            out.append("*")
        out.extend(f)
    return out


# ----------------------------------------------------------------------------------------
# safe_build
# ----------------------------------------------------------------------------------------

class _UnevaluatedOrder(sympy.Expr):
    """Inert stand-in for ``O(expr, *points)`` in an unevaluated tree: ``sympy.Order`` does
    real work when constructed, so it must only see arguments :func:`safe_build` has vetted."""

    def __new__(cls, *args: sympy.Basic) -> "_UnevaluatedOrder":
        return sympy.Expr.__new__(cls, *args)


_ALLOWED_NODES = ("Add, Mul, Pow, Integer, Rational, Float, Symbol, "
                  + ", ".join(UNARY_FUNCTIONS) + ", " + ", ".join(CONSTANTS) + ", Order")


def safe_build(expr: sympy.Expr, *, limits: Limits = DEFAULT_LIMITS) -> sympy.Expr:
    """Rebuild a (possibly unevaluated) SymPy tree bottom-up with evaluation, guarding each node.

    Allowed nodes: ``Add``, ``Mul``, ``Pow``, ``Integer``/``Rational``/``Float`` numbers,
    ``Symbol`` (and ``Dummy``), the functions of ``UNARY_FUNCTIONS``, the constants of
    ``CONSTANTS`` and ``Order`` (kept with its point; its argument must be a monomial).
    Anything else, ``nan``/``zoo``/``oo``, non-finite floats and complex constants raise
    :class:`ParseError` (``position`` is ``None``).  Rational
    leaves may have up to ``max_result_digits`` digits (they may be results of an earlier
    evaluation); ``max_depth`` caps the tree depth.

    >>> from sympy import Pow, Integer
    >>> safe_build(Pow(Integer(2), Pow(Integer(2), Integer(3), evaluate=False), evaluate=False))
    256
    >>> safe_build(Pow(Integer(7), Pow(Integer(10), Integer(7), evaluate=False), evaluate=False))
    Traceback (most recent call last):
    ...
    sympy_series_inverse.errors.ParseError: exponent 10000000 exceeds max_exponent=64
    """
    g = _Guard(limits)
    try:
        result = _build(_as_expr(expr), g, 0)
    except RecursionError as e:
        raise ParseError("expression too deeply nested") from e
    return g.check_tree(result, None)


def _build(node: sympy.Basic, g: _Guard, depth: int) -> sympy.Expr:
    limits = g.limits
    if depth > limits.max_depth:
        raise ParseError(f"expression tree deeper than max_depth={limits.max_depth}")
    if not isinstance(node, sympy.Basic):
        node = _as_expr(node)
    if node in _BAD_NUMBERS:
        raise ParseError(f"{_BAD_NUMBERS[node]} is not allowed")
    if isinstance(node, (sympy.Rational, sympy.Float)):
        g.check_atom(node, None)
        return node
    if node in _CONSTANT_NAMES:
        return node
    if type(node) in (sympy.Symbol, sympy.Dummy):
        return node

    def sub(child: sympy.Basic) -> sympy.Expr:
        return _build(child, g, depth + 1)

    if isinstance(node, sympy.Add):
        return g.add([sub(a) for a in node.args], None)
    if isinstance(node, sympy.Mul):
        return g.mul([sub(a) for a in node.args], None)
    if isinstance(node, sympy.Pow):
        return g.pow(sub(node.args[0]), sub(node.args[1]), None)
    if type(node) in _FUNC_CLASSES:
        if len(node.args) != 1:
            raise ParseError(
                f"{_FUNC_CLASSES[type(node)]} takes one argument, got {len(node.args)}")
        return g.func(_FUNC_CLASSES[type(node)], sub(node.args[0]), None)
    if isinstance(node, (sympy.Order, _UnevaluatedOrder)):
        if not node.args:
            raise ParseError("O-term without an argument")
        specs: list[Any] = []
        for spec in node.args[1:]:
            if isinstance(spec, sympy.Tuple):
                if len(spec) != 2 or type(spec[0]) not in (sympy.Symbol, sympy.Dummy):
                    raise ParseError(f"O-term point must be a (symbol, point) pair, got {spec}")
                specs.append((spec[0], sub(spec[1])))
            elif type(spec) in (sympy.Symbol, sympy.Dummy):
                specs.append(spec)
            else:
                raise ParseError(f"O-term point must be a symbol or (symbol, point), got {spec}")
        return g.order(sub(node.args[0]), specs, None)
    raise ParseError(f"node type {type(node).__name__} is not allowed; allowed: {_ALLOWED_NODES}")


# ----------------------------------------------------------------------------------------
# User strings
# ----------------------------------------------------------------------------------------

class _Inert:
    """What the code generated by ``parse_expr`` builds: nothing is evaluated, not even the
    unary minus that ``evaluate=False`` leaves to Python (``-exp(...)`` would otherwise run
    ``Mul.flatten`` on an unvetted tree)."""

    __slots__ = ("head", "args")

    def __init__(self, head: str, args: tuple[Any, ...]):
        self.head = head
        self.args = args

    def __neg__(self) -> "_Inert":
        return _Inert("Mul", (-1, self))

    def __pos__(self) -> "_Inert":
        return self


def _inert_maker(head: str, arity: int | None) -> Callable[..., _Inert]:
    def make(*args: Any, evaluate: bool = True) -> _Inert:  # parse_expr passes evaluate=False
        if arity is not None and len(args) != arity:
            raise ParseError(f"{head} takes {arity} argument(s), got {len(args)}")
        return _Inert(head, args)
    make.__name__ = head
    return make


def _user_namespace() -> dict[str, Any]:
    """The only names the generated code can reach; a fresh dict each call because ``eval``
    writes into it, and an empty ``__builtins__`` so that it cannot reach Python's."""
    ns: dict[str, Any] = {
        "__builtins__": {},
        "Integer": sympy.Integer,
        "Float": sympy.Float,
        "Rational": sympy.Rational,
        "Symbol": _strict_symbol,
        "Add": _inert_maker("Add", None),
        "Mul": _inert_maker("Mul", None),
        "Pow": _inert_maker("Pow", 2),
    }
    for name in UNARY_FUNCTIONS:
        ns[name] = _inert_maker(name, 1)
    for name in _ORDER_NAMES:
        ns[name] = _inert_maker("Order", None)
    ns.update(CONSTANTS)
    return ns


def _strict_symbol(name: Any, **_: Any) -> sympy.Symbol:
    if not isinstance(name, str) or not _IDENT_RE.fullmatch(name) or name in _BLOCKED_NAMES:
        raise ParseError(f"name {name!r} is not allowed")
    return sympy.Symbol(name)


def _inert_to_sympy(obj: Any, depth: int, limits: Limits) -> sympy.Basic:
    """Turn the inert tree into an *unevaluated* SymPy tree for :func:`safe_build`."""
    if depth > limits.max_depth:
        raise ParseError(f"expression tree deeper than max_depth={limits.max_depth}")
    if isinstance(obj, bool):
        raise ParseError("booleans are not allowed")
    if isinstance(obj, int):
        return sympy.Integer(obj)
    if isinstance(obj, tuple):
        return sympy.Tuple(*[_inert_to_sympy(a, depth + 1, limits) for a in obj])
    if isinstance(obj, sympy.Basic):
        return obj
    if not isinstance(obj, _Inert):
        raise ParseError(f"unexpected object of type {type(obj).__name__} in the expression")
    args = [_inert_to_sympy(a, depth + 1, limits) for a in obj.args]
    head = obj.head
    # Only O(...) may hold a (symbol, point) tuple, and only after its first argument.
    for k, a in enumerate(args):
        if not isinstance(a, sympy.Expr) and not (
                head == "Order" and k > 0 and isinstance(a, sympy.Tuple)):
            raise ParseError(f"{head} argument must be an expression, got {a}")
    if head == "Add":
        return sympy.Add(*args, evaluate=False)
    if head == "Mul":
        return sympy.Mul(*args, evaluate=False)
    if head == "Pow":
        return sympy.Pow(args[0], args[1], evaluate=False)
    if head == "Order":
        if not args or not isinstance(args[0], sympy.Expr):
            raise ParseError("O(...) needs an expression as its first argument")
        return _UnevaluatedOrder(*args)
    if head == "sqrt":
        return sympy.Pow(args[0], sympy.S.Half, evaluate=False)
    builder = UNARY_FUNCTIONS[head]
    if not (isinstance(builder, type) and issubclass(builder, sympy.Function)):
        raise ParseError(f"function {head!r} has no unevaluated form")  # pragma: no cover
    if not isinstance(args[0], sympy.Expr):
        raise ParseError(f"{head} argument must be an expression, got {args[0]}")
    return builder(args[0], evaluate=False)


_NUMBER_RE = re.compile(
    r"(?P<int>[0-9]+)"
    r"|(?P<mant>[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE](?P<exp>[+-]?[0-9]+))?")
_ALLOWED_OPS = {"+", "-", "*", "/", "**", "^", "(", ")", ","}
_BINARY_OPS = {"+", "-", "*", "/", "**", "^"}


def _known_functions() -> str:
    return ", ".join([*UNARY_FUNCTIONS, "O"])


def _vet_number(text: str, pos: int, limits: Limits) -> None:
    m = _NUMBER_RE.fullmatch(text)
    if not m:
        raise ParseError(
            f"unsupported number literal {text!r} (only decimal integers and decimals)", pos)
    if m.group("int") is not None:
        digits = m.group("int")
        if len(digits) > 1 and digits[0] == "0":
            raise ParseError(f"number {text!r} has a leading zero", pos)
    else:
        digits = m.group("mant").replace(".", "")
        exp = (m.group("exp") or "0").lstrip("+-")
        # Float('1e999999') alone takes SymPy tens of seconds.
        if len(exp) > 6 or int(exp) > limits.max_result_digits:
            raise ParseError(
                f"exponent of {text!r} exceeds max_result_digits={limits.max_result_digits}", pos)
    if len(digits) > limits.max_int_digits:
        raise ParseError(
            f"number literal has {len(digits)} digits, more than "
            f"max_int_digits={limits.max_int_digits}", pos)


class _Frame:
    __slots__ = ("kind", "pos", "saved_chain")

    def __init__(self, kind: str, pos: int, saved_chain: int):
        self.kind = kind  # "group", "call", "ocall"
        self.pos = pos
        self.saved_chain = saved_chain


def _vet_user_text(text: str, symbols: Mapping[str, sympy.Symbol], limits: Limits,
                   offset: int) -> set[str]:
    """Check every Python token of ``text`` and the shape of the expression; return the
    symbol names used.  Positions are reported as ``offset`` + column."""
    toks: list[tuple[int, str, int]] = []
    token_error: tuple[str, int] | None = None
    try:
        for t in tokenize.generate_tokens(io.StringIO(text).readline):
            if t.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
                continue
            if t.type == tokenize.ERRORTOKEN and t.string.isspace():
                continue  # Python 3.11 reports the space before a bad character as an error
            toks.append((t.type, t.string, t.start[1] + offset))
    except (tokenize.TokenError, SyntaxError) as e:  # IndentationError is a SyntaxError
        token_error = (str(e.args[0]) if e.args else "cannot tokenize", len(text) + offset)

    names: set[str] = set()
    end = len(text) + offset
    stack: list[_Frame] = []
    expect_operand = True
    chain = 0  # unary signs and ** in a row at this level: each nests one level deeper
    saved = 0  # sum of the chains of the enclosing levels
    pending_call: str | None = None
    prev: str | None = None  # kind of the previous token

    def depth_check(pos: int) -> None:
        if len(stack) + saved + chain > limits.max_depth:
            raise ParseError(f"nesting deeper than max_depth={limits.max_depth}", pos)

    for k, (typ, s, pos) in enumerate(toks):
        nxt = toks[k + 1][1] if k + 1 < len(toks) and toks[k + 1][0] == tokenize.OP else None
        # -- what kind of token is this? ---------------------------------------------
        if typ == tokenize.NAME:
            if unicodedata.normalize("NFKC", s) != s:
                raise ParseError(f"identifier {s!r} is not in NFKC normal form", pos)
            if s.startswith("__"):
                raise ParseError(f"dunder name {s!r} is not allowed", pos)
            if keyword.iskeyword(s):
                raise ParseError(f"keyword {s!r} is not allowed", pos)
            if s in UNARY_FUNCTIONS or s in _ORDER_NAMES:
                if nxt != "(":
                    raise ParseError(f"function {s!r} must be followed by '('", pos)
                kind = "order" if s in _ORDER_NAMES else "func"
            elif s in CONSTANTS:
                if nxt == "(":
                    raise ParseError(
                        f"constant {s!r} cannot be called; write '{s}*(...)' for a product", pos)
                kind = "atom"
            else:
                if nxt == "(":
                    raise ParseError(
                        f"unknown function {s!r}; known: {_known_functions()}"
                        f" (for a product write '{s}*(...)')", pos)
                if s in _INTERNAL_NAMES or (s in _BLOCKED_NAMES and s not in symbols):
                    raise ParseError(f"name {s!r} is not allowed", pos)
                kind = "atom"
                names.add(s)
        elif typ == tokenize.NUMBER:
            _vet_number(s, pos, limits)
            kind = "number"
        elif typ == tokenize.OP:
            if s == ".":
                raise ParseError("attribute access ('.') is not allowed", pos)
            if s not in _ALLOWED_OPS:
                raise ParseError(f"operator {s!r} is not allowed", pos)
            kind = s
        elif typ == tokenize.STRING or (typ == tokenize.ERRORTOKEN and s.strip() in ("'", '"')):
            raise ParseError("string literals are not allowed", pos)
        elif typ == tokenize.COMMENT:
            raise ParseError("comments ('#') are not allowed", pos)
        elif typ == tokenize.ERRORTOKEN:
            raise ParseError(f"unexpected character {s.strip() or s!r}", pos)
        else:
            raise ParseError(f"unexpected {tokenize.tok_name.get(typ, 'token')} {s!r}", pos)

        # -- does it fit the grammar? --------------------------------------------------
        if kind in ("atom", "number", "func", "order", "("):
            if not expect_operand:  # juxtaposition: implicit multiplication
                if kind == "number" and prev == "number":
                    raise ParseError("two numbers in a row; missing operator", pos)
                if kind == "(" and prev in ("func", "order"):  # pragma: no cover - guarded above
                    pass
                chain = 0
                expect_operand = True
            if kind in ("atom", "number"):
                expect_operand = False
            elif kind in ("func", "order"):
                pending_call = kind
            else:
                frame_kind = {"func": "call", "order": "ocall"}.get(pending_call or "", "group")
                pending_call = None
                stack.append(_Frame(frame_kind, pos, chain))
                saved += chain
                chain = 0
                depth_check(pos)
        elif kind in ("+", "-"):
            if expect_operand:
                chain += 1
                depth_check(pos)
            else:
                expect_operand = True
                chain = 0
        elif kind in ("*", "/", "**", "^"):
            if expect_operand:
                raise ParseError(f"missing operand before {s!r}", pos)
            expect_operand = True
            if kind in ("**", "^"):
                chain += 1
                depth_check(pos)
            else:
                chain = 0
        elif kind == ")":
            if not stack:
                raise ParseError("unmatched ')'", pos)
            if expect_operand:
                raise ParseError(
                    "empty parentheses" if prev == "(" else "missing operand before ')'", pos)
            frame = stack.pop()
            chain = frame.saved_chain
            saved -= frame.saved_chain
            expect_operand = False
        elif kind == ",":
            if expect_operand:
                raise ParseError("missing operand before ','", pos)
            top = stack[-1] if stack else None
            parent = stack[-2] if len(stack) > 1 else None
            in_o = top is not None and (
                top.kind == "ocall" or (top.kind == "group" and parent is not None
                                        and parent.kind == "ocall"))
            if not in_o:
                raise ParseError(
                    "',' is only allowed inside O(...), e.g. O((x - 1)**3, (x, 1))", pos)
            expect_operand = True
            chain = 0
        prev = kind

    if token_error is not None and not stack:
        raise ParseError(f"cannot read the text: {token_error[0]}", token_error[1])
    if stack:
        raise ParseError(f"unclosed '(' opened at position {stack[-1].pos}", end)
    if expect_operand:
        raise ParseError("expression ends where an operand is expected", end)
    return names


_USER_TRANSFORMATIONS = standard_transformations + (implicit_multiplication, convert_xor)
_WHITESPACE = str.maketrans({c: " " for c in "\t\n\r\f\v"})


def parse_user_string(text: str, symbols: Mapping[str, sympy.Symbol] | None = None, *,
                      limits: Limits = DEFAULT_LIMITS) -> sympy.Expr:
    """Parse a series or expression typed by a user, e.g. ``"1 - x**2/2 + O(x**4)"``.

    Accepted: ``+ - * / ** ^`` (``^`` is power), parentheses, implicit multiplication
    (``"3 x**2"``, ``"2(x+1)"``), decimal integers and decimals (decimals become ``Float``),
    the functions of ``UNARY_FUNCTIONS`` (always with parentheses), ``pi``, ``E``,
    ``O(expr)`` / ``O(expr, x)`` / ``O(expr, (x, point))`` (``Order`` also works), and any
    other plain identifier as a symbol (taken from ``symbols`` when it is a key there,
    otherwise a new ``Symbol``).  Refused, with the character position: dunders, attribute
    access, strings, comments, keywords, ``; = [ ] { }`` and every other operator,
    commas outside ``O(...)``, calls of unknown functions, Python builtin names and SymPy
    names that mean something else (``oo``, ``zoo``, ``nan``, ``I``, ``S``, ``Integral``...;
    a key of ``symbols`` is accepted even then, except the constructor names of the
    generated code such as ``Mul``),
    hex/binary/complex/underscored numbers, more than ``max_chars`` characters.
    Errors found while evaluating (exponent caps, ``1/0``) have ``position=None``.

    >>> parse_user_string("2*x + 3 x**2")
    3*x**2 + 2*x
    >>> parse_user_string("O((x - 1)**5, (x, 1))")
    O((x - 1)**5, (x, 1))
    """
    if not isinstance(text, str):
        raise ParseError(f"expected a string, got {type(text).__name__}", 0)
    if len(text) > limits.max_chars:
        raise ParseError(f"text has {len(text)} characters, more than "
                         f"max_chars={limits.max_chars}", limits.max_chars)
    table = dict(symbols) if symbols is not None else {}
    for name, sym in table.items():
        if not isinstance(sym, sympy.Symbol):
            raise ParseError(f"symbols[{name!r}] must be a sympy.Symbol, got {type(sym).__name__}")
    if "\x00" in text:
        raise ParseError("NUL character is not allowed", text.index("\x00"))
    flat = text.translate(_WHITESPACE)  # one line, same character positions
    stripped = flat.lstrip()
    offset = len(flat) - len(stripped)
    stripped = stripped.rstrip()
    if not stripped:
        raise ParseError("empty expression", 0)
    names = _vet_user_text(stripped, table, limits, offset)

    local_dict: dict[str, Any] = {name: table.get(name) or sympy.Symbol(name) for name in names}
    try:
        tree = parse_expr(stripped, local_dict=local_dict, global_dict=_user_namespace(),
                          transformations=_USER_TRANSFORMATIONS, evaluate=False)
    except ParseError:
        raise
    except SyntaxError as e:  # the vetting above should have caught it, with a position
        raise ParseError(f"syntax error: {e.msg}", None) from e
    except RecursionError as e:
        raise ParseError("expression is too long or too deeply nested to read", None) from e
    except Exception as e:
        raise ParseError(f"cannot read the expression ({type(e).__name__}: {e})", None) from e
    return safe_build(_inert_to_sympy(tree, 0, limits), limits=limits)

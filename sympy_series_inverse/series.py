"""Input normalisation: everything a user may hand over becomes one :class:`SeriesData`.

Accepted (``normalize`` below):

- an expression with an O-term: ``1 - x**2/2 + O(x**4)``, ``O((x - 1)**5, (x, 1))``
  (``x0`` and ``n`` are read from the O-term);
- a polynomial without O-term: exact through its degree unless ``n`` says more;
- any other expression: expanded to order ``n`` (default 6) by the exact engine;
- a list or tuple of coefficients ``[c0, c1, ...]`` about ``x0``;
- a string, parsed by the safe parser;
- a :class:`SeriesData`.

The variable is inferred as ``Expr.series`` infers it: the only free symbol, ``x`` when
there is none, an error when there are several.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Rational as _PyRational

import sympy

from . import engine, parser
from .errors import InputError, SeriesInverseError, UnsupportedSeriesError

__all__ = ["SeriesData", "normalize", "DEFAULT_ORDER", "MAX_ORDER"]

#: order used when the input carries none
DEFAULT_ORDER = 6
#: largest accepted order n
MAX_ORDER = 200
#: largest numerator or denominator of a coefficient, in digits
MAX_COEFFICIENT_DIGITS = 2000


@dataclass(frozen=True)
class SeriesData:
    """A truncated power series ``sum(c_k (x - x0)**k, k < n) + O((x - x0)**n)``.

    ``coeffs`` holds exactly ``n`` exact SymPy numbers (Rationals, or exact constants such
    as ``sin(1)`` about points other than 0).
    """

    x: sympy.Symbol
    x0: sympy.Expr
    n: int
    coeffs: tuple[sympy.Expr, ...]

    def __post_init__(self):
        if len(self.coeffs) != self.n:
            raise InputError(f"SeriesData needs n={self.n} coefficients, got {len(self.coeffs)}")

    @property
    def is_rational(self) -> bool:
        """Whether every coefficient is a Rational (the fast exact tiers apply)."""
        return all(c.is_Rational for c in self.coeffs)

    @property
    def is_zero(self) -> bool:
        return all(c == 0 for c in self.coeffs)

    def truncate(self, n: int) -> "SeriesData":
        """The same series known only to order ``n`` (``n <= self.n``)."""
        if not 0 < n <= self.n:
            raise InputError(f"cannot truncate a series of order {self.n} to order {n}")
        return SeriesData(self.x, self.x0, n, self.coeffs[:n])

    def polynomial(self) -> sympy.Expr:
        """The Taylor polynomial, without O-term."""
        return sympy.Add(*(c * (self.x - self.x0) ** k for k, c in enumerate(self.coeffs)))

    def as_expr(self) -> sympy.Expr:
        """The series as SymPy prints it, with its O-term."""
        return self.polynomial() + sympy.Order((self.x - self.x0) ** self.n, (self.x, self.x0))

    def __str__(self) -> str:
        if self.x0 == 0:
            return str(self.as_expr())
        # SymPy would distribute 2*(x - 1) into 2*x - 2: print in a stand-in symbol named
        # "(x - x0)" so the powers stay as given, in SymPy's own series layout.
        base = sympy.Symbol(f"({sympy.sstr(self.x - self.x0)})")
        body = sympy.Add(*(c * base**k for k, c in enumerate(self.coeffs))) + sympy.Order(base**self.n)
        text = sympy.sstr(body)
        return text[: text.rindex("O(")] + f"O({base}**{self.n}, ({self.x}, {sympy.sstr(self.x0)}))"


def normalize(obj, x=None, x0=None, n=None, *, deadline: float | None = None) -> SeriesData:
    """Read ``obj`` as a truncated power series; see the module docstring for what is accepted.

    Parameters:
        obj: the series (expression, string, coefficient list or SeriesData).
        x: the variable; inferred when ``None``.
        x0: the expansion point; read from the O-term or ``0`` when ``None``.
        n: the order (number of known coefficients); read from the input when ``None``.
        deadline: a ``time.monotonic()`` value the expansion of a non-polynomial input may
            not pass (:class:`~sympy_series_inverse.errors.BudgetExceededError`).

    Raises:
        InputError: input that cannot be read as a series; the message says what to do.
        UnsupportedSeriesError: Laurent or Puiseux series, complex coefficients.
    """
    n = _check_order(n)
    x = _check_symbol(x)
    x0 = None if x0 is None else _check_point(x0, "x0")
    if isinstance(obj, SeriesData):
        return _from_series_data(obj, x, x0, n)
    if isinstance(obj, (list, tuple)):
        return _from_coefficients(obj, x, x0, n)
    if isinstance(obj, str):
        if not obj.strip():
            raise InputError("empty string; pass a series such as '1 - x**2/2 + O(x**4)'")
        obj = parser.parse_user_string(obj, None if x is None else {x.name: x})
    if isinstance(obj, sympy.Poly):
        obj = obj.as_expr()
    if isinstance(obj, (bool,)) or not isinstance(obj, (sympy.Basic, int, float, Fraction)):
        raise InputError(
            f"cannot read a {type(obj).__name__} as a series; pass a SymPy expression, "
            "a string, or a list of coefficients"
        )
    expr = sympy.sympify(obj) if not isinstance(obj, sympy.Basic) else obj
    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.MatrixBase):
        raise InputError(f"cannot read a {type(expr).__name__} as a series; pass a scalar expression")
    return _from_expr(expr, x, x0, n, deadline)


# -- argument checks -------------------------------------------------------------------


def _check_order(n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (Integral, sympy.Integer)):
        raise InputError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    if n <= 0:
        raise InputError(f"n must be a positive integer (the order of the O-term), got {n}")
    if n > MAX_ORDER:
        raise InputError(f"n={n} exceeds the supported maximum order {MAX_ORDER}")
    return n


def _check_symbol(x):
    if x is None:
        return None
    if isinstance(x, str):
        x = sympy.Symbol(x)
    if not isinstance(x, sympy.Symbol):
        raise InputError(f"x must be a SymPy Symbol, got {x!r}")
    return x


def _check_point(value, what: str) -> sympy.Expr:
    try:
        if isinstance(value, str):
            point = parser.parse_user_string(value)
        elif isinstance(value, float):
            point = sympy.Rational(repr(value))  # the decimal the user wrote
        else:
            point = sympy.sympify(value, strict=True) if not isinstance(value, sympy.Basic) else value
    except (sympy.SympifyError, TypeError, ValueError) as e:
        raise InputError(f"{what} must be a number, got {value!r}") from e
    if not isinstance(point, sympy.Expr) or point.free_symbols:
        raise InputError(f"{what} must be a number without symbols, got {value!r}")
    if point.has(sympy.nan, sympy.zoo) or point.is_infinite:
        raise UnsupportedSeriesError(f"{what}={point}: only finite expansion points are supported")
    if point.is_real is False:
        raise UnsupportedSeriesError(f"{what}={point}: only real expansion points are supported")
    if point.is_Float:
        point = sympy.Rational(str(point))
    return point


def _check_coefficient(c, x: sympy.Symbol | None) -> sympy.Expr:
    if isinstance(c, bool):
        raise InputError(f"coefficient {c!r} is a bool, not a number")
    if isinstance(c, float):
        if not math.isfinite(c):
            raise InputError(f"coefficient {c!r} is not finite; remove NaN and infinity")
        c = sympy.Rational(repr(c))  # the decimal the user wrote, not its binary expansion
    elif isinstance(c, (Integral, _PyRational)):
        c = sympy.Rational(c.numerator, c.denominator)
    elif isinstance(c, str):
        c = parser.parse_user_string(c)
    elif not isinstance(c, sympy.Basic):
        raise InputError(f"coefficient {c!r} of type {type(c).__name__} is not a number")
    if not isinstance(c, sympy.Expr):
        raise InputError(f"coefficient {c!r} is not a scalar expression")
    if c.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        raise InputError(f"coefficient {c} is not finite; remove NaN and infinity")
    if x is not None and c.has(x):
        raise InputError(f"coefficient {c} contains the series variable {x}; coefficients must be constants")
    if c.has(sympy.Order):
        raise InputError(f"coefficient {c} contains an O-term")
    if c.is_Float:
        c = sympy.Rational(str(c))
    if c.is_Rational and max(len(str(abs(c.p))), len(str(c.q))) > MAX_COEFFICIENT_DIGITS:
        raise InputError(f"a coefficient has more than {MAX_COEFFICIENT_DIGITS} digits")
    if c.is_real is False or c.has(sympy.I):
        raise UnsupportedSeriesError(f"complex coefficient {c}: only real series are supported")
    return c


# -- the input kinds -------------------------------------------------------------------


def _finish(x, x0, coeffs, n) -> SeriesData:
    coeffs = [_check_coefficient(c, x) for c in coeffs]
    if n is not None:
        if n > len(coeffs):
            raise InputError(
                f"n={n} asks for more terms than the input gives ({len(coeffs)}); "
                f"pass n <= {len(coeffs)} or a longer series"
            )
        coeffs = coeffs[:n]
    if not coeffs:
        raise InputError("empty series; pass at least one coefficient")
    return SeriesData(x, x0, len(coeffs), tuple(coeffs))


def _from_series_data(data: SeriesData, x, x0, n) -> SeriesData:
    if x0 is not None and sympy.simplify(x0 - data.x0) != 0:
        raise InputError(f"x0={x0} conflicts with the series' expansion point {data.x0}")
    if x is not None and x != data.x:
        data = SeriesData(x, data.x0, data.n, data.coeffs)
    return _finish(data.x, data.x0, data.coeffs, n)


def _from_coefficients(values, x, x0, n) -> SeriesData:
    if len(values) == 0:
        raise InputError("empty coefficient list; pass [c0, c1, ...]")
    if len(values) > MAX_ORDER:
        raise InputError(f"{len(values)} coefficients exceed the supported maximum order {MAX_ORDER}")
    return _finish(x or sympy.Symbol("x"), x0 if x0 is not None else sympy.S.Zero, values, n)


def _infer_symbol(expr: sympy.Expr, x) -> sympy.Symbol:
    if x is not None:
        return x
    symbols = expr.free_symbols
    if len(symbols) > 1:
        names = ", ".join(sorted(s.name for s in symbols))
        raise InputError(f"several symbols ({names}); pass x= to say which is the series variable")
    return symbols.pop() if symbols else sympy.Symbol("x")


def _from_expr(expr: sympy.Expr, x, x0, n, deadline=None) -> SeriesData:
    if expr.has(sympy.nan, sympy.zoo) or expr.has(sympy.oo) or expr.has(-sympy.oo):
        raise InputError(f"{expr} is not finite; remove NaN and infinity")
    order = expr.getO() if expr.is_Add or expr.is_Order else None
    x = _infer_symbol(expr, x)
    if order is not None:
        return _from_order_expr(expr, order, x, x0, n, deadline)
    x0 = x0 if x0 is not None else sympy.S.Zero
    if expr.has(sympy.Order):
        raise InputError(f"{expr}: an O-term must be added to the series, not nested inside it")
    poly = _polynomial_coefficients(expr, x, x0)
    if poly is not None:
        target = len(poly) if n is None else n
        poly = poly + [sympy.S.Zero] * (target - len(poly))
        return _finish(x, x0, poly, target)
    return _finish(x, x0, _expand(expr, x, x0, n or DEFAULT_ORDER, deadline), None)


def _from_order_expr(expr, order: sympy.Order, x, x0, n, deadline=None) -> SeriesData:
    if order.variables != (x,) and order.variables:
        raise InputError(f"the O-term {order} is in {order.variables}, not in {x}")
    point = order.point[0] if order.point else sympy.S.Zero
    if x0 is not None and sympy.simplify(point - x0) != 0:
        raise InputError(f"x0={x0} conflicts with the O-term's point {point}; drop one of them")
    t = sympy.Dummy("t")
    shifted = sympy.expand(order.expr.subs(x, point + t))
    if shifted == 1 and order.expr != 1:
        raise InputError(f"cannot read the order of {order}")
    power = sympy.Poly(shifted, t).monoms() if shifted.is_polynomial(t) else []
    if len(power) != 1:
        raise UnsupportedSeriesError(f"O-term {order}: only O((x - x0)**n) with a positive integer n is supported")
    order_n = power[0][0]
    if order_n <= 0:
        raise UnsupportedSeriesError(f"O-term {order}: Laurent series (negative orders) are not supported")
    if order_n > MAX_ORDER:
        raise InputError(f"O-term order {order_n} exceeds the supported maximum order {MAX_ORDER}")
    body = expr.removeO()
    coeffs = _polynomial_coefficients(body, x, point)
    if coeffs is None:
        coeffs = list(_expand(body, x, point, order_n, deadline))
    coeffs = (coeffs + [sympy.S.Zero] * order_n)[:order_n]
    if n is not None and n > order_n:
        raise InputError(f"n={n} conflicts with the O-term {order}: only {order_n} terms are known")
    return _finish(x, point, coeffs, n)


def _polynomial_coefficients(expr, x, x0) -> list[sympy.Expr] | None:
    """Coefficients in powers of (x - x0) when ``expr`` is a polynomial in x, else None."""
    if not expr.has(x):
        return [expr]
    if not expr.is_polynomial(x):
        return None  # the engine expands it, and knows removable singularities from poles
    t = sympy.Dummy("t")
    shifted = sympy.expand(expr.subs(x, x0 + t)) if x0 != 0 else sympy.expand(expr)
    var = t if x0 != 0 else x
    poly = sympy.Poly(shifted, var)
    if poly.degree() >= MAX_ORDER:
        raise InputError(f"polynomial of degree {poly.degree()} exceeds the supported maximum order {MAX_ORDER}")
    return list(reversed(poly.all_coeffs()))


def _expand(expr, x, x0, n, deadline=None) -> tuple[sympy.Expr, ...]:
    try:
        return engine.taylor_coefficients(expr, x, x0, n, deadline=deadline)
    except SeriesInverseError:
        raise
    except (ValueError, TypeError, ArithmeticError) as e:
        raise InputError(f"cannot expand {expr} about {x} = {x0}: {e}") from e

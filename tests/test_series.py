"""Input normalisation: what is accepted, and the typed error for what is not."""

from fractions import Fraction

import pytest
import sympy
from sympy import E, O, Rational, cos, exp, pi, sin, symbols

from sympy_series_inverse import (
    InputError,
    ParseError,
    SeriesData,
    SeriesInverseError,
    UnsupportedSeriesError,
    normalize,
)

x, y, t, a = symbols("x y t a")
R = Rational

GOOD = [
    # (input, kwargs, expected x, x0, coefficients)
    (1 - x**2 / 2 + x**4 / 24 + O(x**6), {}, x, 0, [1, 0, R(-1, 2), 0, R(1, 24), 0]),
    (cos(x).series(x, 0, 7), {}, x, 0, [1, 0, R(-1, 2), 0, R(1, 24), 0, R(-1, 720)]),
    ("1 - x**2/2 + x**4/24 + O(x**6)", {}, x, 0, [1, 0, R(-1, 2), 0, R(1, 24), 0]),
    ("x - x^3/6 + O(x^5)", {}, x, 0, [0, 1, 0, R(-1, 6), 0]),
    (1 + (x - 1) + O((x - 1) ** 3, (x, 1)), {}, x, 1, [1, 1, 0]),
    ("2 + 3*(x - 1) + O((x - 1)**4, (x, 1))", {}, x, 1, [2, 3, 0, 0]),
    (x**2 + 1, {}, x, 0, [1, 0, 1]),
    (x**2 + 1, {"n": 5}, x, 0, [1, 0, 1, 0, 0]),
    (x**2 + 1, {"n": 2}, x, 0, [1, 0]),
    (x**2, {"x0": 1}, x, 1, [1, 2, 1]),
    (sin(x), {}, x, 0, [0, 1, 0, R(-1, 6), 0, R(1, 120)]),
    (exp(t), {"n": 3}, t, 0, [1, 1, R(1, 2)]),
    (sin(x) / x, {"n": 3}, x, 0, [1, 0, R(-1, 6)]),
    ([1, 0, R(-1, 2)], {}, x, 0, [1, 0, R(-1, 2)]),
    ([1, Fraction(1, 2), 0.25, "1/3"], {}, x, 0, [1, R(1, 2), R(1, 4), R(1, 3)]),
    ((1, 2, 3), {"x": t, "x0": 2}, t, 2, [1, 2, 3]),
    (a * x + O(x**2), {"x": x}, x, 0, [0, a]),
    (sympy.Integer(5), {}, x, 0, [5]),
    (5, {"n": 3}, x, 0, [5, 0, 0]),
    (exp(y) + O(y**3), {}, y, 0, [1, 1, R(1, 2)]),
    (sin(x) + O(x**4), {}, x, 0, [0, 1, 0, R(-1, 6)]),
    (O(x**3), {}, x, 0, [0, 0, 0]),
    (sympy.Poly(x**2 + 2, x), {}, x, 0, [2, 0, 1]),
]


@pytest.mark.parametrize("obj, kwargs, ex, ex0, coeffs", GOOD)
def test_normalize_accepts(obj, kwargs, ex, ex0, coeffs):
    s = normalize(obj, **kwargs)
    assert isinstance(s, SeriesData)
    assert s.x == ex and s.x0 == ex0
    assert list(s.coeffs) == [sympy.sympify(c) for c in coeffs]
    assert s.n == len(coeffs)
    assert all(isinstance(c, sympy.Expr) for c in s.coeffs)


def test_exp_about_one_has_exact_symbolic_coefficients():
    s = normalize(exp(x), x0=1, n=3)
    assert s.x0 == 1
    assert [sympy.simplify(c - e) for c, e in zip(s.coeffs, [E, E, E / 2])] == [0, 0, 0]
    assert not s.is_rational


def test_series_data_round_trip():
    s = normalize(1 - x**2 / 2 + O(x**4))
    assert normalize(s.as_expr()) == s
    assert normalize(s) == s
    assert s.truncate(2).coeffs == (1, 0)
    assert str(s) == str(1 - x**2 / 2 + O(x**4))


BAD = [
    # (input, kwargs, error type, message fragment)
    (x + y, {}, InputError, "several symbols"),
    ("x*y + O(x**3)", {}, InputError, "several symbols"),
    (1 / x + O(x**3), {}, UnsupportedSeriesError, "Laurent"),
    (1 / x, {}, UnsupportedSeriesError, "Laurent"),
    (sympy.sqrt(x) + O(x**2), {}, UnsupportedSeriesError, "Puiseux"),
    (x ** R(1, 3), {}, UnsupportedSeriesError, "Puiseux"),
    (sympy.Order(x ** -2), {}, UnsupportedSeriesError, ""),
    (cos(x), {"n": 0}, InputError, "positive integer"),
    (cos(x), {"n": -3}, InputError, "positive integer"),
    (cos(x), {"n": 10**6}, InputError, "maximum order"),
    (cos(x), {"n": 2.5}, InputError, "positive integer"),
    ([1, x, 2], {}, InputError, "contains the series variable"),
    ([1, float("nan")], {}, InputError, "not finite"),
    ([1, float("inf")], {}, InputError, "not finite"),
    ([1, sympy.oo], {}, InputError, "not finite"),
    (sympy.nan, {}, InputError, "not finite"),
    (x + sympy.zoo, {}, InputError, "not finite"),
    ([], {}, InputError, "empty"),
    ("", {}, InputError, "empty"),
    ("   ", {}, InputError, "empty"),
    (1 - x**2 / 2 + O(x**4), {"n": 6}, InputError, "conflicts"),
    (1 - x**2 / 2 + O(x**4), {"x0": 1}, InputError, "conflicts"),
    ([1, 2], {"n": 3}, InputError, "more terms"),
    ({"a": 1}, {}, InputError, "cannot read a dict"),
    (None, {}, InputError, "cannot read a NoneType"),
    (sympy.Matrix([[1, x]]), {}, InputError, ""),
    ([1, sympy.I], {}, UnsupportedSeriesError, "complex"),
    (cos(x), {"x0": sympy.oo}, UnsupportedSeriesError, "finite"),
    (cos(x), {"x0": y}, InputError, "without symbols"),
    (cos(x), {"x": 3}, InputError, "Symbol"),
    ([True, 1], {}, InputError, "bool"),
    ("x +* 2", {}, ParseError, ""),
    ("7**(10**7)", {}, ParseError, ""),
    (sympy.log(x), {}, UnsupportedSeriesError, ""),
    ([10 ** 2500], {}, InputError, "digits"),
]


@pytest.mark.parametrize("obj, kwargs, error, fragment", BAD)
def test_normalize_rejects(obj, kwargs, error, fragment):
    with pytest.raises(error) as info:
        normalize(obj, **kwargs)
    assert isinstance(info.value, SeriesInverseError)
    assert fragment in str(info.value)


def test_bad_input_table_is_large_enough():
    assert len(BAD) >= 20

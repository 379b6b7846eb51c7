"""Hostile and malformed input through series_inverse: a typed error or a correct empty
result, never a hang, a crash deep in SymPy, or a wrong answer marked verified."""

import threading
import time
from fractions import Fraction

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import E, I, O, Rational, cos, exp, log, pi, sin, sqrt, symbols

from sympy_series_inverse import (
    BudgetExceededError,
    InputError,
    NotAnalyticError,
    ParseError,
    SeriesInverseError,
    UnsupportedSeriesError,
    series_inverse,
)
from sympy_series_inverse.engine import taylor_coefficients

x, y, z = symbols("x y z")
f = sympy.Function("f")

# (input, kwargs, expected): an error type, or a list the call must return.
CATALOGUE = [
    # malformed strings
    ("x +* 2", {}, ParseError),
    ("(x + 1", {}, ParseError),
    ("x + O(", {}, ParseError),
    ("sin(x", {}, ParseError),
    ("", {}, InputError),
    ("\x00x", {}, ParseError),
    ("x" * 5000, {}, ParseError),
    ("__import__('os').system('true')", {}, ParseError),
    ("x.__class__", {}, ParseError),
    ("lambda: 1", {}, ParseError),
    ("open('/etc/passwd')", {}, ParseError),
    ("foo(x) + O(x**3)", {}, ParseError),
    ("1 + x; import os", {}, ParseError),
    ("[x, x]", {}, ParseError),
    # other symbols
    (x + y, {}, InputError),
    ("x*y + z", {}, InputError),
    (x + y + O(x**3), {}, InputError),
    # Laurent and Puiseux, non-analytic points
    (1 / x + O(x**3), {}, UnsupportedSeriesError),
    ("1/x**2 + 1", {}, UnsupportedSeriesError),
    (sqrt(x), {}, UnsupportedSeriesError),
    (x ** Rational(1, 3) + O(x**2), {}, UnsupportedSeriesError),
    (log(x), {}, UnsupportedSeriesError),
    (sympy.cot(x), {}, NotAnalyticError),
    (1 / (x - 1), {"x0": 1}, UnsupportedSeriesError),
    # sizes
    ([Rational(10**2500)], {}, InputError),
    ([Rational(1, 10**2500)], {}, InputError),
    ("7**(10**7)", {}, ParseError),
    ("x**(10**9)", {}, ParseError),
    ("exp(exp(exp(exp(9))))", {}, ParseError),
    ("(" * 500 + "x" + ")" * 500, {}, ParseError),
    ("+".join(["x"] * 3000), {}, ParseError),
    (cos(x), {"n": 10**9}, InputError),
    (cos(x), {"n": 0}, InputError),
    (exp(exp(exp(x))), {"n": 200, "timeout": 2}, BudgetExceededError),
    (sympy.gamma(1 + x), {"n": 20}, BudgetExceededError),
    (sympy.erf(x) * exp(x) ** 3, {"n": 40}, BudgetExceededError),
    # floats, NaN and infinity
    ([1.0, float("nan")], {}, InputError),
    ([float("inf")], {}, InputError),
    (sympy.nan + x, {}, InputError),
    (sympy.zoo * x + 1, {}, InputError),
    ("oo + x", {}, ParseError),
    # O-terms at other points than x0
    (1 + x + O(x**3), {"x0": 1}, InputError),
    (O((x - 1) ** 3, (x, 1)), {"x0": 2}, InputError),
    (1 + x + O(x**4), {"n": 6}, InputError),
    # complex coefficients
    ([1, I], {}, UnsupportedSeriesError),
    (I * x + O(x**3), {}, UnsupportedSeriesError),
    ("sqrt(-1)*x", {}, ParseError),
    # non-scalar SymPy objects and non-SymPy objects
    (sympy.Matrix([[x]]), {}, InputError),
    (sympy.Eq(x, 1), {}, InputError),
    (sympy.Interval(0, 1), {}, InputError),
    (sympy.FiniteSet(1, 2), {}, InputError),
    (object(), {}, InputError),
    ({"x": 1}, {}, InputError),
    (None, {}, InputError),
    (b"x + 1", {}, InputError),
    (3 + 4j, {}, InputError),
    (f(x), {}, SeriesInverseError),
    (sympy.Integral(x, x), {}, UnsupportedSeriesError),
    # empty or all-zero series: valid input, and whatever is returned must verify
    ([], {}, InputError),
    ([0, 0, 0], {}, "verified-only"),
    (O(x**4), {}, "verified-only"),
    (sympy.S.Zero, {"n": 3}, "verified-only"),
    # nothing in the grammar fits: an empty list, not a guess
    ([1, 1, 2, 6, 24, 120, 720, 5040], {}, []),  # sum of n! x**n: no analytic function
    (sympy.atan(x), {"n": 8, "grammar": "paper"}, []),
    (sympy.besselj(0, x), {"n": 6}, []),
    # bad keyword arguments
    (cos(x), {"beam_size": -1}, InputError),
    (cos(x), {"holdout": -1}, InputError),
    (cos(x), {"model": "nope"}, SeriesInverseError),
    (cos(x), {"grammar": "nope"}, SeriesInverseError),
    (cos(x), {"timeout": float("nan")}, InputError),
    (cos(x), {"x0": "abc"}, SeriesInverseError),
    (cos(x), {"x": x**2}, InputError),
    (cos(x), {"policy": "random"}, InputError),
]


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 40


@pytest.mark.parametrize("obj, kwargs, expected", CATALOGUE, ids=[str(i) for i in range(len(CATALOGUE))])
def test_hostile_input(obj, kwargs, expected):
    started = time.monotonic()
    if isinstance(expected, type):
        with pytest.raises(expected) as info:
            series_inverse(obj, **kwargs)
        assert isinstance(info.value, SeriesInverseError)
        assert str(info.value)  # a message that says something
    else:
        found = series_inverse(obj, **kwargs, details=True)
        assert all(c.verified for c in found)
        if expected != "verified-only":
            assert [c.expr for c in found] == expected
    assert time.monotonic() - started < 30  # a generous hang detector, not a speed test


def test_verified_candidates_really_reproduce_the_input():
    for series in [x**3 + O(x**5), [1, 1, 0], 1 - x**2 + O(x**4), [0, 0, 0, 0]]:
        for c in series_inverse(series, details=True):
            data = sympy_series_inverse_normalize(series)
            assert taylor_coefficients(c.expr, data.x, data.x0, data.n) == data.coeffs


def sympy_series_inverse_normalize(series):
    from sympy_series_inverse import normalize

    return normalize(series)


def test_timeout_reports_over_budget_not_verified():
    found = series_inverse(cos(x).series(x, 0, 7), timeout=1e-9, verified_only=False, details=True)
    assert all(not c.verified for c in found)
    assert {c.status for c in found} <= {"over-budget"}


def test_same_results_from_many_threads():
    queries = [cos(x).series(x, 0, 7), x**3 + O(x**5), [1, 1, Rational(1, 2)], "x - x**3/6 + O(x**5)", sin(x) * exp(x)]
    expected = [series_inverse(q, details=True) for q in queries]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(i):
        try:
            results[i] = [series_inverse(q, details=True) for q in queries]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results.values())


def test_repeated_calls_are_identical():
    a = [series_inverse(x**2 + O(x**4), details=True) for _ in range(3)]
    assert a[0] == a[1] == a[2]


_leaves = st.sampled_from([x, sympy.Integer(1), sympy.Integer(2), Rational(1, 3), sympy.Integer(-1)])
_unary = st.sampled_from([sin, cos, exp, sympy.tan, sympy.atan, sympy.sinh, lambda e: log(1 + e), lambda e: sqrt(1 + e)])


def _trees(depth):
    if depth == 0:
        return _leaves
    sub = _trees(depth - 1)
    return st.one_of(
        _leaves,
        st.builds(lambda g, a: g(a), _unary, sub),
        st.builds(lambda a, b: a + b, sub, sub),
        st.builds(lambda a, b: a * b, sub, sub),
        st.builds(lambda a, b: a / b, sub, sub),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_trees(3), n=st.integers(1, 7), holdout=st.integers(0, 2))
def test_fuzz_series_inverse(expr, n, holdout):
    try:
        found = series_inverse(expr, n=n, holdout=min(holdout, n - 1), details=True, timeout=10)
    except SeriesInverseError:
        return  # a documented error type is an acceptable outcome
    from sympy_series_inverse import normalize

    data = normalize(expr, n=n)
    for c in found:
        assert c.verified
        assert taylor_coefficients(c.expr, data.x, data.x0, data.n) == data.coeffs


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("x()+-*/^0123456789 .,Oesincoaptlgqr_")), max_size=40))
def test_fuzz_strings(text):
    try:
        series_inverse(text, timeout=5)
    except SeriesInverseError:
        pass

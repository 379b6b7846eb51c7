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

# Besides the names of __all__, the other module attributes of the former engine.py stay
# reachable here: the size caps, flint (None without python-flint), and the memo caches of
# whole expansions and of the tree walk, which tests and benchmarks clear
# (``engine._taylor.cache_clear()``).
from .control import MAX_NODES, MAX_ORDER, SYMPY_MAX_OPS, SYMPY_MAX_ORDER, TIERS  # noqa: F401
from .normal_form import canonical_constant, coefficients_equal
from .taylor import _taylor, taylor_coefficients  # noqa: F401
from .tiers import flint  # noqa: F401
from .walk import _series  # noqa: F401

__all__ = ["TIERS", "canonical_constant", "coefficients_equal", "taylor_coefficients"]

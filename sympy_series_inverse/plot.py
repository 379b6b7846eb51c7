"""Plot candidates against the input series: the paper's Figure 1, for any query.

:func:`plot_candidates` draws, on ``[x0 - width, x0 + width]``, the true function (when
known), every candidate, and the Taylor polynomial of the input (dashed), and returns the
matplotlib ``Axes``. Matplotlib is imported only when the function is called; install it
with the ``plot`` extra (``pip install "sympy_series_inverse[plot]"``).

Candidates that agree with the input to order ``n`` only separate from one another away
from ``x0``: the plot shows how far "verified" reaches. Points where a curve is not finite
(a pole of a candidate) are left as gaps, and the vertical range is set from the true
function and the Taylor polynomial, so one pole does not flatten every other curve.
"""

from __future__ import annotations

import math
from typing import Iterable

import sympy

from . import parser
from .series import SeriesData, normalize

__all__ = ["plot_candidates", "POINTS"]

POINTS = 401  # grid points per curve


def _curve(expr: sympy.Expr, x: sympy.Symbol, grid):
    """Float values of ``expr`` on ``grid`` (a numpy array); NaN where not finite."""
    import numpy as np

    f = sympy.lambdify(x, expr, modules="numpy")
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(f(grid), dtype=complex)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            values = np.array([_point(f, g) for g in grid], dtype=complex)
        values = np.broadcast_to(values, grid.shape)  # a constant comes back as a scalar
        real = values.real.astype(float)
        real[~np.isfinite(values) | (np.abs(values.imag) > 1e-9 * np.maximum(1.0, np.abs(real)))] = np.nan
    return real


def _point(f, g) -> complex:
    try:
        return complex(f(g))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return complex(math.nan)


def _expression(obj, x: sympy.Symbol) -> sympy.Expr:
    """A SymPy expression from an expression, a number, or user text (safe parser)."""
    if isinstance(obj, str):
        return parser.parse_user_string(obj, {x.name: x})
    if isinstance(obj, sympy.Basic):
        return obj
    return sympy.sympify(obj, strict=True)


def _expressions(candidates: Iterable, x: sympy.Symbol) -> list[sympy.Expr]:
    out = []
    for c in candidates:
        expr = getattr(c, "expr", c)  # a Candidate record (details=True) or an expression
        if expr is None:
            continue  # an unparsable proposal has nothing to draw
        out.append(_expression(expr, x))
    return out


def plot_candidates(series, candidates, *, true_function=None, ax=None, width: float = 1.0):
    """Draw the true function, the candidates and the Taylor polynomial around ``x0``.

    Parameters:
        series: the input series: anything :func:`~sympy_series_inverse.series.normalize`
            accepts (an expression with an O-term, a string, a coefficient list, a
            :class:`~sympy_series_inverse.series.SeriesData`).
        candidates: SymPy expressions (or strings) or
            :class:`~sympy_series_inverse.rank.Candidate` records, e.g. what
            :func:`~sympy_series_inverse.api.series_inverse` returned.
        true_function: the generating function (expression or string), drawn first
            (solid black) when given.
        ax: the matplotlib ``Axes`` to draw into; a new figure when ``None``.
        width: half-width of the interval: the curves span ``[x0 - width, x0 + width]``.

    Returns:
        The matplotlib ``Axes``. Its lines, in order: the true function (label
        ``"true: <f>"``, when given), one per candidate (label ``str(expr)``), then the
        Taylor polynomial (label ``"Taylor polynomial, O(...)"``, dashed).

    Raises:
        ImportError: matplotlib is not installed (install the ``plot`` extra).
        ValueError: ``width`` is not a positive number.
    """
    if not (isinstance(width, (int, float)) and not isinstance(width, bool) and math.isfinite(width) and width > 0):
        raise ValueError(f"width must be a positive number, got {width!r}")
    data = series if isinstance(series, SeriesData) else normalize(series)
    try:
        import numpy as np
        from matplotlib import pyplot as plt
    except ImportError as e:
        raise ImportError(
            'plot_candidates needs matplotlib: pip install "sympy_series_inverse[plot]"'
        ) from e
    x, x0 = data.x, float(data.x0)
    grid = np.linspace(x0 - width, x0 + width, POINTS)
    if ax is None:
        _, ax = plt.subplots()
    scale = []  # values that set the vertical range
    if true_function is not None:
        f = _expression(true_function, x)
        y = _curve(f, x, grid)
        ax.plot(grid, y, color="black", linewidth=2.5, label=f"true: {f}")
        scale.append(y)
    for expr in _expressions(candidates, x):
        ax.plot(grid, _curve(expr, x, grid), linewidth=1.5, label=str(expr))
    taylor = _curve(data.polynomial(), x, grid)
    order = sympy.Order((x - data.x0) ** data.n, (x, data.x0))
    ax.plot(grid, taylor, color="grey", linestyle="--", linewidth=1.5, label=f"Taylor polynomial, {order}")
    scale.append(taylor)
    finite = np.concatenate([v[np.isfinite(v)] for v in scale])
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        pad = 0.25 * (high - low) or 1.0
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(x0 - width, x0 + width)
    ax.set_xlabel(str(x))
    ax.legend(fontsize="small")
    return ax

""":func:`safe_build`: rebuild a (possibly unevaluated) SymPy tree node by node through the
guard."""

from __future__ import annotations

from typing import Any

import sympy

from ..errors import ParseError
from ..functions import CONSTANTS, UNARY_FUNCTIONS
from .emit import _as_expr
from .guard import _BAD_NUMBERS, _Guard
from .limits import DEFAULT_LIMITS, Limits
from .vocabulary import _CONSTANT_NAMES, _FUNC_CLASSES


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

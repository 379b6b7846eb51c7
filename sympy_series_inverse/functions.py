"""The closed vocabulary of mathematical functions the package knows by name.

One table shared by the parser, the series engine, grammar files and tokenizers, so that a
name means the same thing everywhere and nothing outside the table is ever constructed
from text.
"""

from __future__ import annotations

import sympy

__all__ = ["UNARY_FUNCTIONS", "BINARY_OPERATORS", "CONSTANTS", "unary", "sqrt"]


def sqrt(arg: sympy.Expr) -> sympy.Expr:
    """``sqrt`` as SymPy represents it: ``Pow(arg, 1/2)``."""
    return sympy.Pow(arg, sympy.S.Half)


#: name -> callable building the SymPy expression from one argument
UNARY_FUNCTIONS: dict[str, object] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "asinh": sympy.asinh,
    "acosh": sympy.acosh,
    "atanh": sympy.atanh,
}

#: name -> (infix symbol, builder); ``sub`` and ``div`` are sugar over Add/Mul, as in SymPy.
BINARY_OPERATORS: dict[str, tuple[str, object]] = {
    "add": ("+", lambda a, b: a + b),
    "sub": ("-", lambda a, b: a - b),
    "mul": ("*", lambda a, b: a * b),
    "div": ("/", lambda a, b: a / b),
    "pow": ("**", lambda a, b: a**b),
}

#: name -> SymPy constant
CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "E": sympy.E,
}


def unary(name: str):
    """The builder for a unary function name; ``KeyError`` if the name is not in the table."""
    return UNARY_FUNCTIONS[name]

"""SymPy -> tokens: :func:`to_prefix` and :func:`to_infix`, the inverses of the token
parsers."""

from __future__ import annotations

import keyword
from typing import Any

import sympy

from ..errors import ParseError
from .limits import _short
from .vocabulary import (
    _CONSTANT_NAMES,
    _FUNC_CLASSES,
    _IDENT_RE,
    INT_NEG,
    INT_POS,
    _vocabulary_names,
)


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

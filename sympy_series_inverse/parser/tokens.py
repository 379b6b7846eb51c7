"""The two token notations, infix (:func:`parse_infix`) and prefix (:func:`parse_prefix`),
parsed by hand over the closed vocabulary; every node goes through the guard."""

from __future__ import annotations

import keyword
from typing import Any, Mapping, Sequence

import sympy

from ..errors import ParseError
from ..functions import BINARY_OPERATORS, CONSTANTS, UNARY_FUNCTIONS
from .guard import _Guard
from .limits import DEFAULT_LIMITS, Limits
from .vocabulary import (
    _DEC_RE,
    _DEFAULT_SYMBOLS,
    _IDENT_RE,
    _INT_RE,
    DIGIT_TOKENS,
    INFIX_OPERATORS,
    INT_NEG,
    INT_POS,
    _vocabulary_names,
)

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

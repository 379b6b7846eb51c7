"""Vetting of user-typed text with Python's :mod:`tokenize`, before ``parse_expr`` sees it:
whitelisted names, operators and number forms only, and an expression shape whose nesting
stays within ``max_depth``."""

from __future__ import annotations

import io
import keyword
import re
import tokenize
import unicodedata
from typing import Mapping

import sympy

from ..errors import ParseError
from ..functions import CONSTANTS, UNARY_FUNCTIONS
from .limits import Limits
from .vocabulary import _BLOCKED_NAMES, _INTERNAL_NAMES, _ORDER_NAMES

_NUMBER_RE = re.compile(
    r"(?P<int>[0-9]+)"
    r"|(?P<mant>[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE](?P<exp>[+-]?[0-9]+))?")
_ALLOWED_OPS = {"+", "-", "*", "/", "**", "^", "(", ")", ","}


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

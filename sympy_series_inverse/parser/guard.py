"""The guard: every node of every notation is built through :class:`_Guard`, which checks
that SymPy's evaluation of the node is cheap before it happens."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import sympy

from ..errors import ParseError
from ..functions import UNARY_FUNCTIONS
from .limits import (
    _LOG10_2,
    Limits,
    _content,
    _content_all,
    _float_log10,
    _log10_upper,
    _rational_digits,
    _short,
    _upper_bound,
)
from .vocabulary import _CONSTANT_NAMES

# Functions whose numeric evaluation needs precision proportional to log|argument|
# (argument reduction modulo pi or ln 2), or that produce astronomically large values.
_MAGNITUDE_GUARDED = frozenset({"exp", "sinh", "cosh", "tanh", "sin", "cos", "tan", "cot",
                                "sec", "csc"})
_BAD_NUMBERS = {
    sympy.S.NaN: "an undefined value (nan)",
    sympy.S.ComplexInfinity: "division by zero or a pole (zoo)",
    sympy.S.Infinity: "an infinite value (oo)",
    sympy.S.NegativeInfinity: "an infinite value (-oo)",
}


def _is_o_monomial(expr: sympy.Expr) -> bool:
    """A product of numbers and numeric powers of symbols or of ``symbol ± constant``."""
    for factor in sympy.Mul.make_args(expr):
        if factor.is_number:
            continue
        base, k = factor.as_base_exp()
        if not k.is_number:
            return False
        if isinstance(base, sympy.Symbol):
            continue
        if not (base.is_Add and len(base.args) == 2):
            return False
        const = [a for a in base.args if a.is_number]
        var = [a for a in base.args if not a.is_number]
        if len(const) != 1 or len(var) != 1:
            return False
        v = var[0]
        if not (isinstance(v, sympy.Symbol) or (
                v.is_Mul and len(v.args) == 2 and v.args[0] == -1
                and isinstance(v.args[1], sympy.Symbol))):
            return False
    return True


class _Guard:
    """Builds SymPy nodes with evaluation, after checking that the evaluation is cheap."""

    def __init__(self, limits: Limits):
        self.limits = limits

    # -- leaves ------------------------------------------------------------------------
    def integer(self, digits: str, negative: bool, pos: int | None) -> sympy.Integer:
        if len(digits) > self.limits.max_int_digits:
            raise ParseError(
                f"integer literal has {len(digits)} digits, more than "
                f"max_int_digits={self.limits.max_int_digits}", pos)
        value = int(digits)
        return sympy.Integer(-value if negative else value)

    def decimal(self, text: str, pos: int | None) -> sympy.Rational:
        whole, _, frac = text.partition(".")
        if len(whole) + len(frac) > self.limits.max_int_digits:
            raise ParseError(
                f"decimal literal has {len(whole) + len(frac)} digits, more than "
                f"max_int_digits={self.limits.max_int_digits}", pos)
        scale = 10 ** len(frac)
        return sympy.Rational(int(whole or "0") * scale + int(frac or "0"), scale)

    # -- checks ------------------------------------------------------------------------
    def exponent_magnitude(self, e: sympy.Expr) -> float:
        """``|e|`` (an upper bound) of a numeric exponent, without raising."""
        if e.is_Rational:
            return _upper_bound(e)
        lg = self.magnitude_log10(e, math.log10(self.limits.max_exponent))
        return 10.0**lg if lg < 300 else math.inf

    def exponent_size(self, e: sympy.Expr, pos: int | None) -> float | None:
        """``|e|`` (an upper bound) if ``e`` is numeric, after checking it against
        ``max_exponent``; ``None`` for a symbolic exponent (SymPy leaves ``2**x`` alone)."""
        cap = self.limits.max_exponent
        if e.is_Rational:
            if abs(e.p) > cap * e.q:
                raise ParseError(f"exponent {_short(e)} exceeds max_exponent={cap}", pos)
            if e.q > cap:
                raise ParseError(
                    f"exponent {_short(e)} has a denominator larger than max_exponent={cap}", pos)
            return abs(e.p) / e.q
        if not e.is_number:
            return None
        size = self.exponent_magnitude(e)
        if not size <= cap:  # also catches nan
            shown = "" if math.isinf(size) else f" (about {size:.3g})"
            raise ParseError(
                f"numeric exponent {_short(e)}{shown} cannot be shown to be within "
                f"max_exponent={cap}", pos)
        return size

    def magnitude_log10(self, e: sympy.Expr, threshold: float) -> float:
        """An upper bound of ``log10 |e|`` for a numeric ``e`` (``inf`` if none is found).

        The cheap symbolic bound first; if it is above ``threshold``, ``evalf``.  That is safe
        here because every part of ``e`` was built through this guard, which never lets a
        periodic or exponential function see an argument beyond ``10**max_result_digits``:
        without that rule, ``exp(exp(exp(9))).evalf()`` takes seconds and
        ``cot(sinh(cosh(exp(5)))).evalf()`` computes pi to ~10**64 bits.
        """
        lg = _log10_upper(e)
        if lg <= threshold:
            return lg
        try:
            value = e.evalf(15)
            parts = value.as_real_imag()
        except Exception:  # SymPy/mpmath raise many types; unknown means refused
            return math.inf
        if not all(isinstance(v, sympy.Number) and v.is_finite for v in parts):
            return math.inf
        logs = [_float_log10(sympy.Float(v)) for v in parts if v != 0]
        if not logs:
            return -math.inf
        if -300 < max(logs) < 300:  # exact enough in float range; +1e-9 absorbs rounding
            return math.log10(math.hypot(*(float(v) for v in parts))) + 1e-9
        return max(logs) + 0.5

    def check_function_argument(self, name: str, arg: sympy.Expr, pos: int | None) -> None:
        """A numeric argument of a periodic or exponential function must stay below
        ``10**max_result_digits``: evaluating ``sin`` of a larger number needs that many
        digits of pi, and ``exp`` of it has more digits than any later step could handle."""
        if name not in _MAGNITUDE_GUARDED or not arg.is_number:
            return
        lg = self.magnitude_log10(arg, self.limits.max_result_digits)
        if not lg <= self.limits.max_result_digits:
            shown = "unknown size" if math.isinf(lg) else f"about 10**{lg:.4g}"
            raise ParseError(
                f"argument of {name} is too large ({shown}) for "
                f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_real_constant(self, value: sympy.Expr, pos: int | None) -> sympy.Expr:
        """A constant built by a power or a function must be real.

        Complex constants (``sqrt(-2)``, ``log(-1)``, ``asin(2)``) have no place in a real
        Taylor series, and SymPy's assumption queries on nested ones are pathological
        (``1**tanh(log(asin(2)))`` spends tens of seconds in ``as_real_imag``).  ``evalf``
        is cheap here: the magnitude rule bounds the precision it needs.
        """
        if not value.is_number or value.is_Number or value in _CONSTANT_NAMES:
            return value
        try:
            re_part, im_part = value.evalf(15).as_real_imag()
        except Exception as e:  # SymPy/mpmath raise many types
            raise ParseError(f"cannot evaluate the constant {_short(value)}", pos) from e
        if not (isinstance(re_part, sympy.Number) and isinstance(im_part, sympy.Number)):
            raise ParseError(f"cannot evaluate the constant {_short(value)}", pos)
        if im_part != 0 and abs(im_part) > 1e-12 * max(1.0, abs(float(re_part))):
            raise ParseError(
                f"constant {_short(value)} is not real (about {complex(re_part, im_part):.3g})",
                pos)
        return value

    def check_power_size(self, content: float, size: float, pos: int | None) -> None:
        estimate = content * max(1.0, size)
        if estimate > self.limits.max_result_digits:
            raise ParseError(
                f"power would build a number of about {int(estimate)} digits, more than "
                f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_exp_argument(self, arg: sympy.Expr, pos: int | None) -> None:
        """SymPy rewrites ``exp(c*log(b))`` to ``b**c`` (``exp(10**7*log(7))`` is ``7**10**7``),
        so a numeric term with a log in it is checked like an exponent."""
        for term in sympy.Add.make_args(arg):
            if not term.is_number or not term.has(sympy.log):
                continue
            factors = sympy.Mul.make_args(term)
            coeff = sympy.Mul(*[f for f in factors if not f.has(sympy.log)])
            size = self.exponent_size(coeff, pos)
            logs = [f for f in factors if f.has(sympy.log)]
            self.check_power_size(math.fsum(_content_all(f) for f in logs), size or 1.0, pos)

    def checked(self, expr: sympy.Expr, pos: int | None) -> sympy.Expr:
        """Refuse non-finite values and oversized numbers in the node just built (its top two
        levels: deeper nodes were checked when they were built)."""
        stack = [(expr, 0)]
        while stack:
            node, level = stack.pop()
            self.check_atom(node, pos)
            if level < 2:
                stack.extend((a, level + 1) for a in node.args)
        return expr

    def check_atom(self, node: sympy.Basic, pos: int | None) -> None:
        if node in _BAD_NUMBERS:
            raise ParseError(f"expression evaluates to {_BAD_NUMBERS[node]}", pos)
        if isinstance(node, sympy.Rational):
            if _rational_digits(node) > self.limits.max_result_digits:
                raise ParseError(
                    f"a number of about {_rational_digits(node)} digits exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)
        elif isinstance(node, sympy.Float):
            if node.is_finite is not True:
                raise ParseError(f"expression evaluates to a non-finite float {node}", pos)
            if abs(_float_log10(node)) > self.limits.max_result_digits:
                raise ParseError(
                    f"a float of magnitude about 10**{_float_log10(node):.4g} exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)
            if node._prec * _LOG10_2 > self.limits.max_result_digits:
                raise ParseError(
                    f"a float with {int(node._prec * _LOG10_2)} digits of precision exceeds "
                    f"max_result_digits={self.limits.max_result_digits}", pos)

    def check_tree(self, expr: sympy.Expr, pos: int | None) -> sympy.Expr:
        for node in sympy.preorder_traversal(expr):
            self.check_atom(node, pos)
        return expr

    # -- nodes -------------------------------------------------------------------------
    def _apply(self, build: Callable[[], sympy.Expr], pos: int | None) -> sympy.Expr:
        try:
            result = build()
        except ParseError:
            raise
        except RecursionError as e:
            raise ParseError("expression is too deeply nested for SymPy", pos) from e
        except Exception as e:  # SymPy raises many types; the caller only needs to know why
            raise ParseError(
                f"SymPy could not build this expression ({type(e).__name__}: {e})", pos) from e
        return self.checked(result, pos)

    def add(self, args: Sequence[sympy.Expr], pos: int | None) -> sympy.Expr:
        return self._apply(lambda: sympy.Add(*args), pos)

    def mul(self, args: Sequence[sympy.Expr], pos: int | None) -> sympy.Expr:
        # exp(a)*exp(b) becomes exp(a + b): check the merged argument first.
        exps = [a.args[0] for a in args if isinstance(a, sympy.exp)]
        if len(exps) > 1:
            merged = self._apply(lambda: sympy.Add(*exps), pos)
            self.check_function_argument("exp", merged, pos)
            self.check_exp_argument(merged, pos)
        return self._apply(lambda: sympy.Mul(*args), pos)

    def neg(self, a: sympy.Expr, pos: int | None) -> sympy.Expr:
        return self.mul([sympy.S.NegativeOne, a], pos)

    def sub(self, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        return self.add([a, self.neg(b, pos)], pos)

    def div(self, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        if b == 0:  # structural: b is evaluated (asking b.is_zero can be slow)
            raise ParseError("division by zero", pos)
        return self.mul([a, self.pow(b, sympy.S.NegativeOne, pos)], pos)

    def pow(self, base: sympy.Expr, e: sympy.Expr, pos: int | None) -> sympy.Expr:
        size = self.exponent_size(e, pos)
        if size is not None:
            self.check_power_size(_content(base, self.exponent_magnitude), size, pos)
            if base == 0 and (e.is_Rational or e.is_Float) and e < 0:
                raise ParseError("division by zero (0 to a negative power)", pos)
        if base == sympy.E:
            self.check_function_argument("exp", e, pos)
            self.check_exp_argument(e, pos)
        elif isinstance(base, sympy.exp):
            merged = self._apply(lambda: sympy.Mul(e, base.args[0]), pos)  # exp(a)**k = exp(k*a)
            self.check_function_argument("exp", merged, pos)
            self.check_exp_argument(merged, pos)
        return self.check_real_constant(self._apply(lambda: sympy.Pow(base, e), pos), pos)

    def binary(self, name: str, a: sympy.Expr, b: sympy.Expr, pos: int | None) -> sympy.Expr:
        if name == "add":
            return self.add([a, b], pos)
        if name == "sub":
            return self.sub(a, b, pos)
        if name == "mul":
            return self.mul([a, b], pos)
        if name == "div":
            return self.div(a, b, pos)
        if name == "pow":
            return self.pow(a, b, pos)
        raise ParseError(f"unknown binary operator {name!r}", pos)  # pragma: no cover

    def func(self, name: str, arg: sympy.Expr, pos: int | None) -> sympy.Expr:
        if name == "sqrt":
            return self.pow(arg, sympy.S.Half, pos)
        self.check_function_argument(name, arg, pos)
        if name == "exp":
            self.check_exp_argument(arg, pos)
        builder = UNARY_FUNCTIONS[name]
        return self.check_real_constant(self._apply(lambda: builder(arg), pos), pos)

    def order(self, expr: sympy.Expr, specs: Sequence[Any], pos: int | None) -> sympy.Expr:
        # sympy.Order factors its argument (an Add) and takes its leading term: for
        # O((x + y + 1)**64) that alone is ~10 s, so only monomials are accepted.
        if not _is_o_monomial(expr):
            raise ParseError(
                f"O(...) takes a monomial such as x**6 or (x - 1)**5, got {_short(expr)}", pos)
        args: list[Any] = []
        for spec in specs:
            if isinstance(spec, sympy.Symbol):
                args.append(spec)
            elif isinstance(spec, (tuple, sympy.Tuple)) and len(spec) == 2 and isinstance(
                    spec[0], sympy.Symbol):
                args.append((spec[0], spec[1]))
            else:
                raise ParseError(
                    "O-term arguments after the first must be a symbol or a (symbol, point) "
                    f"pair, got {spec}", pos)
        return self._apply(lambda: sympy.Order(expr, *args), pos)

"""The coefficient arithmetic of each tier, cheapest first: ``flint`` (python-flint
``fmpq_series``), ``ring`` and ``symbolic`` (``ring_series`` over ``QQ`` or
``QQ(g_1, ..., g_k)``), and the bounded ``sympy.series`` fallback (``sympy``)."""

from __future__ import annotations

import functools
import threading

import sympy
from sympy.polys import ring_series as rs
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from ..errors import BudgetExceededError, NotAnalyticError, UnsupportedSeriesError
from .control import SYMPY_MAX_OPS, SYMPY_MAX_ORDER, _NeedGens
from .normal_form import _atoms, _is_const_zero

try:
    import flint
except ImportError:  # the ring tier does the same work without it
    flint = None

_FLINT_LOCK = threading.RLock()  # flint.ctx.cap is process-global
_T = sympy.Dummy("t")


# --------------------------------------------------------------------------- backends
# A backend does arithmetic on lists of r coefficients (truncated power series mod t**r).

class _FlintBackend:
    kind = "flint"

    def __init__(self) -> None:
        self.zero, self.one = flint.fmpq(0), flint.fmpq(1)

    def const(self, e: sympy.Expr):
        if e.is_Rational:
            return flint.fmpq(int(e.p), int(e.q))
        raise _NeedGens(_atoms(e))

    def to_sympy(self, c) -> sympy.Expr:
        return sympy.Rational(int(c.p), int(c.q))

    def is_zero(self, c) -> bool:
        return not c

    def _do(self, r: int, op, *series: list) -> list:
        with _FLINT_LOCK:
            old, flint.ctx.cap = flint.ctx.cap, r
            try:
                out = op(*(flint.fmpq_series(s, prec=r) for s in series)).coeffs()
            finally:
                flint.ctx.cap = old
        return out[:r] + [self.zero] * (r - len(out))

    def mul(self, a: list, b: list, r: int) -> list:
        return self._do(r, lambda p, q: p * q, a, b)

    def inv(self, a: list, r: int) -> list:
        return self._do(r, lambda p: p.inv(), a)

    def fn(self, name: str, w: list, r: int) -> list:
        if name == "log1p":
            return self._do(r, lambda p: (1 + p).log(), w)
        return self._do(r, lambda p: getattr(p, name)(), w)

    def ipow(self, a: list, k: int, r: int) -> list:
        return self._do(r, lambda p: p**k, a)

    def powr(self, w: list, q: sympy.Rational, r: int) -> list:
        """(1 + w)**q for w with zero constant term."""
        if q == sympy.S.Half:
            return self._do(r, lambda p: (1 + p).sqrt(), w)
        qq = self.const(q)
        return self._do(r, lambda p: (qq * (1 + p).log()).exp(), w)


_RS = {"exp": rs.rs_exp, "sin": rs.rs_sin, "cos": rs.rs_cos, "tan": rs.rs_tan,
       "atan": rs.rs_atan, "asin": rs.rs_asin, "asinh": rs.rs_asinh, "atanh": rs.rs_atanh,
       "sinh": rs.rs_sinh, "cosh": rs.rs_cosh, "tanh": rs.rs_tanh}


class _RingBackend:
    """ring_series over QQ (``ring`` tier) or over QQ(gens) (``symbolic`` tier)."""

    def __init__(self, gens: tuple) -> None:
        self.gens = gens
        self.kind = "symbolic" if gens else "ring"
        self.K = QQ.frac_field(*gens) if gens else QQ
        self.R, self.t = ring("t", self.K)
        self.zero, self.one = self.K.zero, self.K.one

    def const(self, e: sympy.Expr):
        if e.is_Rational or self.gens:
            try:
                return self.K.from_sympy(e)
            except Exception as exc:
                new = _atoms(e) - set(self.gens)
                if not new:
                    raise UnsupportedSeriesError(f"cannot represent the constant {e}") from exc
        raise _NeedGens(_atoms(e))

    def to_sympy(self, c) -> sympy.Expr:
        return self.K.to_sympy(c)

    def is_zero(self, c) -> bool:
        return not c or (bool(self.gens) and _is_const_zero(self.K.to_sympy(c)))

    def _p(self, a: list):
        return self.R.from_dict({(i,): c for i, c in enumerate(a) if c})

    def _l(self, p, r: int) -> list:
        out = [self.zero] * r
        for (i,), c in p.items():
            if i < r:
                out[i] = c
        return out

    def mul(self, a: list, b: list, r: int) -> list:
        return self._l(rs.rs_mul(self._p(a), self._p(b), self.t, r), r)

    def inv(self, a: list, r: int) -> list:
        return self._l(rs.rs_series_inversion(self._p(a), self.t, r), r)

    def fn(self, name: str, w: list, r: int) -> list:
        if name == "log1p":
            return self._l(rs.rs_log(1 + self._p(w), self.t, r), r)
        return self._l(_RS[name](self._p(w), self.t, r), r)

    def ipow(self, a: list, k: int, r: int) -> list:
        return self._l(rs.rs_pow(self._p(a), k, self.t, r), r)

    def powr(self, w: list, q: sympy.Rational, r: int) -> list:
        """(1 + w)**q by J.C.P. Miller's recurrence: O(r**2) products, no exp(q log)."""
        q1, y = self.const(q + 1), [self.one] + [self.zero] * (r - 1)
        for k in range(1, r):
            acc = sum((w[j] * y[k - j] * (q1 * j - k) for j in range(1, k + 1) if w[j]), self.zero)
            y[k] = acc / k
        return y


@functools.lru_cache(maxsize=64)
def _backend(kind: str, gens: tuple):
    return _FlintBackend() if kind == "flint" else _RingBackend(gens)


# --------------------------------------------------------------------------- sympy fallback
# Bounded: sympy.series cannot be interrupted by the deadline.

def _sympy_two_sided(e: sympy.Expr, x: sympy.Symbol, x0: sympy.Expr, n: int):
    """sympy.series on both sides of x0: they must agree (Abs(x) at 0 does not)."""
    plus, val, prec = _sympy_coefficients(e, x, x0 + _T, n)
    minus, mval, mprec = _sympy_coefficients(e, x, x0 - _T, n)
    for k in range(min(val, mval), min(prec, mprec)):
        p = plus[k - val] if val <= k < prec else 0
        m = minus[k - mval] if mval <= k < mprec else 0
        if not _is_const_zero(sympy.expand(p - (-1) ** k * m)):
            raise NotAnalyticError(f"{e} is not analytic at {x} = {x0}: its one-sided "
                                   "expansions differ")
    return plus, val, min(prec, mprec)


def _sympy_coefficients(e: sympy.Expr, x: sympy.Symbol, at: sympy.Expr, n: int):
    """(coefficients from t**val on, val, precision) of sympy.series of e with x = at,
    a function of _T; refused beyond a bounded size."""
    if n > SYMPY_MAX_ORDER or sympy.count_ops(e) > SYMPY_MAX_OPS:
        raise BudgetExceededError(f"sympy.series fallback refused for {e} at order {n} "
                                  f"(limits: {SYMPY_MAX_OPS} operations, order {SYMPY_MAX_ORDER})")
    where = f"{e} at {x} = {at.subs(_T, 0)}"
    try:
        s = sympy.series(e.xreplace({x: at}), _T, 0, n)
    except Exception as exc:
        raise UnsupportedSeriesError(f"sympy.series cannot expand {where}: {exc}") from exc
    prec, o, terms = n, s.getO(), {}
    if o is not None:
        base, k = o.expr.as_base_exp()
        if base != _T or not k.is_Integer:
            raise NotAnalyticError(f"{where}: error term {o} is not a power of {x}")
        prec = int(k)
    for term in sympy.Add.make_args(sympy.expand(s.removeO())):
        coeff, rest = term.as_independent(_T, as_Add=False)
        base, k = rest.as_base_exp() if rest != 1 else (_T, sympy.S.Zero)
        if term != 0 and (base != _T or not k.is_Integer):
            raise NotAnalyticError(f"{where}: its expansion has the term {rest}: it is not a "
                                   "Laurent series (Puiseux or logarithmic), which is not supported")
        if term != 0 and k < prec:
            terms[int(k)] = terms.get(int(k), 0) + coeff
    val = min(terms, default=prec)
    return [terms.get(k, sympy.S.Zero) for k in range(val, prec)], val, prec

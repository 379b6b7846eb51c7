"""Speed of the exact series engine against ``sympy.series`` on the paper grammar.

Enumerates the paper grammar (left fold ((b1 op b2) op b3) over 1-3 terms of
x, x**2, x**3, sin(x), cos(x), exp(x) with + - * /, then ``simplify(expand(f))``, zeros and
duplicates dropped: 1,563 functions), and for each function, in enumeration order, times
``sympy.series(f, x, 0, order)``, the engine with its default tier and the engine's ``ring``
tier, and checks that the coefficients are identical. Functions where sympy's expansion
is not a Taylor series must make the engine raise NotAnalyticError.

Caches are left as a user session leaves them (SymPy's cache, the engine's memo of
subexpressions such as sin(x)); each function is expanded once per method, so no call hits a
cached answer for the same function. ``--cold`` clears both caches before every call.

    python benchmarks/engine_speed.py [--order 7] [--limit N] [--cold]

The enumeration (about a minute of ``simplify``) is cached as srepr in a per-user
temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import sympy
from sympy.core.cache import clear_cache

from sympy_series_inverse import engine
from sympy_series_inverse.engine import taylor_coefficients
from sympy_series_inverse.errors import NotAnalyticError, UnsupportedSeriesError

x = sympy.Symbol("x")
BASE = [x, x**2, x**3, sympy.sin(x), sympy.cos(x), sympy.exp(x)]
OPS = [lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p / q]
CACHE_VERSION = 1


def _cache_path() -> str:
    folder = os.path.join(tempfile.gettempdir(), f"sympy_series_inverse-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, "paper_grammar.json")


def paper_grammar() -> list[sympy.Expr]:
    """The distinct non-zero functions of the paper grammar, in enumeration order."""
    path = _cache_path()
    try:
        with open(path) as fh:
            data = json.load(fh)
        if data.get("version") == CACHE_VERSION and data.get("sympy") == sympy.__version__:
            return [sympy.sympify(s) for s in data["functions"]]
    except (OSError, ValueError, KeyError):
        pass
    raw = list(BASE)
    raw += [op(b1, b2) for b1 in BASE for op in OPS for b2 in BASE]
    raw += [op2(op1(b1, b2), b3) for b1 in BASE for op1 in OPS for b2 in BASE
            for op2 in OPS for b3 in BASE]
    seen: dict[sympy.Expr, None] = {}
    for f in raw:
        g = sympy.simplify(sympy.expand(f))
        if g != 0:
            seen.setdefault(g, None)
    functions = list(seen)
    with open(path, "w") as fh:
        json.dump({"version": CACHE_VERSION, "sympy": sympy.__version__,
                   "functions": [sympy.srepr(f) for f in functions]}, fh)
    return functions


def sympy_coefficients(s: sympy.Expr, n: int):
    """Coefficients of a sympy.series result, or None if it is not a Taylor series."""
    order = s.getO()
    if order is not None and order.expr.as_base_exp()[1] != n:
        return None
    poly = s.removeO()
    if poly == 0:
        return (sympy.S.Zero,) * n
    try:
        p = sympy.Poly(poly, x)
    except sympy.PolynomialError:
        return None
    if p.degree() >= n:
        return None
    return tuple(p.coeff_monomial(x**k) for k in range(n))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except (NotAnalyticError, UnsupportedSeriesError) as exc:
        out = type(exc)
    return out, time.perf_counter() - start


def measure(order: int = 7, limit: int | None = None, cold: bool = False, echo=print) -> dict:
    """Time sympy.series, the engine's default tier and its ring tier on the paper grammar,
    in one run; returns the timings (seconds), the speed-ups and the mismatches."""
    n = order
    start = time.perf_counter()
    functions = paper_grammar()
    echo(f"paper grammar: {len(functions)} distinct functions "
         f"(enumerated in {time.perf_counter() - start:.1f} s; cache {_cache_path()})")
    default_tier = "flint" if engine.flint is not None else "ring"
    ground = type(sympy.QQ.one).__name__
    caches = "cold (cleared before every call)" if cold else \
        "warm as in a session (SymPy cache and engine subexpression memo kept; no repeated function)"
    echo(f"order n = {n}; default tier = {default_tier}; SymPy ground types: {ground}; caches: {caches}")

    times = {"sympy": [], "default": [], "ring": []}
    mismatches, analytic, poles = [], 0, 0
    for f in functions:
        if limit and analytic >= limit:
            break
        if cold:
            engine._series.cache_clear()
            engine._taylor.cache_clear()
            clear_cache()
        ours, t_default = timed(taylor_coefficients, f, x, 0, n)
        if cold:
            engine._series.cache_clear()
            engine._taylor.cache_clear()
        ring, t_ring = timed(taylor_coefficients, f, x, 0, n, tier="ring")
        if cold:
            clear_cache()
        s, t_sympy = timed(sympy.series, f, x, 0, n)
        theirs = sympy_coefficients(s, n)
        if theirs is None:
            poles += 1
            if ours is not NotAnalyticError or ring is not NotAnalyticError:
                mismatches.append((f, ours, ring, s))
            continue
        analytic += 1
        if ours != theirs or ring != theirs:
            mismatches.append((f, ours, ring, theirs))
        times["sympy"].append(t_sympy)
        times["default"].append(t_default)
        times["ring"].append(t_ring)

    def p95(v: list[float]) -> float:
        return sorted(v)[min(len(v) - 1, int(0.95 * len(v)))]

    out = {
        "order": n, "default_tier": default_tier, "ground_types": ground, "cold": cold,
        "analytic": analytic, "poles": poles,
        "median_s": {k: statistics.median(v) for k, v in times.items() if v},
        "p95_s": {k: p95(v) for k, v in times.items() if v},
        "total_s": {k: sum(v) for k, v in times.items()},
        "speedup_median": {}, "ratio_of_medians": {},
        "mismatches": [f"{f}: engine {o}, ring {r}, sympy {t}" for f, o, r, t in mismatches],
    }
    for key in ("default", "ring"):
        if times[key]:
            out["speedup_median"][key] = statistics.median([s / e for s, e in zip(times["sympy"], times[key])])
            out["ratio_of_medians"][key] = statistics.median(times["sympy"]) / statistics.median(times[key])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--order", type=int, default=7, help="number of coefficients n (default 7)")
    p.add_argument("--limit", type=int, help="stop after N analytic functions")
    p.add_argument("--cold", action="store_true", help="clear SymPy's and the engine's caches before every call")
    args = p.parse_args(argv)
    r = measure(args.order, args.limit, args.cold)

    def ms(v: float) -> str:
        return f"{v * 1e3:9.3f} ms"

    print(f"measured: {r['analytic']} analytic functions (+ {r['poles']} with a pole at 0, which the engine must reject)")
    print(f"{'method':<26}{'median':>13}{'p95':>13}{'total':>11}")
    for key, label in (("sympy", f"sympy.series(f, x, 0, {r['order']})"),
                       ("default", f"engine, tier {r['default_tier']}"), ("ring", "engine, tier ring")):
        if key in r["median_s"]:
            print(f"{label:<26}{ms(r['median_s'][key])}  {ms(r['p95_s'][key])}{r['total_s'][key]:9.2f} s")
    for key in ("default", "ring"):
        if key in r["speedup_median"]:
            print(f"median speed-up over sympy.series, {key} tier: {r['speedup_median'][key]:8.0f}x "
                  f"(ratio of medians {r['ratio_of_medians'][key]:.0f}x)")
    print(f"mismatches: {len(r['mismatches'])}")
    for line in r["mismatches"][:20]:
        print(f"  {line}")
    return 1 if r["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())

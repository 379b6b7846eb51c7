"""The lookup backend against the exact-match ceiling of the paper grammar.

For every analytic paper-grammar function and each order k (the paper's T_k keeps terms up
to x**k, so n = k + 1 coefficients), run ``series_inverse`` on its truncated series and
check:

- the top candidate is verified (target: 100 %);
- the top candidate equals the generating function, each function weighted by the
  generator's probability (target: the ceiling, 91.1 / 96.9 / 99.4 % in NOTES.md).

The ceiling is computed independently from the ambiguity sets: functions sharing a
truncated series, of which at best the most probable can be answered.

    python benchmarks/lookup_ceiling.py [--orders 4 5 6] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict

from sympy_series_inverse import series_inverse
from sympy_series_inverse.engine import taylor_coefficients
from sympy_series_inverse.grammar import get_grammar


def ceiling(functions, x, n) -> float:
    groups = defaultdict(list)
    for f in functions:
        groups[taylor_coefficients(f.expr, x, 0, n)].append(float(f.probability))
    return sum(max(g) for g in groups.values()) / sum(float(f.probability) for f in functions)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grammar", default="paper")
    p.add_argument("--orders", type=int, nargs="+", default=[4, 5, 6], help="paper orders k (n = k + 1 terms)")
    p.add_argument("--limit", type=int, help="only the first N functions (most probable first)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    grammar = get_grammar(args.grammar)
    functions = grammar.enumerate()
    if args.limit:
        functions = functions[: args.limit]
    x = grammar.variable
    results = []
    print(f"grammar {grammar.name} {grammar.version}: {len(functions)} analytic functions")
    print(f"{'k':>2} {'n':>2} {'verified@1':>11} {'exact@1 (weighted)':>19} {'ceiling':>8} {'exact@1 (unweighted)':>21} {'median ms':>10}")
    for k in args.orders:
        n = k + 1
        verified = exact_w = exact_u = 0.0
        total_w = sum(float(f.probability) for f in functions)
        times = []
        for f in functions:
            series = taylor_coefficients(f.expr, x, 0, n)
            started = time.perf_counter()
            found = series_inverse(list(series), x=x, details=True)
            times.append(time.perf_counter() - started)
            if found and found[0].verified:
                verified += 1
            if found and found[0].expr == f.expr:
                exact_w += float(f.probability)
                exact_u += 1
        row = {
            "k": k,
            "n": n,
            "functions": len(functions),
            "verified_at_1": verified / len(functions),
            "exact_at_1_weighted": exact_w / total_w,
            "ceiling_weighted": ceiling(functions, x, n),
            "exact_at_1_unweighted": exact_u / len(functions),
            "median_ms": statistics.median(times) * 1000,
        }
        results.append(row)
        print(
            f"{k:>2} {n:>2} {row['verified_at_1']:>10.1%} {row['exact_at_1_weighted']:>19.1%} "
            f"{row['ceiling_weighted']:>8.1%} {row['exact_at_1_unweighted']:>21.1%} {row['median_ms']:>10.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"command": " ".join(sys.argv), "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m sympy_series_inverse "1 - x**2/2 + x**4/24 + O(x**6)"``.

Prints a ranked table: rank, expression, verified (to which order), score, and the backend
that proposed each candidate. ``--list`` shows the registered components.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import plugins
from .api import series_inverse
from .errors import SeriesInverseError
from .rank import Candidate
from .series import normalize


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sympy_series_inverse",
        description="Recover verified closed-form functions from a truncated Taylor series.",
        epilog='example: python -m sympy_series_inverse "1 - x**2/2 + x**4/24 + O(x**6)"\n'
        "maintenance: python -m sympy_series_inverse grammar NAME [--write-snapshot]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("series", nargs="?", help="the series, e.g. \"x - x**3/6 + O(x**5)\" (quote it)")
    p.add_argument("--x", help="series variable (inferred when there is only one symbol)")
    p.add_argument("--x0", help="expansion point (read from the O-term, else 0)")
    p.add_argument("-n", "--order", type=int, help="number of known terms (read from the input when possible)")
    p.add_argument("--model", default="default", help="registered model name (default: %(default)s)")
    p.add_argument("--grammar", help="only use proposals from this registered grammar")
    p.add_argument("--beam", type=int, default=10, help="beam size of neural backends (default: %(default)s)")
    p.add_argument("--holdout", type=int, default=0, help="hide the last K terms from the proposers and check the candidates predict them")
    p.add_argument("--all", action="store_true", help="also show unverified candidates, with their status")
    p.add_argument("--top", type=int, default=10, help="show at most this many rows (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for the whole call (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list registered grammars, tokenizers, backends and models")
    return p


def _verified_text(c: Candidate, n: int, x, x0) -> str:
    if c.verified:
        point = f"{x} - {x0}" if x0 != 0 else f"{x}"
        return f"yes, to O(({point})**{n})" if x0 != 0 else f"yes, to O({point}**{n})"
    if c.status == "mismatch":
        return f"no, differs at order {c.first_mismatch}"
    return f"no, {c.status}"


def format_table(candidates: Sequence[Candidate], n: int, x, x0) -> str:
    """The ranked table the CLI prints."""
    header = ("rank", "expression", "verified", "score", "source")
    rows = [
        (str(i), str(c.expr) if c.expr is not None else "<unparsable>", _verified_text(c, n, x, x0), f"{c.score:.3f}", c.source)
        for i, c in enumerate(candidates, start=1)
    ]
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["grammar"]:  # maintenance: python -m sympy_series_inverse grammar NAME ...
        from .grammar import main as grammar_main

        return grammar_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.list:
        for kind in plugins.KINDS:
            print(f"{kind}s: {', '.join(plugins.names(kind)) or '(none)'}")
        return 0
    if args.series is None:
        build_parser().print_usage(sys.stderr)
        print("error: give a series, e.g. \"1 - x**2/2 + O(x**4)\", or --list", file=sys.stderr)
        return 2
    try:
        series = normalize(args.series, x=args.x, x0=args.x0, n=args.order)
        found = series_inverse(
            series, model=args.model, grammar=args.grammar, beam_size=args.beam, holdout=args.holdout,
            verified_only=not args.all, details=True, timeout=args.timeout,
        )
    except SeriesInverseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"input: {series}")
    if not found:
        print("no verified closed form found (try --all to see unverified candidates)")
        return 0
    print(format_table(found[: args.top], series.n, series.x, series.x0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks``: suites, methods, runs, reports and speed.

::

    python -m benchmarks list
    python -m benchmarks make-suites [--only NAME ...] [--check]
    python -m benchmarks run --suite NAME[,NAME] --method NAME[,NAME] [--limit N]
    python -m benchmarks report
    python -m benchmarks speed [--quick]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from . import runner
from .methods import get_method, method_names
from .suites import SUITES, make_suites, read_suite, suite_names


def _names(text: str, known: list[str], what: str) -> list[str]:
    names = known if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown[0]!r}; known: {', '.join(known)}")
    return names


def cmd_list(args) -> int:
    print("suites (benchmarks/suites/*.jsonl):")
    for name in suite_names():
        h = read_suite(name).header
        c = h["ceiling"]["overall"]
        flags = "IN-SAMPLE" if h["in_sample"] else ("weighted" if h["weighted"] else "")
        print(f"  {name:<16} {h['rows']:>5} rows  ceiling {100 * c['weighted']:.1f} % (w) / {100 * c['unweighted']:.1f} %  {flags}")
    missing = [n for n in SUITES if n not in suite_names()]
    if missing:
        print(f"  not built yet: {', '.join(missing)} (python -m benchmarks make-suites)")
    print("methods:")
    for name in method_names():
        m = get_method(name)
        reason = m.unavailable()
        state = f"UNAVAILABLE: {reason}" if reason else ("trained" if m.trained else "")
        print(f"  {name:<28} {m.kind:<15} {state}")
        print(f"  {'':<28} {m.description}")
    return 0


def cmd_make_suites(args) -> int:
    differ = make_suites(args.only or None, check=args.check)
    return 1 if args.check and differ else 0


def cmd_run(args, argv: Sequence[str]) -> int:
    from .methods import add_bundle

    for path in args.bundle or ():
        print(f"--bundle {path}: methods {add_bundle(path)}, :greedy, :beam", file=sys.stderr)
    suites = _names(args.suite, suite_names(), "suite")
    methods = _names(args.method, method_names(), "method")
    settings = runner.Settings(case_timeout=args.case_timeout, verify_budget=args.verify_budget)
    command = "python -m benchmarks " + shlex.join(argv)
    for suite in suites:
        for method in methods:
            result = runner.run(suite, method, limit=args.limit, settings=settings, results_dir=args.results_dir,
                                include_in_sample=args.include_in_sample, command=command, quiet=args.quiet)
            stem = runner.result_stem(suite, method, args.limit, result["label"].startswith("in-sample (includes"))
            summary = result.get("summary") or {}
            block = summary.get("weighted") or summary.get("unweighted")
            if block:
                print(f"{suite} / {method} [{result['label']}]: {block['rows']} rows, verified@1 "
                      f"{100 * block['verified_at_1']:.1f} %, hold-out@1 {100 * block['holdout_at_1']:.1f} %, exact "
                      f"{100 * block['exact_match']:.1f} % (ceiling {100 * block['ceiling']:.1f} %), "
                      f"{result['wall_seconds']:.0f} s -> {Path(args.results_dir) / stem}.json")
            else:
                print(f"{suite} / {method}: {result['status']}: {result.get('reason', '')}")
    return 0


def cmd_report(args) -> int:
    from .report import write_readme

    print(f"wrote {write_readme(Path(args.results_dir))}")
    return 0


def cmd_speed(args, argv: Sequence[str]) -> int:
    from .speed import main as speed_main

    return speed_main(args, "python -m benchmarks " + shlex.join(argv))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="Benchmark suites for sympy_series_inverse.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="suites and methods")
    m = sub.add_parser("make-suites", help="rebuild benchmarks/suites/*.jsonl deterministically")
    m.add_argument("--only", nargs="+", choices=list(SUITES), help="only these suites")
    m.add_argument("--check", action="store_true", help="compare with a fresh build instead of writing (exit 1 if stale)")
    r = sub.add_parser("run", help="run suites through methods")
    r.add_argument("--suite", required=True, help="suite name(s), comma separated, or 'all'")
    r.add_argument("--method", required=True, help="method name(s), comma separated, or 'all'")
    r.add_argument("--limit", type=int, help="only the first N rows (results get a .limitN suffix)")
    r.add_argument("--case-timeout", type=float, default=10.0, help="seconds per method call (default: %(default)s)")
    r.add_argument("--verify-budget", type=float, default=3.0, help="seconds per candidate verification (default: %(default)s)")
    r.add_argument("--include-in-sample", action="store_true",
                   help="score trained methods on training-split rows too (the result is labelled in-sample)")
    r.add_argument("--results-dir", default=str(runner.RESULTS_DIR), help="where results go (default: benchmarks/results)")
    r.add_argument("--bundle", action="append", metavar="PATH",
                   help="also evaluate this bundle folder (not shipped in pretrained/): methods NAME, NAME:greedy, NAME:beam")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    rep = sub.add_parser("report", help="gather results into benchmarks/results/README.md")
    rep.add_argument("--results-dir", default=str(runner.RESULTS_DIR))
    s = sub.add_parser("speed", help="speed ratios, measured in one run")
    from .speed import add_arguments

    add_arguments(s)
    s.add_argument("--results-dir", default=str(runner.RESULTS_DIR))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return cmd_list(args)
    if args.command == "make-suites":
        return cmd_make_suites(args)
    if args.command == "run":
        return cmd_run(args, argv)
    if args.command == "report":
        return cmd_report(args)
    return cmd_speed(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())

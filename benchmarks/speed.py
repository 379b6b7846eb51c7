"""``python -m benchmarks speed``: the speed ratios, all measured in one run.

- exact engine against ``sympy.series`` on the paper grammar (``engine_speed.measure``);
- ``series_inverse`` latency per query (lookup, and the default model), and what one answer
  costs in ``sympy.series`` calls;
- dataset generation rate for the paper protocol (``data_speed.measure``, fresh process);
- training throughput of the real trainer step against a bare LSTM loop (``train_speed.measure``);
- a batch of series against one at a time through each shipped network's beam search
  (``beam_speed.measure``).

Every part runs in this one process (the data set generation in a child it starts), one after
another, and the ratios compare numbers taken in this same run. The machine's load average
is recorded before and after each part: the cores may be shared. Results go to
``benchmarks/results/speed.json`` and ``speed.md``; ``--quick`` uses smaller sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["PARTS", "add_arguments", "main", "speed_markdown"]

PARTS = ("engine", "latency", "data", "train", "beam")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="+", choices=PARTS, help="only these parts")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run; ratios are noisier)")
    p.add_argument("--engine-limit", type=int, default=400, help="analytic functions timed against sympy.series (default: %(default)s)")
    p.add_argument("--latency-rows", type=int, default=100, help="paper-heldout rows per model for the latency (default: %(default)s)")
    p.add_argument("--samples", type=int, default=137_000, help="paper-protocol samples to generate (default: %(default)s)")
    p.add_argument("--beam-queries", type=int, default=64, help="series in the beam comparison's batch (default: %(default)s)")
    p.add_argument("--train-steps", type=int, default=20, help="trainer steps per round and side (default: %(default)s)")
    p.add_argument("--bundle", action="append", metavar="PATH", help="also time series_inverse with this (unshipped) bundle")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _clear_caches() -> None:
    from sympy.core.cache import clear_cache

    from sympy_series_inverse import engine

    engine._series.cache_clear()
    engine._taylor.cache_clear()
    clear_cache()


_COLD = """
import json, os, sys, time
t0 = time.perf_counter()
import sympy
from sympy_series_inverse import series_inverse
imported = time.perf_counter() - t0

def rss():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) / 1024 for l in fh if l.startswith("VmRSS:"))

before = rss()
x = sympy.Symbol("x")
t1 = time.perf_counter()
found = series_inverse(sympy.cos(x).series(x, 0, 6), model=sys.argv[1])
first = time.perf_counter() - t1
print(json.dumps({"import_s": imported, "first_call_s": first, "rss_before_mib": before, "rss_after_mib": rss(),
                  "top": str(found[0]) if found else None}))
"""


def _cold(model: str) -> dict:
    """A fresh process: import, then the first ``series_inverse`` call (model load, tables
    from the disk cache, one query) and the resident memory it added."""
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _COLD, model], capture_output=True, text=True, env=env, timeout=600)
    if out.returncode:
        return {"error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _exact_variants(bundles: list[str]) -> dict[str, str]:
    """Register ``NAME[float32]`` for each bundle whose default precision is not float32,
    so the two precisions are timed side by side; returns {variant: bundle}."""
    from sympy_series_inverse import hookimpl, plugins
    from sympy_series_inverse.backends.neural import NeuralBackend, NeuralConfig, resolve_precision

    from .methods import _bundle_folders

    if resolve_precision(NeuralConfig().precision) == "float32":
        return {}
    paths = _bundle_folders()
    variants = {f"{b}[float32]": b for b in bundles}

    class _Plugin:
        @hookimpl
        def register_models(self, register):
            for variant, bundle in variants.items():
                register(variant, lambda path=paths[bundle]: NeuralBackend(path, precision="float32"))

    plugins.register_plugin(_Plugin(), name="benchmarks-speed-float32")
    return variants


def _latency(models: list[str], rows: int, cold: bool = True) -> dict:
    """Per-query latency of series_inverse on the first paper-heldout rows. Caches are
    cleared before each model's pass, so no model profits from another's expansions.
    Neural models also get a cold start in a fresh process (``cold``)."""
    from sympy_series_inverse import series_inverse
    from sympy_series_inverse.backends.neural import NeuralConfig, resolve_precision

    from .methods import _shipped_bundles
    from .suites import read_suite

    sample = read_suite("paper-heldout").rows[:rows]
    bundles = _shipped_bundles()  # the default model's networks
    out = {}
    for model in models:
        neural = model != "lookup" and (model != "default" or bundles)
        if neural:
            import torch

            torch.set_num_threads(1)
        t = time.perf_counter()
        series_inverse(sample[0].series, model=model)  # build the model and its tables outside the clock
        warm = time.perf_counter() - t
        _clear_caches()
        times, verified = [], 0
        for row in sample:
            t = time.perf_counter()
            found = series_inverse(row.series, model=model)
            times.append(time.perf_counter() - t)
            verified += bool(found)
        times.sort()
        base = model.split("[")[0]
        precision = "float32" if model.endswith("[float32]") else resolve_precision(NeuralConfig().precision)
        out[model] = {"rows": len(sample), "median_s": statistics.median(times),
                      "p95_s": times[min(len(times) - 1, int(0.95 * len(times)))], "warm_up_s": warm,
                      "verified": verified, "precision": precision if neural else None,
                      "members": ["lookup", *sorted(bundles)] if model == "default" else [base]}
        if cold and neural and not model.endswith("]"):
            out[model]["cold"] = _cold(model)
    return out


def main(args, command: str) -> int:
    from .runner import git_state, machine

    sizes = {
        "engine_limit": 100 if args.quick else args.engine_limit,
        "latency_rows": 30 if args.quick else args.latency_rows,
        "samples": 20_000 if args.quick else args.samples,
        "beam_queries": 16 if args.quick else args.beam_queries,
        "train_steps": 5 if args.quick else args.train_steps,
    }
    parts = args.only or list(PARTS)
    from .methods import add_bundle

    for path in args.bundle or ():
        add_bundle(path)
    result: dict = {"schema": "benchmarks.speed/1", "command": command, "git": git_state(), "machine": machine(),
                    "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sizes": sizes,
                    "quick": bool(args.quick), "parts": {}, "ratios": {}}
    for part in parts:
        before, t0 = _load(), time.perf_counter()
        print(f"-- {part} (load average {before})", file=sys.stderr, flush=True)
        try:
            if part == "engine":
                from .engine_speed import measure

                r = measure(order=7, limit=sizes["engine_limit"], echo=lambda s: print(s, file=sys.stderr))
            elif part == "latency":
                from .methods import _bundle_folders

                networks = sorted(_bundle_folders())  # shipped and --bundle ones
                r = _latency(["lookup", "default", *networks, *_exact_variants(networks)], sizes["latency_rows"])
            elif part == "data":
                from .data_speed import measure

                r = measure(sizes["samples"])
            elif part == "train":
                from .train_speed import build_parser, measure

                r = measure(build_parser().parse_args(["--steps", str(sizes["train_steps"])]))
            else:
                from .beam_speed import build_parser, measure
                from .methods import _bundle_folders

                r = {}
                for name, folder in sorted(_bundle_folders().items()):  # each network as the product decodes
                    m = measure(build_parser().parse_args(["--bundle", str(folder), "--queries", str(sizes["beam_queries"])]))
                    m["single_median_s"] = statistics.median(m.pop("single_s"))
                    m["single_cpu_median_s"] = statistics.median(m.pop("single_cpu_s"))
                    r[name] = m
            r["load_average"] = {"before": before, "after": _load()}
            r["seconds"] = round(time.perf_counter() - t0, 1)
            result["parts"][part] = r
        except Exception as e:  # noqa: BLE001 - one failing part must not lose the others
            result["parts"][part] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=4)}
            print(f"{part} failed: {e!r}", file=sys.stderr)
    result["ratios"] = ratios(result["parts"])
    result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    folder = Path(args.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = "speed.quick" if args.quick else "speed"
    (folder / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    text = speed_markdown(result)
    (folder / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def ratios(parts: dict) -> dict:
    out = {}
    e = parts.get("engine", {})
    if "speedup_median" in e:
        out["engine_vs_sympy_series"] = e["speedup_median"].get("default")
        out["engine_ring_vs_sympy_series"] = e["speedup_median"].get("ring")
    lat = parts.get("latency", {})
    if e.get("median_s", {}).get("sympy"):
        for model, r in lat.items():
            if isinstance(r, dict) and "median_s" in r:
                out[f"series_inverse_{model}_in_sympy_series_calls"] = r["median_s"] / e["median_s"]["sympy"]
    d = parts.get("data", {})
    if "rate" in d:
        out["data_rate_vs_target"] = d["rate"] / (137_000 / 120)
    t = parts.get("train", {})
    if "ratio" in t:
        out["trainer_vs_bare_loop"] = t["ratio"]
    for name, b in _beam_entries(parts.get("beam", {})):
        out["batched_vs_single_beam" + (f"_{name}" if name else "")] = b["ratio"]
    return out


def _beam_entries(beam: dict) -> list[tuple[str | None, dict]]:
    """(bundle name, measurement) pairs: one per network, or the one random-weights entry of
    result files written before the part measured the shipped bundles."""
    if "ratio" in beam:
        return [(None, beam)]
    return [(name, b) for name, b in beam.items() if isinstance(b, dict) and "ratio" in b]


def _f(v, fmt="{:.1f}") -> str:
    return "–" if v is None else fmt.format(v)


def speed_markdown(data: dict) -> str:
    p = data["parts"]
    r = ratios(p)  # derived from the stored measurements, so a fixed formula applies to old files too
    m = data["machine"]
    lines = [
        f"Measured in one run by `{data['command']}` at commit `{(data['git'].get('commit') or '')[:12]}`"
        f"{' (uncommitted changes)' if data['git'].get('dirty') else ''}, {data['started_at']}; {m['cpu']}, "
        f"{m['cores']} cores, Python {m['python']}, SymPy {m['sympy']}, torch {m.get('torch')}. The load average "
        "before/after each part is given: where it exceeds the core count the cores were shared and absolute "
        "numbers are slower than on an idle machine (ratios within a part are measured side by side)."
        + (" QUICK sizes." if data.get("quick") else ""),
        "",
        "| what | ratio | numbers behind it | load before / after |",
        "|---|---|---|---|",
    ]

    def load(part):
        la = p.get(part, {}).get("load_average", {})
        return f"{la.get('before', '–')} / {la.get('after', '–')}"

    e = p.get("engine", {})
    if "median_s" in e:
        lines.append(
            f"| exact engine ({e['default_tier']} tier) vs `sympy.series`, per function | "
            f"{_f(r.get('engine_vs_sympy_series'), '{:.0f}')}x (median of per-function ratios) | "
            f"{e['analytic']} analytic paper functions, n = {e['order']}: sympy.series median "
            f"{1e3 * e['median_s']['sympy']:.1f} ms, engine {1e3 * e['median_s']['default']:.3f} ms, ring tier "
            f"{1e3 * e['median_s']['ring']:.3f} ms ({_f(r.get('engine_ring_vs_sympy_series'), '{:.0f}')}x); "
            f"{len(e['mismatches'])} mismatches | {load('engine')} |")
    for model, v in p.get("latency", {}).items():
        if isinstance(v, dict) and "median_s" in v:
            key = f"series_inverse_{model}_in_sympy_series_calls"
            precision = f", {v['precision']}" if v.get("precision") else ""
            cold = v.get("cold") or {}
            cold_text = ""
            if "first_call_s" in cold:
                cold_text = (f"; cold: first call {cold['first_call_s']:.2f} s after a {cold['import_s']:.2f} s import "
                             f"(target 2 s), RSS {cold['rss_before_mib']:.0f} -> {cold['rss_after_mib']:.0f} MiB "
                             f"(+{cold['rss_after_mib'] - cold['rss_before_mib']:.0f}; target 300 MiB), top answer "
                             f"`{cold['top']}`")
            elif "error" in cold:
                cold_text = f"; cold start failed: {cold['error'][-200:]}"
            target = f"{v['median_s'] / 0.05:.2f} of the 50 ms target; " if v.get("precision") else ""
            lines.append(
                f"| `series_inverse(model='{model}')` latency{precision} | {target}{_f(r.get(key), '{:.3g}')} "
                f"`sympy.series` calls | median {1e3 * v['median_s']:.2f} ms, p95 {1e3 * v['p95_s']:.2f} ms over "
                f"{v['rows']} paper-heldout queries (members: {', '.join(v['members'])}); {v['verified']} answered "
                f"with a verified function; warm-up {v['warm_up_s']:.1f} s{cold_text} | {load('latency')} |")
    d = p.get("data", {})
    if "rate" in d:
        lines.append(f"| dataset generation rate vs target (137k samples in 120 s) | {_f(r.get('data_rate_vs_target'), '{:.2f}')}x | "
                     f"{d['samples']:,} paper-protocol samples in {d['wall_s']:.1f} s = {d['rate']:,.0f} samples/s; "
                     f"peak RSS {d['peak_rss_mib']:.0f} MiB | {load('data')} |")
    t = p.get("train", {})
    if "ratio" in t:
        lines.append(f"| trainer step vs bare LSTM loop (throughput) | {100 * t['ratio']:.0f} % | "
                     f"{t['trainer_pairs_per_s']:.0f} vs {t['bare_pairs_per_s']:.0f} pairs/s, {t['backend']} "
                     f"{t['embedding']}/{t['hidden']}, batch {t['batch_size']}, {t['rounds']} x {t['steps']} steps | "
                     f"{load('train')} |")
    for name, b in _beam_entries(p.get("beam", {})):
        if name is None:  # an old file: random weights, one thread count
            lines.append(f"| batched vs one-at-a-time beam search (throughput) | {b['ratio']:.1f}x | "
                         f"{b['batched_throughput']:.1f} vs {b['single_throughput']:.1f} series/s; {b['queries']} "
                         f"sources, beam {b['beam']}, hidden {b['hidden']}, {b.get('dtype', 'float32')}, random weights; "
                         f"single-query median {1e3 * b['single_median_s']:.0f} ms; identical hypotheses "
                         f"{b['identical']}/{b['queries']} | {load('beam')} |")
            continue
        step = b["step_row_s"]
        lines.append(
            f"| `{name}`: a batch vs one series at a time, beam search (throughput; target 5x) | {b['ratio']:.1f}x | "
            f"{b['batched_throughput']:.1f} vs {b['single_throughput']:.1f} series/s over {b['queries']} paper-heldout "
            f"series, beam {b['beam']}, {b['dtype']}; one series on {b['threads']} thread (median {1e3 * b['single_median_s']:.0f} ms), "
            f"the batch in {b['batch_threads']} parts side by side ({b['ratio_same_threads']:.1f}x as one part); decoder step per row "
            f"{1e6 * step['beam']:.0f} us at {b['beam']} rows vs {1e6 * step['batch']:.0f} us at {b['queries'] * b['beam']}: "
            f"the network's work gains at most {b['step_bound']:.1f}x; same best expression for {b['identical']}/{b['queries']} | "
            f"{load('beam')} |")
    for part, v in p.items():
        if "error" in v:
            lines.append(f"| {part} | failed | {v['error']} | |")
    return "\n".join(lines) + "\n"

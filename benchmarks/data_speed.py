"""Dataset generation speed and memory: the paper-protocol dataset (137k samples).

Runs the generator in a fresh process (cold caches), then prints wall time, samples per
second and peak resident memory of the generating processes. Targets (issue 3): at most
2 minutes and under 2 GiB on a 2-core machine.

    python benchmarks/data_speed.py [--samples 137000] [--grammar paper]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHILD = """
import sys
from sympy_series_inverse.data import generate
generate(sys.argv[1], sys.argv[2], mode="paper", samples=int(sys.argv[3]), seed=0)
"""


def measure(samples: int = 137_000, grammar: str = "paper") -> dict:
    """Generate the paper-protocol data set in a fresh process; wall time, rate, peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "data")
        env = {**os.environ, "SYMPY_SERIES_INVERSE_CACHE": os.path.join(tmp, "cache")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD, grammar, out, str(samples)], check=True, env=env)
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with open(os.path.join(out, "manifest.json")) as fh:
            manifest = json.load(fh)
    total = sum(manifest["counts"].values())
    return {"samples": total, "wall_s": elapsed, "rate": total / elapsed, "peak_rss_mib": peak_kib / 1024,
            "cores": os.cpu_count(), "grammar": grammar}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=137_000)
    p.add_argument("--grammar", default="paper")
    args = p.parse_args(argv)
    r = measure(args.samples, args.grammar)
    elapsed, peak = r["wall_s"], r["peak_rss_mib"]
    print(f"samples: {r['samples']}  wall: {elapsed:.1f} s  rate: {r['rate']:,.0f} samples/s  "
          f"peak RSS (largest process): {peak:.0f} MiB  cores: {r['cores']}")
    print(f"targets: wall <= 120 s -> {'met' if elapsed <= 120 else 'NOT met'}; "
          f"peak RSS < 2048 MiB -> {'met' if peak < 2048 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=137_000)
    p.add_argument("--grammar", default="paper")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "data")
        env = {**os.environ, "SYMPY_SERIES_INVERSE_CACHE": os.path.join(tmp, "cache")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD, args.grammar, out, str(args.samples)], check=True, env=env)
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        manifest = json.load(open(os.path.join(out, "manifest.json")))
    total = sum(manifest["counts"].values())
    print(f"samples: {total}  wall: {elapsed:.1f} s  rate: {total / elapsed:,.0f} samples/s  "
          f"peak RSS (largest process): {peak_kib / 1024:.0f} MiB  cores: {os.cpu_count()}")
    print(f"targets: wall <= 120 s -> {'met' if elapsed <= 120 else 'NOT met'}; "
          f"peak RSS < 2048 MiB -> {'met' if peak_kib / 1024 < 2048 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

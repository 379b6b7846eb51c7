"""A bundle's beam search in float32 against bfloat16, on its own held-out test split.

    python benchmarks/precision.py pretrained/paper-lstm [--beam 10 30] [--limit N]

For each precision and beam width: the share of rows whose top hypothesis verifies, whose
any hypothesis verifies (what ``series_inverse`` returns first, since it ranks verified
candidates first), how often the two precisions agree on the top hypothesis, and the
wall time of the batched search (32 series per batch, one thread). The data set is
regenerated from the bundle's recorded settings (and its hash checked), as the trainer's
``--evaluate`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import sympy
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from sympy_series_inverse.backends.neural import NeuralBackend  # noqa: E402
from sympy_series_inverse.data import read_split  # noqa: E402
from sympy_series_inverse.series import SeriesData  # noqa: E402
from sympy_series_inverse.train import _data_for_bundle, assess_beam  # noqa: E402

PRECISIONS = ("float32", "bfloat16")


def measure(bundle: Path, beams: list[int], limit: int | None = None, batch: int = 32) -> dict:
    torch.set_num_threads(1)
    data = _data_for_bundle(bundle, None, None)
    x = sympy.Symbol("x")
    samples = list(read_split(data, "test"))[:limit]
    series = [SeriesData(x, 0, s.k + 1, tuple(s.coeffs)) for s in samples]
    out: dict = {"bundle": str(bundle), "rows": len(series), "beams": {}}
    for width in beams:
        tops: dict[str, list] = {}
        row: dict = {}
        for precision in PRECISIONS:
            backend = NeuralBackend(bundle, precision=precision)
            t = time.perf_counter()
            top1 = any_ = 0
            tops[precision] = []
            for i in range(0, len(series), batch):
                chunk = series[i : i + batch]
                for sd, hyps in zip(chunk, backend.decode(chunk, width)):
                    flags = [ok for _, ok in assess_beam(backend.tokenizer, hyps, sd)]
                    top1 += bool(flags and flags[0])
                    any_ += any(flags)
                    tops[precision].append(hyps[0][0] if hyps else None)
            row[precision] = {"top1_verified": top1 / len(series), "any_verified": any_ / len(series),
                              "seconds": time.perf_counter() - t}
        row["same_top1"] = sum(a == b for a, b in zip(*tops.values())) / len(series)
        out["beams"][str(width)] = row
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path)
    p.add_argument("--beam", type=int, nargs="+", default=[10])
    p.add_argument("--limit", type=int, default=None, help="only the first N test rows")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    r = measure(args.bundle, args.beam, args.limit)
    print(f"{r['bundle']}: {r['rows']} held-out rows")
    print("| beam | precision | top-1 verified % | any verified % | seconds | same top-1 % |")
    print("|---|---|---|---|---|---|")
    for width, row in r["beams"].items():
        for precision in PRECISIONS:
            m = row[precision]
            print(f"| {width} | {precision} | {100 * m['top1_verified']:.1f} | {100 * m['any_verified']:.1f} | "
                  f"{m['seconds']:.1f} | {100 * row['same_top1']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

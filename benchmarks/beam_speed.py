"""Beam-search speed of a paper-size LSTM: batched vs one query at a time, in one run.

    python benchmarks/beam_speed.py [--hidden 512] [--queries 64] [--beam 10]

A randomly initialised model (the weights do not change the cost, only how long the
outputs are, which is reported) over the 45-token prefix vocabulary, random sources of
20-40 tokens, grammar-constrained beam search as the backends run it. Verification is not
included. Reports batched throughput against one-at-a-time throughput (target >= 5x), the
median and p95 latency of a single query (target median <= 50 ms on 2 CPU cores), and the
resident memory before and after loading the model. ``--dtype bfloat16`` and ``--threads``
show the two levers; ``--attention`` measures the appendix-B variant.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq
from sympy_series_inverse.backends.lstm_attention import LSTMAttentionConfig, LSTMAttentionSeq2Seq
from sympy_series_inverse.decoding import PrefixConstraint, beam_search
from sympy_series_inverse.tokenizers import EOS, SOS, PrefixTokenizer


def rss_mib() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--embedding", type=int, default=150)
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--beam", type=int, default=10)
    ap.add_argument("--max-len", type=int, default=32, help="output tokens, <eos> excluded")
    ap.add_argument("--length-penalty", default="average")
    ap.add_argument("--attention", action="store_true", help="the appendix-B attention variant")
    ap.add_argument("--no-constraint", action="store_true")
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                    help="weights and activations; bfloat16 halves the matrix work on CPUs with AVX512-BF16")
    # One intra-op thread by default: a beam step is small matrices that gain little from
    # splitting, and when the cores are shared torch's spinning thread pool can make a
    # 2-thread run several times slower (seen here: 555 ms vs 141 ms median per query).
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def measure(args) -> dict:
    """Batched against one-at-a-time beam search in one run (``args`` as build_parser gives)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab = PrefixTokenizer().default_vocab()
    sos, eos = vocab.id(SOS), vocab.id(EOS)

    rss_before = rss_mib()
    if args.attention:
        model = LSTMAttentionSeq2Seq(LSTMAttentionConfig(len(vocab), args.embedding, args.hidden))
    else:
        model = LSTMSeq2Seq(LSTMConfig(len(vocab), args.embedding, args.hidden))
    model.eval().to(getattr(torch, args.dtype))
    rss_model = rss_mib()

    g = torch.Generator().manual_seed(args.seed)
    lengths = torch.randint(20, 41, (args.queries,), generator=g)
    src = torch.randint(4, len(vocab), (args.queries, int(lengths.max())), generator=g)
    src[torch.arange(src.size(1)) >= lengths.unsqueeze(1)] = vocab.id("<pad>")
    constraint = None if args.no_constraint else PrefixConstraint(vocab, args.max_len)
    kw = dict(beam_size=args.beam, sos_id=sos, eos_id=eos, max_len=args.max_len,
              length_penalty=args.length_penalty, constraint=constraint)

    with torch.inference_mode():
        beam_search(model, src[:2], lengths[:2], **kw)  # warm-up: allocator, kernels
        single, single_cpu, single_hyps = [], [], []
        for i in range(args.queries):
            t, cpu = time.perf_counter(), time.process_time()
            hyps = beam_search(model, src[i:i + 1], lengths[i:i + 1], **kw)
            single.append(time.perf_counter() - t)
            single_cpu.append(time.process_time() - cpu)
            single_hyps.append(hyps[0])
        t = time.perf_counter()
        batched_hyps = beam_search(model, src, lengths, **kw)
        batched = time.perf_counter() - t
    rss_end = rss_mib()

    n = args.queries
    # Batched and one-at-a-time search must agree (bfloat16 rounds differently by batch size).
    same = sum([h.tokens for h in a] == [h.tokens for h in b] for a, b in zip(batched_hyps, single_hyps))
    return {
        "model": "lstm+attention" if args.attention else "lstm", "vocab": len(vocab), "embedding": args.embedding,
        "hidden": args.hidden, "parameters": sum(p.numel() for p in model.parameters()), "dtype": args.dtype,
        "torch": torch.__version__, "threads": args.threads, "beam": args.beam, "max_len": args.max_len,
        "length_penalty": args.length_penalty, "constraint": constraint is not None, "queries": n,
        "best_output_tokens": statistics.mean(len(hyps[0].tokens) for hyps in single_hyps),
        "single_s": single, "single_cpu_s": single_cpu, "batched_s": batched,
        "single_throughput": n / sum(single), "batched_throughput": n / batched,
        "ratio": (n / batched) / (n / sum(single)), "identical": same,
        "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
        "rss_mib": {"before": rss_before, "model": rss_model, "end": rss_end},
    }


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    r = measure(args)
    single, n = r["single_s"], r["queries"]
    print(f"model: {r['model']}, vocab {r['vocab']}, "
          f"embedding {r['embedding']}, hidden {r['hidden']}, {r['parameters'] / 1e6:.2f} M parameters; "
          f"{r['dtype']}; torch {r['torch']}, {r['threads']} thread(s)")
    print(f"search: beam {r['beam']}, max_len {r['max_len']}, penalty {r['length_penalty']}, "
          f"constraint {'prefix' if r['constraint'] else 'off'}; {n} sources of 20-40 tokens; "
          f"best output {r['best_output_tokens']:.1f} tokens on average")
    print(f"one at a time: {r['single_throughput']:8.1f} series/s   median {statistics.median(single) * 1e3:6.1f} ms   "
          f"p95 {percentile(single, 95) * 1e3:6.1f} ms   "
          f"(CPU time: median {statistics.median(r['single_cpu_s']) * 1e3:.1f} ms)")
    print(f"batched ({n}):  {r['batched_throughput']:8.1f} series/s   {r['batched_s'] * 1e3:6.1f} ms for the batch")
    print(f"batched / one-at-a-time throughput: {r['ratio']:.2f}x "
          f"(identical hypotheses for {r['identical']}/{n} sources)")
    print(f"load average {r['load_average']:.2f} on {r['cpus']} CPUs (other processes slow every number)")
    rss = r["rss_mib"]
    print(f"RSS: {rss['before']:.0f} MiB before the model, {rss['model']:.0f} MiB loaded "
          f"(+{rss['model'] - rss['before']:.0f}), {rss['end']:.0f} MiB after the searches")


if __name__ == "__main__":
    main()

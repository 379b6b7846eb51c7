"""Beam-search speed: a batch of series decoded together against one at a time, in one run.

    python benchmarks/beam_speed.py [--bundle pretrained/paper-lstm] [--queries 64] [--beam 10]

Decodes the first ``--queries`` series of the ``paper-heldout`` suite through the product's
neural backend (tokenizer, network, grammar-constrained beam search; no verification),
once one series per call (``series_inverse``'s path, ``--threads`` CPU threads) and once
as one batch (``series_inverse_many``'s path: split into ``--batch-threads`` parts searched
side by side, one thread each). Both default to the product's: one thread for one series,
one part per usable core for a batch. The batch is also run as one part, so the gain from
batching alone and the gain from batching plus every core are both shown. Without ``--bundle`` a
randomly initialised paper-size network is used (``--hidden``, ``--attention``): the
weights do not change the cost per step, only how long the outputs are (always the
length limit with random weights).

It also times one decoder step per row at the beam's size (one series: ``--beam`` rows)
and at the batch's (``--queries * --beam`` rows, as the product runs a batch: in
``--batch-threads`` parts side by side, one thread each, counted as perfectly parallel):
batching cannot gain more than that ratio on the network's steps.

Targets (issue 4): a batch at least 5x the throughput of one series at a time; a single
series' median latency at most 50 ms on 2 CPU cores (``python -m benchmarks speed``
measures the latency through ``series_inverse``, with verification).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from sympy_series_inverse.backends.neural import NeuralBackend, _torch_threads, usable_cores


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
    ap.add_argument("--bundle", help="a pretrained bundle folder; default: random weights at --hidden/--embedding")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--embedding", type=int, default=150)
    ap.add_argument("--attention", action="store_true", help="random weights: the appendix-B attention variant")
    ap.add_argument("--queries", type=int, default=64, help="series in the batch")
    ap.add_argument("--beam", type=int, default=10)
    ap.add_argument("--max-len", type=int, default=32, help="random weights: output tokens, <eos> excluded")
    ap.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                    help="as NeuralConfig.precision; auto: bfloat16 where the CPU computes it natively")
    # One intra-op thread for one series (the product's NeuralConfig.threads): a beam step
    # is small matrices that gain little from splitting, and when the cores are shared
    # torch's spinning thread pool can make a 2-thread run several times slower.
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for one series")
    ap.add_argument("--batch-threads", type=int, default=None,
                    help="parts the batch is split into, one thread each; default one per usable core, as the product")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _random_bundle(args, folder: Path) -> Path:
    """A paper-size network with random weights, saved as a bundle."""
    from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq
    from sympy_series_inverse.backends.lstm_attention import LSTMAttentionConfig, LSTMAttentionSeq2Seq
    from sympy_series_inverse.pretrained import save_bundle
    from sympy_series_inverse.tokenizers import PrefixTokenizer

    torch.manual_seed(args.seed)
    vocab = PrefixTokenizer().vocab
    cfg, cls, backend = (
        (LSTMAttentionConfig, LSTMAttentionSeq2Seq, "lstm-attention") if args.attention else (LSTMConfig, LSTMSeq2Seq, "lstm")
    )
    model_config = cfg(len(vocab), args.embedding, args.hidden)
    config = {"name": f"random-{backend}", "backend": backend, "model": model_config.__dict__, "tokenizer": "prefix",
              "grammar": "paper", "grammar_version": "1.0",
              "decoding": {"max_len": args.max_len, "length_penalty": "average", "constrained": True}}
    return save_bundle(folder / "random", config, vocab, cls(model_config), metrics={}, card="# random weights\n")


def _step_cost(backend: NeuralBackend, series, rows: int, threads, repeats: int = 20) -> float:
    """Seconds per row of one decoder step with ``rows`` hypotheses (median of repeats)."""
    module = backend.bundle.module
    src, lengths = backend._source(series)
    with torch.inference_mode(), _torch_threads(threads):
        state = module.reorder_state(module.encode(src, lengths), torch.arange(rows) % src.size(0))
        tokens = torch.randint(4, len(backend.bundle.vocab), (rows,), generator=torch.Generator().manual_seed(0))
        times = []
        for _ in range(repeats + 3):
            t = time.perf_counter()
            module.decode_step(tokens, state)
            times.append(time.perf_counter() - t)
    return statistics.median(times[3:]) / rows


def _best(hyps):
    """The best hypothesis as a SymPy expression (its tokens where they do not parse)."""
    from sympy import Symbol

    from sympy_series_inverse.errors import ParseError
    from sympy_series_inverse.parser import parse_prefix

    if not hyps:
        return None
    try:
        return parse_prefix(hyps[0][0], {"x": Symbol("x")})
    except ParseError:
        return hyps[0][0]


def measure(args) -> dict:
    """One series at a time against one batch (``args`` as build_parser gives)."""
    from benchmarks.suites import read_suite

    rows = read_suite("paper-heldout").rows
    series = [rows[i % len(rows)].series for i in range(args.queries)]
    n = len(series)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.bundle or _random_bundle(args, Path(tmp))
        rss_before = rss_mib()
        settings = dict(precision=args.precision, threads=args.threads, batch_threads=args.batch_threads, batch_size=n)
        backend = NeuralBackend(folder, **settings)
        rss_model = rss_mib()
        # The same network (not a second copy) for the batch at the one-series thread count.
        same_threads = NeuralBackend(backend.bundle, **{**settings, "batch_threads": args.threads, "precision": backend.precision})
        backend.decode(series[:2], args.beam)  # warm-up: allocator, kernels, the cached step weights
        backend.decode(series[:1], args.beam)
        single, single_cpu, single_hyps = [], [], []
        for s in series:
            t, cpu = time.perf_counter(), time.process_time()
            single_hyps.append(backend.decode([s], args.beam)[0])
            single.append(time.perf_counter() - t)
            single_cpu.append(time.process_time() - cpu)
        t = time.perf_counter()
        batched_hyps = backend.decode(series, args.beam)
        batched = time.perf_counter() - t
        t = time.perf_counter()
        same_threads.decode(series, args.beam)
        batched_same = time.perf_counter() - t
        step_beam = _step_cost(backend, series[:1], args.beam, args.threads)
        # The batch runs as `parts` searches side by side, one thread each: per row, ideally
        # a part's step cost divided by the number of parts.
        parts = min(n, args.batch_threads or usable_cores())
        step_batch = _step_cost(backend, series, max(1, n // parts) * args.beam, 1) / parts
        step_batch_same = _step_cost(backend, series, n * args.beam, args.threads)
        rss_end = rss_mib()
        module = backend.bundle.module
        name = backend.name
        config = module.config

    # bfloat16 rounds differently for different batch sizes, so near-ties (x + cos(x) against
    # cos(x) + x) may come out in another order: compare the best hypotheses as expressions.
    same = sum(_best(a) == _best(b) for a, b in zip(batched_hyps, single_hyps))
    return {
        "bundle": args.bundle, "model": name, "backend": type(module).__name__, "embedding": config.embedding_dim,
        "hidden": config.hidden_size, "parameters": sum(p.numel() for p in module.parameters()),
        "dtype": backend.precision, "torch": torch.__version__, "threads": args.threads,
        "batch_threads": args.batch_threads or usable_cores(), "beam": args.beam,
        "max_len": backend.config.max_len, "queries": n,
        "best_output_tokens": statistics.mean(len(h[0][0]) if h else 0 for h in single_hyps),
        "single_s": single, "single_cpu_s": single_cpu, "batched_s": batched, "batched_same_threads_s": batched_same,
        "single_throughput": n / sum(single), "batched_throughput": n / batched,
        "ratio": sum(single) / batched, "ratio_same_threads": sum(single) / batched_same,
        "step_row_s": {"beam": step_beam, "batch": step_batch, "batch_same_threads": step_batch_same},
        "step_bound": step_beam / step_batch, "step_bound_same_threads": step_beam / step_batch_same,
        "identical": same, "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
        "rss_mib": {"before": rss_before, "model": rss_model, "end": rss_end},
    }


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    r = measure(args)
    single, n = r["single_s"], r["queries"]
    step = r["step_row_s"]
    print(f"model: {r['model']} ({r['backend']}), embedding {r['embedding']}, hidden {r['hidden']}, "
          f"{r['parameters'] / 1e6:.2f} M parameters; {r['dtype']}; torch {r['torch']}")
    print(f"search: beam {r['beam']}, max_len {r['max_len']}, grammar-constrained; {n} paper-heldout series; "
          f"best output {r['best_output_tokens']:.1f} tokens on average")
    print(f"one at a time ({r['threads']} thread(s)): {r['single_throughput']:8.1f} series/s   "
          f"median {statistics.median(single) * 1e3:6.1f} ms   p95 {percentile(single, 95) * 1e3:6.1f} ms   "
          f"(CPU time: median {statistics.median(r['single_cpu_s']) * 1e3:.1f} ms)")
    print(f"batched ({r['batch_threads']} part(s)):         {r['batched_throughput']:8.1f} series/s   "
          f"{r['batched_s'] * 1e3:6.1f} ms for the batch")
    print(f"batched (1 part):           {n / r['batched_same_threads_s']:8.1f} series/s   "
          f"{r['batched_same_threads_s'] * 1e3:6.1f} ms for the batch")
    print(f"batched / one-at-a-time throughput: {r['ratio']:.2f}x as the product runs them "
          f"({r['ratio_same_threads']:.2f}x as one part on {r['threads']} thread(s)); "
          f"identical best hypothesis for {r['identical']}/{n} series")
    print(f"decoder step per row: {step['beam'] * 1e6:.0f} us at {r['beam']} rows, "
          f"{step['batch'] * 1e6:.0f} us at {n * r['beam']} rows in {r['batch_threads']} parts side by side, "
          f"{step['batch_same_threads'] * 1e6:.0f} us ({r['threads']} thread(s)): the network's part of a batch "
          f"can gain at most {r['step_bound']:.2f}x ({r['step_bound_same_threads']:.2f}x)")
    print(f"load average {r['load_average']:.2f} on {r['cpus']} CPUs (other processes slow every number)")
    rss = r["rss_mib"]
    print(f"RSS: {rss['before']:.0f} MiB before the model, {rss['model']:.0f} MiB loaded "
          f"(+{rss['model'] - rss['before']:.0f}), {rss['end']:.0f} MiB after the searches")


if __name__ == "__main__":
    main()

"""Training throughput: the real trainer's step against a bare LSTM loop, in one run.

    python benchmarks/train_speed.py [--hidden-size 512] [--batch-size 64] [--steps 20] [--threads 1]

Both sides see the very same batches (the trainer's length-bucketed batches of the paper
grammar's dedup training split) and the same model sizes:

- trainer: ``Trainer.train_step(idx)``: batch slicing from the pre-tokenized tensors,
  forward, weighted cross-entropy, backward, gradient clipping, AdamW step, bookkeeping;
- bare: the same batches sliced *before* timing, then forward, ``F.cross_entropy``,
  backward, AdamW step on a fresh copy of the model.

The two are timed in alternating rounds (so a neighbour's load hits both alike) and the
report gives pairs/s of each and the ratio (target >= 80 %). Data are generated into
``runs/bench-data`` on first use unless ``--data`` names a dataset folder.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from sympy_series_inverse.train import TrainConfig, Trainer  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="dataset folder (default: generate the paper grammar's dedup set)")
    ap.add_argument("--backend", default="lstm", help="lstm or lstm-attention")
    ap.add_argument("--embedding-dim", type=int, default=150)
    ap.add_argument("--hidden-size", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="steps per round and side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: cores are shared here)")
    return ap


def measure(args) -> dict:
    """Trainer steps against a bare loop on the same batches, alternating rounds."""
    cfg = TrainConfig(data=args.data, run_dir="runs/bench", name="bench", backend=args.backend,
                      embedding_dim=args.embedding_dim, hidden_size=args.hidden_size, batch_size=args.batch_size,
                      threads=args.threads, quiet=True)
    if cfg.data is None:
        cfg.run_dir = "runs/bench"  # data generated into runs/bench/data
    trainer = Trainer(cfg)
    batches = trainer.batches.epoch(0)
    need = args.steps * args.rounds + 2
    batches = (batches * (need // len(batches) + 1))[:need]
    warm, timed = batches[:2], batches[2:]

    bare = copy.deepcopy(trainer.net)
    bare_opt = torch.optim.AdamW(bare.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sliced = [trainer.train.batch(i)[:4] for i in batches]  # (src, src_len, tgt_in, tgt_out), outside the clock

    def bare_step(src, src_len, tgt_in, tgt_out):
        logits = bare(src, src_len, tgt_in)
        loss = F.cross_entropy(logits.transpose(1, 2), tgt_out, ignore_index=0)
        bare_opt.zero_grad(set_to_none=True)
        loss.backward()
        bare_opt.step()

    for idx, b in zip(warm, sliced[:2]):
        trainer.train_step(idx)
        bare_step(*b)

    t_real, t_bare, rows = [], [], []
    for r in range(args.rounds):
        chunk = slice(r * args.steps, (r + 1) * args.steps)
        n = sum(len(i) for i in timed[chunk])
        t0 = time.perf_counter()
        for idx in timed[chunk]:
            trainer.train_step(idx)
        t_real.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in sliced[2:][chunk]:
            bare_step(*b)
        t_bare.append(time.perf_counter() - t0)
        rows.append(n)

    real = sum(rows) / sum(t_real)
    plain = sum(rows) / sum(t_bare)
    return {
        "backend": args.backend, "embedding": cfg.embedding_dim, "hidden": cfg.hidden_size, "layers": cfg.num_layers,
        "batch_size": cfg.batch_size, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "rounds": args.rounds, "steps": args.steps, "pairs": sum(rows),
        "trainer_pairs_per_s": real, "bare_pairs_per_s": plain, "ratio": real / plain,
        "per_round": [(n / a) / (n / b) for n, a, b in zip(rows, t_real, t_bare)],
        "median_ratio": statistics.median([b / a for a, b in zip(t_real, t_bare)]),
    }


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    r = measure(args)
    print(f"model: {r['backend']}, embedding {r['embedding']}, hidden {r['hidden']}, {r['layers']} layers; "
          f"batch {r['batch_size']}; {r['threads']} torch thread(s); torch {r['torch']}")
    print(f"{r['rounds']} rounds x {r['steps']} steps, {r['pairs']} pairs per side")
    print(f"trainer step (data pipeline included): {r['trainer_pairs_per_s']:8.1f} pairs/s")
    print(f"bare LSTM forward+backward+AdamW:      {r['bare_pairs_per_s']:8.1f} pairs/s")
    print(f"ratio: {r['ratio']:.1%} (target >= 80 %); per round: {', '.join(f'{v:.0%}' for v in r['per_round'])}; "
          f"median {r['median_ratio']:.1%}")


if __name__ == "__main__":
    main()

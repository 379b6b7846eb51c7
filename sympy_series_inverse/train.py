"""The trainer: ``python -m sympy_series_inverse.train`` writes a complete pretrained bundle.

The paper's recipe (appendix A) is the default: AdamW (lr 1e-3, weight decay 1e-5),
gradient-norm clip 10, 10 epochs, batch 64, teacher forcing, padding to the batch maximum,
``ReduceLROnPlateau(factor=0.1, patience=2)`` on the training loss; a 2-layer LSTM with
embedding 150 and hidden 512. Data are the ``dedup`` set of a registered grammar, split by
function class (no function of the test split, nor one sharing its truncated series, is
ever trained on).

Pipeline: data folder (given with ``--data`` or generated into ``RUN_DIR/data``) ->
tokenized once into padded tensors -> length-bucketed batches (``DistributedSampler``, so
the same code runs under ``torchrun``) -> one checkpoint per epoch in ``RUN_DIR``
(``--resume`` continues exactly) -> validation each epoch (teacher-forced loss, greedy
exact match and verified rate) -> the bundle (config, vocab, weights) -> evaluation of the
written bundle (:func:`evaluate_bundle`) on the held-out test split and, labelled
*in-sample*, on rows drawn from the training split as the paper's notebooks did -> model
card and metrics.json.

Examples::

    python -m sympy_series_inverse.train --out pretrained/paper-lstm --name paper-lstm
    torchrun --nproc_per_node 2 -m sympy_series_inverse.train --hidden-size 64 --epochs 2
    python -m sympy_series_inverse.train --evaluate pretrained/paper-lstm

Losses: see :mod:`sympy_series_inverse.losses`. Checkpoints hold only tensors and plain
containers and are read back with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shlex
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Sequence

import sympy
import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from . import __version__, losses, metrics, plugins
from .data import Sample, generate, read_manifest, read_split
from .decoding import InfixConstraint, PrefixConstraint, greedy
from .errors import BundleError, InputError
from .grammar import get_grammar
from .pretrained import architecture, save_bundle
from .series import SeriesData
from .tokenizers import EOS, PAD, SOS, SPECIALS, Vocab
from .verify import verify

__all__ = ["TrainConfig", "Trainer", "evaluate_bundle", "model_card", "build_parser", "lstm_in_fp32", "main"]

CHECKPOINT_FORMAT = 1
BUCKET_BATCHES = 16  # length-sort within chunks of this many batches
# Settings that may change when resuming; every other one must match the checkpoint.
_RESUMABLE = {"epochs", "stop_after", "resume", "quiet", "threads", "out", "eval_beam", "eval_limit", "eval_split",
              "in_sample_rows", "subset_rows", "device", "bf16", "card_notes"}


@dataclass
class TrainConfig:
    """Every setting of a run; the command-line options map one to one (``--hidden-size``)."""

    # data
    grammar: str = "paper"
    data: str | None = None
    data_seed: int = 0
    orders: tuple[int, ...] = (4, 5, 6)
    base_terms: str = "train"
    # model (paper section 5.1)
    backend: str = "lstm"
    tokenizer: str = "prefix"
    embedding_dim: int = 150
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.2
    attention_dim: int | None = None
    init: str | None = None
    # optimisation (paper appendix A)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    clip: float = 10.0
    plateau_factor: float = 0.1
    plateau_patience: int = 2
    plateau_on: str = "train"
    bucket: bool = True
    weighting: str = "uniform"
    keep: str = "best"
    # loss (paper section 5.2; see losses.py)
    loss: str = "ce"
    alpha: float = 1.0
    beta: float = 0.0
    ramp: str = "paper"
    wmse_clip: float = 10.0
    mrt_samples: int = 4
    mrt_risk_clip: float = 1.0
    mrt_sharpness: float = 1.0
    # run
    name: str = "model"
    out: str | None = None
    run_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    threads: int | None = None
    resume: bool = False
    stop_after: int | None = None
    quiet: bool = False
    # decoding and evaluation
    max_len: int = 40
    length_penalty: str = "average"
    eval_beam: int = 10
    eval_limit: int | None = None
    eval_split: str = "test"
    card_notes: str | None = None
    in_sample_rows: int = 500
    subset_rows: int = 64

    def __post_init__(self):
        self.orders = tuple(self.orders)
        checks = {
            "loss": (self.loss, losses.LOSSES),
            "weighting": (self.weighting, ("uniform", "prior")),
            "keep": (self.keep, ("best", "last")),
            "ramp": (self.ramp, ("paper", "none")),
            "plateau_on": (self.plateau_on, ("train", "valid")),
            "eval_split": (self.eval_split, ("test", "valid")),
        }
        for name, (value, known) in checks.items():
            if value not in known:
                raise InputError(f"unknown {name} {value!r}; known: {', '.join(known)}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_len < 1:
            raise InputError("epochs, batch size and max length must be positive")

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or Path("runs") / self.name)

    @property
    def out_path(self) -> Path:
        return Path(self.out or self.run_path / "bundle")


# -- data -------------------------------------------------------------------------------------


def _x0(manifest: dict) -> sympy.Expr:
    try:
        return sympy.Rational(manifest.get("x0", "0"))
    except (TypeError, ValueError) as e:
        raise InputError(f"expansion point {manifest.get('x0')!r} is not a rational number; not supported yet") from e


def _series(sample: Sample, x: sympy.Symbol, x0) -> SeriesData:
    return SeriesData(x, x0, sample.k + 1, tuple(sample.coeffs))


def prepare_data(cfg: TrainConfig, rank: int = 0, world: int = 1) -> Path:
    """The dataset folder: ``--data`` as given, else a dedup, by-function set generated
    into ``RUN_DIR/data`` (kept when its manifest still matches the grammar and settings)."""
    if cfg.data:
        read_manifest(cfg.data)  # fails early and clearly when it is not a dataset
        return Path(cfg.data)
    path = cfg.run_path / "data"
    if rank == 0:
        grammar = get_grammar(cfg.grammar)
        try:
            m = read_manifest(path)
            fresh = (m["grammar"], m["grammar_digest"], m["mode"], m["seed"], tuple(m["orders"]), m["split"]["method"],
                     m["split"].get("base_terms", "shuffled")) == (
                grammar.name, grammar.digest, "dedup", cfg.data_seed, tuple(sorted(set(cfg.orders))), "by-function", cfg.base_terms)
        except (InputError, KeyError):
            fresh = False
        if not fresh:
            generate(grammar, path, mode="dedup", orders=cfg.orders, seed=cfg.data_seed, split="by-function",
                     base_terms=cfg.base_terms)
    if world > 1:
        dist.barrier()
    return path


def make_tokenizer(name: str, train_pairs: Sequence[tuple[list[str], list[str]]] | None = None, vocab: Vocab | None = None):
    """The registered tokenizer ``name``; one without a fixed vocabulary gets one built from
    the training pairs (source and target tokens, as the paper's shared vocabulary)."""
    factory = plugins.get("tokenizer", name)
    if vocab is not None:
        return factory(vocab)
    try:
        return factory()
    except BundleError:
        if train_pairs is None:
            return factory(Vocab(SPECIALS))  # encoding only; the vocabulary comes next
        return factory(Vocab.build(s + t for s, t in train_pairs))


@dataclass
class Encoded:
    """One split, tokenized once into padded tensors (row i is ``samples[i]``)."""

    samples: list[Sample]
    series: list[SeriesData]
    target_tokens: list[tuple[str, ...]]
    src: torch.Tensor  # [N, L] ids, <pad> = 0
    src_len: torch.Tensor  # [N]
    tgt_in: torch.Tensor  # [N, T] <sos> + target
    tgt_out: torch.Tensor  # [N, T] target + <eos>
    weight: torch.Tensor  # [N] sample weights (mean 1 over the training split)

    def __len__(self) -> int:
        return len(self.samples)

    def to(self, device) -> "Encoded":
        for name in ("src", "tgt_in", "tgt_out", "weight"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def batch(self, idx: torch.Tensor):
        """Rows ``idx``, cut to the batch's longest source and target."""
        idx_cpu = idx.cpu()
        src_len = self.src_len[idx_cpu]
        idx = idx.to(self.src.device)
        tgt_in = self.tgt_in[idx]
        t = int((tgt_in != 0).sum(1).max())
        return self.src[idx, : int(src_len.max())], src_len, tgt_in[:, :t], self.tgt_out[idx, :t], self.weight[idx]


def encode_split(samples: list[Sample], tokenizer, x, x0, *, weighting: str = "uniform", weight_scale: float | None = None) -> Encoded:
    vocab = tokenizer.vocab
    series = [_series(s, x, x0) for s in samples]
    src_tok = [tokenizer.encode_series(s) for s in series]
    tgt_tok = [tuple(tokenizer.encode_function(s.function, x)) for s in samples]
    n = len(samples)
    lmax = max((len(t) for t in src_tok), default=1) or 1
    tmax = max((len(t) for t in tgt_tok), default=0) + 1
    src = torch.zeros(n, lmax, dtype=torch.long)
    tgt_in = torch.zeros(n, tmax, dtype=torch.long)
    tgt_out = torch.zeros(n, tmax, dtype=torch.long)
    sos, eos = vocab.id(SOS), vocab.id(EOS)
    for i, (s, t) in enumerate(zip(src_tok, tgt_tok)):
        src[i, : len(s)] = torch.tensor(vocab.encode(s), dtype=torch.long)
        ids = vocab.encode(t)
        tgt_in[i, : len(ids) + 1] = torch.tensor([sos, *ids], dtype=torch.long)
        tgt_out[i, : len(ids) + 1] = torch.tensor([*ids, eos], dtype=torch.long)
    if weighting == "prior":
        raw = torch.tensor([float(s.weight) for s in samples], dtype=torch.float32)
        weight = raw / (weight_scale if weight_scale is not None else raw.mean().clamp_min(1e-30))
    else:
        weight = torch.ones(n)
    src_len = torch.tensor([max(1, len(s)) for s in src_tok], dtype=torch.long)
    return Encoded(samples, series, tgt_tok, src, src_len, tgt_in, tgt_out, weight)


class Batches:
    """Index batches for one epoch: ``DistributedSampler`` order (this rank's share), then,
    with ``bucket``, chunks of ``BUCKET_BATCHES`` batches sorted by source length and the
    batches shuffled, so padding stays small. Deterministic in (seed, epoch, rank)."""

    def __init__(self, lengths: torch.Tensor, batch_size: int, *, seed: int, rank: int = 0, world: int = 1, bucket: bool = True):
        self.lengths = lengths.tolist()
        self.batch_size = batch_size
        self.seed = seed
        self.bucket = bucket
        self.sampler = DistributedSampler(range(len(self.lengths)), num_replicas=world, rank=rank, shuffle=True, seed=seed)

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def epoch(self, epoch: int) -> list[torch.Tensor]:
        self.sampler.set_epoch(epoch)
        order = list(self.sampler)
        bs = self.batch_size
        if self.bucket:
            chunk = bs * BUCKET_BATCHES
            order = [i for c in range(0, len(order), chunk) for i in sorted(order[c : c + chunk], key=lambda j: self.lengths[j])]
        batches = [torch.tensor(order[i : i + bs], dtype=torch.long) for i in range(0, len(order), bs)]
        if self.bucket:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(batches)
        return batches


# -- training ---------------------------------------------------------------------------------


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + rank * 104_729) % (2**63)


def _resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def hardware() -> dict:
    """CPU model, cores, torch version (and GPU) of this machine, for the model card."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "python": sys.version.split()[0],
            "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    """One training run (one process of it under ``torchrun``). ``fit()`` trains and returns
    the history; ``train_step``/``batches`` are what ``benchmarks/train_speed.py`` times."""

    def __init__(self, cfg: TrainConfig, *, command: str = ""):
        self.cfg = cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = _resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        threads = cfg.threads or max(1, min(8, (os.cpu_count() or 1) // self.world))
        torch.set_num_threads(threads)
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.commands = [command] if command else []
        self._setup_data()
        self._setup_model()
        self.history: list[dict] = []
        self.best = {"score": None, "epoch": None}
        self.start_epoch = 0
        self.elapsed = 0.0
        if cfg.resume:
            self._load_checkpoint()

    # -- setup --------------------------------------------------------------------------------

    def _setup_data(self) -> None:
        cfg = self.cfg
        self.data_dir = prepare_data(cfg, self.rank, self.world)
        self.manifest = read_manifest(self.data_dir)
        self.x = sympy.Symbol(self.manifest.get("variable", "x"))
        self.x0 = _x0(self.manifest)
        train = list(read_split(self.data_dir, "train"))
        valid = list(read_split(self.data_dir, "valid"))
        if not train or not valid:
            raise InputError(f"{self.data_dir}: the train and valid splits must not be empty")
        probe = make_tokenizer(cfg.tokenizer)
        pairs = None
        if probe.vocab.tokens == SPECIALS:  # a data-built vocabulary (the paper tokenizer)
            pairs = [(probe.encode_series(_series(s, self.x, self.x0)), probe.encode_function(s.function, self.x)) for s in train]
        self.tokenizer = make_tokenizer(cfg.tokenizer, pairs) if pairs is not None else probe
        self.vocab = self.tokenizer.vocab
        scale = None
        if cfg.weighting == "prior":
            scale = sum(float(s.weight) for s in train) / len(train)
        self.train = encode_split(train, self.tokenizer, self.x, self.x0, weighting=cfg.weighting, weight_scale=scale).to(self.device)
        self.valid = encode_split(valid, self.tokenizer, self.x, self.x0).to(self.device)
        too_long = sum(len(t) > cfg.max_len for t in self.train.target_tokens)
        if too_long and self.rank == 0:
            warnings.warn(f"{too_long} training targets are longer than --max-len {cfg.max_len}", stacklevel=2)
        self.batches = Batches(self.train.src_len, cfg.batch_size, seed=cfg.seed, rank=self.rank, world=self.world, bucket=cfg.bucket)
        self.sos, self.eos, self.pad = self.vocab.id(SOS), self.vocab.id(EOS), self.vocab.id(PAD)
        cls = PrefixConstraint if self.tokenizer.notation == "prefix" else InfixConstraint
        self.constraint = cls(self.vocab, cfg.max_len)
        self.curve_loss = None
        if cfg.loss == "token-wmse":
            self.curve_loss = losses.TokenCurveWMSE(self.vocab.tokens, clip=cfg.wmse_clip, x=self.x).to(self.device)
            self.train_curves = self.curve_loss.target_curves([s.function for s in train]).to(self.device)
        self.risk = None
        if cfg.loss == "mrt":
            allowed = {t for seq in self.train.target_tokens for t in seq}
            self.risk = losses.CurveRisk(self._parse, clip=cfg.mrt_risk_clip, x=self.x, allowed_tokens=allowed)
            self.sample_gen = torch.Generator().manual_seed(cfg.seed)

    def _setup_model(self) -> None:
        cfg = self.cfg
        arch = architecture(cfg.backend)
        wanted = {"vocab_size": len(self.vocab), "embedding_dim": cfg.embedding_dim, "hidden_size": cfg.hidden_size,
                  "num_layers": cfg.num_layers, "dropout": cfg.dropout, "pad_id": self.pad, "attention_dim": cfg.attention_dim}
        known = {f.name for f in fields(arch.config_class)}
        self.model_config = arch.config_class(**{k: v for k, v in wanted.items() if k in known})
        self.net = arch.module_class(self.model_config).to(self.device)
        if cfg.init:
            self.net.load_state_dict(_initial_weights(cfg.init))
        self.model = self.net
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience)
        self.bf16 = bool(cfg.bf16)
        if self.bf16 and self.device.type != "cuda":
            warnings.warn("--bf16 is for GPUs; training in float32 on the CPU", stacklevel=2)
            self.bf16 = False
        if self.bf16:
            self._probe_bf16()

    def _autocast(self):
        if self.bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _probe_bf16(self) -> None:
        """One tiny step under bf16 autocast. Where the LSTM kernel refuses bf16, the LSTMs
        run in float32 (the rest stays bf16); if that fails too, everything is float32."""
        for attempt in ("bf16", "lstm-fp32"):
            src, src_len, tgt_in, tgt_out, _ = self.train.batch(torch.arange(min(2, len(self.train))))
            try:
                with self._autocast():
                    logits = self.net(src, src_len, tgt_in)
                losses.cross_entropy(logits, tgt_out).backward()
                return
            except RuntimeError as e:
                if attempt == "bf16":
                    warnings.warn(f"the LSTM kernel refused bf16 ({e}); running the LSTMs in float32", stacklevel=2)
                    lstm_in_fp32(self.net, self.device.type)
                else:
                    warnings.warn(f"bf16 autocast failed ({e}); training in float32", stacklevel=2)
                    self.bf16 = False
            finally:
                self.net.zero_grad(set_to_none=True)

    def _parse(self, tokens):
        return self.tokenizer.decode_function(tokens, self.x)

    # -- steps ----------------------------------------------------------------------------------

    def beta_at(self, epoch: int) -> float:
        if self.cfg.loss != "ce" and self.cfg.ramp == "paper":
            return self.cfg.beta * losses.paper_ramp(epoch, self.cfg.epochs)
        return self.cfg.beta if self.cfg.loss != "ce" else 0.0

    def train_step(self, idx: torch.Tensor, epoch: int = 0) -> dict:
        """One optimiser step on rows ``idx`` of the training split."""
        cfg = self.cfg
        src, src_len, tgt_in, tgt_out, w = self.train.batch(idx)
        beta = self.beta_at(epoch)
        aux = torch.zeros((), device=self.device)
        with self._autocast():
            if cfg.loss == "mrt" and beta > 0:
                ce, aux = self._mrt(idx, src, src_len, tgt_in, tgt_out, w)
            else:
                logits = self.model(src, src_len, tgt_in)  # [B, T, V]
                ce = losses.cross_entropy(logits, tgt_out, w, self.pad)
                if self.curve_loss is not None and beta > 0:
                    per = self.curve_loss(logits, tgt_out, self.train_curves[idx.to(self.device)], self.pad)  # [B]
                    aux = (per * w).sum() / w.sum()
            loss = cfg.alpha * ce + beta * aux
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.clip)
        self.optimizer.step()
        return {"loss": float(loss.detach()), "ce": float(ce.detach()), "aux": float(aux.detach()), "rows": len(idx)}

    def _mrt(self, idx, src, src_len, tgt_in, tgt_out, w):
        """Cross-entropy on the references plus the expected WMSE risk over sampled
        candidates, from one forward pass over references and candidates together."""
        cfg = self.cfg
        n = cfg.mrt_samples
        self.net.eval()
        samples = losses.sample_sequences(self.net, src, src_len, num_samples=n, sos_id=self.sos, eos_id=self.eos,
                                          max_len=cfg.max_len, constraint=self.constraint, generator=self.sample_gen)
        self.net.train()
        b = src.size(0)
        flat = [c for row in samples for c in row]
        t = max(tgt_in.size(1), max(len(c) for c in flat) + 1)
        c_in, c_out = losses.pad_targets(flat, sos_id=self.sos, eos_id=self.eos, pad_id=self.pad, length=t)
        pad = torch.nn.functional.pad
        all_in = torch.cat([pad(tgt_in, (0, t - tgt_in.size(1))), c_in.to(self.device)])
        all_out = torch.cat([pad(tgt_out, (0, t - tgt_out.size(1))), c_out.to(self.device)])
        rows = torch.cat([torch.arange(b), torch.arange(b).repeat_interleave(n)])
        logits = self.model(src[rows.to(self.device)], src_len[rows], all_in)  # [B + B*n, T, V]
        ce = losses.cross_entropy(logits[:b], all_out[:b], w, self.pad)
        seq = losses.sequence_log_probs(logits, all_out, self.pad)  # [B + B*n]
        scores = torch.cat([seq[:b, None], seq[b:].view(b, n)], dim=1)  # [B, 1+n]: reference first
        risks = torch.zeros(b, n + 1)
        valid = torch.ones(b, n + 1, dtype=torch.bool)
        for i, row in enumerate(idx.tolist()):
            ref = self.train.target_tokens[row]
            seen = {ref}
            for j, cand in enumerate(samples[i], start=1):
                toks = tuple(self.vocab.decode(cand))
                if toks in seen:
                    valid[i, j] = False
                    continue
                seen.add(toks)
                risks[i, j] = self.risk(self.train.samples[row].function, ref, toks)
        er = losses.expected_risk(scores, risks.to(self.device), valid.to(self.device), cfg.mrt_sharpness)  # [B]
        return ce, (er * w).sum() / w.sum()

    # -- validation -------------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self, split: Encoded | None = None, batch_size: int = 256) -> dict:
        """Teacher-forced cross-entropy, greedy exact match and greedy verified rate."""
        split = split or self.valid
        self.net.eval()
        nll, tokens, hits, verified = 0.0, 0, 0, 0
        for start in range(0, len(split), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(split)))
            src, src_len, tgt_in, tgt_out, _ = split.batch(idx)
            logits = self.net(src, src_len, tgt_in)
            nll += float(losses.token_nll(logits, tgt_out, self.pad).sum())
            tokens += int((tgt_out != self.pad).sum())
            outs = greedy(self.net, src, src_len, sos_id=self.sos, eos_id=self.eos, max_len=self.cfg.max_len,
                          constraint=self.constraint)
            for i, out in zip(idx.tolist(), outs):
                expr = _safe_parse(self.tokenizer, self.vocab.decode(out), self.x)
                hits += metrics.exact_match(expr, split.samples[i].function)
                verified += expr is not None and verify(expr, split.series[i]).verified
        self.net.train()
        n = max(1, len(split))
        return {"valid_loss": nll / max(1, tokens), "valid_exact_match": hits / n, "valid_verified": verified / n}

    # -- checkpoints ------------------------------------------------------------------------------

    def _checkpoint(self, epoch: int) -> dict:
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if self.risk is not None:
            rng["sample"] = self.sample_gen.get_state()
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT, "epoch": epoch, "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(), "rng": rng,
            "history": self.history, "best": self.best, "elapsed_s": self.elapsed, "commands": self.commands,
            "config": json.dumps(asdict(self.cfg)), "vocab": list(self.vocab.tokens),
            "data_manifest_hash": self.manifest["content_hash"],
        }

    def _load_checkpoint(self) -> None:
        path = self.cfg.run_path / "last.pt"
        if not path.exists():
            raise InputError(f"--resume: no checkpoint at {path}; run without --resume first")
        ck = torch.load(path, map_location=self.device, weights_only=True)
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"{path}: checkpoint format {ck.get('format')!r} is not {CHECKPOINT_FORMAT}")
        old = json.loads(ck["config"])
        diff = {k: (old.get(k), v) for k, v in asdict(self.cfg).items() if k not in _RESUMABLE and _norm(old.get(k)) != _norm(v)}
        if diff:
            raise InputError(f"--resume: settings differ from the checkpoint's: {diff}; use a new --run-dir")
        if ck["vocab"] != list(self.vocab.tokens) or ck["data_manifest_hash"] != self.manifest["content_hash"]:
            raise InputError("--resume: the vocabulary or the data changed since the checkpoint; use a new --run-dir")
        self.net.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"]["torch"].cpu())
        random.setstate(_tuplify(ck["rng"]["python"]))
        if self.risk is not None and "sample" in ck["rng"]:
            self.sample_gen.set_state(ck["rng"]["sample"].cpu())
        if self.device.type == "cuda" and "cuda" in ck["rng"]:
            torch.cuda.set_rng_state(ck["rng"]["cuda"].cpu(), self.device)
        self.history, self.best, self.elapsed = list(ck["history"]), dict(ck["best"]), float(ck["elapsed_s"])
        self.commands = list(ck["commands"]) + self.commands
        self.start_epoch = int(ck["epoch"])

    def _save(self, epoch: int, improved: bool) -> None:
        if self.rank != 0:
            return
        run = self.cfg.run_path
        run.mkdir(parents=True, exist_ok=True)
        if improved:
            _atomic_save(self.net.state_dict(), run / "best.pt")
        _atomic_save(self._checkpoint(epoch), run / "last.pt")

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self) -> list[dict]:
        """Train from ``start_epoch`` to ``cfg.epochs`` (or ``stop_after`` epochs of this run)."""
        from tqdm import tqdm

        cfg = self.cfg
        for epoch in range(self.start_epoch, cfg.epochs):
            if cfg.stop_after is not None and epoch - self.start_epoch >= cfg.stop_after:
                break
            torch.manual_seed(_epoch_seed(cfg.seed, epoch, self.rank))  # dropout: exact on resume
            if self.risk is not None:
                self.sample_gen.manual_seed(_epoch_seed(cfg.seed + 1, epoch, self.rank))
            self.net.train()
            batches = self.batches.epoch(epoch)
            sums = {"loss": 0.0, "ce": 0.0, "aux": 0.0, "rows": 0}
            t0 = time.perf_counter()
            bar = tqdm(batches, desc=f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                       disable=cfg.quiet or self.rank != 0, dynamic_ncols=True, leave=False)
            for step, idx in enumerate(bar):
                out = self.train_step(idx, epoch)
                for k in ("loss", "ce", "aux"):
                    sums[k] += out[k] * out["rows"]
                sums["rows"] += out["rows"]
                if step % 5 == 0 or step == len(batches) - 1:
                    rate = sums["rows"] * self.world / max(1e-9, time.perf_counter() - t0)
                    bar.set_postfix(loss=f"{sums['loss'] / sums['rows']:.4f}", pairs_s=f"{rate:.0f}")
            bar.close()
            seconds = time.perf_counter() - t0
            totals = torch.tensor([sums["loss"], sums["ce"], sums["aux"], float(sums["rows"])], dtype=torch.float64)
            if self.world > 1:
                dist.all_reduce(totals)
            rows = float(totals[3])
            record = {"epoch": epoch + 1, "train_loss": float(totals[0]) / rows, "train_ce": float(totals[1]) / rows,
                      "train_aux": float(totals[2]) / rows, "beta": self.beta_at(epoch),
                      "lr": self.optimizer.param_groups[0]["lr"], "pairs_per_s": rows / seconds, "epoch_s": seconds}
            record.update(self.validate())
            self.scheduler.step(record["train_loss"] if cfg.plateau_on == "train" else record["valid_loss"])
            self.elapsed += time.perf_counter() - t0
            score = [record["valid_exact_match"] + record["valid_verified"], -record["valid_loss"]]
            improved = self.best["score"] is None or score > self.best["score"]
            if improved:
                self.best = {"score": score, "epoch": epoch + 1}
            self.history.append(record)
            self._save(epoch + 1, improved)
            if self.rank == 0 and not cfg.quiet:
                print(f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}: train {record['train_loss']:.4f} "
                      f"valid {record['valid_loss']:.4f} EM {record['valid_exact_match']:.3f} "
                      f"verified {record['valid_verified']:.3f} lr {record['lr']:.0e} "
                      f"{record['pairs_per_s']:.0f} pairs/s {seconds:.0f}s{' *' if improved else ''}", flush=True)
        if self.world > 1:
            dist.barrier()
        return self.history

    @property
    def finished(self) -> bool:
        return bool(self.history) and self.history[-1]["epoch"] >= self.cfg.epochs

    def final_state(self) -> dict:
        """The weights to ship: the best validation epoch's (``--keep best``) or the last."""
        best = self.cfg.run_path / "best.pt"
        if self.cfg.keep == "best" and best.exists():
            return torch.load(best, map_location="cpu", weights_only=True)
        return {k: v.detach().cpu() for k, v in self.net.state_dict().items()}

    def bundle_config(self) -> dict:
        cfg = self.cfg
        grammar = get_grammar(cfg.grammar)
        return {
            "name": cfg.name,
            "backend": cfg.backend,
            "model": asdict(self.model_config),
            "tokenizer": cfg.tokenizer,
            "grammar": grammar.name,
            "grammar_version": grammar.version,
            "grammar_digest": grammar.digest,
            "data_manifest_hash": self.manifest["content_hash"],
            "data": {k: self.manifest.get(k) for k in ("grammar", "mode", "orders", "seed", "split", "counts", "content_hash")},
            "decoding": {"max_len": cfg.max_len, "length_penalty": cfg.length_penalty, "constrained": True},
            "training": {
                "config": {k: v for k, v in asdict(cfg).items() if k not in ("resume", "stop_after", "quiet")},
                "epochs_run": len(self.history), "kept_epoch": self.best["epoch"] if cfg.keep == "best" else len(self.history),
                "train_seconds": round(self.elapsed, 1), "world_size": self.world, "device": str(self.device),
                "hardware": hardware(), "package": __version__, "commands": self.commands,
            },
        }


def _initial_weights(path: str) -> dict:
    """Weights to start from: a bundle folder (its model.safetensors), a trainer checkpoint
    or a state dict saved with ``torch.save`` (read with ``weights_only=True``)."""
    p = Path(path)
    if p.is_dir():
        from safetensors.torch import load_file

        return load_file(str(p / "model.safetensors"))
    state = torch.load(p, map_location="cpu", weights_only=True)
    return state["model"] if isinstance(state, dict) and "model" in state and "optimizer" in state else state


def lstm_in_fp32(module: torch.nn.Module, device_type: str = "cuda") -> int:
    """Make every ``nn.LSTM`` inside ``module`` run in float32 under autocast (inputs and
    states cast up, autocast off inside); returns how many were wrapped. Weights stay float32
    throughout, so checkpoints and bundles are unchanged."""
    from torch.nn.utils.rnn import PackedSequence

    def wrap(lstm):
        plain = lstm.forward

        def forward(input, hx=None):
            with torch.autocast(device_type=device_type, enabled=False):
                if isinstance(input, PackedSequence):
                    input = input._replace(data=input.data.float())
                else:
                    input = input.float()
                if hx is not None:
                    hx = tuple(h.float() for h in hx)
                return plain(input, hx)

        lstm.forward = forward

    lstms = [m for m in module.modules() if isinstance(m, torch.nn.LSTM)]
    for m in lstms:
        wrap(m)
    return len(lstms)


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def _tuplify(v):
    return tuple(_tuplify(i) for i in v) if isinstance(v, (list, tuple)) else v


def _safe_parse(tokenizer, tokens, x):
    try:
        return tokenizer.decode_function(list(tokens), x)
    except Exception:  # noqa: BLE001 - a model output that does not parse is a miss, never fatal
        return None


# -- evaluation -------------------------------------------------------------------------------


def assess_beam(tokenizer, hypotheses, series: SeriesData) -> list[tuple[sympy.Expr | None, bool]]:
    """Each ``(tokens, score)`` hypothesis parsed (``None`` if it does not parse) and whether
    it verifies against ``series``, in beam order."""
    out = []
    for tokens, _ in hypotheses:
        e = _safe_parse(tokenizer, tokens, series.x)
        out.append((e, e is not None and verify(e, series).verified))
    return out


def _mean(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def _aggregate(rows: list[dict]) -> dict:
    if not rows:
        return {"rows": 0}
    w = [r["w"] for r in rows]
    total_w = sum(w) or 1.0

    def rate(key):
        return sum(r[key] for r in rows) / len(rows)

    def wrate(key):
        return sum(r[key] * r["w"] for r in rows) / total_w

    mse = [r["mse"] for r in rows]
    out = {
        "rows": len(rows),
        "exact_match": rate("em"),
        "exact_match_weighted": wrate("em"),
        "ceiling": metrics.ceiling((r["key"], r["f"], 1.0) for r in rows),
        "ceiling_weighted": metrics.ceiling((r["key"], r["f"], r["w"]) for r in rows),
        "token_accuracy": rate("ta"),
        "levenshtein": rate("lev"),
        "mse": _mean(mse),
        "mae": _mean([r["mae"] for r in rows]),
        "wmse": _mean([r["wmse"] for r in rows]),
        "wmse_median": statistics.median([r["wmse"] for r in rows if math.isfinite(r["wmse"])] or [math.nan]),
        "curve_nonfinite": sum(not math.isfinite(m) for m in mse),
        "parse_failures": sum(r["parse_fail"] for r in rows),
        "greedy_verified": rate("greedy_verified"),
    }
    if "top1" in rows[0]:
        out.update({
            "beam_top1_verified": rate("top1"),
            "beam_any_verified": rate("any"),
            "beam_top1_verified_weighted": wrate("top1"),
            "beam_any_verified_weighted": wrate("any"),
            "beam_top1_exact": rate("top1_exact"),
        })
    return out


def evaluate_bundle(
    bundle_path: str | Path,
    data_dir: str | Path,
    split: str = "test",
    beam_size: int = 10,
    *,
    limit: int | None = None,
    draw: int | None = None,
    draw_seed: int = 0,
    batch_size: int = 64,
) -> dict:
    """Evaluate a written bundle on one split of a dataset folder.

    Greedy decoding (the bundle's grammar constraint and ``max_len``): exact match, token
    accuracy, Levenshtein similarity, MSE, MAE, WMSE (the paper's Table 1 columns), the
    greedy verified rate; beam search of width ``beam_size`` through the neural backend
    alone (decode, parse with the tokenizer, :func:`~sympy_series_inverse.verify.verify`
    against the sample's series): top-1 verified and any-of-top-``beam_size`` verified.
    Exact match stands beside its ceiling (:func:`~sympy_series_inverse.metrics.ceiling`
    over the evaluated rows' functions), unweighted and weighted by the generator's prior.
    Everything overall and per order k.

    ``limit`` keeps the first rows; ``draw`` instead draws that many rows with replacement,
    with probability proportional to the sample weight (the paper's in-sample protocol on the
    training split: its notebooks scored rows drawn from the training file).
    """
    from .backends.neural import NeuralBackend

    t0 = time.perf_counter()
    backend = NeuralBackend(bundle_path, precision="float32")  # the card's numbers, bit for bit
    tok, vocab, module = backend.tokenizer, backend.bundle.vocab, backend.bundle.module
    manifest = read_manifest(data_dir)
    x, x0 = sympy.Symbol(manifest.get("variable", "x")), _x0(manifest)
    samples = list(read_split(data_dir, split))
    if draw:
        samples = random.Random(draw_seed).choices(samples, weights=[float(s.weight) for s in samples], k=draw)
    if limit is not None:
        samples = samples[:limit]
    dec = backend.bundle.config.get("decoding", {})
    max_len = int(dec.get("max_len", 40))
    cls = PrefixConstraint if tok.notation == "prefix" else InfixConstraint
    constraint = cls(vocab, max_len) if dec.get("constrained", True) else None
    rows: list[dict] = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        series = [_series(s, x, x0) for s in chunk]
        ids = [vocab.encode(tok.encode_series(s)) for s in series]
        lengths = torch.tensor([max(1, len(i)) for i in ids])
        src = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
        for r, seq in enumerate(ids):
            src[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        with torch.inference_mode():
            outs = greedy(module, src, lengths, sos_id=vocab.id(SOS), eos_id=vocab.id(EOS), max_len=max_len, constraint=constraint)
        beams = backend.decode(series, beam_size) if beam_size else [None] * len(chunk)
        for s, sd, out, beam in zip(chunk, series, outs, beams):
            target = tuple(tok.encode_function(s.function, x))
            pred_tokens = vocab.decode(out)
            pred = _safe_parse(tok, pred_tokens, x)
            em = metrics.exact_match(pred, s.function)
            curves = {"mse": 0.0, "mae": 0.0, "wmse": 0.0} if em else metrics.curve_errors(pred, s.function, x, float(x0))
            row = {
                "k": s.k, "w": float(s.weight), "key": (s.k, tuple(s.coeffs)), "f": s.function, "em": em,
                "ta": metrics.token_accuracy(pred_tokens, target), "lev": metrics.levenshtein_similarity(pred_tokens, target),
                "mse": curves["mse"], "mae": curves["mae"], "wmse": curves["wmse"], "parse_fail": pred is None,
                "greedy_verified": pred is not None and verify(pred, sd).verified,
            }
            if beam is not None:
                assessed = assess_beam(tok, beam, sd)
                row["top1_exact"] = bool(assessed) and metrics.exact_match(assessed[0][0], s.function)
                row["top1"] = bool(assessed and assessed[0][1])
                row["any"] = any(ok for _, ok in assessed)
            rows.append(row)
    orders = sorted({r["k"] for r in rows})
    return {
        "split": split, "protocol": "in-sample" if draw else "held-out" if split == "test" else split,
        "rows": len(rows), "beam_size": beam_size, "limit": limit, "draw": draw, "draw_seed": draw_seed if draw else None,
        "data_manifest_hash": manifest["content_hash"], "overall": _aggregate(rows),
        "per_k": {str(k): _aggregate([r for r in rows if r["k"] == k]) for k in orders},
        "seconds": round(time.perf_counter() - t0, 1),
    }


# -- model card -------------------------------------------------------------------------------


def _pct(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def _sci(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.2e}"


def metrics_table(result: dict) -> str:
    """A markdown table of one :func:`evaluate_bundle` result, a row per k and overall."""
    beam = "beam_top1_verified" in result["overall"]
    head = ["k", "rows", "greedy EM %", "ceiling %", "EM (prior-wtd) %", "ceiling (prior-wtd) %", "token acc %",
            "Levenshtein %", "MSE", "MAE", "WMSE", "WMSE median", "greedy verified %"]
    if beam:
        b = result["beam_size"]
        head += [f"beam-{b} top-1 verified %", f"any of top-{b} verified %", "top-1 verified (prior-wtd) %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, m in [*result["per_k"].items(), ("all", result["overall"])]:
        cells = [label, str(m["rows"]), _pct(m["exact_match"]), _pct(m["ceiling"]), _pct(m["exact_match_weighted"]),
                 _pct(m["ceiling_weighted"]), _pct(m["token_accuracy"]), _pct(m["levenshtein"]), _sci(m["mse"]),
                 _sci(m["mae"]), _sci(m["wmse"]), _sci(m["wmse_median"]), _pct(m["greedy_verified"])]
        if beam:
            cells += [_pct(m["beam_top1_verified"]), _pct(m["beam_any_verified"]), _pct(m["beam_top1_verified_weighted"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(config: dict, metrics_: dict, *, bundle_path: str | Path, data_dir: str | Path, notes: str = "") -> str:
    """The bundle's README.md: data, split, training, hardware, hyperparameters, commands, metrics."""
    tr, data = config["training"], config["data"]
    hw, c = tr["hardware"], tr["config"]
    counts = data.get("counts") or {}
    hist = metrics_.get("history", [])
    recompute = f"python -m sympy_series_inverse.train --evaluate {bundle_path}"
    hp = ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("name", "out", "run_dir", "data"))
    lines = [
        f"# {config['name']}",
        "",
        f"A `{config['backend']}` encoder-decoder ({config['model'].get('num_layers')} layers, "
        f"embedding {config['model'].get('embedding_dim')}, hidden {config['model'].get('hidden_size')}) that proposes "
        f"closed forms for truncated Taylor series of grammar `{config['grammar']}` (version {config['grammar_version']}, "
        f"digest `{config['grammar_digest']}`), tokenizer `{config['tokenizer']}`. Proposals are only proposals: "
        "`series_inverse` verifies every one by re-expansion.",
        "",
        "## Data",
        "",
        f"- manifest content hash `{data.get('content_hash')}`; mode `{data.get('mode')}`, orders {data.get('orders')}, "
        f"seed {data.get('seed')}",
        f"- split `{(data.get('split') or {}).get('method')}` (function classes: functions with equal series to the "
        "lowest order share a split, so test functions are never seen in training); "
        f"rows train {counts.get('train')}, valid {counts.get('valid')}, test {counts.get('test')}",
        f"- sample weighting `{c['weighting']}`",
        "",
        "## Training",
        "",
        f"- {tr['epochs_run']} epochs in {tr['train_seconds']:.0f} s; weights kept from epoch {tr['kept_epoch']} "
        f"(`--keep {c['keep']}`: best greedy exact match + verified rate on VALID)",
        f"- hardware: {hw.get('cpu')}, {hw.get('cores')} cores, {hw.get('threads')} torch threads"
        + (f", GPU {hw['gpu']}" if hw.get("gpu") else "") + f"; device `{tr['device']}`, {tr['world_size']} process(es); "
        f"torch {hw.get('torch')}, Python {hw.get('python')}",
        f"- loss `{c['loss']}`, alpha {c['alpha']}, beta {c['beta']}" + (f" (ramp `{c['ramp']}`)" if c["loss"] != "ce" else ""),
        f"- all settings: {hp}",
        "- produced by:",
        "",
        "```",
        *tr["commands"],
        "```",
        "",
    ]
    if hist:
        lines += ["Validation per epoch (greedy, constrained):", "",
                  "| epoch | train loss | valid loss | valid EM % | valid verified % | lr | pairs/s |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['train_loss']:.4f} | {h['valid_loss']:.4f} | {_pct(h['valid_exact_match'])} | "
                  f"{_pct(h['valid_verified'])} | {h['lr']:.0e} | {h['pairs_per_s']:.0f} |" for h in hist]
        lines.append("")
    held, ins, val = metrics_.get("held_out"), metrics_.get("in_sample"), metrics_.get("valid")
    if val:
        lines += ["## Validation split (function-disjoint; used for choices)", "", metrics_table(val), ""]
    if held:
        lines += [
            "## Held-out test split (function-disjoint)",
            "",
            "Greedy columns are the paper's Table 1 metrics; exact match stands beside its ceiling (the best any method "
            "can reach when functions share a truncated series). \"Verified\": the proposal's own series reproduces "
            f"every given term (neural backend alone, no lookup). Evaluation took {held['seconds']} s.",
            "",
            metrics_table(held),
            "",
        ]
    if ins:
        lines += [
            "## In-sample (the paper's own protocol)",
            "",
            f"{ins['rows']} rows drawn with replacement from the TRAINING split with the generator's probabilities "
            f"(seed {ins['draw_seed']}), as the paper's notebooks scored rows of their training file. These functions were "
            "trained on: this measures memorisation, and is comparable with the paper's Table 1 only on these terms.",
            "",
            metrics_table(ins),
            "",
        ]
    if notes:
        lines += [notes.rstrip(), ""]
    lines += [
        "## Reproduce",
        "",
        "Recompute these tables (regenerates the data set and checks its hash):",
        "",
        "```",
        recompute,
        "```",
        "",
        "MSE, MAE on a 201-point grid over [-1, 1]; WMSE is the paper's equation 1 with w(x) = 1/(x^2 + 0.01) on [-1, 1], "
        "normalised; means over finite values (poles of a wrong prediction are skipped), so one wrong prediction "
        "with a pole near the grid can dominate a mean: the median is the robust figure. Prior-weighted columns weigh "
        "each row by the generator's probability of its function; on a function-disjoint split they are dominated by "
        "the few most probable held-out functions (see the data set's stats).",
        "",
    ]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m sympy_series_inverse.train",
        description="Train a neural proposer on a registered grammar and write a pretrained bundle "
        "(config, vocab, weights, model card, metrics). Defaults are the paper's recipe.",
        epilog="Multi-process: torchrun --nproc_per_node N -m sympy_series_inverse.train ... "
        "(DDP; gloo on CPU, nccl on GPU; rank 0 writes checkpoints and the bundle).",
    )
    g = p.add_argument_group("data")
    g.add_argument("--grammar", default=d.grammar, help="registered grammar name (built-in or from a plugin) (default: %(default)s)")
    g.add_argument("--data", default=None, help="dataset folder from `python -m sympy_series_inverse.data generate`; "
                   "default: generate the dedup, by-function set into RUN_DIR/data")
    g.add_argument("--data-seed", type=int, default=d.data_seed, help="seed of the generated split (default: %(default)s)")
    g.add_argument("--orders", type=int, nargs="+", default=list(d.orders), help="orders k of the generated set (default: %(default)s)")
    g.add_argument("--base-terms", choices=("train", "shuffled"), default=d.base_terms,
                   help="train: the grammar's base terms always train (held-out tests composition); shuffled: "
                        "split like any function, as the first shipped bundles were (default: %(default)s)")
    g = p.add_argument_group("model (paper section 5.1)")
    g.add_argument("--backend", default=d.backend, help="neural architecture: lstm or lstm-attention (default: %(default)s)")
    g.add_argument("--tokenizer", default=d.tokenizer, help="prefix (fixed vocabulary) or paper (infix, vocabulary from "
                   "the training data) (default: %(default)s)")
    g.add_argument("--embedding-dim", type=int, default=d.embedding_dim, help="embedding size (default: %(default)s)")
    g.add_argument("--hidden-size", type=int, default=d.hidden_size, help="LSTM hidden size (default: %(default)s)")
    g.add_argument("--num-layers", type=int, default=d.num_layers, help="LSTM layers (default: %(default)s)")
    g.add_argument("--dropout", type=float, default=d.dropout, help="dropout between layers and on embeddings (default: %(default)s)")
    g.add_argument("--attention-dim", type=int, default=None, help="lstm-attention only: attention size (default: hidden size)")
    g.add_argument("--init", default=None, metavar="PATH", help="start from these weights (a bundle folder, a checkpoint "
                   "or best.pt of a run with the same sizes and vocabulary): fine-tuning, e.g. minimum risk after CE")
    g = p.add_argument_group("optimisation (paper appendix A)")
    g.add_argument("--epochs", type=int, default=d.epochs, help="total epochs (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="pairs per step and process (default: %(default)s)")
    g.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate (default: %(default)s)")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay (default: %(default)s)")
    g.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clip, 0 = off (default: %(default)s)")
    g.add_argument("--plateau-factor", type=float, default=d.plateau_factor, help="ReduceLROnPlateau factor (default: %(default)s)")
    g.add_argument("--plateau-patience", type=int, default=d.plateau_patience, help="ReduceLROnPlateau patience (default: %(default)s)")
    g.add_argument("--plateau-on", choices=("train", "valid"), default=d.plateau_on,
                   help="loss the scheduler watches; the paper: train (default: %(default)s)")
    g.add_argument("--no-bucket", dest="bucket", action="store_false", help="no length bucketing (plain shuffled batches)")
    g.add_argument("--weighting", choices=("uniform", "prior"), default=d.weighting,
                   help="sample weights: uniform, or the generator's prior probability of the function (default: %(default)s)")
    g.add_argument("--keep", choices=("best", "last"), default=d.keep,
                   help="ship the best epoch on VALID (greedy EM + verified) or the last (default: %(default)s)")
    g = p.add_argument_group("loss: alpha * CE + beta * WMSE (paper section 5.2; see losses.py)")
    g.add_argument("--loss", choices=losses.LOSSES, default=d.loss,
                   help="ce: cross-entropy only; token-wmse: the public code's softmax-averaged token curves; "
                   "mrt: sequence-level minimum risk with exact WMSE (default: %(default)s)")
    g.add_argument("--alpha", type=float, default=d.alpha, help="weight of cross-entropy (default: %(default)s)")
    g.add_argument("--beta", type=float, default=d.beta, help="weight of the WMSE term (default: %(default)s)")
    g.add_argument("--ramp", choices=("paper", "none"), default=d.ramp,
                   help="paper: the WMSE weight is beta * 0.2 * epoch / epochs (the public code's ramp; epoch counts from 0, so "
                   "the first epoch is CE only); none: beta throughout (default: %(default)s)")
    g.add_argument("--wmse-clip", type=float, default=d.wmse_clip, help="token-wmse: curves clipped to +-this (default: %(default)s)")
    g.add_argument("--mrt-samples", type=int, default=d.mrt_samples, help="mrt: sampled candidates per source (default: %(default)s)")
    g.add_argument("--mrt-risk-clip", type=float, default=d.mrt_risk_clip, help="mrt: WMSE clipped here, risk = WMSE / clip (default: %(default)s)")
    g.add_argument("--mrt-sharpness", type=float, default=d.mrt_sharpness, help="mrt: Q ~ p^sharpness over candidates (default: %(default)s)")
    g = p.add_argument_group("run")
    g.add_argument("--name", default=d.name, help="bundle name (default: %(default)s)")
    g.add_argument("--out", default=None, help="bundle folder to write (default: RUN_DIR/bundle)")
    g.add_argument("--run-dir", default=None, help="checkpoints, log and generated data (default: runs/NAME)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of initialisation, batches and dropout (default: %(default)s)")
    g.add_argument("--device", default=d.device, help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N (default: %(default)s)")
    g.add_argument("--bf16", action="store_true", help="bf16 autocast on GPU (float32 where a kernel refuses it; ignored on CPU)")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: cores / processes, at most 8)")
    g.add_argument("--resume", action="store_true", help="continue exactly from RUN_DIR/last.pt")
    g.add_argument("--stop-after", type=int, default=None, help="stop after this many epochs of this invocation without "
                   "writing the bundle (time-boxed runs; continue with --resume)")
    g.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    g = p.add_argument_group("decoding and evaluation")
    g.add_argument("--max-len", type=int, default=d.max_len, help="longest output in tokens, <eos> excluded (default: %(default)s)")
    g.add_argument("--length-penalty", default=d.length_penalty, help="beam length penalty stored in the bundle (default: %(default)s)")
    g.add_argument("--eval-beam", type=int, default=d.eval_beam, help="beam width of the verified-rate evaluation, 0 = skip (default: %(default)s)")
    g.add_argument("--eval-limit", type=int, default=None, help="evaluate only the first N test rows (quick runs)")
    g.add_argument("--in-sample-rows", type=int, default=d.in_sample_rows, help="rows drawn from TRAIN for the paper's in-sample protocol, 0 = skip (default: %(default)s)")
    g.add_argument("--eval-split", choices=("test", "valid"), default=d.eval_split,
                   help="split of the final evaluation; valid for sweeps that must not look at test (default: %(default)s)")
    g.add_argument("--card-notes", default=None, metavar="FILE", help="markdown appended to the model card (e.g. the loss comparison)")
    g.add_argument("--subset-rows", type=int, default=d.subset_rows, help="first test rows re-evaluated by the reproduction test (default: %(default)s)")
    g.add_argument("--evaluate", metavar="BUNDLE", default=None, help="only evaluate BUNDLE on --data (default: regenerate "
                   "its recorded data set) and print the tables; with --split, --eval-beam, --eval-limit")
    g.add_argument("--split", choices=("train", "valid", "test"), default="test", help="split for --evaluate (default: %(default)s)")
    g.add_argument("--json", action="store_true", help="with --evaluate: print JSON instead of tables")
    return p


def _config_from_args(args) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)})


def _command(argv: Sequence[str]) -> str:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launcher = f"torchrun --nproc_per_node {world} -m" if world > 1 else "python -m"
    return f"{launcher} sympy_series_inverse.train {shlex.join(argv)}".rstrip()


def _data_for_bundle(bundle: Path, data: str | None, run_dir: str | None) -> Path:
    """The data set a bundle was trained on: ``data`` as given, else regenerated from the
    bundle's recorded settings (and its hash checked)."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    if data:
        path = Path(data)
    else:
        rec = config["data"]
        path = Path(run_dir or Path("runs") / "eval-data") / f"{rec['grammar']}-{rec['mode']}-{rec['seed']}-{rec['content_hash'][:12]}"
        if not (path / "manifest.json").exists():
            generate(rec["grammar"], path, mode=rec["mode"], orders=rec["orders"], seed=rec["seed"], split=rec["split"]["method"],
                     fractions=rec["split"].get("fractions", (0.8, 0.1, 0.1)),
                     base_terms=rec["split"].get("base_terms") or "shuffled")  # recorded since base_terms existed
    found = read_manifest(path)["content_hash"]
    if found != config.get("data_manifest_hash"):
        warnings.warn(f"{path}: data hash {found[:12]} differs from the bundle's {str(config.get('data_manifest_hash'))[:12]}", stacklevel=2)
    return path


def write_bundle(trainer: Trainer) -> Path:
    """Save the bundle, evaluate the files just written, then write metrics.json and the card."""
    cfg = trainer.cfg
    out = cfg.out_path
    config = trainer.bundle_config()
    module = trainer.net
    module.load_state_dict(trainer.final_state())
    save_bundle(out, config, trainer.vocab, module, metrics={}, card=f"# {cfg.name}\n\n(evaluation pending)\n")
    result: dict = {"history": trainer.history, "kept_epoch": config["training"]["kept_epoch"]}
    threads = torch.get_num_threads()
    key = "held_out" if cfg.eval_split == "test" else "valid"
    result[key] = evaluate_bundle(out, trainer.data_dir, cfg.eval_split, cfg.eval_beam, limit=cfg.eval_limit)
    if cfg.in_sample_rows:
        result["in_sample"] = evaluate_bundle(out, trainer.data_dir, "train", cfg.eval_beam, draw=cfg.in_sample_rows)
    if cfg.subset_rows and cfg.eval_split == "test":
        result["subset"] = evaluate_bundle(out, trainer.data_dir, "test", cfg.eval_beam, limit=cfg.subset_rows)
    torch.set_num_threads(threads)
    (out / "metrics.json").write_text(json.dumps(_finite(result), indent=1) + "\n", encoding="utf-8")
    notes = Path(cfg.card_notes).read_text(encoding="utf-8") if cfg.card_notes else ""
    (out / "README.md").write_text(model_card(config, result, bundle_path=out, data_dir=trainer.data_dir, notes=notes),
                                   encoding="utf-8")
    return out


def _finite(o):
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.evaluate:
        if args.threads:
            torch.set_num_threads(args.threads)
        bundle = Path(args.evaluate)
        data = _data_for_bundle(bundle, args.data, args.run_dir)
        result = evaluate_bundle(bundle, data, args.split, args.eval_beam, limit=args.eval_limit)
        print(json.dumps(_finite(result), indent=1) if args.json else metrics_table(result))
        return 0
    cfg = _config_from_args(args)
    trainer = Trainer(cfg, command=_command(argv))
    try:
        trainer.fit()
        if trainer.rank == 0 and not trainer.finished:
            print(f"stopped after epoch {trainer.history[-1]['epoch'] if trainer.history else trainer.start_epoch}; "
                  f"continue with --resume (checkpoint {cfg.run_path / 'last.pt'})")
    finally:
        if trainer.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    if trainer.rank == 0 and trainer.finished:
        out = write_bundle(trainer)
        if not cfg.quiet:
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

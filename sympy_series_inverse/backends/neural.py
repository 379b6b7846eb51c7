"""The neural proposer: tokenizer -> network -> (constrained) beam search -> token proposals.

Wraps a loaded :class:`~sympy_series_inverse.pretrained.Bundle`. The network only proposes;
the core parses the tokens with the safe parser, verifies and ranks. torch is imported
only when a neural backend is built.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import plugins
from ..errors import InputError
from ..pretrained import Bundle, load_bundle
from ..series import SeriesData
from ..tokenizers import EOS, SOS
from .base import Proposal

__all__ = ["NeuralConfig", "NeuralBackend", "PRECISIONS", "native_bf16", "resolve_precision"]


@dataclass(frozen=True)
class NeuralConfig:
    """Decoding settings; ``constrained`` switches grammar-constrained decoding (ablation)."""

    max_len: int = 40
    length_penalty: str = "average"
    constrained: bool = True
    device: str = "cpu"
    threads: int | None = 1  # CPU threads for one series' search: its small matrices gain little from more
    # Several series decoded together (series_inverse_many) are split into this many parts
    # searched side by side, one CPU thread each; None: one per core this process may use.
    batch_threads: int | None = None
    batch_size: int = 64  # series per batched search
    # "float32" reproduces the model card bit for bit; "bfloat16" halves the weight traffic
    # that bounds a small beam's step on CPU (about 2x faster where the CPU has
    # AVX512-BF16 or AMX, slower where it has not); "auto" picks bfloat16 only there.
    # Measured equal verified rates: benchmarks/precision.py.
    precision: str = "auto"


PRECISIONS = ("auto", "float32", "bfloat16")


def native_bf16(device: str = "cpu") -> bool:
    """Whether bfloat16 matrix products run natively (not emulated) on ``device``."""
    import torch

    if not str(device).startswith("cpu"):
        return False
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers moved: stay exact
        return False


def resolve_precision(precision: str, device: str = "cpu") -> str:
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    return precision


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved: int | None = None


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """torch's intra-op thread count is process-wide: the first of several concurrent
    searches sets it, the last one out restores the caller's value."""
    global _threads_users, _threads_saved
    if not n:
        yield
        return
    import torch

    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
            torch.set_num_threads(n)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and _threads_saved is not None:
                torch.set_num_threads(_threads_saved)


class NeuralBackend:
    """Proposals from a pretrained bundle's network."""

    def __init__(self, bundle: Bundle | str | Path, config: NeuralConfig | None = None, **overrides):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, device=(config or NeuralConfig(**overrides)).device)
        decoding = dict(self.bundle.config.get("decoding", {}))
        decoding.update(overrides)
        self.config = config or NeuralConfig(**{k: v for k, v in decoding.items() if k in NeuralConfig.__dataclass_fields__})
        self.name = self.bundle.name
        self.grammar = self.bundle.config["grammar"]
        factory = plugins.get("tokenizer", self.bundle.config["tokenizer"])
        self.tokenizer = factory(self.bundle.vocab)
        self.precision = resolve_precision(self.config.precision, self.config.device)
        if self.precision == "bfloat16":
            import copy
            import dataclasses

            import torch

            # A Bundle handed in by the caller keeps its float32 module; log-probabilities
            # still come out in float32.
            module = copy.deepcopy(self.bundle.module) if isinstance(bundle, Bundle) else self.bundle.module
            self.bundle = dataclasses.replace(self.bundle, module=module.to(torch.bfloat16))
        self._lock = threading.Lock()
        self._constraint = None
        if self.config.constrained:
            from .. import decoding as dec

            cls = dec.PrefixConstraint if self.tokenizer.notation == "prefix" else dec.InfixConstraint
            self._constraint = cls(self.bundle.vocab, self.config.max_len)

    def _source(self, batch: Sequence[SeriesData]):
        import torch

        ids = [self.bundle.vocab.encode(self.tokenizer.encode_series(s)) for s in batch]
        lengths = torch.tensor([max(len(i), 1) for i in ids])
        src = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)  # <pad> = 0
        for row, seq in enumerate(ids):
            src[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        return src, lengths

    def decode(self, batch: Sequence[SeriesData], beam_size: int) -> list[list[tuple[tuple[str, ...], float]]]:
        """Token hypotheses with scores for a batch of series, best first.

        One series is searched on ``threads`` CPU threads. A batch is cut into
        ``batch_threads`` parts searched side by side in Python threads, each on one torch
        thread: unlike one search on several torch threads, whose every step waits for its
        slowest thread, the parts never wait for each other, so a core taken by another
        process slows one part instead of stalling every step (measured here: a 2-thread
        search of 64 series ran 3-6x slower than a 1-thread one while another job held a
        core)."""
        import torch

        from .. import decoding as dec

        vocab = self.bundle.vocab
        src, lengths = self._source(batch)
        parts = 1 if len(batch) == 1 else max(1, min(len(batch), self.config.batch_threads or usable_cores()))

        def search(rows: slice):
            with torch.inference_mode():  # thread-local: each worker thread enters it
                return dec.beam_search(
                    self.bundle.module, src[rows], lengths[rows], beam_size=beam_size, sos_id=vocab.id(SOS),
                    eos_id=vocab.id(EOS), max_len=self.config.max_len, length_penalty=self.config.length_penalty,
                    constraint=self._constraint,
                )

        with self._lock, _torch_threads(self.config.threads if len(batch) == 1 else 1):
            if parts == 1:
                hyps = search(slice(None))
            else:
                from concurrent.futures import ThreadPoolExecutor

                bounds = [round(i * len(batch) / parts) for i in range(parts + 1)]
                with ThreadPoolExecutor(parts, thread_name_prefix=f"{self.name}-batch") as pool:
                    hyps = [h for part in pool.map(search, [slice(a, b) for a, b in zip(bounds, bounds[1:])]) for h in part]
        return [[(tuple(vocab.decode(h.tokens)), float(h.score)) for h in row] for row in hyps]

    def propose(self, series: SeriesData, *, beam_size: int = 10, grammars=None, deadline=None) -> list[Proposal]:
        return self.propose_many([series], beam_size=beam_size, grammars=grammars, deadline=deadline)[0]

    def propose_many(self, series: Sequence[SeriesData], *, beam_size: int = 10, grammars=None, deadline=None) -> list[list[Proposal]]:
        """Proposals for several series, decoded ``batch_size`` at a time."""
        if grammars is not None and self.grammar not in grammars:
            return [[] for _ in series]
        out = []
        step = max(1, self.config.batch_size)
        for i in range(0, len(series), step):
            for hyps in self.decode(series[i:i + step], beam_size):
                out.append([
                    Proposal(score, self.name, tokens=tokens, notation=self.tokenizer.notation, grammar=self.grammar)
                    for tokens, score in hyps
                ])
        return out

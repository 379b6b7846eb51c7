"""Training losses: ``alpha * CE + beta * WMSE`` (paper section 5.2), the WMSE two ways.

The paper leaves alpha and beta "@TODO" and never says how a *sequence of tokens* becomes a
differentiable curve. Two readings are implemented and compared by the trainer
(``python -m sympy_series_inverse.train --loss ce|token-wmse|mrt``):

(a) ``token-wmse``, :class:`TokenCurveWMSE`, as the authors' public code does it. Every
    vocabulary token is evaluated *alone* as a curve on ``[-1, 1]``: ``x`` is ``x``, a
    function name ``f`` is ``f(x)``, a number or constant is its value, anything else
    (operators, markers, specials) is 0; curves are clipped to ``[-clip, clip]``. At each
    target position the decoder's softmax averages those curves; the prediction is the mean
    over the target's positions, compared with the target function's own curve, weighted by
    ``1 / |x|`` (the grid has an even number of points, so ``x = 0`` is never on it; the
    weight is also floored at ``1e-3``). The public code ramps the WMSE weight as
    ``0.2 * epoch / max_epochs`` (:func:`paper_ramp`). A heuristic: the expected curve of a
    bag of tokens is not the curve of any expression.

(b) ``mrt``, sequence-level minimum-risk training (Shen et al. 2016, "Minimum Risk Training
    for Neural Machine Translation"; Edunov et al. 2018). For each source a few candidates
    are sampled from the model (:func:`sample_sequences`, grammar-constrained so that they
    parse), the reference is added, duplicates dropped; each candidate's risk is its exact
    WMSE against the target (:class:`CurveRisk`: parsed with the tokenizer's safe parser,
    :func:`~sympy_series_inverse.metrics.curve_errors`, clipped and scaled to ``[0, 1]``;
    unparsable or nowhere finite = 1). The model's softmax over the candidates' sequence
    log-probabilities, renormalised over the candidate set, makes the expected risk
    :func:`expected_risk` differentiable.

Cross-entropy (:func:`cross_entropy`) is token-level, averaged over the non-padding target
tokens of a batch (the paper's ``CrossEntropyLoss(ignore_index=PAD)``), with optional
per-sample weights.

This module needs torch; nothing imports it at ``import sympy_series_inverse``.
"""

from __future__ import annotations

import math
from typing import Sequence

import sympy
import torch
import torch.nn.functional as F

from . import metrics
from .functions import CONSTANTS, UNARY_FUNCTIONS

__all__ = [
    "LOSSES",
    "cross_entropy",
    "sequence_log_probs",
    "TokenCurveWMSE",
    "paper_ramp",
    "curve_values",
    "sample_sequences",
    "pad_targets",
    "CurveRisk",
    "expected_risk",
]

LOSSES = ("ce", "token-wmse", "mrt")
_X = sympy.Symbol("x")


# -- cross-entropy ----------------------------------------------------------------------------


def token_nll(logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Negative log-likelihood of each target token, 0 on padding: [B, T]."""
    nll = F.cross_entropy(logits.float().transpose(1, 2), tgt_out, reduction="none", ignore_index=pad_id)  # [B, T]
    return nll


def cross_entropy(
    logits: torch.Tensor, tgt_out: torch.Tensor, weights: torch.Tensor | None = None, pad_id: int = 0
) -> torch.Tensor:
    """Token-level cross-entropy averaged over non-padding tokens; ``weights`` [B] weigh
    each sample's tokens (uniform weights give the plain mean)."""
    nll = token_nll(logits, tgt_out, pad_id)  # [B, T]
    mask = (tgt_out != pad_id).float()
    if weights is None:
        return nll.sum() / mask.sum().clamp_min(1)
    w = weights.float().unsqueeze(1)  # [B, 1]
    return (nll * w).sum() / (mask * w).sum().clamp_min(1e-12)


def sequence_log_probs(logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Log-probability of each whole target sequence (``<eos>`` included): [B]."""
    return -token_nll(logits, tgt_out, pad_id).sum(dim=1)


# -- (a) the public code's token-curve WMSE ---------------------------------------------------


def curve_values(expr, points: Sequence[float], clip: float, x: sympy.Symbol = _X) -> list[float]:
    """``expr`` on ``points``, clipped to ``[-clip, clip]``; non-finite values become 0."""
    return [max(-clip, min(clip, v)) if math.isfinite(v) else 0.0 for v in metrics.curve_values(expr, x, points)]


def _token_expr(token: str, x: sympy.Symbol):
    """The curve a single token stands for, the public code's way (``None``: zero)."""
    if token == "x":
        return x
    if token in UNARY_FUNCTIONS:
        return UNARY_FUNCTIONS[token](x)
    if token in CONSTANTS:
        return CONSTANTS[token]
    try:
        return sympy.Float(float(token))  # digits, integers, decimals
    except ValueError:
        return None


def paper_ramp(epoch: int, max_epochs: int) -> float:
    """The public code's WMSE weight at (0-based) ``epoch``: ``0.2 * epoch / max_epochs``."""
    return 0.2 * epoch / max(1, max_epochs)


class TokenCurveWMSE:
    """The public code's differentiable WMSE (reading (a) in the module docstring).

    ``token_curves`` [V, G] holds each token's curve on the grid, ``weights`` [G] = 1/|x|.
    Call with logits [B, T, V], the target ids [B, T] (padding = ``pad_id``) and the
    target curves [B, G] (:meth:`target_curves`); returns the per-sample WMSE [B].
    """

    def __init__(self, vocab_tokens: Sequence[str], *, grid_points: int = 64, clip: float = 10.0, x: sympy.Symbol = _X):
        if grid_points % 2:
            raise ValueError("grid_points must be even so that x = 0 is not on the grid")
        self.clip = clip
        self.x = x
        self.grid = [-1 + 2 * i / (grid_points - 1) for i in range(grid_points)]
        rows = []
        for token in vocab_tokens:
            expr = _token_expr(token, x)
            rows.append([0.0] * grid_points if expr is None else curve_values(expr, self.grid, clip, x))
        self.token_curves = torch.tensor(rows, dtype=torch.float32)  # [V, G]
        self.weights = torch.tensor([1.0 / max(abs(g), 1e-3) for g in self.grid])  # [G]

    def target_curves(self, exprs: Sequence[sympy.Expr]) -> torch.Tensor:
        """The target functions on the grid, clipped: [N, G]."""
        return torch.tensor([curve_values(e, self.grid, self.clip, self.x) for e in exprs], dtype=torch.float32)

    def to(self, device) -> "TokenCurveWMSE":
        self.token_curves = self.token_curves.to(device)
        self.weights = self.weights.to(device)
        return self

    def __call__(self, logits: torch.Tensor, tgt_out: torch.Tensor, target: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
        probs = torch.softmax(logits.float(), dim=-1)  # [B, T, V]
        expected = probs @ self.token_curves  # [B, T, G]: the softmax-average of token curves
        mask = (tgt_out != pad_id).float().unsqueeze(-1)  # [B, T, 1]
        pred = (expected * mask).sum(1) / mask.sum(1).clamp_min(1)  # [B, G]
        return ((pred - target) ** 2 * self.weights).sum(-1) / self.weights.sum()  # [B]


# -- (b) sequence-level minimum risk ----------------------------------------------------------


@torch.no_grad()
def sample_sequences(
    model,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    *,
    num_samples: int,
    sos_id: int,
    eos_id: int,
    max_len: int,
    constraint=None,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
) -> list[list[list[int]]]:
    """Ancestral samples from any decode-step model (see :mod:`~sympy_series_inverse.decoding`):
    ``num_samples`` token lists (no ``<sos>``/``<eos>``) per source row. With a grammar
    ``constraint`` every sample is a complete expression."""
    b = src.size(0)
    n = b * num_samples
    rows = torch.arange(b, device=src.device).repeat_interleave(num_samples)  # [n]
    state = model.encode(src.index_select(0, rows), src_lengths.index_select(0, rows.to(src_lengths.device)))
    tokens = torch.full((n,), sos_id, dtype=torch.long, device=src.device)
    cstates = constraint.start(n, max_len) if constraint is not None else None
    done = torch.zeros(n, dtype=torch.bool, device=src.device)
    out: list[list[int]] = [[] for _ in range(n)]
    for step in range(max_len + 1):
        log_probs, state = model.decode_step(tokens, state)  # [n, V]
        allowed = torch.ones_like(log_probs, dtype=torch.bool)
        if constraint is not None:
            allowed &= constraint.mask(cstates).to(log_probs.device)
        if step == max_len:
            allowed &= torch.arange(log_probs.size(1), device=log_probs.device) == eos_id
        allowed[~allowed.any(1), eos_id] = True
        logits = (log_probs.float() / temperature).masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        tokens = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(src.device)
        tokens = tokens.masked_fill(done, eos_id)
        for i, t in enumerate(tokens.tolist()):
            if t != eos_id and not done[i]:
                out[i].append(t)
        done |= tokens == eos_id
        if bool(done.all()):
            break
        if constraint is not None:
            cstates = constraint.advance(cstates, tokens.cpu())
    return [out[i * num_samples : (i + 1) * num_samples] for i in range(b)]


def pad_targets(seqs: Sequence[Sequence[int]], *, sos_id: int, eos_id: int, pad_id: int = 0, length: int | None = None):
    """Teacher-forcing tensors for token lists: ``tgt_in`` = ``<sos>`` + seq and ``tgt_out``
    = seq + ``<eos>``, padded to ``length`` (default: the longest + 1): both [N, T]."""
    t = max(len(s) for s in seqs) + 1 if length is None else length
    tgt_in = torch.full((len(seqs), t), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(seqs), t), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        tgt_in[i, : len(s) + 1] = torch.tensor([sos_id, *s], dtype=torch.long)
        tgt_out[i, : len(s) + 1] = torch.tensor([*s, eos_id], dtype=torch.long)
    return tgt_in, tgt_out


class CurveRisk:
    """Risk of a candidate against a target in ``[0, 1]``: the exact WMSE
    (:func:`~sympy_series_inverse.metrics.curve_errors`) clipped at ``clip`` and divided by
    it; 0 for the reference tokens themselves; 1 when the tokens do not parse or the
    candidate is nowhere finite. Results are cached per (target, tokens).

    ``allowed_tokens`` (the tokens the training targets use) gives risk 1 at once to a
    candidate using any other token: it is outside the grammar, and such candidates (``sec``,
    ``acosh``, ... early in training) are the ones SymPy is slowest to build and evaluate.
    """

    def __init__(self, decode_function, *, clip: float = 1.0, points: int = 101, x: sympy.Symbol = _X,
                 allowed_tokens=None):
        self.decode_function = decode_function  # tokens -> sympy expression (the tokenizer's safe parser)
        self.allowed = frozenset(allowed_tokens) if allowed_tokens is not None else None
        self.clip = clip
        self.points = points
        self.x = x
        self.cache: dict[tuple, float] = {}
        self.parse_failures = 0

    def __call__(self, target: sympy.Expr, target_tokens: tuple[str, ...], tokens: tuple[str, ...]) -> float:
        if tokens == target_tokens:
            return 0.0
        key = (target_tokens, tokens)
        risk = self.cache.get(key)
        if risk is None:
            risk = self.cache[key] = self._risk(target, tokens)
        return risk

    def _risk(self, target, tokens) -> float:
        if self.allowed is not None and not self.allowed.issuperset(tokens):
            return 1.0
        try:
            pred = self.decode_function(tokens)
        except Exception:  # noqa: BLE001 - any unparsable candidate is maximal risk
            self.parse_failures += 1
            return 1.0
        if pred == target:
            return 0.0
        try:
            wmse = metrics.curve_errors(pred, target, self.x, points=self.points)["wmse"]
        except Exception:  # noqa: BLE001 - odd candidates (complex values, ...) are maximal risk
            return 1.0
        if not math.isfinite(wmse):
            return 1.0
        return min(wmse, self.clip) / self.clip


def expected_risk(seq_log_probs: torch.Tensor, risks: torch.Tensor, valid: torch.Tensor, sharpness: float = 1.0) -> torch.Tensor:
    """Expected risk under the model's distribution renormalised over each row's candidates.

    ``seq_log_probs``, ``risks``, ``valid`` [B, C]; ``Q = softmax(sharpness * log p)`` over
    the valid candidates of a row; returns ``sum(Q * risk)`` [B]."""
    scores = (sharpness * seq_log_probs.float()).masked_fill(~valid, float("-inf"))
    q = torch.softmax(scores, dim=1)  # [B, C]
    return (q * risks.to(q.dtype).masked_fill(~valid, 0.0)).sum(1)

"""Greedy and beam search over any model that implements the decode-step protocol, with
optional grammar constraints.

The search never looks inside the model (the idea of OpenNMT's ``decode_strategy``); a model
provides three methods, every tensor indexed by row (one row per hypothesis)::

    state = model.encode(src, src_lengths)             # src [B, L] ids, src_lengths [B]
    log_probs, state = model.decode_step(tokens, state)  # tokens [N] -> log_probs [N, V]
    state = model.reorder_state(state, index)          # keep rows ``index`` [N'] (may repeat)

A constraint (:class:`PrefixConstraint`, :class:`InfixConstraint`) decides, per row, which
tokens may come next, so that every hypothesis is a complete expression when it ends;
disallowed tokens get ``-inf`` before any choice is made. ``constraint=None`` turns it off.

Lengths: ``max_len`` counts output tokens, ``<eos>`` excluded; at step ``max_len`` only
``<eos>`` is allowed, so every search ends by then. The length used by length penalties
counts the ``<eos>`` too (an empty output has length 1).

Nothing in the package imports this module at import time (it needs torch).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol, Sequence

import torch

from .functions import BINARY_OPERATORS, CONSTANTS, UNARY_FUNCTIONS

__all__ = [
    "DecodeStepModel",
    "Hypothesis",
    "LENGTH_PENALTIES",
    "greedy",
    "beam_search",
    "PrefixConstraint",
    "InfixConstraint",
]

# The names tokenizers.SPECIALS gives the special tokens (not imported: no sympy parser here).
_EOS = "<eos>"


class DecodeStepModel(Protocol):
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor): ...

    def decode_step(self, tokens: torch.Tensor, state) -> tuple[torch.Tensor, object]: ...

    def reorder_state(self, state, index: torch.Tensor): ...


@dataclass(frozen=True)
class Hypothesis:
    """One finished output: ``tokens`` without ``<sos>``/``<eos>``; ``log_prob`` is the
    model's log-probability of ``tokens + <eos>``; ``score`` is it after the length penalty."""

    tokens: tuple[int, ...]
    score: float
    log_prob: float


# -- length penalties: score = log_prob / penalty(length) ----------------------------------


def no_penalty(length: int) -> float:
    """Plain log-probability: favours short outputs."""
    return 1.0


def average(length: int) -> float:
    """Mean log-probability per token."""
    return float(length)


def gnmt(length: int, alpha: float = 0.6) -> float:
    """Wu et al. (2016), Google NMT: ``((5 + length) / 6) ** alpha``."""
    return ((5 + length) / 6) ** alpha


LENGTH_PENALTIES: dict[str, Callable[[int], float]] = {"none": no_penalty, "average": average, "gnmt": gnmt}


def _penalty(name: str | Callable[[int], float]) -> Callable[[int], float]:
    if callable(name):
        return name
    try:
        return LENGTH_PENALTIES[name]
    except KeyError:
        raise ValueError(f"unknown length penalty {name!r}; known: {', '.join(LENGTH_PENALTIES)}") from None


# -- constraints ----------------------------------------------------------------------------


class _Constraint:
    """Shared machinery. Every vocabulary token belongs to one class; the per-row state is a
    tuple of [N] long tensors. The rules (``_allowed_classes``, readable, over classes) only
    depend on a few small facts about a state, summarised by ``_key``; so at construction
    the rules are evaluated once per key into a [keys, V] table, and each step costs one
    key computation and one gather, whatever the batch.

    ``max_len`` caps the output length (``<eos>`` excluded): a token is allowed only if the
    expression can still be completed within what is left.
    """

    CLASSES: tuple[str, ...] = ()

    def __init__(self, vocab, max_len: int):
        tokens = list(getattr(vocab, "tokens", vocab))
        if _EOS not in tokens:
            raise ValueError(f"the vocabulary has no {_EOS} token")
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.tokens = tokens
        self.max_len = max_len
        self.eos_id = tokens.index(_EOS)
        self.token_class = torch.tensor([self.CLASSES.index(self._classify(t)) for t in tokens])  # [V]
        self.is_eos = torch.tensor([c == "eos" for c in self.CLASSES]).long()  # [C]
        reps = self._representatives()
        allowed = self._allowed_classes(reps)  # [keys, C]
        assert torch.equal(self._key(reps), torch.arange(len(reps[0])))
        self.table = allowed[:, self.token_class]  # [keys, V]

    def _classify(self, token: str) -> str:
        raise NotImplementedError

    def _c(self, name: str) -> int:
        return self.CLASSES.index(name)

    def mask(self, states) -> torch.Tensor:
        """Bool [N, V]: True where the token may come next."""
        return self.table[self._key(states)]

    def reorder(self, states, index: torch.Tensor):
        return tuple(s.index_select(0, index) for s in states)

    def _rem(self, n: int, max_len: int | None) -> torch.Tensor:
        cap = self.max_len if max_len is None else min(self.max_len, max_len)
        return torch.full((n,), cap, dtype=torch.long)


class PrefixConstraint(_Constraint):
    """Valid prefix expressions over the PrefixTokenizer vocabulary.

    Counts open argument slots: the expression starts with one; a binary operator fills one
    and opens two, a unary function fills one and opens one, a leaf (``x``, a constant, an
    integer) fills one. An integer is ``INT+``/``INT-`` then one or more digits, no leading
    zero except ``0`` itself (and no ``INT- 0``); it ends at the first non-digit. ``<eos>``
    is allowed exactly when no slot is open and no integer still needs a digit. A token that
    opens slots is allowed only if they can all be filled within ``max_len`` (a slot costs at
    least one token). Markers (``N``, ``X0``, ``T``) and specials other than ``<eos>`` never.

    State per row: ``need`` (open slots), ``rem`` (tokens left), ``digit`` (0: not in an
    integer, 1: after ``INT+``, 2: after ``INT-``, 3: after a leading ``0``, 4: inside a
    number), ``done`` (``<eos>`` emitted).
    """

    CLASSES = ("forbid", "eos", "leaf", "int+", "int-", "zero", "digit", "unary", "binary")

    def __init__(self, vocab, max_len: int):
        super().__init__(vocab, max_len)
        c = self._c
        self.d_need = torch.zeros(len(self.CLASSES), dtype=torch.long)  # [C]
        self.d_need[[c("leaf"), c("int+"), c("int-")]] = -1
        self.d_need[c("binary")] = 1
        # next digit state [5, C]: a non-digit token ends any integer (state 0)
        nxt = torch.zeros(5, len(self.CLASSES), dtype=torch.long)
        nxt[:, c("int+")], nxt[:, c("int-")] = 1, 2
        nxt[:, c("zero")] = torch.tensor([4, 3, 4, 4, 4])  # after INT+ it is the number 0
        nxt[:, c("digit")] = 4
        self.next_digit = nxt.view(-1)

    def _classify(self, token: str) -> str:
        if token == _EOS:
            return "eos"
        if token == "x" or token in CONSTANTS:
            return "leaf"
        if token == "INT+":
            return "int+"
        if token == "INT-":
            return "int-"
        if token == "0":
            return "zero"
        if len(token) == 1 and token in "123456789":
            return "digit"
        if token in UNARY_FUNCTIONS:
            return "unary"
        if token in BINARY_OPERATORS:
            return "binary"
        return "forbid"

    def start(self, n: int, max_len: int | None = None):
        zeros = torch.zeros(n, dtype=torch.long)
        return (zeros + 1, self._rem(n, max_len), zeros.clone(), zeros.clone())  # need, rem, digit, done

    def _allowed_classes(self, states) -> torch.Tensor:
        need, rem, digit, done = states
        live = done == 0
        sign = (digit == 1) | (digit == 2)  # an integer still needs its first digit
        free = live & ~sign & (need >= 1)  # may start a new node
        cols = {
            "forbid": torch.zeros_like(live),
            "eos": (live & ~sign & (need == 0)) | ~live,
            "leaf": free & (rem >= need),
            "int+": free & (rem >= need + 1),
            "int-": free & (rem >= need + 1),
            "zero": live & ((digit == 1) | (digit == 4)) & (rem >= need + 1),
            "digit": live & ((digit == 1) | (digit == 2) | (digit == 4)) & (rem >= need + 1),
            "unary": free & (rem >= need + 1),
            "binary": free & (rem >= need + 2),
        }
        return torch.stack([cols[c] for c in self.CLASSES], dim=1)  # [N, C]

    # The rules only see: is a slot open, the slack rem - need (capped at 2), digit, done.
    def _key(self, states) -> torch.Tensor:
        need, rem, digit, done = states
        slack = (rem - need).clamp(0, 2)
        return (((need > 0).long() * 3 + slack) * 5 + digit) * 2 + done

    def _representatives(self):
        keys = torch.arange(2 * 3 * 5 * 2)
        done, digit, slack, open_ = keys % 2, keys // 2 % 5, keys // 10 % 3, keys // 30
        return open_, open_ + slack, digit, done

    def advance(self, states, tokens: torch.Tensor):
        need, rem, digit, done = states
        cls = self.token_class[tokens]  # [N]
        eos = self.is_eos[cls]
        return (
            need + self.d_need[cls],
            rem - (1 - eos),
            self.next_digit[digit * len(self.CLASSES) + cls],
            done | eos,
        )


_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


class InfixConstraint(_Constraint):
    """Valid infix expressions over a paper-tokenizer vocabulary (``x``, integers and
    decimals as single tokens, ``+ - * / ** ^``, ``(``, ``)``, function names, constants).

    A state machine over four modes: 0 expect an operand, 1 expect an operand after a unary
    minus (no second ``-``), 2 after an operand (binary operator, ``)`` or ``<eos>``), 3 after
    a function name (only ``(``); plus the parenthesis depth. ``<eos>`` only after an operand
    at depth 0. A token is allowed only if the expression can still be closed within
    ``max_len``: from mode 0/1 that takes ``1 + depth`` tokens, from 2 ``depth``, from 3
    ``3 + depth``. Other names and specials besides ``<eos>`` are never allowed.
    """

    CLASSES = ("forbid", "eos", "operand", "func", "lparen", "rparen", "minus", "binop")

    def __init__(self, vocab, max_len: int):
        super().__init__(vocab, max_len)
        c = self._c
        self.d_depth = torch.zeros(len(self.CLASSES), dtype=torch.long)  # [C]
        self.d_depth[c("lparen")], self.d_depth[c("rparen")] = 1, -1
        nxt = torch.arange(4).unsqueeze(1).repeat(1, len(self.CLASSES))  # [4, C]: stay by default
        nxt[:, c("operand")] = nxt[:, c("rparen")] = 2
        nxt[:, c("lparen")] = nxt[:, c("binop")] = 0
        nxt[:, c("func")] = 3
        nxt[:, c("minus")] = torch.tensor([1, 1, 0, 1])  # unary, except after an operand
        self.next_mode = nxt.view(-1)

    def _classify(self, token: str) -> str:
        if token == _EOS:
            return "eos"
        if token == "x" or token in CONSTANTS or _NUMBER.fullmatch(token):
            return "operand"
        if token in UNARY_FUNCTIONS:
            return "func"
        if token == "(":
            return "lparen"
        if token == ")":
            return "rparen"
        if token == "-":
            return "minus"
        if token in ("+", "*", "/", "**", "^"):
            return "binop"
        return "forbid"

    def start(self, n: int, max_len: int | None = None):
        zeros = torch.zeros(n, dtype=torch.long)
        return (zeros.clone(), zeros.clone(), self._rem(n, max_len), zeros.clone())  # mode, depth, rem, done

    def _allowed_classes(self, states) -> torch.Tensor:
        mode, depth, rem, done = states
        live = done == 0
        operand_slot = live & ((mode == 0) | (mode == 1))
        after_operand = live & (mode == 2)
        cols = {
            "forbid": torch.zeros_like(live),
            "eos": (after_operand & (depth == 0)) | ~live,
            "operand": operand_slot & (rem >= depth + 1),
            "func": operand_slot & (rem >= depth + 4),  # f ( operand ) then the open ones
            "lparen": (operand_slot & (rem >= depth + 3)) | (live & (mode == 3)),
            "rparen": after_operand & (depth > 0),
            "minus": ((live & (mode == 0)) | after_operand) & (rem >= depth + 2),
            "binop": after_operand & (rem >= depth + 2),
        }
        return torch.stack([cols[c] for c in self.CLASSES], dim=1)  # [N, C]

    # The rules only see: mode, whether a parenthesis is open, slack rem - depth (capped at
    # 4), done.
    def _key(self, states) -> torch.Tensor:
        mode, depth, rem, done = states
        slack = (rem - depth).clamp(0, 4)
        return ((mode * 2 + (depth > 0).long()) * 5 + slack) * 2 + done

    def _representatives(self):
        keys = torch.arange(4 * 2 * 5 * 2)
        done, slack, deep, mode = keys % 2, keys // 2 % 5, keys // 10 % 2, keys // 20
        return mode, deep, deep + slack, done

    def advance(self, states, tokens: torch.Tensor):
        mode, depth, rem, done = states
        cls = self.token_class[tokens]  # [N]
        eos = self.is_eos[cls]
        return (
            self.next_mode[mode * len(self.CLASSES) + cls],
            depth + self.d_depth[cls],
            rem - (1 - eos),
            done | eos,
        )


# -- search ---------------------------------------------------------------------------------


def _allowed_log_probs(log_probs, constraint, cstates, eos_id: int, final: bool) -> torch.Tensor:
    """``log_probs`` [N, V] with -inf on tokens that may not come next."""
    if constraint is None and not final:
        return log_probs
    n, v = log_probs.shape
    if constraint is not None:
        allowed = constraint.mask(cstates).to(log_probs.device)  # [N, V]
    else:
        allowed = torch.ones(n, v, dtype=torch.bool, device=log_probs.device)
    if final:
        allowed = allowed & (torch.arange(v, device=log_probs.device) == eos_id)
    # A row with nothing allowed cannot happen with a sound constraint; end it rather than
    # let it pick among -inf.
    stuck = ~allowed.any(dim=1)
    if bool(stuck.any()):
        allowed[stuck, eos_id] = True
    return log_probs.masked_fill(~allowed, float("-inf"))


def _check(max_len: int) -> None:
    if max_len < 0:
        raise ValueError("max_len must be >= 0")


def greedy(
    model: DecodeStepModel,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    *,
    sos_id: int,
    eos_id: int,
    max_len: int,
    constraint=None,
) -> list[list[int]]:
    """Most probable next token at every step, batched; outputs without ``<sos>``/``<eos>``."""
    _check(max_len)
    b = src.size(0)
    state = model.encode(src, src_lengths)
    tokens = torch.full((b,), sos_id, dtype=torch.long, device=src.device)
    cstates = constraint.start(b, max_len) if constraint is not None else None
    done = torch.zeros(b, dtype=torch.bool, device=src.device)
    out: list[list[int]] = [[] for _ in range(b)]
    for step in range(max_len + 1):
        log_probs, state = model.decode_step(tokens, state)
        log_probs = _allowed_log_probs(log_probs, constraint, cstates, eos_id, final=step == max_len)
        tokens = log_probs.argmax(dim=-1).masked_fill(done, eos_id)  # finished rows idle on <eos>
        for i, t in enumerate(tokens.tolist()):
            if t != eos_id:
                out[i].append(t)
        done |= tokens == eos_id
        if bool(done.all()):
            break
        if constraint is not None:
            cstates = constraint.advance(cstates, tokens.cpu())  # constraint state lives on the CPU
    return out


class _Finished:
    """The best ``k`` distinct finished hypotheses of one source."""

    def __init__(self, k: int):
        self.k = k
        self.best: dict[tuple[int, ...], Hypothesis] = {}

    def add(self, hyp: Hypothesis) -> None:
        old = self.best.get(hyp.tokens)
        if old is None or hyp.score > old.score:
            self.best[hyp.tokens] = hyp
            if len(self.best) > self.k:
                del self.best[min(self.best.values(), key=_sort_key).tokens]

    def worst(self) -> float:
        return min(h.score for h in self.best.values())

    def sorted(self) -> list[Hypothesis]:
        return sorted(self.best.values(), key=_sort_key, reverse=True)


def _sort_key(h: Hypothesis):
    # Best first with a deterministic tie-break: score, then log-prob, then shorter.
    return (h.score, h.log_prob, -len(h.tokens), tuple(-t for t in h.tokens))


def beam_search(
    model: DecodeStepModel,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    *,
    beam_size: int,
    sos_id: int,
    eos_id: int,
    max_len: int,
    length_penalty: str | Callable[[int], float] = "average",
    constraint=None,
) -> list[list[Hypothesis]]:
    """Batched beam search: ``beam_size`` live hypotheses per source, ``B * beam_size`` rows
    through the model at each step. Returns up to ``beam_size`` distinct finished hypotheses
    per source, best (highest penalised score) first.

    At each step the best ``2 * beam_size`` extensions of a source are taken in order: one
    ending in ``<eos>`` and ranked within the first ``beam_size`` leaves the beam as finished
    (so ``beam_size=1`` with ``length_penalty="none"`` is greedy); the others refill the
    beam. A source stops when ``beam_size`` hypotheses are finished and the best live one
    cannot beat the worst of them whatever it appends (log-probabilities only fall, so its
    bound is its log-probability over the largest penalty still reachable), or at
    ``max_len``. Finished rows leave the model's batch.
    """
    _check(max_len)
    if beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    penalty = _penalty(length_penalty)
    k = beam_size
    b = src.size(0)
    device = src.device
    # Largest and smallest penalty over final lengths m..max_len+1, for the stopping bound.
    lengths = range(1, max_len + 2)
    pen = [penalty(m) for m in lengths]
    pen_max = [max(pen[i:]) for i in range(len(pen))]
    pen_min = [min(pen[i:]) for i in range(len(pen))]

    # Each source starts with one row (its <sos>) and widens to k rows after the first step.
    state = model.encode(src, src_lengths)
    cstates = constraint.start(b, max_len) if constraint is not None else None
    tokens = torch.full((b,), sos_id, dtype=torch.long, device=device)
    scores = torch.zeros(b, device=device)  # [A*width] where A = sources still searching
    width = 1
    prefixes: list[tuple[int, ...]] = [()] * b
    active = list(range(b))
    finished = [_Finished(k) for _ in range(b)]

    for step in range(max_len + 1):
        log_probs, state = model.decode_step(tokens, state)
        log_probs = _allowed_log_probs(log_probs, constraint, cstates, eos_id, final=step == max_len)
        v = log_probs.size(1)
        cand = (scores.unsqueeze(1) + log_probs.float()).view(len(active), width * v)  # [A, width*V]
        top_scores, top_idx = cand.topk(min(2 * k, width * v), dim=1)  # [A, 2K]

        next_rows, next_tokens, next_scores, next_prefixes, still = [], [], [], [], []
        for a, (item, row_scores, row_idx) in enumerate(zip(active, top_scores.tolist(), top_idx.tolist())):
            alive: list[tuple[int, int, float]] = []
            for rank, (s, idx) in enumerate(zip(row_scores, row_idx)):
                if s == float("-inf") or len(alive) == k:
                    break
                row, tok = a * width + idx // v, idx % v
                if tok == eos_id:
                    if rank < k:
                        length = len(prefixes[row]) + 1
                        finished[item].add(Hypothesis(prefixes[row], s / penalty(length), s))
                    continue
                alive.append((row, tok, s))
            fin = finished[item]
            if not alive:
                continue
            if len(fin.best) >= k:
                best = alive[0][2]
                m = step + 2  # the shortest final length a live hypothesis can still have
                bound = max(best / pen_max[m - 1], best / pen_min[m - 1]) if m <= max_len + 1 else -math.inf
                if bound <= fin.worst():
                    continue
            still.append(item)
            alive += [(alive[0][0], alive[0][1], float("-inf"))] * (k - len(alive))  # dead fillers
            for row, tok, s in alive:
                next_rows.append(row)
                next_tokens.append(tok)
                next_scores.append(s)
                next_prefixes.append(prefixes[row] + (tok,))
        if not still:
            break
        index = torch.tensor(next_rows, dtype=torch.long, device=device)
        state = model.reorder_state(state, index)
        tokens = torch.tensor(next_tokens, dtype=torch.long, device=device)
        if constraint is not None:  # constraint state lives on the CPU
            cstates = constraint.advance(constraint.reorder(cstates, index.cpu()), tokens.cpu())
        scores = torch.tensor(next_scores, device=device)
        prefixes = next_prefixes
        active = still
        width = k
    return [f.sorted() for f in finished]

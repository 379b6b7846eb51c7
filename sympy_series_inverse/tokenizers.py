"""Tokenizers: series and functions to token sequences and back, with a saved vocabulary.

Two are built in (registered through the plugin hooks like any other):

``paper``
    The paper's scheme. Series and functions written infix as SymPy prints them, operators
    and parentheses spaced, function names atomic, every integer one token, ``**`` for
    powers; a shared vocabulary built from the training data. An integer never seen in
    training becomes ``<unk>``: faithful to the paper, and its main weakness. On the paper
    grammar's analytic functions at k = 4, 5, 6 the vocabulary has 95 entries (the paper's
    161 also covers Laurent series of the functions with a pole at 0).
``prefix``
    The robust default. A fixed vocabulary, so nothing is ever ``<unk>``: integers are
    written digit by digit after a sign token (``INT+ 2 4`` is 24). Functions in prefix
    (Polish) notation, which makes grammar-constrained decoding a matter of counting open
    argument slots. A series is ``N <digits of n>``, then ``X0 <x0 in prefix>`` when the
    point is not 0, then one ``T <digits of k> <c_k in prefix>`` group per non-zero term.

Both rename the series variable to ``x``; decoding renames it back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import sympy

from . import parser
from .errors import BundleError, ParseError
from .functions import BINARY_OPERATORS, CONSTANTS, UNARY_FUNCTIONS
from .series import SeriesData

__all__ = ["Vocab", "PaperTokenizer", "PrefixTokenizer", "SPECIALS", "PAD", "SOS", "EOS", "UNK"]

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
_X = sympy.Symbol("x")
_INFIX_TOKEN = re.compile(r"\*\*|[-+*/()^]|[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|\S")


@dataclass(frozen=True)
class Vocab:
    """Token <-> id. The four specials come first: ``<pad>`` = 0, ``<sos>``, ``<eos>``, ``<unk>``."""

    tokens: tuple[str, ...]

    def __post_init__(self):
        if self.tokens[: len(SPECIALS)] != SPECIALS:
            raise BundleError(f"a vocabulary must start with {SPECIALS}")
        if len(set(self.tokens)) != len(self.tokens):
            raise BundleError("a vocabulary must not repeat tokens")
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]]) -> "Vocab":
        """Every token seen in ``sequences``, in a deterministic order."""
        seen = dict.fromkeys(t for seq in sequences for t in seq)
        return cls(SPECIALS + tuple(sorted(t for t in seen if t not in SPECIALS)))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        return self._ids.get(token, self._ids[UNK])

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[i] if 0 <= i < len(self.tokens) else UNK for i in ids]

    def to_json(self) -> str:
        return json.dumps({"tokens": list(self.tokens)}, indent=0)

    @classmethod
    def from_json(cls, text: str, source: str = "vocab.json") -> "Vocab":
        try:
            tokens = json.loads(text)["tokens"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise TypeError("tokens must be a list of strings")
            return cls(tuple(tokens))
        except (ValueError, KeyError, TypeError) as e:
            raise BundleError(f"{source}: not a vocabulary file ({e})") from e

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise BundleError(f"{path}: cannot read vocabulary ({e})") from e
        return cls.from_json(text, str(path))


def _to_x(expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    return expr if x == _X else expr.xreplace({x: _X})


class _Base:
    name = "base"
    notation = "prefix"

    def __init__(self, vocab: Vocab | None = None):
        self.vocab = vocab if vocab is not None else self.default_vocab()

    def default_vocab(self) -> Vocab:
        raise BundleError(f"tokenizer {self.name!r} needs a vocabulary built from data (Vocab.build)")

    def encode_series(self, series: SeriesData) -> list[str]:
        raise NotImplementedError

    def encode_function(self, expr: sympy.Expr, x: sympy.Symbol = _X) -> list[str]:
        raise NotImplementedError

    def decode_function(self, tokens: Sequence[str], x: sympy.Symbol = _X) -> sympy.Expr:
        """Tokens to a SymPy expression in ``x``, through the safe parser only."""
        parse = parser.parse_prefix if self.notation == "prefix" else parser.parse_infix
        return parse(list(tokens), {"x": x})


class PaperTokenizer(_Base):
    """The paper's infix tokenizer; its vocabulary is built from data."""

    name = "paper"
    notation = "infix"

    @staticmethod
    def split(text: str) -> list[str]:
        """Split SymPy's printed form into the paper's tokens."""
        return _INFIX_TOKEN.findall(text)

    def encode_series(self, series: SeriesData) -> list[str]:
        poly = _to_x(series.polynomial(), series.x)
        return self.split(sympy.sstr(poly)) if poly != 0 else ["0"]

    def encode_function(self, expr: sympy.Expr, x: sympy.Symbol = _X) -> list[str]:
        return parser.to_infix(_to_x(expr, x))


class PrefixTokenizer(_Base):
    """The robust default: fixed vocabulary, digits for integers, prefix functions."""

    name = "prefix"
    notation = "prefix"
    DIGITS = tuple("0123456789")
    MARKERS = ("N", "X0", "T", "INT+", "INT-")

    def default_vocab(self) -> Vocab:
        words = (
            self.MARKERS + self.DIGITS + tuple(BINARY_OPERATORS) + tuple(UNARY_FUNCTIONS) + tuple(CONSTANTS) + ("x",)
        )
        return Vocab(SPECIALS + words)

    @classmethod
    def _digits(cls, k: int) -> list[str]:
        return list(str(k))

    def encode_series(self, series: SeriesData) -> list[str]:
        tokens = ["N", *self._digits(series.n)]
        if series.x0 != 0:
            tokens += ["X0", *parser.to_prefix(series.x0)]
        for k, c in enumerate(series.coeffs):
            if c != 0:
                tokens += ["T", *self._digits(k), *parser.to_prefix(c)]
        return tokens

    def encode_function(self, expr: sympy.Expr, x: sympy.Symbol = _X) -> list[str]:
        tokens = parser.to_prefix(_to_x(expr, x))
        unknown = [t for t in tokens if t not in self.vocab]
        if unknown:
            raise ParseError(f"token {unknown[0]!r} is outside the prefix vocabulary")
        return tokens

"""Grammars as data: the function classes a backend proposes from.

A grammar is a TOML file (format in ``docs/grammar-format``) with three tables:

``[grammar]``
    ``name``, ``version``, ``description``, ``variable`` (default ``"x"``),
    ``expansion_point`` (default ``"0"``), ``opt_in`` (default ``false``: lookup searches
    the grammar only when a call names it, or when nothing the default search proposes
    verifies).
``[terms]``
    ``base``: base terms as expressions in the variable; ``count``: how many terms one
    function combines; optional ``base_weights`` / ``count_weights`` (uniform otherwise).
``[construction]``
    ``rule`` (``"left-fold"``: ``((b1 op b2) op b3)``), ``operators`` (names from
    :data:`~sympy_series_inverse.functions.BINARY_OPERATORS`), optional
    ``operator_weights``, ``simplify`` (``"simplify-expand"``, ``"expand"`` or ``"none"``),
    ``zero = "redraw"`` and ``not_analytic = "discard"`` (the only policies so far).

Text in grammar files goes through the safe parser only; nothing in a grammar file is
executed. Enumerating a finite grammar costs one ``simplify`` per combination, so the
result is kept as a snapshot (``<name>.functions.json`` beside the grammar file, or in the
user cache) keyed by the grammar file's content hash.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import sys
import threading
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

import sympy

from . import engine, parser
from .errors import GrammarError, NotAnalyticError, ParseError, SeriesInverseError
from .functions import BINARY_OPERATORS
from .resources import cache_dir

__all__ = ["Grammar", "GrammarFunction", "complexity", "get_grammar", "SNAPSHOT_FORMAT"]

SNAPSHOT_FORMAT = 1
_SIMPLIFIERS = {
    "simplify-expand": lambda e: sympy.simplify(sympy.expand(e)),
    "expand": sympy.expand,
    "none": lambda e: e,
}
_RULES = ("left-fold",)
_MAX_COMBINATIONS = 200_000


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes in the expression tree: the simplicity measure used for ranking."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


@dataclass(frozen=True)
class GrammarFunction:
    """One distinct function of a finite grammar.

    ``probability`` is the chance that the generator produces it, conditioned on the draw
    being kept (non-zero, and analytic at the expansion point when ``analytic``).
    ``raw_probability`` is conditioned on non-zero only, as the generator's redraw of zero.
    """

    expr: sympy.Expr
    raw_probability: Fraction
    combinations: int
    analytic: bool
    probability: Fraction = Fraction(0)


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


class Grammar:
    """A grammar loaded from a TOML file; see the module docstring for the format."""

    def __init__(self, data: dict, *, source: str = "<memory>", text: str = ""):
        self.source = source
        self._text = text
        self._lock = threading.Lock()
        meta = self._table(data, "grammar")
        terms = self._table(data, "terms")
        rule = self._table(data, "construction")
        self.name = self._field(meta, "name", str)
        self.version = str(self._field(meta, "version", (str, int, float)))
        self.description = str(meta.get("description", ""))
        # Not part of the digest: it decides where the grammar is searched, not what it holds.
        self.opt_in = self._field(meta, "opt_in", bool, False)
        self.variable = sympy.Symbol(self._field(meta, "variable", str, "x"))
        self.expansion_point = self._parse(str(meta.get("expansion_point", "0")), "expansion_point")
        if self.expansion_point.free_symbols:
            self._fail("expansion_point must be a number", "expansion_point")
        self.rule = self._field(rule, "rule", str)
        if self.rule not in _RULES:
            self._fail(f"unknown construction rule {self.rule!r}; known: {', '.join(_RULES)}", "rule")
        self.simplify_name = self._field(rule, "simplify", str, "simplify-expand")
        if self.simplify_name not in _SIMPLIFIERS:
            self._fail(f"unknown simplify {self.simplify_name!r}; known: {', '.join(_SIMPLIFIERS)}", "simplify")
        for key, allowed in (("zero", "redraw"), ("not_analytic", "discard")):
            if rule.get(key, allowed) != allowed:
                self._fail(f"{key} must be {allowed!r}", key)
        base = self._field(terms, "base", list)
        if not base:
            self._fail("base must list at least one term", "base")
        self.base_terms = tuple(self._parse(str(t), str(t)) for t in base)
        self.operators = tuple(self._field(rule, "operators", list))
        for op in self.operators:
            if op not in BINARY_OPERATORS:
                self._fail(f"unknown operator {op!r}; known: {', '.join(BINARY_OPERATORS)}", str(op))
        self.counts = tuple(self._field(terms, "count", list))
        if not self.counts or not all(isinstance(c, int) and 1 <= c <= 8 for c in self.counts):
            self._fail("count must list term counts between 1 and 8", "count")
        if max(self.counts) > 1 and not self.operators:
            self._fail("operators must be given when count exceeds 1", "operators")
        self.base_weights = self._weights(terms, "base_weights", len(self.base_terms))
        self.count_weights = self._weights(terms, "count_weights", len(self.counts))
        self.operator_weights = self._weights(rule, "operator_weights", len(self.operators))

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> "Grammar":
        """Load a grammar file; a :class:`GrammarError` names the file and line on problems."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise GrammarError(f"{path}: cannot read grammar file: {e}") from e
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise GrammarError(f"{path}: not valid TOML: {e}") from e
        return cls(data, source=str(path), text=text)

    def _fail(self, message: str, needle: str | None = None):
        line = _line_of(self._text, needle) if needle else None
        where = f"{self.source}:{line}" if line else self.source
        raise GrammarError(f"{where}: {message}")

    def _table(self, data: dict, key: str) -> dict:
        value = data.get(key)
        if not isinstance(value, dict):
            self._fail(f"missing table [{key}]")
        return value

    def _field(self, table: dict, key: str, kind, default=None):
        value = table.get(key, default)
        if value is None:
            self._fail(f"missing field {key!r}")
        if not isinstance(value, kind):
            self._fail(f"field {key!r} has the wrong type ({type(value).__name__})", key)
        return value

    def _weights(self, table: dict, key: str, size: int) -> tuple[Fraction, ...]:
        raw = table.get(key)
        if raw is None:
            return tuple(Fraction(1, size) for _ in range(size)) if size else ()
        if not isinstance(raw, list) or len(raw) != size:
            self._fail(f"{key} must list {size} weights", key)
        try:
            weights = [Fraction(str(w)) for w in raw]
        except (ValueError, ZeroDivisionError) as e:
            self._fail(f"{key}: {e}", key)
        if any(w < 0 for w in weights) or sum(weights) == 0:
            self._fail(f"{key} must be non-negative and not all zero", key)
        total = sum(weights)
        return tuple(w / total for w in weights)

    def _parse(self, text: str, needle: str) -> sympy.Expr:
        try:
            return parser.parse_user_string(text, {self.variable.name: self.variable})
        except ParseError as e:
            self._fail(f"cannot parse {text!r}: {e}", needle)

    # -- identity ------------------------------------------------------------------------

    @cached_property
    def digest(self) -> str:
        """Content hash of everything that defines the function class."""
        spec = {
            "rule": self.rule,
            "variable": self.variable.name,
            "x0": sympy.srepr(self.expansion_point),
            "base": [sympy.srepr(t) for t in self.base_terms],
            "base_weights": [str(w) for w in self.base_weights],
            "counts": list(self.counts),
            "count_weights": [str(w) for w in self.count_weights],
            "operators": list(self.operators),
            "operator_weights": [str(w) for w in self.operator_weights],
            "simplify": self.simplify_name,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Grammar({self.name!r}, version={self.version!r}, source={self.source!r})"

    # -- construction --------------------------------------------------------------------

    @property
    def is_finite(self) -> bool:
        """Whether :meth:`enumerate` can list every function (true for left-fold grammars)."""
        return self.rule == "left-fold"

    @property
    def combination_count(self) -> int:
        b, o = len(self.base_terms), len(self.operators)
        return sum(b**c * o ** (c - 1) for c in self.counts)

    def _combinations(self) -> Iterator[tuple[sympy.Expr, Fraction]]:
        ops = [BINARY_OPERATORS[o][1] for o in self.operators]
        indices_b = range(len(self.base_terms))
        for count, p_count in zip(self.counts, self.count_weights):
            for terms in itertools.product(indices_b, repeat=count):
                for opseq in itertools.product(range(len(ops)), repeat=count - 1):
                    p = p_count
                    expr = self.base_terms[terms[0]]
                    p *= self.base_weights[terms[0]]
                    for op, term in zip(opseq, terms[1:]):
                        expr = ops[op](expr, self.base_terms[term])
                        p *= self.operator_weights[op] * self.base_weights[term]
                    if p:
                        yield expr, p

    def simplify(self, expr: sympy.Expr) -> sympy.Expr:
        """The grammar's own canonical form (``simplify(expand(f))`` for the paper grammar)."""
        return _SIMPLIFIERS[self.simplify_name](expr)

    def is_analytic(self, expr: sympy.Expr) -> bool:
        """Whether ``expr`` has a Taylor series at the grammar's expansion point."""
        try:
            engine.taylor_coefficients(expr, self.variable, self.expansion_point, 1)
        except NotAnalyticError:
            return False
        return True

    def enumerate(self, *, analytic_only: bool = True) -> list[GrammarFunction]:
        """Every distinct non-zero function with its generator probability, most likely first.

        ``probability`` is conditioned on the kept draws: non-zero, and analytic at the
        expansion point when ``analytic_only`` (the generator redraws the rest).

        Raises:
            GrammarError: the grammar is not finite, or too large to enumerate.
        """
        functions = self._enumeration()
        if analytic_only:
            functions = [f for f in functions if f.analytic]
        total = sum(f.raw_probability for f in functions)
        out = [
            GrammarFunction(f.expr, f.raw_probability, f.combinations, f.analytic, f.raw_probability / total)
            for f in functions
        ]
        out.sort(key=lambda f: (-f.probability, complexity(f.expr), sympy.default_sort_key(f.expr)))
        return out

    def _enumeration(self) -> list[GrammarFunction]:
        with self._lock:
            cached = self.__dict__.get("_functions")
            if cached is None:
                cached = self._load_snapshot() or self._build_snapshot()
                self.__dict__["_functions"] = cached
            return cached

    def _build_snapshot(self) -> list[GrammarFunction]:
        if not self.is_finite:
            raise GrammarError(f"{self.source}: grammar {self.name!r} is not finite; use sample()")
        if self.combination_count > _MAX_COMBINATIONS:
            raise GrammarError(
                f"{self.source}: {self.combination_count} combinations exceed the enumeration cap "
                f"{_MAX_COMBINATIONS}; use sample()"
            )
        seen: dict[sympy.Expr, list] = {}
        simplified: dict[sympy.Expr, sympy.Expr] = {}
        p_zero = Fraction(0)
        for expr, p in self._combinations():
            f = simplified.get(expr)
            if f is None:
                f = simplified[expr] = self.simplify(expr)
            if f == 0:
                p_zero += p
                continue
            entry = seen.setdefault(f, [Fraction(0), 0])
            entry[0] += p
            entry[1] += 1
        keep = 1 - p_zero
        functions = [
            GrammarFunction(f, p / keep, n, self.is_analytic(f)) for f, (p, n) in seen.items()
        ]
        self._write_snapshot(functions)
        return functions

    # -- snapshot files ------------------------------------------------------------------

    def _snapshot_paths(self) -> list[Path]:
        name = f"{self.name}.functions.json"
        paths = []
        if self.source != "<memory>":
            paths.append(Path(self.source).with_name(name))
        paths.append(cache_dir() / "grammars" / f"{self.name}-{self.digest}.functions.json")
        return paths

    def _load_snapshot(self) -> list[GrammarFunction] | None:
        for path in self._snapshot_paths():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if data.get("format") != SNAPSHOT_FORMAT or data.get("digest") != self.digest:
                continue
            symbols = {self.variable.name: self.variable}
            try:
                return [
                    GrammarFunction(
                        parser.parse_prefix(row["prefix"].split(), symbols),
                        Fraction(row["probability"]),
                        int(row["combinations"]),
                        bool(row["analytic"]),
                    )
                    for row in data["functions"]
                ]
            except (KeyError, TypeError, ValueError, SeriesInverseError) as e:
                raise GrammarError(f"{path}: corrupt grammar snapshot ({e}); delete it to rebuild") from e
        return None

    def snapshot(self) -> dict:
        """The enumeration as JSON-ready data (what ``<name>.functions.json`` holds)."""
        rows = sorted(self._enumeration(), key=lambda f: (-f.raw_probability, sympy.default_sort_key(f.expr)))
        return self._snapshot_data(rows)

    def _snapshot_data(self, functions: Sequence[GrammarFunction]) -> dict:
        return {
            "format": SNAPSHOT_FORMAT,
            "grammar": self.name,
            "version": self.version,
            "digest": self.digest,
            "sympy": sympy.__version__,
            "combinations": self.combination_count,
            "functions": [
                {
                    "prefix": " ".join(parser.to_prefix(f.expr)),
                    "probability": str(f.raw_probability),
                    "combinations": f.combinations,
                    "analytic": f.analytic,
                }
                for f in functions
            ],
        }

    def _write_snapshot(self, functions: Sequence[GrammarFunction]) -> None:
        rows = sorted(functions, key=lambda f: (-f.raw_probability, sympy.default_sort_key(f.expr)))
        path = self._snapshot_paths()[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._snapshot_data(rows), indent=0), encoding="utf-8")
        tmp.replace(path)

    # -- sampling ------------------------------------------------------------------------

    def sample(self, rng: random.Random | int | None = None, *, analytic_only: bool = True) -> sympy.Expr:
        """Draw one function with the generator's own probabilities (zero and, when
        ``analytic_only``, non-analytic draws are redrawn). Deterministic for a seed."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        return self.sample_many(1, rng, analytic_only=analytic_only)[0]

    def sample_many(self, count: int, rng: random.Random | int | None = None, *, analytic_only: bool = True) -> list[sympy.Expr]:
        """``count`` independent draws; for finite grammars this draws from the enumeration,
        which is the generator's distribution without re-running ``simplify`` per draw."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        functions = self.enumerate(analytic_only=analytic_only)
        weights = [float(f.probability) for f in functions]
        return [f.expr for f in rng.choices(functions, weights=weights, k=count)]


def get_grammar(name: str) -> Grammar:
    """The registered grammar ``name``, loaded once per process.

    Raises:
        RegistryError: no grammar of that name is registered (the message lists them).
        GrammarError: the grammar file is malformed.
    """
    from . import plugins  # the registry imports the built-in plugins, which import us

    return plugins.get("grammar", name, build=_build_grammar)


def _build_grammar(component) -> Grammar:
    if isinstance(component, Grammar):
        return component
    if isinstance(component, (str, Path)):
        return Grammar.from_file(component)
    if callable(component):
        grammar = component()
        if isinstance(grammar, Grammar):
            return grammar
    raise GrammarError(f"a grammar must be a Grammar, a file path or a callable returning one, got {component!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sympy_series_inverse grammar NAME [--write-snapshot]``: enumerate a
    registered grammar, print its counts, and optionally rewrite the shipped snapshot."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m sympy_series_inverse grammar", description=main.__doc__)
    p.add_argument("name", help="registered grammar name")
    p.add_argument("--write-snapshot", action="store_true", help="write <name>.functions.json beside the grammar file")
    args = p.parse_args(argv)
    try:
        grammar = get_grammar(args.name)
    except SeriesInverseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.write_snapshot:
        functions = grammar._build_snapshot()
        path = Path(grammar.source).with_name(f"{grammar.name}.functions.json")
        rows = sorted(functions, key=lambda f: (-f.raw_probability, sympy.default_sort_key(f.expr)))
        path.write_text(json.dumps(grammar._snapshot_data(rows), indent=0) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    everything = grammar.enumerate(analytic_only=False)
    print(f"{grammar.name} {grammar.version} (digest {grammar.digest}): {grammar.combination_count} combinations, "
          f"{len(everything)} distinct non-zero functions, {sum(f.analytic for f in everything)} analytic at "
          f"{grammar.variable} = {grammar.expansion_point}")
    return 0


"""Table lookup over finite grammars: the ambiguity set of a series, by construction.

Every function of each enumerable grammar is expanded once (to ``max_order`` terms about the
query's expansion point) and indexed by its leading coefficients. A query returns every
function whose truncated series equals the input, scored by the log of the grammar's prior,
so on a finite grammar lookup reaches the exact-match ceiling: it is the baseline every
neural model is measured against. Tables about rational points are cached on disk,
versioned by the grammar's content hash, so they are rebuilt when the grammar changes.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import sympy

from .. import engine, plugins
from ..errors import SeriesInverseError
from ..grammar import Grammar, get_grammar
from ..resources import cache_dir
from ..series import SeriesData
from .base import Proposal

__all__ = ["LookupConfig", "LookupBackend", "TABLE_FORMAT"]

TABLE_FORMAT = 1


@dataclass(frozen=True)
class LookupConfig:
    """``grammars``: names to index (``None``: every finite registered grammar);
    ``max_order``: terms stored per function; ``max_results``: cap per query."""

    grammars: tuple[str, ...] | None = None
    max_order: int = 12
    max_results: int = 100


def _key(c: sympy.Expr):
    # Rationals compare exactly; symbolic constants by a rounded value (verification after
    # lookup re-checks exactly, so a rounding collision can never be reported as verified).
    if c.is_Rational:
        return (int(c.p), int(c.q))
    return format(sympy.N(c, 30), ".20e") if c.is_number else str(c)


class _Table:
    """One grammar's functions expanded about one point."""

    def __init__(self, grammar: Grammar, x0: sympy.Expr, order: int):
        self.grammar = grammar
        self.order = order
        self.x0 = x0
        self.exprs: list[sympy.Expr] = []
        self.priors: list[float] = []
        self.keys: list[tuple] = []
        self._index: dict[int, dict[tuple, list[int]]] = {}
        self._lock = threading.Lock()
        if not self._load():
            self._build()

    def _path(self):
        point = str(self.x0).replace("/", "_")
        name = f"{self.grammar.name}-{self.grammar.digest}-x0_{point}-n{self.order}.json"
        return cache_dir() / "lookup" / name

    def _rows(self):
        at_home = self.x0 == self.grammar.expansion_point
        return self.grammar.enumerate(analytic_only=at_home)

    def _build(self) -> None:
        x = self.grammar.variable
        rows, coeffs = [], []
        for f in self._rows():
            try:
                c = engine.taylor_coefficients(f.expr, x, self.x0, self.order)
            except SeriesInverseError:
                continue  # not analytic about this point (or too costly): cannot match
            rows.append(f)
            coeffs.append(c)
        total = sum(f.raw_probability for f in rows) or Fraction(1)
        self._fill([f.expr for f in rows], [f.raw_probability / total for f in rows], coeffs)
        if self.x0.is_Rational and all(c.is_Rational for cs in coeffs for c in cs):
            self._save(rows, coeffs)

    def _fill(self, exprs, priors, coeffs) -> None:
        self.exprs = list(exprs)
        self.priors = [float(p) for p in priors]
        self.keys = [tuple(_key(c) for c in cs) for cs in coeffs]

    def _save(self, rows, coeffs) -> None:
        data = {
            "format": TABLE_FORMAT,
            "grammar": self.grammar.name,
            "digest": self.grammar.digest,
            "x0": str(self.x0),
            "order": self.order,
            "rows": [[i, [str(c) for c in cs]] for i, cs in zip(self._row_ids(rows), coeffs)],
        }
        path = self._path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs a rebuild next time

    def _row_ids(self, rows):
        position = {f.expr: i for i, f in enumerate(self._rows())}
        return [position[f.expr] for f in rows]

    def _load(self) -> bool:
        try:
            data = json.loads(self._path().read_text(encoding="utf-8"))
            if data.get("format") != TABLE_FORMAT or data.get("digest") != self.grammar.digest:
                return False
            all_rows = self._rows()
            rows = [all_rows[i] for i, _ in data["rows"]]
            coeffs = [[sympy.Rational(Fraction(c)) for c in cs] for _, cs in data["rows"]]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return False  # missing or stale cache: rebuild
        total = sum(f.raw_probability for f in rows) or Fraction(1)
        self._fill([f.expr for f in rows], [f.raw_probability / total for f in rows], coeffs)
        return True

    def matches(self, keys: tuple) -> list[int]:
        n = min(len(keys), self.order)
        with self._lock:
            index = self._index.get(n)
            if index is None:
                index = {}
                for i, k in enumerate(self.keys):
                    index.setdefault(k[:n], []).append(i)
                self._index[n] = index
        return index.get(keys[:n], [])


class LookupBackend:
    """Answers with the ambiguity set of the input in every finite grammar it indexes."""

    name = "lookup"

    def __init__(self, config: LookupConfig | None = None, **overrides):
        self.config = config or LookupConfig(**overrides)
        self._tables: dict[tuple[str, sympy.Expr], _Table] = {}
        self._lock = threading.Lock()

    def _grammar_names(self, grammars: Sequence[str] | None) -> list[str]:
        names = list(grammars) if grammars is not None else list(self.config.grammars or plugins.names("grammar"))
        out = []
        for name in names:
            g = get_grammar(name)
            if g.is_finite:
                out.append(name)
        return out

    def table(self, grammar: str, x0: sympy.Expr) -> _Table:
        """The (cached) table of ``grammar`` about ``x0``."""
        key = (grammar, x0)
        with self._lock:
            if key not in self._tables:
                self._tables[key] = _Table(get_grammar(grammar), x0, self.config.max_order)
            return self._tables[key]

    def propose(self, series: SeriesData, *, beam_size: int = 10, grammars=None, deadline=None) -> list[Proposal]:
        keys = tuple(_key(c) for c in series.coeffs)
        out: list[Proposal] = []
        for name in self._grammar_names(grammars):
            table = self.table(name, series.x0)
            g = table.grammar
            hits = sorted(table.matches(keys), key=lambda i: -table.priors[i])[: self.config.max_results]
            for i in hits:
                expr = table.exprs[i]
                if g.variable != series.x:
                    expr = expr.xreplace({g.variable: series.x})
                prior = table.priors[i]
                out.append(Proposal(math.log(prior) if prior > 0 else -math.inf, f"lookup[{name}]", expr=expr, grammar=name))
        return out

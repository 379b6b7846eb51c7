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
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import sympy

from .. import engine, plugins
from ..errors import BudgetExceededError, GrammarError, SeriesInverseError
from ..grammar import Grammar, get_grammar
from ..resources import cache_dir
from ..series import SeriesData
from .base import Proposal

__all__ = ["LookupConfig", "LookupBackend", "TABLE_FORMAT"]

TABLE_FORMAT = 2


@dataclass(frozen=True)
class LookupConfig:
    """``grammars``: names to index (``None``: every finite registered grammar that is not
    ``opt_in``; a call's ``grammars`` may still name an opt-in one);
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
    """One grammar's functions expanded about one point, keyed by their coefficients.

    Built incrementally: a call that runs out of time leaves the rows done so far, and the
    next call continues. A finished table is saved in the cache (keys only)."""

    def __init__(self, grammar: Grammar, x0: sympy.Expr, order: int):
        self.grammar = grammar
        self.order = order
        self.x0 = x0
        at_home = x0 == grammar.expansion_point
        self._rows = grammar.enumerate(analytic_only=at_home)
        self._done = 0
        self._kept: list[tuple[int, tuple]] = []
        self.exprs: list[sympy.Expr] = []
        self.priors: list[float] = []
        self.keys: list[tuple] = []
        self.complete = False
        self._index: dict[int, dict[tuple, list[int]]] = {}
        self._lock = threading.Lock()
        self._load()

    def _path(self):
        point = str(self.x0).replace("/", "_").replace(" ", "")
        name = f"{self.grammar.name}-{self.grammar.digest}-x0_{point}-n{self.order}.json"
        return cache_dir() / "lookup" / name

    def build(self, deadline: float | None = None) -> None:
        """Expand the remaining functions; ``BudgetExceededError`` if ``deadline`` passes."""
        with self._lock:
            x = self.grammar.variable
            while self._done < len(self._rows):
                if deadline is not None and time.monotonic() > deadline:
                    raise BudgetExceededError(
                        f"the lookup table of grammar {self.grammar.name!r} about {x} = {self.x0} is "
                        f"{self._done}/{len(self._rows)} built; call again or pass a larger timeout "
                        "(it is cached once complete)"
                    )
                try:
                    c = engine.taylor_coefficients(self._rows[self._done].expr, x, self.x0, self.order, deadline=deadline)
                except BudgetExceededError:
                    if deadline is not None and time.monotonic() > deadline:
                        continue  # the call's time ran out: retry this row next time
                    c = None  # this function alone is too costly here: it cannot match
                except SeriesInverseError:
                    c = None  # not analytic about this point: it cannot match
                if c is not None:
                    self._kept.append((self._done, tuple(_key(v) for v in c)))
                self._done += 1
            if not self.complete:
                self._finish()
                self._save()

    def _finish(self) -> None:
        rows = [self._rows[i] for i, _ in self._kept]
        total = sum(f.raw_probability for f in rows) or Fraction(1)
        self.exprs = [f.expr for f in rows]
        self.priors = [float(f.raw_probability / total) for f in rows]
        self.keys = [k for _, k in self._kept]
        self.complete = True

    def _save(self) -> None:
        data = {
            "format": TABLE_FORMAT,
            "grammar": self.grammar.name,
            "digest": self.grammar.digest,
            "x0": str(self.x0),
            "order": self.order,
            "functions": len(self._rows),
            "rows": [[i, list(k)] for i, k in self._kept],
        }
        path = self._path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs a rebuild next time

    def _load(self) -> None:
        try:
            data = json.loads(self._path().read_text(encoding="utf-8"))
            if (data.get("format"), data.get("digest"), data.get("functions")) != (
                TABLE_FORMAT, self.grammar.digest, len(self._rows)
            ):
                return
            kept = [(int(i), tuple(tuple(v) if isinstance(v, list) else v for v in k)) for i, k in data["rows"]]
            if any(not 0 <= i < len(self._rows) for i, _ in kept):
                return
        except (OSError, ValueError, KeyError, TypeError):
            return  # missing or stale cache: rebuild
        self._kept, self._done = kept, len(self._rows)
        self._finish()

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
        explicit = grammars is not None or self.config.grammars is not None
        names = list(grammars) if grammars is not None else list(self.config.grammars or plugins.names("grammar"))
        out = []
        for name in names:
            try:
                g = get_grammar(name)
            except GrammarError as e:
                if explicit:
                    raise
                # One broken plugin grammar must not take the others down.
                warnings.warn(f"grammar {name!r} skipped by lookup: {e}", stacklevel=3)
                continue
            if g.is_finite and (explicit or not g.opt_in):
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
            loading = time.monotonic()
            table = self.table(name, series.x0)  # enumerates the grammar once per process
            if deadline is not None:
                deadline += time.monotonic() - loading  # one-time work, like loading a model
            table.build(deadline)
            g = table.grammar
            hits = sorted(table.matches(keys), key=lambda i: -table.priors[i])[: self.config.max_results]
            for i in hits:
                expr = table.exprs[i]
                if g.variable != series.x:
                    expr = expr.xreplace({g.variable: series.x})
                prior = table.priors[i]
                out.append(Proposal(math.log(prior) if prior > 0 else -math.inf, f"lookup[{name}]", expr=expr, grammar=name, calibrated=True))
        return out

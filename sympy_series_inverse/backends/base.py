"""What every backend returns, and the protocol the core relies on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import sympy

from ..series import SeriesData

__all__ = ["Proposal", "Backend"]


@dataclass(frozen=True)
class Proposal:
    """One candidate from a backend, before verification.

    Exactly one of ``expr`` (already a SymPy expression in the series variable) and
    ``tokens`` (model output in ``notation``, parsed by the safe parser) is set. ``score``
    is the backend's own log-score (higher is better): a log-probability for neural
    backends, the log of the grammar prior for table lookup.
    """

    score: float
    source: str
    expr: sympy.Expr | None = None
    tokens: tuple[str, ...] | None = None
    notation: str = "prefix"
    grammar: str | None = None


@runtime_checkable
class Backend(Protocol):
    """The protocol a backend implements; ``name`` labels its proposals."""

    name: str

    def propose(
        self,
        series: SeriesData,
        *,
        beam_size: int,
        grammars: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> list[Proposal]:
        """Up to ``beam_size`` proposals per grammar, best first. ``grammars`` restricts
        which grammars may be used (``None``: all the backend knows)."""
        ...

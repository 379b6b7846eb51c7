"""What every backend returns, and the protocol the core relies on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import sympy

from ..errors import BudgetExceededError
from ..series import SeriesData

__all__ = ["Proposal", "Backend", "CompositeBackend", "propose_many"]


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
    calibrated: bool = False  # score is the log of the function's probability under its grammar


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


def propose_many(
    backend, series: Sequence[SeriesData], *, beam_size: int, grammars=None, deadline=None
) -> list[list[Proposal]]:
    """Proposals for several series: one batched call where the backend offers
    ``propose_many`` (a network decodes the batch together), else one ``propose`` each."""
    batched = getattr(backend, "propose_many", None)
    if batched is not None:
        return batched(series, beam_size=beam_size, grammars=grammars, deadline=deadline)
    return [backend.propose(s, beam_size=beam_size, grammars=grammars, deadline=deadline) for s in series]


class CompositeBackend:
    """Several proposers under one verifier: their proposals are pooled, each keeping its
    own source label. A member that fails is skipped with a warning, never fatal.

    Members run side by side in threads when there are several (``parallel``): a network's
    matrix products release the GIL, so on a multi-core machine the slowest member, not
    the sum, sets the latency. The pooled order is the members' order either way."""

    def __init__(self, members: Sequence[Backend], name: str = "default", parallel: bool = True):
        self.members = list(members)
        self.name = name
        self.parallel = parallel
        self._pool = None

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=len(self.members), thread_name_prefix=f"{self.name}-member")
        return self._pool

    def propose(self, series: SeriesData, *, beam_size: int, grammars=None, deadline=None) -> list[Proposal]:
        def settle(member):
            try:
                return [member.propose(series, beam_size=beam_size, grammars=grammars, deadline=deadline)], None
            except Exception as e:  # noqa: BLE001 - sorted out by _gather, in member order
                return None, e

        if self.parallel and len(self.members) > 1:
            outcomes = list(self._executor().map(settle, self.members))
        else:
            outcomes = [settle(m) for m in self.members]
        return self._gather(outcomes, 1)[0]

    def propose_many(self, series: Sequence[SeriesData], *, beam_size: int, grammars=None, deadline=None) -> list[list[Proposal]]:
        """Each member's proposals for the whole batch, members in turn: a batch already
        keeps every core busy, so running networks side by side would only oversubscribe."""
        outcomes = []
        for member in self.members:
            try:
                outcomes.append((propose_many(member, series, beam_size=beam_size, grammars=grammars, deadline=deadline), None))
            except Exception as e:  # noqa: BLE001 - sorted out by _gather, in member order
                outcomes.append((None, e))
        return self._gather(outcomes, len(series))

    def _gather(self, outcomes, n: int) -> list[list[Proposal]]:
        """Pool members' proposals (one list per series) per series in member order; a
        failed member is skipped with a warning, running out of time is raised."""
        out: list[list[Proposal]] = [[] for _ in range(n)]
        for member, (found, error) in zip(self.members, outcomes):
            if isinstance(error, BudgetExceededError):
                raise error  # out of time is the caller's to report, not a broken member
            if error is not None:  # one broken proposer must not sink the others
                warnings.warn(f"backend {getattr(member, 'name', member)!r} failed and was skipped: {error!r}", stacklevel=3)
                continue
            for i, proposals in enumerate(found):
                out[i].extend(proposals)
        return out

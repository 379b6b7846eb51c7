"""Verification by re-expansion: a candidate's own Taylor series against the input's.

A candidate is *verified* only when its series reproduces every given coefficient exactly.
That is necessary, not sufficient: the Taylor polynomial itself, or any Pade approximant,
reproduces every given term without being the function. Hence candidates come from grammars,
and a hold-out check (``series_inverse(..., holdout=k)``) hides the last terms from the
proposer so that the verification asks a real question: does the candidate predict them?

``verify`` never raises on a bad candidate; it records why the candidate failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sympy

from . import engine
from .errors import BudgetExceededError, NotAnalyticError, SeriesInverseError
from .series import SeriesData

__all__ = ["Verification", "verify", "STATUSES"]

#: status -> meaning, for the documentation and the CLI
STATUSES = {
    "verified": "the candidate's series reproduces every given term",
    "mismatch": "the candidate's series differs from the input at some order",
    "not-analytic": "the candidate has no Taylor series at the expansion point",
    "over-budget": "verification would exceed its time or size budget; not verified",
    "error": "the candidate could not be expanded (unsupported function, bad object)",
    "parse-error": "the backend's tokens are not a valid expression",
}


@dataclass(frozen=True)
class Verification:
    """Outcome of re-expanding one candidate.

    ``matched`` counts the leading coefficients that agree; ``first_mismatch`` is the order
    of the first that does not (``None`` when all ``n`` agree).
    """

    status: str
    matched: int = 0
    first_mismatch: int | None = None
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def verify(candidate, series: SeriesData, *, budget: float = 1.0, deadline: float | None = None) -> Verification:
    """Compare the Taylor series of ``candidate`` with ``series`` term by term, exactly.

    Parameters:
        candidate: a SymPy expression in ``series.x``.
        series: the normalised input.
        budget: seconds this one candidate may take.
        deadline: a ``time.monotonic()`` value no verification may pass.
    """
    if not isinstance(candidate, sympy.Expr):
        return Verification("error", reason=f"not a SymPy expression: {type(candidate).__name__}")
    extra = candidate.free_symbols - {series.x} - set().union(*(c.free_symbols for c in series.coeffs))
    if extra:
        names = ", ".join(sorted(s.name for s in extra))
        return Verification("error", reason=f"candidate has free symbols other than {series.x}: {names}")
    limit = time.monotonic() + budget
    deadline = limit if deadline is None else min(deadline, limit)
    try:
        coeffs = engine.taylor_coefficients(candidate, series.x, series.x0, series.n, deadline=deadline)
    except NotAnalyticError as e:
        return Verification("not-analytic", reason=str(e))
    except BudgetExceededError as e:
        return Verification("over-budget", reason=str(e))
    except SeriesInverseError as e:
        return Verification("error", reason=str(e))
    except (RecursionError, MemoryError, ArithmeticError, ValueError, TypeError, AttributeError) as e:
        # SymPy can fail deep inside on odd candidates; a bad candidate is never fatal.
        return Verification("error", reason=f"{type(e).__name__}: {e}")
    for k, (ours, theirs) in enumerate(zip(coeffs, series.coeffs)):
        try:
            same = engine.coefficients_equal(ours, theirs)
        except BudgetExceededError as e:
            return Verification("over-budget", matched=k, reason=str(e))
        if not same:
            return Verification("mismatch", matched=k, first_mismatch=k, reason=f"order {k}: {ours} != {theirs}")
    return Verification("verified", matched=series.n)

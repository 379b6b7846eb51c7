"""What bounds and steers an expansion: the size caps, the deadline, and the internal
signals that make a computation start over (in a larger coefficient field, in a ramified
variable ``x = x0 +- t**d``, or at a higher working precision)."""

from __future__ import annotations

import contextvars
import time

from ..errors import BudgetExceededError

TIERS = ("flint", "ring", "symbolic", "sympy")
MAX_ORDER = 2000  # largest n accepted
MAX_NODES = 5000  # largest expression (tree nodes) accepted
SYMPY_MAX_OPS, SYMPY_MAX_ORDER = 40, 10  # sympy.series cannot be interrupted: keep it small
_MAX_RESTARTS = 40  # new symbolic constants discovered in one call
_SIMPLIFY_MAX_OPS = 80  # simplify is tried on differences this small only
_MAX_POW_BITS = 10**6  # c**k with rational c may not exceed this size
_MAX_RAMIFIED = 4 * MAX_ORDER  # terms in t when x = x0 + t**d

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def _check_deadline() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceededError("deadline passed while expanding")


class _NeedGens(Exception):
    """Internal: a constant outside the current coefficient field was met."""

    def __init__(self, atoms: frozenset):
        self.atoms = atoms


class _NeedRamification(Exception):
    """Internal: a fractional power of a series vanishing at x0; x = x0 +- t**m would do."""

    def __init__(self, m: int):
        self.m = m


class _NeedPrecision(Exception):
    """Internal: a series vanished to working precision where its valuation matters."""

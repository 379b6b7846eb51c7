"""Typed errors: everything the package raises on purpose derives from one base class.

Each subclass also derives from the builtin a caller would naturally catch
(``ValueError`` for bad arguments, ``NotImplementedError`` for valid but
unsupported input), as SymPy's own ``series`` does.
"""

from __future__ import annotations

__all__ = [
    "SeriesInverseError",
    "InputError",
    "UnsupportedSeriesError",
    "NotAnalyticError",
    "ParseError",
    "GrammarError",
    "RegistryError",
    "BundleError",
    "BudgetExceededError",
]


class SeriesInverseError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(SeriesInverseError, ValueError):
    """The input cannot be read as a truncated power series; the message says how to fix it."""


class UnsupportedSeriesError(SeriesInverseError, NotImplementedError):
    """Valid input this package does not handle (Laurent or Puiseux series, for example)."""


class NotAnalyticError(UnsupportedSeriesError):
    """An expression has no Taylor series at the expansion point (a pole, a branch point)."""


class ParseError(SeriesInverseError, ValueError):
    """A token sequence or string is not a valid expression.

    ``position`` is the index of the token (or character) where parsing stopped.
    """

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message if position is None else f"{message} (at position {position})")
        self.position = position


class GrammarError(SeriesInverseError, ValueError):
    """A grammar file is malformed; the message names the file and, where known, the line."""


class RegistryError(SeriesInverseError, LookupError):
    """An unknown or duplicate component name; the message lists the known names."""


class BundleError(SeriesInverseError, ValueError):
    """A pretrained bundle is missing, corrupt or inconsistent; the message names the bundle."""


class BudgetExceededError(SeriesInverseError, RuntimeError):
    """A computation would exceed its cost budget (time, size or precision)."""

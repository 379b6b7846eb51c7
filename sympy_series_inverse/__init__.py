"""sympy_series_inverse: recover verified closed forms from truncated Taylor series.

>>> from sympy import symbols, O
>>> from sympy_series_inverse import series_inverse
>>> x = symbols("x")
>>> series_inverse(x - x**3/6 + x**5/120 + O(x**7))[0]
sin(x)
"""

from .api import get_model, series_inverse, series_inverse_many
from .errors import (
    BudgetExceededError,
    BundleError,
    GrammarError,
    InputError,
    NotAnalyticError,
    ParseError,
    RegistryError,
    SeriesInverseError,
    UnsupportedSeriesError,
)
from .hookspecs import hookimpl
from .rank import Candidate
from .series import SeriesData, normalize

__version__ = "0.1.0"

__all__ = [
    "series_inverse",
    "series_inverse_many",
    "get_model",
    "normalize",
    "SeriesData",
    "Candidate",
    "hookimpl",
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

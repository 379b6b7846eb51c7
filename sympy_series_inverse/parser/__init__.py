"""Turn model tokens and user text into SymPy expressions, safely.

Nothing here ever hands model output to ``eval``, ``exec``, ``sympify`` or ``parse_expr``:
the two token notations are parsed by hand over a closed vocabulary, and every node is
built through a guard that refuses, *before* SymPy evaluates it, anything that could hang
or allocate a huge number (``7 ** (10 ** 7)``).  Errors are :class:`~.errors.ParseError`
with ``position`` = where parsing stopped (a token index for token lists, a character
index for user strings, ``None`` for a SymPy tree given to :func:`safe_build`).

Infix notation ("paper" notation), :func:`parse_infix` / :func:`to_infix`
-------------------------------------------------------------------------
A list of tokens, one string each, no whitespace tokens::

    ["-", "x", "**", "4", "/", "24", "+", "x", "**", "3", "-", "2", "*", "x"]

* operators ``+ - * / **`` and ``^`` (a synonym of ``**``), parentheses ``(`` ``)``;
* integers: one token of decimal digits, e.g. ``"24"`` (no sign inside the token, no
  ``_``; leading zeros are allowed here, ``"007"`` is 7);
* decimals: one token ``"0.5"``, ``"2."`` or ``".5"``, read as the *exact* rational
  (``"0.5"`` -> ``1/2``); no exponent notation (``"1e5"`` is refused);
* function names from :data:`functions.UNARY_FUNCTIONS` (``exp log sqrt sin cos ...``),
  always followed by ``"("`` expr ``")"``;
* constants from :data:`functions.CONSTANTS` (``pi``, ``E``);
* symbol names: the keys of ``symbols`` (default ``{"x": Symbol("x")}``).

Precedence is Python's: ``**`` binds tightest and is right-associative, then unary
``+``/``-`` (so ``-x**2 == -(x**2)`` and ``2**-1`` is allowed), then ``* /``, then ``+ -``
(both left-associative).  No implicit multiplication: ``["2", "x"]`` is an error.
:func:`to_infix` emits ``str(expr)`` split into such tokens, except that a number is
never put next to a lone sum in a product (``2*((x + 1)/y)`` instead of ``2*(x + 1)/y``),
since re-reading would distribute it (``2*(x + 1)`` evaluates to ``2*x + 2``).

Prefix (Polish) notation, :func:`parse_prefix` / :func:`to_prefix`
------------------------------------------------------------------
Each operator token comes before its operands::

    ["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"]   # sin(x) + 2*x**3

* binary operators (two operands): ``add sub mul div pow``
  (:data:`functions.BINARY_OPERATORS`); ``sub a b`` is ``a - b``, ``div a b`` is ``a / b``;
* unary functions (one operand): the names of :data:`functions.UNARY_FUNCTIONS`;
* leaves: constants ``pi`` ``E``, symbol names, and integers;
* an integer is a sign token ``"INT+"`` or ``"INT-"`` followed by one or more
  single-digit tokens ``"0"`` ... ``"9"``, most significant first, read greedily up to the
  first non-digit token: ``["INT+", "1", "2"]`` = 12, ``["INT-", "3"]`` = -3,
  ``["INT+", "0"]`` = 0.  A leading ``"0"`` before more digits is refused.
  A plain non-negative integer token (``"12"``, no leading zeros) is also a leaf; note that
  a single-digit plain token directly after an ``INT±`` integer would be read as one of its
  digits, so tokenizers should use the ``INT±`` form (as :func:`to_prefix` does);
* rationals need no special token: ``["div", "INT+", "1", "INT+", "3"]`` = 1/3.

:func:`to_prefix` writes n-ary sums and products as right-nested chains
(``a + b + c`` -> ``add a add b c``), ``Pow(b, 1/2)`` as ``sqrt b``, a rational ``p/q``
as ``div INT± p INT+ q``, and never emits ``sub``/``div`` for differences/quotients
(SymPy stores them as ``Add``/``Mul`` with ``-1`` and ``Pow(., -1)``).

User strings, :func:`parse_user_string`
---------------------------------------
Text such as ``"1 - x**2/2 + x**4/24 + O(x**6)"``, ``"x - x^3/6"``, ``"2*x + 3 x**2"`` or
``"O((x - 1)**5, (x, 1))"``.  The text is vetted with Python's :mod:`tokenize` first
(whitelisted names, operators and number forms only; see the function), then read by
SymPy's ``parse_expr`` with an explicit namespace that builds *inert* nodes only, and
finally evaluated node by node through :func:`safe_build`.  Decimal numbers stay
``Float`` here (the caller decides), ``^`` means power, juxtaposition multiplies.

Limits (:class:`Limits`)
------------------------
Each field of :class:`Limits` caps one size:

``max_tokens``
    length of a token list (infix and prefix);
``max_depth``
    nesting depth: each ``(``/function call, unary sign and ``**`` exponent opens a level
    in infix; each pending operator in prefix (so a prefix sum of k terms nests k-1 deep);
    tree depth in :func:`safe_build`;
``max_int_digits``
    digits of one integer (or decimal) literal in tokens or text;
``max_exponent``
    ``|e|`` of a numeric exponent, whatever the base, and the denominator of a rational
    exponent (``x**(1/3)`` fine, ``x**65`` refused);
``max_result_digits``
    digits of any integer/rational SymPy would build while evaluating (estimated *before*
    evaluating a power: ``|e| * digits(base)``), also the bound on ``|log10|`` of a Float
    and on the digits of a Float;
``max_chars``
    length of a user string.

Three more rules keep SymPy's own evaluation cheap (each found by fuzzing):

* a numeric argument of ``exp sinh cosh tanh sin cos tan cot sec csc`` must be below
  ``10**max_result_digits`` in absolute value (``cot(sinh(cosh(exp(5))))`` would otherwise make
  mpmath compute pi to ~10**64 bits, ``exp(exp(exp(9)))`` is refused the same way);
* a constant built by a power or a function must be real (``sqrt(-1)``, ``log(-2)``,
  ``asin(2)`` are refused): SymPy's assumption queries on nested complex constants can take
  minutes, and a real Taylor series has no use for them;
* the argument of ``O(...)`` must be a monomial in symbols or ``symbol - point``
  (``x**6``, ``(x - 1)**5``, ``x*y``): ``sympy.Order`` factors anything else, which for
  ``O((x + y + 1)**64)`` alone takes ~10 s.

>>> parse_infix(["sin", "(", "x", ")", "/", "cos", "(", "x", ")"])
sin(x)/cos(x)
>>> parse_prefix(["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"])
2*x**3 + sin(x)
>>> parse_user_string("1 - x^2/2 + x**4/24 + O(x**6)")
1 - x**2/2 + x**4/24 + O(x**6)
>>> parse_infix(["7", "**", "(", "10", "**", "7", ")"])
Traceback (most recent call last):
...
sympy_series_inverse.errors.ParseError: exponent 10000000 exceeds max_exponent=64 (at position 1)
"""

from .build import safe_build
from .emit import to_infix, to_prefix
from .limits import DEFAULT_LIMITS, Limits
from .text import parse_user_string
from .tokens import parse_infix, parse_prefix
from .vocabulary import (
    DIGIT_TOKENS,
    INFIX_FIXED_TOKENS,
    INFIX_OPERATORS,
    INT_NEG,
    INT_POS,
    PREFIX_FIXED_TOKENS,
)

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "INT_POS",
    "INT_NEG",
    "DIGIT_TOKENS",
    "INFIX_OPERATORS",
    "INFIX_FIXED_TOKENS",
    "PREFIX_FIXED_TOKENS",
    "parse_infix",
    "parse_prefix",
    "safe_build",
    "parse_user_string",
    "to_prefix",
    "to_infix",
]

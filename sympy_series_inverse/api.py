"""``series_inverse``: the package's one entry point."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Sequence

import sympy

from . import parser, plugins
from .backends.base import Proposal, propose_many
from .errors import BudgetExceededError, InputError, ParseError, SeriesInverseError
from .grammar import complexity
from .rank import POLICIES, Candidate, rank
from .series import SeriesData, normalize
from .verify import Verification, verify

__all__ = ["series_inverse", "series_inverse_many", "get_model"]

_NOTATIONS = {"prefix": parser.parse_prefix, "infix": parser.parse_infix}


def get_model(name: str = "default"):
    """The registered model ``name``, built on first use and cached for the process."""
    return plugins.get("model", name, build=lambda factory: factory())


def series_inverse(
    expr_or_series,
    x=None,
    x0=None,
    n: int | None = None,
    *,
    model: str = "default",
    grammar: str | None = None,
    beam_size: int = 10,
    holdout: int = 0,
    verified_only: bool = True,
    details: bool = False,
    timeout: float = 5.0,
    candidate_budget: float = 1.0,
    policy: str = "verified-first",
) -> list:
    """Recover closed-form functions whose Taylor series is the given truncated series.

    "Inverse" here means the inverse of taking a series: from ``1 - x**2/2 + O(x**4)`` back
    to ``cos(x)``. (SymPy's own "series inversion" means ``1/f`` or reversion; not this.)

    Every returned expression is *verified by re-expansion*: its own Taylor series
    reproduces every given term exactly. Verified is necessary, not sufficient (the Taylor
    polynomial always verifies); ``holdout=k`` hides the last ``k`` terms from the proposers
    so that verification also checks that the candidate predicts terms it was not shown.

    Parameters:
        expr_or_series: the series: an expression with an O-term, a polynomial, any other
            expression (expanded to order ``n``), a list of coefficients, or a string.
        x: the series variable; inferred as ``Expr.series`` infers it.
        x0: the expansion point; read from the O-term, else 0.
        n: the order (number of known terms); read from the input when possible.
        model: a registered model name (``"default"``, ``"lookup"``, ...).
        grammar: only use proposals from this registered grammar.
        beam_size: how many hypotheses a neural backend keeps.
        holdout: terms hidden from the proposers and used only to verify.
        verified_only: drop unverified candidates (the default); with ``False`` they are
            returned after the verified ones, with their status.
        details: return :class:`~sympy_series_inverse.rank.Candidate` records instead of
            bare expressions.
        timeout: seconds for the whole call (not counting the one-time loading of a
            model); candidates not verified in time are reported as ``"over-budget"``,
            never as verified.
        candidate_budget: seconds for verifying one candidate.
        policy: the ranking policy name (see :mod:`sympy_series_inverse.rank`).

    Returns:
        A list of SymPy expressions, best first (``[]`` when nothing verifies), or of
        Candidate records with ``details=True``.

    Raises:
        InputError: the input cannot be read as a series, or arguments are invalid.
        UnsupportedSeriesError: a Laurent or Puiseux series, or complex coefficients.
        ParseError: a string that is not a valid expression.
        RegistryError: an unknown model or grammar name.
        BudgetExceededError: expanding a non-polynomial input would exceed ``timeout``, or
            the lookup table about a new expansion point (built once per grammar and
            point, then cached on disk) is not finished within it: call once with a larger
            ``timeout`` (about a minute for the paper grammar).

    Examples:
        >>> from sympy import symbols, cos, O
        >>> from sympy_series_inverse import series_inverse
        >>> x = symbols("x")
        >>> series_inverse(1 - x**2/2 + x**4/24 + O(x**6))[0]
        cos(x)
        >>> series_inverse(cos(x).series(x, 0, 7))[0]
        cos(x)
        >>> top = series_inverse("x + x**2 + x**3/2 + O(x**4)", details=True)[0]
        >>> top.expr, top.verified, top.source
        (x*exp(x), True, 'lookup[paper]')

    See Also:
        series_inverse_many: many series at once (batched decoding).
        sympy_series_inverse.series.normalize: what input is accepted.
        sympy.series.approximants.approximants: Pade approximants (always verify, rarely predict).
    """
    started = time.monotonic()
    _check_arguments(beam_size, timeout, grammar, policy)
    series, shown = _prepare(expr_or_series, x, x0, n, holdout, started + timeout)
    loading = time.monotonic()
    backend = get_model(model)
    # Loading a model happens once per process; it does not eat this call's budget.
    deadline = started + timeout + time.monotonic() - loading
    proposals = backend.propose(shown, beam_size=beam_size, grammars=[grammar] if grammar else None, deadline=deadline)
    return _answer(proposals, series, deadline, candidate_budget, policy, verified_only, details,
                   fallback=None if grammar else (backend, shown, beam_size))


def series_inverse_many(
    items: Sequence,
    x=None,
    x0=None,
    n: int | None = None,
    *,
    model: str = "default",
    grammar: str | None = None,
    beam_size: int = 10,
    holdout: int = 0,
    verified_only: bool = True,
    details: bool = False,
    timeout: float = 5.0,
    candidate_budget: float = 1.0,
    policy: str = "verified-first",
) -> list[list]:
    """:func:`series_inverse` for many series at once: one list of answers per item, in order.

    The same arguments, applied to every item; ``timeout`` is per item. Neural backends
    decode the series together in batches (``batch_size`` series, one part per core), which
    gives several times the throughput of one call per series
    (``python -m benchmarks speed`` measures it); each series is then verified and ranked
    on its own, exactly as :func:`series_inverse` does.

    Raises:
        InputError: an item cannot be read as a series (the message names its index), or
            arguments are invalid. Every item is read before any model runs.
        UnsupportedSeriesError, ParseError, RegistryError, BudgetExceededError: as
            :func:`series_inverse`, naming the item.

    Examples:
        >>> from sympy import symbols, cos, exp
        >>> from sympy_series_inverse import series_inverse_many
        >>> x = symbols("x")
        >>> [answers[0] for answers in series_inverse_many([cos(x).series(x, 0, 7), exp(x).series(x, 0, 7)])]
        [cos(x), exp(x)]
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InputError(f"items must be a list of series, got {type(items).__name__}; for one series call series_inverse")
    if items and all(isinstance(item, (int, float, Fraction, sympy.Number)) for item in items):
        raise InputError(
            "every item is a number: for one series given by its coefficients call series_inverse(coefficients); "
            "series_inverse_many takes a list of series"
        )
    _check_arguments(beam_size, timeout, grammar, policy)
    prepared = []
    for i, item in enumerate(items):
        try:
            prepared.append(_prepare(item, x, x0, n, holdout, time.monotonic() + timeout))
        except SeriesInverseError as e:
            raise _naming_item(e, i) from e
    backend = get_model(model)
    started = time.monotonic()
    proposals = propose_many(
        backend, [shown for _, shown in prepared], beam_size=beam_size, grammars=[grammar] if grammar else None,
        deadline=started + timeout * max(1, len(items)),
    )
    out = []
    for i, ((series, shown), found) in enumerate(zip(prepared, proposals)):
        try:
            out.append(_answer(found, series, time.monotonic() + timeout, candidate_budget, policy, verified_only, details,
                               fallback=None if grammar else (backend, shown, beam_size)))
        except SeriesInverseError as e:
            raise _naming_item(e, i) from e
    return out


def _naming_item(error: SeriesInverseError, i: int) -> SeriesInverseError:
    """The same error type, its message prefixed with the item's index."""
    try:
        return type(error)(f"item {i}: {error}")
    except TypeError:  # an error type with a different constructor keeps its own message
        return error


def _check_arguments(beam_size, timeout, grammar, policy) -> None:
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise InputError(f"beam_size must be a positive integer, got {beam_size!r}")
    if timeout is None or not timeout > 0:
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if policy not in POLICIES:
        raise InputError(f"unknown ranking policy {policy!r}; known: {', '.join(POLICIES)}")
    if grammar is not None:
        from .grammar import get_grammar

        get_grammar(grammar)  # an unknown name fails here, listing the known ones


def _prepare(expr_or_series, x, x0, n, holdout, deadline) -> tuple[SeriesData, SeriesData]:
    """The series, and what the proposers are shown of it (all but the held-out terms)."""
    try:
        series = normalize(expr_or_series, x=x, x0=x0, n=n, deadline=deadline)
    except BudgetExceededError as e:
        raise BudgetExceededError(f"{e}; pass fewer terms (n=...), the series itself, or a larger timeout=...") from e
    if isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout < series.n:
        raise InputError(f"holdout must be an integer from 0 to n - 1 = {series.n - 1}, got {holdout!r}")
    return series, (series.truncate(series.n - holdout) if holdout else series)


def _answer(proposals, series, deadline, candidate_budget, policy, verified_only, details, fallback=None) -> list:
    """Verify, rank and filter one series' proposals. With ``fallback`` (backend, shown
    series, beam size) and nothing verified, the opt-in grammars are asked too."""
    candidates = _assess(proposals, series, deadline, candidate_budget)
    if fallback is not None and not any(c.verified for c in candidates):
        candidates += _assess(_opt_in_proposals(*fallback, deadline), series, deadline, candidate_budget)
    ranked = rank(candidates, policy, series)
    if verified_only:
        ranked = [c for c in ranked if c.verified]
    return ranked if details else [c.expr for c in ranked]


def _opt_in_grammars(x0) -> list[str]:
    """Finite opt-in grammars whose home expansion point is ``x0`` (a table about another
    point takes minutes to build, too long for a fallback)."""
    from .grammar import get_grammar

    names = []
    for name in plugins.names("grammar"):
        try:
            g = get_grammar(name)
        except SeriesInverseError:
            continue  # a broken plugin grammar is reported where it is asked for by name
        if g.opt_in and g.is_finite and g.expansion_point == x0:
            names.append(name)
    return names


def _opt_in_proposals(backend, shown: SeriesData, beam_size: int, deadline: float) -> list[Proposal]:
    """The model's proposals from the opt-in grammars (for a series the default search
    cannot explain); none when there are none or the time is up."""
    names = _opt_in_grammars(shown.x0)
    if not names or time.monotonic() > deadline:
        return []
    try:
        return backend.propose(shown, beam_size=beam_size, grammars=names, deadline=deadline)
    except BudgetExceededError:  # a table still being built: the next call goes on with it
        return []


def _assess(proposals: Sequence[Proposal], series: SeriesData, deadline: float, budget: float) -> list[Candidate]:
    symbols = {"x": series.x, series.x.name: series.x}
    seen: dict = {}
    out: list[Candidate] = []
    for p in proposals:
        expr = p.expr
        if expr is None:
            try:
                expr = _NOTATIONS[p.notation](p.tokens or (), symbols)
            except (ParseError, KeyError) as e:
                out.append(Candidate(None, False, 0, None, p.score, 0, p.source, "parse-error", str(e), p.grammar, p.calibrated))
                continue
        if expr in seen:  # verify each distinct expression once
            v = seen[expr]
        elif time.monotonic() > deadline:
            v = Verification("over-budget", reason="the call's timeout was reached before verification")
        else:
            v = seen[expr] = verify(expr, series, budget=budget, deadline=deadline)
        out.append(
            Candidate(
                expr, v.verified, v.matched, v.first_mismatch, p.score, complexity(expr), p.source, v.status, v.reason,
                p.grammar, p.calibrated,
            )
        )
    return out

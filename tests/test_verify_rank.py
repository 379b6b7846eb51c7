"""Verification by re-expansion and the ranking policy."""

import math
import pytest

import sympy
from sympy import O, cos, exp, sin, symbols, tan

from sympy_series_inverse.rank import Candidate, POLICIES, dedupe, rank
from sympy_series_inverse.series import normalize
from sympy_series_inverse.verify import STATUSES, verify

x, y = symbols("x y")
S = normalize(cos(x).series(x, 0, 7))


def test_verify_outcomes():
    assert verify(cos(x), S).verified
    v = verify(1 - x**2 / 2, S)
    assert v.status == "mismatch" and v.matched == 4 and v.first_mismatch == 4
    assert verify(1 / x, S).status == "not-analytic"
    assert verify(cos(y), S).status == "error"
    assert verify("cos(x)", S).status == "error"
    assert verify(sympy.Function("f")(x), S).status in {"error", "over-budget"}
    assert set(STATUSES) >= {"verified", "mismatch", "not-analytic", "over-budget", "error", "parse-error"}


def test_taylor_polynomial_verifies_but_holdout_exposes_it():
    poly = S.polynomial()
    assert verify(poly, S).verified  # necessary, not sufficient
    shown = S.truncate(5)
    assert verify(shown.polynomial(), S).status == "mismatch"


def test_verification_budget_is_respected():
    v = verify(cos(x), S, deadline=0.0)
    assert v.status == "over-budget" and not v.verified


def _c(expr, verified=True, matched=7, score=0.0, source="a"):
    return Candidate(expr, verified, matched, None if verified else matched, score, sympy.count_ops(expr) + 1, source, "verified" if verified else "mismatch")


def test_policy_order():
    cands = [
        _c(x**2, verified=False, matched=3, score=5.0),
        _c(cos(x), score=-2.0),
        _c(cos(x) * exp(x) / exp(x) + 0 * x, score=-2.0),
        _c(1 - x**2 / 2, verified=False, matched=5, score=0.0),
        _c(exp(x) - exp(x) + cos(x) + x**8, score=-1.0),
    ]
    ranked = rank(cands)
    assert [c.expr for c in ranked][:2] == [cos(x) + x**8, cos(x)]
    assert not ranked[-1].verified and ranked[-1].matched == 3
    assert list(POLICIES) == ["verified-first"]


def test_dedupe_merges_equal_functions_and_sources():
    a = _c(sin(2 * x) / 2, score=-1.0, source="lookup")
    b = _c(sin(x) * cos(x), score=-0.5, source="lstm")
    c = _c(sin(x) * cos(x), score=-3.0, source="other")
    s = normalize((sin(x) * cos(x)).series(x, 0, 7))
    merged = dedupe([a, b, c], s)
    assert len(merged) == 1
    assert merged[0].score == -0.5 and set(merged[0].source.split(", ")) == {"lookup", "lstm", "other"}
    different = dedupe([_c(tan(x)), _c(sin(x) / cos(x) + x**20)], normalize(tan(x), n=7))
    assert len(different) == 2


def test_scores_may_be_minus_infinity():
    ranked = rank([_c(cos(x), score=-math.inf), _c(cos(x) + x**9, score=-1.0)])
    assert ranked[0].expr == cos(x) + x**9


def test_calibrated_prior_outranks_an_uncalibrated_network_score():
    from dataclasses import replace

    prior = replace(_c(x**3, score=-2.6, source="lookup[paper]"), calibrated=True)
    network = _c(x**3 * cos(x), score=-0.1, source="paper-lstm")
    both = replace(_c(x**3 * cos(x), score=-5.0, source="lookup[paper]"), calibrated=True)
    ranked = rank([network, prior, both])
    assert [c.expr for c in ranked] == [x**3, x**3 * cos(x)]
    assert ranked[1].score == -5.0 and set(ranked[1].source.split(", ")) == {"lookup[paper]", "paper-lstm"}


def test_composite_runs_members_side_by_side_and_keeps_their_order():
    import threading

    from sympy_series_inverse.backends.base import CompositeBackend, Proposal

    barrier = threading.Barrier(2, timeout=30)  # passes only if both members run at once

    class Member:
        def __init__(self, name, expr):
            self.name, self.expr = name, expr

        def propose(self, series, *, beam_size, grammars=None, deadline=None):
            barrier.wait()
            return [Proposal(-1.0, self.name, expr=self.expr)]

    class Broken:
        name = "broken"

        def propose(self, series, **kw):
            raise RuntimeError("boom")

    x = sympy.Symbol("x")
    composite = CompositeBackend([Member("a", sympy.sin(x)), Broken(), Member("b", sympy.cos(x))])
    with pytest.warns(UserWarning, match="'broken' failed"):
        found = composite.propose(normalize(sympy.sin(x), n=4), beam_size=3)
    assert [p.source for p in found] == ["a", "b"]


def test_composite_reports_running_out_of_time():
    from sympy_series_inverse.backends.base import CompositeBackend
    from sympy_series_inverse.errors import BudgetExceededError

    class Slow:
        name = "slow"

        def propose(self, series, **kw):
            raise BudgetExceededError("deadline passed")

    x = sympy.Symbol("x")
    for parallel in (True, False):
        with pytest.raises(BudgetExceededError):
            CompositeBackend([Slow(), Slow()], parallel=parallel).propose(normalize(sympy.sin(x), n=4), beam_size=3)

"""series_inverse end to end on the lookup backend, and the CLI."""

import subprocess
import sys

import pytest
import sympy
from sympy import O, Rational, cos, exp, sin, symbols

from sympy_series_inverse import Candidate, InputError, UnsupportedSeriesError, series_inverse
from sympy_series_inverse.__main__ import main

x, t = symbols("x t")


def test_issue_examples():
    found = series_inverse(1 - x**2 / 2 + x**4 / 24 + O(x**6))
    assert found[0] == cos(x)
    assert series_inverse(cos(x).series(x, 0, 7))[0] == cos(x)


@pytest.mark.parametrize(
    "f, n",
    [(sin(x), 6), (exp(x) * sin(x), 7), (x / cos(x), 6), (x**3 - exp(x) - sin(x), 6), (cos(x) / exp(x), 7)],
)
def test_recovers_paper_functions(f, n):
    assert series_inverse(f, n=n)[0] == f


def test_other_variable_and_string_input():
    assert series_inverse(sympy.exp(t).series(t, 0, 6))[0] == sympy.exp(t)
    assert series_inverse("1 + x + x**2/2 + x**3/6 + O(x**4)")[0] == exp(x)
    assert series_inverse([0, 1, 0, Rational(-1, 6), 0, Rational(1, 120)])[0] == sin(x)


def test_every_result_is_verified_and_details_explain_it():
    found = series_inverse(x**3 + O(x**5), details=True)
    assert len(found) > 1  # x**3, x**2*sin(x), ... share this truncated series
    assert all(isinstance(c, Candidate) and c.verified and c.matched == 5 for c in found)
    assert found[0].expr == x**3  # the most probable member of the ambiguity set
    for c in found:
        assert sympy.series(c.expr, x, 0, 5).removeO() == x**3


def test_holdout_checks_unseen_terms():
    # Shown only 1 + O(x**2)-like terms, many candidates fit; only those that predict the
    # hidden terms survive verification.
    series = cos(x).series(x, 0, 7)
    found = series_inverse(series, holdout=3, details=True)
    assert found[0].expr == cos(x) and found[0].matched == 7
    loose = series_inverse(series, holdout=3, verified_only=False, details=True)
    assert any(c.status == "mismatch" for c in loose)
    assert all(c.verified for c in loose[: len(found)])


def test_nothing_verifies_gives_empty_list():
    assert series_inverse(sympy.atan(x), n=8, grammar="paper") == []
    assert series_inverse([1, 1, 2, 6, 24, 120, 720, 5040]) == []  # sum of n! x**n: not analytic


def test_bad_arguments():
    with pytest.raises(InputError, match="beam_size"):
        series_inverse(cos(x), beam_size=0)
    with pytest.raises(InputError, match="holdout"):
        series_inverse(cos(x), holdout=6)
    with pytest.raises(InputError, match="timeout"):
        series_inverse(cos(x), timeout=0)
    with pytest.raises(UnsupportedSeriesError):
        series_inverse(1 / x + O(x**3))


def test_results_are_deterministic():
    a = series_inverse(x**2 + O(x**4), details=True)
    b = series_inverse(x**2 + O(x**4), details=True)
    assert [(c.expr, c.score) for c in a] == [(c.expr, c.score) for c in b]


def test_cli_prints_ranked_table(capsys):
    assert main(["1 - x**2/2 + x**4/24 + O(x**6)"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["rank", "expression"]
    assert lines[3].split()[:2] == ["1", "cos(x)"]
    assert "yes, to O(x**6)" in out and "lookup[paper]" in out


def test_cli_errors_and_list(capsys):
    assert main(["1/x + O(x**2)"]) == 1
    assert "Laurent" in capsys.readouterr().err
    assert main(["--list"]) == 0
    assert "grammars: " in capsys.readouterr().out
    assert main([]) == 2


def test_cli_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "sympy_series_inverse", "x - x**3/6 + O(x**5)", "--top", "1"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "sin(x)" in out


def test_other_expansion_point_builds_a_resumable_table(tmp_path, monkeypatch):
    from sympy_series_inverse import BudgetExceededError
    from sympy_series_inverse.backends.lookup import LookupBackend, LookupConfig
    from sympy_series_inverse.series import normalize

    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path))
    backend = LookupBackend(LookupConfig(grammars=("paper",), max_order=4))
    series = normalize(exp(x) * sin(x), x0=Rational(1, 2), n=4)
    with pytest.raises(BudgetExceededError, match="call again"):
        backend.propose(series, deadline=0.0)
    table = backend.table("paper", series.x0)
    assert not table.complete
    found = backend.propose(series)
    assert table.complete and found[0].expr == exp(x) * sin(x)
    assert list(tmp_path.glob("lookup/paper-*-x0_1_2-n4.json"))

"""Grammars as data: the paper grammar's counts, sampling, snapshots and bad files."""

import random
from fractions import Fraction

import pytest
import sympy
from sympy import cos, exp, sin, symbols

from sympy_series_inverse import GrammarError, RegistryError
from sympy_series_inverse.grammar import Grammar, complexity, get_grammar
from sympy_series_inverse.resources import data_dir

x = symbols("x")


@pytest.fixture(scope="module")
def paper():
    return get_grammar("paper")


def test_paper_grammar_counts(paper):
    assert paper.combination_count == 3606
    everything = paper.enumerate(analytic_only=False)
    analytic = paper.enumerate()
    assert len(everything) == 1563
    assert len(analytic) == 1224
    assert sum(f.probability for f in analytic) == 1
    assert sum(f.combinations for f in everything) < 3606  # the zero combinations are dropped


def test_paper_grammar_contents(paper):
    exprs = {f.expr for f in paper.enumerate(analytic_only=False)}
    for f in [x, cos(x), x**3, sin(x) * cos(x), exp(x) / cos(x), x**2 * sin(x), sin(x) / x**3]:
        assert sympy.simplify(sympy.expand(f)) in exprs
    analytic = {f.expr for f in paper.enumerate()}
    assert sin(x) / x**3 not in analytic and x / sin(x) in analytic


def test_probabilities_follow_the_generator(paper):
    by_expr = {f.expr: f for f in paper.enumerate(analytic_only=False)}
    # x alone: the 1-term draw (1/3 * 1/6) plus multi-term draws that simplify to x.
    assert by_expr[x].raw_probability > Fraction(1, 18)
    assert by_expr[x].combinations > 1


def test_sampling_is_seeded_and_follows_the_prior(paper):
    a = paper.sample_many(200, 7)
    b = paper.sample_many(200, random.Random(7))
    assert a == b
    analytic = {f.expr for f in paper.enumerate()}
    assert set(a) <= analytic
    top = paper.enumerate()[0]
    share = sum(e == top.expr for e in paper.sample_many(4000, 1)) / 4000
    assert abs(share - float(top.probability)) < 0.02
    assert paper.sample(3) == paper.sample(3)


def test_complexity_counts_nodes():
    assert complexity(x) == 1
    assert complexity(sin(x)) == 2
    assert complexity(x**2 + sin(x)) > complexity(x**2)


def test_unknown_grammar_lists_known():
    with pytest.raises(RegistryError, match="paper"):
        get_grammar("no-such-grammar")


def _write(tmp_path, text):
    path = tmp_path / "g.toml"
    path.write_text(text)
    return path


GOOD = """
[grammar]
name = "tiny"
version = "1"

[terms]
base = ["x", "sin(x)"]
count = [1, 2]

[construction]
rule = "left-fold"
operators = ["add", "mul"]
simplify = "expand"
"""


def test_tiny_grammar_enumerates(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path / "cache"))
    g = Grammar.from_file(_write(tmp_path, GOOD))
    assert g.combination_count == 2 + 2 * 2 * 2
    exprs = {f.expr for f in g.enumerate()}
    assert exprs == {x, sin(x), 2 * x, x + sin(x), 2 * sin(x), x**2, x * sin(x), sin(x) ** 2}
    # the snapshot is written to the cache and reused
    assert list((tmp_path / "cache" / "grammars").glob("tiny-*.functions.json"))
    assert {f.expr for f in Grammar.from_file(tmp_path / "g.toml").enumerate()} == exprs


@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ('base = ["x", "sin(x)"]', 'base = ["x", "foo(x)"]', "foo"),
        ('base = ["x", "sin(x)"]', 'base = ["x", "__import__(1)"]', "cannot parse"),
        ('operators = ["add", "mul"]', 'operators = ["add", "pow2"]', "unknown operator"),
        ('rule = "left-fold"', 'rule = "magic"', "unknown construction rule"),
        ('count = [1, 2]', 'count = [0]', "count"),
        ('name = "tiny"', 'name = 3', "wrong type"),
        ('name = "tiny"', 'name = "tiny"\nopt_in = "yes"', "opt_in"),
        ("[construction]", "[constructio]", "missing table [construction]"),
        ('simplify = "expand"', 'simplify = "eval"', "unknown simplify"),
        ('version = "1"', 'version = "1"\nbroken = [', "not valid TOML"),
    ],
)
def test_bad_grammar_files_name_file_and_line(tmp_path, old, new, fragment):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(GrammarError) as info:
        Grammar.from_file(path)
    message = str(info.value)
    assert str(path) in message and fragment in message


def test_bad_grammar_error_names_the_line(tmp_path):
    path = _write(tmp_path, GOOD.replace('operators = ["add", "mul"]', 'operators = ["add", "pow2"]'))
    with pytest.raises(GrammarError, match=r"g\.toml:12: unknown operator"):
        Grammar.from_file(path)


SHIPPED = sorted(p.stem for p in data_dir("grammars").glob("*.toml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_snapshot_matches_grammar(name):
    snapshot = data_dir("grammars") / f"{name}.functions.json"
    assert snapshot.is_file(), f"regenerate with: python -m sympy_series_inverse grammar {name} --write-snapshot"
    assert f'"digest": "{get_grammar(name).digest}"' in snapshot.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_snapshot_equals_fresh_enumeration(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path))
    g = Grammar.from_file(data_dir("grammars") / f"{name}.toml")
    g.source = "<memory>"  # ignore the shipped snapshot
    rebuilt = {(f.expr, f.raw_probability, f.analytic) for f in g._build_snapshot()}
    shipped = {(f.expr, f.raw_probability, f.analytic) for f in get_grammar(name).enumerate(analytic_only=False)}
    assert rebuilt == shipped


def test_elementary_grammar_is_opt_in():
    from sympy import atan, log, sqrt, tan

    from sympy_series_inverse import series_inverse

    g = get_grammar("elementary")
    assert g.opt_in and not get_grammar("paper").opt_in
    assert (g.combination_count, len(g.enumerate())) == (4389, 2725)
    from sympy_series_inverse.backends.lookup import LookupBackend
    from sympy_series_inverse.series import normalize

    assert LookupBackend().propose(normalize(log(1 + x), n=6)) == []  # not in the default search
    for f in (tan(x), log(1 + x), sqrt(1 + x), 1 / (1 - x), exp(x) * atan(x)):
        assert series_inverse(f, n=7, grammar="elementary")[0] == f
    top = series_inverse(tan(x), n=7, grammar="elementary", details=True)[0]
    assert top.source == "lookup[elementary]" and top.grammar == "elementary"
    assert series_inverse(tan(x), n=7, grammar="elementary", model="lookup")[0] == tan(x)


def test_opt_in_grammars_answer_when_nothing_else_verifies():
    from sympy import O, log, sinh

    from sympy_series_inverse import series_inverse, series_inverse_many

    assert series_inverse(log(1 + x), n=6)[0] == log(1 + x)  # the paper grammar has no log
    top = series_inverse(log(1 + x), n=6, details=True)[0]
    assert top.source == "lookup[elementary]" and top.verified
    # A paper series is answered from the paper grammar alone, even where elementary has a
    # simpler function with the same truncated series.
    assert series_inverse(x + x**3 / 6 + O(x**5))[0] == x**2 / sin(x)
    assert sinh(x) not in series_inverse(x + x**3 / 6 + O(x**5))
    assert series_inverse_many([log(1 + x).series(x, 0, 6)]) == [series_inverse(log(1 + x), n=6)]
    # Not with a grammar named, not for a network alone, not about another point.
    assert series_inverse(log(1 + x), n=6, grammar="paper") == []
    assert series_inverse(log(1 + x), n=6, model="paper-lstm") == []
    assert series_inverse(log(x).series(x, 1, 5)) == []

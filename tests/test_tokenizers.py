"""Tokenizers: round trips over the whole paper grammar, vocabularies, no UNK for integers."""

import pytest
import sympy
from sympy import O, Rational, cos, exp, sin, symbols

from sympy_series_inverse import BundleError, normalize
from sympy_series_inverse.grammar import get_grammar
from sympy_series_inverse.tokenizers import SPECIALS, UNK, PaperTokenizer, PrefixTokenizer, Vocab

x, t = symbols("x t")


@pytest.fixture(scope="module")
def paper_functions():
    return [f.expr for f in get_grammar("paper").enumerate(analytic_only=False)]


def test_paper_example_tokens():
    # Appendix C of the paper.
    tok = PaperTokenizer(Vocab(SPECIALS))
    series = normalize(-x**4 / 24 + x**3 - x**2 / 2 - 2 * x - 1)
    assert tok.encode_series(series) == [
        "-", "x", "**", "4", "/", "24", "+", "x", "**", "3", "-", "x", "**", "2", "/", "2", "-", "2", "*", "x", "-", "1",
    ]
    f = x**3 - exp(x) - sin(x)
    assert tok.decode_function(tok.encode_function(f)) == f


@pytest.mark.parametrize("tokenizer", [PaperTokenizer(Vocab(SPECIALS)), PrefixTokenizer()])
def test_round_trip_every_paper_function(tokenizer, paper_functions):
    assert len(paper_functions) == 1563
    for f in paper_functions:
        assert tokenizer.decode_function(tokenizer.encode_function(f)) == f, f


def test_round_trip_other_variable():
    tok = PrefixTokenizer()
    assert tok.decode_function(tok.encode_function(sin(t) / t, t), t) == sin(t) / t


def test_prefix_vocabulary_is_fixed_and_never_unk():
    tok = PrefixTokenizer()
    series = normalize([123456789, Rational(-98765, 4321), 0, 7])
    tokens = tok.encode_series(series)
    assert tokens[:2] == ["N", "4"]
    assert UNK not in tok.vocab.decode(tok.vocab.encode(tokens))
    assert tok.vocab.id(UNK) not in tok.vocab.encode(tokens)
    assert len(tok.vocab) < 60


def test_prefix_series_encodes_point_and_order():
    tok = PrefixTokenizer()
    a = tok.encode_series(normalize(1 + x + O(x**3)))
    b = tok.encode_series(normalize(1 + x + O(x**4)))
    assert a != b  # the order is information: zero terms are known zeros
    c = tok.encode_series(normalize(1 + (x - 1) + O((x - 1) ** 3, (x, 1))))
    assert "X0" in c


def test_paper_vocabulary_from_data_has_unk_for_unseen_integers(paper_functions):
    tok = PaperTokenizer(Vocab(SPECIALS))
    grammar = get_grammar("paper")
    seqs = []
    for f in grammar.enumerate():
        seqs.append(tok.encode_function(f.expr))
        for n in (5, 6, 7):
            seqs.append(tok.encode_series(normalize(f.expr, n=n)))
    vocab = Vocab.build(seqs)
    # The paper reports 161 entries; its data also holds the Laurent series of the 339
    # non-analytic functions (with them, 145 here). Analytic functions only: 95.
    assert len(vocab) == 95
    tok = PaperTokenizer(vocab)
    assert vocab.id("123456789") == vocab.id(UNK)


def test_vocab_files(tmp_path):
    v = Vocab.build([["b", "a"], ["c"]])
    assert v.tokens == SPECIALS + ("a", "b", "c")
    v.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json") == v
    (tmp_path / "bad.json").write_text('{"tokens": [1, 2]}')
    with pytest.raises(BundleError, match="bad.json"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(BundleError, match="start with"):
        Vocab(("a",))
    with pytest.raises(BundleError):
        PaperTokenizer()

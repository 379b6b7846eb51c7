"""Greedy and beam search against scripted models with known distributions, and the
grammar constraints against random LSTMs."""

import itertools
import math
import random
import re

import pytest

torch = pytest.importorskip("torch")

from sympy_series_inverse.decoding import (  # noqa: E402
    LENGTH_PENALTIES,
    Hypothesis,
    InfixConstraint,
    PrefixConstraint,
    beam_search,
    greedy,
)
from sympy_series_inverse.functions import BINARY_OPERATORS, CONSTANTS, UNARY_FUNCTIONS  # noqa: E402

PAD, SOS, EOS = 0, 1, 2
A, B_, C = 3, 4, 5


class ScriptedModel:
    """Decode-step protocol with fixed distributions: ``script[prefix]`` gives the next-token
    probabilities after ``prefix`` (tokens fed so far, without ``<sos>``); a source row's
    first token selects its script. Unscripted prefixes end almost surely."""

    def __init__(self, scripts, vocab_size):
        self.scripts = scripts
        self.v = vocab_size
        self.calls = []

    def _dist(self, probs):
        p = torch.zeros(self.v)  # unscripted tokens get log 0 = -inf
        for tok, q in probs.items():
            p[tok] = q
        return torch.log(p / p.sum())

    def encode(self, src, src_lengths):
        return [(int(row[0]), ()) for row in src]

    def decode_step(self, tokens, state):
        self.calls.append(len(state))
        new_state, rows = [], []
        for tok, (key, prefix) in zip(tokens.tolist(), state):
            if tok != SOS:
                prefix = prefix + (tok,)
            new_state.append((key, prefix))
            rows.append(self._dist(self.scripts[key].get(prefix, {EOS: 1.0})))
        return torch.stack(rows), new_state

    def reorder_state(self, state, index):
        return [state[i] for i in index.tolist()]


class RandomTreeModel(ScriptedModel):
    """Every (source, prefix) gets its own pseudo-random distribution, reproducibly."""

    def __init__(self, vocab_size, eos_bias=0.0):
        super().__init__({}, vocab_size)
        self.eos_bias = eos_bias

    def decode_step(self, tokens, state):
        new_state, rows = [], []
        for tok, (key, prefix) in zip(tokens.tolist(), state):
            if tok != SOS:
                prefix = prefix + (tok,)
            new_state.append((key, prefix))
            rng = random.Random(repr((key, prefix)))
            logits = torch.tensor([rng.gauss(0, 2) for _ in range(self.v)])
            logits[[PAD, SOS]] = -30.0
            logits[EOS] += self.eos_bias
            rows.append(torch.log_softmax(logits, -1))
        return torch.stack(rows), new_state


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: with more threads than idle cores torch's thread pool spins, and a
    # 2 us op can take 10 ms.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _src(*keys):
    src = torch.tensor([[k, 7, 7] for k in keys])
    return src, torch.full((len(keys),), 3)


# greedy takes A (0.6) then A (0.4 of it) then must stop: 0.6*0.4*1 = 0.24;
# B then EOS has 0.4*0.9 = 0.36, which beam search finds; A then EOS has 0.21.
TRAP = {
    (): {A: 0.6, B_: 0.4},
    (A,): {A: 0.4, B_: 0.25, EOS: 0.35},
    (A, A): {EOS: 1.0},
    (A, B_): {EOS: 1.0},
    (B_,): {EOS: 0.9, A: 0.1},
}


def test_beam_finds_what_greedy_misses():
    model = ScriptedModel({9: TRAP}, 6)
    src, lengths = _src(9)
    assert greedy(model, src, lengths, sos_id=SOS, eos_id=EOS, max_len=5) == [[A, A]]
    hyps = beam_search(model, src, lengths, beam_size=2, sos_id=SOS, eos_id=EOS, max_len=5,
                       length_penalty="none")[0]
    assert hyps[0].tokens == (B_,)
    assert hyps[0].log_prob == pytest.approx(math.log(0.36), abs=1e-4)
    assert hyps[0].score == hyps[0].log_prob


def test_length_penalty_changes_the_order():
    model = ScriptedModel({9: TRAP}, 6)
    src, lengths = _src(9)
    run = lambda lp: beam_search(model, src, lengths, beam_size=3, sos_id=SOS, eos_id=EOS,  # noqa: E731
                                 max_len=5, length_penalty=lp)[0]
    none, avg, gn = run("none"), run("average"), run("gnmt")
    # Finished hypotheses of different lengths are all kept.
    assert {h.tokens for h in none} == {(B_,), (A, A), (A,)}
    assert [h.tokens for h in none] == [(B_,), (A, A), (A,)]  # 0.36 > 0.24 > 0.21
    # Per token: AA log(.24)/3 = -.48, B log(.36)/2 = -.51, AB log(.15)/3 = -.63, A log(.21)/2 = -.78.
    assert [h.tokens for h in avg] == [(A, A), (B_,), (A, B_)]
    for h in avg:
        assert h.score == pytest.approx(h.log_prob / (len(h.tokens) + 1))
    for h in gn:
        assert h.score == pytest.approx(h.log_prob / ((5 + len(h.tokens) + 1) / 6) ** 0.6)


def test_unknown_length_penalty():
    model = ScriptedModel({9: TRAP}, 6)
    with pytest.raises(ValueError, match="none, average, gnmt"):
        beam_search(model, *_src(9), beam_size=2, sos_id=SOS, eos_id=EOS, max_len=3, length_penalty="avg")
    assert set(LENGTH_PENALTIES) == {"none", "average", "gnmt"}


def test_beam_one_is_greedy():
    model = RandomTreeModel(7, eos_bias=1.0)
    keys = list(range(10, 30))
    src, lengths = _src(*keys)
    g = greedy(model, src, lengths, sos_id=SOS, eos_id=EOS, max_len=6)
    b = beam_search(model, src, lengths, beam_size=1, sos_id=SOS, eos_id=EOS, max_len=6, length_penalty="none")
    assert [list(h[0].tokens) for h in b] == g


def test_dedupe_and_exhaustive_enumeration():
    # One content token and max_len 2: the only outputs are (), (A,), (A, A), whatever the beam.
    model = ScriptedModel({9: {(): {A: 0.5, EOS: 0.5}, (A,): {A: 0.5, EOS: 0.5}, (A, A): {A: 0.9, EOS: 0.1}}}, 4)
    hyps = beam_search(model, *_src(9), beam_size=10, sos_id=SOS, eos_id=EOS, max_len=2, length_penalty="none")[0]
    assert sorted(h.tokens for h in hyps) == [(), (A,), (A, A)]
    # (A, A) is ended by max_len: only <eos> is allowed, and it is scored by its own probability.
    assert [math.exp(h.log_prob) for h in hyps] == pytest.approx([0.5, 0.25, 0.025], abs=1e-5)


@pytest.mark.parametrize("penalty", ["none", "average", "gnmt"])
def test_wide_beam_is_exact(penalty):
    # A beam as wide as the whole tree (40 outputs) never prunes: it must return them all,
    # in the true order.
    model = RandomTreeModel(6, eos_bias=0.5)  # content tokens 3, 4, 5
    max_len, k = 3, 40
    hyps = beam_search(model, *_src(11), beam_size=k, sos_id=SOS, eos_id=EOS, max_len=max_len,
                       length_penalty=penalty)[0]
    pen = LENGTH_PENALTIES[penalty]
    truth = []
    for n in range(max_len + 1):
        for seq in itertools.product([3, 4, 5], repeat=n):
            state = model.encode(*_src(11))
            lp, tok = 0.0, torch.tensor([SOS])
            for t in list(seq) + [EOS]:
                log_probs, state = model.decode_step(tok, state)
                lp += float(log_probs[0, t])
                tok = torch.tensor([t])
            truth.append((lp / pen(n + 1), seq))
    truth.sort(reverse=True)
    assert len(truth) == k
    assert [h.tokens for h in hyps] == [seq for _, seq in truth]
    assert [h.score for h in hyps] == pytest.approx([s for s, _ in truth], abs=1e-4)


@pytest.mark.parametrize("penalty", ["none", "average"])
def test_batched_equals_one_at_a_time(penalty):
    model = RandomTreeModel(8, eos_bias=-0.5)
    keys = list(range(40, 52))
    src, lengths = _src(*keys)
    kw = dict(beam_size=4, sos_id=SOS, eos_id=EOS, max_len=6, length_penalty=penalty)
    batched = beam_search(model, src, lengths, **kw)
    for i in range(len(keys)):
        single = beam_search(model, src[i:i + 1], lengths[i:i + 1], **kw)[0]
        assert [h.tokens for h in batched[i]] == [h.tokens for h in single]
        assert [h.score for h in batched[i]] == pytest.approx([h.score for h in single], abs=1e-5)


def test_finished_sources_leave_the_batch():
    # Source 9 has two outputs, both finished after step 1; source 8 keeps going. One row per
    # source at <sos>, then beam_size rows per source, then only source 8's.
    long_script = {(A,) * n: {A: 0.99, EOS: 0.01} for n in range(6)}
    model = ScriptedModel({9: {(): {A: 0.5, EOS: 0.5}, (A,): {EOS: 1.0}}, 8: long_script}, 4)
    out = beam_search(model, *_src(9, 8), beam_size=2, sos_id=SOS, eos_id=EOS, max_len=5, length_penalty="none")
    assert [h.tokens for h in out[0]] == [(), (A,)]
    assert model.calls[:3] == [2, 4, 2]


def test_hypothesis_fields():
    h = Hypothesis((3, 4), -0.5, -1.0)
    assert h.tokens == (3, 4) and h.score == -0.5 and h.log_prob == -1.0


# -- constraints --------------------------------------------------------------------------


def _prefix_vocab():
    from sympy_series_inverse.tokenizers import PrefixTokenizer

    return PrefixTokenizer().default_vocab().tokens


INFIX_TOKENS = ("<pad>", "<sos>", "<eos>", "<unk>", "x", "**", "+", "-", "*", "/", "(", ")",
                "exp", "sin", "cos", "1", "2", "3", "4", "24", "pi", "y")


def prefix_valid(tokens) -> bool:
    """Independent arity check of a prefix token list (PrefixTokenizer conventions)."""
    need, i = 1, 0
    while i < len(tokens):
        t = tokens[i]
        if need == 0:
            return False
        if t in BINARY_OPERATORS:
            need += 1
        elif t in UNARY_FUNCTIONS:
            pass
        elif t == "x" or t in CONSTANTS:
            need -= 1
        elif t in ("INT+", "INT-"):
            digits = []
            while i + 1 < len(tokens) and re.fullmatch(r"\d", tokens[i + 1]):
                digits.append(tokens[i + 1])
                i += 1
            if not digits or (digits[0] == "0" and (len(digits) > 1 or t == "INT-")):
                return False
            need -= 1
        else:
            return False
        i += 1
    return need == 0


def infix_valid(tokens) -> bool:
    """Recursive descent over: expr := term (('+'|'-'|'*'|'/'|'**') term)*;
    term := '-'? atom; atom := x | number | const | '(' expr ')' | func '(' expr ')'."""
    pos = 0

    def atom():
        nonlocal pos
        if pos >= len(tokens):
            return False
        t = tokens[pos]
        if t == "x" or t in CONSTANTS or re.fullmatch(r"\d+", t):
            pos += 1
            return True
        if t in UNARY_FUNCTIONS:
            pos += 1
            if pos >= len(tokens) or tokens[pos] != "(":
                return False
        if tokens[pos] == "(":
            pos += 1
            if not expr() or pos >= len(tokens) or tokens[pos] != ")":
                return False
            pos += 1
            return True
        return False

    def term():
        nonlocal pos
        if pos < len(tokens) and tokens[pos] == "-":
            pos += 1
        return atom()

    def expr():
        nonlocal pos
        if not term():
            return False
        while pos < len(tokens) and tokens[pos] in ("+", "-", "*", "/", "**"):
            pos += 1
            if not term():
                return False
        return True

    return expr() and pos == len(tokens)


_SYNTAX = re.compile(
    r"ran out|trailing|unknown token|must be followed|leading zero|missing|unexpected|expected|unmatched"
)


def _parses(tokens, notation) -> bool:
    from sympy_series_inverse import parser
    from sympy_series_inverse.errors import ParseError

    try:
        (parser.parse_prefix if notation == "prefix" else parser.parse_infix)(list(tokens))
    except ParseError as e:  # values such as 1/0 are not syntax errors
        return not _SYNTAX.search(str(e))
    return True


def test_prefix_checker_itself():
    assert prefix_valid(["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"])
    assert prefix_valid(["INT+", "0"]) and prefix_valid(["INT+", "1", "0"])
    assert not prefix_valid(["INT+", "0", "1"]) and not prefix_valid(["INT-", "0"])
    assert not prefix_valid(["add", "x"]) and not prefix_valid(["x", "x"]) and not prefix_valid([])
    assert not prefix_valid(["INT+"]) and not prefix_valid(["T", "x"])
    assert infix_valid(["-", "x", "**", "4", "/", "24", "+", "exp", "(", "-", "x", ")"])
    assert not infix_valid(["x", "("]) and not infix_valid(["exp", "x"]) and not infix_valid(["(", ")"])


def _walk(constraint, tokens, max_len):
    """Feed ``tokens`` then ``<eos>``; True if every one was allowed."""
    ids = [constraint.tokens.index(t) for t in tokens] + [constraint.eos_id]
    st = constraint.start(1, max_len)
    for t in ids:
        if not bool(constraint.mask(st)[0, t]):
            return False
        st = constraint.advance(st, torch.tensor([t]))
    return True


@pytest.mark.parametrize("tokens,ok", [
    (["add", "sin", "x", "mul", "INT+", "2", "pow", "x", "INT+", "3"], True),
    (["INT+", "1", "2", "0"], True),
    (["INT+", "0"], True),
    (["INT+", "0", "1"], False),
    (["INT-", "0"], False),
    (["INT+"], False),
    (["add", "x"], False),
    (["x", "x"], False),
    ([], False),
    (["N", "1"], False),
    (["<unk>"], False),
])
def test_prefix_constraint_accepts_exactly_valid(tokens, ok):
    c = PrefixConstraint(_prefix_vocab(), 20)
    assert _walk(c, tokens, 20) is ok
    assert prefix_valid(tokens) is ok


def test_prefix_constraint_budget():
    c = PrefixConstraint(_prefix_vocab(), 3)
    assert _walk(c, ["add", "x", "x"], 3)
    assert not _walk(c, ["add", "x", "sin", "x"], 3)
    st = c.start(1)
    st = c.advance(st, torch.tensor([c.tokens.index("sin")]))
    allowed = {c.tokens[i] for i in c.mask(st)[0].nonzero().flatten().tolist()}
    # Two tokens left, one slot: a leaf, an integer, or one more unary; no binary.
    assert "add" not in allowed and "sin" in allowed and "INT+" in allowed and "x" in allowed
    assert "<eos>" not in allowed and "T" not in allowed


@pytest.mark.parametrize("tokens,ok", [
    (["-", "x", "**", "4", "/", "24", "+", "exp", "(", "-", "x", ")"], True),
    (["(", "x", "+", "1", ")", "*", "sin", "(", "x", ")"], True),
    (["-", "-", "x"], False),
    (["exp", "x"], False),
    (["x", "x"], False),
    (["(", "x"], False),
    (["x", ")"], False),
    (["y"], False),
    ([], False),
])
def test_infix_constraint_accepts_exactly_valid(tokens, ok):
    c = InfixConstraint(INFIX_TOKENS, 20)
    assert _walk(c, tokens, 20) is ok


@pytest.mark.parametrize("notation", ["prefix", "infix"])
def test_mask_table_matches_the_rules(notation):
    # mask() reads a table built from the readable rules; compare on random walks.
    tokens = _prefix_vocab() if notation == "prefix" else INFIX_TOKENS
    c = (PrefixConstraint if notation == "prefix" else InfixConstraint)(tokens, 9)
    g = torch.Generator().manual_seed(0)
    st = c.start(200)
    for _ in range(10):
        m = c.mask(st)
        assert torch.equal(m, c._allowed_classes(st)[:, c.token_class])
        choice = torch.multinomial(m.float(), 1, generator=g).squeeze(1)
        st = c.advance(st, choice)
    assert bool((st[-1] == 1).all())  # every walk has ended by max_len + 1 tokens


def _tiny(backend, vocab_size, seed):
    from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq
    from sympy_series_inverse.backends.lstm_attention import LSTMAttentionConfig, LSTMAttentionSeq2Seq

    torch.manual_seed(seed)
    if backend == "lstm":
        model = LSTMSeq2Seq(LSTMConfig(vocab_size, embedding_dim=8, hidden_size=16))
    else:
        model = LSTMAttentionSeq2Seq(LSTMAttentionConfig(vocab_size, embedding_dim=8, hidden_size=16))
    # Random weights put <eos> nowhere in particular; boost it so outputs vary in length.
    with torch.no_grad():
        model.out.bias[2] += 1.0
    return model.eval()


def _random_sources(vocab_size, n, seed):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 9, (n,), generator=g)
    src = torch.randint(4, vocab_size, (n, int(lengths.max())), generator=g)
    src[torch.arange(src.size(1)) >= lengths.unsqueeze(1)] = PAD
    return src, lengths


@pytest.mark.parametrize("backend", ["lstm", "attention"])
@pytest.mark.parametrize("notation", ["prefix", "infix"])
def test_constrained_outputs_are_valid(backend, notation):
    tokens = _prefix_vocab() if notation == "prefix" else INFIX_TOKENS
    valid = prefix_valid if notation == "prefix" else infix_valid
    Constraint = PrefixConstraint if notation == "prefix" else InfixConstraint
    model = _tiny(backend, len(tokens), seed=3)
    src, lengths = _random_sources(len(tokens), 12, seed=5)
    max_len = 12
    kw = dict(sos_id=SOS, eos_id=EOS, max_len=max_len)
    with torch.inference_mode():
        on = beam_search(model, src, lengths, beam_size=5, constraint=Constraint(tokens, max_len), **kw)
        off = beam_search(model, src, lengths, beam_size=5, constraint=None, **kw)
        g_on = greedy(model, src, lengths, constraint=Constraint(tokens, max_len), **kw)
    outs = [[tokens[i] for i in h.tokens] for hyps in on for h in hyps]
    outs += [[tokens[i] for i in seq] for seq in g_on]
    assert len(outs) >= 12 * 5
    for out in outs:
        assert len(out) <= max_len
        assert valid(out), out
        # SymPy can take minutes to evaluate deep constant towers such as cosh(...cosh(-2)),
        # so the parser cross-check skips those.
        if sum(t in UNARY_FUNCTIONS for t in out) <= 3:
            assert _parses(out, notation), out
    invalid = [h for hyps in off for h in hyps if not valid([tokens[i] for i in h.tokens])]
    assert invalid, "a random model should produce some invalid output without the constraint"


def test_constraint_cap_tighter_than_search():
    # The constraint's own max_len wins when smaller than the search's.
    tokens = _prefix_vocab()
    model = _tiny("lstm", len(tokens), seed=4)
    src, lengths = _random_sources(len(tokens), 6, seed=6)
    with torch.inference_mode():
        out = beam_search(model, src, lengths, beam_size=3, sos_id=SOS, eos_id=EOS, max_len=30,
                          constraint=PrefixConstraint(tokens, 5))
    for hyps in out:
        for h in hyps:
            assert len(h.tokens) <= 5 and prefix_valid([tokens[i] for i in h.tokens])

"""Neural models in the product: bundles, the neural proposer, and a scripted fake backend."""

import json
import shutil

import pytest
import sympy
from sympy import O, cos, exp, sin, symbols

from sympy_series_inverse import BundleError, hookimpl, plugins, series_inverse
from sympy_series_inverse.backends.base import Proposal
from sympy_series_inverse.series import normalize
from sympy_series_inverse.tokenizers import PrefixTokenizer
from sympy_series_inverse.verify import STATUSES

torch = pytest.importorskip("torch")
from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq  # noqa: E402
from sympy_series_inverse.backends.neural import NeuralBackend  # noqa: E402
from sympy_series_inverse.pretrained import load_bundle, save_bundle  # noqa: E402

x = symbols("x")


@pytest.fixture
def tiny_bundle(tmp_path):
    torch.manual_seed(0)
    vocab = PrefixTokenizer().vocab
    model_config = LSTMConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.0)
    config = {
        "name": "tiny-lstm",
        "backend": "lstm",
        "model": model_config.__dict__,
        "tokenizer": "prefix",
        "grammar": "paper",
        "grammar_version": "1.0",
        "decoding": {"max_len": 12, "length_penalty": "average", "constrained": True},
    }
    return save_bundle(tmp_path / "tiny-lstm", config, vocab, LSTMSeq2Seq(model_config), metrics={}, card="# tiny\n")


def test_bundle_round_trip_and_constrained_proposals(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert bundle.name == "tiny-lstm" and not bundle.module.training
    backend = NeuralBackend(bundle)
    proposals = backend.propose(normalize(cos(x), n=6), beam_size=5)
    assert 1 <= len(proposals) <= 5
    tok = backend.tokenizer
    for p in proposals:  # constrained decoding: every hypothesis parses
        tok.decode_function(p.tokens)
    assert backend.propose(normalize(cos(x)), beam_size=3, grammars=["other"]) == []


@pytest.mark.parametrize("backend_name", ["lstm", "lstm-attention"])
def test_bfloat16_precision_proposes_with_float32_scores(tmp_path, backend_name):
    from sympy_series_inverse.backends.lstm_attention import LSTMAttentionConfig, LSTMAttentionSeq2Seq

    torch.manual_seed(0)
    vocab = PrefixTokenizer().vocab
    cfg_cls, net_cls = (LSTMConfig, LSTMSeq2Seq) if backend_name == "lstm" else (LSTMAttentionConfig, LSTMAttentionSeq2Seq)
    model_config = cfg_cls(vocab_size=len(vocab), embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.0)
    config = {"name": "tiny", "backend": backend_name, "model": model_config.__dict__, "tokenizer": "prefix",
              "grammar": "paper", "grammar_version": "1.0", "decoding": {"max_len": 12}}
    path = save_bundle(tmp_path / "tiny", config, vocab, net_cls(model_config), metrics={}, card="# tiny\n")
    exact = NeuralBackend(path, precision="float32")
    fast = NeuralBackend(path, precision="bfloat16")
    assert exact.precision == "float32" and fast.precision == "bfloat16"
    assert next(fast.bundle.module.parameters()).dtype == torch.bfloat16
    series = normalize(cos(x), n=6)
    src, lengths = fast._source([series])
    with torch.inference_mode():
        steps = [b.bundle.module.decode_step(torch.tensor([1]), b.bundle.module.encode(src, lengths))[0] for b in (exact, fast)]
    assert steps[1].dtype == torch.float32
    assert torch.allclose(steps[0], steps[1], atol=0.05)  # the same model, rounded
    got = fast.decode([series], 5)[0]
    assert 1 <= len(got) <= 5 and all(isinstance(score, float) for _, score in got)


def test_bfloat16_leaves_a_callers_bundle_alone(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    fast = NeuralBackend(bundle, precision="bfloat16")
    assert next(bundle.module.parameters()).dtype == torch.float32
    assert next(fast.bundle.module.parameters()).dtype == torch.bfloat16


def test_precision_is_checked(tiny_bundle):
    from sympy_series_inverse import InputError
    from sympy_series_inverse.backends.neural import native_bf16

    with pytest.raises(InputError, match="precision"):
        NeuralBackend(tiny_bundle, precision="float16")
    assert NeuralBackend(tiny_bundle, precision="auto").precision == ("bfloat16" if native_bf16() else "float32")


def test_bundle_through_series_inverse(tiny_bundle):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            register("tiny", lambda: NeuralBackend(tiny_bundle))

    name = plugins.register_plugin(Plugin())
    try:
        found = series_inverse(cos(x), n=6, model="tiny", verified_only=False, details=True)
        assert found and all(c.source == "tiny-lstm" for c in found)
        assert all(c.status in STATUSES for c in found)
    finally:
        plugins.unregister_plugin(name)


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda p: (p / "config.json").unlink(), "config.json is missing"),
        (lambda p: (p / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "vocab.json").unlink(), "vocab.json"),
        (lambda p: (p / "model.safetensors").unlink(), "model.safetensors is missing"),
        (lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:100]), "corrupt or truncated"),
        (lambda p: (p / "model.safetensors").write_bytes(b"\x00" * 64), "corrupt or truncated"),
        (lambda p: _edit(p, model={"hidden_size": 32}), "do not match"),
        (lambda p: _edit(p, backend="transformer-xl"), "unknown backend"),
        (lambda p: _edit(p, tokenizer="bpe"), "unknown tokenizer"),
        (lambda p: _edit(p, grammar="nope"), "unknown grammar"),
        (lambda p: _edit(p, grammar_version="9"), "retrain"),
        (lambda p: _edit(p, format=99), "format"),
        (lambda p: _edit(p, model={"vocab_size": 3}), "vocab_size"),
        (lambda p: _edit(p, model={"bogus": 1}), "do not fit"),
        (lambda p: _drop(p, "tokenizer"), "lacks tokenizer"),
    ],
)
def test_damaged_bundles_raise_bundle_error(tiny_bundle, damage, fragment):
    damage(tiny_bundle)
    with pytest.raises(BundleError) as info:
        load_bundle(tiny_bundle)
    assert "tiny-lstm" in str(info.value) and fragment in str(info.value)


def _edit(path, **changes):
    config = json.loads((path / "config.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    (path / "config.json").write_text(json.dumps(config))


def _drop(path, key):
    config = json.loads((path / "config.json").read_text())
    del config[key]
    (path / "config.json").write_text(json.dumps(config))


def test_missing_bundle_folder(tmp_path):
    with pytest.raises(BundleError, match="no such folder"):
        load_bundle(tmp_path / "absent")


class ScriptedBackend:
    """Proposes fixed token sequences: good, equal-but-different, wrong, and unparsable."""

    name = "scripted"

    def propose(self, series, *, beam_size, grammars=None, deadline=None):
        tok = PrefixTokenizer()
        script = [
            (tok.encode_function(sin(x) * exp(x)), -0.5),
            (tok.encode_function(exp(x) * sin(x)), -0.7),  # the same expression again
            (tok.encode_function(sin(x)), -0.1),  # wrong, best score
            (["add", "x"], -0.2),  # unparsable
            (tok.encode_function(1 / x), -0.3),  # not analytic
        ]
        return [Proposal(score, self.name, tokens=tuple(t), notation="prefix") for t, score in script][:beam_size]


@pytest.fixture
def scripted():
    class Plugin:
        @hookimpl
        def register_models(self, register):
            register("scripted", ScriptedBackend)

    name = plugins.register_plugin(Plugin())
    yield
    plugins.unregister_plugin(name)


def test_scripted_backend_parse_verify_rank(scripted):
    series = (sin(x) * exp(x)).series(x, 0, 6)
    assert series_inverse(series, model="scripted") == [exp(x) * sin(x)]
    everything = series_inverse(series, model="scripted", verified_only=False, details=True)
    statuses = [c.status for c in everything]
    assert statuses[0] == "verified"
    assert sorted(statuses[1:]) == ["mismatch", "not-analytic", "parse-error"]
    assert everything[0].score == -0.5  # duplicates merged, best score kept
    parse_error = next(c for c in everything if c.status == "parse-error")
    assert parse_error.expr is None and "position" in parse_error.reason


def test_default_model_still_works_without_bundles():
    assert series_inverse(1 - x**2 / 2 + x**4 / 24 + O(x**6))[0] == cos(x)


def test_concurrent_searches_restore_the_callers_thread_count(tiny_bundle):
    import threading

    a, b = NeuralBackend(tiny_bundle), NeuralBackend(tiny_bundle)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        series = normalize(cos(x), n=6)
        threads = [threading.Thread(target=lambda m=m: [m.decode([series], 3) for _ in range(20)]) for m in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_series_inverse_many_batches_the_network_and_answers_each_series_alone(tiny_bundle):
    from sympy_series_inverse import series_inverse_many
    from sympy_series_inverse.backends.base import CompositeBackend
    from sympy_series_inverse.backends.lookup import LookupBackend

    network = NeuralBackend(tiny_bundle, precision="float32", batch_size=2)  # 5 series: batches of 2, 2, 1
    calls = []
    decode = network.decode
    network.decode = lambda batch, beam: calls.append(len(batch)) or decode(batch, beam)

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register("tiny-and-lookup", lambda: CompositeBackend([network, LookupBackend()]))

    name = plugins.register_plugin(Plugin())
    try:
        items = [cos(x).series(x, 0, 7), "x + x**2 + x**3/2 + O(x**4)", [1, 0, 1], (sin(x) * exp(x)).series(x, 0, 6),
                 (exp(x) + x**2).series(x, 0, 5)]
        kw = dict(x=x, model="tiny-and-lookup", beam_size=3, verified_only=False, details=True)
        many = series_inverse_many(items, **kw)
        assert calls == [2, 2, 1]
        calls.clear()
        one_by_one = [series_inverse(item, **kw) for item in items]
        assert calls == [1] * 5
        assert [[(c.expr, c.source, c.status) for c in answers] for answers in many] == [
            [(c.expr, c.source, c.status) for c in answers] for answers in one_by_one
        ]
        assert many[0][0].expr == cos(x) and many[0][0].verified
        assert {c.source for answers in many for c in answers} == {"tiny-lstm", "lookup[paper]"}
    finally:
        plugins.unregister_plugin(name)


def test_series_inverse_many_names_the_bad_item(scripted):
    from sympy_series_inverse import InputError, NotAnalyticError, series_inverse_many

    assert series_inverse_many([], model="scripted") == []
    assert series_inverse_many([(sin(x) * exp(x)).series(x, 0, 6)], model="scripted") == [[exp(x) * sin(x)]]
    with pytest.raises(NotAnalyticError, match="item 1: "):
        series_inverse_many([cos(x).series(x, 0, 6), 1 / x + O(x)], model="scripted")
    with pytest.raises(InputError, match="list of series"):
        series_inverse_many("cos(x)")
    with pytest.raises(InputError, match="every item is a number"):
        series_inverse_many([1, 0, sympy.Rational(-1, 2)])  # one series' coefficients, not three series
    with pytest.raises(InputError, match="ranking policy"):
        series_inverse_many([cos(x).series(x, 0, 6)], policy="nope")


def test_batches_are_split_into_parts_searched_side_by_side(tiny_bundle, monkeypatch):
    from sympy_series_inverse import decoding

    sizes, threads = [], []
    real = decoding.beam_search

    def spy(model, src, lengths, **kw):
        sizes.append(src.size(0))
        threads.append(torch.get_num_threads())
        return real(model, src, lengths, **kw)

    series = [normalize(f, n=6) for f in (cos(x), sin(x), exp(x), cos(x) + x, sin(x) * x)]
    whole = NeuralBackend(tiny_bundle, precision="float32", batch_threads=1).decode(series, 3)
    monkeypatch.setattr(decoding, "beam_search", spy)
    split = NeuralBackend(tiny_bundle, precision="float32", batch_threads=2).decode(series, 3)
    assert sorted(sizes) == [2, 3] and threads == [1, 1]  # two parts, one torch thread each
    assert [[t for t, _ in row] for row in split] == [[t for t, _ in row] for row in whole]
    sizes.clear()
    NeuralBackend(tiny_bundle, threads=1, batch_threads=2).decode(series[:1], 3)
    assert sizes == [1]  # one series is never split

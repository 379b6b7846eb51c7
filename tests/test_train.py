"""The trainer and its losses, on tiny configurations (hidden 16, 1-2 epochs, ~1k pairs)."""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
pytest.importorskip("tqdm")

import sympy  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from sympy_series_inverse import hookimpl, losses, plugins  # noqa: E402
from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq  # noqa: E402
from sympy_series_inverse.backends.neural import NeuralBackend  # noqa: E402
from sympy_series_inverse.data import generate  # noqa: E402
from sympy_series_inverse.decoding import PrefixConstraint  # noqa: E402
from sympy_series_inverse.errors import InputError  # noqa: E402
from sympy_series_inverse.pretrained import load_bundle, shipped_bundles  # noqa: E402
from sympy_series_inverse.series import SeriesData  # noqa: E402
from sympy_series_inverse.tokenizers import EOS, SOS, PrefixTokenizer  # noqa: E402
from sympy_series_inverse.train import TrainConfig, Trainer, build_parser, evaluate_bundle, main  # noqa: E402

x = sympy.Symbol("x")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The paper grammar at order 4 only: ~980 training pairs, function-disjoint splits."""
    path = tmp_path_factory.mktemp("data") / "paper-k4"
    generate("paper", path, mode="dedup", orders=(4,), seed=0)
    return path


def tiny(data, run, *extra, epochs=2, evaluate=False):
    args = [
        "--data", str(data), "--run-dir", str(run), "--out", str(run / "bundle"), "--name", "tiny",
        "--embedding-dim", "8", "--hidden-size", "16", "--epochs", str(epochs), "--batch-size", "128",
        "--threads", "1", "--max-len", "32", "--quiet",
    ]
    if evaluate:
        args += ["--eval-beam", "3", "--eval-limit", "12", "--in-sample-rows", "8", "--subset-rows", "4"]
    else:
        args += ["--eval-beam", "0", "--eval-limit", "2", "--in-sample-rows", "0", "--subset-rows", "0"]
    return args + list(extra)


def weights(bundle):
    return load_file(str(Path(bundle) / "model.safetensors"))


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_end_to_end_writes_a_loadable_bundle(data, tmp_path):
    assert main(tiny(data, tmp_path, evaluate=True)) == 0
    out = tmp_path / "bundle"
    bundle = load_bundle(out)
    config = bundle.config
    assert config["backend"] == "lstm" and config["tokenizer"] == "prefix" and config["grammar"] == "paper"
    assert config["grammar_digest"] and config["data_manifest_hash"] == json.loads((data / "manifest.json").read_text())["content_hash"]
    assert config["decoding"] == {"max_len": 32, "length_penalty": "average", "constrained": True}
    series = SeriesData(x, sympy.S.Zero, 5, (0, 1, 0, sympy.Rational(-1, 6), 0))
    proposals = NeuralBackend(out).propose(series, beam_size=3)
    assert 1 <= len(proposals) <= 3 and all(p.tokens is not None for p in proposals)
    m = json.loads((out / "metrics.json").read_text())
    assert m["held_out"]["protocol"] == "held-out" and m["held_out"]["rows"] == 12
    assert set(m["held_out"]["per_k"]) == {"4"}
    assert m["in_sample"]["protocol"] == "in-sample" and m["in_sample"]["rows"] == 8
    for key in ("exact_match", "ceiling", "token_accuracy", "levenshtein", "beam_top1_verified", "beam_any_verified"):
        assert 0 <= m["held_out"]["overall"][key] <= 1
    card = (out / "README.md").read_text()
    assert "python -m sympy_series_inverse.train --data" in card and "--evaluate" in card
    assert "In-sample" in card and "Held-out" in card and "torch" in card
    assert len(m["history"]) == 2 and all(math.isfinite(h["valid_loss"]) for h in m["history"])


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(data, tmp_path):
    main(tiny(data, tmp_path / "a", "--keep", "last"))
    main(tiny(data, tmp_path / "b", "--keep", "last", "--stop-after", "1"))
    assert not (tmp_path / "b" / "bundle").exists()  # stopped runs write no bundle
    ck = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert ck["epoch"] == 1 and {"model", "optimizer", "scheduler", "rng"} <= set(ck)
    main(tiny(data, tmp_path / "b", "--keep", "last", "--resume"))
    assert same_weights(weights(tmp_path / "a" / "bundle"), weights(tmp_path / "b" / "bundle"))
    # determinism: the same seed again gives the same weights, another seed does not
    main(tiny(data, tmp_path / "c", "--keep", "last"))
    assert same_weights(weights(tmp_path / "a" / "bundle"), weights(tmp_path / "c" / "bundle"))
    main(tiny(data, tmp_path / "d", "--keep", "last", "--seed", "1"))
    assert not same_weights(weights(tmp_path / "a" / "bundle"), weights(tmp_path / "d" / "bundle"))


def test_resume_refuses_changed_settings(data, tmp_path):
    main(tiny(data, tmp_path, "--stop-after", "1"))
    with pytest.raises(InputError, match="hidden_size"):
        main(tiny(data, tmp_path, "--resume", "--hidden-size", "12"))


def _tiny_model():
    vocab = PrefixTokenizer().vocab
    torch.manual_seed(0)
    return vocab, LSTMSeq2Seq(LSTMConfig(len(vocab), embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.0))


def test_token_curve_wmse_is_finite_and_differentiable():
    vocab, model = _tiny_model()
    loss = losses.TokenCurveWMSE(vocab.tokens)
    assert loss.token_curves.shape == (len(vocab), 64)
    assert loss.token_curves[vocab.id("add")].abs().sum() == 0 and loss.token_curves[vocab.id("7")].eq(7).all()
    target = loss.target_curves([sympy.sin(x), x**2 / sympy.cos(x)])
    tgt_in, tgt_out = losses.pad_targets([vocab.encode(["sin", "x"]), vocab.encode(["mul", "x", "x"])],
                                         sos_id=vocab.id(SOS), eos_id=vocab.id(EOS))
    src = torch.tensor([[4, 10, 6], [4, 11, 0]])
    logits = model(src, torch.tensor([3, 2]), tgt_in)
    value = loss(logits, tgt_out, target)
    assert value.shape == (2,) and torch.isfinite(value).all()
    value.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert losses.paper_ramp(0, 10) == 0 and losses.paper_ramp(5, 10) == pytest.approx(0.1)


def test_minimum_risk_pieces_are_finite_and_differentiable():
    vocab, model = _tiny_model()
    tok = PrefixTokenizer()
    src, lengths = torch.tensor([[4, 10, 6, 9], [4, 11, 0, 0]]), torch.tensor([4, 2])
    samples = losses.sample_sequences(model, src, lengths, num_samples=3, sos_id=vocab.id(SOS), eos_id=vocab.id(EOS),
                                      max_len=12, constraint=PrefixConstraint(vocab, 12), generator=torch.Generator().manual_seed(0))
    assert len(samples) == 2 and all(len(row) == 3 for row in samples)
    risk = losses.CurveRisk(lambda t: tok.decode_function(t))
    targets = [sympy.sin(x), sympy.exp(x)]
    ref = [tuple(tok.encode_function(t)) for t in targets]
    risks = torch.tensor([[0.0] + [risk(t, r, tuple(vocab.decode(c))) for c in row] for t, r, row in zip(targets, ref, samples)])
    assert ((risks >= 0) & (risks <= 1)).all()  # every constrained sample parses; risk is scaled to [0, 1]
    assert risk(sympy.sin(x), ref[0], ("sin", "x")) == 0 and risk(sympy.sin(x), ref[0], ("add",)) == 1
    flat = [vocab.encode(r) for r in ref] + [c for row in samples for c in row]
    tgt_in, tgt_out = losses.pad_targets(flat, sos_id=vocab.id(SOS), eos_id=vocab.id(EOS))
    rows = torch.tensor([0, 1, 0, 0, 0, 1, 1, 1])
    seq = losses.sequence_log_probs(model(src[rows], lengths[rows], tgt_in), tgt_out)
    scores = torch.cat([seq[:2, None], seq[2:].view(2, 3)], dim=1)
    er = losses.expected_risk(scores, risks, torch.ones(2, 4, dtype=torch.bool))
    assert er.shape == (2,) and torch.isfinite(er).all()
    er.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("loss", ["token-wmse", "mrt"])
def test_trainer_steps_with_each_loss(data, tmp_path, loss):
    cfg = TrainConfig(data=str(data), run_dir=str(tmp_path), embedding_dim=8, hidden_size=16, epochs=1, threads=1,
                      max_len=32, loss=loss, beta=1.0, ramp="none", mrt_samples=2, quiet=True)
    trainer = Trainer(cfg)
    before = [p.detach().clone() for p in trainer.net.parameters()]
    out = trainer.train_step(trainer.batches.epoch(0)[0], epoch=0)
    assert all(math.isfinite(out[k]) for k in ("loss", "ce", "aux")) and out["aux"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.net.parameters()))


def test_lstms_can_run_in_float32_under_bf16_autocast():
    from sympy_series_inverse.train import lstm_in_fp32

    _, model = _tiny_model()
    src, lengths, tgt = torch.tensor([[4, 10, 6], [4, 11, 0]]), torch.tensor([3, 2]), torch.tensor([[1, 27], [1, 44]])
    reference = model(src, lengths, tgt)
    assert lstm_in_fp32(model, "cpu") == 2
    seen = []
    model.decoder.register_forward_hook(lambda m, i, o: seen.append(o[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, lengths, tgt)
    assert seen == [torch.float32] and logits.dtype == torch.bfloat16  # LSTM in float32, output layer in bf16
    assert torch.allclose(logits.float(), reference, atol=0.05)
    logits.float().sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_bad_settings_are_rejected():
    with pytest.raises(InputError, match="unknown loss"):
        TrainConfig(loss="nope")
    helps = [a for a in build_parser()._actions if a.dest != "help"]
    assert all(a.help for a in helps), [a.dest for a in helps if not a.help]


TINY_GRAMMAR = """
[grammar]
name = "tiny-train"
version = "1"

[terms]
base = ["x", "x**2", "tan(x)", "sinh(x)"]
count = [1, 2]

[construction]
rule = "left-fold"
operators = ["add", "sub", "mul"]
simplify = "expand"
"""


class _GrammarPlugin:
    def __init__(self, path):
        self.path = path

    @hookimpl
    def register_grammars(self, register):
        register("tiny-train", self.path)


def test_custom_grammar_from_a_plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny-train.toml"
    path.write_text(TINY_GRAMMAR)
    name = plugins.register_plugin(_GrammarPlugin(path))
    try:
        run = tmp_path / "run"
        args = tiny(None, run, "--grammar", "tiny-train", evaluate=True)
        del args[:2]  # no --data: generated into RUN_DIR/data
        assert main(args) == 0
        bundle = load_bundle(run / "bundle")
        assert bundle.config["grammar"] == "tiny-train" and (run / "data" / "manifest.json").exists()
        assert json.loads((run / "bundle" / "metrics.json").read_text())["held_out"]["rows"] > 0
    finally:
        plugins.unregister_plugin(name)


def test_ddp_two_gloo_processes(data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sympy_series_inverse.train", *tiny(data, tmp_path, epochs=1, evaluate=True)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.config["training"]["world_size"] == 2
    assert bundle.config["training"]["commands"][0].startswith("torchrun --nproc_per_node 2")


@pytest.mark.slow
@pytest.mark.parametrize("bundle", shipped_bundles(), ids=lambda p: p.name)
def test_shipped_bundle_reproduces_its_model_card(bundle, tmp_path):
    from sympy_series_inverse.train import _data_for_bundle

    recorded = json.loads((bundle / "metrics.json").read_text())["subset"]
    data_dir = _data_for_bundle(bundle, None, str(tmp_path))
    torch.set_num_threads(1)  # as the trainer evaluated (float sums depend on the thread count)
    got = evaluate_bundle(bundle, data_dir, "test", recorded["beam_size"], limit=recorded["limit"])
    assert got["data_manifest_hash"] == recorded["data_manifest_hash"]
    for scope in ("overall", *recorded["per_k"]):
        want = recorded["overall"] if scope == "overall" else recorded["per_k"][scope]
        have = got["overall"] if scope == "overall" else got["per_k"][scope]
        for key, value in want.items():
            if isinstance(value, (int, float)) and value is not None:
                assert have[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (scope, key)


def test_two_bundles_are_shipped():
    assert sorted(p.name for p in shipped_bundles()) == ["paper-lstm", "paper-lstm-attention"]


@pytest.mark.parametrize("bundle", shipped_bundles(), ids=lambda p: p.name)
def test_shipped_bundle_recovers_cos_from_its_order_6_series(bundle):
    from sympy_series_inverse import series_inverse

    x = sympy.Symbol("x")
    found = series_inverse(sympy.cos(x).series(x, 0, 6), model=bundle.name, timeout=60)
    # every answer is verified; cos(x) is among them (x**6 + cos(x) shares the series and a
    # network trained on uniformly weighted rows may rank it first)
    assert sympy.cos(x) in found[:3], found

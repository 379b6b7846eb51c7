"""The benchmark harness (benchmarks/): suite files, the runner on tiny runs, failure
recording by kind, the result schema, the report. Fast: tiny --limit runs only."""

import gzip
import json
import os
import time

import pytest
import sympy

from benchmarks import runner
from benchmarks.__main__ import main as cli
from benchmarks.methods import (
    Method,
    method_names,
    pade,
    pade_orders,
    register_method,
    unregister_method,
)
from benchmarks.report import load_results, result_markdown, write_readme
from benchmarks.suites import SUITES, X, read_suite, suite_names
from sympy_series_inverse import engine

FAST = runner.Settings(case_timeout=1.0, verify_budget=0.5, grace=2.0, setup_timeout=60)
TINY = runner.Settings(case_timeout=0.3, verify_budget=0.05, grace=0.7, setup_timeout=60)  # a hang costs 1.5 s
_SUITES: dict = {}


def suite(name):
    if name not in _SUITES:
        _SUITES[name] = read_suite(name)
    return _SUITES[name]


# -- suite files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SUITES))
def test_suite_files_parse(name):
    s = suite(name)
    h = s.header
    assert h["suite"] == name and h["format"] == 1 and h["rows"] == len(s.rows) > 0
    for key in ("description", "in_sample", "weighted", "source", "ceiling", "generator"):
        assert key in h
    assert h["source"]["dataset"]["content_hash"]
    assert len({r.id for r in s.rows}) == len(s.rows)
    for row in s.rows[:: max(1, len(s.rows) // 4)]:  # a few rows each: the series is the target's own
        assert row.k + 1 == len(row.coeffs) and row.weight > 0
        assert engine.taylor_coefficients(row.target, X, row.x0, row.k + 1) == row.exact_coeffs
        if name == "ood-noise":
            assert row.coeffs != row.exact_coeffs
        else:
            assert row.coeffs == row.exact_coeffs


def test_suite_labels_and_ceilings():
    assert suite("paper-insample").in_sample and all(r.split == "train" for r in suite("paper-insample").rows)
    assert not suite("paper-heldout").in_sample and {r.split for r in suite("paper-heldout").rows} == {"test"}
    for name in ("ood-x0", "ood-long", "ood-noise"):  # built from functions no model trained on
        assert all(r.split in ("test", None) for r in suite(name).rows)
    # the notes' exact-match ceilings (91.1 / 96.9 / 99.4 %) over all analytic paper functions
    per_k = suite("paper-all").header["ceiling"]["per_k"]
    assert [round(100 * per_k[k]["weighted"], 1) for k in ("4", "5", "6")] == [91.1, 96.9, 99.4]
    hashes = {suite(n).header["source"]["dataset"]["content_hash"] for n in suite_names()}
    assert len(hashes) == 1


# -- methods ----------------------------------------------------------------------------------------


def test_pade_and_orders():
    t = sympy.Symbol("t")
    assert pade_orders(4)[0] == (2, 2) and len(pade_orders(4)) == 5
    r = pade([1, 1, 1, 1, 1], 1, 1, t)  # 1/(1 - t) from its own series
    assert sympy.simplify(r - 1 / (1 - t)) == 0
    assert pade([0, 0, 0, 1, 0], 2, 2, t) is None  # singular system


def test_builtin_methods_listed():
    names = method_names()
    for name in ("lookup", "default", "paper-lstm", "paper-lstm-attention", "guess-ogf", "guess-egf", "pade", "taylor"):
        assert name in names


# -- the runner -------------------------------------------------------------------------------------


def _check_schema(result: dict):
    for key, kind in (("schema", str), ("status", str), ("suite", dict), ("method", dict), ("label", str),
                      ("settings", dict), ("command", str), ("git", dict), ("machine", dict), ("summary", dict),
                      ("wall_seconds", float), ("setup", dict), ("cases_file", str)):
        assert isinstance(result[key], kind), key
    assert result["schema"] == runner.SCHEMA
    for key in ("cpu", "cores", "python", "sympy", "torch", "load_average"):
        assert key in result["machine"]
    assert "commit" in result["git"]
    s = result["summary"]
    for key in ("unweighted", "failures", "latency_ms", "per_k", "top_status"):
        assert key in s
    for key in ("rows", "verified_at_1", "verified_at_10", "holdout_at_1", "exact_match", "ceiling", "equivalent",
                "token_accuracy", "levenshtein", "mse", "mae", "wmse", "wmse_median", "curve_nonfinite"):
        assert key in s["unweighted"], key
    for key in ("p50", "p95", "holdout_p50", "holdout_p95"):
        assert key in s["latency_ms"]
    assert set(s["failures"]) == {"full", "holdout"}


def test_lookup_tiny_run(tmp_path):
    result = runner.run("paper-heldout", "lookup", limit=3, results_dir=tmp_path, settings=FAST, quiet=True)
    _check_schema(result)
    assert result["status"] == "ok" and result["label"] == "untrained method"
    assert result["suite"]["rows_evaluated"] == 3 and "weighted" in result["summary"]
    assert result["summary"]["unweighted"]["verified_at_1"] == 1.0
    on_disk = json.loads((tmp_path / "paper-heldout__lookup.limit3.json").read_text())
    assert on_disk["summary"] == json.loads(json.dumps(result["summary"]))
    assert "| verified@1 |" in (tmp_path / "paper-heldout__lookup.limit3.md").read_text()
    with gzip.open(tmp_path / result["cases_file"], "rt") as fh:
        cases = [json.loads(line) for line in fh]
    assert [c["id"] for c in cases] == [r.id for r in suite("paper-heldout").rows[:3]]
    assert all(c["full"]["verified"] and c["full"]["exact"] for c in cases)


def _fake(name, propose, **kw):
    register_method(Method(name, "fake", f"test method {name}", propose, **kw))


@pytest.fixture
def fakes():
    names = []

    def add(name, propose, **kw):
        _fake(name, propose, **kw)
        names.append(name)

    try:
        yield add
    finally:
        for n in names:
            unregister_method(n)


def test_failures_recorded_by_kind(tmp_path, fakes):
    x = X

    def raises(series, budget):
        raise ZeroDivisionError("boom")

    def hangs(series, budget):
        time.sleep(120)

    def late(series, budget):
        time.sleep(budget + 0.2)
        return [series.polynomial()]

    def garbage(series, budget):
        return ["banana((", 42]

    def not_a_list(series, budget):
        return 42

    def wrong(series, budget):
        return [sympy.sin(x) + 7]

    def dies(series, budget):
        os._exit(3)

    expected = {"t-raises": "crash", "t-hangs": "timeout", "t-late": "timeout", "t-garbage": "parse-error",
                "t-not-a-list": "crash", "t-wrong": "unverified", "t-dies": "crash"}
    for name, fn in (("t-raises", raises), ("t-hangs", hangs), ("t-late", late), ("t-garbage", garbage),
                     ("t-not-a-list", not_a_list), ("t-wrong", wrong), ("t-dies", dies)):
        fakes(name, fn)
    for name, kind in expected.items():
        result = runner.run("paper-heldout", name, limit=1, results_dir=tmp_path, settings=TINY, quiet=True)
        _check_schema(result)
        s = result["summary"]
        assert s["failures"]["full"] == {kind: 1}, (name, s["failures"])
        assert s["failures"]["holdout"] == {kind: 1}, name
        assert s["unweighted"]["verified_at_1"] == 0 and s["unweighted"]["rows"] == 1
    hang = json.loads((tmp_path / "paper-heldout__t-hangs.limit1.json").read_text())
    assert hang["setup"]["worker_starts"] == 2  # killed after each timed-out phase, restarted, the run went on
    with gzip.open(tmp_path / hang["cases_file"], "rt") as fh:
        assert "worker was killed" in json.loads(fh.readline())["full"]["detail"]


def test_setup_failure_and_unavailable(tmp_path, fakes):
    def bad_setup(x0s):
        raise RuntimeError("no weights")

    fakes("t-bad-setup", lambda s, b: [], setup=bad_setup)
    result = runner.run("paper-heldout", "t-bad-setup", limit=1, results_dir=tmp_path, settings=FAST, quiet=True)
    assert result["status"] == "setup-failed" and "no weights" in result["reason"]
    fakes("t-absent", lambda s, b: [], unavailable=lambda: "no bundle yet")
    result = runner.run("paper-heldout", "t-absent", limit=1, results_dir=tmp_path, settings=FAST, quiet=True)
    assert result["status"] == "skipped" and result["reason"] == "no bundle yet"
    assert "skipped" in result_markdown(result)


def test_trained_methods_skip_training_rows(tmp_path, fakes):
    fakes("t-trained", lambda s, b: [s.polynomial()], trained=True)
    result = runner.run("ood-elementary", "t-trained", limit=60, results_dir=tmp_path, settings=FAST, quiet=True)
    train = sum(r.split == "train" for r in suite("ood-elementary").rows)
    assert train and result["skipped_rows"] == {"training-split rows (in-sample for a trained method)": train}
    assert result["suite"]["rows_evaluated"] == 52 - train and result["label"] == "held-out"
    result = runner.run("paper-insample", "t-trained", limit=2, results_dir=tmp_path, settings=FAST, quiet=True)
    assert result["label"] == "in-sample" and not result["skipped_rows"]


def test_baselines_tiny_and_cli(tmp_path, capsys):
    assert cli(["run", "--suite", "paper-heldout", "--method", "taylor,pade,guess-ogf", "--limit", "2",
                "--results-dir", str(tmp_path), "--quiet", "--case-timeout", "5"]) == 0
    out = capsys.readouterr().out
    assert "paper-heldout / taylor" in out and "paper-heldout / pade" in out
    taylor = json.loads((tmp_path / "paper-heldout__taylor.limit2.json").read_text())
    assert taylor["summary"]["unweighted"]["verified_at_1"] == 1.0  # the Taylor polynomial always verifies
    assert taylor["summary"]["unweighted"]["holdout_at_1"] == 0.0  # ... and predicts nothing (cos(x) here)
    assert taylor["command"].startswith("python -m benchmarks run --suite")
    guess = runner.run("ood-x0", "guess-ogf", limit=2, results_dir=tmp_path, settings=FAST, quiet=True)
    assert guess["summary"]["failures"]["full"] == {"unsupported": 2}  # cost guard: irrational coefficients
    # the report gathers only full runs; limited ones are left out unless asked for
    assert load_results(tmp_path) == [] and len(load_results(tmp_path, include_limited=True)) == 4
    for path in tmp_path.glob("*.limit2.json"):
        path.rename(path.with_name(path.name.replace(".limit2", "")))
    readme = write_readme(tmp_path).read_text()
    assert "## Headline" in readme and "| paper-heldout | taylor |" in readme and "Table 1" in readme
    assert cli(["list"]) == 0 and "paper-insample" in capsys.readouterr().out


def test_existing_script_command_lines_parse():
    from benchmarks import data_speed, engine_speed, lookup_ceiling

    for module in (engine_speed, data_speed, lookup_ceiling):
        assert callable(module.main)
    with pytest.raises(SystemExit):
        engine_speed.main(["--help"])


@pytest.fixture
def tiny_bundle(tmp_path, monkeypatch):
    """A random 1-layer bundle registered as model 'tiny-lstm' and seen by the harness as a
    shipped bundle (methods tiny-lstm, tiny-lstm:greedy, tiny-lstm:beam)."""
    torch = pytest.importorskip("torch")
    from benchmarks import methods
    from sympy_series_inverse import hookimpl, plugins
    from sympy_series_inverse.backends.lstm import LSTMConfig, LSTMSeq2Seq
    from sympy_series_inverse.backends.neural import NeuralBackend
    from sympy_series_inverse.pretrained import save_bundle
    from sympy_series_inverse.tokenizers import PrefixTokenizer

    torch.manual_seed(0)
    vocab = PrefixTokenizer().vocab
    model_config = LSTMConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=16, num_layers=1, dropout=0.0)
    config = {"name": "tiny-lstm", "backend": "lstm", "model": model_config.__dict__, "tokenizer": "prefix",
              "grammar": "paper", "grammar_version": "1.0", "data_manifest_hash": "not-the-suites-data",
              "decoding": {"max_len": 5, "length_penalty": "average", "constrained": True}}  # short: cheap to verify
    path = save_bundle(tmp_path / "tiny-lstm", config, vocab, LSTMSeq2Seq(model_config), metrics={}, card="# tiny\n")

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register("tiny-lstm", lambda: NeuralBackend(path))

    monkeypatch.setattr(methods, "_bundle_folders", lambda: {"tiny-lstm": path})
    name = plugins.register_plugin(Plugin())
    try:
        yield path
    finally:
        plugins.unregister_plugin(name)


def test_neural_methods_with_a_tiny_bundle(tmp_path, tiny_bundle):
    from benchmarks.report import table1

    assert {"tiny-lstm", "tiny-lstm:greedy", "tiny-lstm:beam"} <= set(method_names())
    for name in ("tiny-lstm:greedy", "tiny-lstm:beam", "tiny-lstm"):
        result = runner.run("paper-heldout", name, limit=2, results_dir=tmp_path, settings=FAST, quiet=True)
        _check_schema(result)
        assert result["status"] == "ok" and result["label"] == "held-out" and result["method"]["trained"]
        assert result["method"]["info"]["bundle"] == "tiny-lstm"
        assert any("bundle tiny-lstm was trained on data set not-the-suit" in n for n in result["notes"])  # flagged
        assert sum(result["summary"]["failures"]["full"].values()) == 2, result["summary"]["failures"]
        assert "timeout" not in result["summary"]["failures"]["full"], result["summary"]["failures"]
    greedy = json.loads((tmp_path / "paper-heldout__tiny-lstm+greedy.limit2.json").read_text())
    assert greedy["summary"]["unweighted"]["token_accuracy"] is not None
    lines = "\n".join(table1(load_results(tmp_path, include_limited=True)))
    assert "| tiny-lstm (lstm, from " in lines and "this harness, `paper-heldout` | greedy |" in lines


def test_precision_comparison_on_a_tiny_bundle(tmp_path, tiny_bundle, monkeypatch, capsys):
    from benchmarks import precision
    from sympy_series_inverse.data import generate

    data = tmp_path / "data"
    generate("paper", data, mode="dedup", seed=0, workers=1)
    monkeypatch.setattr(precision, "_data_for_bundle", lambda bundle, given, run_dir: data)
    assert precision.main([str(tiny_bundle), "--beam", "2", "--limit", "3", "--json", str(tmp_path / "p.json")]) == 0
    r = json.loads((tmp_path / "p.json").read_text())
    assert r["rows"] == 3 and set(r["beams"]["2"]) == {"float32", "bfloat16", "same_top1"}
    for p in ("float32", "bfloat16"):
        assert 0 <= r["beams"]["2"][p]["top1_verified"] <= r["beams"]["2"][p]["any_verified"] <= 1
    assert "| 2 | bfloat16 |" in capsys.readouterr().out


def test_a_suite_file_is_what_make_suites_builds():
    from benchmarks.suites import make_suites

    # the cheapest suite; `python -m benchmarks make-suites --check` compares all of them
    assert make_suites(["ood-elementary"], check=True, echo=lambda s: None) == 0

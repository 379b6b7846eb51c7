"""The tutorials' example code, run for real.

- ``examples/grammar_plugin`` is pip-installed into a temporary folder and used, in a fresh
  interpreter with that folder on ``PYTHONPATH``, through its real entry point
  (docs/tutorials/grammar-plugin.rst).
- A tiny model is trained on the plugin's grammar with the trainer and used through the
  plugin's ``register_models`` hook (docs/tutorials/training.rst); skipped, with the reason,
  when the trainer or torch is missing.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "grammar_plugin"


def _env(site: Path, cache: Path) -> dict:
    env = {**os.environ, "SYMPY_SERIES_INVERSE_CACHE": str(cache), "PYTHONPATH": str(site)}
    env.pop("PYTHONWARNINGS", None)
    return env


def _python(code: str, env: dict, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin, installed with pip into its own folder (no network)."""
    base = tmp_path_factory.mktemp("grammar_plugin")
    site, cache = base / "site", base / "cache"
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "--target", str(site), str(PLUGIN),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=base, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (site / "sis_hyperbolic" / "hyperbolic.toml").is_file()
    (entry_points,) = site.glob("sis_hyperbolic-*.dist-info/entry_points.txt")
    assert "[sympy_series_inverse]" in entry_points.read_text()
    return site, cache, base


GRAMMAR_CHECK = """
import json, warnings
from sympy import symbols, sinh, atan, cosh
from sympy_series_inverse import plugins, series_inverse
warnings.simplefilter("error", plugins.PluginWarning)  # a plugin that fails to load: fatal here
x = symbols("x")
top = series_inverse(x*sinh(x), n=8, grammar="hyperbolic", details=True, timeout=120)[0]
print(json.dumps({
    "grammars": plugins.names("grammar"),
    "origin": plugins.origin("grammar", "hyperbolic"),
    "expr": str(top.expr), "verified": top.verified, "source": top.source,
    "paper_only": [str(e) for e in series_inverse(x*sinh(x), n=8, grammar="paper", timeout=120)],
    "both": [str(e) for e in series_inverse(atan(x)*cosh(x), n=8, timeout=120)],
}))
"""


def test_grammar_plugin_is_found_through_its_entry_point(installed):
    site, cache, base = installed
    done = _python(GRAMMAR_CHECK, _env(site, cache), base)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["grammars"] == ["elementary", "hyperbolic", "paper"]
    assert out["origin"] == "entry-point:hyperbolic"
    assert (out["expr"], out["verified"], out["source"]) == ("x*sinh(x)", True, "lookup[hyperbolic]")
    assert out["paper_only"] == []  # the paper grammar has no x*sinh(x)
    assert out["both"][0] == "cosh(x)*atan(x)"  # the default model searches every grammar


def test_grammar_plugin_from_the_command_line(installed):
    site, cache, base = installed
    env = _env(site, cache)
    listing = subprocess.run([sys.executable, "-m", "sympy_series_inverse", "--list"], env=env, cwd=base,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "grammars: elementary, hyperbolic, paper" in listing.stdout
    counts = subprocess.run([sys.executable, "-m", "sympy_series_inverse", "grammar", "hyperbolic"], env=env, cwd=base,
                            capture_output=True, text=True, timeout=300)
    assert counts.returncode == 0, counts.stderr
    assert "105 combinations, 73 distinct non-zero functions, 69 analytic at x = 0" in counts.stdout
    query = subprocess.run([sys.executable, "-m", "sympy_series_inverse", "x**2 + x**4/6 + O(x**6)"], env=env, cwd=base,
                           capture_output=True, text=True, timeout=120)
    assert query.returncode == 0, query.stderr
    rows = [line.split() for line in query.stdout.splitlines()[3:]]
    # the source column may also name shipped networks that proposed the same function
    assert [(r[1], next(t.rstrip(",") for t in r if t.startswith("lookup["))) for r in rows] == [
        ("x*sinh(x)", "lookup[hyperbolic]"), ("x**3/sin(x)", "lookup[paper]"), ("sin(x)**2/cos(x)", "lookup[paper]"),
    ]


def _missing_for_training() -> str | None:
    if importlib.util.find_spec("sympy_series_inverse.train") is None:
        return "sympy_series_inverse/train.py is not in this checkout yet"
    for module in ("torch", "safetensors", "tqdm"):
        if importlib.util.find_spec(module) is None:
            return f"the trainer needs {module} (pip install -e '.[neural]')"
    return None


MODEL_CHECK = """
import json, warnings
from sympy import symbols, sinh
from sympy_series_inverse import plugins, series_inverse
warnings.simplefilter("error", plugins.PluginWarning)
x = symbols("x")
found = series_inverse(x*sinh(x), n=6, model="hyperbolic-tiny", beam_size=3, verified_only=False, details=True)
print(json.dumps({
    "models": plugins.names("model"),
    "origin": plugins.origin("model", "hyperbolic-tiny"),
    "rows": len(found),
    "sources": sorted({c.source for c in found}),
    "statuses": sorted({c.status for c in found}),
}))
"""


@pytest.mark.skipif(_missing_for_training() is not None, reason=str(_missing_for_training()))
def test_train_a_tiny_model_for_the_plugin_grammar(installed):
    site, cache, base = installed
    env = _env(site, cache)
    bundle = site / "sis_hyperbolic" / "hyperbolic-tiny"  # inside the installed plugin package
    cmd = [
        sys.executable, "-m", "sympy_series_inverse.train", "--grammar", "hyperbolic", "--name", "hyperbolic-tiny",
        "--run-dir", str(base / "runs" / "hyperbolic-tiny"), "--out", str(bundle),
        "--embedding-dim", "8", "--hidden-size", "16", "--epochs", "2", "--threads", "1", "--max-len", "24",
        "--eval-beam", "2", "--eval-limit", "4", "--in-sample-rows", "0", "--subset-rows", "0", "--quiet",
    ]
    done = subprocess.run(cmd, env=env, cwd=base, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p.name for p in bundle.iterdir()} >= {"config.json", "vocab.json", "model.safetensors", "README.md", "metrics.json"}
    config = json.loads((bundle / "config.json").read_text())
    assert (config["name"], config["grammar"], config["backend"]) == ("hyperbolic-tiny", "hyperbolic", "lstm")
    checked = _python(MODEL_CHECK, env, base)
    assert checked.returncode == 0, checked.stderr[-3000:]
    out = json.loads(checked.stdout)
    assert "hyperbolic-tiny" in out["models"]
    assert out["origin"] == "entry-point:hyperbolic"
    assert 1 <= out["rows"] <= 3  # a 2-epoch model proposes junk, but every proposal is assessed
    assert out["sources"] == ["hyperbolic-tiny"]
    assert set(out["statuses"]) <= {"verified", "mismatch", "not-analytic", "error", "parse-error", "over-budget"}

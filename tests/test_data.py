"""Datasets: deterministic generation, function-disjoint splits, manifests, statistics."""

import json

import pytest

from sympy_series_inverse import InputError
from sympy_series_inverse.data import generate, main, read_manifest, read_split
from sympy_series_inverse.engine import taylor_coefficients


@pytest.fixture(scope="module")
def dedup(tmp_path_factory):
    out = tmp_path_factory.mktemp("d") / "paper-dedup"
    generate("paper", out, mode="dedup", seed=0)
    return out


def test_dedup_counts_and_no_overlap(dedup):
    m = read_manifest(dedup)
    assert sum(m["counts"].values()) == 1224 * 3
    assert m["overlap"] == {"train&valid": 0, "train&test": 0, "valid&test": 0}
    assert m["split"]["method"] == "by-function" and not m["split"]["in_sample"]
    assert m["grammar"] == "paper" and len(m["content_hash"]) == 64


def test_no_shared_truncated_series_across_splits(dedup):
    keys = {}
    for name in ("train", "valid", "test"):
        for s in read_split(dedup, name):
            key = (s.k, s.coeffs)
            keys.setdefault(key, set()).add(name)
    assert all(len(v) == 1 for v in keys.values())


def _functions(folder, split):
    return {s.function for s in read_split(folder, split)}


def test_base_terms_train_by_default_and_fractions_hold(dedup):
    from sympy import cos, exp, sin, symbols

    x = symbols("x")
    assert read_manifest(dedup)["split"]["base_terms"] == "train"
    assert {x, x**2, x**3, sin(x), cos(x), exp(x)} <= _functions(dedup, "train")
    counts = read_manifest(dedup)["counts"]
    assert counts["train"] / sum(counts.values()) == pytest.approx(0.8, abs=0.03)  # fractions are of classes


def test_base_terms_shuffled_reproduces_the_first_split(tmp_path):
    from sympy import cos, symbols

    m = generate("paper", tmp_path / "s", mode="dedup", seed=0, base_terms="shuffled")
    # the split the first shipped bundles were trained on (cos(x) held out)
    assert m["content_hash"] == "b8ddfb8421983fb370023e8c6d6f6165b5e39cf1fcaeab513b04a99d818e3085"
    assert cos(symbols("x")) in _functions(tmp_path / "s", "test")
    with pytest.raises(InputError, match="base_terms"):
        generate("paper", tmp_path / "bad", base_terms="valid")


def test_rows_are_exact(dedup):
    sample = next(read_split(dedup, "test"))
    x = sorted(sample.function.free_symbols, key=str)[0] if sample.function.free_symbols else None
    if x is not None:
        assert taylor_coefficients(sample.function, x, 0, sample.k + 1) == sample.coeffs


def test_generation_is_deterministic(dedup, tmp_path):
    generate("paper", tmp_path / "again", mode="dedup", seed=0)
    assert read_manifest(tmp_path / "again")["content_hash"] == read_manifest(dedup)["content_hash"]


def test_paper_mode_and_stats(tmp_path):
    m = generate("paper", tmp_path / "p", mode="paper", samples=3000, seed=1)
    assert sum(m["counts"].values()) == 3000
    stats = json.loads((tmp_path / "p" / "stats.json").read_text())
    ceilings = [round(stats["orders"][k]["ceiling_weighted"] * 100, 1) for k in ("4", "5", "6")]
    assert ceilings == [91.1, 96.9, 99.4]  # NOTES.md
    tokens = stats["tokens"]
    assert tokens["prefix"]["vocabulary"] == 45 and tokens["paper"]["vocabulary"] < 100
    low, high = tokens["paper"]["function_tokens"]
    assert 1 <= low <= high <= 25


def test_worker_count_does_not_change_the_data(tmp_path):
    a = generate("paper", tmp_path / "a", mode="dedup", orders=[4], workers=1)
    b = generate("paper", tmp_path / "b", mode="dedup", orders=[4], workers=2)
    assert a["content_hash"] == b["content_hash"]


def test_in_sample_split_is_labelled(tmp_path):
    m = generate("paper", tmp_path / "s", mode="paper", samples=2000, split="by-sample")
    assert m["split"]["in_sample"] and m["overlap"]["train&test"] > 0


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="mode"):
        generate("paper", tmp_path / "x", mode="nope")
    with pytest.raises(InputError, match="fractions"):
        generate("paper", tmp_path / "x", fractions=(0.5, 0.5, 0.5))
    with pytest.raises(InputError, match="manifest"):
        read_manifest(tmp_path / "missing")
    assert not (tmp_path / "x").exists()


def test_cli(tmp_path, capsys):
    assert main(["generate", "--mode", "dedup", "--orders", "4", "--out", str(tmp_path / "c")]) == 0
    assert '"overlap"' in capsys.readouterr().out
    assert main(["stats", str(tmp_path / "c")]) == 0

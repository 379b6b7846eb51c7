"""Datasets of (truncated series -> function) pairs from a registered grammar, split by function.

``python -m sympy_series_inverse.data generate --grammar paper --mode dedup --out DIR``

Modes:

``paper``
    The paper's protocol: ``--samples`` draws (about 137k), each a function drawn with the
    generator's probabilities and an order k drawn uniformly from ``--orders``: duplicates
    and all.
``dedup``
    Each distinct (function, k) once, carrying its generator probability as ``w``.

Splits are by *function class*: functions whose truncated series agree at the lowest order
(and therefore at every lower order) form one class, and a class lands in exactly one of
train / valid / test. So no function, and no function with the same truncated series, is
in two splits; the overlap check is written into the manifest. The classes of the grammar's
base terms train by default (``--base-terms train``): a model is then tested on new
compositions of primitives it has seen, and the product's shipped models know ``cos(x)``. ``--split by-sample`` is the
paper's own protocol (rows drawn at random, so test rows repeat training rows) and is
labelled in-sample wherever it is reported.

On disk (written to a temporary folder, then renamed, so an interrupted run never leaves a
folder that looks complete)::

    DIR/manifest.json   grammar name/version/digest, mode, orders, seed, split, counts,
                        per-file SHA-256 and a content hash over all of them
    DIR/train.jsonl     one row per sample: {"f": function in prefix tokens, "k": order,
    DIR/valid.jsonl      "c": [c_0, ..., c_k] as exact rationals "p/q", "w": probability}
    DIR/test.jsonl
    DIR/stats.json      counts, distinct functions, ambiguity and exact-match ceiling per k
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import sympy

from . import __version__ as _version
from . import engine, parser
from .errors import InputError
from .grammar import Grammar, get_grammar

__all__ = ["Sample", "generate", "read_split", "read_manifest", "DATA_FORMAT", "SPLITS", "main"]

DATA_FORMAT = 1
SPLITS = ("train", "valid", "test")
BASE_TERMS = ("train", "shuffled")


@dataclass(frozen=True)
class Sample:
    """One (series -> function) pair: ``coeffs`` are c_0..c_k about ``x0``."""

    function: sympy.Expr
    k: int
    coeffs: tuple[sympy.Rational, ...]
    weight: Fraction


def _class_key(coeffs: Sequence) -> tuple:
    return tuple(coeffs)


def _assign_classes(classes: list[tuple], fractions: Sequence[float], seed: int, pinned=frozenset()) -> dict[tuple, str]:
    """Shuffle the classes into train / valid / test by ``fractions`` of all classes; the
    ``pinned`` ones go to train first (and count towards its share)."""
    total = len(classes)
    order = sorted((c for c in classes if c not in pinned), key=repr)
    random.Random(seed).shuffle(order)
    free_train = max(0, round(total * fractions[0]) - len(pinned))
    cut2 = free_train + round(total * fractions[1])
    out = {c: "train" for c in classes if c in pinned}
    out.update({c: ("train" if i < free_train else "valid" if i < cut2 else "test") for i, c in enumerate(order)})
    return out


def _expand_chunk(args) -> list[tuple]:
    exprs, x, x0, top = args
    return [engine.taylor_coefficients(e, x, x0, top) for e in exprs]


def _expansions(grammar: Grammar, orders: Sequence[int], workers: int = 1, progress: bool = False) -> list[tuple]:
    """Each analytic function with its series to the highest order, and its class key.

    The expansions are spread over ``workers`` processes in fixed chunks, so the result
    does not depend on the number of workers."""
    x, x0, top = grammar.variable, grammar.expansion_point, max(orders) + 1
    low = min(orders) + 1
    functions = grammar.enumerate()
    chunks = [[f.expr for f in functions[i : i + 256]] for i in range(0, len(functions), 256)]
    jobs = [(c, x, x0, top) for c in chunks]
    if workers > 1 and len(chunks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(_progress(pool.map(_expand_chunk, jobs), len(jobs), progress, "expanding"))
    else:
        results = [_expand_chunk(j) for j in _progress(jobs, len(jobs), progress, "expanding")]
    series = [c for chunk in results for c in chunk]
    return [(f, coeffs, _class_key(coeffs[:low])) for f, coeffs in zip(functions, series)]


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="chunk", leave=False)


def generate(
    grammar: str | Grammar,
    out: str | Path,
    *,
    mode: str = "dedup",
    orders: Sequence[int] = (4, 5, 6),
    samples: int = 137_000,
    seed: int = 0,
    split: str = "by-function",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    base_terms: str = "train",
    progress: bool = False,
    workers: int | None = None,
) -> dict:
    """Generate a dataset folder; returns its manifest. See the module docstring.

    ``base_terms="train"`` puts the classes of the grammar's base terms (for the paper:
    x, x**2, x**3, sin x, cos x, exp x) in train, so held-out functions test composition of
    seen primitives rather than primitives never seen; ``"shuffled"`` splits them like any
    other class. ``workers`` processes expand the series (default: every core)."""
    grammar = get_grammar(grammar) if isinstance(grammar, str) else grammar
    if mode not in ("paper", "dedup"):
        raise InputError(f"unknown mode {mode!r}; known: paper, dedup")
    if split not in ("by-function", "by-sample"):
        raise InputError(f"unknown split {split!r}; known: by-function, by-sample")
    if not orders or any(not isinstance(k, int) or k < 0 for k in orders):
        raise InputError(f"orders must be non-negative integers, got {orders!r}")
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise InputError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    if base_terms not in BASE_TERMS:
        raise InputError(f"unknown base_terms {base_terms!r}; known: {', '.join(BASE_TERMS)}")
    if not grammar.is_finite:
        raise InputError(f"grammar {grammar.name!r} is not finite; only enumerable grammars are supported so far")
    orders = sorted(set(orders))
    workers = workers or os.cpu_count() or 1
    rows = _expansions(grammar, orders, workers, progress)
    if progress:
        print(f"{grammar.name}: {len(rows)} analytic functions, orders {orders}")
    bases = {*grammar.base_terms, *(sympy.expand(t) for t in grammar.base_terms)}
    pinned = frozenset(key for f, _, key in rows if f.expr in bases) if base_terms == "train" else frozenset()
    assignment = _assign_classes(sorted({key for _, _, key in rows}, key=repr), fractions, seed, pinned)
    rng = random.Random(seed)

    def samples_iter() -> Iterator[tuple[str, Sample]]:
        if mode == "dedup":
            for f, coeffs, key in rows:
                for k in orders:
                    yield assignment[key], Sample(f.expr, k, coeffs[: k + 1], f.probability)
        else:
            weights = [float(f.probability) for f, _, _ in rows]
            for i in rng.choices(range(len(rows)), weights=weights, k=samples):
                f, coeffs, key = rows[i]
                k = rng.choice(orders)
                yield assignment[key], Sample(f.expr, k, coeffs[: k + 1], Fraction(1, samples))

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts = _write_rows(tmp, _progress(samples_iter(), samples if mode == "paper" else len(rows) * len(orders), progress, "writing"), split, seed, fractions)
        manifest = _manifest(tmp, grammar, mode, orders, samples, seed, split, fractions, counts, base_terms)
        stats = statistics(grammar, orders, rows)
        stats["tokens"] = token_statistics(tmp, grammar)
        (tmp / "stats.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _encode_row(sample: Sample) -> str:
    return json.dumps(
        {
            "f": " ".join(parser.to_prefix(sample.function)),
            "k": sample.k,
            "c": [str(c) for c in sample.coeffs],
            "w": str(sample.weight),
        }
    )


def _write_rows(folder: Path, rows: Iterator[tuple[str, Sample]], split: str, seed: int, fractions) -> dict[str, int]:
    counts = dict.fromkeys(SPLITS, 0)
    encoded_cache: dict[tuple, str] = {}
    handles = {name: open(folder / f"{name}.jsonl", "w", encoding="utf-8") for name in SPLITS}
    rng = random.Random(seed + 1)
    try:
        for name, sample in rows:
            if split == "by-sample":  # the paper's protocol: rows, not functions, are split
                r = rng.random()
                name = "train" if r < fractions[0] else "valid" if r < fractions[0] + fractions[1] else "test"
            key = (sample.function, sample.k, sample.weight)
            line = encoded_cache.get(key)
            if line is None:
                line = encoded_cache[key] = _encode_row(sample)
            handles[name].write(line + "\n")
            counts[name] += 1
    finally:
        for h in handles.values():
            h.close()
    return counts


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _overlap(folder: Path) -> dict[str, int]:
    """Functions shared between splits (must be 0 for by-function splits)."""
    seen = {name: {json.loads(line)["f"] for line in open(folder / f"{name}.jsonl", encoding="utf-8")} for name in SPLITS}
    return {
        f"{a}&{b}": len(seen[a] & seen[b]) for i, a in enumerate(SPLITS) for b in SPLITS[i + 1 :]
    }


def _manifest(folder, grammar, mode, orders, samples, seed, split, fractions, counts, base_terms) -> dict:
    files = {f"{name}.jsonl": _sha256(folder / f"{name}.jsonl") for name in SPLITS}
    content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {
        "format": DATA_FORMAT,
        "created_by": f"sympy_series_inverse {_version}",
        "grammar": grammar.name,
        "grammar_version": grammar.version,
        "grammar_digest": grammar.digest,
        "variable": grammar.variable.name,
        "x0": str(grammar.expansion_point),
        "mode": mode,
        "orders": list(orders),
        "samples": samples if mode == "paper" else None,
        "seed": seed,
        "split": {
            "method": split,
            "fractions": list(fractions),
            "in_sample": split == "by-sample",
            "class": "functions with equal series to the lowest order" if split == "by-function" else None,
            "base_terms": base_terms if split == "by-function" else None,
        },
        "counts": counts,
        "overlap": _overlap(folder),
        "files": files,
        "content_hash": content,
    }


def statistics(grammar: Grammar, orders: Sequence[int], rows=None) -> dict:
    """Ambiguity sets and the exact-match ceiling per order (weighted by the prior)."""
    rows = rows if rows is not None else list(_expansions(grammar, orders))
    out = {"grammar": grammar.name, "functions": len(rows), "orders": {}}
    total = sum(float(f.probability) for f, _, _ in rows)
    for k in orders:
        groups: dict[tuple, list[float]] = defaultdict(list)
        for f, coeffs, _ in rows:
            groups[tuple(coeffs[: k + 1])].append(float(f.probability))
        sizes = sorted((len(g) for g in groups.values()), reverse=True)
        out["orders"][str(k)] = {
            "distinct_series": len(groups),
            "ambiguous_series": sum(1 for s in sizes if s > 1),
            "largest_ambiguity_set": sizes[0] if sizes else 0,
            "ceiling_weighted": sum(max(g) for g in groups.values()) / total if total else 0.0,
            "ceiling_unweighted": len(groups) / len(rows) if rows else 0.0,
        }
    return out


def token_statistics(folder: str | Path, grammar: Grammar) -> dict:
    """Token length ranges and vocabulary size per built-in tokenizer (the paper's
    vocabulary built from the training split, as the paper builds it)."""
    from .series import SeriesData
    from .tokenizers import SPECIALS, PaperTokenizer, PrefixTokenizer, Vocab

    x0 = grammar.expansion_point
    distinct = {}
    for name in SPLITS:
        with open(Path(folder) / f"{name}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                distinct.setdefault((row["f"], row["k"]), (name, row))
    out = {}
    for tokenizer in (PaperTokenizer(Vocab(SPECIALS)), PrefixTokenizer()):
        series_lengths, function_lengths, train_seqs = [], [], []
        x = {grammar.variable.name: grammar.variable}
        for (f_text, k), (split, row) in distinct.items():
            f = parser.parse_prefix(f_text.split(), x)
            data = SeriesData(grammar.variable, x0, k + 1, tuple(sympy.Rational(Fraction(c)) for c in row["c"]))
            s_tokens, f_tokens = tokenizer.encode_series(data), tokenizer.encode_function(f, grammar.variable)
            series_lengths.append(len(s_tokens))
            function_lengths.append(len(f_tokens))
            if split == "train":
                train_seqs += [s_tokens, f_tokens]
        vocab = tokenizer.vocab if tokenizer.name == "prefix" else Vocab.build(train_seqs)
        out[tokenizer.name] = {
            "series_tokens": [min(series_lengths), max(series_lengths)] if series_lengths else None,
            "function_tokens": [min(function_lengths), max(function_lengths)] if function_lengths else None,
            "vocabulary": len(vocab),
        }
    return out


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a dataset folder (``InputError`` when absent or unreadable)."""
    path = Path(folder) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a dataset manifest ({e}); generate one with python -m sympy_series_inverse.data generate") from e


def read_split(folder: str | Path, name: str) -> Iterator[Sample]:
    """Stream the samples of one split."""
    if name not in SPLITS:
        raise InputError(f"unknown split {name!r}; known: {', '.join(SPLITS)}")
    manifest = read_manifest(folder)
    x = {manifest.get("variable", "x"): sympy.Symbol(manifest.get("variable", "x"))}
    with open(Path(folder) / f"{name}.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            yield Sample(
                parser.parse_prefix(row["f"].split(), x),
                int(row["k"]),
                tuple(sympy.Rational(Fraction(c)) for c in row["c"]),
                Fraction(row["w"]),
            )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sympy_series_inverse.data", description="Generate and inspect datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate a dataset folder from a registered grammar")
    g.add_argument("--grammar", default="paper", help="registered grammar name (default: %(default)s)")
    g.add_argument("--mode", choices=("paper", "dedup"), default="dedup", help="paper: draws with duplicates; dedup: each (function, k) once with its probability")
    g.add_argument("--orders", type=int, nargs="+", default=[4, 5, 6], help="orders k (terms up to x**k; default: %(default)s)")
    g.add_argument("--samples", type=int, default=137_000, help="draws in paper mode (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="seed for draws and the split (default: %(default)s)")
    g.add_argument("--split", choices=("by-function", "by-sample"), default="by-function", help="by-sample is the paper's in-sample protocol")
    g.add_argument("--fractions", type=float, nargs=3, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VALID", "TEST"))
    g.add_argument("--base-terms", choices=BASE_TERMS, default="train",
                   help="train: the grammar's base terms (sin x, cos x, ...) always train, so the held-out split "
                        "tests composition; shuffled: split like any function (default: %(default)s)")
    g.add_argument("--out", required=True, help="output folder (replaced atomically)")
    s = sub.add_parser("stats", help="print a dataset's manifest counts and statistics")
    s.add_argument("folder")
    args = p.parse_args(argv)
    if args.command == "generate":
        manifest = generate(
            args.grammar, args.out, mode=args.mode, orders=args.orders, samples=args.samples, seed=args.seed,
            split=args.split, fractions=args.fractions, base_terms=args.base_terms, progress=True,
        )
        print(json.dumps({k: manifest[k] for k in ("counts", "overlap", "content_hash")}, indent=1))
    else:
        manifest = read_manifest(args.folder)
        stats = json.loads((Path(args.folder) / "stats.json").read_text(encoding="utf-8"))
        print(json.dumps({"manifest": manifest, "stats": stats}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

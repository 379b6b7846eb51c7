"""Benchmark suites as data files, and the script that rebuilds them.

``python -m benchmarks make-suites`` writes ``benchmarks/suites/<name>.jsonl``: one header
line, then one line per row. It is deterministic (fixed seeds, string-seeded
``random.Random``), so rerunning it reproduces the files byte for byte;
``make-suites --check`` says whether the committed files are current.

Header: ``{"format", "suite", "description", "in_sample", "weighted", "variable", "rows",
"source", "ceiling", "notes"}``. ``source.dataset.content_hash`` is the manifest content
hash of the dataset the suite was cut from (the trainer's default data set); a bundle whose
``config.json`` names another hash was not trained on that split.

Row: ``{"id", "f", "x0", "k", "w", "c", ...}``: the target function ``f`` in prefix tokens
(:func:`sympy_series_inverse.parser.to_prefix`, space separated), the expansion point
``x0``, the order ``k`` (terms up to ``(x - x0)**k``, so ``n = k + 1`` coefficients), the
weight ``w`` (a fraction; ``"1"`` in unweighted suites), and the given coefficients ``c``
(rationals as ``p/q``, other constants as expressions the safe parser reads). Optional:
``c_exact`` (the clean series when ``c`` is perturbed), ``split`` (the function's split in
the trainer's data set: ``train``, ``valid``, ``test``, or absent when the function is in
none), ``tags``.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import sympy

from sympy_series_inverse import data, engine, metrics, parser
from sympy_series_inverse.errors import SeriesInverseError
from sympy_series_inverse.grammar import get_grammar
from sympy_series_inverse.series import SeriesData

__all__ = ["SUITES", "SUITES_DIR", "SUITE_FORMAT", "Row", "Suite", "make_suites", "read_suite", "suite_names"]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SUITE_FORMAT = 1
X = sympy.Symbol("x")
_SYMBOLS = {"x": X}

# The trainer's defaults (sympy_series_inverse/train.py: prepare_data): dedup mode, orders
# 4-6, seed 0, split by function class, fractions 0.8 / 0.1 / 0.1.
DATASET = {"grammar": "paper", "mode": "dedup", "orders": (4, 5, 6), "seed": 0, "split": "by-function", "base_terms": "train"}
DATASET_COMMAND = "python -m sympy_series_inverse.data generate --grammar paper --mode dedup --seed 0 --out DIR"
IN_SAMPLE_ROWS, IN_SAMPLE_SEED = 500, 0  # as TrainConfig.in_sample_rows and evaluate_bundle(draw_seed=0)
NOISE = 1e-9


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One benchmark case: recover ``target`` from ``coeffs`` (``k + 1`` terms about ``x0``)."""

    id: str
    target: sympy.Expr
    x0: sympy.Expr
    k: int
    weight: float
    coeffs: tuple
    exact_coeffs: tuple
    split: str | None = None
    tags: tuple = ()

    @property
    def series(self) -> SeriesData:
        """What the methods are given."""
        return SeriesData(X, self.x0, self.k + 1, self.coeffs)

    @property
    def exact_series(self) -> SeriesData:
        """The target's own series (differs from ``series`` only in perturbed suites)."""
        return SeriesData(X, self.x0, self.k + 1, self.exact_coeffs)

    @property
    def key(self) -> tuple:
        """The ambiguity key: rows with equal keys cannot be told apart by any method."""
        return (str(self.x0), self.k, tuple(str(c) for c in self.exact_coeffs))


@dataclass
class Suite:
    name: str
    header: dict
    rows: list[Row] = field(default_factory=list)

    @property
    def in_sample(self) -> bool:
        return bool(self.header.get("in_sample"))

    @property
    def weighted(self) -> bool:
        return bool(self.header.get("weighted"))


def _coefficient(text: str) -> sympy.Expr:
    try:
        return sympy.Rational(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return parser.parse_user_string(text, _SYMBOLS)


def _coefficient_text(c: sympy.Expr) -> str:
    if c.is_Rational:
        return str(c)
    text = str(c)
    if _coefficient(text) != c:  # the safe parser must read back the very same constant
        raise ValueError(f"coefficient {c} does not round-trip through its string")
    return text


def parse_row(obj: dict) -> Row:
    coeffs = tuple(_coefficient(c) for c in obj["c"])
    exact = tuple(_coefficient(c) for c in obj["c_exact"]) if "c_exact" in obj else coeffs
    k = int(obj["k"])
    if len(coeffs) != k + 1 or len(exact) != k + 1:
        raise ValueError(f"row {obj.get('id')}: k={k} needs {k + 1} coefficients, got {len(coeffs)}")
    return Row(
        id=str(obj["id"]),
        target=parser.parse_prefix(obj["f"].split(), _SYMBOLS),
        x0=sympy.Rational(obj.get("x0", "0")),
        k=k,
        weight=float(Fraction(obj.get("w", "1"))),
        coeffs=coeffs,
        exact_coeffs=exact,
        split=obj.get("split"),
        tags=tuple(obj.get("tags", ())),
    )


def read_suite(name_or_path: str | Path) -> Suite:
    """A suite by name (``benchmarks/suites/<name>.jsonl``) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITES_DIR / f"{name_or_path}.jsonl"
    if not path.is_file():
        known = ", ".join(suite_names()) or "none (run python -m benchmarks make-suites)"
        raise FileNotFoundError(f"no suite {str(name_or_path)!r}; known: {known}")
    with open(path, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if header.get("format") != SUITE_FORMAT:
            raise ValueError(f"{path}: suite format {header.get('format')!r}, expected {SUITE_FORMAT}")
        rows = [parse_row(json.loads(line)) for line in fh if line.strip()]
    if header.get("rows") != len(rows):
        raise ValueError(f"{path}: header says {header.get('rows')} rows, file has {len(rows)}")
    return Suite(header["suite"], header, rows)


def suite_names() -> list[str]:
    """Suites on disk: the built-in ones in their documented order, then any others."""
    found = {p.stem for p in SUITES_DIR.glob("*.jsonl")}
    return [n for n in SUITES if n in found] + sorted(found - set(SUITES))


# -- building ------------------------------------------------------------------------------


def _taylor(f: sympy.Expr, x0, k: int) -> tuple:
    return engine.taylor_coefficients(f, X, x0, k + 1)


def _row(suite: str, i: int, f: sympy.Expr, x0, k: int, weight, *, coeffs=None, exact=None, split=None, tags=()) -> dict:
    exact = exact if exact is not None else _taylor(f, x0, k)
    tokens = parser.to_prefix(f)
    if parser.parse_prefix(tokens, _SYMBOLS) != f:
        raise ValueError(f"{f} does not round-trip through prefix tokens")
    row = {"id": f"{suite}:{i:04d}", "f": " ".join(tokens), "x0": str(x0), "k": k, "w": str(weight)}
    row["c"] = [c if isinstance(c, str) else _coefficient_text(c) for c in (coeffs if coeffs is not None else exact)]
    if coeffs is not None:
        row["c_exact"] = [_coefficient_text(c) for c in exact]
    if split:
        row["split"] = split
    if tags:
        row["tags"] = list(tags)
    return row


class _Context:
    """What several suites share: the trainer's data set and the grammar's enumeration."""

    def __init__(self, folder: Path):
        self.grammar = get_grammar(DATASET["grammar"])
        self.manifest = data.generate(
            self.grammar, folder, mode=DATASET["mode"], orders=DATASET["orders"], seed=DATASET["seed"],
            split=DATASET["split"], base_terms=DATASET["base_terms"], workers=1,
        )
        self.folder = folder
        self.split_of: dict[str, str] = {}
        self.samples: dict[str, list] = {}
        for name in data.SPLITS:
            self.samples[name] = list(data.read_split(folder, name))
            for s in self.samples[name]:
                self.split_of[" ".join(parser.to_prefix(s.function))] = name
        self.analytic = self.grammar.enumerate()
        self.everything = self.grammar.enumerate(analytic_only=False)
        self.test_functions = _distinct(s.function for s in self.samples["test"])

    def split(self, f: sympy.Expr) -> str | None:
        return self.split_of.get(" ".join(parser.to_prefix(f)))

    def source(self) -> dict:
        m = self.manifest
        return {
            "dataset": {
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in DATASET.items()},
                "fractions": m["split"]["fractions"],
                "counts": m["counts"],
                "content_hash": m["content_hash"],
                "grammar_version": m["grammar_version"],
                "grammar_digest": m["grammar_digest"],
                "command": DATASET_COMMAND,
            }
        }


def _distinct(exprs) -> list:
    return list(dict.fromkeys(exprs))


def _sorted_by_text(exprs) -> list:
    return sorted(exprs, key=lambda e: " ".join(parser.to_prefix(e)))


def build_paper_heldout(ctx: _Context, name: str):
    rows = [
        _row(name, i, s.function, 0, s.k, s.weight, exact=tuple(s.coeffs), split="test")
        for i, s in enumerate(ctx.samples["test"])
    ]
    return rows, {
        "description": "The function-disjoint test split of the trainer's data set (every test function at k = 4, 5, 6), "
        "weighted by the generator's probability.",
        "in_sample": False, "weighted": True, "source": ctx.source(),
    }


def build_paper_insample(ctx: _Context, name: str):
    train = ctx.samples["train"]
    drawn = random.Random(IN_SAMPLE_SEED).choices(train, weights=[float(s.weight) for s in train], k=IN_SAMPLE_ROWS)
    rows = [_row(name, i, s.function, 0, s.k, 1, exact=tuple(s.coeffs), split="train", tags=("in-sample",))
            for i, s in enumerate(drawn)]
    return rows, {
        "description": f"IN-SAMPLE: the paper's own protocol, {IN_SAMPLE_ROWS} rows drawn with replacement from the "
        "TRAINING split with probability proportional to the generator's prior (the draw of "
        "evaluate_bundle(draw=500, draw_seed=0)). Every row was trained on: never a held-out number.",
        "in_sample": True, "weighted": False,
        "source": {**ctx.source(), "draw": {"split": "train", "rows": IN_SAMPLE_ROWS, "seed": IN_SAMPLE_SEED,
                                            "weights": "sample weight (generator prior)", "replacement": True}},
    }


def build_paper_all(ctx: _Context, name: str):
    rows = []
    for f in ctx.analytic:
        for k in DATASET["orders"]:
            rows.append(_row(name, len(rows), f.expr, 0, k, f.probability, split=ctx.split(f.expr)))
    return rows, {
        "description": "Every analytic paper-grammar function at k = 4, 5, 6, weighted by the generator's probability "
        "(most probable first). Contains the trainer's TRAINING functions (row field 'split'): trained "
        "methods are scored on the valid/test rows only unless --include-in-sample is given.",
        "in_sample": False, "weighted": True, "source": ctx.source(),
    }


def _pole_functions(ctx: _Context) -> list:
    return [f.expr for f in ctx.everything if not f.analytic]


def build_ood_x0(ctx: _Context, name: str, per_point: int = 40):
    """Test-split functions and functions with a pole at 0 (in no split), about 1, -1, 1/2."""
    pool = [(f, "test-split") for f in _sorted_by_text(ctx.test_functions)]
    pool += [(f, "pole-at-0") for f in _sorted_by_text(_pole_functions(ctx))]
    rows = []
    for x0 in (sympy.Integer(1), sympy.Integer(-1), sympy.Rational(1, 2)):
        rng = random.Random(f"{name}:{x0}")
        order = pool[:]
        rng.shuffle(order)
        taken = 0
        for f, origin in order:
            if taken == per_point:
                break
            k = rng.choice(DATASET["orders"])
            try:
                exact = _taylor(f, x0, k)
            except SeriesInverseError:
                continue  # not analytic about this point
            rows.append(_row(name, len(rows), f, x0, k, 1, exact=exact, split=ctx.split(f), tags=(origin,)))
            taken += 1
    return rows, {
        "description": f"Out of distribution: expansion points 1, -1, 1/2 ({per_point} functions each, k drawn from "
        "4-6), paper-grammar functions analytic there: test-split functions and functions with a pole at 0 "
        "(never in any split). Coefficients are exact constants (sin(1), E, ...).",
        "in_sample": False, "weighted": False, "source": ctx.source(),
    }


def build_ood_long(ctx: _Context, name: str):
    rows = []
    for i, f in enumerate(_sorted_by_text(ctx.test_functions)):
        k = (8, 9, 10)[i % 3]
        rows.append(_row(name, len(rows), f, 0, k, 1, split="test"))
    return rows, {
        "description": "Out of distribution: longer expansions, k = 8, 9, 10 (round robin), every test-split function "
        "once, about 0.",
        "in_sample": False, "weighted": False, "source": ctx.source(),
    }


ELEMENTARY = (
    "tan(x)", "log(1 + x)", "sqrt(1 + x)", "sinh(x)", "cosh(x)", "tanh(x)", "atan(x)", "asin(x)", "atanh(x)",
    "asinh(x)", "sin(x**2)", "exp(sin(x))", "cos(x)**2", "3*sin(2*x)", "x*exp(-x)", "exp(x**2)", "exp(-x**2)",
    "cos(2*x)", "sin(3*x)", "1/(1 - x)", "1/(1 + x**2)", "x**2*cosh(x)", "exp(x)/2", "exp(x) - 5*x",
    "log(cos(x))", "sin(x)*cosh(x)",
)


def build_ood_elementary(ctx: _Context, name: str):
    in_grammar = {f.expr for f in ctx.everything}
    rows = []
    for k in (6, 8):
        for text in ELEMENTARY:
            f = parser.parse_user_string(text, _SYMBOLS)
            tags = ("in-paper-grammar",) if f in in_grammar else ("outside-paper-grammar",)
            rows.append(_row(name, len(rows), f, 0, k, 1, split=ctx.split(f), tags=tags))
    return rows, {
        "description": "Out of distribution: elementary functions, nested forms and integer coefficients at k = 6 and 8. "
        "A few of the requested ones are paper-grammar functions after simplify(expand(.)) (tan(x) = sin/cos, "
        "cos(x)**2, x*exp(-x), ...): tagged 'in-paper-grammar'; the training split's are scored only in-sample.",
        "in_sample": False, "weighted": False, "source": ctx.source(),
    }


def _perturb(c: sympy.Expr, rng: random.Random) -> str:
    value = float(c) * (1 + NOISE * rng.gauss(0.0, 1.0))
    return repr(value)


def build_ood_noise(ctx: _Context, name: str):
    rows = []
    for i, f in enumerate(_sorted_by_text(ctx.test_functions)):
        k = DATASET["orders"][i % 3]
        exact = _taylor(f, 0, k)
        rng = random.Random(f"{name}:{i}")
        noisy = [_perturb(c, rng) for c in exact]
        rows.append(_row(name, len(rows), f, 0, k, 1, coeffs=noisy, exact=exact, split="test"))
    return rows, {
        "description": f"Out of distribution: float coefficients with relative noise {NOISE:g} (Gaussian), test-split "
        "functions at k = 4-6. Verification is against the GIVEN (noisy) series, so the true function itself "
        "fails it by design and only interpolants (Taylor polynomial, Pade) verify; 'verified_clean' checks the "
        "top candidate against the clean series instead.",
        "in_sample": False, "weighted": False, "source": ctx.source(),
    }


SUITES: dict[str, Callable] = {
    "paper-heldout": build_paper_heldout,
    "paper-all": build_paper_all,
    "paper-insample": build_paper_insample,
    "ood-x0": build_ood_x0,
    "ood-long": build_ood_long,
    "ood-elementary": build_ood_elementary,
    "ood-noise": build_ood_noise,
}


def _ceilings(rows: list[Row]) -> dict:
    def both(subset):
        return {
            "weighted": metrics.ceiling((r.key, str(r.target), r.weight) for r in subset),
            "unweighted": metrics.ceiling((r.key, str(r.target), 1.0) for r in subset),
        }

    out = {"overall": both(rows), "per_k": {}}
    for k in sorted({r.k for r in rows}):
        out["per_k"][str(k)] = both([r for r in rows if r.k == k])
    return out


def render(name: str, rows: list[dict], meta: dict) -> str:
    parsed = [parse_row(r) for r in rows]
    header = {
        "format": SUITE_FORMAT,
        "suite": name,
        "description": meta["description"],
        "in_sample": meta["in_sample"],
        "weighted": meta["weighted"],
        "variable": "x",
        "rows": len(rows),
        "generator": f"python -m benchmarks make-suites --only {name}",
        "source": meta["source"],
        "ceiling": _ceilings(parsed),
        "notes": "ceiling: best exact-match rate over this suite's rows (metrics.ceiling over rows with equal "
        "(x0, k, exact coefficients)).",
    }
    lines = [json.dumps(header, sort_keys=True)] + [json.dumps(r, sort_keys=True) for r in rows]
    return "\n".join(lines) + "\n"


def make_suites(only: list[str] | None = None, *, folder: Path = SUITES_DIR, check: bool = False,
                echo: Callable[[str], None] = print) -> int:
    """Write (or with ``check``, compare) the suite files; returns the number that differ."""
    names = only or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise SystemExit(f"unknown suite {unknown[0]!r}; known: {', '.join(SUITES)}")
    folder.mkdir(parents=True, exist_ok=True)
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        ctx = _Context(Path(tmp) / "data")
        echo(f"data set: {ctx.manifest['counts']} rows, content hash {ctx.manifest['content_hash'][:16]}...")
        for name in names:
            rows, meta = SUITES[name](ctx, name)
            text = render(name, rows, meta)
            path = folder / f"{name}.jsonl"
            old = path.read_text(encoding="utf-8") if path.exists() else None
            same = old == text
            differ += not same
            if check:
                echo(f"{name}: {'up to date' if same else 'DIFFERS from a fresh build'} ({len(rows)} rows)")
            else:
                path.write_text(text, encoding="utf-8")
                echo(f"{name}: {len(rows)} rows -> {path} ({'unchanged' if same else 'written'})")
    return differ

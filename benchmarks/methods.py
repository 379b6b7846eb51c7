"""The methods a suite runs through: the package's models and the classical baselines.

A method only *proposes*: given a :class:`~sympy_series_inverse.series.SeriesData` and a time
budget it returns candidates, best first (SymPy expressions; strings are read with the safe
parser; :class:`ProposalError` marks an output that is not an expression). The runner then
verifies every method's candidates in the same way (:func:`sympy_series_inverse.verify.verify`
against the full given series) and scores them; see :mod:`benchmarks.runner`.

Methods:

``lookup``, ``default``
    ``series_inverse(series, model=NAME, details=True, verified_only=False)``: the package's
    ranked list (verified first), so verified@10 equals verified@1 by construction.
``lookup:elementary``
    the same with ``grammar="elementary"``: table lookup over the opt-in elementary grammar
    alone.
``<bundle>`` (``paper-lstm``, ``paper-lstm-attention``, any bundle in ``pretrained/``)
    the same through ``series_inverse(model=<bundle>)``: beam 10, parse, verify, rank.
``<bundle>:greedy``
    the paper's decoding: one greedy output of the network (grammar-constrained as the
    bundle's decoding settings say), nothing verified or re-ranked: the paper's Table 1 setting.
``<bundle>:beam``
    the raw beam (width 10) in the network's own order: verification does not re-rank it.
``guess-ogf``, ``guess-egf``
    SymPy's ``guess_generating_function``. ``ogf``: the sequence of Taylor coefficients
    c_0, c_1, ... has the function itself as its ordinary generating function. ``egf``: the
    sequence of derivatives f^(j)(x0) = j! c_j has it as its exponential generating function.
    Either is read back as a function of ``x - x0``.
``pade``
    Pade approximants [m/n] with m + n = k (all n + 1 given terms used), solved exactly;
    near-diagonal first (top candidate [ceil(k/2)/floor(k/2)]), the Taylor polynomial [k/0]
    among them. They reproduce the given terms whenever the linear system is regular.
``taylor``
    the Taylor polynomial of the given terms: always verified, predicts nothing (the
    hold-out sanity check).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sympy

from sympy_series_inverse.series import SeriesData

__all__ = ["BEAM", "EXPECTED_BUNDLES", "Method", "ProposalError", "Unsupported", "add_bundle", "get_method", "method_names", "register_method", "unregister_method"]

BEAM = 10
EXPECTED_BUNDLES = ("paper-lstm", "paper-lstm-attention")  # being trained; listed even before they exist


class Unsupported(Exception):
    """Raised by a method for input outside its documented domain (a cost guard): recorded
    as failure kind ``unsupported``, never as a crash."""


@dataclass(frozen=True)
class ProposalError:
    """A method output that is not an expression (``kind`` is ``"parse-error"``)."""

    message: str
    kind: str = "parse-error"


@dataclass
class Method:
    """A named proposer. ``setup(x0s)`` runs once per worker process, before any timed call,
    with the expansion points the run will use (load a model, build lookup tables); it
    returns facts worth recording. ``unavailable()`` gives the reason a method cannot run
    here (no bundle yet), or ``None``. ``trained`` methods learned from the trainer's data
    set: their training rows only count in in-sample results."""

    name: str
    kind: str
    description: str
    propose: Callable[[SeriesData, float], Sequence]
    setup: Callable[[list], dict] | None = None
    trained: bool = False
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    info: Callable[[], dict] = field(default=dict)


_REGISTRY: dict[str, Method] = {}


def register_method(method: Method) -> None:
    """Add a method (tests register fakes; the worker process inherits them by fork)."""
    _REGISTRY[method.name] = method


def unregister_method(name: str) -> None:
    _REGISTRY.pop(name, None)


# -- the package's models ----------------------------------------------------------------------


_EXTRA_BUNDLES: dict[str, Path] = {}


def _shipped_bundles() -> dict[str, Path]:
    from sympy_series_inverse.pretrained import shipped_bundles

    return {p.name: p for p in shipped_bundles()}


def _bundle_folders() -> dict[str, Path]:
    """Shipped bundles (``pretrained/``) and those added with :func:`add_bundle`."""
    return {**_shipped_bundles(), **_EXTRA_BUNDLES}


def add_bundle(path: str | Path) -> str:
    """Evaluate a bundle folder that is not shipped (``runs/NAME/bundle`` before it is copied
    to ``pretrained/``): methods ``NAME``, ``NAME:greedy``, ``NAME:beam``, and the model
    ``NAME`` registered for ``series_inverse``. It is not a member of ``default``. Call it
    before a run (the worker inherits the registration). Returns the bundle's name."""
    from sympy_series_inverse import hookimpl, plugins

    path = Path(path).resolve()
    try:
        name = json.loads((path / "config.json").read_text(encoding="utf-8"))["name"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"{path}: not a bundle folder ({e})") from e
    if name in _shipped_bundles() and _shipped_bundles()[name].resolve() != path:
        raise SystemExit(f"a bundle named {name!r} is shipped in pretrained/ already; run it by name, not with --bundle")
    if name in _EXTRA_BUNDLES:
        return name

    def build():
        from sympy_series_inverse.backends.neural import NeuralBackend

        return NeuralBackend(path)

    class _Plugin:
        @hookimpl
        def register_models(self, register):
            register(name, build)

    if name not in _shipped_bundles():
        plugins.register_plugin(_Plugin(), name=f"benchmarks-bundle:{name}")
    _EXTRA_BUNDLES[name] = path
    return name


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _bundle_info(name: str) -> dict:
    path = _bundle_folders().get(name)
    if path is None:
        return {}
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"bundle": name, "path": _display(path)}
    training = config.get("training", {}).get("config", {})
    return {
        "bundle": name,
        "path": _display(path),
        "shipped": name in _shipped_bundles(),
        "weights_sha256": _sha256(path / "model.safetensors"),
        "backend": config.get("backend"),
        "tokenizer": config.get("tokenizer"),
        "data_manifest_hash": config.get("data_manifest_hash"),
        "loss": training.get("loss"),
        "epochs_run": config.get("training", {}).get("epochs_run"),
        "model": config.get("model"),
        "decoding": config.get("decoding"),
    }


def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # the cores are shared; one intra-op thread is fastest there (beam_speed.py)


def _warm(model: str, x0s: list, grammar: str | None = None) -> None:
    """Build the model and its lookup tables for every expansion point outside the clock: a
    table about a new point (one expansion per grammar function) takes about a minute and is
    cached on disk only for rational coefficients."""
    from sympy_series_inverse import series_inverse

    for x0 in x0s or [0]:
        series_inverse([1, 1, 1], x0=x0, model=model, grammar=grammar, timeout=3600)


def _series_inverse_method(model: str, *, trained: bool, description: str, unavailable=None, info=dict,
                           grammar: str | None = None) -> Method:
    def setup(x0s):
        if trained:
            _torch_one_thread()
        _warm(model, x0s, grammar)
        return {}

    def propose(series: SeriesData, budget: float):
        from sympy_series_inverse import series_inverse

        found = series_inverse(series, model=model, grammar=grammar, details=True, verified_only=False, beam_size=BEAM,
                               timeout=max(0.5, 0.8 * budget))
        return [c.expr if c.expr is not None else ProposalError(c.reason or c.status) for c in found]

    name = f"{model}:{grammar}" if grammar else model
    return Method(name, "series_inverse", description, propose, setup, trained,
                  unavailable or (lambda: None), info)


def _neural_method(bundle: str, mode: str) -> Method:
    state: dict = {}

    def unavailable():
        return None if bundle in _bundle_folders() else f"no bundle pretrained/{bundle} yet (or pass --bundle PATH)"

    def setup(x0s):
        from sympy_series_inverse.backends.neural import NeuralBackend

        _torch_one_thread()
        state["backend"] = NeuralBackend(_bundle_folders()[bundle], precision="float32")  # the network as trained
        return {}

    def propose(series: SeriesData, budget: float):
        backend = state["backend"]
        tok = backend.tokenizer
        if mode == "beam":
            hyps = [tokens for tokens, _ in backend.decode([series], BEAM)[0]]
        else:
            hyps = [_greedy_tokens(backend, series)]
        out = []
        for tokens in hyps:
            try:
                out.append(tok.decode_function(list(tokens), series.x))
            except Exception as e:  # noqa: BLE001 - a network output that does not parse is a miss
                out.append(ProposalError(f"{type(e).__name__}: {e}"))
        return out

    if mode == "greedy":
        description = f"{bundle}: one greedy decode (the paper's decoding), not verified or re-ranked"
    else:
        description = f"{bundle}: raw beam of {BEAM} in the network's order, not re-ranked by verification"
    return Method(f"{bundle}:{mode}", f"neural-{mode}", description, propose, setup, True, unavailable,
                  lambda: _bundle_info(bundle))


def _greedy_tokens(backend, series: SeriesData) -> list[str]:
    import torch

    from sympy_series_inverse import decoding
    from sympy_series_inverse.tokenizers import EOS, SOS

    vocab, tok = backend.bundle.vocab, backend.tokenizer
    ids = vocab.encode(tok.encode_series(series))
    src = torch.tensor([ids or [0]], dtype=torch.long)
    lengths = torch.tensor([max(1, len(ids))])
    with torch.inference_mode():
        out = decoding.greedy(backend.bundle.module, src, lengths, sos_id=vocab.id(SOS), eos_id=vocab.id(EOS),
                              max_len=backend.config.max_len, constraint=backend._constraint)
    return vocab.decode(out[0])


# -- classical baselines --------------------------------------------------------------------


def _t():
    return sympy.Dummy("t")


def _guess(kind: str) -> Method:
    def propose(series: SeriesData, budget: float):
        from sympy.concrete.guess import guess_generating_function

        t = _t()
        values = list(series.coeffs)
        if not series.is_rational:
            # guess_generating_function is for rational sequences; on constants such as
            # sin(1) it runs for minutes (28 s to 111 s seen) and finds nothing.
            raise Unsupported("guess_generating_function takes rational sequences; these coefficients are not rational")
        if kind == "egf":
            values = [c * math.factorial(j) for j, c in enumerate(values)]
        found = guess_generating_function(values, X=t, types=[kind]) or {}
        g = found.get(kind)
        if g is None:
            return []
        return [g.xreplace({t: series.x - series.x0})]

    what = "ordinary" if kind == "ogf" else "exponential"
    return Method(f"guess-{kind}", "baseline", f"sympy guess_generating_function, {what} generating function of the "
                  "coefficient sequence read as f(x - x0)", propose)


def pade(coeffs: Sequence[sympy.Expr], m: int, n: int, t: sympy.Symbol) -> sympy.Expr | None:
    """The [m/n] Pade approximant in ``t`` from ``m + n + 1`` coefficients, or ``None`` when
    the linear system for the denominator is singular. Denominator normalised to q(0) = 1."""
    c = list(coeffs)

    def at(i):
        return c[i] if 0 <= i < len(c) else sympy.S.Zero

    q = [sympy.S.One]
    if n:
        from sympy.polys.matrices import DomainMatrix
        from sympy.polys.matrices.exceptions import DMError

        # Exact solve over QQ, or over QQ(E, sin(1), ...) when the point is not 0: the
        # constants are treated as indeterminates (fast, no expression swell).
        a = DomainMatrix.from_Matrix(sympy.Matrix(n, n, lambda r, j: at(m + 1 + r - (j + 1))))
        b = DomainMatrix.from_Matrix(sympy.Matrix(n, 1, lambda r, _: -at(m + 1 + r)))
        a, b = a.unify(b)
        field = a.domain.get_field()
        try:
            sol = a.convert_to(field).lu_solve(b.convert_to(field)).to_Matrix()
        except (DMError, ValueError, ZeroDivisionError, ArithmeticError):
            return None  # singular: no [m/n] approximant with q(0) = 1
        q += list(sol)
    p = [sum((q[j] * at(i - j) for j in range(min(i, n) + 1)), sympy.S.Zero) for i in range(m + 1)]
    num = sympy.Add(*(sympy.expand(pi) * t**i for i, pi in enumerate(p)))
    den = sympy.Add(*(sympy.expand(qi) * t**i for i, qi in enumerate(q)))
    return num / den


def pade_orders(k: int) -> list[tuple[int, int]]:
    """All [m/n] with m + n = k, near-diagonal first (m >= n before m < n on ties)."""
    return sorted(((m, k - m) for m in range(k + 1)), key=lambda mn: (abs(mn[0] - mn[1]), -mn[0]))


def _pade_method() -> Method:
    def propose(series: SeriesData, budget: float):
        t = _t()
        k = series.n - 1
        out = []
        for m, n in pade_orders(k):
            r = pade(series.coeffs, m, n, t)
            if r is not None:
                out.append(r.xreplace({t: series.x - series.x0}))
        return out

    return Method("pade", "baseline", "Pade approximants [m/n], m + n = k, solved exactly, near-diagonal first", propose)


def _taylor_method() -> Method:
    def propose(series: SeriesData, budget: float):
        return [series.polynomial()]

    return Method("taylor", "baseline", "the Taylor polynomial of the given terms (always verified, never predicts)",
                  propose)


# -- the registry ------------------------------------------------------------------------------


def _builtin() -> dict[str, Method]:
    out: dict[str, Method] = {}
    out["lookup"] = _series_inverse_method(
        "lookup", trained=False, description="series_inverse(model='lookup'): the ambiguity set from the enumerated grammar")

    out["lookup:elementary"] = _series_inverse_method(
        "lookup", trained=False, grammar="elementary",
        description="series_inverse(model='lookup', grammar='elementary'): lookup over the opt-in elementary grammar")

    def default_info():
        return {"members": ["lookup", *sorted(_shipped_bundles())],
                "bundles": [_bundle_info(b) for b in sorted(_shipped_bundles())]}

    out["default"] = _series_inverse_method(
        "default", trained=bool(_shipped_bundles()), info=default_info,
        description="series_inverse(model='default'): lookup + every shipped bundle under one verifier")
    for bundle in sorted(set(EXPECTED_BUNDLES) | set(_bundle_folders())):
        def unavailable(bundle=bundle):
            return None if bundle in _bundle_folders() else f"no bundle pretrained/{bundle} yet (or pass --bundle PATH)"

        out[bundle] = _series_inverse_method(
            bundle, trained=True, unavailable=unavailable, info=lambda bundle=bundle: _bundle_info(bundle),
            description=f"series_inverse(model='{bundle}'): beam {BEAM}, parse, verify, rank")
        for mode in ("greedy", "beam"):
            m = _neural_method(bundle, mode)
            out[m.name] = m
    for kind in ("ogf", "egf"):
        m = _guess(kind)
        out[m.name] = m
    out["pade"] = _pade_method()
    out["taylor"] = _taylor_method()
    return out


def _all() -> dict[str, Method]:
    return {**_builtin(), **_REGISTRY}


def method_names() -> list[str]:
    return list(_all())


def get_method(name: str) -> Method:
    methods = _all()
    if name not in methods:
        raise SystemExit(f"unknown method {name!r}; known: {', '.join(methods)}")
    return methods[name]

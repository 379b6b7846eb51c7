"""Run a suite through a method: each call in a worker process under a time limit, the same
verification and metrics for every method, results written to ``benchmarks/results/``.

Per row, two calls of the method (two *phases*):

``full``
    the method sees all ``k + 1`` given terms. Its candidates (at most 10, in its order) are
    verified with :func:`sympy_series_inverse.verify.verify` against the given series, one
    after another until one verifies: verified@1 (the top one does), verified@10 (one of the
    first ten does). The top candidate is scored against the target: exact match (beside the
    ceiling), equivalence, token accuracy and Levenshtein similarity on prefix tokens,
    MSE / MAE / WMSE (:func:`sympy_series_inverse.metrics.curve_errors`, around ``x0``).
``holdout``
    the method sees only the first ``k - 1`` terms (up to order ``k - 2``); its top
    candidate must reproduce all ``k + 1``: hold-out@1, a prediction of two unseen terms.

The worker is a forked process that runs the method's ``setup`` once (models, lookup
tables) and then answers one phase per request. A phase that gives no answer within the
hard limit (the case budget plus the verification budgets) is recorded as ``timeout`` and
the worker is killed and restarted; a worker that dies is recorded as ``crash``; neither
stops the run. Failure kinds of a phase: ``timeout`` (no answer, or an answer later than
the case budget), ``crash`` (the method raised, or returned something that is not a list),
``unsupported`` (the method's own cost guard refused the input), ``no-candidate``,
``parse-error`` (the top output is not an expression), ``unverified`` (the top candidate
does not reproduce the given terms; the verifier's status is kept).

Debugging a slow case: ``BENCHMARKS_STACK_DUMP=5`` makes each worker print its stack to
stderr every 5 seconds (``faulthandler``).
"""

from __future__ import annotations

import gzip
import json
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import sympy

from sympy_series_inverse import metrics, parser
from sympy_series_inverse.verify import verify

from .methods import Method, ProposalError, Unsupported, get_method
from .suites import Row, Suite, X, read_suite

__all__ = ["RESULTS_DIR", "SCHEMA", "Settings", "git_state", "machine", "result_stem", "run", "run_phase", "summarize"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCHEMA = "benchmarks.result/1"
TOP = 10
HOLDOUT_TERMS = 2
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Settings:
    """``case_timeout``: seconds one method call may take (a later answer counts as a
    timeout); ``verify_budget``: seconds per candidate verification; ``grace``: slack for
    scoring before a silent worker is killed; ``setup_timeout``: seconds for the setup."""

    case_timeout: float = 10.0
    verify_budget: float = 3.0
    grace: float = 20.0
    setup_timeout: float = 1800.0

    @property
    def hard_limit(self) -> float:
        """Seconds the parent waits for one phase before it kills the worker."""
        return self.case_timeout + TOP * self.verify_budget + self.grace


# -- one phase, in the worker --------------------------------------------------------------------


def _entry(c) -> tuple:
    """(expression or None, error message) for one raw method output."""
    if isinstance(c, ProposalError):
        return None, c.message
    if isinstance(c, str):
        try:
            return parser.parse_user_string(c, {"x": X}), None
        except Exception as e:  # noqa: BLE001 - any unreadable string is a parse error
            return None, f"{type(e).__name__}: {e}"
    if isinstance(c, sympy.Expr):
        return c, None
    return None, f"not an expression: a {type(c).__name__}"


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def _tokens(expr) -> list[str] | None:
    try:
        return parser.to_prefix(expr)
    except Exception:  # noqa: BLE001 - e.g. a Float or an unknown function: no prefix tokens
        return None


def _prediction(top, row: Row) -> dict:
    target_tokens = parser.to_prefix(row.target)
    tokens = _tokens(top) if top is not None else []
    pred = tokens if tokens is not None else [str(top)]
    em = metrics.exact_match(top, row.target)
    try:
        eq = em or (top is not None and metrics.equivalent(top, row.target, X))
    except Exception:  # noqa: BLE001 - equivalence is best effort
        eq = False
    if em:
        curves = {"mse": 0.0, "mae": 0.0, "wmse": 0.0}
    else:
        try:
            curves = metrics.curve_errors(top, row.target, X, float(row.x0))
        except Exception:  # noqa: BLE001
            curves = {"mse": math.nan, "mae": math.nan, "wmse": math.nan}
    out = {
        "exact": bool(em),
        "equivalent": bool(eq),
        "token_accuracy": metrics.token_accuracy(pred, target_tokens),
        "levenshtein": metrics.levenshtein_similarity(pred, target_tokens),
        "mse": _finite(curves["mse"]),
        "mae": _finite(curves["mae"]),
        "wmse": _finite(curves["wmse"]),
        "top_prefix": " ".join(tokens) if tokens else None,
    }
    if row.coeffs != row.exact_coeffs:
        out["verified_clean"] = top is not None and verify(top, row.exact_series).verified
    return out


def run_phase(method: Method, row: Row, phase: str, settings: Settings) -> dict:
    """Call the method once and score what it returned (the same code for every method)."""
    given = row.series
    shown = given if phase == "full" else given.truncate(given.n - HOLDOUT_TERMS)
    error = None
    raw = None
    started = time.perf_counter()
    try:
        raw = method.propose(shown, settings.case_timeout)
    except Unsupported as e:
        error = ("unsupported", str(e))
    except Exception as e:  # noqa: BLE001 - a failing method is a failed case, never a failed run
        error = ("crash", f"{type(e).__name__}: {e}")
    latency = time.perf_counter() - started
    if error is None and latency > settings.case_timeout:
        error = ("timeout", f"answered after {latency:.1f} s, over the {settings.case_timeout:g} s budget")
    entries: list[tuple] = []
    if error is None:
        if isinstance(raw, (list, tuple)):
            entries = [_entry(c) for c in raw[:TOP]]
        else:
            error = ("crash", f"returned a {type(raw).__name__}, not a list of candidates")
    return _score(row, phase, entries, len(raw) if isinstance(raw, (list, tuple)) else 0, error, latency, settings)


def _score(row: Row, phase: str, entries: list, n_raw: int, error, latency: float, settings: Settings) -> dict:
    statuses: list[str] = []
    top_reason = ""
    any_verified = False
    for i, (expr, message) in enumerate(entries[: 1 if phase == "holdout" else TOP]):
        if expr is None:
            statuses.append("parse-error")
            top_reason = top_reason or (message if i == 0 else "")
            continue
        v = verify(expr, row.series, budget=settings.verify_budget)
        statuses.append(v.status)
        if i == 0:
            top_reason = v.reason
        if v.verified:
            any_verified = True
            break  # verified@10 needs one
    top = entries[0][0] if entries else None
    if error is not None:
        kind, detail = error
    elif not entries:
        kind, detail = "no-candidate", "the method returned no candidate"
    elif top is None:
        kind, detail = "parse-error", entries[0][1] or ""
    elif statuses[0] != "verified":
        kind, detail = "unverified", f"{statuses[0]}: {top_reason}"
    else:
        kind, detail = None, ""
    out = {
        "verified": kind is None,
        "failure": kind,
        "detail": detail[:300],
        "latency_s": round(latency, 6),
        "candidates": n_raw,
        "top": None if top is None else str(top)[:300],
        "top_status": statuses[0] if statuses else None,
    }
    if phase == "full":
        out["verified_any"] = any_verified
        out["parse_errors"] = sum(1 for e, _ in entries if e is None)
        out.update(_prediction(top, row))
    return out


def _failed_phase(kind: str, detail: str, latency: float, phase: str, row: Row) -> dict:
    out = {"verified": False, "failure": kind, "detail": detail[:300], "latency_s": round(latency, 6), "candidates": 0,
           "top": None, "top_status": None}
    if phase == "full":
        out.update({"verified_any": False, "parse_errors": 0, **_prediction(None, row)})
    return out


# -- the worker process --------------------------------------------------------------------------


def _worker_main(conn, method_name: str, rows: list[Row], x0s: list, settings: Settings) -> None:
    if os.environ.get("BENCHMARKS_STACK_DUMP"):
        import faulthandler
        faulthandler.dump_traceback_later(float(os.environ["BENCHMARKS_STACK_DUMP"]), repeat=True, file=sys.__stderr__)
    try:
        method = get_method(method_name)
        started = time.perf_counter()
        info = method.setup(x0s) if method.setup else {}
        conn.send(("ready", info or {}, time.perf_counter() - started))
    except BaseException as e:  # noqa: BLE001 - report any setup failure to the parent
        conn.send(("setup-failed", f"{type(e).__name__}: {e}", traceback.format_exc(limit=5)))
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if msg is None:
            return
        index, phase = msg
        conn.send(("result", index, phase, run_phase(method, rows[index], phase, settings)))


class SetupFailed(RuntimeError):
    pass


class _Worker:
    def __init__(self, method_name: str, rows: list[Row], x0s: list, settings: Settings):
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, method_name, rows, x0s, settings), daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(settings.setup_timeout):
            self.kill()
            raise SetupFailed(f"setup took longer than {settings.setup_timeout:g} s")
        try:
            msg = self.conn.recv()
        except EOFError as e:
            self.kill()
            raise SetupFailed(f"the worker died during setup (exit code {self.process.exitcode})") from e
        if msg[0] != "ready":
            self.kill()
            raise SetupFailed(f"{msg[1]}\n{msg[2]}")
        self.info, self.setup_seconds = msg[1], msg[2]

    def request(self, index: int, phase: str, limit: float):
        """The phase record, or ("timeout" | "crash", detail)."""
        self.conn.send((index, phase))
        if not self.conn.poll(limit):
            self.kill()
            return ("timeout", f"no answer within {limit:g} s; the worker was killed")
        try:
            msg = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            code = self.process.exitcode
            self.kill()
            return ("crash", f"the worker process died (exit code {code})")
        return msg[3]

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(10)
        self.kill()


# -- aggregation -----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def _block(records: list[dict], rows: dict[str, Row], weights: list[float]) -> dict:
    total = sum(weights) or 1.0

    def rate(get):
        return sum(w for r, w in zip(records, weights) if get(r)) / total

    def mean(get):
        pairs = [(get(r), w) for r, w in zip(records, weights)]
        pairs = [(v, w) for v, w in pairs if v is not None]
        wsum = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / wsum if wsum else None

    full = [r["full"] for r in records]
    wmse = [f["wmse"] for f in full if f["wmse"] is not None]
    out = {
        "rows": len(records),
        "verified_at_1": rate(lambda r: r["full"]["verified"]),
        "verified_at_10": rate(lambda r: r["full"]["verified_any"]),
        "holdout_at_1": rate(lambda r: r["holdout"]["verified"]),
        "exact_match": rate(lambda r: r["full"]["exact"]),
        "ceiling": metrics.ceiling((rows[r["id"]].key, str(rows[r["id"]].target), w) for r, w in zip(records, weights)),
        "equivalent": rate(lambda r: r["full"]["equivalent"]),
        "token_accuracy": mean(lambda r: r["full"]["token_accuracy"]),
        "levenshtein": mean(lambda r: r["full"]["levenshtein"]),
        "mse": mean(lambda r: r["full"]["mse"]),
        "mae": mean(lambda r: r["full"]["mae"]),
        "wmse": mean(lambda r: r["full"]["wmse"]),
        "wmse_median": statistics.median(wmse) if wmse else None,
        "curve_nonfinite": sum(f["wmse"] is None for f in full),
    }
    if any("verified_clean" in f for f in full):
        out["verified_clean_at_1"] = rate(lambda r: r["full"].get("verified_clean"))
    return out


def _blocks(records: list[dict], rows: dict[str, Row], weighted: bool) -> dict:
    out = {"unweighted": _block(records, rows, [1.0] * len(records))}
    if weighted:
        out["weighted"] = _block(records, rows, [rows[r["id"]].weight for r in records])
    return out


def summarize(records: list[dict], rows: dict[str, Row], weighted: bool) -> dict:
    """Every metric over ``records``: unweighted, weighted by the rows' weights when the
    suite is weighted, per order k, per split; failures by kind; latency."""
    if not records:
        return {"rows": 0}
    out = _blocks(records, rows, weighted)
    out["failures"] = {
        phase: dict(sorted(Counter(r[phase]["failure"] or "ok" for r in records).items())) for phase in ("full", "holdout")
    }
    out["top_status"] = dict(sorted(Counter(r["full"]["top_status"] or "none" for r in records).items()))
    lat = [r["full"]["latency_s"] * 1e3 for r in records]
    hold = [r["holdout"]["latency_s"] * 1e3 for r in records]
    out["latency_ms"] = {
        "p50": statistics.median(lat), "p95": _percentile(lat, 95), "mean": statistics.fmean(lat), "max": max(lat),
        "holdout_p50": statistics.median(hold), "holdout_p95": _percentile(hold, 95),
    }
    out["per_k"] = {str(k): _blocks([r for r in records if r["k"] == k], rows, weighted)
                    for k in sorted({r["k"] for r in records})}
    splits = sorted({r.get("split") or "none" for r in records})
    if len(splits) > 1:
        out["per_split"] = {s: _blocks([r for r in records if (r.get("split") or "none") == s], rows, weighted)
                            for s in splits}
    tags = sorted({t for r in records for t in r.get("tags", [])})
    if len(tags) > 1:
        out["per_tag"] = {t: _blocks([r for r in records if t in r.get("tags", [])], rows, weighted) for t in tags}
    return out


# -- provenance ----------------------------------------------------------------------------------


def _version(dist: str):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sympy": sympy.__version__,
        "torch": _version("torch"),
        "python-flint": _version("python-flint"),
        "sympy_series_inverse": _version("sympy_series_inverse"),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30,
                                  check=False).stdout.rstrip()  # not strip(): porcelain lines start with a space
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "sympy_series_inverse", "grammars", "pretrained",
                                       "benchmarks").splitlines() if not line[3:].startswith("benchmarks/results")]
    return {"commit": git("rev-parse", "HEAD") or None, "dirty_paths": dirty[:30], "dirty": bool(dirty)}


# -- running ---------------------------------------------------------------------------------------


def result_stem(suite: str, method: str, limit: int | None, in_sample: bool = False) -> str:
    """``<suite>__<method>`` (``:`` becomes ``+``), ``.insample`` when training rows were
    scored on request, ``.limitN`` for partial runs."""
    stem = f"{suite}__{method.replace(':', '+')}" + (".insample" if in_sample else "")
    return f"{stem}.limit{limit}" if limit else stem


def _bundle_hash_notes(method: Method, suite: Suite) -> list[str]:
    info = method.info() or {}
    bundles = info.get("bundles") or ([info] if info.get("bundle") else [])
    want = suite.header.get("source", {}).get("dataset", {}).get("content_hash")
    notes = []
    for b in bundles:
        have = b.get("data_manifest_hash")
        if want and have and have != want:
            notes.append(f"WARNING: bundle {b.get('bundle')} was trained on data set {have[:12]}..., not the suite's "
                         f"{want[:12]}...: its held-out status for these rows is unknown")
    return notes


def _echo(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def run(suite_name: str, method_name: str, *, limit: int | None = None, settings: Settings | None = None,
        results_dir: str | Path = RESULTS_DIR, include_in_sample: bool = False, command: str | None = None,
        quiet: bool = False) -> dict:
    """Run one suite through one method and write ``<suite>__<method>.json`` / ``.md`` and the
    per-case records (``cases/<stem>.jsonl.gz``) into ``results_dir``; returns the result."""
    settings = settings or Settings()
    results_dir = Path(results_dir)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    suite = read_suite(suite_name)
    method = get_method(method_name)
    rows = list(suite.rows)
    notes: list[str] = []
    skipped: dict[str, int] = {}
    label = "in-sample" if suite.in_sample else "held-out" if method.trained else "untrained method"
    if method.trained and not suite.in_sample:
        train = [r for r in rows if r.split == "train"]
        if train and include_in_sample:
            label = "in-sample (includes training rows)"
            notes.append(f"--include-in-sample: {len(train)} rows are from the training split")
        elif train:
            rows = [r for r in rows if r.split != "train"]
            skipped["training-split rows (in-sample for a trained method)"] = len(train)
    if limit:
        rows = rows[:limit]
    if method.trained and not suite.in_sample and any(r.split == "valid" for r in rows):
        notes.append("rows of the valid split were seen by the trainer for checkpoint selection (never trained on); "
                     "the test split alone (per_split.test) is the clean held-out number")
    result = {
        "schema": SCHEMA,
        "status": "ok",
        "suite": {
            "name": suite.name, "description": suite.header.get("description"), "in_sample": suite.in_sample,
            "weighted": suite.weighted, "rows_in_suite": len(suite.rows), "rows_evaluated": len(rows), "limit": limit,
            "dataset_hash": suite.header.get("source", {}).get("dataset", {}).get("content_hash"),
        },
        "method": {"name": method.name, "kind": method.kind, "description": method.description, "trained": method.trained},
        "label": label,
        "skipped_rows": skipped,
        "notes": notes,
        "settings": {**asdict(settings), "top": TOP, "holdout_terms": HOLDOUT_TERMS},
        "command": command or "python -m benchmarks " + " ".join(sys.argv[1:]),
        "git": git_state(),
        "machine": machine(),
        "started_at": started_at,
    }
    reason = method.unavailable()
    if reason:
        result.update(status="skipped", reason=reason)
        _echo(quiet, f"{suite.name} / {method.name}: skipped: {reason}")
        return _write(result, None, results_dir, limit)
    try:
        result["method"]["info"] = method.info() or {}
    except Exception as e:  # noqa: BLE001
        result["method"]["info"] = {"error": repr(e)}
    notes += _bundle_hash_notes(method, suite)
    x0s = sorted({r.x0 for r in rows}, key=lambda v: (v != 0, float(v)))
    records: list[dict] = []
    worker = None
    starts, setup_seconds = 0, 0.0
    last = time.perf_counter()
    try:
        for index, row in enumerate(rows):
            record = {"id": row.id, "k": row.k, "x0": str(row.x0), "w": row.weight, "split": row.split,
                      "tags": list(row.tags), "target": str(row.target)}
            for phase in ("full", "holdout"):
                if worker is None:
                    worker = _Worker(method.name, rows, x0s, settings)
                    starts += 1
                    setup_seconds += worker.setup_seconds
                    result.setdefault("setup", {})["info"] = worker.info
                asked = time.perf_counter()
                out = worker.request(index, phase, settings.hard_limit)
                if isinstance(out, tuple):
                    out = _failed_phase(out[0], out[1], time.perf_counter() - asked, phase, row)
                    worker = None
                record[phase] = out
            records.append(record)
            if time.perf_counter() - last > 15 or index + 1 == len(rows):
                last = time.perf_counter()
                ok = sum(r["full"]["verified"] for r in records) / len(records)
                _echo(quiet, f"{suite.name} / {method.name}: {index + 1}/{len(rows)} rows, verified@1 {ok:.1%}, "
                             f"{time.perf_counter() - t0:.0f} s")
    except SetupFailed as e:
        result.update(status="setup-failed", reason=str(e)[:2000])
        _echo(quiet, f"{suite.name} / {method.name}: setup failed: {str(e).splitlines()[0]}")
    finally:
        if worker is not None:
            worker.close()
    by_id = {r.id: r for r in rows}
    result["setup"] = {**result.get("setup", {}), "seconds": round(setup_seconds, 2), "worker_starts": starts}
    result["summary"] = summarize(records, by_id, suite.weighted) if records else {"rows": 0}
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return _write(result, records, results_dir, limit)


def _write(result: dict, records: list[dict] | None, results_dir: Path, limit: int | None) -> dict:
    from .report import result_markdown

    results_dir.mkdir(parents=True, exist_ok=True)
    stem = result_stem(result["suite"]["name"], result["method"]["name"], limit,
                       result["label"].startswith("in-sample (includes"))
    if records is not None:
        cases = results_dir / "cases" / f"{stem}.jsonl.gz"
        cases.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(cases, "wb", mtime=0) as fh:
            for r in records:
                fh.write((json.dumps(r, sort_keys=True) + "\n").encode())
        result["cases_file"] = str(cases.relative_to(results_dir))
    (results_dir / f"{stem}.json").write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    (results_dir / f"{stem}.md").write_text(result_markdown(result), encoding="utf-8")
    return result

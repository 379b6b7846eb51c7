"""The documentation: every hook documented with its signature, the CLI reference generated
from the real parsers, no untested examples, and the Sphinx builds (HTML with warnings as
errors, and the doctests)."""

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sympy_series_inverse import hookspecs
from sympy_series_inverse.verify import STATUSES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS_PAGE = DOCS / "reference" / "hooks.rst"
CLI_PAGE = DOCS / "reference" / "cli.rst"
MARKER = f"{hookspecs.PROJECT}_spec"  # the attribute pluggy's HookspecMarker sets


def _hookspecs() -> dict[str, str]:
    """Hook name -> its signature, as written in hookspecs.py."""
    return {
        name: str(inspect.signature(func))
        for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(func, MARKER, None) is not None
    }


def _documented_hooks() -> dict[str, str]:
    found = {}
    for line in HOOKS_PAGE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\.\. py:function:: (\w+)(\(.*\))\s*$", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return found


def test_hookspecs_are_found():
    assert set(_hookspecs()) >= {"register_grammars", "register_tokenizers", "register_backends", "register_models"}


def test_every_hook_is_documented_with_its_signature():
    specs, documented = _hookspecs(), _documented_hooks()
    missing = sorted(set(specs) - set(documented))
    assert not missing, f"hooks missing from docs/reference/hooks.rst: {missing}"
    wrong = {name: (documented[name], sig) for name, sig in specs.items() if documented[name] != sig}
    assert not wrong, f"documented signature != hookspecs.py (docs, code): {wrong}"
    stale = sorted(set(documented) - set(specs))
    assert not stale, f"documented hooks that hookspecs.py does not define: {stale}"


def test_every_verification_status_is_explained():
    text = (DOCS / "quickstart.rst").read_text(encoding="utf-8")
    missing = [s for s in STATUSES if f"``{s}``" not in text]
    assert not missing, f"statuses missing from docs/quickstart.rst: {missing}"


def test_constants_quoted_in_prose_match_the_code():
    import inspect as _inspect

    from sympy_series_inverse import api, parser, rank, series
    from sympy_series_inverse.backends.lookup import LookupConfig

    defaults = {k: v.default for k, v in _inspect.signature(api.series_inverse).parameters.items()}
    assert (defaults["timeout"], defaults["candidate_budget"]) == (5.0, 1.0)  # limits.rst
    assert (rank._EXTRA_TERMS, rank._SIMPLIFY_MAX_COMPLEXITY) == (8, 60)  # how-it-works.rst
    assert LookupConfig().max_results == 100  # limits.rst
    assert (series.MAX_ORDER, series.MAX_COEFFICIENT_DIGITS) == (200, 2000)  # limits.rst
    assert (parser.DEFAULT_LIMITS.max_chars, parser.DEFAULT_LIMITS.max_int_digits) == (2000, 30)  # limits.rst


# -- the CLI reference ----------------------------------------------------------------------

HELP_COLUMNS = "88"  # docs/_ext/sis_docs.py renders help texts at this width


def _cli_directives() -> list[tuple[str, dict]]:
    """(command, options) of every ``command-help`` directive in the CLI page."""
    out, current = [], None
    for line in CLI_PAGE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\.\. command-help:: (.+)$", line)
        if m:
            current = (m.group(1).strip(), {})
            out.append(current)
        elif current and (o := re.match(r"\s+:([\w-]+):\s*(.*)$", line)):
            current[1][o.group(1)] = o.group(2).strip()
        elif line and not line[0].isspace():
            current = None
    return out


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": HELP_COLUMNS}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def _help_via_command(command: str) -> subprocess.CompletedProcess:
    words = command.split()
    assert words[:2] == ["python", "-m"], command
    return _run(words[1:])


def _help_via_docs_extension(spec: str, kind: str, argv: list[str]) -> subprocess.CompletedProcess:
    # In a subprocess: the extension mocks torch while importing, which must not leak into
    # the modules this test process shares with other tests.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import sis_docs; "
        "print(sis_docs.command_help(sys.argv[2], sys.argv[3], sys.argv[4:]), end='')"
    )
    return _run(["-c", code, str(DOCS / "_ext"), spec, kind, *argv])


def test_cli_reference_covers_every_command():
    commands = {c for c, _ in _cli_directives()}
    expected = {
        "python -m sympy_series_inverse --help",
        "python -m sympy_series_inverse grammar --help",
        "python -m sympy_series_inverse.data --help",
        "python -m sympy_series_inverse.train --help",
    }
    data_help = _help_via_command("python -m sympy_series_inverse.data --help").stdout
    choices = re.findall(r"\{([\w,-]+)\}", data_help)[0]
    expected |= {f"python -m sympy_series_inverse.data {sub} --help" for sub in choices.split(",")}
    assert expected <= commands, f"missing from docs/reference/cli.rst: {sorted(expected - commands)}"


@pytest.mark.parametrize("command", [c for c, _ in _cli_directives()])
def test_cli_reference_matches_the_real_command(command):
    pytest.importorskip("sphinx", reason="the docs extension needs Sphinx")
    options = dict(_cli_directives())[command]
    module = options.get("if-present") or options["callable"].split(":")[0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not in this checkout")
    if module.endswith(".train") and importlib.util.find_spec("torch") is None:
        pytest.skip("running the trainer's --help needs torch")
    generated = _help_via_docs_extension(options["callable"], options.get("kind", "main"), command.split()[3:])
    assert generated.returncode == 0, generated.stderr
    real = _help_via_command(command)
    assert real.returncode == 0, real.stderr
    assert generated.stdout == real.stdout


# -- the pages' examples --------------------------------------------------------------------

_TESTED = re.compile(r"\.\. (doctest|testcode|testoutput|code-block|code|literalinclude|plot)::")


def test_no_untested_doctest_blocks():
    """A bare ``>>>`` paragraph would be shown but never run (the doctest builder only runs
    ``.. doctest::`` blocks here); examples must be tested or explicitly a code block."""
    bad = []
    for page in sorted(DOCS.rglob("*.rst")):
        if "_build" in page.parts:
            continue
        in_block, indent = False, 0
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            stripped = line.lstrip()
            width = len(line) - len(stripped)
            if stripped.startswith(".. "):
                in_block, indent = bool(_TESTED.match(stripped)), width
            elif stripped and width <= indent and not stripped.startswith(":"):
                in_block = False
            if stripped.startswith(">>>") and not in_block:
                bad.append(f"{page.relative_to(ROOT)}:{number}")
    assert not bad, f"bare >>> examples (use .. doctest::): {bad}"


# -- the builds -----------------------------------------------------------------------------


def _sphinx(builder: str, out: Path, cache: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("sphinx")
    pytest.importorskip("furo")
    pytest.importorskip("matplotlib")  # the plot directive of the plotting tutorial
    env = {**os.environ, "SYMPY_SERIES_INVERSE_CACHE": str(cache), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, str(DOCS), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


def test_html_build_has_no_warnings(tmp_path):
    done = _sphinx("html", tmp_path / "html", tmp_path / "cache")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    hooks = (tmp_path / "html" / "reference" / "hooks.html").read_text(encoding="utf-8")
    for name in _hookspecs():
        assert f'id="sympy_series_inverse.hookspecs.{name}"' in hooks
    cli = (tmp_path / "html" / "reference" / "cli.html").read_text(encoding="utf-8")
    assert "--holdout" in cli and "--write-snapshot" in cli and "--fractions" in cli


def test_doctests_pass(tmp_path):
    done = _sphinx("doctest", tmp_path / "doctest", tmp_path / "cache")
    report = (tmp_path / "doctest" / "output.txt")
    detail = report.read_text(encoding="utf-8")[-5000:] if report.exists() else ""
    assert done.returncode == 0, detail + done.stderr[-3000:]
    assert re.search(r"0 failures in tests", detail), detail

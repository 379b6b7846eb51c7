"""Local Sphinx directives for the sympy_series_inverse docs (no network, no external tools).

``.. command-help:: python -m sympy_series_inverse grammar --help``
    Runs the command's argparse parser *in this process* and shows its help text, so the
    CLI reference is generated from the parsers and cannot drift. Options:
    ``:callable: module:function`` (required) and ``:kind:`` ``parser`` (the callable
    returns an ``ArgumentParser``) or ``main`` (the callable takes ``argv``; the directive
    passes the words after the module name and catches ``SystemExit``). torch, safetensors
    and tqdm are mocked while importing when they are not installed, so the trainer's help
    builds without them. With
    ``:if-present: module.name``, the directive's content is shown instead when that module
    is not in this checkout.

``.. optional-automodule:: module.name``
    ``automodule`` with ``:members:`` when the module exists in this checkout; otherwise the
    directive's content is shown instead (for modules that other work adds later).

``.. include-matching:: pattern``
    Every file matching ``pattern`` (a glob relative to the repository root), each under
    its path as a rubric, as a literal block (``:language:``, default ``markdown``). When
    nothing matches, the directive's content is shown instead.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import shlex
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.ext.autodoc.mock import mock
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
# Only what is missing: a mocked torch left in sys.modules would break the doctests that
# load the shipped bundles.
MOCKED = [m for m in ("torch", "safetensors", "tqdm") if importlib.util.find_spec(m) is None]
HELP_COLUMNS = "88"


def _resolve(spec: str):
    module_name, _, attr = spec.partition(":")
    with mock(MOCKED):
        module = importlib.import_module(module_name)
    return getattr(module, attr)


def command_help(spec: str, kind: str, argv: list[str]) -> str:
    """The help text ``command`` prints, computed in-process."""
    func = _resolve(spec)
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        if kind == "parser":
            return func().format_help()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                func(argv)
            except SystemExit:
                pass
        return out.getvalue()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _present(module: str) -> bool:
    try:
        with mock(MOCKED):
            return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _parse_content(directive: SphinxDirective, lines) -> list:
    container = nodes.container()
    directive.state.nested_parse(StringList(list(lines), source=directive.get_source_info()[0]), directive.content_offset, container)
    return container.children


class CommandHelp(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {
        "callable": directives.unchanged_required,
        "kind": lambda arg: directives.choice(arg, ("parser", "main")),
        "if-present": directives.unchanged_required,
    }

    def run(self):
        if "if-present" in self.options and not _present(self.options["if-present"]):
            return _parse_content(self, self.content)
        command = self.arguments[0]
        words = shlex.split(command)
        argv = words[3:]  # for main(): the words after ``python -m package.module``
        spec = self.options["callable"]
        kind = self.options.get("kind", "main")
        try:
            text = command_help(spec, kind, argv)
        except Exception as e:  # noqa: BLE001 - reported as a build warning (an error with -W)
            raise self.error(f"command-help: {command!r} failed: {e!r}") from e
        if not text.strip():
            raise self.error(f"command-help: {command!r} printed nothing")
        block = nodes.literal_block(text=f"$ {command}\n{text.rstrip()}")
        block["language"] = "text"
        return [block]


class OptionalAutomodule(SphinxDirective):
    required_arguments = 1
    has_content = True

    def run(self):
        name = self.arguments[0]
        lines = [f".. automodule:: {name}", "   :members:", ""] if _present(name) else self.content
        return _parse_content(self, lines)


class IncludeMatching(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {"language": directives.unchanged}

    def run(self):
        pattern = self.arguments[0]
        files = sorted(p for p in ROOT.glob(pattern) if p.is_file())
        if not files:
            return _parse_content(self, self.content)
        out = []
        for path in files:
            self.env.note_dependency(str(path))
            out.append(nodes.rubric(text=str(path.relative_to(ROOT))))
            block = nodes.literal_block(text=path.read_text(encoding="utf-8"))
            block["language"] = self.options.get("language", "markdown")
            out.append(block)
        return out


def setup(app):
    app.add_directive("command-help", CommandHelp)
    app.add_directive("optional-automodule", OptionalAutomodule)
    app.add_directive("include-matching", IncludeMatching)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

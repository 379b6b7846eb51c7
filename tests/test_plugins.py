"""The registry: built-ins through the hooks, real entry points, and broken plugins."""

import importlib
import inspect
import sys
import textwrap
import warnings

import pytest
from sympy import sinh, symbols, tan

from sympy_series_inverse import RegistryError, hookimpl, hookspecs, plugins, series_inverse
from sympy_series_inverse.plugins import PluginWarning

x = symbols("x")

TINY_GRAMMAR = """
[grammar]
name = "{name}"
version = "1"

[terms]
base = ["x", "tan(x)", "sinh(x)"]
count = [1, 2]

[construction]
rule = "left-fold"
operators = ["add", "mul"]
simplify = "expand"
"""


def test_builtins_are_registered_through_the_hooks():
    assert "paper" in plugins.names("grammar")
    assert {"lookup", "default"} <= set(plugins.names("model"))
    assert "lookup" in plugins.names("backend")
    assert plugins.origin("grammar", "paper") == "sympy_series_inverse.default_plugins"


def test_unknown_names_list_the_known_ones():
    with pytest.raises(RegistryError, match="known models: .*default"):
        plugins.get("model", "nope")
    with pytest.raises(RegistryError, match="unknown component kind"):
        plugins.names("widgets")
    with pytest.raises(RegistryError, match="lookup"):
        series_inverse(x + x**2, model="nope")


def test_every_hook_has_a_kind():
    specs = {name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")}
    assert specs == set(plugins.KINDS.values())


class _GrammarPlugin:
    def __init__(self, name, path):
        self.name, self.path = name, path

    @hookimpl
    def register_grammars(self, register):
        register(self.name, self.path)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_programmatic_plugin_is_used_then_removed(isolated_cache):
    path = isolated_cache / "tiny.toml"
    path.write_text(TINY_GRAMMAR.format(name="tiny"))
    name = plugins.register_plugin(_GrammarPlugin("tiny", path))
    try:
        found = series_inverse(tan(x) * sinh(x), n=8, details=True)
        assert found[0].expr == tan(x) * sinh(x)
        assert found[0].source == "lookup[tiny]"
        assert series_inverse(tan(x) * sinh(x), n=8, grammar="paper") == []
    finally:
        plugins.unregister_plugin(name)
    assert "tiny" not in plugins.names("grammar")


def test_duplicate_names_are_rejected():
    with pytest.raises(RegistryError, match="duplicate grammar name 'paper'"):
        plugins.register_plugin(_GrammarPlugin("paper", "whatever.toml"))
    assert plugins.origin("grammar", "paper") == "sympy_series_inverse.default_plugins"


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def register_grammer(self, register):  # noqa: D401 - deliberate typo
            pass

    with pytest.raises(Exception, match="register_grammer"):
        plugins.register_plugin(Misspelt())
    assert "paper" in plugins.names("grammar")


def _install_dist(root, dist, module, body, group_entries):
    """A throwaway installed distribution: a module plus a dist-info with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sympy_series_inverse]\n" + group_entries + "\n")


@pytest.fixture
def site(isolated_cache, monkeypatch):
    root = isolated_cache / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    plugins.reload()
    yield root
    monkeypatch.undo()
    for module in [m for m in sys.modules if m.startswith("ssi_test_")]:
        del sys.modules[module]
    importlib.invalidate_caches()
    plugins.reload()


def test_entry_point_plugin_registers_a_grammar_used_by_series_inverse(site):
    (site / "ssi_test_grammar.toml").write_text(TINY_GRAMMAR.format(name="entry-tiny"))
    _install_dist(
        site,
        "ssi_test_grammar",
        "ssi_test_grammar",
        """
        from pathlib import Path
        from sympy_series_inverse import hookimpl

        @hookimpl
        def register_grammars(register):
            register("entry-tiny", Path(__file__).with_name("ssi_test_grammar.toml"))
        """,
        "tiny = ssi_test_grammar",
    )
    plugins.reload()
    assert plugins.origin("grammar", "entry-tiny") == "entry-point:tiny"
    found = series_inverse(tan(x) + sinh(x), n=8, details=True)
    assert found[0].expr == tan(x) + sinh(x) and found[0].source == "lookup[entry-tiny]"


def test_broken_plugins_are_reported_and_skipped(site):
    _install_dist(site, "ssi_test_broken_import", "ssi_test_broken_import", "raise RuntimeError('boom at import')", "broken = ssi_test_broken_import")
    _install_dist(
        site,
        "ssi_test_broken_register",
        "ssi_test_broken_register",
        """
        from sympy_series_inverse import hookimpl

        @hookimpl
        def register_grammars(register):
            raise RuntimeError("boom in register")
        """,
        "raises = ssi_test_broken_register",
    )
    _install_dist(
        site,
        "ssi_test_dup",
        "ssi_test_dup",
        """
        from sympy_series_inverse import hookimpl

        @hookimpl
        def register_models(register):
            register("default", object)
        """,
        "dup = ssi_test_dup",
    )
    _install_dist(site, "ssi_test_missing", "ssi_test_missing", "", "missing = ssi_test_no_such_module")
    plugins.reload()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "paper" in plugins.names("grammar")
        assert series_inverse(x + x**2 + x**3 / 2 + x**4 / 6, n=5)[0] == x * __import__("sympy").exp(x)
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert any("boom at import" in m for m in messages)
    assert any("boom in register" in m for m in messages), messages
    assert any("duplicate model name 'default'" in m for m in messages)
    assert any("ssi_test_no_such_module" in m for m in messages)

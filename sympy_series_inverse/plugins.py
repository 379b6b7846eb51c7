"""The plugin manager and the registries of named components it fills.

Loading is lazy (nothing happens at ``import sympy_series_inverse``) and fault tolerant:
a third-party plugin that fails to import, names an unknown hook, or raises while
registering is reported with a :class:`PluginWarning` and skipped; the rest keeps working.
Built-in components are registered through the very same hooks.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from importlib.metadata import entry_points
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import RegistryError

__all__ = ["PluginWarning", "KINDS", "get", "names", "origin", "register_plugin", "unregister_plugin", "reload", "plugin_manager"]

#: component kind -> the hook that registers it
KINDS = {
    "grammar": "register_grammars",
    "tokenizer": "register_tokenizers",
    "backend": "register_backends",
    "model": "register_models",
}
_BUILTINS = ("sympy_series_inverse.default_plugins",)


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded or registered; it was skipped."""


class _State:
    def __init__(self):
        self.lock = threading.RLock()
        self.pm: pluggy.PluginManager | None = None
        self.tables: dict[str, dict[str, tuple[Any, str]]] | None = None
        self.instances: dict[tuple[str, str], Any] = {}
        self.strict: set[str] = set(_BUILTINS)  # plugins whose errors are raised, not warned


_state = _State()


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module in _BUILTINS:
        pm.register(importlib.import_module(module), name=module)
    pm.check_pending()  # a misspelt built-in hook is our bug: fail loudly
    for ep in entry_points(group=hookspecs.PROJECT):
        plugin = None
        try:
            plugin = ep.load()
            pm.register(plugin, name=f"entry-point:{ep.name}")
            _check_hooks(pm, plugin)
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break the package
            if plugin is not None and pm.is_registered(plugin):
                pm.unregister(plugin)
            warnings.warn(PluginWarning(f"skipped plugin {ep.name!r} ({ep.value}): {e!r}"), stacklevel=3)
    return pm


def _check_hooks(pm: pluggy.PluginManager, plugin) -> None:
    for impl in pm.get_hookcallers(plugin) or []:
        if not impl.has_spec():
            raise RegistryError(f"unknown hook {impl.name!r}; known: {', '.join(KINDS.values())}")
    unknown = [
        name for name in dir(plugin)
        if name.startswith("register_") and name not in KINDS.values() and callable(getattr(plugin, name))
    ]
    if unknown:
        raise RegistryError(f"unknown hook {unknown[0]!r}; known: {', '.join(KINDS.values())}")


def plugin_manager() -> pluggy.PluginManager:
    """The package's pluggy manager, created (and plugins loaded) on first use."""
    with _state.lock:
        if _state.pm is None:
            _state.pm = _new_manager()
        return _state.pm


def _collect(kind: str) -> dict[str, tuple[Any, str]]:
    pm = plugin_manager()
    table: dict[str, tuple[Any, str]] = {}
    for impl in getattr(pm.hook, KINDS[kind]).get_hookimpls():  # registration order: built-ins first
        plugin_name = impl.plugin_name
        pending: dict[str, Any] = {}

        def register(name: str, component: Any, _pending=pending, _plugin=plugin_name) -> None:
            if not isinstance(name, str) or not name:
                raise RegistryError(f"{kind} names must be non-empty strings, got {name!r}")
            if name in table or name in _pending:
                owner = table[name][1] if name in table else _plugin
                raise RegistryError(f"duplicate {kind} name {name!r}: already registered by {owner}")
            _pending[name] = component

        try:
            impl.function(register=register)
        except Exception as e:  # noqa: BLE001
            if plugin_name in _state.strict:
                raise
            warnings.warn(PluginWarning(f"plugin {plugin_name!r} failed to register {kind}s: {e}"), stacklevel=4)
            continue
        table.update({name: (component, plugin_name) for name, component in pending.items()})
    return table


def _tables() -> dict[str, dict[str, tuple[Any, str]]]:
    with _state.lock:
        if _state.tables is None:
            _state.tables = {kind: _collect(kind) for kind in KINDS}
        return _state.tables


def names(kind: str) -> list[str]:
    """Sorted names of the registered components of ``kind``."""
    if kind not in KINDS:
        raise RegistryError(f"unknown component kind {kind!r}; known: {', '.join(KINDS)}")
    return sorted(_tables()[kind])


def get(kind: str, name: str, build: Callable[[Any], Any] | None = None) -> Any:
    """The component ``name`` of ``kind``; ``build`` turns the registered object into the
    usable one once (the result is cached, so a model loads once per process)."""
    table = _tables()[kind] if kind in KINDS else names(kind)
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise RegistryError(f"unknown {kind} {name!r}; known {kind}s: {known}")
    if build is None:
        return table[name][0]
    key = (kind, name)
    with _state.lock:
        if key not in _state.instances:
            _state.instances[key] = build(table[name][0])
        return _state.instances[key]


def origin(kind: str, name: str) -> str:
    """Which plugin registered the component."""
    get(kind, name)
    return _tables()[kind][name][1]


def _reset() -> None:
    _state.tables = None
    _state.instances.clear()


def register_plugin(plugin, name: str | None = None) -> str:
    """Register a plugin object programmatically (notebooks, tests); errors are raised,
    not downgraded to warnings. Returns the name to pass to :func:`unregister_plugin`."""
    with _state.lock:
        pm = plugin_manager()
        registered = pm.register(plugin, name=name)
        _state.strict.add(registered)
        try:
            _check_hooks(pm, plugin)
            _reset()
            _tables()
        except Exception:
            pm.unregister(plugin)
            _state.strict.discard(registered)
            _reset()
            raise
        return registered


def unregister_plugin(name_or_plugin) -> None:
    """Undo :func:`register_plugin`."""
    with _state.lock:
        pm = plugin_manager()
        if isinstance(name_or_plugin, str):
            pm.unregister(name=name_or_plugin)
        else:
            pm.unregister(name_or_plugin)
        _reset()


def reload() -> None:
    """Forget every plugin and load them again (after installing a plugin package)."""
    with _state.lock:
        _state.pm = None
        _reset()

"""Plugin hooks: one ``register_<things>(register)`` hook per component type.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`, exposed
through the entry-point group ``sympy_series_inverse``::

    # pyproject.toml of a plugin package
    [project.entry-points.sympy_series_inverse]
    my_grammar = "my_package.plugin"

    # my_package/plugin.py
    from sympy_series_inverse import hookimpl

    @hookimpl
    def register_grammars(register):
        register("my-grammar", Path(__file__).with_name("my.toml"))

Each ``register(name, component)`` call adds one named component; a name used twice is an
error. Built-in components are registered through these same hooks.
"""

from __future__ import annotations

import pluggy

PROJECT = "sympy_series_inverse"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_grammars(register):
    """Register grammars.

    ``register(name, grammar)`` where ``grammar`` is a
    :class:`~sympy_series_inverse.grammar.Grammar`, a path to a grammar file, or a
    zero-argument callable returning a Grammar (called on first use).
    """


@hookspec
def register_tokenizers(register):
    """Register tokenizers.

    ``register(name, factory)`` where ``factory(vocab=None)`` returns a tokenizer (with
    ``encode_series``, ``encode_function``, ``decode_function``, ``notation`` and
    ``vocab``); ``vocab`` is the bundle's saved vocabulary, ``None`` for the default.
    """


@hookspec
def register_backends(register):
    """Register backend types.

    ``register(name, factory)`` where ``factory()`` (called once, on first use) returns
    either a proposer class (instances have ``propose(series, *, beam_size, grammars=None,
    deadline=None)`` returning :class:`~sympy_series_inverse.backends.base.Proposal`
    objects), or a :class:`~sympy_series_inverse.pretrained.NeuralArchitecture` (config
    dataclass + module class with the decode-step protocol) that pretrained bundles name
    in their ``config.json``.
    """


@hookspec
def register_models(register):
    """Register ready-to-use models (what ``series_inverse(..., model=NAME)`` runs).

    ``register(name, factory)`` where ``factory()`` returns a backend object (see
    :func:`register_backends`), built on first use and then cached.
    """

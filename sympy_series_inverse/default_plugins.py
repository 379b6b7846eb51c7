"""The built-in components, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from .hookspecs import hookimpl
from .resources import data_dir


@hookimpl
def register_grammars(register):
    # Every grammar file shipped in grammars/ is registered under its file stem.
    for path in sorted(data_dir("grammars").glob("*.toml")):
        register(path.stem, path)


@hookimpl
def register_backends(register):
    from .backends.lookup import LookupBackend

    register("lookup", LookupBackend)


@hookimpl
def register_models(register):
    from .backends.lookup import LookupBackend

    register("lookup", LookupBackend)
    # The default combines every proposer the package ships; for now table lookup over the
    # finite grammars. Neural bundles join it as they are trained.
    register("default", LookupBackend)

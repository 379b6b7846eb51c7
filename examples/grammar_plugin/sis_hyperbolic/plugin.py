"""The plugin module named by the entry point.

sympy_series_inverse loads this module the first time its registry is used and calls each
``@hookimpl`` function with a ``register(name, component)`` function. From then on the
grammar is available by name: ``series_inverse(..., grammar="hyperbolic")``.
"""

from pathlib import Path

from sympy_series_inverse import hookimpl

HERE = Path(__file__).resolve().parent
GRAMMAR_FILE = HERE / "hyperbolic.toml"


@hookimpl
def register_grammars(register):
    # A path is loaded on first use; a Grammar object, or a zero-argument callable
    # returning one, would do as well.
    register("hyperbolic", GRAMMAR_FILE)


def _neural_model(bundle: Path):
    def build():
        # Imported on first use only: torch loads when the model is first asked for.
        from sympy_series_inverse.backends.neural import NeuralBackend

        return NeuralBackend(bundle)

    return build


@hookimpl
def register_models(register):
    # Optional: every pretrained bundle folder shipped inside this package (a folder with
    # a config.json, written by `python -m sympy_series_inverse.train --out ...`) becomes
    # a model named after its folder: series_inverse(..., model="<folder name>").
    for config in sorted(HERE.glob("*/config.json")):
        register(config.parent.name, _neural_model(config.parent))

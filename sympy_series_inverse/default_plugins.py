"""The built-in components, registered through the same hooks as any third-party plugin.

Neural components import torch only when first built.
"""

from __future__ import annotations

import warnings

from .hookspecs import hookimpl
from .resources import data_dir


@hookimpl
def register_grammars(register):
    # Every grammar file shipped in grammars/ is registered under its file stem.
    for path in sorted(data_dir("grammars").glob("*.toml")):
        register(path.stem, path)


@hookimpl
def register_tokenizers(register):
    from .tokenizers import PaperTokenizer, PrefixTokenizer

    register("paper", PaperTokenizer)
    register("prefix", PrefixTokenizer)


def _lstm():
    from .backends.lstm import LSTMConfig, LSTMSeq2Seq
    from .pretrained import NeuralArchitecture

    return NeuralArchitecture(LSTMConfig, LSTMSeq2Seq)


def _lstm_attention():
    from .backends.lstm_attention import LSTMAttentionConfig, LSTMAttentionSeq2Seq
    from .pretrained import NeuralArchitecture

    return NeuralArchitecture(LSTMAttentionConfig, LSTMAttentionSeq2Seq)


def _lookup():
    from .backends.lookup import LookupBackend

    return LookupBackend


@hookimpl
def register_backends(register):
    register("lookup", _lookup)
    register("lstm", _lstm)
    register("lstm-attention", _lstm_attention)


def _bundle_model(path):
    def build():
        from .backends.neural import NeuralBackend

        return NeuralBackend(path)

    return build


def _default_model():
    from .backends.base import CompositeBackend
    from .backends.lookup import LookupBackend
    from .pretrained import shipped_bundles

    members = [LookupBackend()]
    bundles = shipped_bundles()
    if bundles:
        try:
            from .backends.neural import NeuralBackend

            members += [NeuralBackend(path) for path in bundles]
        except ImportError as e:
            warnings.warn(f"neural proposals are off ({e}); install sympy_series_inverse[neural]", stacklevel=2)
    return CompositeBackend(members, name="default")


@hookimpl
def register_models(register):
    from .backends.lookup import LookupBackend
    from .pretrained import shipped_bundles

    register("lookup", LookupBackend)
    for path in shipped_bundles():
        register(path.name, _bundle_model(path))
    # The default combines every proposer the package ships under one verifier.
    register("default", _default_model)

"""Pretrained bundles: self-describing folders, loaded without ever unpickling.

::

    pretrained/<name>/
      config.json        format, backend, model sizes, tokenizer, grammar name/version/digest,
                         training data manifest hash, decoding defaults
      vocab.json         the tokenizer's vocabulary
      model.safetensors  the weights
      README.md          the model card
      metrics.json       the numbers the model card quotes

Every problem (a missing or corrupt file, mismatched shapes, an unknown backend, tokenizer
or grammar) is a :class:`~sympy_series_inverse.errors.BundleError` naming the bundle and
what is wrong. Loading needs torch and safetensors (the ``neural`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plugins
from .errors import BundleError, RegistryError, SeriesInverseError
from .resources import data_dir
from .tokenizers import Vocab

__all__ = ["BUNDLE_FORMAT", "BUNDLE_FILES", "NeuralArchitecture", "Bundle", "load_bundle", "save_bundle", "shipped_bundles"]

BUNDLE_FORMAT = 1
BUNDLE_FILES = ("config.json", "vocab.json", "model.safetensors", "README.md", "metrics.json")
_REQUIRED = ("format", "name", "backend", "model", "tokenizer", "grammar", "grammar_version")


@dataclass(frozen=True)
class NeuralArchitecture:
    """What a neural backend registers: its config dataclass and its module class."""

    config_class: type
    module_class: type


@dataclass
class Bundle:
    """A loaded bundle: ``module`` is the network in eval mode."""

    path: Path
    config: dict
    vocab: Vocab
    module: Any
    metrics: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config["name"]


def shipped_bundles() -> list[Path]:
    """Bundle folders shipped in ``pretrained/`` (those with a config.json)."""
    return sorted(p.parent for p in data_dir("pretrained").glob("*/config.json"))


def _read_json(path: Path, bundle: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise BundleError(f"bundle {bundle!r}: {path.name} is missing") from e
    except (OSError, ValueError) as e:
        raise BundleError(f"bundle {bundle!r}: {path.name} is not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise BundleError(f"bundle {bundle!r}: {path.name} must hold a JSON object")
    return data


def architecture(name: str) -> NeuralArchitecture:
    """The registered neural backend ``name``."""
    spec = plugins.get("backend", name, build=lambda factory: factory())
    if not isinstance(spec, NeuralArchitecture):
        raise RegistryError(f"backend {name!r} is not a neural architecture")
    return spec


def load_bundle(path: str | Path, *, device: str = "cpu") -> Bundle:
    """Load and check a bundle folder; see the module docstring."""
    path = Path(path)
    label = path.name
    if not path.is_dir():
        raise BundleError(f"bundle {label!r}: no such folder {path}")
    config = _read_json(path / "config.json", label)
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise BundleError(f"bundle {label!r}: config.json lacks {', '.join(missing)}")
    if config["format"] != BUNDLE_FORMAT:
        raise BundleError(f"bundle {label!r}: format {config['format']!r} is not {BUNDLE_FORMAT}; upgrade the package")
    try:
        arch = architecture(config["backend"])
        plugins.get("tokenizer", config["tokenizer"])
        from .grammar import get_grammar

        grammar = get_grammar(config["grammar"])
    except SeriesInverseError as e:
        raise BundleError(f"bundle {label!r}: {e}") from e
    if str(grammar.version) != str(config["grammar_version"]):
        raise BundleError(
            f"bundle {label!r} was trained on grammar {grammar.name!r} version {config['grammar_version']}, "
            f"but version {grammar.version} is installed; retrain it"
        )
    vocab = Vocab.load(path / "vocab.json") if (path / "vocab.json").exists() else None
    if vocab is None:
        raise BundleError(f"bundle {label!r}: vocab.json is missing")
    try:
        model_config = arch.config_class(**config["model"])
    except TypeError as e:
        raise BundleError(f"bundle {label!r}: model settings do not fit backend {config['backend']!r} ({e})") from e
    if getattr(model_config, "vocab_size", len(vocab)) != len(vocab):
        raise BundleError(f"bundle {label!r}: vocab_size {model_config.vocab_size} != {len(vocab)} tokens in vocab.json")
    module = arch.module_class(model_config)
    _load_weights(module, path / "model.safetensors", label, device)
    metrics_path = path / "metrics.json"
    metrics = _read_json(metrics_path, label) if metrics_path.exists() else {}
    return Bundle(path, config, vocab, module, metrics)


def _load_weights(module, path: Path, label: str, device: str) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise BundleError(f"bundle {label!r}: model.safetensors is missing")
    try:
        state = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise BundleError(f"bundle {label!r}: model.safetensors is corrupt or truncated ({e})") from e
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise BundleError(f"bundle {label!r}: weights do not match the configured model ({e})") from e
    module.to(device)
    module.eval()


def save_bundle(path: str | Path, config: dict, vocab: Vocab, module, *, metrics: dict, card: str) -> Path:
    """Write a complete bundle folder (config, vocab, weights, model card, metrics)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {"format": BUNDLE_FORMAT, **config}
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise BundleError(f"bundle {path.name!r}: config lacks {', '.join(missing)}")
    (path / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    vocab.save(path / "vocab.json")
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    (path / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    (path / "README.md").write_text(card, encoding="utf-8")
    return path

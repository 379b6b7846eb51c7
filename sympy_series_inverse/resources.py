"""Find the shipped data folders (``grammars/``, ``pretrained/``) wherever the package runs.

In a plain checkout or an editable install the folders sit at the repository's top level,
beside the package. A wheel carries them inside the package as ``_data/<name>`` (see
``pyproject.toml``). One function hides the difference.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "cache_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_KNOWN = ("grammars", "pretrained")


def data_dir(name: str) -> Path:
    """Path of the shipped data folder ``name`` (``"grammars"`` or ``"pretrained"``).

    Looks inside the installed package first (wheel layout), then beside it (checkout or
    editable install).

    Raises:
        ValueError: ``name`` is not a shipped data folder.
        FileNotFoundError: the folder is in neither place (a broken install).
    """
    if name not in _KNOWN:
        raise ValueError(f"unknown data folder {name!r}; known: {', '.join(_KNOWN)}")
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"data folder {name!r} not found in {_PACKAGE_DIR / '_data'} nor beside the package; "
        "reinstall sympy_series_inverse"
    )


def cache_dir() -> Path:
    """Writable folder for derived data (lookup tables), created on demand.

    ``$SYMPY_SERIES_INVERSE_CACHE`` wins, then ``$XDG_CACHE_HOME/sympy_series_inverse``,
    then ``~/.cache/sympy_series_inverse``.
    """
    env = os.environ.get("SYMPY_SERIES_INVERSE_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "sympy_series_inverse"
    path.mkdir(parents=True, exist_ok=True)
    return path

"""The data folders are found in a wheel install, an editable install and a plain checkout."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import sympy_series_inverse
from sympy_series_inverse.resources import cache_dir, data_dir

ROOT = Path(__file__).resolve().parents[1]
PROBE = "from sympy_series_inverse.resources import data_dir; print(data_dir('grammars')); print(data_dir('pretrained'))"


def _probe(env_path: str, cwd: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": env_path}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=cwd, env=env, check=True)
    return out.stdout.split()


def test_data_dir_in_this_checkout():
    assert data_dir("grammars") == ROOT / "grammars"
    assert (data_dir("grammars") / "paper.toml").is_file()
    assert data_dir("pretrained").is_dir()
    with pytest.raises(ValueError, match="known"):
        data_dir("secrets")


def test_plain_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    for name in ("sympy_series_inverse", "grammars", "pretrained"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    found = _probe(str(checkout), tmp_path)
    assert found == [str(checkout / "grammars"), str(checkout / "pretrained")]


def test_installed_package_is_the_editable_checkout_or_a_wheel():
    # However the test environment was installed, the finder agrees with the package.
    package = Path(sympy_series_inverse.__file__).resolve().parent
    assert data_dir("grammars") in (package / "_data" / "grammars", package.parent / "grammars")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("*.whl")
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "sympy_series_inverse/__init__.py" in names
    assert "sympy_series_inverse/_data/grammars/paper.toml" in names
    assert "sympy_series_inverse/_data/grammars/paper.functions.json" in names
    assert any(n.startswith("sympy_series_inverse/_data/pretrained/") for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_install_finds_its_data(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = _probe(str(site), tmp_path)
    assert found == [str(site / "sympy_series_inverse/_data/grammars"), str(site / "sympy_series_inverse/_data/pretrained")]


def test_cache_dir_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMPY_SERIES_INVERSE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and cache_dir().is_dir()


def test_import_does_not_import_torch():
    code = "import sys, sympy_series_inverse; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

"""plot_candidates: the lines it draws, on the Agg backend (no display)."""

import subprocess
import sys

import pytest
from sympy import O, Rational, cos, exp, sin, symbols

from sympy_series_inverse import normalize, series_inverse

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
np = pytest.importorskip("numpy")

from matplotlib import pyplot as plt  # noqa: E402

from sympy_series_inverse.plot import POINTS, plot_candidates  # noqa: E402

x = symbols("x")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def test_true_function_candidates_then_taylor_polynomial():
    series = x**3 + O(x**5)
    found = series_inverse(series, details=True)[:3]
    ax = plot_candidates(series, found, true_function=x**3 * cos(x))
    assert _labels(ax) == ["true: x**3*cos(x)", "x**3", "x**2*sin(x)", "x**3*cos(x)", "Taylor polynomial, O(x**5)"]
    lines = ax.get_lines()
    xs, ys = lines[0].get_data()
    assert len(xs) == POINTS and xs[0] == -1.0 and xs[-1] == 1.0
    assert np.allclose(ys, xs**3 * np.cos(xs))
    taylor = lines[-1]
    assert taylor.get_linestyle() == "--"
    assert np.allclose(taylor.get_ydata(), xs**3)
    assert ax.get_xlim() == (-1.0, 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == _labels(ax)


def test_bare_expressions_strings_and_no_true_function():
    ax = plot_candidates("1 - x**2/2 + O(x**4)", [cos(x), "1/(1 + x**2/2)"], width=0.5)
    assert _labels(ax) == ["cos(x)", "1/(x**2/2 + 1)", "Taylor polynomial, O(x**4)"]
    assert ax.get_xlim() == (-0.5, 0.5)


def test_other_expansion_point_and_given_axes():
    _, ax = plt.subplots()
    data = normalize([exp(2), exp(2), exp(2) / 2], x0=2)  # exp(x) about x0 = 2, three terms
    out = plot_candidates(data, [exp(x)], true_function=exp(x), ax=ax, width=0.25)
    assert out is ax
    xs, ys = ax.get_lines()[1].get_data()
    assert xs[0] == pytest.approx(1.75) and xs[-1] == pytest.approx(2.25)
    assert np.allclose(ys, np.exp(xs))
    assert _labels(ax)[-1] == "Taylor polynomial, O((x - 2)**3, (x, 2))"


def test_poles_become_gaps_and_do_not_set_the_range():
    ax = plot_candidates(x + O(x**3), [sin(x), x / (1 - 4 * x**2)])
    ys = ax.get_lines()[1].get_ydata()
    assert np.isnan(ys).sum() <= 2  # 1/(1 - 4x^2) blows up near x = +-1/2; the rest is drawn
    low, high = ax.get_ylim()
    assert -2 < low < 0 < high < 2  # set by the Taylor polynomial x on [-1, 1], not the pole


def test_unparsable_candidates_are_skipped_and_width_checked():
    found = series_inverse(x - x**3 / 6 + O(x**5), details=True, verified_only=False)
    ax = plot_candidates(x - x**3 / 6 + O(x**5), found[:1] + [type(found[0])(None, False, 0, None, 0.0, 0, "fake", "parse-error")])
    assert _labels(ax) == ["sin(x)", "Taylor polynomial, O(x**5)"]
    for bad in (0, -1, float("nan"), True):
        with pytest.raises(ValueError, match="width"):
            plot_candidates(x + O(x**2), [], width=bad)


def test_constant_candidate_is_a_flat_line():
    ax = plot_candidates([Rational(1, 2)], [Rational(1, 2)])
    assert np.allclose(ax.get_lines()[0].get_ydata(), 0.5)


def test_import_does_not_import_matplotlib():
    code = "import sys, sympy_series_inverse.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

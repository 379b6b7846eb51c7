"""Example grammar plugin for sympy_series_inverse (see ``plugin.py``)."""

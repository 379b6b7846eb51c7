"""Benchmark suites, the runner that scores every method with the same verifier, reports
and speed measurements for sympy_series_inverse.

    python -m benchmarks list | make-suites | run | report | speed

See ``benchmarks/README.md``. The standalone scripts beside this file
(``python benchmarks/engine_speed.py`` and the others) keep their command lines; ``speed``
imports their ``measure`` functions.
"""

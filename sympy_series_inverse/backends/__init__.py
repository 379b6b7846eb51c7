"""Backends: the parts that propose candidate closed forms for a series.

Each backend module holds a config dataclass and the backend itself; every backend is
registered through the plugin hooks (``register_backends``) like a third-party one.
"""

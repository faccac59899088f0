"""The native hot-path primitives (runtime/_native.c); everything else is in pyproject.toml.

``optional``: where the extension cannot be compiled, sluice installs without it and runs
the pure-Python references instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("runtime._native", ["runtime/_native.c"], optional=True)])

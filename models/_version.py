"""The package version: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``) when the package is built or
installed, and :mod:`models` re-exports it, so ``models.__version__`` is right whether the
package is installed or used from a checkout on ``PYTHONPATH``.
"""

__version__ = "0.1.0"

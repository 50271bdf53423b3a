"""The package version, in one place (read by setuptools and re-exported)."""

__version__ = "0.1.0"

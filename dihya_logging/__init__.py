"""dihya-logging: audit-grade, privacy-first JSON logging of project generations."""

from ._version import __version__
from .schema import LOGGER_NAME

__all__ = ["LOGGER_NAME", "__version__"]

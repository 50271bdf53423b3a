"""Benchmarks of dihya-logging against its peers (``python -m benchmarks``; not part of the tests).

Every contender logs the same realistic generation event (`benchmarks.event`) end to end into a
real file, each in a fresh process (`benchmarks.runner`); `benchmarks.suite` runs them and
`benchmarks.report` prints the table and the targets of issue 6.
"""

from __future__ import annotations

__all__: list[str] = []

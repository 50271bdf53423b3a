"""``python -m dihya_logging``: the `dihya-logs` command line."""

from __future__ import annotations

import sys

from dihya_logging.cli._main import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())

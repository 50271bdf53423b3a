"""A loguru codebase logging through dihya-logging: bound fields as top-level keys, masked.

Run: ``python examples/loguru_app.py [DIRECTORY]`` (default ``logs``). loguru's messages go to
``DIRECTORY/app.log`` through `LoguruSink` and the stdlib logger ``shop``; generation events go
to ``DIRECTORY/generation.log``. Both are written by `GenerationLogHandler`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

import dihya_logging as dl
from dihya_logging.integrations.loguru import LoguruSink


def setup(directory: Path) -> None:
    """Send loguru's messages (INFO and up) into `logging`, and `logging` into dihya files."""
    dl.configure(directory / "app.log", logger_name="shop")
    dl.configure(directory / "generation.log")
    logger.remove()  # loguru's default stderr sink
    logger.add(LoguruSink("shop"), level="INFO")


def checkout(user_id: int) -> None:
    """Application code as loguru users write it."""
    log = logger.bind(request_id="req-7f3a", user_id=user_id)
    log.info("payment accepted", amount=12.5)
    log.bind(api_key="sk_live_51Habcdefghijklmnopqrstuv").success("card token stored")
    log.debug("not written: below the level")
    try:
        raise ConnectionError("postgresql://shop:hunter2-db-pass@db/shop refused")
    except ConnectionError:
        log.bind(db={"password": "hunter2-db-pass"}).exception("receipt not stored")
    dl.log_generation_event(str(user_id), {"project_name": "Shop", "stack": "backend"}, ["shop.py"])


def main(argv: list[str]) -> int:
    setup(Path(argv[0] if argv else "logs"))
    checkout(42)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A structlog codebase logging through dihya-logging: bound fields as top-level keys, masked.

Run: ``python examples/structlog_app.py [DIRECTORY]`` (default ``logs``). Application records go
to ``DIRECTORY/app.log`` through structlog, generation events to ``DIRECTORY/generation.log``;
both are written by `GenerationLogHandler` with `RedactingJsonFormatter`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import structlog

import dihya_logging as dl
from dihya_logging.integrations.structlog import render_to_log_kwargs


def setup(directory: Path) -> None:
    """Route structlog into `logging`, and `logging` into two dihya log files."""
    dl.configure(directory / "app.log", logger_name="shop")
    dl.configure(directory / "generation.log")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,  # fields bound per request
            structlog.stdlib.filter_by_level,
            render_to_log_kwargs,  # masks, then hands the event to the stdlib logger
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def checkout(user_id: int) -> None:
    """Application code as structlog users write it."""
    structlog.contextvars.bind_contextvars(request_id="req-7f3a")
    log = structlog.get_logger("shop.checkout").bind(user_id=user_id)
    log.info("payment accepted", amount=12.5, api_key="sk_live_51Habcdefghijklmnopqrstuv")
    log.debug("not written: below the level")
    try:
        raise ConnectionError("postgresql://shop:hunter2-db-pass@db/shop refused")
    except ConnectionError:
        log.exception("receipt not stored", db={"password": "hunter2-db-pass"})
    dl.log_generation_event(str(user_id), {"project_name": "Shop", "stack": "backend"}, ["shop.py"])
    structlog.contextvars.clear_contextvars()


def main(argv: list[str]) -> int:
    setup(Path(argv[0] if argv else "logs"))
    checkout(42)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Celery tasks that log generations: several worker processes, one log set.

Run a worker (or several) from examples/: ``celery -A celery_app worker --concurrency 4``, and
send tasks with ``generate.delay("user_1", {"stack": "backend"}, "req-1")``. The broker is
kombu's filesystem transport (a folder, ``CELERY_BROKER_DIR``, default ``celery-broker``), so
the example needs no server; point ``broker_url`` at Redis or RabbitMQ in production.

Celery sets up logging in each worker unless a receiver of its ``setup_logging`` signal does:
`configure_logging` attaches dihya's handler (``DIHYA_LOG_FILE``, default
``logs/generation.log``) and sends Celery's own records to stderr as redacted JSON. The pool's
processes are forked from the worker: each drops the descriptors it inherited and opens its own.
"""

from __future__ import annotations

import logging
import logging.config
import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from project_generator import GenerationFailed, generate_project

import dihya_logging as dl

BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", "celery-broker"))
for folder in ("queue", "processed"):
    (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)

app = Celery("generator")
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "polling_interval": 0.05,  # seconds between looks at the folder
    },
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    worker_enable_remote_control=False,  # the filesystem transport has no broadcast
    worker_prefetch_multiplier=1,
)


@setup_logging.connect
def configure_logging(**_: Any) -> None:
    """Celery calls this in the worker instead of configuring logging itself."""
    log_file = os.environ.get("DIHYA_LOG_FILE", "logs/generation.log")
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"dihya_json": {"()": "dihya_logging.RedactingJsonFormatter"}},
            "handlers": {
                "generation_file": {
                    "class": "dihya_logging.GenerationLogHandler",
                    "formatter": "dihya_json",
                    "filename": log_file,
                    "maxBytes": 10_485_760,
                },
                "stderr": {"class": "logging.StreamHandler", "formatter": "dihya_json"},
            },
            "root": {"level": "WARNING", "handlers": ["stderr"]},
            "loggers": {
                dl.LOGGER_NAME: {
                    "level": "INFO",
                    "handlers": ["generation_file"],
                    "propagate": False,
                },
            },
        }
    )


@app.task
def generate(user_id: str, spec: dict[str, Any], request_id: str) -> list[str]:
    """Generate a project and log the generation, with the request it came from."""
    context = {"request_id": request_id, "worker": os.getpid()}
    try:
        files = generate_project(spec)
    except GenerationFailed as exc:
        dl.log_generation_event(user_id, spec, [], status="error", error=exc, extra=context)
        return []
    dl.log_generation_event(user_id, spec, files, extra=context)
    return sorted(files)

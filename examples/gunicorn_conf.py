"""gunicorn with 4 workers writing one generation log: ``gunicorn -c gunicorn_conf.py``.

Run from examples/ (``gunicorn -c gunicorn_conf.py --chdir examples`` from the top). Logging is
configured once, by gunicorn, from ``logconfig_dict``: the generation events go to one rotating
log set shared by the workers (``DIHYA_LOG_FILE``, default ``logs/generation.log``), gunicorn's
access log to ``access.log`` beside it through the same handler class, its error log to stderr
as JSON. No ``post_fork`` hook is needed: with ``preload_app`` the handlers are made in the
master, and a forked worker drops the descriptors it inherited and opens its own; without it,
each worker configures itself.
"""

from __future__ import annotations

import os
from pathlib import Path

wsgi_app = "gunicorn_app:app"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = 4
preload_app = True

_log_file = Path(os.environ.get("DIHYA_LOG_FILE", "logs/generation.log"))
_rotation = {
    "maxBytes": int(os.environ.get("DIHYA_LOG_MAX_BYTES", 10_485_760)),
    "backupCount": 0,  # keep every rotated file (an audit log never deletes silently)
    "compress": True,
}

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"dihya_json": {"()": "dihya_logging.RedactingJsonFormatter"}},
    "handlers": {
        "generation_file": {
            "class": "dihya_logging.GenerationLogHandler",
            "formatter": "dihya_json",
            "filename": str(_log_file),
            **_rotation,
        },
        "access_file": {
            "class": "dihya_logging.GenerationLogHandler",
            "formatter": "dihya_json",
            "filename": str(_log_file.with_name("access.log")),
            **_rotation,
        },
        "stderr": {"class": "logging.StreamHandler", "formatter": "dihya_json"},
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "dihya.generation": {"level": "INFO", "handlers": ["generation_file"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_file"], "propagate": False},
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}

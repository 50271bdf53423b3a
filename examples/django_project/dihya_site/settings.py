"""Settings: the usual minimum, and ``LOGGING`` wiring dihya-logging into Django's logging."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-set-DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "dihya_site.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
USE_TZ = True

# The generation log (the audit trail) and Django's own warnings, both as redacted JSON.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"dihya_json": {"()": "dihya_logging.RedactingJsonFormatter"}},
    "handlers": {
        "generation_file": {
            "class": "dihya_logging.GenerationLogHandler",
            "formatter": "dihya_json",
            "filename": os.environ.get("DIHYA_LOG_FILE", str(BASE_DIR / "logs" / "generation.log")),
            "maxBytes": 10_485_760,
            "backupCount": 20,
            "compress": True,
        },
        "console": {"class": "logging.StreamHandler", "formatter": "dihya_json"},
    },
    "loggers": {
        "dihya.generation": {"level": "INFO", "handlers": ["generation_file"], "propagate": False},
        "django": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}

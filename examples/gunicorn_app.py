"""The smallest WSGI app for the gunicorn example: one generation event per request.

Any WSGI framework works the same way (Flask: see flask_app.py); logging is configured by
gunicorn from ``logconfig_dict`` in gunicorn_conf.py, so the app only logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, Callable

from project_generator import GenerationFailed, generate_project

import dihya_logging as dl

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """POST a JSON spec; headers X-User and X-Request-Id name the user and the request."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
    user_id = environ.get("HTTP_X_USER", "anonymous")  # your authentication here
    context = {"request_id": environ.get("HTTP_X_REQUEST_ID", ""), "worker": os.getpid()}
    try:
        files = generate_project(spec)
    except GenerationFailed as exc:
        dl.log_generation_event(user_id, spec, [], status="error", error=exc, extra=context)
        status, body = "422 Unprocessable Entity", {"error": str(exc)}
    else:
        dl.log_generation_event(user_id, spec, files, extra=context)
        status, body = "201 Created", {"files": sorted(files)}
    payload = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    start_response(status, headers)
    return [payload]

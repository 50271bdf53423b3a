"""A Flask app that logs one generation event per request, with the request's id.

Run: ``flask --app examples/flask_app.py run`` (``DIHYA_LOG_FILE`` chooses the log file,
default ``logs/generation.log``), then ``curl -X POST localhost:5000/generate -H 'X-User: u1'
-H 'Content-Type: application/json' -d '{"project_name": "Blog", "stack": "backend"}'``.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, g, request
from project_generator import GenerationFailed, generate_project

import dihya_logging as dl


def create_app(log_file: str | None = None) -> Flask:
    """The app, with dihya-logging attached once (``configure`` is idempotent)."""
    dl.configure(log_file or os.environ.get("DIHYA_LOG_FILE", "logs/generation.log"))
    app = Flask(__name__)

    @app.before_request
    def take_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex

    @app.post("/generate")
    def generate() -> tuple[dict[str, Any], int]:
        user_id = request.headers.get("X-User", "anonymous")  # your authentication here
        spec = request.get_json(force=True)
        context = {"request_id": g.request_id}
        try:
            files = generate_project(spec)
        except GenerationFailed as exc:
            dl.log_generation_event(user_id, spec, [], status="error", error=exc, extra=context)
            return {"error": str(exc)}, 422
        dl.log_generation_event(user_id, spec, files, extra=context)
        return {"files": sorted(files)}, 201

    return app


if __name__ == "__main__":
    create_app().run()

"""A FastAPI app: a middleware gives each request an id, a dependency carries it into ``extra``.

Run: ``uvicorn fastapi_app:create_app --factory --app-dir examples`` (``DIHYA_LOG_FILE``
chooses the log file, default ``logs/generation.log``). The handler runs in queue mode, so the
event loop never waits on the disk; ``logging.shutdown()`` at exit writes what is still queued.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from project_generator import GenerationFailed, generate_project

import dihya_logging as dl


def log_context(request: Request) -> dict[str, str]:
    """A dependency: what every event of this request carries as extra fields."""
    return {"request_id": request.state.request_id}


def create_app(log_file: Optional[str] = None) -> FastAPI:
    """The app, with dihya-logging attached in queue mode (``configure`` is idempotent)."""
    dl.configure(log_file or os.environ.get("DIHYA_LOG_FILE", "logs/generation.log"), queue=True)
    app = FastAPI()

    @app.middleware("http")
    async def request_id_middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        return response

    @app.post("/generate", status_code=201)
    async def generate(
        spec: dict[str, Any],
        context: Annotated[dict[str, str], Depends(log_context)],
        x_user: Annotated[str, Header()] = "anonymous",  # your authentication here
    ) -> dict[str, Any]:
        try:
            files = generate_project(spec)
        except GenerationFailed as exc:
            dl.log_generation_event(x_user, spec, [], status="error", error=exc, extra=context)
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        dl.log_generation_event(x_user, spec, files, extra=context)
        return {"files": sorted(files)}

    return app

"""The Flask and FastAPI examples, through each framework's own test client."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import dihya_logging as dl
from tests.helpers_examples import EXAMPLES, read_log

SPEC = {
    "project_name": "Blog Amazigh",
    "stack": "backend",
    "plugins": ["auth"],
    "raw_spec": "admin password hunter2-db-pass",
    "api_key": "sk_live_51Habcdefghijklmnopqrstuv",
}
BAD_SPEC = {"project_name": "Nope", "stack": "cobol", "token": "sk_live_51Habcdefghijklmnopqrstuv"}
REQUESTS = 20


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import an example module from examples/ (which imports its sibling project_generator)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    return load


def drain() -> None:
    """Close the dihya logger's handlers, as logging.shutdown does at exit (queue mode drains)."""
    logger = logging.getLogger(dl.LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def assert_one_event_per_request(log_path: Path, request_ids: list[str]) -> None:
    """Each request left exactly one event carrying its id; nothing secret was written."""
    records = read_log(log_path)
    assert sorted(r["request_id"] for r in records) == sorted(request_ids)
    ok = [r for r in records if r["status"] == "success"]
    failed = [r for r in records if r["status"] == "error"]
    assert ok and failed and len(ok) + len(failed) == len(request_ids)
    assert {r["user_id"] for r in records} == {"user_7"}
    assert ok[0]["files"] == ["README.md", "backend/app.py", "backend/requirements.txt"]
    assert ok[0]["project_name"] == "Blog Amazigh" and "raw_spec" not in ok[0]
    assert failed[0]["error"] == "GenerationFailed: unknown stack 'cobol'"
    text = b"".join(path.read_bytes() for path in log_path.parent.iterdir() if path.is_file())
    assert b"hunter2-db-pass" not in text and b"sk_live_" not in text


def test_flask_app_logs_one_event_per_request(example: Any, log_path: Path) -> None:
    """Flask's test client: success and failure each leave one event with the request id."""
    client = example("flask_app").create_app(str(log_path)).test_client()
    ids = []
    for number in range(REQUESTS):
        request_id = f"flask-{number}"
        ids.append(request_id)
        spec = BAD_SPEC if number % 4 == 0 else SPEC
        headers = {"X-User": "user_7", "X-Request-Id": request_id}
        response = client.post("/generate", json=spec, headers=headers)
        assert response.status_code == (422 if spec is BAD_SPEC else 201), response.text
    assert_one_event_per_request(log_path, ids)


def test_fastapi_app_carries_the_request_id_into_extra(example: Any, log_path: Path) -> None:
    """FastAPI's test client: the middleware's id reaches each event through the dependency."""
    from fastapi.testclient import TestClient

    ids = []
    with TestClient(example("fastapi_app").create_app(str(log_path))) as client:
        for number in range(REQUESTS):
            spec = BAD_SPEC if number % 4 == 0 else SPEC
            response = client.post("/generate", json=spec, headers={"X-User": "user_7"})
            assert response.status_code == (422 if spec is BAD_SPEC else 201), response.text
            ids.append(response.headers["X-Request-Id"])
    drain()
    assert len(set(ids)) == REQUESTS
    assert_one_event_per_request(log_path, ids)

"""The one realistic generation event every contender logs (20 files, plugins, two secrets).

`generation_input` is what the generator has (``needs``, ``code``, caller metadata) and feeds
`log_generation_event`; `flat_event` is the same logical record as a user of another library
would hand it over (``logger.info("generation", extra=event)``). `scaled_event` grows the
event x1..x16 for the redaction-scaling check. `SECRETS` must never appear in a redacted log.
Like a real generator's events, consecutive events differ: `Renewer` gives each one a new
request id (so no contender can win by caching the previous event's strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "SECRETS",
    "GenerationInput",
    "Renewer",
    "count_nodes",
    "flat_event",
    "generation_input",
    "scaled_event",
    "unique_variant",
]

SECRETS: Final = ("Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.dGVzdA", "pg-S3cr3t-hunter2")
"""The two secret values nested in the metadata; a redacting contender never writes them."""

FILES: Final = (
    "README.md",
    "LICENSE",
    ".gitignore",
    "docker-compose.yml",
    "backend/app.py",
    "backend/models.py",
    "backend/routes/auth.py",
    "backend/routes/products.py",
    "backend/routes/orders.py",
    "backend/requirements.txt",
    "backend/tests/test_api.py",
    "frontend/package.json",
    "frontend/src/App.js",
    "frontend/src/index.js",
    "frontend/src/pages/Home.js",
    "frontend/src/pages/Cart.js",
    "frontend/src/components/Navbar.js",
    "frontend/src/i18n/ber.json",
    "frontend/src/i18n/fr.json",
    "frontend/public/index.html",
)

PLUGINS: Final = ("analytics", "i18n", "payments-stripe")


@dataclass(frozen=True)
class GenerationInput:
    """Arguments of one `log_generation_event` call, built once and reused for every event."""

    user_id: str
    needs: dict[str, Any]
    code: dict[str, str]
    status: str
    error: str | None
    extra: dict[str, Any]


def _metadata(copy: int = 0) -> dict[str, Any]:
    """Nested caller metadata holding the two secrets (an auth header and a database password)."""
    suffix = "" if copy == 0 else f"-{copy}"
    return {
        "request": {
            "request_id": f"req-7f3a9c2e{suffix}",
            "client_ip": "203.0.113.42",
            "headers": {
                "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                "accept-language": "ber,fr;q=0.8,en;q=0.5",
                "Authorization": SECRETS[0],
            },
        },
        "generator": {
            "version": "2.4.1",
            "duration_ms": 1834.5,
            "options": {
                "i18n": ["ber", "fr", "en"],
                "database": {"engine": "postgresql", "host": "db.internal", "password": SECRETS[1]},
                "ci": True,
            },
        },
    }


def generation_input() -> GenerationInput:
    """The realistic event as the generator holds it (content and raw spec included)."""
    return GenerationInput(
        user_id="user_123",
        needs={
            "project_name": "Blog Amazigh",
            "stack": "fullstack",
            "plugins": list(PLUGINS),
            "template": "e-commerce",
            "raw_spec": "Build me a shop for Amazigh crafts with payments, in ber/fr/en ...",
        },
        code={path: f"# generated {path}\n" for path in FILES},
        status="success",
        error=None,
        extra={"request": _metadata()["request"], "generator": _metadata()["generator"]},
    )


def flat_event() -> dict[str, Any]:
    """The same logical record as a plain dict, the way a user of another library logs it."""
    source = generation_input()
    return {
        "event": "generation",
        "user_id": source.user_id,
        "project_name": source.needs["project_name"],
        "stack": source.needs["stack"],
        "files": list(source.code),
        "files_count": len(source.code),
        "plugins": list(source.needs["plugins"]),
        "template": source.needs["template"],
        "status": source.status,
        "error": source.error,
        **source.extra,
    }


def scaled_event(scale: int) -> dict[str, Any]:
    """The flat event grown ``scale`` times: scale x 20 files and scale copies of the metadata."""
    event = flat_event()
    event["files"] = [
        f"{path}" if i == 0 else f"v{i}/{path}" for i in range(scale) for path in FILES
    ]
    event["files_count"] = len(event["files"])
    for i in range(1, scale):
        event[f"step_{i}"] = _metadata(i)
    return event


class Renewer:
    """Gives the event's nested ``request_id`` a new value at each call (cost: ~0.1 us)."""

    __slots__ = ("count", "request")

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.request["request_id"] = f"req-{self.count:08x}"


def unique_variant(event: Any, tag: str) -> Any:
    """A copy of ``event`` whose every string value ends with ``tag`` (never seen before)."""
    if isinstance(event, dict):
        return {key: unique_variant(value, tag) for key, value in event.items()}
    if isinstance(event, list):
        return [unique_variant(value, tag) for value in event]
    return f"{event}{tag}" if isinstance(event, str) else event


def count_nodes(value: Any) -> int:
    """Number of JSON nodes (containers, keys and leaves): the size redaction should scale with."""
    if isinstance(value, dict):
        return 1 + sum(1 + count_nodes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(count_nodes(item) for item in value)
    return 1

"""The notion:// exporter against a local server implementing the Notion endpoints it uses.

The server checks every request against Notion's documented shapes (API version 2025-09-03:
databases hold data sources; pages are created under a ``data_source_id`` parent; property
values typed as the data source declares; select names without commas, at most 100
characters; rich text at most 2000) and answers a 400 ``validation_error`` otherwise.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_export import run_cli, sample_records, write_log
from helpers_http import LocalServer, Reply, Request, json_reply, local_server

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging.store import pseudonymize_user_id

TOKEN = "secret_ntn_4b1d-never-logged"
DATABASE = "0f3c8e2a9d7b4c61a5e2b7d9c4f1a8e3"
SOURCE = "5a1b2c3d-0000-4000-8000-00000000beef"
SCHEMA = {
    "Project": "title",
    "Record ID": "rich_text",
    "User": "rich_text",
    "Status": "select",
    "Stack": "select",
    "Template": "select",
    "Event": "select",
    "Plugins": "multi_select",
    "Timestamp": "date",
    "Error": "rich_text",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(
        status, {"object": "error", "status": status, "code": code, "message": message}
    )


def _rich_text_ok(items: Any) -> bool:
    return isinstance(items, list) and all(
        set(item) == {"type", "text"}
        and item["type"] == "text"
        and set(item["text"]) == {"content"}
        and isinstance(item["text"]["content"], str)
        and len(item["text"]["content"]) <= 2000
        for item in items
    )


def _option_ok(option: Any) -> bool:
    return (
        isinstance(option, dict)
        and set(option) == {"name"}
        and isinstance(option["name"], str)
        and 0 < len(option["name"]) <= 100
        and "," not in option["name"]
    )


def _value_ok(kind: str, value: Any) -> bool:
    """Whether a property value has the documented shape for its type."""
    if not isinstance(value, dict) or set(value) != {kind}:
        return False
    inner = value[kind]
    if kind in ("title", "rich_text"):
        return _rich_text_ok(inner)
    if kind == "select":
        return inner is None or _option_ok(inner)
    if kind == "multi_select":
        return isinstance(inner, list) and all(_option_ok(o) for o in inner)
    if kind == "date":
        return (
            isinstance(inner, dict) and set(inner) == {"start"} and bool(ISO.match(inner["start"]))
        )
    return False


def _text_of(page: dict[str, Any], name: str) -> str:
    value = page["properties"].get(name, {})
    return "".join(item["plain_text"] for item in value.get("rich_text", []))


class FakeNotion:
    """The few Notion endpoints the exporter uses, strict about what it accepts."""

    def __init__(self, schema: dict[str, str] | None = None) -> None:
        self.schema = schema or SCHEMA
        self.pages: dict[str, dict[str, Any]] = {}
        self.failures: list[int] = []  # statuses to answer next, once each
        self.create_then_fail = 0  # creations that succeed but answer 500
        self.invalid: list[str] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            self.times.append(time.monotonic())
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return _error(401, "unauthorized", "API token is invalid.")
            if request.headers.get("Notion-Version") != "2025-09-03":
                return _error(400, "missing_version", "bad Notion-Version")
            if self.failures:
                status = self.failures.pop(0)
                if status == 502:
                    return 502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>"
                return _error(
                    status, "rate_limited" if status == 429 else "service_unavailable", "later"
                )
            reply = self._route(request)
            if reply[0] == 400:
                self.invalid.append(reply[2].decode())
            return reply

    def _route(self, request: Request) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "GET" and path == f"/v1/databases/{DATABASE}":
            sources = [{"id": SOURCE, "name": "Generations"}]
            return json_reply(200, {"object": "database", "id": DATABASE, "data_sources": sources})
        if request.method == "GET" and path == f"/v1/data_sources/{SOURCE}":
            properties = {n: {"id": n[:4], "name": n, "type": t} for n, t in self.schema.items()}
            return json_reply(
                200, {"object": "data_source", "id": SOURCE, "properties": properties}
            )
        if request.method == "POST" and path == f"/v1/data_sources/{SOURCE}/query":
            return self._query(request.json())
        if request.method == "POST" and path == "/v1/pages":
            return self._create(request.json())
        match = re.fullmatch(r"/v1/pages/([0-9a-f-]+)", path)
        if request.method == "PATCH" and match:
            body = request.json()
            if body != {"in_trash": True} or match.group(1) not in self.pages:
                return _error(400, "validation_error", f"bad update {body}")
            self.pages[match.group(1)]["in_trash"] = True
            return json_reply(200, self.pages[match.group(1)])
        return _error(400, "invalid_request_url", f"{request.method} {path}")

    def _matches(self, page: dict[str, Any], flt: dict[str, Any]) -> bool:
        if "and" in flt:
            return all(self._matches(page, part) for part in flt["and"])
        name = flt["property"]
        if "rich_text" in flt:
            ((condition, operand),) = flt["rich_text"].items()
            text = _text_of(page, name)
            return text == operand if condition == "equals" else bool(text)
        ((condition, operand),) = flt["date"].items()
        assert condition == "before"
        return page["properties"][name]["date"]["start"] < operand

    def _filter_ok(self, flt: Any) -> bool:
        if isinstance(flt, dict) and set(flt) == {"and"}:
            return isinstance(flt["and"], list) and all(self._filter_ok(f) for f in flt["and"])
        if not isinstance(flt, dict) or len(flt) != 2 or flt.get("property") not in self.schema:
            return False
        kind = self.schema[flt["property"]]
        condition = flt.get(kind)
        if kind == "rich_text":
            return condition in ({"is_not_empty": True},) or (
                isinstance(condition, dict) and set(condition) == {"equals"}
            )
        if kind == "date":
            return isinstance(condition, dict) and set(condition) == {"before"}
        return False

    def _query(self, body: dict[str, Any]) -> Reply:
        if not set(body) <= {"filter", "page_size", "start_cursor"} or not self._filter_ok(
            body.get("filter")
        ):
            return _error(400, "validation_error", f"bad query {body}")
        if not 1 <= body.get("page_size", 100) <= 100:
            return _error(400, "validation_error", "page_size")
        found = [
            p for p in self.pages.values() if not p["in_trash"] and self._matches(p, body["filter"])
        ]
        start = int(body.get("start_cursor", "0"))
        chunk = found[start : start + 3]  # small pages: the client must follow cursors
        more = start + 3 < len(found)
        return json_reply(200, {"object": "list", "results": chunk, "has_more": more,
                                "next_cursor": str(start + 3) if more else None})  # fmt: skip

    def _create(self, body: dict[str, Any]) -> Reply:
        if set(body) != {"parent", "properties"}:
            return _error(400, "validation_error", f"unexpected keys {sorted(body)}")
        if body["parent"] != {"type": "data_source_id", "data_source_id": SOURCE}:
            return _error(400, "validation_error", f"bad parent {body['parent']}")
        for name, value in body["properties"].items():
            if name not in self.schema or not _value_ok(self.schema[name], value):
                return _error(400, "validation_error", f"bad property {name}: {value}")
        page_id = str(uuid.uuid4())
        properties = json.loads(json.dumps(body["properties"]))
        for value in properties.values():  # Notion answers rich text with its plain_text
            for item in value.get("rich_text", []) + value.get("title", []):
                item["plain_text"] = item["text"]["content"]
        self.pages[page_id] = {"object": "page", "id": page_id, "in_trash": False,
                               "properties": properties}  # fmt: skip
        if self.create_then_fail:
            self.create_then_fail -= 1
            return _error(500, "internal_server_error", "oops")
        return json_reply(200, self.pages[page_id])

    def live(self) -> list[dict[str, Any]]:
        """Pages not in the trash."""
        return [p for p in self.pages.values() if not p["in_trash"]]


@pytest.fixture
def notion(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalServer, FakeNotion]]:
    """A fake Notion on loopback and $NOTION_TOKEN."""
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    fake = FakeNotion()
    with local_server(fake) as server:
        yield server, fake


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A log of sample records."""
    records = sample_records(9)
    write_log(log_path, records)
    return log_path, records


def _uri(server: LocalServer, extra: str = "&rate=200&backoff=0.01") -> str:
    return f"notion://{DATABASE}?base_url={server.url}{extra}"


def test_one_typed_page_per_record(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """Each record becomes a page whose typed properties hold its fields, users pseudonymised."""
    log_path, records = log
    server, fake = notion
    count = export_generation_logs(_uri(server), path=log_path)
    assert count == len(records)
    assert fake.invalid == []
    pages = [p["properties"] for p in fake.live()]
    assert len(pages) == len(records)
    for record, page in zip(records, pages):
        assert page["Project"]["title"][0]["text"]["content"] == record["project_name"]
        assert page["Status"]["select"] == {"name": record["status"]}
        assert page["Stack"]["select"] == {"name": record["stack"]}
        assert page["Timestamp"]["date"]["start"] == record["timestamp"]
        token = pseudonymize_user_id(record["user_id"], path=log_path)
        assert page["User"]["rich_text"][0]["text"]["content"] == token
        names = [o["name"] for o in page["Plugins"]["multi_select"]]
        assert names == [p.replace(",", ";") for p in record["plugins"]]
    assert "user_0" not in json.dumps(pages)
    event = get_generation_logs(event="export", path=log_path)[-1]
    assert event["destination"] == f"notion://{DATABASE}"
    assert event["receipt"] == {"created": len(records)}


def test_rerun_adds_no_duplicates(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """A second export of the same records creates nothing (record id is the key)."""
    log_path, records = log
    server, fake = notion
    export_generation_logs(_uri(server), user_id="user_1", path=log_path)
    export_generation_logs(_uri(server), path=log_path)
    export_generation_logs(_uri(server), path=log_path)
    exported = get_generation_logs(path=log_path)[:-1]  # all but the last export's own event
    assert len(exported) == len(records) + 2
    assert len(fake.live()) == len(exported)
    ids = [_text_of(p, "Record ID") for p in fake.live()]
    assert len(set(ids)) == len(ids)
    assert get_generation_logs(event="export", path=log_path)[-1]["receipt"] == {"created": 1}


def test_rate_limit_is_respected(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """At the default ~3 requests per second, no three requests fall within one second."""
    log_path, _ = log
    server, fake = notion
    export_generation_logs(_uri(server, ""), user_id="user_2", path=log_path)
    assert len(fake.times) >= 5
    gaps = [b - a for a, b in zip(fake.times, fake.times[1:])]
    assert min(gaps) > 0.3
    assert fake.times[-1] - fake.times[0] >= (len(fake.times) - 1) / 3 - 0.05


def test_429_and_5xx_are_retried(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """Rate-limited, unavailable and bad-gateway answers are retried until success."""
    log_path, records = log
    server, fake = notion
    fake.failures = [429, 503, 502, 429]
    assert export_generation_logs(_uri(server), path=log_path) == len(records)
    assert len(fake.live()) == len(records)


def test_creation_that_failed_after_writing_is_not_duplicated(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """A 500 after the page was made: the retry finds it and creates no second page."""
    log_path, records = log
    server, fake = notion
    fake.create_then_fail = 2
    export_generation_logs(_uri(server), path=log_path)
    assert len(fake.pages) == len(records)


def test_a_bad_schema_is_a_clear_error_before_writing(
    log: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database without Record ID, or with a mistyped property, is refused up front."""
    log_path, _ = log
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    fake = FakeNotion({"Name": "title", "User": "rich_text", "Status": "rich_text"})
    with local_server(fake) as server, pytest.raises(ValueError, match="'Record ID'") as caught:
        export_generation_logs(_uri(server), path=log_path)
    assert "'Status' must be select" in str(caught.value)
    assert fake.pages == {}


def test_missing_token_is_refused(
    log: tuple[Path, list[dict[str, Any]]],
    notion: tuple[LocalServer, FakeNotion],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without $NOTION_TOKEN nothing is sent."""
    log_path, _ = log
    server, fake = notion
    monkeypatch.delenv("NOTION_TOKEN")
    with pytest.raises(ValueError, match="NOTION_TOKEN"):
        export_generation_logs(_uri(server), path=log_path)
    assert fake.times == []


def test_purge_moves_the_users_pages_to_the_trash(
    log: tuple[Path, list[dict[str, Any]]], notion: tuple[LocalServer, FakeNotion]
) -> None:
    """Erasure trashes exactly the erased user's pages, found by their pseudonym."""
    log_path, records = log
    server, fake = notion
    export_generation_logs(_uri(server), path=log_path)
    purge_generation_logs(user_id="user_0", actor="dpo", path=log_path)
    token = pseudonymize_user_id("user_0", path=log_path)
    assert sorted(_text_of(p, "User") for p in fake.live()) == sorted(
        pseudonymize_user_id(r["user_id"], path=log_path)
        for r in records
        if r["user_id"] != "user_0"
    )
    assert all(p["in_trash"] for p in fake.pages.values() if _text_of(p, "User") == token)
    assert fake.invalid == []
    event = get_generation_logs(event="purge", path=log_path)[-1]
    assert {"exporter": "notion", "ok": True, "error": None} in event["recipients"]


def test_cli_export_keeps_the_token_out_of_everything(
    log: tuple[Path, list[dict[str, Any]]],
    notion: tuple[LocalServer, FakeNotion],
    subprocess_env: dict[str, str],
) -> None:
    """`dihya-logs export notion://…` works; the token is in no log file, event or output."""
    log_path, records = log
    server, fake = notion
    env = {**subprocess_env, "NOTION_TOKEN": TOKEN}
    result = run_cli("export", _uri(server), "--file", str(log_path), env=env)
    assert result.returncode == 0, result.stderr
    assert len(fake.live()) == len(records)
    for path in log_path.parent.iterdir():
        assert TOKEN.encode() not in path.read_bytes()
    assert TOKEN not in result.stdout + result.stderr


def test_unreachable_notion_is_retried_then_raised(
    log: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is transient: retried with backoff, then the export fails."""
    log_path, _ = log
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(Exception, match="Notion unreachable"):
        export_generation_logs(
            f"notion://{DATABASE}?base_url=http://127.0.0.1:{port}&retries=3&backoff=0.05",
            path=log_path,
        )
    assert time.monotonic() - started >= 0.05
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["error"] == "TransientError"

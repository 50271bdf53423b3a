"""The signed webhook exporter against a real receiver on 127.0.0.1 that checks every signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_export import run_cli, sample_records, write_log
from helpers_http import LocalServer, Reply, Request, local_server

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging.exporters._webhook import sign, verify_signature
from dihya_logging.store import pseudonymize_user_id

SECRET = "whsec-7f3a-do-not-log"


def _authentic(request: Request) -> bool:
    """The receiver's own check: HMAC-SHA-256 over timestamp.body, fresh, constant time."""
    stamp = request.headers["X-Dihya-Timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + request.body, hashlib.sha256)
    fresh = abs(time.time() - int(stamp)) < 300
    return fresh and hmac.compare_digest(
        "sha256=" + mac.hexdigest(), request.headers["X-Dihya-Signature"]
    )


class Receiver:
    """A webhook receiver: rejects bad signatures (401), can fail the first N requests (503)."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.rejected = 0

    def __call__(self, request: Request) -> Reply:
        if not _authentic(request):
            self.rejected += 1
            return 401, {}, b"bad signature"
        if self.failures > 0:
            self.failures -= 1
            return self.status, {}, b"try later"
        return 204, {}, b""


def _records(server: LocalServer) -> list[dict[str, Any]]:
    lines = [
        json.loads(line)
        for request in server.requests
        if request.headers.get("X-Dihya-Event") == "records"
        and request.headers.get("X-Dihya-Signature")
        for line in request.body.splitlines()
    ]
    return lines


@pytest.fixture
def log(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[dict[str, Any]]]:
    """A log of sample records, and the webhook secret in the environment."""
    monkeypatch.setenv("DIHYA_WEBHOOK_SECRET", SECRET)
    records = sample_records(9)
    write_log(log_path, records)
    return log_path, records


@pytest.fixture
def receiver() -> Iterator[tuple[LocalServer, Receiver]]:
    """A verifying receiver on loopback."""
    handler = Receiver()
    with local_server(handler) as server:
        yield server, handler


def test_batches_arrive_signed_and_complete(
    log: tuple[Path, list[dict[str, Any]]], receiver: tuple[LocalServer, Receiver]
) -> None:
    """Every record arrives once, in order, in signed batches of the requested size."""
    log_path, records = log
    server, handler = receiver
    count = export_generation_logs(f"{server.url}/hook?dihya_batch=4", path=log_path)
    assert count == len(records)
    assert _records(server) == records
    assert [r.headers["X-Dihya-Records"] for r in server.requests] == ["4", "4", "1"]
    assert handler.rejected == 0
    assert all(r.path == "/hook" for r in server.requests)  # dihya_ options stay local
    tokens = {pseudonymize_user_id(r["user_id"], path=log_path) for r in records[:4]}
    assert set(server.requests[0].headers["X-Dihya-Users"].split(",")) == tokens


def test_filters_apply_as_for_files(
    log: tuple[Path, list[dict[str, Any]]], receiver: tuple[LocalServer, Receiver]
) -> None:
    """user_id and since select the same records a file export would."""
    log_path, records = log
    server, _ = receiver
    count = export_generation_logs(
        f"{server.url}/hook", user_id="user_1", since="2026-03-03", path=log_path
    )
    wanted = [r for r in records if r["user_id"] == "user_1" and r["timestamp"] >= "2026-03-03"]
    assert count == len(wanted) > 0
    assert _records(server) == wanted


def test_server_errors_are_retried_with_the_same_delivery_id(
    log: tuple[Path, list[dict[str, Any]]],
) -> None:
    """Two 503s then success: delivered once, retries re-signed, one delivery id."""
    log_path, records = log
    handler = Receiver(failures=2)
    with local_server(handler) as server:
        count = export_generation_logs(f"{server.url}/h?dihya_backoff=0.01", path=log_path)
    assert count == len(records)
    assert len(server.requests) == 3
    assert len({r.headers["X-Dihya-Delivery"] for r in server.requests}) == 1
    assert handler.rejected == 0


def test_client_error_fails_at_once_and_is_audited(
    log: tuple[Path, list[dict[str, Any]]],
) -> None:
    """A 400 is not retried; the caller gets the error and the audit records the failure."""
    log_path, _ = log
    refused = pytest.raises(RuntimeError, match="refused the delivery: 400")
    with local_server(Receiver(failures=5, status=400)) as server, refused:
        export_generation_logs(f"{server.url}/h?dihya_backoff=0.01", path=log_path)
    assert len(server.requests) == 1
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["error"] == "RuntimeError"


def test_unreachable_receiver_is_retried_then_raised(
    log: tuple[Path, list[dict[str, Any]]],
) -> None:
    """Connection refused is transient: retried, then raised; nothing claims success."""
    log_path, _ = log
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(Exception, match="unreachable"):
        export_generation_logs(
            f"http://127.0.0.1:{port}/h?dihya_retries=3&dihya_backoff=0.05", path=log_path
        )
    assert time.monotonic() - started >= 0.05  # it did wait between attempts


def test_wrong_secret_is_rejected_by_the_receiver(
    log: tuple[Path, list[dict[str, Any]]],
    receiver: tuple[LocalServer, Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sender with another secret is refused: the receiver's check is real."""
    log_path, _ = log
    server, handler = receiver
    monkeypatch.setenv("DIHYA_WEBHOOK_SECRET", "not-the-shared-one")
    with pytest.raises(RuntimeError, match="401"):
        export_generation_logs(f"{server.url}/hook", path=log_path)
    assert handler.rejected == 1


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("http://example.org/hook", "loopback receivers only"),
        ("https://user:pw@127.0.0.1/hook", "no credentials"),
        ("http://127.0.0.1:1/h?dihya_batch=zero", "not a number"),
    ],
)
def test_unsafe_destinations_are_refused(
    log: tuple[Path, list[dict[str, Any]]], destination: str, message: str
) -> None:
    """Cleartext to another host, credentials in the URL and bad options are ValueErrors."""
    log_path, _ = log
    with pytest.raises(ValueError, match=message):
        export_generation_logs(destination, path=log_path)


def test_no_secret_means_nothing_is_sent(
    log: tuple[Path, list[dict[str, Any]]],
    receiver: tuple[LocalServer, Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the secret the export is refused before any request: nothing goes unsigned."""
    log_path, _ = log
    server, _ = receiver
    monkeypatch.delenv("DIHYA_WEBHOOK_SECRET")
    with pytest.raises(ValueError, match="DIHYA_WEBHOOK_SECRET"):
        export_generation_logs(f"{server.url}/hook", path=log_path)
    assert server.requests == []


def test_verify_signature_rejects_tampering_and_replay() -> None:
    """An altered body, another secret or a stale timestamp fail; the original passes."""
    now = 1_800_000_000
    body = b'{"a":1}\n'
    signature = sign(b"k", now, body)
    assert verify_signature(b"k", body, str(now), signature, now=now + 10)
    assert not verify_signature(b"k", body + b" ", str(now), signature, now=now)
    assert not verify_signature(b"other", body, str(now), signature, now=now)
    assert not verify_signature(b"k", body, str(now), signature, now=now + 301)
    assert not verify_signature(b"k", body, str(now + 1), signature, now=now)


def test_purge_sends_a_signed_erasure_notice_to_holders(
    log: tuple[Path, list[dict[str, Any]]], receiver: tuple[LocalServer, Receiver]
) -> None:
    """Erasing a user notifies the receiver that got their records, by token; audited ok."""
    log_path, _ = log
    server, handler = receiver
    export_generation_logs(f"{server.url}/hook", user_id="user_2", path=log_path)
    server.requests.clear()
    purge_generation_logs(user_id="user_0", path=log_path)  # the receiver never got user_0
    assert server.requests == []
    purge_generation_logs(user_id="user_2", actor="dpo", path=log_path)
    (notice,) = server.requests
    assert notice.headers["X-Dihya-Event"] == "erasure"
    body = notice.json()
    assert body["type"] == "erasure"
    assert body["event"]["filter"]["user_id"] == pseudonymize_user_id("user_2", path=log_path)
    assert b"user_2" not in notice.body
    assert handler.rejected == 0
    event = get_generation_logs(event="purge", path=log_path)[-1]
    assert {"exporter": "https", "ok": True, "error": None} in event["recipients"]


def test_unreachable_receiver_on_purge_is_audited_as_failed(
    log: tuple[Path, list[dict[str, Any]]],
) -> None:
    """A notice that cannot be delivered shows as a failed recipient in the purge event."""
    log_path, _ = log
    with local_server(Receiver()) as server:
        export_generation_logs(f"{server.url}/hook?dihya_retries=1", path=log_path)
    purge_generation_logs(user_id="user_1", path=log_path)  # the server is gone
    event = get_generation_logs(event="purge", path=log_path)[-1]
    (outcome,) = [o for o in event["recipients"] if o["exporter"] == "https"]
    assert outcome["ok"] is False
    assert "not delivered" in outcome["error"]


def test_cli_export_keeps_the_secret_out_of_log_and_output(
    log: tuple[Path, list[dict[str, Any]]],
    receiver: tuple[LocalServer, Receiver],
    subprocess_env: dict[str, str],
) -> None:
    """`dihya-logs export URL` delivers; the secret is in no log file, event or output."""
    log_path, records = log
    server, handler = receiver
    env = {**subprocess_env, "DIHYA_WEBHOOK_SECRET": SECRET}
    result = run_cli(
        "export", f"{server.url}/hook/tok3n-path?q=tok3n-query", "--file", str(log_path), env=env
    )
    assert result.returncode == 0, result.stderr
    assert f"exported {len(records)} records" in result.stdout
    assert _records(server) == records
    assert handler.rejected == 0
    for path in log_path.parent.iterdir():
        content = path.read_bytes()
        assert SECRET.encode() not in content
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["destination"] == server.url
    assert "tok3n" not in json.dumps(event)
    assert SECRET not in result.stdout + result.stderr

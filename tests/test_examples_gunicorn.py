"""gunicorn with 4 workers (examples/gunicorn_conf.py) under a few thousand requests."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers_examples import EXAMPLES, SECRETS, assert_no_secret, read_log

REQUESTS = 3000
CLIENTS = 8
MAX_BYTES = 65_536
"""Small files, so the workers rotate the shared log set many times during the run."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(port: int, server: subprocess.Popen[str], timeout: float = 60) -> None:
    """Return once the server accepts connections; fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start listening")


def post(port: int, number: int) -> int:
    """One generation request (every fifth one fails); returns the HTTP status."""
    spec = {"project_name": f"P{number}", "stack": "cobol" if number % 5 == 0 else "backend"}
    body = json.dumps({**spec, "api_key": SECRETS[0]})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"X-User": f"user_{number % 7}", "X-Request-Id": f"req-{number}"}
        connection.request("POST", "/generate", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.slow
def test_four_workers_write_every_event_exactly_once(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Thousands of requests over 4 workers sharing one rotating, compressed log set: each
    request's event and access line written exactly once, no line broken, nothing secret."""
    port = free_port()
    log_file = tmp_path / "logs" / "generation.log"
    env = {**subprocess_env, "DIHYA_LOG_FILE": str(log_file), "DIHYA_LOG_MAX_BYTES": str(MAX_BYTES)}
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn_conf.py"]
    server = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "--chdir", str(EXAMPLES)],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(port, server)
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(lambda n: post(port, n), range(REQUESTS)))
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=60)
    assert Counter(statuses) == {201: REQUESTS * 4 // 5, 422: REQUESTS // 5}

    events = read_log(log_file)
    assert Counter(r["request_id"] for r in events) == {f"req-{n}": 1 for n in range(REQUESTS)}
    assert Counter(r["status"] for r in events) == {
        "success": REQUESTS * 4 // 5,
        "error": REQUESTS // 5,
    }
    assert len({r["worker"] for r in events}) > 1, "the requests were served by several workers"
    assert len(list(log_file.parent.glob("generation.log.*.gz"))) > 1, "the log set rotated"
    access = read_log(log_file.with_name("access.log"))
    assert len(access) == REQUESTS and all("POST /generate" in r["message"] for r in access)
    boots = [json.loads(line) for line in errors.splitlines() if "Booting worker" in line]
    assert len(boots) == 4
    assert_no_secret(tmp_path)

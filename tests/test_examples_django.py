"""The Django example project: settings ``LOGGING`` and a view logging ``request.user.pk``.

Django runs in a child process (its settings and app registry are global to a process), with
its own test client against a real SQLite database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers_examples import EXAMPLES, SECRETS, read_log

DRIVER = """
import json, os, sys
sys.path[:0] = [{project!r}, {examples!r}]
os.environ["DJANGO_SETTINGS_MODULE"] = "dihya_site.settings"
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("amina", password="Pw-amina-0123")
spec = {{"project_name": "Blog", "stack": "fullstack", "api_key": {secret!r}}}
bad = {{"project_name": "Nope", "stack": "cobol", "password": "hunter2-db-pass"}}
statuses = [Client().post("/generate", spec, content_type="application/json").status_code]
client = Client()
client.force_login(user)
for number, body in enumerate([spec, bad, spec]):
    response = client.post(
        "/generate", body, content_type="application/json",
        HTTP_X_REQUEST_ID=f"dj-{{number}}",
    )
    statuses.append(response.status_code)
print(json.dumps({{"pk": user.pk, "statuses": statuses}}))
"""


def test_view_logs_each_generation_with_the_users_primary_key(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Logged-in requests leave one event each, named by request.user.pk, anonymous ones none;
    Django's own warnings go out as JSON through the same formatter."""
    log_file = tmp_path / "logs" / "generation.log"
    env = {**subprocess_env, "DIHYA_LOG_FILE": str(log_file), "DJANGO_DB": str(tmp_path / "db")}
    code = DRIVER.format(
        project=str(EXAMPLES / "django_project"), examples=str(EXAMPLES), secret=SECRETS[0]
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["statuses"] == [401, 201, 422, 201]
    records = read_log(log_file)
    assert [r["request_id"] for r in records] == ["dj-0", "dj-1", "dj-2"]
    assert [r["status"] for r in records] == ["success", "error", "success"]
    assert {r["user_id"] for r in records} == {str(outcome["pk"])}
    assert records[0]["files"] == ["README.md", "backend/app.py", "frontend/App.js"]
    django_warnings = [json.loads(line) for line in result.stderr.splitlines()]
    assert [w["logger"] for w in django_warnings] == ["django.request"] * 2  # the 401, the 422
    written = log_file.read_bytes() + result.stderr.encode()
    assert b"sk_live_" not in written and b"hunter2-db-pass" not in written

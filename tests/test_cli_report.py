"""`dihya-logs report --html`: a self-contained audit report, checked as text and in Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dihya_logging import export_generation_logs, purge_generation_logs
from tests.helpers_chain import KEY, log_events


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def report(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A report of a keyed chained log with an export, a purge and a hostile project name."""
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    log_events(log_path, 40, maxBytes=3000, compress=True)
    export_generation_logs(tmp_path / "all.jsonl", actor="auditor", path=log_path)
    purge_generation_logs(user_id="user_3", actor="dpo", path=log_path)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    page = tmp_path / "report.html"
    done = _cli("report", "--html", str(page), "--by", "day", "--key-file", str(key_file),
                "--file", str(log_path), env=subprocess_env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"report written to {page}\n"
    return page


def test_the_report_holds_figures_timeline_tables_audits_and_chain(report: Path) -> None:
    """Figures, a bar per day for generations and errors, the audit events, the chain intact."""
    text = report.read_text()
    assert report.stat().st_mode & 0o777 == 0o600
    assert re.search(r'data-figure="generations">generations<b>32</b>', text)  # 40 - 8 purged
    assert re.search(r'data-figure="purges">purges<b>1</b>', text)
    assert len(re.findall(r'<rect class="gen"', text)) == len(
        re.findall(r'<rect class="err"', text)
    )
    assert '<p id="chain" class="ok">' in text and "intact" in text
    audit = text.split('<table id="audit">')[1]
    assert audit.index(">purge<") < audit.index(">export<")  # newest first
    assert ">dpo<" in audit and ">auditor<" in audit
    assert "<script" not in text and "src=" not in text and "href=" not in text


def test_log_text_is_escaped(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A stack named like markup is shown as text, never parsed as HTML."""
    log_path.parent.mkdir(parents=True)
    log_path.write_text(
        '{"timestamp":"2026-01-01T00:00:00.000Z","event":"generation","status":"error",'
        '"stack":"<img src=x onerror=alert(1)>","user_id":"u"}\n'
    )
    page = tmp_path / "r.html"
    assert _cli("report", "--html", str(page), "--file", str(log_path),
                env=subprocess_env).returncode == 0  # fmt: skip
    text = page.read_text()
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert '<p id="chain">The log is not chained' in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_chromium_renders_the_charts_and_figures(report: Path, tmp_path: Path) -> None:
    """Headless Chromium loads the report offline: its DOM has the bars and figures, and the
    page paints (a screenshot of real size)."""
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run([*base, "--dump-dom", report.as_uri()], capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(re.findall(r'<rect class="gen"', dom.stdout)) >= 1
    assert re.search(r'data-figure="generations">generations<b>32</b>', dom.stdout)
    assert '<p id="chain" class="ok">' in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1200,1400", report.as_uri()],
                   capture_output=True, timeout=120, check=False)  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

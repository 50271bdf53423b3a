"""Tests for _config and the shipped examples: configure, dictConfig, fileConfig."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import dihya_logging
from dihya_logging import GenerationLogHandler, configure, dict_config

SECRET = "hunter2-Sup3r-Secret"


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def test_configure_is_idempotent(log_path: Path) -> None:
    """Calling configure twice with the same arguments attaches exactly one handler."""
    first = configure(log_path, maxBytes=1000)
    second = configure(log_path, maxBytes=1000)
    logger = logging.getLogger(dihya_logging.LOGGER_NAME)
    assert first is second and isinstance(first, GenerationLogHandler)
    assert [h for h in logger.handlers if h is first] == [first]


def test_configure_with_new_arguments_replaces_its_own_handler(log_path: Path) -> None:
    """A second configure with other options swaps the handler it attached, not others."""
    foreign = logging.NullHandler()
    logger = logging.getLogger(dihya_logging.LOGGER_NAME)
    logger.addHandler(foreign)
    first = configure(log_path)
    second = configure(log_path.with_name("other.log"))
    assert first is not second
    assert first not in logger.handlers and second in logger.handlers and foreign in logger.handlers


def test_configure_validates_level(log_path: Path) -> None:
    """Unknown level names raise ValueError, wrong types TypeError."""
    with pytest.raises(ValueError, match="level"):
        configure(log_path, level="LOUD")
    with pytest.raises(TypeError):
        configure(log_path, level=None)  # type: ignore[arg-type]


def test_configure_then_log_writes_a_redacted_event(log_path: Path) -> None:
    """The one-call setup writes generation events as JSON lines in the named file."""
    configure(log_path)
    dihya_logging.log_generation_event("user_9", {"stack": "api", "token": SECRET}, ["a.py"])
    (record,) = read_records(log_path)
    assert record["user_id"] == "user_9" and record["stack"] == "api"
    assert SECRET.encode() not in log_path.read_bytes()


def run_python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_dict_config_recipe_works_in_a_fresh_interpreter(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """logging.config.dictConfig(dict_config(...)) wires formatter and handler by name."""
    log_file = tmp_path / "logs" / "gen.log"
    code = (
        "import logging.config, dihya_logging as d\n"
        f"logging.config.dictConfig(d.dict_config({str(log_file)!r}, maxBytes=100000))\n"
        f"d.log_generation_event('u1', {{'stack': 'web'}}, {{'a.py': {SECRET!r}}})\n"
        f"logging.getLogger('dihya.generation').info('plain', extra={{'password': {SECRET!r}}})\n"
    )
    result = run_python(code, tmp_path, subprocess_env)
    assert result.returncode == 0, result.stderr
    first, second = read_records(log_file)
    assert first["event"] == "generation" and first["files"] == ["a.py"]
    assert second["message"] == "plain" and "event" not in second
    assert SECRET.encode() not in log_file.read_bytes()


def test_dict_config_template_is_plain_data() -> None:
    """The recipe names classes by dotted path so it can be stored as JSON or YAML."""
    config = dict_config("x.log", level="DEBUG", backupCount=3)
    json.dumps(config)
    assert config["handlers"]["dihya_file"]["backupCount"] == 3
    assert config["loggers"]["dihya.generation"]["level"] == "DEBUG"


def test_shipped_logging_ini_works_with_fileconfig(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The logging.ini shipped in the package configures the logger through fileConfig."""
    shipped = resources.files("dihya_logging").joinpath("logging.ini")
    (tmp_path / "logging.ini").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    code = (
        "import logging.config, dihya_logging as d\n"
        "logging.config.fileConfig('logging.ini', disable_existing_loggers=False)\n"
        f"d.log_generation_event('u2', {{'template': 'blog', 'api_key': {SECRET!r}}}, ['x'])\n"
    )
    result = run_python(code, tmp_path, subprocess_env)
    assert result.returncode == 0, result.stderr
    log_file = tmp_path / "logs" / "generation.log"
    (record,) = read_records(log_file)
    assert record["template"] == "blog" and record["user_id"] == "u2"
    assert SECRET.encode() not in log_file.read_bytes()
    assert oct(log_file.stat().st_mode & 0o777) == "0o600"


def test_queue_mode_flushes_everything_at_interpreter_exit(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """configure(queue=True): every event is on disk after a normal exit, none lost."""
    log_file = tmp_path / "q.log"
    code = (
        "import dihya_logging as d\n"
        f"d.configure({str(log_file)!r}, queue=True)\n"
        "for i in range(2000):\n"
        "    d.log_generation_event(f'user_{i}', {}, ['a.py'])\n"
    )
    result = run_python(code, tmp_path, subprocess_env)
    assert result.returncode == 0, result.stderr
    users = [r["user_id"] for r in read_records(log_file)]
    assert users == [f"user_{i}" for i in range(2000)]


def test_public_names_are_exported_and_importable() -> None:
    """Every name in __all__ resolves (lazily) and the version is a string."""
    for name in dihya_logging.__all__:
        assert getattr(dihya_logging, name) is not None
    assert isinstance(dihya_logging.__version__, str)
    assert set(dir(dihya_logging)) >= set(dihya_logging.__all__)
    with pytest.raises(AttributeError):
        dihya_logging.does_not_exist  # noqa: B018

"""Adversarial leak tests (secrets inside text): every byte on disk is scanned."""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_leaks import GHP, SECRET, open_sink
from helpers_leaks import assert_clean as _clean

from dihya_logging import log_generation_event


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through a rotating, gzipping GenerationLogHandler."""
    with open_sink(tmp_path) as pair:
        yield pair


def test_encoded_and_split(sink: tuple[logging.Logger, Path]) -> None:
    """JSON in text, very long text and PEM blocks are scrubbed, in rotated gzip files too."""
    logger, root = sink
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQ" + "A" * 40 + "\n-----END PRIVATE KEY-----"
    logger.info("q %s", f'{{"password": "{SECRET}"}}')
    logger.info("q %s", "x" * 100_000 + f" token={SECRET}")
    logger.info("pem %s", pem)
    logger.info("after rotation")
    assert list(root.glob("*.gz")), "the scan should cover a compressed rotated file"
    _clean(root, SECRET, "A" * 40)


def test_url_encoded_and_bracketed_values(sink: tuple[logging.Logger, Path]) -> None:
    """Sensitive pairs inside an encoded URL, and values opened by a bracket, are masked."""
    logger, root = sink
    logger.info("redirect next=https%%3A%%2F%%2Fx%%3Fpassword%%3D%s%%26u%%3D1", SECRET)
    logger.info("retry a=1%26token%3D" + SECRET)
    logger.info("cfg password=<%s> token: (%s) secret: {%s}", SECRET, SECRET, SECRET)
    _clean(root, SECRET)


def test_capped_text_keeps_no_token_fragment(sink: tuple[logging.Logger, Path]) -> None:
    """Capping a long name or path never cuts a token into an undetectable fragment."""
    logger, root = sink
    long = "a/" * 240 + GHP  # the cap at 500 characters falls inside the token
    log_generation_event(
        "u1", {"project_name": long, "stack": long, "plugins": [long]}, [long], logger=logger
    )
    _clean(root, GHP[4:20])


def test_str_args_and_exception_reprs(sink: tuple[logging.Logger, Path]) -> None:
    """Dict reprs in positional args and in exception args are scrubbed by key."""
    logger, root = sink
    logger.info("cfg %s %s", {"password": SECRET}, [{"token": SECRET}])
    logger.info({b"password": SECRET, "ok": types.MappingProxyType({"secret": SECRET})})
    logger.info(types.MappingProxyType({"password": SECRET}))
    try:
        raise KeyError({"api_key": SECRET})
    except KeyError:
        logger.error("missing", exc_info=True)
    _clean(root, SECRET)


def test_yaml_style_values_and_more_key_names(sink: tuple[logging.Logger, Path]) -> None:
    """A value on the next, indented line, and MFA/recovery/SSH/seed key names, are masked."""
    logger, root = sink
    logger.info("config:\n  password:\r\n    %s\n  user: bob", SECRET)
    extra = {k: SECRET for k in ("passcode", "mfa_code", "recoveryCode", "ssh_key", "mnemonic")}
    logger.info("m", extra=extra)
    _clean(root, SECRET)

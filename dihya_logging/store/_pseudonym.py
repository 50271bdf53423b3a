"""Stable, non-reversible pseudonyms for user ids: ``anon_`` + HMAC-SHA-256(key, id)[:16 hex].

Floor 3 (logset). Used by anonymizing purges (the records keep a token instead of the id, so
statistics survive) and by audit events (which name a purged or exported user by token, never
in clear). The key makes the token non-reversible: without it, hashing a list of known ids
does not reveal which one a token stands for (a plain hash would).

Where the key comes from, first match wins:

1. the ``key`` argument;
2. the ``DIHYA_ANON_KEY`` environment variable (its UTF-8 bytes) — set it when several machines
   or a database store must produce the same tokens;
3. the key file beside the log, ``<log>.anonkey`` (64 hex digits, mode ``0o600``), created with
   32 random bytes on first need. Back it up with the logs: a lost key means new tokens for the
   same users (old and new records no longer line up); a leaked key lets its holder test
   guesses of user ids against the tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Final, Optional, Union

from dihya_logging._logset import (
    LogSet,
    PathLike,
    ensure_private_dir,
    open_private,
    resolve_log_path,
)

__all__ = [
    "ENV_ANON_KEY",
    "PSEUDONYM_PREFIX",
    "anonymization_key",
    "key_file_path",
    "pseudonymize_user_id",
    "replace_user_id",
]

ENV_ANON_KEY: Final = "DIHYA_ANON_KEY"
PSEUDONYM_PREFIX: Final = "anon_"
_TOKEN_HEX: Final = 16


def key_file_path(log_path: PathLike) -> Path:
    """The anonymization key file of the log at ``log_path``."""
    return LogSet(log_path).anonymization_key_path


def _read_key(path: Path) -> bytes:
    fd = open_private(path, os.O_RDONLY)
    try:
        text = os.read(fd, 256).strip()
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < 16:
        raise ValueError(f"the anonymization key file {path} is damaged (expected 64 hex digits)")
    return key


def _create_key(path: Path) -> bytes:
    """Publish a fresh random key at ``path`` atomically (link), or read the one that won."""
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.tmp-{os.urandom(6).hex()}")
    key = os.urandom(32)
    fd = open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(fd, key.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return key


def anonymization_key(log_path: Optional[PathLike] = None, *, create: bool = True) -> bytes:
    """The pseudonym key: ``$DIHYA_ANON_KEY``, else the log's key file (made if ``create``)."""
    env = os.environ.get(ENV_ANON_KEY)
    if env:
        return env.encode("utf-8")
    path = key_file_path(resolve_log_path(log_path))
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            raise
    return _create_key(path)


def pseudonymize_user_id(
    user_id: str,
    *,
    key: Union[bytes, str, None] = None,
    path: Optional[PathLike] = None,
) -> str:
    """The stable token standing for ``user_id``: ``anon_`` and 16 hex digits of an HMAC.

    ``key`` overrides the configured key; ``path`` names the log whose key file is used
    (default: the resolved log path, as for every API call).
    """
    if not isinstance(user_id, str):
        raise TypeError(f"user_id must be a string, got {type(user_id).__name__}")
    if key is None:
        secret = anonymization_key(path)
    elif isinstance(key, str):
        secret = key.encode("utf-8")
    elif isinstance(key, bytes):
        secret = key
    else:
        raise TypeError(f"key must be bytes, a string or None, got {type(key).__name__}")
    if not secret:
        raise ValueError("the anonymization key is empty")
    digest = hmac.new(secret, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:_TOKEN_HEX]


def replace_user_id(text: str, user_id: str, token: str) -> str:
    """``text`` with each mention of ``user_id`` replaced by ``token``.

    A mention is an occurrence not glued to a letter or digit that would make it part of a
    longer id: ``user_1`` is replaced in ``user_1/app.py`` and ``fork of user_1``, never inside
    ``user_10`` (whose id must survive intact, not become ``anon_…0``).
    """
    if not user_id or user_id not in text:
        return text
    pattern = re.escape(user_id)
    if user_id[0].isalnum():
        pattern = r"(?<![^\W_])" + pattern  # not preceded by a letter or digit
    if user_id[-1].isalnum():
        pattern += r"(?![^\W_])"  # not followed by a letter or digit
    return re.sub(pattern, lambda _: token, text)

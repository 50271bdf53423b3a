"""What a handler puts on the wire: the JSON-escaping codec error handler and the fsync policy.

Floor 1 (standard library only). Registering the ``dihya-json-escape`` error handler is the one
side effect of importing this module (codecs has no other way to name one).
"""

from __future__ import annotations

import codecs
import os
from typing import Final, Union

__all__ = ["FSYNC_POLICIES", "JSON_ESCAPE", "FsyncPolicy", "fsync_settings", "sync_data"]

FsyncPolicy = Union[str, int]
FSYNC_POLICIES: Final = ("never", "rotate", "always")


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: characters the encoding lacks become JSON ``\\uXXXX`` escapes, so
    a line stays valid JSON (``backslashreplace``'s ``\\xe9`` would make readers skip it)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:  # a surrogate pair, as JSON spells characters beyond the BMP
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


JSON_ESCAPE: Final = "dihya-json-escape"
codecs.register_error(JSON_ESCAPE, _json_escape)


def fsync_settings(policy: FsyncPolicy) -> tuple[int, bool]:
    """``(sync every N records or 0, sync at rotation and close)`` for an fsync policy."""
    if isinstance(policy, str) and policy.strip().isdigit():
        policy = int(policy)
    if isinstance(policy, bool) or not isinstance(policy, (str, int)):
        raise ValueError(f"fsync must be 'never', 'rotate', 'always' or an int, got {policy!r}")
    if isinstance(policy, int):
        if policy < 1:
            raise ValueError(f"fsync every N records needs N >= 1, got {policy}")
        return policy, True
    if policy not in FSYNC_POLICIES:
        raise ValueError(f"fsync must be 'never', 'rotate', 'always' or an int, got {policy!r}")
    return (1 if policy == "always" else 0), policy != "never"


def sync_data(fd: int) -> None:
    """``fdatasync`` where the platform has it, else ``fsync`` (looked up at each call)."""
    getattr(os, "fdatasync", os.fsync)(fd)

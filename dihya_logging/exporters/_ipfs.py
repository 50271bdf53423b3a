"""``ipfs://`` exporter: the export as a CARv1 archive of one UnixFS file (standard library only).

The JSON-lines export is cut into 256 KiB chunks stored as raw blocks and linked by dag-pb
nodes in a balanced tree of at most 174 links per node (CIDv1, SHA-256): the DAG and root CID
``ipfs add --cid-version=1`` (Kubo's defaults, raw leaves) gives the same bytes. The archive
is importable on any node with ``ipfs dag import``; its root CID is returned in the export's
receipt (audit event) and printed by ``dihya-logs export``.

Destination forms:

* ``ipfs://exports/logs.car`` (relative) or ``ipfs:///srv/exports/logs.car`` (absolute): write
  the CAR there (atomically, never over an existing file unless ``overwrite``);
* ``ipfs://`` with ``?api=http://127.0.0.1:5001`` or ``$IPFS_API``: send it to a Kubo RPC API
  (``/api/v0/dag/import``, roots pinned unless ``pin=false``); both may be combined.

**Anonymised by default.** Nothing published on IPFS can be erased — any node may keep a copy
forever, under the same CID — so records are written with every user id replaced by the
keyed pseudonym of ``purge --anonymize`` (and an audit event's actor too). ``anonymize=false``
in the query writes identified records; the ledger then remembers the CID and which users it
holds, and a later purge of such a user unpins it from the node it was sent to and reports,
in the purge's audit record, that the published copy could not be erased.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Final, Optional
from urllib.parse import urlencode, urlsplit

from dihya_logging.exporters._common import (
    ExportLedger,
    LineStream,
    TransientError,
    anonymized_record,
    purged_token,
    query_options,
    with_retries,
)
from dihya_logging.exporters._registry import ExportContext

__all__ = ["CHUNK_SIZE", "ENV_IPFS_API", "MAX_LINKS", "IpfsExporter", "UnixFSFile", "write_car"]

CHUNK_SIZE: Final = 256 * 1024
"""Kubo's default fixed-size chunker (``size-262144``)."""
MAX_LINKS: Final = 174
"""Kubo's balanced layout: links per dag-pb node."""
ENV_IPFS_API: Final = "IPFS_API"
_RAW: Final = 0x55
_DAG_PB: Final = 0x70
_SHA2_256: Final = 0x12
_LEDGER_KIND: Final = "ipfs"


def _varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf, multiformats and CAR use."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _number(number: int, value: int) -> bytes:
    """A varint protobuf field."""
    return _varint(number << 3) + _varint(value)


def cid_v1(codec: int, block: bytes) -> bytes:
    """The binary CIDv1 (SHA-256) of ``block`` under ``codec``."""
    digest = hashlib.sha256(block).digest()
    return _varint(1) + _varint(codec) + bytes([_SHA2_256, len(digest)]) + digest


def cid_text(cid: bytes) -> str:
    """A binary CID in its usual text form: ``b`` + lower-case base32 without padding."""
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


class UnixFSFile:
    """Builds the blocks of one UnixFS file, chunk by chunk, into a spool of CAR sections."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool
        self._pending = bytearray()
        self._leaves: list[tuple[bytes, int, int]] = []  # (cid, file bytes, dag bytes)
        self.size = 0

    def _block(self, cid: bytes, data: bytes) -> None:
        self._spool.write(_varint(len(cid) + len(data)) + cid + data)

    def write(self, data: bytes) -> None:
        """Append file content; full chunks become raw blocks at once."""
        self._pending += data
        self.size += len(data)
        while len(self._pending) >= CHUNK_SIZE:
            self._leaf(bytes(self._pending[:CHUNK_SIZE]))
            del self._pending[:CHUNK_SIZE]

    def _leaf(self, chunk: bytes) -> None:
        cid = cid_v1(_RAW, chunk)
        self._block(cid, chunk)
        self._leaves.append((cid, len(chunk), len(chunk)))

    def _node(self, children: list[tuple[bytes, int, int]]) -> tuple[bytes, int, int]:
        """A dag-pb UnixFS file node over ``children``; its (cid, file size, dag size)."""
        unixfs = _number(1, 2) + _number(3, sum(child[1] for child in children))
        for _, file_size, _ in children:
            unixfs += _number(4, file_size)
        links = b"".join(
            _field(2, _field(1, cid) + _field(2, b"") + _number(3, dag_size))
            for cid, _, dag_size in children
        )
        block = links + _field(1, unixfs)  # dag-pb: links before data
        cid = cid_v1(_DAG_PB, block)
        self._block(cid, block)
        return cid, sum(child[1] for child in children), len(block) + sum(c[2] for c in children)

    def finish(self) -> bytes:
        """Flush the last chunk and build the tree; the root CID (binary)."""
        if self._pending or not self._leaves:
            self._leaf(bytes(self._pending))
            self._pending.clear()
        layer = self._leaves
        while len(layer) > 1:
            layer = [
                self._node(layer[start : start + MAX_LINKS])
                for start in range(0, len(layer), MAX_LINKS)
            ]
        return layer[0][0]


def _car_header(root: bytes) -> bytes:
    """CARv1 header: DAG-CBOR ``{"roots": [root], "version": 1}``, length-prefixed."""
    link = b"\x00" + root  # a CID in DAG-CBOR: tag 42 over the identity-multibase bytes
    cbor = (
        b"\xa2"
        + b"\x65roots"
        + b"\x81\xd8\x2a"
        + (bytes([0x40 + len(link)]) if len(link) < 24 else bytes([0x58, len(link)]))
        + link
        + b"\x67version\x01"
    )
    return _varint(len(cbor)) + cbor


def write_car(chunks: Iterable[bytes], out: IO[bytes]) -> tuple[str, int]:
    """Write the CARv1 of the UnixFS file made of ``chunks``; (root CID, file size)."""
    with tempfile.TemporaryFile() as spool:
        builder = UnixFSFile(spool)
        for chunk in chunks:
            builder.write(chunk)
        root = builder.finish()
        out.write(_car_header(root))
        spool.seek(0)
        while True:
            data = spool.read(1 << 20)
            if not data:
                break
            out.write(data)
    return cid_text(root), builder.size


class IpfsExporter:
    """``ipfs://[path.car][?api=…]``: a CAR of the (anonymised) export, optionally imported."""

    scheme = "ipfs"

    def describe_destination(self, destination: str) -> str:
        """The audited destination: ``ipfs://`` and the CAR's base name (no path, no API)."""
        parts = urlsplit(destination)
        return "ipfs://" + os.path.basename((parts.netloc + parts.path).rstrip("/"))

    def export(
        self, records: Iterable[dict[str, Any]], destination: str, *, context: ExportContext
    ) -> int:
        """Write (and/or import) the CAR; the root CID goes to ``context.receipt``."""
        parts = urlsplit(destination)
        options = query_options(destination)
        anonymize = options.get("anonymize", "true").lower() not in ("false", "0", "no")
        api = options.get("api") or os.environ.get(ENV_IPFS_API) or None
        car_path = (parts.netloc + parts.path).rstrip("/")
        if not car_path and api is None:
            raise ValueError(
                f"ipfs:// needs a CAR path (ipfs://out.car) or a node: ?api= or ${ENV_IPFS_API}"
            )
        target = Path(os.path.abspath(car_path)) if car_path else None
        if target is not None and not context.overwrite and target.exists():
            raise FileExistsError(f"{target} exists (pass overwrite=True)")
        transform = functools.partial(anonymized_record, pseudonym=context.pseudonym)
        lines = LineStream(records, context, transform if anonymize else None)

        directory = target.parent if target is not None else None
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".dihya-car-", delete=False) as out:
            temp = Path(out.name)
        try:
            with open(temp, "wb") as car:
                cid, _ = write_car(lines, car)
                car.flush()
                os.fsync(car.fileno())
            context.receipt.update(cid=cid, anonymized=anonymize)
            if api is not None:
                _import(api, temp, pin=options.get("pin", "true").lower() != "false", cid=cid)
            if target is not None:
                os.chmod(temp, 0o600)
                if context.overwrite:
                    os.replace(temp, target)
                else:
                    os.link(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        if not anonymize and lines.users:
            ExportLedger.for_location(context.location).record(
                _LEDGER_KIND, destination, set(lines.users), cid=cid, api=api
            )
        return lines.count

    def on_purge(self, event: dict[str, Any], *, location: Optional[str] = None) -> bool:
        """Unpin identified exports holding the erased user; report that IPFS cannot erase."""
        token = purged_token(event)
        if location is None or token is None:
            return False
        ledger = ExportLedger.for_location(location)
        holders = [e for e in ledger.entries(_LEDGER_KIND) if token in e.get("users", ())]
        if not holders:
            return False  # nothing identified was published (anonymised CARs hold tokens)
        unpinned = []
        for entry in holders:
            if entry.get("api"):
                try:
                    _rpc(entry["api"], "pin/rm", {"arg": entry["cid"]}, None, None)
                    unpinned.append(entry["cid"])
                except Exception:  # noqa: S110 - the error below reports every CID anyway
                    pass
        cids = ", ".join(entry["cid"] for entry in holders)
        raise RuntimeError(
            f"IPFS content cannot be erased: identified export(s) {cids} hold this user"
            + (f" (unpinned from the node: {', '.join(unpinned)})" if unpinned else "")
        )


def _rpc(
    api: str, command: str, params: dict[str, str], body: Optional[bytes], boundary: Optional[str]
) -> bytes:
    """POST one Kubo RPC command (retried on 5xx and connection errors); the response body."""
    base = api.rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "http://" + base
    url = f"{base}/api/v0/{command}?{urlencode(params)}"
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"} if boundary else {}

    def attempt() -> bytes:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url, data=body or b"", method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"IPFS API answered {exc.code}") from None
            raise RuntimeError(f"IPFS API refused {command}: {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise TransientError(f"IPFS API unreachable: {type(exc).__name__}") from None

    return with_retries(attempt, attempts=4)


def _import(api: str, car: Path, *, pin: bool, cid: str) -> None:
    """``dag import`` the CAR through the Kubo RPC API; check the node saw the same root."""
    boundary = "dihya-" + os.urandom(12).hex()
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="export.car"\r\n'
            "Content-Type: application/vnd.ipld.car\r\n\r\n"
        ).encode()
        + car.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = _rpc(api, "dag/import", {"pin-roots": str(pin).lower()}, body, boundary)
    roots = []
    for line in answer.splitlines():
        try:
            roots.append(json.loads(line)["Root"]["Cid"]["/"])
        except (ValueError, KeyError, TypeError):
            continue
    if cid not in roots:
        raise RuntimeError(f"the IPFS node did not report root {cid} after dag/import")

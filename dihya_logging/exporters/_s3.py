"""``s3://bucket/prefix`` exporter: a gzipped JSON-lines object on any S3-compatible store.

Needs the ``s3`` extra (boto3). The destination's query string may name ``endpoint_url``
(MinIO, Scaleway, OVHcloud, Garage…), ``region``, ``profile``, ``sse`` (``AES256`` or
``aws:kms``, with ``kms_key_id``) and ``multipart_mb`` (size above which the upload is
multipart, 64). Without them boto3's usual configuration applies (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_PROFILE``, ``~/.aws``). Credentials come only from there: a URI holding
any is refused. Transient errors are retried by botocore's *standard* mode (jittered
exponential backoff, 5 attempts).

Each export writes ``<prefix>/dihya-export-<UTC stamp>-<random>.jsonl.gz`` (SHA-256 checked
by S3 on upload, and kept in the object's metadata) and beside it ``….manifest.json``: the
record count, the digest, and for each user's pseudonym the line numbers holding that user's
records. The log's export ledger remembers the object. A purge of a user then rewrites exactly
the objects that hold them (dropping, or with ``--anonymize`` pseudonymising, those lines,
only those older than ``before`` when the purge has one), deletes an object left empty, and
removes the older versions of a rewritten object in a versioned bucket.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable
from typing import IO, Any, Final, Optional
from urllib.parse import urlsplit

from dihya_logging.exporters._common import (
    ExportLedger,
    LineStream,
    json_line,
    option,
    purged_token,
    query_options,
    utc_stamp,
    with_user_replaced,
)
from dihya_logging.exporters._registry import ExportContext

__all__ = ["S3Exporter"]

_LEDGER_KIND: Final = "s3"
_MIB: Final = 1024 * 1024
_SSE: Final = ("AES256", "aws:kms", "aws:kms:dsse")


class _Bucket:
    """A parsed ``s3://`` destination and a boto3 client for it."""

    def __init__(self, destination: str) -> None:
        parts = urlsplit(destination)
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValueError(
                "put no credentials in an s3:// URI: use the environment or the AWS profile"
            )
        if not parts.netloc:
            raise ValueError("an s3:// destination needs a bucket: s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.options = query_options(destination)
        sse = self.options.get("sse")
        if sse is not None and sse not in _SSE:
            raise ValueError(f"sse must be one of {', '.join(_SSE)}, got {sse!r}")
        self.threshold = int(option(self.options, "multipart_mb", 64, minimum=5) * _MIB)
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - the extra is installed in the tests
            raise RuntimeError(
                "s3:// exports need boto3: pip install 'dihya-logging[s3]'"
            ) from None
        session = boto3.session.Session(profile_name=self.options.get("profile") or None)
        self.client: Any = session.client(
            "s3",
            endpoint_url=self.options.get("endpoint_url") or None,
            region_name=self.options.get("region") or None,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    @property
    def public(self) -> str:
        """The destination without options: ``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def encryption(self) -> dict[str, str]:
        """The server-side encryption arguments the options ask for."""
        sse = self.options.get("sse")
        if not sse:
            return {}
        extra = {"ServerSideEncryption": sse}
        if self.options.get("kms_key_id"):
            extra["SSEKMSKeyId"] = self.options["kms_key_id"]
        return extra

    def upload(self, key: str, body: IO[bytes], digest: bytes, metadata: dict[str, str]) -> None:
        """Upload ``body`` (multipart above the threshold), checked by S3 against its SHA-256."""
        from boto3.s3.transfer import TransferConfig

        body.seek(0, io.SEEK_END)
        size = body.tell()
        body.seek(0)
        extra = {
            "ContentType": "application/x-ndjson",
            "ContentEncoding": "gzip",
            "Metadata": metadata,
            **self.encryption(),
        }
        if size < self.threshold:  # one PUT carries the whole object's digest
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(digest),
                **extra,
            )
            return
        config = TransferConfig(
            multipart_threshold=self.threshold, multipart_chunksize=self.threshold
        )
        self.client.upload_fileobj(
            body,
            self.bucket,
            key,
            ExtraArgs={**extra, "ChecksumAlgorithm": "SHA256"},  # each part checked
            Config=config,
        )

    def put_json(self, key: str, value: Any) -> None:
        """Write a small JSON object (a manifest)."""
        data = json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            **self.encryption(),
        )

    def read(self, key: str) -> bytes:
        """An object's content."""
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def erase_older(self, key: str) -> None:
        """Delete the versions of ``key`` older than the current one (versioned buckets)."""
        current = self.client.head_object(Bucket=self.bucket, Key=key).get("VersionId")
        self.erase(key, keep=current or "null")

    def erase(self, key: str, *, keep: Optional[str] = None) -> None:
        """Delete every version of ``key`` but ``keep`` (all of them when ``keep`` is None)."""
        paginator = self.client.get_paginator("list_object_versions")
        found = False
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] != key or (keep is not None and version["VersionId"] == keep):
                    continue
                found = True
                if version["VersionId"] in (None, "null") and keep is not None:
                    continue  # an unversioned bucket: the object was replaced in place
                self.client.delete_object(
                    Bucket=self.bucket, Key=key, VersionId=version["VersionId"]
                )
        if keep is None and not found:  # no versions listed (some stores): delete by key
            self.client.delete_object(Bucket=self.bucket, Key=key)


def _b64(digest: bytes) -> str:
    import base64

    return base64.b64encode(digest).decode("ascii")


def _compress(lines: Iterable[bytes], spool: IO[bytes]) -> bytes:
    """Gzip ``lines`` into ``spool``; the SHA-256 of the compressed bytes."""
    with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=6, mtime=0) as zipped:
        for line in lines:
            zipped.write(line)
    spool.flush()
    spool.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: spool.read(_MIB), b""):
        digest.update(chunk)
    return digest.digest()


class S3Exporter:
    """``s3://bucket/prefix``: one gzipped JSON-lines object and its manifest per export."""

    scheme = "s3"

    def describe_destination(self, destination: str) -> str:
        """The audited destination: ``s3://bucket/prefix``, no options, no credentials."""
        parts = urlsplit(destination)
        return f"s3://{parts.hostname or ''}{parts.path}".rstrip("/")

    def export(
        self, records: Iterable[dict[str, Any]], destination: str, *, context: ExportContext
    ) -> int:
        """Upload the records as one object (and its manifest); return the count."""
        bucket = _Bucket(destination)
        name = f"dihya-export-{utc_stamp()}-{os.urandom(4).hex()}.jsonl.gz"
        key = f"{bucket.prefix}/{name}" if bucket.prefix else name
        lines = LineStream(records, context)
        with tempfile.TemporaryFile() as spool:
            digest = _compress(lines, spool)
            count, users = lines.count, lines.users
            context.receipt.update(object=f"s3://{bucket.bucket}/{key}", sha256=digest.hex())
            bucket.upload(key, spool, digest, {"sha256": digest.hex(), "records": str(count)})
        manifest = {"object": key, "records": count, "sha256": digest.hex(), "users": users}
        bucket.put_json(key + ".manifest.json", manifest)
        ExportLedger.for_location(context.location).record(  # the URI holds no credentials
            _LEDGER_KIND, destination, set(users), key=key
        )
        return count

    def on_purge(self, event: dict[str, Any], *, location: Optional[str] = None) -> bool:
        """Rewrite or delete exactly the exported objects that hold the erased user."""
        token = purged_token(event)
        if location is None or token is None:
            return False  # retention and full purges do not reach exported copies
        ledger = ExportLedger.for_location(location)
        holders = [e for e in ledger.entries(_LEDGER_KIND) if token in e.get("users", ())]
        if not holders:
            return False
        before = event.get("filter", {}).get("before")
        anonymize = event.get("mode") == "anonymize"
        done: dict[str, bool] = {}  # key -> whether the user is still in it
        for entry in holders:
            bucket = _Bucket(entry["destination"])
            done[entry["key"]] = _purge_object(bucket, entry["key"], token, before, anonymize)

        def forget(entry: dict[str, Any]) -> dict[str, Any]:
            if done.get(entry.get("key", ""), True):
                return entry  # not rewritten here, or newer records of the user remain
            entry["users"] = [user for user in entry.get("users", ()) if user != token]
            return entry

        ledger.update(_LEDGER_KIND, forget)
        return True


def _purge_object(
    bucket: _Bucket, key: str, token: str, before: Optional[str], anonymize: bool
) -> bool:
    """Rewrite one exported object without (or anonymising) ``token``'s records.

    Returns whether records of that user remain in it (newer than ``before``).
    """
    manifest = json.loads(bucket.read(key + ".manifest.json"))
    data = bucket.read(key)
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise RuntimeError(f"s3://{bucket.bucket}/{key} does not match its manifest: not rewritten")
    lines = gzip.decompress(data).splitlines(keepends=True)
    owner_of = {row: user for user, rows in manifest["users"].items() for row in rows}
    kept: list[bytes] = []
    users: dict[str, list[int]] = {}
    remaining = False
    for index, line in enumerate(lines):
        owner = owner_of.get(index)
        if owner == token:
            record = json.loads(line)
            if before is not None and str(record.get("timestamp", "")) >= before:
                remaining = True
            elif anonymize:
                new = with_user_replaced(record, token)
                line = json_line(new)
                owner = None
            else:
                continue
        if owner is not None:
            users.setdefault(owner, []).append(len(kept))
        kept.append(line)
    if not kept:
        bucket.erase(key)
        bucket.erase(key + ".manifest.json")
        return False
    with tempfile.TemporaryFile() as spool:
        digest = _compress(kept, spool)
        bucket.upload(key, spool, digest, {"sha256": digest.hex(), "records": str(len(kept))})
    bucket.erase_older(key)
    manifest.update(records=len(kept), sha256=digest.hex(), users=users)
    bucket.put_json(key + ".manifest.json", manifest)
    bucket.erase_older(key + ".manifest.json")
    return remaining

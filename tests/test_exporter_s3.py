"""The s3:// exporter against a real S3 server on loopback (moto's server mode), not a mock."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from helpers_export import run_cli, sample_records, write_log
from moto.server import ThreadedMotoServer

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging.store import pseudonymize_user_id

SECRET_KEY = "s3-secret-9c1e-never-logged"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for this module."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials and region from the environment only (no ~/.aws), as users give them."""
    values = {
        "AWS_ACCESS_KEY_ID": "AKIDTESTING",
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def s3(endpoint: str, aws_env: dict[str, str]) -> Any:
    """A boto3 client on the test server (the test's own view of the bucket).

    It does not validate response checksums: older moto releases (the newest for Python 3.9)
    report a wrong whole-object checksum for multipart objects; the tests compare content.
    """
    config = Config(response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint, config=config)


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test."""
    name = "dihya-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    return name


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A log of sample records."""
    records = sample_records(12)
    write_log(log_path, records)
    return log_path, records


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def _export(uri: str, log_path: Path, **kwargs: Any) -> tuple[int, str]:
    count = export_generation_logs(uri, path=log_path, **kwargs)
    event = get_generation_logs(event="export", path=log_path)[-1]
    key = event["receipt"]["object"].split("/", 3)[3]
    return count, key


def test_export_uploads_object_checksum_and_manifest(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """One gzipped JSON-lines object with its SHA-256, and a manifest of users' lines."""
    log_path, records = log
    count, key = _export(f"s3://{bucket}/audit/2026?endpoint_url={endpoint}", log_path)
    assert count == len(records)
    assert key.startswith("audit/2026/dihya-export-") and key.endswith(".jsonl.gz")
    stored = _objects(s3, bucket)
    assert set(stored) == {key, key + ".manifest.json"}
    assert _lines(stored[key]) == records
    head = s3.head_object(Bucket=bucket, Key=key)
    digest = hashlib.sha256(stored[key]).hexdigest()
    assert head["Metadata"]["sha256"] == digest
    manifest = json.loads(stored[key + ".manifest.json"])
    assert manifest["sha256"] == digest and manifest["records"] == len(records)
    for token, rows in manifest["users"].items():
        assert {pseudonymize_user_id(records[row]["user_id"], path=log_path) for row in rows} == {
            token
        }
    assert sum(len(rows) for rows in manifest["users"].values()) == len(records)
    event = get_generation_logs(event="export", path=log_path)[-1]
    assert event["destination"] == f"s3://{bucket}/audit/2026"
    assert event["receipt"]["sha256"] == digest


def test_endpoint_from_environment_and_filters(
    log: tuple[Path, list[dict[str, Any]]],
    s3: Any,
    bucket: str,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_ENDPOINT_URL is honoured; user_id and until filter as for a file export."""
    log_path, records = log
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    count, key = _export(f"s3://{bucket}", log_path, user_id="user_1", until="2026-03-08")
    wanted = [r for r in records if r["user_id"] == "user_1" and r["timestamp"] < "2026-03-08"]
    assert count == len(wanted) > 0
    assert _lines(_objects(s3, bucket)[key]) == wanted


def test_large_export_is_multipart_and_intact(
    log_path: Path, s3: Any, bucket: str, endpoint: str
) -> None:
    """Above multipart_mb the upload is multipart (a multipart ETag) and reads back whole."""
    records = sample_records(2500)
    for record in records:
        record["error"] = os.urandom(2400).hex()  # incompressible: a > 5 MiB object
    write_log(log_path, records)
    count, key = _export(f"s3://{bucket}/big?endpoint_url={endpoint}&multipart_mb=5", log_path)
    assert count == len(records)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] > 5 * 1024 * 1024
    assert "-" in head["ETag"]  # "<md5 of part md5s>-<parts>"
    assert _lines(_objects(s3, bucket)[key]) == records


def test_server_side_encryption_is_requested(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """sse=AES256 makes the store encrypt the object and its manifest."""
    log_path, _ = log
    _, key = _export(f"s3://{bucket}/x?endpoint_url={endpoint}&sse=AES256", log_path)
    for name in (key, key + ".manifest.json"):
        assert s3.head_object(Bucket=bucket, Key=name)["ServerSideEncryption"] == "AES256"


def test_purge_rewrites_exactly_the_objects_holding_the_user(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """Erasure drops the user's lines, deletes an object holding only them, spares others."""
    log_path, records = log
    uri = f"s3://{bucket}/p?endpoint_url={endpoint}"
    _, everyone = _export(uri, log_path)
    _, only_two = _export(uri, log_path, user_id="user_2")
    _, only_zero = _export(uri, log_path, user_id="user_0")
    untouched = s3.head_object(Bucket=bucket, Key=only_zero)["ETag"]
    purge_generation_logs(user_id="user_2", path=log_path)
    stored = _objects(s3, bucket)
    assert only_two not in stored and only_two + ".manifest.json" not in stored
    assert _lines(stored[everyone]) == [r for r in records if r["user_id"] != "user_2"]
    assert s3.head_object(Bucket=bucket, Key=only_zero)["ETag"] == untouched
    token = pseudonymize_user_id("user_2", path=log_path)
    assert token not in json.loads(stored[everyone + ".manifest.json"])["users"]
    event = get_generation_logs(event="purge", path=log_path)[-1]
    assert {"exporter": "s3", "ok": True, "error": None} in event["recipients"]


def test_anonymizing_purge_pseudonymises_the_copy(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """purge --anonymize replaces the user id by its token in the exported object too."""
    log_path, records = log
    _, key = _export(f"s3://{bucket}?endpoint_url={endpoint}", log_path)
    purge_generation_logs(user_id="user_1", anonymize=True, path=log_path)
    token = pseudonymize_user_id("user_1", path=log_path)
    copied = _lines(_objects(s3, bucket)[key])
    assert [r["user_id"] for r in copied] == [
        token if r["user_id"] == "user_1" else r["user_id"] for r in records
    ]
    assert b"user_1" not in gzip.decompress(_objects(s3, bucket)[key])


def test_purge_in_a_versioned_bucket_leaves_no_old_version(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """Older versions of a rewritten object are deleted: the erased data is not kept there."""
    log_path, _ = log
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    _, key = _export(f"s3://{bucket}?endpoint_url={endpoint}", log_path)
    purge_generation_logs(user_id="user_0", path=log_path)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len([v for v in versions if v["Key"] == key]) == 1
    for version in versions:
        body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        data = body["Body"].read()
        text = gzip.decompress(data) if version["Key"] == key else data
        assert b'"user_0"' not in text
        assert pseudonymize_user_id("user_0", path=log_path).encode() not in text


def test_credentials_in_the_uri_are_refused(log: tuple[Path, list[dict[str, Any]]]) -> None:
    """Keys belong in the environment or the AWS profile, never in the destination."""
    log_path, _ = log
    with pytest.raises(ValueError, match="no credentials"):
        export_generation_logs("s3://AKID:secret@bucket/prefix", path=log_path)


def test_cli_export_never_logs_the_secret_key(
    log: tuple[Path, list[dict[str, Any]]],
    s3: Any,
    bucket: str,
    endpoint: str,
    aws_env: dict[str, str],
    subprocess_env: dict[str, str],
) -> None:
    """`dihya-logs export s3://…` uploads; no log file, event or output holds the secret."""
    log_path, records = log
    env = {**subprocess_env, **aws_env}
    uri = f"s3://{bucket}/cli?endpoint_url={endpoint}"
    result = run_cli("export", uri, "--file", str(log_path), env=env)
    assert result.returncode == 0, result.stderr
    assert f"exported {len(records)} records" in result.stdout
    (key,) = [k for k in _objects(s3, bucket) if k.endswith(".jsonl.gz")]
    assert _lines(_objects(s3, bucket)[key]) == records
    for path in log_path.parent.iterdir():
        assert SECRET_KEY.encode() not in path.read_bytes()
    assert SECRET_KEY not in result.stdout + result.stderr
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["destination"] == f"s3://{bucket}/cli"


def test_object_changed_since_export_is_not_rewritten(
    log: tuple[Path, list[dict[str, Any]]], s3: Any, bucket: str, endpoint: str
) -> None:
    """An object that no longer matches its manifest is left alone and the purge says so."""
    log_path, _ = log
    _, key = _export(f"s3://{bucket}?endpoint_url={endpoint}", log_path)
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b'{"someone":"else"}\n'))
    purge_generation_logs(user_id="user_0", path=log_path)
    assert _lines(_objects(s3, bucket)[key]) == [{"someone": "else"}]
    event = get_generation_logs(event="purge", path=log_path)[-1]
    (outcome,) = [o for o in event["recipients"] if o["exporter"] == "s3"]
    assert outcome["ok"] is False
    assert "does not match its manifest" in outcome["error"]

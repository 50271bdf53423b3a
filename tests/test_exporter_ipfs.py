"""The ipfs:// exporter: CARv1 checked block by block with independent code (multiformats,
dag-cbor, a protobuf reader written here), and a local Kubo RPC stand-in for dag/import."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import dag_cbor
import pytest
from helpers_export import run_cli, sample_records, write_log
from helpers_http import Reply, Request, json_reply, local_server
from multiformats import CID, multihash

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging.exporters._ipfs import write_car
from dihya_logging.store import pseudonymize_user_id

KUBO_EMPTY_FILE = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
"""`ipfs add --cid-version=1` of an empty file (Kubo): the raw block of zero bytes."""


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _protobuf(data: bytes) -> list[tuple[int, Any]]:
    """Fields of a protobuf message, in order: (number, int or bytes)."""
    fields, at = [], 0
    while at < len(data):
        key, at = _uvarint(data, at)
        if key & 7 == 0:
            value, at = _uvarint(data, at)
            fields.append((key >> 3, value))
        else:
            assert key & 7 == 2
            length, at = _uvarint(data, at)
            fields.append((key >> 3, data[at : at + length]))
            at += length
    return fields


def read_car(data: bytes) -> tuple[list[CID], dict[CID, bytes]]:
    """Roots and blocks of a CARv1, every block's hash checked by multiformats."""
    length, at = _uvarint(data, 0)
    header = dag_cbor.decode(data[at : at + length])
    assert header["version"] == 1
    roots = [root.set(base="base32") for root in header["roots"]]  # the usual text form
    at += length
    blocks: dict[CID, bytes] = {}
    while at < len(data):
        length, at = _uvarint(data, at)
        section = data[at : at + length]
        at += length
        cid = CID.decode(_cid_prefix(section))
        block = section[len(bytes(cid)) :]
        assert cid.version == 1 and cid.hashfun.name == "sha2-256"
        assert cid.digest == multihash.digest(block, "sha2-256"), "block hash mismatch"
        blocks[cid] = block
    return roots, blocks


def _cid_prefix(section: bytes) -> bytes:
    """The CIDv1 at the start of a CAR section (version, codec, multihash code, length)."""
    at = 0
    for _ in range(3):
        _, at = _uvarint(section, at)
    length, at = _uvarint(section, at)
    return section[: at + length]


def assemble(cid: CID, blocks: dict[CID, bytes]) -> tuple[bytes, int]:
    """The file under ``cid`` (checking UnixFS sizes, Kubo's layout limits); and its depth."""
    block = blocks[cid]
    if cid.codec.name == "raw":
        assert len(block) <= 256 * 1024
        return block, 0
    assert cid.codec.name == "dag-pb"
    fields = _protobuf(block)
    links = [_protobuf(value) for number, value in fields if number == 2]
    (unixfs,) = [_protobuf(value) for number, value in fields if number == 1]
    assert [number for number, _ in fields] == [2] * len(links) + [1]  # links, then data
    assert 1 <= len(links) <= 174
    assert dict(unixfs)[1] == 2  # UnixFS File
    sizes = [value for number, value in unixfs if number == 4]
    parts, depths = [], set()
    for link, size in zip(links, sizes):
        child = CID.decode(dict(link)[1])
        assert dict(link)[2] == b""  # Kubo writes an empty name
        content, depth = assemble(child, blocks)
        assert len(content) == size
        parts.append(content)
        depths.add(depth)
    assert len(depths) == 1  # balanced: every leaf at the same depth
    data = b"".join(parts)
    assert dict(unixfs)[3] == len(data)
    return data, depths.pop() + 1


def _car_file(data: bytes) -> tuple[str, bytes, int]:
    out = io.BytesIO()
    cid, size = write_car([data[i : i + 100_000] for i in range(0, len(data), 100_000)], out)
    roots, blocks = read_car(out.getvalue())
    assert [str(root) for root in roots] == [cid]
    content, depth = assemble(roots[0], blocks)
    assert size == len(data)
    return cid, content, depth


@pytest.mark.parametrize(
    ("size", "depth"),
    [(0, 0), (1000, 0), (256 * 1024, 0), (256 * 1024 + 1, 1), (175 * 256 * 1024 + 7, 2)],
)
def test_car_is_a_valid_unixfs_file(size: int, depth: int) -> None:
    """Single raw leaf, one level and two levels of 174-link nodes all read back exactly."""
    data = (bytes(range(251)) * (size // 251 + 1))[:size]  # chunks differ (251 is prime)
    cid, content, got_depth = _car_file(data)
    assert content == data
    assert got_depth == depth
    if size == 0:
        assert cid == KUBO_EMPTY_FILE


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A log of sample records."""
    records = sample_records(9)
    for record in records:
        record["files"] = [f"{record['user_id']}/app.py"]
    write_log(log_path, records)
    return log_path, records


def _exported(car: Path) -> tuple[str, list[dict[str, Any]]]:
    roots, blocks = read_car(car.read_bytes())
    data, _ = assemble(roots[0], blocks)
    return str(roots[0]), [json.loads(line) for line in data.splitlines()]


def test_export_is_anonymised_by_default(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Records reach the CAR with users (and mentions of them) replaced by their tokens."""
    log_path, records = log
    car = tmp_path / "out.car"
    count = export_generation_logs(f"ipfs://{car}", path=log_path)
    assert count == len(records)
    cid, sent = _exported(car)
    for original, copy in zip(records, sent):
        token = pseudonymize_user_id(original["user_id"], path=log_path)
        assert copy["user_id"] == token
        assert copy["files"] == [f"{token}/app.py"]
        assert copy["project_name"] == original["project_name"]
    for user in ("user_0", "user_1", "user_2"):
        assert user.encode() not in car.read_bytes()
    event = get_generation_logs(event="export", path=log_path)[-1]
    assert event["receipt"] == {"cid": cid, "anonymized": True}
    assert event["destination"] == "ipfs://out.car"
    assert (car.stat().st_mode & 0o777) == 0o600


def test_identified_export_only_when_asked_and_purge_reports_it(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """anonymize=false keeps ids; erasing such a user is reported as not reaching IPFS."""
    log_path, records = log
    car = tmp_path / "clear.car"
    export_generation_logs(f"ipfs://{car}?anonymize=false", user_id="user_1", path=log_path)
    cid, sent = _exported(car)
    assert sent == [r for r in records if r["user_id"] == "user_1"]
    purge_generation_logs(user_id="user_0", path=log_path)  # not in that CAR: nothing to say
    assert all(o["ok"] for o in get_generation_logs(event="purge", path=log_path)[-1]["recipients"])
    purge_generation_logs(user_id="user_1", path=log_path)
    event = get_generation_logs(event="purge", path=log_path)[-1]
    (outcome,) = [o for o in event["recipients"] if o["exporter"] == "ipfs"]
    assert outcome["ok"] is False
    assert "cannot be erased" in outcome["error"] and cid in outcome["error"]


def test_existing_car_is_not_replaced_without_overwrite(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """An existing file stays as it was unless overwrite=True."""
    log_path, _ = log
    car = tmp_path / "out.car"
    car.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        export_generation_logs(f"ipfs://{car}", path=log_path)
    assert car.read_bytes() == b"keep me"
    export_generation_logs(f"ipfs://{car}", overwrite=True, path=log_path)
    assert _exported(car)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "out.car"]  # no temp left


class FakeKubo:
    """Kubo's RPC for dag/import and pin/rm: parses the multipart CAR and answers its root."""

    def __init__(self) -> None:
        self.imported: list[bytes] = []
        self.unpinned: list[str] = []

    def __call__(self, request: Request) -> Reply:
        if request.method != "POST":
            return 405, {}, b""
        if request.path.startswith("/api/v0/dag/import?"):
            assert "pin-roots=true" in request.path
            boundary = request.headers["Content-Type"].split("boundary=")[1].encode()
            part = request.body.split(b"--" + boundary)[1]
            car = part.split(b"\r\n\r\n", 1)[1][: -len(b"\r\n")]
            roots, _ = read_car(car)
            self.imported.append(car)
            return 200, {}, json.dumps({"Root": {"Cid": {"/": str(roots[0])}}}).encode() + b"\n"
        if request.path.startswith("/api/v0/pin/rm?arg="):
            self.unpinned.append(request.path.split("arg=")[1])
            return json_reply(200, {"Pins": [self.unpinned[-1]]})
        return 404, {}, b""


def test_import_into_a_node_through_the_rpc_api(
    log: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With $IPFS_API and no path, the CAR goes to dag/import (pinned); unpinned on erasure."""
    log_path, _ = log
    kubo = FakeKubo()
    with local_server(kubo) as server:
        monkeypatch.setenv("IPFS_API", server.url)
        export_generation_logs("ipfs://?anonymize=false", path=log_path)
        (car,) = kubo.imported
        roots, _ = read_car(car)
        event = get_generation_logs(event="export", path=log_path)[-1]
        assert event["receipt"]["cid"] == str(roots[0])
        purge_generation_logs(user_id="user_2", path=log_path)
    assert kubo.unpinned == [str(roots[0])]


def test_no_path_and_no_node_is_refused(log: tuple[Path, list[dict[str, Any]]]) -> None:
    """ipfs:// alone says what it needs."""
    log_path, _ = log
    with pytest.raises(ValueError, match="CAR path"):
        export_generation_logs("ipfs://", path=log_path)


def test_cli_prints_the_root_cid(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """`dihya-logs export ipfs://…` prints the root CID it wrote."""
    log_path, records = log
    car = tmp_path / "cli.car"
    result = run_cli("export", f"ipfs://{car}", "--file", str(log_path), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    cid, sent = _exported(car)
    assert len(sent) == len(records)
    assert f"cid: {cid}" in result.stdout.splitlines()


def test_cli_shows_progress_on_a_terminal(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """On a terminal an exporter's export draws the progress line like a file export."""
    from test_cli_terminal import run_on_terminal

    records = sample_records(5000)
    write_log(log_path, records)
    car = tmp_path / "big.car"
    status, screen = run_on_terminal(["export", f"ipfs://{car}", "--file", str(log_path)],
                                     subprocess_env)  # fmt: skip
    assert status == 0, screen
    assert "exporting… " in screen
    assert f"{len(records):,} records" in screen
    assert f"exported {len(records)} records" in screen
    assert len(_exported(car)[1]) == len(records)

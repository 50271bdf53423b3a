"""Store benchmark (issue 4): reading, querying, exporting and purging a big rotated log.

``python -m benchmarks.bench_store [--events N]`` (or ``python -m benchmarks --only store --
--events N``; ``$DIHYA_BENCH_EVENTS`` also sets N). Generates N realistic generation events
(default 1,000,000) rotated into several files, half of them gzipped, then times each store
operation beside its physical reference on the same files in the same run, and prints ratios:

* ``get_generation_logs(limit=100)`` beside ``tail -n 100`` of the live file;
* a one-user ``get_generation_logs(user_id=U)`` beside ``grep -c -F`` on the plain files and
  ``zgrep -c -F`` on the gzipped ones;
* a full export to JSONL and to CSV beside ``cat`` / ``zcat`` of every file ``> file``;
* a one-user ``purge_generation_logs(user_id=U)`` beside ``grep -v -F > file`` per plain file
  and ``zcat | grep -v -F | gzip -6 > file`` per gzipped file.

The purge reference recompresses because a purge must leave ``.gz`` files compressed (the
store writes them at level 6, gzip's default). Targets: ``limit=100`` under 50 ms whatever the
size; one-user query within 3x of ``grep -c``; one-user purge within 3x of ``grep -v``.
Medians of ``--repeats`` runs (each purge repeat erases a different user of the same size).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from dihya_logging._logset import LogSet
from dihya_logging.store._api import get_generation_logs, purge_generation_logs
from dihya_logging.store._export import export_generation_logs
from dihya_logging.store._formats import dump_record

__all__ = ["generate_log", "main"]

STACKS = ("fullstack", "backend", "frontend", "mobile", "static")
TEMPLATES = ("e-commerce", "blog", "portfolio", "dashboard", "landing", None)
PLUGINS = ("analytics", "i18n", "payments-stripe", "auth-oauth", "seo", "pwa")
PATHS = (
    "README.md", "LICENSE", ".gitignore", "docker-compose.yml", "backend/app.py",
    "backend/models.py", "backend/routes/auth.py", "backend/routes/products.py",
    "backend/routes/orders.py", "backend/requirements.txt", "frontend/package.json",
    "frontend/src/App.js", "frontend/src/index.js", "frontend/src/pages/Home.js",
    "frontend/src/pages/Cart.js", "frontend/src/i18n/ber.json", "frontend/public/index.html",
)  # fmt: skip
PROJECTS = ("Blog Amazigh", "Tanemmirt Shop", "Agraw Portal", "Tafsut Dashboard", "Idurar Maps")
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _event(index: int, users: int, rng: random.Random | None = None) -> dict[str, Any]:
    """One realistic generation event (what `log_generation_event` writes), deterministic.

    ``rng`` adds the entropy real events have (trace ids, durations), so gzip compresses the
    rotated files about as much as real logs (~6x), not 20x.
    """
    rng = rng or random.Random(index)
    created = START + index * 2.6
    seconds = int(created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    error = index % 23 == 0
    files = [PATHS[(index + k) % len(PATHS)] for k in range(5 + index % 13)]
    return {
        "timestamp": f"{stamp}.{int((created - seconds) * 1000):03d}Z",
        "level": "ERROR" if error else "INFO",
        "logger": "dihya.generation",
        "message": "generation",
        "event": "generation",
        "user_id": f"user_{(index * 7919) % users:06d}",
        "project_name": f"{PROJECTS[index % len(PROJECTS)]} {index % 997}",
        "stack": STACKS[index % len(STACKS)],
        "files": files,
        "files_count": len(files),
        "plugins": [PLUGINS[(index + k) % len(PLUGINS)] for k in range(index % 4)],
        "template": TEMPLATES[index % len(TEMPLATES)],
        "status": "error" if error else "success",
        "error": "template rendering failed: missing variable 'brand'" if error else None,
        "request_id": f"req-{index:08x}",
        "trace_id": f"{rng.getrandbits(128):032x}",
        "client_ip": f"203.0.{rng.randrange(256)}.{rng.randrange(256)}",
        "duration_ms": round(rng.uniform(300, 3000), 1),
        "generator_version": "2.4.1",
    }


def generate_log(log: Path, events: int, files: int, users: int) -> None:
    """Write ``events`` events, oldest first, over ``files`` files (odd backups gzipped)."""
    logset = LogSet(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    per_file = -(-events // files)
    targets = [(logset.rotated_path(i, i % 2 == 1), i % 2 == 1) for i in range(files - 1, 0, -1)]
    targets.append((logset.path, False))
    index = 0
    rng = random.Random(4)
    for target, gz in targets:
        chunk_end = min(index + per_file, events)
        with (
            open(target, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)
            if gz
            else contextlib.nullcontext(raw) as out,
        ):
            batch: list[bytes] = []
            for number in range(index, chunk_end):
                batch.append(dump_record(_event(number, users, rng)) + b"\n")
                if len(batch) >= 10_000:
                    out.write(b"".join(batch))
                    batch.clear()
            out.write(b"".join(batch))
        os.chmod(target, 0o600)
        index = chunk_end


def _shell(command: str) -> float:
    """Seconds to run a shell command (output redirected by the command itself)."""
    started = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", command], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds to run ``action`` and its result."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _quote(path: Path) -> str:
    """A path for /bin/sh."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def _split(log: Path) -> tuple[list[Path], list[Path]]:
    """The plain and the gzipped files of the set, oldest first."""
    everything = LogSet(log).files()
    return [p for p in everything if p.suffix != ".gz"], [
        p for p in everything if p.suffix == ".gz"
    ]


def _needle(user: str) -> str:
    """The bytes a line of ``user`` contains (what grep looks for)."""
    return f'"user_id":"{user}"'


def _grep_count(log: Path, user: str) -> str:
    """grep -c on plain files and zgrep -c on gz files: the physical one-user query."""
    plain, packed = _split(log)
    needle = _quote(Path(_needle(user)))
    parts = [f"grep -c -F {needle} {' '.join(map(_quote, plain))} || true"]
    if packed:
        parts.append(f"zgrep -c -F {needle} {' '.join(map(_quote, packed))} || true")
    return "; ".join(parts)


def _cat_all(log: Path, out: Path) -> str:
    """cat plain files and zcat gz files, oldest first, into ``out``."""
    steps = [
        f"{'zcat' if p.suffix == '.gz' else 'cat'} {_quote(p)} >> {_quote(out)}"
        for p in LogSet(log).files()
    ]
    return f": > {_quote(out)}; " + "; ".join(steps)


def _grep_v(log: Path, user: str, scratch: Path) -> str:
    """grep -v per plain file, zcat | grep -v | gzip -6 per gz file, into scratch files."""
    needle = _quote(Path(_needle(user)))
    steps = []
    for number, path in enumerate(LogSet(log).files()):
        target = _quote(scratch / f"purged.{number}")
        if path.suffix == ".gz":
            steps.append(
                f"zcat {_quote(path)} | (grep -v -F {needle} || true) | gzip -6 > {target}"
            )
        else:
            steps.append(f"(grep -v -F {needle} {_quote(path)} || true) > {target}")
    return "; ".join(steps)


def _row(
    name: str, ours: list[float], reference: str, ref: list[float], target: str
) -> dict[str, Any]:
    """One result: medians, ratio and verdict."""
    mine, theirs = statistics.median(ours), statistics.median(ref)
    ratio = mine / theirs if theirs else float("inf")
    verdict = ""
    if target.startswith("<="):
        verdict = "PASS" if ratio <= float(target.split()[1].rstrip("x")) else "FAIL"
    elif target.startswith("<"):
        verdict = "PASS" if max(ours) * 1000 < float(target.split()[1]) else "FAIL"
    return {
        "operation": name, "ours_s": mine, "ours_max_s": max(ours), "reference": reference,
        "reference_s": theirs, "ratio": ratio, "target": target, "verdict": verdict,
    }  # fmt: skip


def _fmt(seconds: float) -> str:
    """Seconds as ms or s."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def run(events: int, files: int, users: int, repeats: int, directory: Path) -> dict[str, Any]:
    """Generate the log, measure everything, return the results."""
    log = directory / "logs" / "generation.log"
    scratch = directory / "scratch"
    scratch.mkdir(parents=True)
    generated, _ = _timed(lambda: generate_log(log, events, files, users))
    disk = sum(p.stat().st_size for p in LogSet(log).files())
    rows: list[dict[str, Any]] = []
    warnings.simplefilter("ignore")

    ours = [_timed(lambda: get_generation_logs(limit=100, path=log))[0] for _ in range(repeats * 3)]
    ref = [_shell(f"tail -n 100 {_quote(log)} > /dev/null") for _ in range(repeats * 3)]
    rows.append(_row("get_generation_logs(limit=100)", ours, "tail -n 100", ref, "< 50 ms"))

    user = f"user_{users // 3:06d}"
    ours, ref, found = [], [], 0
    for _ in range(repeats):
        ref.append(_shell(_grep_count(log, user)))
        seconds, records = _timed(lambda: get_generation_logs(user_id=user, path=log))
        ours.append(seconds)
        found = len(records)
    rows.append(_row(f"one-user query ({found} records)", ours, "grep -c / zgrep -c", ref, "<= 3x"))

    for suffix in ("jsonl", "csv"):
        ours, ref = [], []
        for attempt in range(repeats):
            ref.append(_shell(_cat_all(log, scratch / "cat.out")))
            destination = scratch / f"export-{attempt}.{suffix}"
            ours.append(_timed(partial(export_generation_logs, destination, path=log))[0])
            destination.unlink()
        rows.append(_row(f"full export to {suffix.upper()}", ours, "cat / zcat > file", ref, ""))
        (scratch / "cat.out").unlink()

    ours, ref, removed = [], [], 0
    for attempt in range(repeats):
        victim = f"user_{users // 3 + 1 + attempt:06d}"
        ref.append(_shell(_grep_v(log, victim, scratch)))
        for leftover in scratch.glob("purged.*"):
            leftover.unlink()
        seconds, removed = _timed(partial(purge_generation_logs, user_id=victim, path=log))
        ours.append(seconds)
    rows.append(
        _row(f"one-user purge ({removed} records)", ours, "grep -v (+gzip -6) > file", ref, "<= 3x")
    )
    plain, packed = _split(log)
    return {
        "events": events, "files": len(plain) + len(packed), "gzipped": len(packed),
        "users": users, "bytes_on_disk": disk, "generate_s": generated, "repeats": repeats,
        "python": sys.version.split()[0], "cpus": os.cpu_count(), "rows": rows,
    }  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        f"{results['events']:,} events in {results['files']} files ({results['gzipped']} gzipped), "
        f"{results['bytes_on_disk'] / 1e6:.0f} MB on disk, {results['users']:,} users; medians of "
        f"{results['repeats']} runs (Python {results['python']}, {results['cpus']} CPUs).",
        "",
        "| operation | dihya | reference | reference time | ratio | target |",
        "| --- | ---: | --- | ---: | ---: | --- |",
    ]
    for row in results["rows"]:
        target = f"{row['target']}: **{row['verdict']}**" if row["target"] else ""
        if row["target"].startswith("< "):
            target += f" (max {_fmt(row['ours_max_s'])})"
        lines.append(
            f"| {row['operation']} | {_fmt(row['ours_s'])} | `{row['reference']}` | "
            f"{_fmt(row['reference_s'])} | {row['ratio']:.2f}x | {target} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the table (and write JSON if asked)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default = int(os.environ.get("DIHYA_BENCH_EVENTS", "1000000"))
    parser.add_argument("--events", type=int, default=default, help=f"default {default:,}")
    parser.add_argument("--files", type=int, default=8, help="files in the set (default 8)")
    parser.add_argument("--users", type=int, help="distinct users (default events / 50)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per operation (default 3)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.events < args.files or args.files < 2:
        parser.error("need --files >= 2 and at least one event per file")
    users = args.users or max(args.events // 50, 10)
    work = Path(tempfile.mkdtemp(prefix="dihya-bench-store-", dir=args.dir))
    try:
        results = run(args.events, args.files, users, args.repeats, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(row["verdict"] != "FAIL" for row in results["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())

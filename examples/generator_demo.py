"""A simulated project generator serving several users, logged with dihya-logging.

Run with ``make demo`` (or ``python examples/generator_demo.py [DIRECTORY]``). It generates
projects (some fail, some inputs carry secrets) into a log set in ``demo-logs/``, then shows what
an administrator sees — first through the Python API (the latest records, an export, a GDPR
erasure, a tamper check), then through the ``dihya-logs`` command — and proves, by scanning
every byte on disk and every line printed, that no secret was written. The log stays in
``demo-logs/`` so you can look at it; the next run starts it afresh.
"""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from pathlib import Path

import dihya_logging as dl

SECRETS = [
    "hunter2-super-secret",
    "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
    "sk_live_51Habcdefghijklmnopqrstuv",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "print('the generated file content must never be logged')",
]

STACKS = ["fullstack", "backend", "frontend", "mobile"]
TEMPLATES = ["e-commerce", "blog", "portfolio", "dashboard"]
USERS = ["user_amina", "user_yanis", "user_tiziri", "user_massin"]
LOG_NAME = "generation.log"
EXPORT_NAME = "audit.csv"


def generate(user: str, number: int, rng: random.Random) -> None:
    """Pretend to generate one project and log it (success or failure)."""
    needs = {
        "project_name": f"Projet {user} #{number}",
        "stack": rng.choice(STACKS),
        "plugins": rng.sample(["analytics", "auth", "payments", "i18n"], k=2),
        "template": rng.choice(TEMPLATES),
        # what the generator also holds and must never reach the log:
        "raw_spec": "Build me a shop. My admin password is hunter2-super-secret",
        "api_key": SECRETS[1],
    }
    code = {
        "README.md": "# readme",
        "backend/app.py": SECRETS[4],
        "frontend/App.js": "export default App;",
    }
    if rng.random() < 0.25:
        error = RuntimeError(
            f"template engine failed: stripe key {SECRETS[2]} rejected, Authorization: "
            f"Bearer {SECRETS[3]}"
        )
        dl.log_generation_event(user, needs, code, status="error", error=error)
    else:
        dl.log_generation_event(
            user, needs, code, extra={"duration_ms": rng.randint(200, 4000), "token": SECRETS[0]}
        )


def read_all(path: Path) -> bytes:
    """A file's bytes, decompressed when it is gzipped."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def start_afresh(directory: Path) -> None:
    """Remove what an earlier run of the demo wrote there (and nothing else)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in [*directory.glob(f"{LOG_NAME}*"), directory / EXPORT_NAME]:
        path.unlink(missing_ok=True)


def shown(path: Path) -> str:
    """A path as the reader would type it: relative to the current directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_cli(*args: str) -> str:
    """Run ``dihya-logs ARGS``, print the command and its output, and return that output."""
    print(f"\n$ dihya-logs {' '.join(args)}")
    result = subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    print(output.rstrip("\n"))
    if result.returncode != 0:
        print(f"(exit status {result.returncode})")
    return output


def api_tour(log_file: Path) -> bool:
    """What an administrator sees through the Python API; True when the tamper check passes."""
    print(f"Log set in {shown(log_file.parent)}/:")
    for path in sorted(log_file.parent.glob(f"{LOG_NAME}*")):
        info = path.stat()
        print(f"  {path.name:<24} {info.st_size:>7} bytes  mode {oct(info.st_mode & 0o777)}")

    print("\nThe 5 latest records:")
    for record in dl.get_generation_logs(5):
        print(
            f"  {record['timestamp']}  {record.get('user_id', '-'):<12} "
            f"{record.get('status', '-'):<8} {record.get('project_name')}"
        )

    failures = dl.get_generation_logs(status="error")
    print(f"\nFailed generations: {len(failures)}; the newest as written on disk:")
    print(" ", failures[-1] if failures else None)

    exported = dl.export_generation_logs(log_file.parent / EXPORT_NAME, actor="demo-admin")
    print(f"\nExported {exported} records to {shown(log_file.parent / EXPORT_NAME)}")

    removed = dl.purge_generation_logs(user_id="user_yanis", actor="demo-admin")
    print(f"GDPR erasure of user_yanis: {removed} records removed")

    report = dl.verify_generation_logs()
    print(f"Tamper check after the lawful purge: ok={report.ok} problems={report.problems}")

    audit = [r["event"] for r in dl.get_generation_logs() if r.get("event") != "generation"]
    print(f"Audit trail of sensitive actions: {audit}")
    return report.ok


def main(argv: list[str]) -> int:
    directory = Path(argv[0] if argv else "demo-logs").resolve()
    start_afresh(directory)
    log_file = directory / LOG_NAME
    dl.configure(log_file, maxBytes=4096, backupCount=50, compress=True, chain=True)
    rng = random.Random(7)
    for number in range(40):
        generate(rng.choice(USERS), number, rng)

    intact = api_tour(log_file)

    print("\nThe same log set through the command line:")
    where = ("--file", shown(log_file))
    printed = run_cli("tail", "-n", "2", *where)
    printed += run_cli("query", "--user", "user_amina", "--limit", "3", *where)
    printed += run_cli("stats", *where)
    printed += run_cli("verify", *where)

    files = [p for p in sorted(directory.iterdir()) if p.is_file()]
    leaked = [(p.name, s[:12]) for p in files for s in SECRETS if s.encode() in read_all(p)]
    leaked += [("output", s[:12]) for s in SECRETS if s in printed]
    logs = [p for p in files if p.name.startswith(LOG_NAME)]
    yanis = [p.name for p in logs if b"user_yanis" in read_all(p)]
    print(f"\nSecrets found in any file on disk or any line printed: {leaked or 'none'}")
    print(f"Log files still naming user_yanis: {yanis or 'none'}")
    print(
        f"({EXPORT_NAME} was exported before the erasure: a copy outside the log is yours to erase)"
    )
    print(
        f"\nThe log stays in {shown(directory)}/. Look around with the same command:\n"
        f"  . .venv-demo/bin/activate\n"
        f"  dihya-logs query --status error --file {shown(log_file)}"
    )
    return 1 if leaked or yanis or not intact else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

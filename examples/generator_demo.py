"""A simulated project generator serving several users, logged with dihya-logging.

Run with ``make demo``. It generates projects (some fail, some inputs carry secrets), then shows
what an administrator sees: the latest records, an export, a GDPR erasure, a tamper check — and
proves by scanning every byte on disk that no secret was written.
"""

from __future__ import annotations

import gzip
import random
import shutil
import sys
import tempfile
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


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="dihya-demo-"))
    log_file = workdir / "logs" / "generation.log"
    dl.configure(log_file, maxBytes=4096, backupCount=50, compress=True, chain=True)
    rng = random.Random(7)
    users = ["user_amina", "user_yanis", "user_tiziri", "user_massin"]
    for number in range(40):
        generate(rng.choice(users), number, rng)

    print(f"Log set in {log_file.parent}:")
    for path in sorted(log_file.parent.iterdir()):
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

    exported = dl.export_generation_logs(workdir / "audit.csv", actor="demo-admin")
    print(f"\nExported {exported} records to audit.csv")

    removed = dl.purge_generation_logs(user_id="user_yanis", actor="demo-admin")
    print(f"GDPR erasure of user_yanis: {removed} records removed")

    report = dl.verify_generation_logs()
    print(f"Tamper check after the lawful purge: ok={report.ok} problems={report.problems}")

    audit = [r["event"] for r in dl.get_generation_logs() if r.get("event") != "generation"]
    print(f"Audit trail of sensitive actions: {audit}")

    files = [p for p in sorted(workdir.rglob("*")) if p.is_file()]
    leaked = [(p.name, s[:12]) for p in files for s in SECRETS if s.encode() in read_all(p)]
    logs = [p for p in files if p.parent == log_file.parent]
    yanis = [p.name for p in logs if b"user_yanis" in read_all(p)]
    print(f"\nSecrets found in any file on disk: {leaked or 'none'}")
    print(f"Log files still naming user_yanis: {yanis or 'none'}")
    shutil.rmtree(workdir)
    return 1 if leaked or yanis or not report.ok else 0


if __name__ == "__main__":
    sys.exit(main())

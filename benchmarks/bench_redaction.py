"""Benchmark of the redaction engine alone: ns per realistic event, and growth with event size.

Run: ``python -m benchmarks.bench_redaction`` (or ``python benchmarks/bench_redaction.py``).
Prints median ns/event over repeated runs for `default_redactor().redact` beside a naive
recursive redactor (the reference a straightforward implementation gives), in three regimes:
warm (the same event again: every string already known clean), realistic (fresh user id,
timestamp and request id per event, file names from a template) and cold (every string new).
Then the cost on events of growing size, in ns per element, to show linear growth.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dihya_logging.redaction import Redactor

MASK = "[REDACTED]"
_NAIVE_KEYS = {
    "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "authorization",
    "cookie", "session", "credentials", "private_key", "access_token", "spec", "content",
}  # fmt: skip
_NAIVE_TEXT = re.compile(
    r"(?i:bearer)\s+[A-Za-z0-9._~+/-]+=*|eyJ[\w-]+\.[\w-]+\.[\w-]*|gh[pousr]_[A-Za-z0-9]{36}"
    r"|AKIA[0-9A-Z]{16}|xox[abprs]-[\w-]+|[rs]k_live_[0-9a-zA-Z]{24}|AIza[\w-]{35}"
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----"
    r"|(?<=://)[^:/\s]+:[^@/\s]+(?=@)|(?i:password|token|secret|api_key)\s*[=:]\s*\S+"
)


def naive_redact(obj: Any) -> Any:
    """The straightforward reference: recursive walk, normalised key set, one regex per string."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            key = str(k)
            norm = key.lower().replace("-", "_")
            out[key] = MASK if norm in _NAIVE_KEYS else naive_redact(v)
        return out
    if isinstance(obj, (list, tuple, set)):
        return [naive_redact(v) for v in obj]
    if isinstance(obj, str):
        return _NAIVE_TEXT.sub(MASK, obj)
    return obj


FILES = [
    "README.md", "backend/app.py", "backend/models.py", "backend/routes/auth.py",
    "backend/routes/products.py", "backend/requirements.txt", "backend/config.py",
    "frontend/package.json", "frontend/src/App.js", "frontend/src/index.js",
    "frontend/src/components/Header.jsx", "frontend/src/components/ProductList.jsx",
    "frontend/src/components/Cart.jsx", "frontend/src/pages/Checkout.jsx",
    "frontend/src/pages/Login.jsx", "frontend/src/api/client.js", "docker-compose.yml",
    "Dockerfile", ".env.example", "docs/ARCHITECTURE.md",
]  # fmt: skip


def make_event(n: int = 0, scale: int = 1, unique: bool = False) -> dict[str, Any]:
    """The realistic generation record as the formatter sees it (20 files, two secrets)."""
    tag = f"-{n}" if unique else ""
    files = [f"{f}{tag}.{i}" if unique or i else f for i in range(scale) for f in FILES]
    meta = {
        "request_id": f"req-8f14e45f{n}",
        "duration_ms": 182.4,
        "client": {"ip": "203.0.113.7", "user_agent": f"dihya-cli/1.4.{n}",
                   "api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
        "options": {"dark_mode": True, "locale": "ber-MA", "retries": 3},
        "database": {"engine": "postgres", "password": "hunter2"},
    }  # fmt: skip
    return {
        "timestamp": f"2026-11-23T12:34:{n % 60:02d}.{n % 1000:03d}Z",
        "level": "INFO",
        "logger": "dihya.generation",
        "message": "generation",
        "event": "generation",
        "user_id": f"user_{n}",
        "project_name": f"Blog Amazigh{tag}",
        "stack": "fullstack",
        "files": files,
        "files_count": len(files),
        "plugins": ["analytics", "auth", "payments"] * scale,
        "template": "e-commerce",
        "status": "success",
        "error": None,
        "metadata": {f"m{i}{tag}": meta for i in range(scale)} if scale > 1 else meta,
    }


def elements(obj: Any) -> int:
    """Number of nodes (containers, keys' values, leaves) in a structure."""
    if isinstance(obj, dict):
        return 1 + sum(elements(v) for v in obj.values())
    if isinstance(obj, list):
        return 1 + sum(elements(v) for v in obj)
    return 1


def median_ns(fn: Callable[[Any], Any], events: list[Any], loops: int, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean ns per call of fn over `events`, `loops` times."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            for ev in events:
                fn(ev)
        runs.append((time.perf_counter_ns() - t0) / (loops * len(events)))
    return statistics.median(runs)


def main() -> None:
    """Print the tables."""
    fresh_redactor = Redactor()
    same = [make_event()]
    realistic = [make_event(n) for n in range(2000)]
    cold = [make_event(n, unique=True) for n in range(2000)]
    print(f"event: {elements(same[0])} elements, Python {sys.version.split()[0]}")
    print(f"{'regime':<12}{'dihya ns/event':>16}{'naive ns/event':>16}{'ratio':>8}")
    for name, evs, loops in (
        ("warm", same, 20000),
        ("realistic", realistic, 10),
        ("cold", cold, 1),
    ):
        ours = median_ns(fresh_redactor.redact, evs, loops)
        ref = median_ns(naive_redact, evs, loops)
        print(f"{name:<12}{ours:>16.0f}{ref:>16.0f}{ref / ours:>7.1f}x")
    print()
    print(f"{'size':<6}{'elements':>9}{'warm ns':>10}{'ns/elt':>8}{'cold ns':>10}{'ns/elt':>8}"
          f"{'naive ns':>10}{'ns/elt':>8}")  # fmt: skip
    for scale in (1, 2, 4, 8, 16):
        r = Redactor()
        warm_evs = [make_event(scale=scale)]
        cold_evs = [make_event(n, scale=scale, unique=True) for n in range(max(20, 2000 // scale))]
        size = elements(warm_evs[0])
        w = median_ns(r.redact, warm_evs, max(200, 20000 // scale))
        c = median_ns(Redactor().redact, cold_evs, 1)
        nv = median_ns(naive_redact, warm_evs, max(200, 20000 // scale))
        print(f"x{scale:<5}{size:>9}{w:>10.0f}{w / size:>8.1f}{c:>10.0f}{c / size:>8.1f}"
              f"{nv:>10.0f}{nv / size:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()

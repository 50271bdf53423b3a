"""Benchmark of the redaction engine alone: ns per realistic event, and growth with event size.

Run: ``python -m benchmarks.bench_redaction`` (or ``python benchmarks/bench_redaction.py``).
Uses the suite's realistic event (`benchmarks.event`: 20 files, plugins, nested metadata with
two secrets). Prints the median ns/event of `Redactor().redact` over repeated runs beside a
naive recursive redactor (the reference: key set + one regex per string), a key-only redactor
and a bare recursive copy (floors no text-scanning redactor can beat), all measured interleaved
in the same run, in three regimes: ``repeat`` (the same event again), ``realistic`` (a new
request id per event, as the suite does) and ``cold`` (every string new). Then the cost on
events of growing size in ns per JSON node: flat columns mean linear growth. Last, end to end
side by side (``--end-to-end`` alone): python-json-logger's ``JsonFormatter`` and dihya's
``RedactingJsonFormatter``, each with a ``FileHandler``, on the suite's event, on the event with
every string new, and on the event with a credential in its error text (issue 11's targets:
<= 1.0x, <= 1.5x, <= 2.0x), dihya with its default redactor (the compiled prefilter when the
``fast`` extra installed it) and with the pure-`re` one.
"""

from __future__ import annotations

import logging
import os
import re
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.event import SECRETS, Renewer, count_nodes, flat_event, scaled_event, unique_variant
from dihya_logging.redaction._prefilter import wanted as prefilter_wanted
from dihya_logging.redaction._redactor import Redactor

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
            out[key] = MASK if key.lower().replace("-", "_") in _NAIVE_KEYS else naive_redact(v)
        return out
    if isinstance(obj, (list, tuple, set)):
        return [naive_redact(v) for v in obj]
    if isinstance(obj, str):
        return _NAIVE_TEXT.sub(MASK, obj)
    return obj


def key_only(obj: Any) -> Any:
    """A floor: the naive walk without any text scanning (misses secrets inside strings)."""
    t = type(obj)
    if t is dict:
        return {k: MASK if k.lower() in _NAIVE_KEYS else key_only(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [key_only(v) for v in obj]
    return obj


def bare_copy(obj: Any) -> Any:
    """The floor of any Python walker: an exact-type recursive copy that redacts nothing."""
    t = type(obj)
    if t is dict:
        return {k: bare_copy(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [bare_copy(v) for v in obj]
    return obj


def feeder(kind: str, scale: int, n: int) -> Callable[[], Any]:
    """A function returning the next event of the regime (renewal cost is the same for all)."""
    event = scaled_event(scale)
    if kind == "repeat":
        return lambda: event
    if kind == "realistic":
        renew = Renewer(event["request"])

        def renewed() -> Any:
            renew()
            return event

        return renewed
    variants = [unique_variant(event, f"#{i}") for i in range(n)]
    it = iter(variants * 1000)
    return lambda: next(it)


def measure(
    fns: dict[str, Callable[[Any], Any]], kind: str, scale: int, n: int
) -> dict[str, float]:
    """Median over 7 interleaved rounds of the mean ns per call of each function."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(7):
        for name, fn in fns.items():
            nxt = feeder(kind, scale, n)
            for _ in range(min(n, 50)):  # warm caches as a long-running process would
                fn(nxt())
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn(nxt())
            runs[name].append((time.perf_counter_ns() - t0) / n)
    return {name: statistics.median(v) for name, v in runs.items()}


ERROR_WITH_SECRET = (
    "git push failed: remote: Invalid username or password.\nfatal: Authentication failed for "
    "'https://x-access-token:ghp_R8mQ2vXk9LpT4wYc7NbE1sJd6HfA3gZu0KiO@github.com/org/shop.git/'"
)
"""A generator's typical error text with a token inside (a failed ``git push``)."""
TARGETS = {"suite event": 1.0, "all strings new": 1.5, "secret in error": 2.0}


def _events(kind: str, n: int) -> Callable[[], dict[str, Any]]:
    """The next event of an end-to-end regime (pre-built, so building costs nothing)."""
    if kind == "all strings new":
        variants = iter([unique_variant(flat_event(), f"#{i}") for i in range(n)])
        return lambda: next(variants)
    event = flat_event()
    if kind == "secret in error":
        event["status"], event["error"] = "error", ERROR_WITH_SECRET
    renew = Renewer(event["request"])

    def renewed() -> dict[str, Any]:
        renew()
        return event

    return renewed


def end_to_end(n: int = 1000, rounds: int = 15) -> dict[str, tuple[float, ...]]:
    """Median us/event of pjl JsonFormatter and dihya RedactingJsonFormatter (the default
    redactor, and one on the pure-`re` path: ``prefilter=False``), taking turns in short
    batches, and the median of each round's ratios to pjl (a load change between rounds
    weighs on all three alike)."""
    from pythonjsonlogger.json import JsonFormatter

    from dihya_logging.formatter._formatter import RedactingJsonFormatter

    out: dict[str, tuple[float, ...]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in TARGETS:
            runs: dict[str, list[float]] = {"pjl": [], "dihya": [], "pure": []}
            for r in range(rounds):
                for name, fmt in (
                    ("pjl", JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")),
                    ("dihya", RedactingJsonFormatter()),
                    ("pure", RedactingJsonFormatter(redactor=Redactor(prefilter=False))),
                ):
                    handler = logging.FileHandler(os.path.join(tmp, f"{name}{r}.log"))
                    handler.setFormatter(fmt)
                    logger = logging.getLogger(f"bench.e2e.{name}.{r}.{kind}")
                    logger.propagate, logger.handlers = False, [handler]
                    logger.setLevel(logging.INFO)
                    nxt = _events(kind, n + 50)
                    for _ in range(50):  # warm caches as a long-running process would
                        logger.info("generation", extra=nxt())
                    t0 = time.perf_counter_ns()
                    for _ in range(n):
                        logger.info("generation", extra=nxt())
                    runs[name].append((time.perf_counter_ns() - t0) / n / 1000)
                    handler.close()
            ratios = [
                statistics.median(x / p for x, p in zip(runs[name], runs["pjl"]))
                for name in ("dihya", "pure")
            ]
            out[kind] = (*(statistics.median(runs[k]) for k in ("pjl", "dihya", "pure")), *ratios)
        for name in os.listdir(tmp):
            with open(os.path.join(tmp, name), encoding="utf-8") as fh:
                leaked = "ghp_R8mQ2vXk9" in fh.read()
            assert not (leaked and not name.startswith("pjl")), "a secret reached dihya's file"
    return out


def print_end_to_end() -> None:
    """The issue-11 table: each regime's us/event, the ratios and the target."""
    print("end to end, same process, 15 rounds x 1,000 events in turn (median us/event;")
    print("dihya: the default redactor,", end=" ")
    print(f"compiled prefilter {'on' if prefilter_wanted() else 'off'}; pure: prefilter=False):")
    print(f"{'regime':<18}{'pjl':>8}{'dihya':>8}{'ratio':>8}{'pure':>8}{'ratio':>8}{'target':>8}")
    for kind, (pjl, dihya, pure, ratio, pure_ratio) in end_to_end().items():
        target = TARGETS[kind]
        verdict = "PASS" if ratio <= target else "FAIL"
        print(f"{kind:<18}{pjl:>8.1f}{dihya:>8.1f}{ratio:>7.2f}x{pure:>8.1f}{pure_ratio:>7.2f}x"
              f"{target:>7.1f}x {verdict}")  # fmt: skip
    print(f"(ratios: the median of the rounds' ratios; load {os.getloadavg()[0]:.2f})")


def check_no_leak() -> None:
    """Refuse to report numbers for a redactor that lets the event's secrets through."""
    out = repr(Redactor().redact(flat_event()))
    assert not any(s in out for s in SECRETS), "secret leaked"


def main() -> None:
    """Print the tables (``--end-to-end``: only the end-to-end one)."""
    check_no_leak()
    if "--end-to-end" in sys.argv[1:]:
        print_end_to_end()
        return
    fns: dict[str, Callable[[Any], Any]] = {
        "dihya": Redactor().redact, "naive": naive_redact, "key-only": key_only, "bare": bare_copy,
    }  # fmt: skip
    print(f"realistic event: {count_nodes(flat_event())} nodes; Python {sys.version.split()[0]}")
    print(f"{'regime':<11}" + "".join(f"{n + ' ns':>13}" for n in fns) + f"{'naive/dihya':>13}")
    for kind, n in (("repeat", 20000), ("realistic", 20000), ("cold", 3000)):
        fns["dihya"] = Redactor().redact  # a fresh engine per regime: no memo carried over
        m = measure(fns, kind, 1, n)
        print(f"{kind:<11}" + "".join(f"{v:>13.0f}" for v in m.values())
              + f"{m['naive'] / m['dihya']:>12.1f}x")  # fmt: skip
    print()
    labels = ("dihya real", "dihya cold", "naive real", "bare real")
    print(f"{'size':<6}{'nodes':>7}" + "".join(f"{k + ' ns/node':>20}" for k in labels))
    for scale in (1, 2, 4, 8, 16):
        nodes = count_nodes(scaled_event(scale))
        n = max(200, 8000 // scale)
        real = measure({"dihya": Redactor().redact, "naive": naive_redact, "bare": bare_copy},
                       "realistic", scale, n)  # fmt: skip
        cold = measure({"dihya": Redactor().redact}, "cold", scale, max(100, 2000 // scale))
        cells = (real["dihya"], cold["dihya"], real["naive"], real["bare"])
        print(f"x{scale:<5}{nodes:>7}" + "".join(f"{c / nodes:>20.1f}" for c in cells))
    print()
    print_end_to_end()


if __name__ == "__main__":
    main()

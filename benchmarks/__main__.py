"""``python -m benchmarks``: the peer suite of issue 6 (``make bench``); ``--help`` for options.

Default: every contender, 5 repeats x 100,000 events, each in a fresh process, then the
redaction-scaling check and the redaction regimes side by side (``bench_redaction
--end-to-end``); prints a Markdown table and the issue-6 targets with PASS/FAIL and
writes the results to ``benchmarks/results/``. ``--quick`` runs 5 x 10,000. ``--only NAME``
(repeatable) picks contenders, ``scaling``, ``profile`` or another benchmark module of this
directory (``bench_sink``, ...; arguments after ``--`` are passed on to it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .contenders import CONTENDERS
from .report import markdown, write_json
from .suite import ROOT, run_suite

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
SPECIAL = {
    "scaling": "the redaction engine alone on the event grown x1..x16",
    "regimes": "issue 11's redaction regimes end to end beside python-json-logger, one process",
    "profile": "stage timings and cProfile of the dihya synchronous path",
}


def bench_modules() -> list[str]:
    """The other benchmark modules of this directory (``bench_*.py``), by module name."""
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def _list() -> str:
    lines = ["contenders (each in a fresh process):"]
    lines += [f"  {c.key:<16} ({c.number}) {c.label}" for c in CONTENDERS]
    lines += ["checks:"] + [f"  {key:<16} {text}" for key, text in SPECIAL.items()]
    lines += ["other benchmark modules (run with --only NAME [-- ARGS]):"]
    lines += [f"  {name}" for name in bench_modules()] or ["  (none yet)"]
    return "\n".join(lines)


def _run_module(name: str, passthrough: list[str]) -> int:
    module = name if name.startswith("bench_") else f"bench_{name}"
    command = [sys.executable, "-m", f"benchmarks.{module}", *passthrough]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def _profile(quick: bool) -> int:
    args = ["--events", "5000", "--calls", "3000"] if quick else []
    command = [sys.executable, "-m", "benchmarks.profiling", *args]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the selection, print Markdown, write the JSON results."""
    argv = sys.argv[1:] if argv is None else argv
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 x 10,000 events (about a minute)")
    parser.add_argument("--events", type=int, help="events per repeat (default 100,000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per contender (default 5)")
    parser.add_argument("--only", action="append", metavar="NAME", help="see --list; repeatable")
    parser.add_argument("--list", action="store_true", help="list contenders and modules")
    parser.add_argument("--profile", action="store_true", help="also profile the dihya path")
    parser.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    args = parser.parse_args(argv)
    if args.list:
        print(_list())
        return 0
    events = args.events or (10_000 if args.quick else 100_000)
    keys = {c.key for c in CONTENDERS}
    only = args.only or []
    unknown = [n for n in only if n not in keys and n not in SPECIAL and n not in _module_names()]
    if unknown:
        parser.error(f"unknown --only {', '.join(unknown)}\n{_list()}")
    status = 0
    for name in only:
        if name in _module_names():
            status |= _run_module(name, passthrough)
    chosen = [n for n in only if n in keys]
    if not only or chosen or "scaling" in only:
        results = run_suite(
            chosen if only else None,
            events,
            args.repeats,
            scaling=not only or "scaling" in only,
            scaling_budget=2.0 if args.quick else 10.0,
        )
        print(markdown(results))
        if not args.no_json:
            print(f"\nresults written to {write_json(results).relative_to(ROOT)}", file=sys.stderr)
    if not only or "regimes" in only:  # suite event, every string new, a secret in the error
        print()
        status |= _run_module("bench_redaction", ["--end-to-end"])
    if args.profile or "profile" in only:
        print()
        status |= _profile(args.quick)
    return status


def _module_names() -> set[str]:
    names = set(bench_modules())
    return names | {name[len("bench_") :] for name in names}


if __name__ == "__main__":
    raise SystemExit(main())

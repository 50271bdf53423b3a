"""A stand-in for the project generator the web examples serve (your application has its own).

`generate_project` turns a spec into files, or raises `GenerationFailed` for a spec it cannot
build — so each example shows both a success and an error event. Deterministic, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STACK_FILES = {
    "backend": ["README.md", "backend/app.py", "backend/requirements.txt"],
    "frontend": ["README.md", "frontend/App.js", "frontend/package.json"],
    "fullstack": ["README.md", "backend/app.py", "frontend/App.js"],
}


class GenerationFailed(RuntimeError):
    """The spec asks for something the generator cannot build."""


def generate_project(spec: Mapping[str, Any]) -> dict[str, str]:
    """The generated files (path → content) for ``spec``'s ``stack``."""
    stack = spec.get("stack")
    if stack not in STACK_FILES:
        raise GenerationFailed(f"unknown stack {stack!r}")
    return {
        path: f"# {spec.get('project_name', 'project')}: {path}\n" for path in STACK_FILES[stack]
    }

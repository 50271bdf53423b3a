"""The view that generates a project for the logged-in user and logs one generation event."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from project_generator import GenerationFailed, generate_project

import dihya_logging as dl


@require_POST
def generate(request: HttpRequest) -> JsonResponse:
    """Generate from the JSON spec in the body; the event names the user by primary key."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    spec = json.loads(request.body)
    user_id = str(request.user.pk)
    context = {"request_id": request.headers.get("X-Request-Id", "")}
    try:
        files = generate_project(spec)
    except GenerationFailed as exc:
        dl.log_generation_event(user_id, spec, [], status="error", error=exc, extra=context)
        return JsonResponse({"error": str(exc)}, status=422)
    dl.log_generation_event(user_id, spec, files, extra=context)
    return JsonResponse({"files": sorted(files)}, status=201)

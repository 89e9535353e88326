"""Answers for /api/v1/ paths that name no endpoint: JSON too, so a worker never parses HTML."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .api import error


@csrf_exempt
def unknown_endpoint(request: HttpRequest, rest: str = "") -> JsonResponse:
    """404 JSON, whatever the method; the path is not echoed."""
    return error(404, "not_found", "No such endpoint: the API has POST /api/v1/resolve and GET /api/v1/openapi.json.")

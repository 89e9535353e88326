"""The HTTP API for workers in other languages: POST /api/v1/resolve, GET /api/v1/openapi.json."""

from __future__ import annotations

import json

from django.core.validators import slug_re
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from tenants.models import Tenant

from .openapi import OPENAPI
from .service import RoutingError, resolve
from .tokens import token_authenticate

MAX_BODY_BYTES = 1024 * 1024


def error(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="sinatra"'
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _text_field(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string.")
    return value


@csrf_exempt
@never_cache
def resolve_view(request: HttpRequest) -> JsonResponse:
    """Resolve a tenant's request; answer the Resolution as JSON, including `api_key`."""
    if request.method != "POST":
        response = error(405, "method_not_allowed", "Use POST with a JSON body.")
        response["Allow"] = "POST"
        return response
    if token_authenticate(_bearer(request)) is None:
        return error(401, "unauthorized", "Send Authorization: Bearer <service token> (create_service_token).")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return error(400, "invalid_request", "Content-Length is not a number.")
    if declared > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return error(400, "invalid_json", "The body must be a JSON object.")
    if not isinstance(body, dict):
        return error(400, "invalid_json", "The body must be a JSON object.")
    try:
        slug = _text_field(body, "tenant")
        sinatrarc = _text_field(body, "sinatrarc")
        model = _text_field(body, "model")
        model_provider = _text_field(body, "model_provider")
    except ValueError as exc:
        return error(400, "invalid_request", str(exc))
    if not slug:
        return error(400, "invalid_request", "tenant (the tenant's slug) is required.")
    if not slug_re.fullmatch(slug):  # never a slug; and "\ud800" would fail in the database driver
        return error(400, "invalid_request", "tenant must be a tenant's slug: letters, digits, - and _.")
    if sinatrarc is not None and (model is not None or model_provider is not None):
        return error(400, "invalid_request", "Send sinatrarc, or model (with model_provider); not both.")
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return error(404, "unknown_tenant", f"No tenant has the slug {slug!r}.")
    try:
        if sinatrarc is not None:
            resolution = resolve(tenant, sinatrarc)
        else:
            agent = {"model": model, "model_provider": model_provider}
            resolution = resolve(tenant, config={"agent": {k: v for k, v in agent.items() if v is not None}})
    except RoutingError as exc:
        return error(exc.status, exc.code, str(exc))
    return JsonResponse(resolution.as_dict(include_key=True))


def openapi_view(request: HttpRequest) -> JsonResponse:
    """Serve the OpenAPI description of this API."""
    return JsonResponse(OPENAPI)

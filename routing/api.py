"""The HTTP API for workers in other languages: POST /api/v1/resolve, GET /api/v1/openapi.json.

`resolve_view` reads as what it does: the decorators answer the method, the token and the
body; resolve_request checks the fields; then one call to the service, and the answer.

Every answer is JSON, failures included: a database that refuses connections is 503
`unavailable`, anything unexpected 500 `internal_error`; neither says more than that (the log
gets one line with the exception's type and where it was raised). No answer is stored by a
browser or a proxy: everything under /api/v1 is marked `Cache-Control: no-store`
(sinatra.middleware.WorkerApiMiddleware, which also keeps the browser's middleware off these
requests).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.validators import slug_re
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from .openapi import MAX_SLUG_LENGTH, OPENAPI
from .service import RoutingError, resolve, resolve_agent
from .sinatrarc import agent_config
from .tokens import (
    TenantOutOfScope,
    TokenExpired,
    TokenRefused,
    token_authenticate,
    token_check_form,
    token_grant,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

View = Callable[..., JsonResponse]


class ApiError(Exception):
    """An answer other than 200: its status, its code, and a detail fit for the caller."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def error(status: int, code: str, detail: str) -> JsonResponse:
    """The JSON body of every error the API gives: {"error": code, "detail": message}."""
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="sinatra"'
    return response


def api_view(*methods: str) -> Callable[[View], View]:
    """Answer only `methods` (405 otherwise); turn ApiError and RoutingError into their JSON errors."""

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"Only {' or '.join(methods)} is allowed here.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error(exc.status, exc.code, exc.detail)
            except RoutingError as exc:
                return error(exc.status, exc.code, str(exc))
            except (OperationalError, InterfaceError) as exc:
                _log_failure(request, exc)
                return error(503, "unavailable", "The service cannot reach its database now; try again shortly.")
            except Exception as exc:
                _log_failure(request, exc)
                return error(500, "internal_error", "Something went wrong on our side; try again, or tell an operator.")

        return wrapper

    return decorator


def _log_failure(request: HttpRequest, exc: Exception) -> None:
    """Log one line: the exception's type and where it was raised (never its message: it may hold data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    logger.error("%s %s failed: %s%s", request.method, request.path, type(exc).__name__, where)


def token_error(exc: TokenRefused) -> ApiError:
    """The answer to a token that does not let a request through: 401 (403 for a tenant out of scope)."""
    if isinstance(exc, TenantOutOfScope):
        return ApiError(403, "forbidden_tenant", str(exc))
    if isinstance(exc, TokenExpired):
        return ApiError(401, "token_expired", str(exc))
    return ApiError(401, "unauthorized", str(exc))


def bearer_token(view: View) -> View:
    """Pass the presented service token to the view as `presented`, for it to check with what it reads.

    A request without a token is refused (401) before anything else. The view checks the token
    with its own statement (routing.tokens.token_grant); a request the view refuses before it
    gets there (a body that is not JSON, a missing field) is checked here first, so a request
    with a bad token learns nothing but 401, as if the token had been checked first. A body over
    CHECK_FIRST_BYTES (or of undeclared length) is not read for anyone whose token has not been
    checked: such a request's token is checked before the view runs.
    """

    @wraps(view)
    @sensitive_variables("presented")
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        # request.META rather than request.headers, which parses every header to give one (26 µs).
        scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        try:
            token_check_form(presented)
            if not _small_body(request):
                token_authenticate(presented)
            return view(request, *args, presented=presented, **kwargs)
        except TokenRefused as exc:
            raise token_error(exc) from None
        except ApiError as exc:
            if exc.status not in (400, 413):
                raise
            try:
                token_authenticate(presented)
            except TokenRefused as refused:
                raise token_error(refused) from None
            raise

    return wrapper


# A resolve request is a few hundred bytes; a larger body is read only from a checked token.
CHECK_FIRST_BYTES = 64 * 1024


def _small_body(request: HttpRequest) -> bool:
    declared = request.META.get("CONTENT_LENGTH", "")
    return declared.isdigit() and int(declared) <= CHECK_FIRST_BYTES


def json_object(view: View) -> View:
    """Read a body of at most MAX_BODY_BYTES that is a JSON object; pass it to the view as `body`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ApiError(400, "invalid_request", "Content-Length is not a number.") from None
        too_large = ApiError(413, "body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
        if declared > MAX_BODY_BYTES:
            raise too_large
        raw = request.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:  # a chunked body declares no length: count what arrives
            raise too_large
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "The body must be a JSON object.")
        return view(request, *args, body=body, **kwargs)

    return wrapper


REQUEST_FIELDS = ("tenant", "sinatrarc", "model", "model_provider")


@dataclass(frozen=True, slots=True)
class ResolveRequest:
    """The fields of a resolve request: the tenant, and `sinatrarc` or `model`/`model_provider`."""

    tenant: str
    sinatrarc: str | None
    model: str | None
    model_provider: str | None


def resolve_request(body: dict[str, Any]) -> ResolveRequest:
    """Read a resolve request from its JSON object; ApiError 400 names the first field that is wrong.

    Plain code rather than a Django form, which cost 73 µs a request here (docs/performance.md);
    the fields are checked in REQUEST_FIELDS' order, as the form did, with the same messages.
    Other members of the object are ignored.
    """
    tenant = _text(body, "tenant")
    if tenant is None or tenant == "":
        raise _invalid("tenant (the tenant's slug) is required.")
    if len(tenant) > MAX_SLUG_LENGTH:  # refused before any lookup, and never echoed
        raise _invalid(f"tenant must be a tenant's slug: at most {MAX_SLUG_LENGTH} characters.")
    if not slug_re.fullmatch(tenant):  # never a slug; and "\ud800" would fail in the database driver
        raise _invalid("tenant must be a tenant's slug: letters, digits, - and _.")
    sinatrarc, model, model_provider = (_text(body, name) for name in REQUEST_FIELDS[1:])
    if sinatrarc is not None and (model is not None or model_provider is not None):
        raise _invalid("Send sinatrarc, or model (with model_provider); not both.")
    return ResolveRequest(tenant, sinatrarc, model, model_provider)


def _text(body: dict[str, Any], name: str) -> str | None:
    """A JSON string member, taken as it is ("" included), or None when absent or null."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name} must be a string.")
    return value


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "invalid_request", detail)


@api_view("POST")
@bearer_token
@json_object
@sensitive_variables("presented")
def resolve_view(request: HttpRequest, *, presented: str, body: dict[str, Any]) -> JsonResponse:
    """Resolve a tenant's request; answer the Resolution as JSON, including `api_key`.

    The token, the tenant and the tenant's keys are read in one statement (token_grant).
    """
    fields = resolve_request(body)
    grant = token_grant(presented, fields.tenant)
    if grant.tenant is None:
        raise ApiError(404, "unknown_tenant", f"No tenant has the slug {fields.tenant!r}.")
    if fields.sinatrarc is not None:
        resolution = resolve(grant.tenant, fields.sinatrarc, caller=grant.caller, keys=grant.keys, policy=grant.policy)
    else:
        given = {"model": fields.model, "model_provider": fields.model_provider}
        resolution = resolve_agent(
            grant.tenant,
            agent_config({name: value for name, value in given.items() if value is not None}),
            caller=grant.caller,
            keys=grant.keys,
            policy=grant.policy,
        )
    return JsonResponse(resolution.as_dict(include_key=True))


@api_view("GET", "HEAD")
def openapi_view(request: HttpRequest) -> JsonResponse:
    """Serve the OpenAPI description of this API."""
    return JsonResponse(OPENAPI)

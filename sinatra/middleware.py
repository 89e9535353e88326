"""The outermost middleware: one log line and the HTTP metrics per request, and the ops endpoints.

`RequestLogMiddleware` comes first in MIDDLEWARE so that it times and counts everything,
static files and refusals included. `OpsEndpointsMiddleware` comes right after it: it answers
/healthz, /readyz and /metrics before Django checks the Host header or redirects to HTTPS,
because load balancers probe by IP address over plain HTTP, and Prometheus scrapes the app
server directly. None of the three builds a link, so the Host header does not matter to them.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, get_resolver

from . import health, metrics
from .logs import loggable_path
from .nostore import never_cache

logger = logging.getLogger("sinatra.request")

# name -> view; sinatra/urls.py routes the same names, so reverse() and the URL list know them.
OPS_ENDPOINTS = {
    "healthz": health.healthz,
    "readyz": health.readyz,
    "metrics": metrics.metrics_view,
}
_OPS_BY_PATH = {f"/{name}": view for name, view in OPS_ENDPOINTS.items()}


def _host_refused(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return True
    return False


class RequestLogMiddleware:
    """Log one line per request (method, path without query string, status, duration) and count it.

    A request refused for its Host header is counted in `sinatra_refused_host_headers` and is
    not logged here: Django's `django.security.DisallowedHost` logger has already written its
    one line about it (LOGGING keeps that to one line, without a traceback).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        where = metrics.area(request.path)
        metrics.HTTP_RESPONSES.labels(area=where, status=str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(area=where).observe(seconds)
        if response.status_code == 400 and _host_refused(request):
            metrics.REFUSED_HOSTS.inc()
            return response
        path = loggable_path(request.path)
        duration_ms = round(seconds * 1000, 1)
        logger.info(
            "%s %s %s %sms",
            request.method,
            path,
            response.status_code,
            duration_ms,
            extra={"method": request.method, "path": path, "status": response.status_code, "duration_ms": duration_ms},
        )
        return response


class OpsEndpointsMiddleware:
    """Answer /healthz, /readyz and /metrics before host validation and the HTTPS redirect."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        view = _OPS_BY_PATH.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)


# The workers' API: a request there carries a bearer token and wants JSON, nothing of a browser's.
API_PATH = "/api/v1"


class WorkerApiMiddleware:
    """Route requests for the workers' API (/api/v1/...) to their view, past the browser's middleware.

    A worker's request carries a bearer token: no cookie, session, CSRF token, sign-in, flash
    message, static file, or HTML page. The middleware after this one in MIDDLEWARE exists for
    those, and cost about 120 µs a request here, half of what a bare view costs in all
    (docs/performance.md). Such a request is resolved as Django's handler resolves it and its
    view called directly, and its answer gets what an API answer needs from the middleware it
    skips: the Host header checked against ALLOWED_HOSTS (as CommonMiddleware checks it),
    `Cache-Control: no-store` (an answer may carry a provider key; NoStoreMiddleware), a
    Content-Length, and a Content-Security-Policy that allows nothing (JSON is never a page).
    What comes before it applies as to every request: the log line and metrics, and
    SecurityMiddleware's HTTPS redirect and headers.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not (path == API_PATH or path.startswith(API_PATH + "/")):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) for a Host outside ALLOWED_HOSTS
        match = _api_match(getattr(request, "urlconf", None) or settings.ROOT_URLCONF, path)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        never_cache(response)
        response.headers["Content-Length"] = str(len(response.content))
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return response


@functools.lru_cache(maxsize=64)  # a handful of API paths; unknown ones are bounded out
def _api_match(urlconf: str, path: str) -> ResolverMatch:
    """How Django's URL resolver routes `path` (which depends on the path and the URLconf alone)."""
    return get_resolver(urlconf).resolve(path)

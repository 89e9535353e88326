"""Prometheus metrics: the project's HTTP counters, and the /metrics view that renders every metric.

Any module may define its own metrics with `prometheus_client` (a Counter, a Histogram) in the
default registry; /metrics renders them all. Under gunicorn, deploy/gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR before any worker starts, each worker writes its values there, and the
view adds up every process's values (`MultiProcessCollector`); without it (runserver, tests), the
view renders this process's default registry.

Labels never name a tenant, a path, a key or its hint: only bounded sets such as a status code.

Who may read /metrics: a request bearing `Authorization: Bearer <SINATRA_METRICS_TOKEN>` when
that is set, and a direct request from the loopback interface (a scraper on the same machine,
talking to gunicorn itself, not through the proxy, which always adds X-Forwarded-For).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

HTTP_RESPONSES = Counter(
    "sinatra_http_responses",
    "HTTP responses by area (api, admin, static, ops, web) and status code.",
    ["area", "status"],
)
HTTP_DURATION = Histogram(
    "sinatra_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by area.",
    ["area"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REFUSED_HOSTS = Counter(
    "sinatra_refused_host_headers",
    "Requests refused because their Host header is not in ALLOWED_HOSTS.",
)

OPS_PATHS = ("/healthz", "/readyz", "/metrics")


def area(path: str) -> str:
    """Return the part of the site a path belongs to: a bounded label, never the path itself."""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith(settings.STATIC_URL):
        return "static"
    if path in OPS_PATHS:
        return "ops"
    return "web"


def registry() -> CollectorRegistry:
    """Return what to render: every process's values under gunicorn, else this process's registry."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined, path=directory)
    return combined


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def may_read_metrics(request: HttpRequest) -> bool:
    """Return whether the request may read /metrics (the token, or a direct loopback request)."""
    token = settings.SINATRA_METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    # A proxy in front always sets X-Forwarded-For; a scraper talking to gunicorn directly does not.
    return _is_loopback(request.META.get("REMOTE_ADDR", "")) and "X-Forwarded-For" not in request.headers


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve every metric in Prometheus' text format, to those who may read it."""
    if not may_read_metrics(request):
        detail = (
            "Send Authorization: Bearer <SINATRA_METRICS_TOKEN>, or scrape the app server directly from this machine."
        )
        return JsonResponse({"error": "forbidden", "detail": detail}, status=403)
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)

"""Probes for load balancers and orchestrators: /healthz (liveness) and /readyz (readiness).

Both answer JSON, whatever the Host header and over plain HTTP (see
`sinatra.middleware.OpsEndpointsMiddleware`), and never name a secret: a check reports `ok`
or what is wrong in a few words; the reason goes to the log.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from credentials.kms import KmsError, get_keyring
from routing.catalog import shared_cache_status

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 whenever this process serves requests: it touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # whatever the driver raises, the answer is "not ready"
        logger.warning("readyz: the database did not answer: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _kms() -> str:
    try:
        get_keyring().primary  # noqa: B018 - raises when no backend can wrap new keys
    except (KmsError, ImproperlyConfigured) as exc:
        logger.warning("readyz: no KMS backend can wrap new keys: %s", type(exc).__name__)
        return "not configured"
    return "ok"


def _cache() -> str:
    answers, detail = shared_cache_status()
    if not answers:  # the cache is an optimisation: reported, never required
        logger.warning("readyz: %s", detail)
        return "unavailable"
    return "ok"


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers and a KMS backend is configured, else 503 naming what is not.

    The shared cache is reported too, but not required: resolution goes on without it.
    """
    checks = {"database": _database(), "kms": _kms(), "cache": _cache()}
    not_ready = [name for name in ("database", "kms") if checks[name] != "ok"]
    body: dict[str, object] = {"status": "not ready" if not_ready else "ready", "checks": checks}
    if not_ready:
        body["not_ready"] = not_ready
    return JsonResponse(body, status=503 if not_ready else 200)

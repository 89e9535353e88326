"""Throttles for the account pages that send mail to an address someone typed, and for sign-up confirmations.

Sign-up, "email me a new link" and password reset each send mail to the address in the form,
so each counts, per client address and per target address, in one pool. The confirmation
link's password is counted per client address. django-ratelimit keeps the counts in Django's
cache: production needs a cache all processes share (CACHE_URL=redis://...), or each process
counts alone. When the cache cannot count, the request goes through (logged): a cache outage
must not stop people from resetting their password.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


def client_address(group: str, request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the X-Forwarded-For entry it wrote.

    IPv6 addresses count per /64, the block one machine usually holds.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.USE_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        address = forwarded or address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def target_address(group: str, request: HttpRequest) -> str:
    """The email address the form would send mail to, as the services compare it."""
    return request.POST.get("email", "").strip().lower()


@dataclass(frozen=True)
class Limit:
    """At most `rate` requests (django-ratelimit's "N/period", e.g. "10/h") per value of `key`."""

    name: str
    key: Callable[[str, HttpRequest], str]
    rate: str


# Pages that mail an address typed into them: sign-up, a new confirmation link, password reset.
MAIL = (Limit("client", client_address, "10/h"), Limit("address", target_address, "3/h"))
# The password on a confirmation link's page.
CONFIRM = (Limit("client", client_address, "10/h"),)


def throttled(request: HttpRequest, *, group: str, limits: tuple[Limit, ...]) -> HttpResponse | None:
    """Count this POST against each limit; return the 429 page when one is exceeded, else None."""
    if request.method != "POST":
        return None
    waits = []
    for limit in limits:
        try:
            usage = get_usage(request, group=f"{group}:{limit.name}", key=limit.key, rate=limit.rate, increment=True)
        except Exception as exc:  # the cache is down: let the request through, and say so
            logger.warning("Throttle %s:%s could not count (%s); the request goes through.", group, limit.name, exc)
            continue
        if usage is None or usage["limit"] == 0:  # disabled, or the cache did not count
            continue
        if usage["should_limit"]:
            waits.append(max(int(usage["time_left"]), 1))
    if not waits:
        return None
    wait = max(waits)
    context = {"minutes": math.ceil(wait / 60), "until": timezone.now() + timedelta(seconds=wait)}
    response = render(request, "registration/throttled.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response

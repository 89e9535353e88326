"""Views whose URL carries a one-time token (install and invitation links, sign-up confirmations).

Django logs every 4xx answer with the request's path: for these URLs that path holds a token that
may still work (an invitation refused to the wrong account, a deactivated tenant, a throttled
confirmation). Such answers are logged here instead, the same line with the token masked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

MASK = "<token>"


def token_kept_out_of_logs(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a view taking (request, token, ...): its refusals are logged with the token masked."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        response = view(request, token, *args, **kwargs)
        if response.status_code >= 400:
            # Marks the response as logged, so Django's own line (with the token) is not written.
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path.replace(token, MASK),
                response=response,
                request=request,
            )
        return response

    return wrapper

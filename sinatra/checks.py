"""System checks for how this installation is configured (`manage.py check --deploy`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Backends that deliver nothing: they print mail (links included) to the log, keep it in memory, or drop it.
UNDELIVERED_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints every message, links included, to the log",
    "django.core.mail.backends.locmem.EmailBackend": "keeps every message in memory, where nobody reads it",
    "django.core.mail.backends.dummy.EmailBackend": "drops every message",
}


@register(Tags.security, deploy=True)
def check_mail_is_delivered(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when, outside DEBUG, password-reset and invitation mail would not reach anybody."""
    fate = UNDELIVERED_MAIL_BACKENDS.get(settings.EMAIL_BACKEND)
    if settings.DEBUG or fate is None:
        return []
    return [
        Warning(
            f"Mail is not delivered: the email backend {fate}. Password-reset and invitation links "
            "would end up in the log (one-time links that sign someone in) or nowhere.",
            hint="Set EMAIL_URL to your mail server, e.g. smtp+tls://user:password@smtp.example.com:587.",
            id="sinatra.W001",
        )
    ]

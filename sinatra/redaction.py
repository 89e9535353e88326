"""Secrets kept out of error reports and logs: credentials in URLs, session keys, one-time links.

`RedactSecretsFilter` sits on every log handler (next to providers' `RedactKeysFilter`);
`SecretsExceptionReporterFilter` is DEFAULT_EXCEPTION_REPORTER_FILTER, which Django's error
pages (the technical 500 page of DEBUG included) and error reports use. Both mask with
Django's own substitute, so a masked value reads the same wherever it shows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import ItemsView
from types import FrameType
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

from providers.secret import RedactKeysFilter

SUBSTITUTE = SafeExceptionReporterFilter.cleansed_substitute

# `scheme://user:password@host`: DATABASE_URL, EMAIL_URL, CACHE_URL, a proxy URL... The user
# name stays (it tells which account); the password goes.
_URL_PASSWORD = re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@", re.IGNORECASE)
# libpq's `password=...` (psycopg's conninfo strings), and the same in a query string.
_KEYWORD_PASSWORD = re.compile(r"(?P<keep>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)
# Django's password hashes (`algorithm$...`), as an UPDATE of auth_user would log them.
_PASSWORD_HASH = re.compile(
    r"\b(?P<keep>(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|md5|sha1|unsalted_md5|"
    r"unsalted_sha1|crypt)\$)[^\s'\",)]+"
)

# One-time links: /install/<token>/, /accounts/reset/<uidb64>/<token>/ (the token, not the
# set-password step it redirects to), and any .../confirm.../<token>/ or .../activat.../<token>/.
_LINK_TOKENS = (
    re.compile(r"(?P<keep>/install/)[^/\s?#'\"<>]+"),
    re.compile(r"(?P<keep>/reset/[^/\s?#'\"<>]+/)(?!set-password/)[^/\s?#'\"<>]+"),
    re.compile(r"(?P<keep>/[\w-]*(?:confirm|activat)[\w-]*/)[^/\s?#'\"<>]+", re.IGNORECASE),
)
# Any django.core.signing value (`payload:timestamp:signature`, the signature 43 characters of
# URL-safe base64): invitation and confirmation tokens, signed session data, wherever they are.
_SIGNED_VALUE = re.compile(r"(?<![\w.-])\.?[\w-]+:[0-9A-Za-z]+:[\w-]{43}(?![\w-])")
# Django's password-reset token: base 36 timestamp, a hyphen, 32 hex digits.
_RESET_TOKEN = re.compile(r"\b[0-9a-z]{1,13}-[0-9a-f]{32}\b")

# A SQL statement on the session table, as django.db.backends logs it (parameters interpolated
# and listed): every quoted value in it is a session key, session data or an expiry date.
_SESSION_TABLE = re.compile(r"\bdjango_session\b")
_QUOTED = re.compile(r"'(?:[^'\\]|''|\\.)*'")


def _keep(match: re.Match[str]) -> str:
    return match.group("keep") + SUBSTITUTE


def redact_credentials(text: str) -> str:
    """Mask passwords in URLs, `password=` assignments and password hashes."""
    text = _URL_PASSWORD.sub(lambda match: _keep(match) + "@", text)
    text = _KEYWORD_PASSWORD.sub(_keep, text)
    return _PASSWORD_HASH.sub(_keep, text)


def redact_link_tokens(text: str) -> str:
    """Mask the tokens of one-time links and any signed value."""
    for pattern in _LINK_TOKENS:
        text = pattern.sub(_keep, text)
    text = _SIGNED_VALUE.sub(SUBSTITUTE, text)
    return _RESET_TOKEN.sub(SUBSTITUTE, text)


def redact_session_sql(text: str) -> str:
    """Mask every quoted value of a message that is about the session table."""
    if not _SESSION_TABLE.search(text):
        return text
    return _QUOTED.sub(f"'{SUBSTITUTE}'", text)


def redact_secrets(text: str) -> str:
    """Mask credentials, session keys and link tokens in `text`."""
    return redact_link_tokens(redact_credentials(redact_session_sql(text)))


class RedactSecretsFilter(RedactKeysFilter):
    """A log handler's filter: no password, session key or one-time link token in what it writes.

    The SQL log (`django.db.backends`, DEBUG with LOG_LEVEL=DEBUG) carries session keys and
    password hashes; request lines and 404 warnings carry install and reset links. The message
    and traceback are rewritten as `RedactKeysFilter` does.
    """

    @staticmethod
    def redact(text: str) -> str:
        return redact_secrets(text)

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        # django.db.backends hands the statement and its parameters over as fields too.
        for field in ("sql", "params"):
            if hasattr(record, field):
                setattr(record, field, redact_secrets(str(getattr(record, field))))
        return True


# How deep frame variables are searched (nested dicts, lists and tuples).
_MAX_DEPTH = 8


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter for error reports, made strict enough to show with DEBUG on.

    - Settings, request headers and environment (runserver puts the whole process environment
      in `request.META`: DATABASE_URL, EMAIL_URL...) show URLs without their passwords, besides
      hiding the names Django hides and a few more.
    - Frame variables: dictionary entries with such names, URL passwords and libpq
      `password=` strings are masked, and so is the request's session key.
    - The session cookie is masked in the report's COOKIES.
    - `sensitive_variables` and `sensitive_post_parameters` apply in DEBUG too: the technical
      500 page of `make run` never shows a pasted key or password.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DSN|CREDENTIAL|PRIVATE", flags=re.IGNORECASE
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        return redact_credentials(cleansed) if type(cleansed) is str else cleansed

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, Any]:
        cookies = super().get_safe_cookies(request)
        if settings.SESSION_COOKIE_NAME in cookies:
            cookies[settings.SESSION_COOKIE_NAME] = SUBSTITUTE
        return cookies

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: FrameType) -> ItemsView[str, Any]:
        session_key = getattr(request, "COOKIES", {}).get(settings.SESSION_COOKIE_NAME) or None
        cleansed = {
            name: self._cleanse_value(value, session_key)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        }
        return cleansed.items()

    def _cleanse_value(self, value: Any, session_key: str | None, depth: int = 0) -> Any:
        """Return a frame variable as the report may show it (plain containers are copied)."""
        # Exact types only: a lazy object passes isinstance() for what it wraps, and is shown as it is.
        if type(value) is str:
            value = redact_credentials(value)
            return value.replace(session_key, SUBSTITUTE) if session_key else value
        if depth >= _MAX_DEPTH:  # a container that holds itself, or nearly so
            return value
        if type(value) is dict:
            return {
                key: SUBSTITUTE
                if isinstance(key, str) and self.hidden_settings.search(key)
                else self._cleanse_value(item, session_key, depth + 1)
                for key, item in value.items()
            }
        if type(value) in (list, tuple):
            return type(value)(self._cleanse_value(item, session_key, depth + 1) for item in value)
        return value

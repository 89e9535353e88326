"""Helpers for tests that run `manage.py` in subprocesses and hunt for leaked keys."""

from __future__ import annotations

import ast
import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from credentials.kms.local import LocalKmsBackend
from providers.secret import key_hint

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Variables the settings read: a subprocess gets only the ones a test gives it, so the shell
# the suite runs in (or the PostgreSQL run's DATABASE_URL) never decides what it does.
_SETTINGS_VARIABLES = re.compile(
    r"(SINATRA_.*|DJANGO_.*|DATABASE_URL|CACHE_URL|DEBUG|LOG_LEVEL|SECRET_KEY|ALLOWED_HOSTS|"
    r"ANTHROPIC_.*|OPENROUTER_.*|SANDBOX_PROVIDER|SECURE_.*|USE_X_FORWARDED_PROTO|GOOGLE_.*)"
)

# Raw slices of a key's secret part this long count as a leak (a truncated key in a log line).
WINDOW = 16


def command_env(**variables: str) -> dict[str, str]:
    """Return an environment for `manage.py`: this process's, minus settings, plus `variables`."""
    env = {name: value for name, value in os.environ.items() if not _SETTINGS_VARIABLES.fullmatch(name)}
    env.update(variables)
    return env


def database_url(settings_dict: Mapping) -> str:
    """Return a postgres:// URL for the database a Django connection uses (its test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def run_manage(*args: str, env: Mapping[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `python manage.py ARGS` in the project directory; never raise on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=dict(env),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not a speed requirement
        check=False,
    )


def secret_part(key: str) -> str:
    """Return what of a key its hint does not show: everything between the prefix and the last 4."""
    prefix = key_hint(key).split("...")[0]
    return key[len(prefix) : -4]


def _base64_interiors(data: bytes) -> list[bytes]:
    """Return base64 text that encodes `data` wherever it sits in a longer encoded blob.

    Base64 works on 3-byte groups, so `data` encodes three ways depending on its offset; the
    characters that depend on `data` alone (the whole 4-character groups inside) are kept.
    """
    interiors = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        start = 4 if offset else 0
        interiors.append(encoded[start:-4])
    return interiors


def canary_needles(key: str) -> dict[str, bytes]:
    """Return every form of `key` that must not appear: name of the form -> bytes to look for.

    The key and its secret middle, raw, as hex, as base64 and URL-safe base64 at any byte
    alignment; for a hexadecimal body also the bytes it spells; and every raw slice of
    `WINDOW` characters of the middle, so that a truncated key counts too.
    """
    middle = secret_part(key)
    needles: dict[str, bytes] = {}
    for label, text in (("key", key), ("middle", middle)):
        raw = text.encode()
        needles[f"{label}/raw"] = raw
        needles[f"{label}/hex"] = raw.hex().encode()
        needles[f"{label}/HEX"] = raw.hex().upper().encode()
        needles[f"{label}/utf-16"] = text.encode("utf-16-le")
        for index, interior in enumerate(_base64_interiors(raw)):
            needles[f"{label}/base64@{index}"] = interior
            needles[f"{label}/urlsafe-base64@{index}"] = interior.replace(b"+", b"-").replace(b"/", b"_")
    if re.fullmatch(r"(?:[0-9a-f]{2})+", middle):
        needles["middle/bytes-of-hex"] = bytes.fromhex(middle)
    for start in range(len(middle) - WINDOW + 1):
        needles[f"middle/raw[{start}:{start + WINDOW}]"] = middle[start : start + WINDOW].encode()
    return needles


def find_leaks(blob: bytes | str, keys: Iterable[str]) -> list[str]:
    """Return which forms of which keys `blob` contains (an empty list: none)."""
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else bytes(blob)
    found = []
    for key in keys:
        for name, needle in canary_needles(key).items():
            if needle in data:
                found.append(f"{key_hint(key)}: {name}")
    return found


# A Python str or bytes literal as repr() and pprint write them (pprint splits long ones into
# adjacent literals, one per line), and a run of adjacent ones.
_LITERAL = r"""(?<![\w'"])b?(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_LITERAL_RUN = re.compile(rf"{_LITERAL}(?:\s*{_LITERAL})*")


def decoded_literals(text: str) -> bytes:
    """Return the values of the Python literals in `text` (a report of variables), one per line.

    Adjacent literals are joined first, so that a value pprint split over lines is whole
    again; str values are encoded as UTF-8.
    """
    values = []
    for match in _LITERAL_RUN.finditer(text):
        try:
            value = ast.literal_eval(f"({match.group(0)})")
        except (SyntaxError, ValueError, TypeError):
            continue  # str and bytes literals mixed, or not a literal after all
        values.append(value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape"))
    return b"\n".join(values)


class ExplodingKmsBackend(LocalKmsBackend):
    """A local KMS that fails inside `wrap()`, while it holds the data key, with `error`."""

    def __init__(self, *, key: str, error: BaseException) -> None:
        super().__init__(key=key)
        self.error = error
        self.deks: list[bytes] = []

    def wrap(self, dek: bytes, *, aad: bytes):
        self.deks.append(dek)
        raise self.error


def sinatrarc(model: str | None = None, provider: str | None = None) -> str | None:
    """Return a .sinatrarc naming a model and/or provider; None (no file) when it names neither."""
    lines = ["agent:"]
    if model is not None:
        lines.append(f"  model: {model}")
    if provider is not None:
        lines.append(f"  model_provider: {provider}")
    return "\n".join(lines) + "\n" if len(lines) > 1 else None


def sessions_waiting_on_locks() -> int:
    """Return how many sessions of the current PostgreSQL database are blocked on a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is a snapshot per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]

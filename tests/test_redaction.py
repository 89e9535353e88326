"""Error pages and logs with DEBUG on (the `make run` default): no password, session key, link token or key.

The technical 500 page is rendered for real: Django's development server classes serve a page
whose database cannot be reached, with the process environment in `request.META` as
runserver puts it. The log is read as `manage.py runserver` writes it at LOG_LEVEL=DEBUG (the
SQL log included) while a person opens an install link, signs out and in, and resets their
password.
"""

from __future__ import annotations

import html
import re
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from sinatra.redaction import SUBSTITUTE, redact_secrets
from tests.devserver import csrf_token, free_port, one_request, runserver
from tests.fakes.providers import anthropic_key
from tests.helpers import command_env, decoded_literals, find_leaks, run_manage
from tests.web import signed_in

OWNER = "owner@acme.example"
PASSWORD = "a long enough passphrase 42"


def dev_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Return the environment of `make run` (DEBUG on, the real settings), no .env, plus `variables`."""
    empty = tmp_path / "empty.env"
    empty.touch()
    return command_env(
        DJANGO_SETTINGS_MODULE="sinatra.settings", SINATRA_ENV_FILE=str(empty), DEBUG="true", **variables
    )


def shown(page: str) -> str:
    """Return a page as a person reads it, and the values of the Python literals it lists (frame variables)."""
    text = html.unescape(page)
    return text + "\n" + decoded_literals(text).decode("utf-8", "replace")


# --- The technical 500 page


def test_the_debug_error_page_shows_no_password_of_any_url_and_no_session_key(tmp_path):
    database_password = "PgCanary" + secrets.token_hex(8)
    mail_password = "MailCanary" + secrets.token_hex(8)
    session_key = secrets.token_hex(16)
    env = dev_env(
        tmp_path,
        # Nothing listens on port 1: the session lookup fails, with the connection's settings in its frames.
        DATABASE_URL=f"postgres://sinatra:{database_password}@127.0.0.1:1/sinatra",
        EMAIL_URL=f"smtp+tls://mailer:{mail_password}@smtp.example.com:587",
    )
    status, page, log = one_request(
        "/accounts/login/", headers={"Accept": "text/html", "Cookie": f"sessionid={session_key}"}, env=env
    )
    assert status == 500
    text = shown(page)
    # Django's technical page, with the traceback's variables, the request, the environment and the settings.
    assert "OperationalError at /accounts/login/" in text
    assert "Local vars" in text
    for section in ("COOKIES", "META", "Settings"):
        assert section in text
    assert "'password': '********************'" in text  # the connection parameters of a frame
    # The URLs stay readable, without their passwords.
    assert f"postgres://sinatra:{SUBSTITUTE}@127.0.0.1:1/sinatra" in text
    assert f"smtp+tls://mailer:{SUBSTITUTE}@smtp.example.com:587" in text
    for secret in (database_password, mail_password, session_key):
        assert secret not in text
        assert secret not in log
    assert "Internal Server Error: /accounts/login/" in log


def test_the_debug_error_page_keeps_pasted_keys_hidden(client, tenant, people, key_checks):
    # sensitive_variables and sensitive_post_parameters apply with DEBUG on too.
    key = anthropic_key("CANARYdebug")
    kms = [
        {
            "BACKEND": "tests.helpers.ExplodingKmsBackend",
            "OPTIONS": {"key": settings.TEST_KMS_KEY, "error": RuntimeError("KMS bug")},
        }
    ]
    client.raise_request_exception = False
    with override_settings(DEBUG=True, SINATRA_KMS_BACKENDS=kms):
        response = signed_in(client, people["owner"]).post(
            reverse("setup-keys", args=[tenant.slug]), {"anthropic_key": key}, HTTP_ACCEPT="text/html"
        )
    assert response.status_code == 500
    text = shown(response.content.decode())
    assert "RuntimeError at /t/acme/setup/keys/" in text
    assert "anthropic_key" in text  # the POST data is listed, its value hidden
    assert "in seal" in text  # the frames that held the key are shown
    assert find_leaks(text, [key]) == []


# --- The log at LOG_LEVEL=DEBUG


def test_the_debug_log_shows_no_session_key_link_token_or_password_hash(tmp_path):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    mail = tmp_path / "mail"
    mail.mkdir()
    database = tmp_path / "db.sqlite3"
    env = dev_env(
        tmp_path,
        LOG_LEVEL="DEBUG",
        DATABASE_URL=f"sqlite:///{database}",
        SINATRA_BASE_URL=origin,
        EMAIL_URL=f"filemail:///{mail}",
    )
    assert run_manage("migrate", "--noinput", env=env).returncode == 0
    created = run_manage("create_tenant", "acme", "--owner-email", OWNER, env=env)
    assert created.returncode == 0, created.stderr
    install_link = created.stdout.strip().splitlines()[-1]
    tokens = [install_link.removeprefix(f"{origin}/install/").strip("/")]
    session_keys: list[str] = []

    def remember_session(response: httpx.Response) -> None:
        if "sessionid" in response.cookies:
            session_keys.append(response.cookies["sessionid"])

    log_file = tmp_path / "runserver.log"
    with (
        runserver(env, port=port, log=log_file),
        httpx.Client(base_url=origin, follow_redirects=True, event_hooks={"response": [remember_session]}) as browser,
    ):
        # The install link: choose a password, which signs the owner in.
        page = browser.get(install_link)
        chosen = browser.post(
            install_link,
            data={"csrfmiddlewaretoken": csrf_token(page.text), "new_password1": PASSWORD, "new_password2": PASSWORD},
        )
        assert chosen.url.path == "/t/acme/setup/"
        # Sign out, and in again.
        signed_out = browser.post("/accounts/logout/", data={"csrfmiddlewaretoken": csrf_token(chosen.text)})
        assert signed_out.url.path == "/accounts/login/"
        signed_in_page = browser.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": csrf_token(signed_out.text), "username": OWNER, "password": PASSWORD},
        )
        assert signed_in_page.url.path == "/t/acme/"
        # A password reset, by its emailed link.
        form = browser.get("/accounts/password_reset/")
        browser.post("/accounts/password_reset/", data={"csrfmiddlewaretoken": csrf_token(form.text), "email": OWNER})
        (message,) = mail.iterdir()
        reset_link = re.search(rf"{re.escape(origin)}/accounts/reset/[^/\s]+/([^/\s]+)/", message.read_text())
        assert reset_link
        tokens.append(reset_link.group(1))
        reset = browser.get(reset_link.group(0))
        assert reset.url.path.endswith("/set-password/")
        assert "New password" in reset.text
    log = log_file.read_text()

    # The log is the real one: SQL on the session table, request lines of both links.
    assert 'FROM "django_session"' in log
    assert 'INSERT INTO "django_session"' in log
    assert f'"GET /install/{SUBSTITUTE}/ HTTP/1.1" 200' in log
    assert f'"GET /accounts/reset/{reset_link.group(0).split("/")[-3]}/{SUBSTITUTE}/ HTTP/1.1" 302' in log
    assert len(session_keys) >= 2  # one per sign-in, at least
    with closing(sqlite3.connect(database)) as db:
        (password_hash,) = db.execute("SELECT password FROM auth_user WHERE email = ?", [OWNER]).fetchone()
    salt_and_hash = password_hash.split("$", 2)[2]
    for secret in [*tokens, *session_keys, salt_and_hash]:
        assert secret not in log


# --- What the log filter masks, line by line


SECRET = "Zx9" + "q" * 29  # 32 characters, as a session key
SIGNED = "IjEyMzQ1Njc4LTEyMzQtMTIzNC0xMjM0LTEyMzQ1Njc4OTAxMiI:1vPzyx:" + "s" * 43


# Log lines as Django writes them (S608: these are lines to mask, never queries to run).
@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        (
            f"SELECT ... FROM \"django_session\" WHERE \"session_key\" = '{SECRET}'; args=('{SECRET}',)",  # noqa: S608
            SECRET,
            "django_session",
        ),
        (f"INSERT INTO django_session VALUES ('{SECRET}', '.eJx{SECRET}', '2026-01-01')", SECRET, "INSERT"),  # noqa: S608
        (f'"GET /install/{SIGNED}/ HTTP/1.1" 200 1234', SIGNED, '"GET /install/'),
        (
            "Not Found: /accounts/reset/MQ/cxyz12-0123456789abcdef0123456789abcdef/",
            "cxyz12-0123456789abcdef",
            "/reset/MQ/",
        ),
        (f"/accounts/confirm-email/{SECRET}/", SECRET, "/accounts/confirm-email/"),
        (f"invitation token {SIGNED} issued", SIGNED, "invitation token"),
        (f"""UPDATE "auth_user" SET "password" = 'pbkdf2_sha256$1000000${SECRET}$h='""", SECRET, "pbkdf2_sha256$"),  # noqa: S608
        (f"connecting to postgres://sinatra:{SECRET}@db.internal:5432/sinatra", SECRET, "postgres://sinatra:"),
        (f"conninfo dbname=sinatra user=sinatra password={SECRET} host=db", SECRET, "host=db"),
    ],
    ids=[
        "session-select",
        "session-insert",
        "install-link",
        "reset-link",
        "confirm-link",
        "signed-value",
        "password-hash",
        "url-password",
        "conninfo-password",
    ],
)
def test_the_log_filter_masks_secrets_and_keeps_the_rest(line, secret, kept):
    masked = redact_secrets(line)
    assert secret not in masked
    assert SUBSTITUTE in masked
    assert kept in masked


def test_the_log_filter_leaves_ordinary_lines_alone():
    line = '"GET /t/acme/credentials/7d0c2f9e-3c1b-4e55-9d61-0f1e2d3c4b5a/verify/ HTTP/1.1" 302 0'
    assert redact_secrets(line) == line
    sql = 'SELECT "tenants_tenant"."slug" FROM "tenants_tenant" WHERE "tenants_tenant"."slug" = \'acme\''
    assert redact_secrets(sql) == sql

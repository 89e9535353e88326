"""Canary keys never appear: in command output, logs, the database, admin pages, reprs or error reports.

Each canary is a well-formed key with a marker in it. "Appear" means any form of it that
`tests.helpers.canary_needles` lists: raw, hex, base64 or URL-safe base64 (at any byte
alignment), of the whole key or of the part its hint hides, and any 16-character slice of
that part.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import pickle
import secrets
import sqlite3
import traceback
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command, get_commands
from django.db import DatabaseError, connection
from django.test import override_settings
from django.urls import reverse
from django.views.debug import ExceptionReporter

from credentials.kms import KmsUnavailable, get_keyring
from credentials.kms.local import local_kek_id
from credentials.models import CredentialEvent, Status, TenantModelCredential
from credentials.services import credential_open
from providers.secret import Secret, key_hint
from tests.fakes.providers import anthropic_key
from tests.helpers import PROJECT_DIR, command_env, decoded_literals, find_leaks, run_manage

TEST_ENV_FILE = PROJECT_DIR / "tests" / "test.env"


def openrouter_canary() -> str:
    """Return a fresh OpenRouter-shaped canary: sk-or-v1- and 64 hex digits, starting `ca4a41`."""
    return "sk-or-v1-ca4a41" + secrets.token_hex(29)


@pytest.fixture
def canaries() -> dict[str, str]:
    """Two Anthropic canaries (the second replaces the first) and one OpenRouter canary."""
    return {
        "anthropic": anthropic_key("CANARYa"),
        "anthropic-replacement": anthropic_key("CANARYb"),
        "openrouter": openrouter_canary(),
    }


def env_file_value(name: str) -> str:
    """Return a variable as tests/test.env sets it."""
    for line in TEST_ENV_FILE.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise LookupError(name)


def project_commands() -> list[str]:
    """Return the management commands Sinatra's own apps define."""
    return sorted(name for name, app in get_commands().items() if not app.startswith("django."))


def dump_sqlite_file(path: Path) -> bytes:
    """Return every value of every table of a SQLite file, one per line."""
    with closing(sqlite3.connect(path)) as database:
        return "\n".join(database.iterdump()).encode()


def dump_database() -> bytes:
    """Return every value of every table of the test database, as bytes."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


# --- End to end: the real commands in subprocesses, on their own SQLite file.


def test_commands_show_and_store_no_key_from_seeding_to_rotation(tmp_path, canaries):
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db_file = db_dir / "db.sqlite3"
    test_settings = command_env(
        DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=f"sqlite:///{db_file}", LOG_LEVEL="DEBUG"
    )
    outputs: list[tuple[str, str]] = []  # (what ran, its stdout and stderr)
    snapshots: list[tuple[str, bytes]] = []  # (file after what ran, its bytes)

    def manage(*args: str, env=test_settings, stdin: str | None = None, exit_code: int = 0):
        result = run_manage(*args, env=env, stdin=stdin)
        label = " ".join(args)
        outputs.append((label, result.stdout + result.stderr))
        # Every file SQLite keeps: the database, and its -wal and -shm files while they exist.
        snapshots.extend((f"{path.name} after {label}", path.read_bytes()) for path in sorted(db_dir.iterdir()))
        assert result.returncode == exit_code, f"{label}: {result.stdout}{result.stderr}"
        return result

    manage("migrate", "--noinput")
    manage("create_tenant", "leakco", "--name", "Leak Co", "--owner-email", "owner@leakco.example")
    seeded = manage("seed_credential", "--tenant", "leakco", "--provider", "anthropic", stdin=canaries["anthropic"])
    assert key_hint(canaries["anthropic"]) in seeded.stdout
    manage("seed_credential", "--tenant", "leakco", "--provider", "openrouter", stdin=f"  {canaries['openrouter']}\n")
    replaced = manage(
        "seed_credential",
        "--tenant",
        "leakco",
        "--provider",
        "anthropic",
        stdin=canaries["anthropic-replacement"] + "\n",
    )
    assert f"replaces {key_hint(canaries['anthropic'])}" in replaced.stdout
    assert "All 2 active credentials decrypt." in manage("verify_credentials").stdout
    manage("rewrap_credentials")
    # A key pasted into the other provider's slot is refused with a one-line reason.
    for provider, key in (("anthropic", canaries["openrouter"]), ("openrouter", canaries["anthropic"])):
        for extra in ((), ("--traceback",)):
            refused = manage(
                "seed_credential", "--tenant", "leakco", "--provider", provider, *extra, stdin=key, exit_code=1
            )
            assert "Nothing was stored" in refused.stderr

    # Rotation: a new local key, the old one kept to read the rows it wrapped. tests.settings
    # builds its KMS from SINATRA_LOCAL_DEV_KMS_KEY alone (old keys are ignored), so this runs
    # under the project's own settings, on the test environment file.
    old_key = env_file_value("SINATRA_LOCAL_DEV_KMS_KEY")
    new_key = manage("generate_kms_key").stdout.strip()
    rotation = command_env(
        DJANGO_SETTINGS_MODULE="sinatra.settings",
        SINATRA_ENV_FILE=str(TEST_ENV_FILE),
        DATABASE_URL=f"sqlite:///{db_file}",
        LOG_LEVEL="DEBUG",
        SINATRA_LOCAL_DEV_KMS_KEY=new_key,
        SINATRA_LOCAL_DEV_KMS_OLD_KEYS=old_key,
    )
    assert "rewrap_credentials" in manage("verify_credentials", env=rotation).stdout
    manage("rewrap_credentials", "--dry-run", env=rotation)
    assert "Rewrapped 3 credentials" in manage("rewrap_credentials", env=rotation).stdout
    new_key_only = {**rotation, "SINATRA_LOCAL_DEV_KMS_OLD_KEYS": ""}
    assert "All 2 active credentials decrypt." in manage("verify_credentials", env=new_key_only).stdout
    for command in project_commands():
        manage(command, "--help")

    with closing(sqlite3.connect(db_file)) as database:
        kek_ids = {row[0] for row in database.execute("SELECT kek_id FROM tenant_model_credential")}
        # Fold the write-ahead log into the database file, then read every file once more.
        database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert kek_ids == {local_kek_id(base64.b64decode(new_key))}
    snapshots.extend((f"{path.name} after checkpoint", path.read_bytes()) for path in sorted(db_dir.iterdir()))
    dump = dump_sqlite_file(db_file)
    # The rows are there, with their hints: the searches below look at real data.
    for key in canaries.values():
        assert key_hint(key).encode() in dump

    keys = list(canaries.values())
    assert {label: find_leaks(text, keys) for label, text in outputs if find_leaks(text, keys)} == {}
    assert {label: find_leaks(blob, keys) for label, blob in snapshots if find_leaks(blob, keys)} == {}
    assert find_leaks(dump, keys) == []


# --- In process: the database, the admin, logs, reprs.


@pytest.fixture
def seed(run_command, tenant):
    """Seed keys into the `acme` tenant through the command, as an operator would."""

    def seed(provider: str, key: str) -> TenantModelCredential:
        run_command("seed_credential", tenant=tenant.slug, provider=provider, stdin=key + "\n")
        return TenantModelCredential.objects.get(tenant=tenant, provider=provider, status=Status.ACTIVE)

    return seed


@pytest.fixture
def seeded(seed, canaries) -> dict[str, TenantModelCredential]:
    return {name: seed(name.split("-")[0], key) for name, key in canaries.items()}


def test_seeding_logs_no_key_even_with_sql_logged_at_debug(caplog, seed, canaries):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    with override_settings(DEBUG=True):  # Django logs every SQL statement and its parameters
        for name, key in canaries.items():
            seed(name.split("-")[0], key)
    inserts = [record for record in caplog.records if "INSERT INTO" in record.getMessage()]
    assert any("tenant_model_credential" in record.getMessage() for record in inserts)
    keys = list(canaries.values())
    for record in caplog.records:
        text = "\n".join([record.getMessage(), repr(record.args), str(record.msg), record.exc_text or ""])
        assert find_leaks(text, keys) == [], record.name
    assert find_leaks(caplog.text, keys) == []


def test_no_column_of_any_table_holds_a_key(seeded, canaries, admin_client):
    # Sessions, admin history and audit rows exist too, once an operator has used the admin.
    admin_client.post(
        reverse("admin:credentials_tenantmodelcredential_changelist"),
        {"action": "revoke", "index": 0, "_selected_action": [str(seeded["openrouter"].pk)]},
    )
    dump = dump_database()
    for credential in seeded.values():
        assert credential.key_hint.encode() in dump
        assert bytes(credential.ciphertext) in dump
    assert find_leaks(dump, canaries.values()) == []


def test_admin_pages_and_the_revoke_action_show_hints_never_keys(seeded, canaries, admin_client, tenant):
    keys = list(canaries.values())
    credentials = list(TenantModelCredential.objects.all())
    events = list(CredentialEvent.objects.all())
    assert len(credentials) == 3
    assert len(events) >= 4
    pages = [
        reverse("admin:index"),
        reverse("admin:credentials_tenantmodelcredential_changelist"),
        reverse("admin:credentials_credentialevent_changelist"),
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_change", args=[tenant.pk]),
        *(reverse("admin:credentials_tenantmodelcredential_change", args=[row.pk]) for row in credentials),
        *(reverse("admin:credentials_tenantmodelcredential_history", args=[row.pk]) for row in credentials),
        *(reverse("admin:credentials_credentialevent_change", args=[event.pk]) for event in events),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert find_leaks(response.content, keys) == [], page
    changelist = admin_client.get(reverse("admin:credentials_tenantmodelcredential_changelist"))
    for row in credentials:
        assert row.key_hint in changelist.content.decode()

    revoked = admin_client.post(
        reverse("admin:credentials_tenantmodelcredential_changelist"),
        {"action": "revoke", "index": 0, "_selected_action": [str(row.pk) for row in credentials]},
        follow=True,
    )
    assert revoked.status_code == 200
    assert "Revoked 2 credential(s)." in revoked.content.decode()
    assert find_leaks(revoked.content, keys) == []
    assert not TenantModelCredential.objects.filter(status=Status.ACTIVE).exists()


def test_secret_and_opened_credentials_show_only_the_hint(seeded, canaries):
    for name, credential in seeded.items():
        opened = credential_open(credential, use_cache=False)
        for secret in (Secret(canaries[name]), opened):
            hint = key_hint(canaries[name])
            assert repr(secret) == f"Secret({hint!r})"
            assert str(secret) == f"{secret}" == format(secret) == "%s" % secret == hint  # noqa: UP031
            in_containers = " ".join([repr([secret]), repr({"key": secret}), repr((secret,)), f"{secret!r}"])
            assert find_leaks(in_containers, canaries.values()) == []
            with pytest.raises(TypeError):
                pickle.dumps(secret)
            assert not hasattr(secret, "__dict__")
        assert opened.reveal() == canaries[name]


# --- Failure paths: an exception while the key is held names no key, in its message or in
# what Django's exception reporter writes (DEBUG off, so sensitive_variables apply): the
# text report, and the HTML one that error e-mails attach, with every frame's variables.


def error_report(raised: pytest.ExceptionInfo) -> bytes:
    """Return everything Django's exception reporter and Python's traceback would say about an error.

    That is the text as written, and the values of the Python literals in it (the variables
    the HTML report lists, which pprint splits over lines). The traceback starts where the
    test called into the project: the test's own frame, which holds the canary, is not part
    of what the project would report.
    """
    exc_type, exc_value, tb = raised.type, raised.value, raised.tb.tb_next
    reporter = ExceptionReporter(None, exc_type, exc_value, tb)
    text = "\n".join(
        [
            str(exc_value),
            repr(exc_value),
            "".join(traceback.format_exception(exc_type, exc_value, tb)),
            reporter.get_traceback_text(),
            # The HTML page is the one with every frame's local variables; read it unescaped.
            html.unescape(reporter.get_traceback_html()),
        ]
    )
    return text.encode() + b"\n" + decoded_literals(text)


class ExplodingCloudKmsClient:
    """A Cloud KMS client that fails in an unexpected way while it is given a data key to wrap."""

    def __init__(self) -> None:
        self.deks: list[bytes] = []

    def get_crypto_key(self, *, request, timeout, retry):
        name = request["name"]
        return SimpleNamespace(name=name, primary=SimpleNamespace(name=f"{name}/cryptoKeyVersions/1"))

    def encrypt(self, *, request, timeout, retry):
        self.deks.append(request["plaintext"])
        raise RuntimeError("the Cloud KMS client failed in a way nobody expected")


def dek_forms(dek: bytes) -> set[bytes]:
    """Return how a data key may show in a report: itself (a decoded literal), as hex, as base64."""
    return {dek, dek.hex().encode(), dek.hex().upper().encode(), base64.b64encode(dek)}


def failing_kms(kind: str) -> list[dict]:
    """Return SINATRA_KMS_BACKENDS with one KMS that fails in `wrap()`, in the way `kind` says."""
    if kind == "cloud-kms-client-bug":
        return [
            {
                "BACKEND": "credentials.kms.cloud.CloudKmsBackend",
                "OPTIONS": {
                    "key_name": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                    "client": ExplodingCloudKmsClient(),
                },
            }
        ]
    error = KmsUnavailable("The KMS could not be reached.") if kind == "kms-unavailable" else RuntimeError("KMS bug")
    return [
        {
            "BACKEND": "tests.helpers.ExplodingKmsBackend",
            "OPTIONS": {"key": env_file_value("SINATRA_LOCAL_DEV_KMS_KEY"), "error": error},
        }
    ]


@pytest.mark.parametrize("kind", ["kms-unavailable", "local-kms-bug", "cloud-kms-client-bug"])
def test_a_kms_failure_during_seeding_reports_neither_the_key_nor_its_data_key(kind, tenant, canaries):
    key = canaries["anthropic"]
    with override_settings(SINATRA_KMS_BACKENDS=failing_kms(kind)):
        with pytest.raises((CommandError, RuntimeError)) as raised:
            call_command(
                "seed_credential",
                tenant=tenant.slug,
                provider="anthropic",
                stdin=io.StringIO(key),
                stdout=io.StringIO(),
            )
        backend = get_keyring().backends[0]
        deks = backend.client.deks if kind == "cloud-kms-client-bug" else backend.deks
        report = error_report(raised)  # with these settings, as the reporter would list them
    assert not TenantModelCredential.objects.exists()
    assert len(deks) == 1
    if kind == "kms-unavailable":
        assert raised.type is CommandError
        assert "Nothing was stored" in str(raised.value)
    else:
        # The report shows the frames that held the key, with their variables.
        assert b"in seal" in report
        assert b"ciphertext" in report
    assert find_leaks(report, [key]) == []
    # Nor the data key: seal()'s frame shows the ciphertext, nonce and AAD it would open.
    assert {form for form in dek_forms(deks[0]) if form in report} == set()
    # Nor the local key-encryption key, from the settings the report lists.
    kek = env_file_value("SINATRA_LOCAL_DEV_KMS_KEY")
    assert kek.encode() not in report
    assert base64.b64decode(kek) not in report


def test_a_database_failure_after_sealing_reports_no_key(tenant, canaries, monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr("credentials.services._event", refuse)
    key = canaries["openrouter"]
    with pytest.raises(DatabaseError) as raised:
        call_command(
            "seed_credential", tenant=tenant.slug, provider="openrouter", stdin=io.StringIO(key), stdout=io.StringIO()
        )
    assert not TenantModelCredential.objects.exists()
    report = error_report(raised)
    assert b"credential_create" in report
    assert find_leaks(report, [key]) == []


def test_debug_reporter_would_show_the_key_without_sensitive_variables(canaries):
    """Show that the reports above are not clean by accident: a frame holding the key is visible to them."""

    def holds_the_key(key: str) -> None:
        raise RuntimeError("failed while holding a key")

    key = canaries["anthropic"]
    with pytest.raises(RuntimeError) as raised:
        holds_the_key(key)
    assert find_leaks(error_report(raised), [key]) != []

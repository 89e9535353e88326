"""Operator commands, through call_command: what they print, store and refuse."""

import base64
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from credentials.kms.local import generate_key, local_kek_id
from credentials.models import CredentialEvent, Status, TenantModelCredential
from credentials.services import Actor, credential_create, credential_open, credential_revoke
from providers.secret import Secret, key_hint
from tenants.errors import TenantDeactivated
from tenants.models import Membership, Role, Tenant
from tests.fakes.providers import anthropic_key, openrouter_key


def command_error(*args, **options) -> str:
    """Run a command that must fail; return its one-line reason."""
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, **options)
    message = str(excinfo.value)
    assert message
    assert "\n" not in message
    return message


def local_backends(key: str, old_keys: list[str] | None = None) -> list[dict]:
    return [
        {"BACKEND": "credentials.kms.local.LocalKmsBackend", "OPTIONS": {"key": key, "old_keys": old_keys or []}},
    ]


def kek_id_of(encoded_key: str) -> str:
    return local_kek_id(base64.b64decode(encoded_key))


def reopen(credential: TenantModelCredential) -> str:
    return credential_open(TenantModelCredential.objects.get(pk=credential.pk), use_cache=False).reveal()


# --- generate_kms_key


def test_generate_kms_key_prints_base64_of_32_bytes(run_command):
    out, err = run_command("generate_kms_key")
    assert err == ""
    assert len(out.splitlines()) == 1
    assert len(base64.b64decode(out.strip(), validate=True)) == 32


def test_generate_kms_key_differs_each_time(run_command):
    keys = {run_command("generate_kms_key")[0].strip() for _ in range(5)}
    assert len(keys) == 5


# --- create_tenant


def test_create_tenant_creates_it(db, run_command):
    out, _ = run_command("create_tenant", "acme", "--name", "Acme Corp")
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Corp"
    assert tenant.is_active
    assert "Created tenant acme (Acme Corp)" in out
    assert str(tenant.pk) in out


def test_create_tenant_names_it_after_its_slug_by_default(db, run_command):
    run_command("create_tenant", "globex")
    assert Tenant.objects.get(slug="globex").name == "globex"


def test_create_tenant_again_says_it_exists_and_changes_nothing(db, run_command):
    run_command("create_tenant", "acme", "--name", "Acme")
    tenant = Tenant.objects.get(slug="acme")
    out, err = run_command("create_tenant", "acme", "--name", "Other name")
    assert "already exists" in out
    assert err == ""
    assert Tenant.objects.count() == 1
    again = Tenant.objects.get(slug="acme")
    assert (again.pk, again.name, again.updated_at) == (tenant.pk, "Acme", tenant.updated_at)


def test_create_tenant_with_owner_email_creates_the_owner(db, run_command):
    out, _ = run_command("create_tenant", "acme", "--owner-email", " Owner@Example.COM ")
    user = get_user_model().objects.get(email="owner@example.com")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    assert membership.tenant.slug == "acme"
    assert membership.role == Role.OWNER
    assert "Added owner@example.com as owner of acme" in out


def test_create_tenant_again_with_the_same_owner_says_so(db, run_command):
    run_command("create_tenant", "acme", "--owner-email", "owner@example.com")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "OWNER@example.com")
    assert "already exists" in out
    assert "owner@example.com is already owner of acme" in out
    assert get_user_model().objects.count() == 1
    assert Membership.objects.count() == 1


def test_create_tenant_adds_an_owner_to_an_existing_tenant(db, run_command):
    run_command("create_tenant", "acme")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "late@example.com")
    assert "already exists" in out
    assert "Added late@example.com as owner of acme" in out
    assert Membership.objects.get().role == Role.OWNER


def test_create_tenant_reuses_an_existing_user(db, run_command):
    existing = get_user_model().objects.create_user(username="pat", email="Pat@Example.com")
    run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    assert Membership.objects.get().user == existing
    assert get_user_model().objects.count() == 1


def test_create_tenant_finds_a_user_whose_username_is_the_email(db, run_command):
    existing = get_user_model().objects.create_user(username="boss@example.com")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "boss@example.com")
    assert Membership.objects.get().user == existing
    assert get_user_model().objects.count() == 1
    assert "Added boss@example.com as owner of acme" in out


@pytest.mark.parametrize(
    "slug",
    ["Acme", "-acme", "acme-", "ac_me", "ac me", "acme!", "a" * 64, "ac\nme", "äcme", ""],
    ids=[
        "upper",
        "leading-hyphen",
        "trailing-hyphen",
        "underscore",
        "space",
        "bang",
        "too-long",
        "newline",
        "umlaut",
        "empty",
    ],
)
def test_create_tenant_refuses_an_invalid_slug_in_one_line(db, slug):
    # After "--", so that argparse takes "-acme" as the slug rather than as an option.
    message = command_error("create_tenant", "--owner-email", "owner@example.com", "--", slug)
    assert "not a valid tenant slug" in message
    assert "lowercase letters, digits and hyphens" in message
    assert not Tenant.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("email", ["not-an-email", "owner@", "@example.com", "a b@example.com", "owner@example"])
def test_create_tenant_refuses_an_invalid_email_in_one_line_and_creates_nothing(db, email):
    message = command_error("create_tenant", "acme", "--owner-email", email)
    assert "is not a valid email address" in message
    assert not Tenant.objects.exists()
    assert not get_user_model().objects.exists()


# --- seed_credential


def test_seed_credential_stores_the_key_from_stdin(tenant, run_command):
    key = anthropic_key()
    out, err = run_command("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=key + "\n")
    credential = TenantModelCredential.objects.get()
    assert (credential.tenant, credential.provider, credential.status) == (tenant, "anthropic", Status.ACTIVE)
    assert credential.key_hint == key_hint(key)
    assert credential.created_by == "command:seed_credential"
    assert reopen(credential) == key
    event = CredentialEvent.objects.get()
    assert (event.kind, event.actor, event.credential) == ("created", "command:seed_credential", credential)
    assert credential.key_hint in out
    assert "Stored Anthropic API key" in out
    assert key not in out + err
    assert key[-10:] not in out + err


def test_seed_credential_stores_an_openrouter_key(tenant, run_command):
    key = openrouter_key()
    out, err = run_command("seed_credential", "--tenant", "acme", "--provider", "openrouter", stdin=f"  {key}\r\n")
    credential = TenantModelCredential.objects.get(provider="openrouter")
    assert reopen(credential) == key
    assert f"sk-or-v1-...{key[-4:]}" in out
    assert key not in out + err


def test_seed_credential_replaces_the_active_key_and_revokes_the_old_one(tenant, run_command):
    first, second = anthropic_key(), anthropic_key()
    run_command("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=first)
    old = TenantModelCredential.objects.get()
    out, err = run_command("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=second)

    old.refresh_from_db()
    new = TenantModelCredential.objects.get(status=Status.ACTIVE)
    assert old.status == Status.REVOKED
    assert old.revoked_at is not None
    assert new.pk != old.pk
    assert reopen(new) == second
    assert list(old.events.order_by("id").values_list("kind", flat=True)) == ["created", "replaced"]
    assert list(new.events.values_list("kind", flat=True)) == ["created"]
    assert f"It replaces {old.key_hint}, which is now revoked." in out
    assert new.key_hint in out
    for key in (first, second):
        assert key not in out + err


def test_seed_credential_does_not_touch_the_other_provider_or_tenant(tenant, make_tenant, store_key, run_command):
    other_tenant = make_tenant("globex")
    openrouter = store_key(tenant, "openrouter")
    elsewhere = store_key(other_tenant, "anthropic")
    run_command("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=anthropic_key())
    assert TenantModelCredential.objects.filter(status=Status.ACTIVE).count() == 3
    for credential in (openrouter, elsewhere):
        credential.refresh_from_db()
        assert credential.status == Status.ACTIVE


BAD_KEYS = [
    ("anthropic", openrouter_key(), "paste it as the OpenRouter API key"),
    ("openrouter", anthropic_key(), "paste it as the Anthropic API key"),
    ("anthropic", "sk-ant-admin01-" + "A" * 90, "Admin API key"),
    ("openrouter", "sk-ant-admin01-" + "A" * 90, "Admin API key"),
    ("anthropic", "sk-ant-oat01-" + "O" * 90, "Claude subscription token, not an API key"),
    ("anthropic", "sk-ant-ort01-" + "R" * 90, "claude setup-token"),
    ("openrouter", "sk-ant-oat01-" + "O" * 90, "Create an API key (sk-ant-api03-...) in the Anthropic Console"),
    ("anthropic", "sk-proj-" + "B" * 120, "OpenAI key"),
    ("openrouter", "sk-" + "C" * 48, "OpenAI key"),
    ("anthropic", "\n  \n", "No key was given"),
    ("anthropic", "sk-ant-api03-" + "D" * 5000, "over 512 characters"),
    ("anthropic", "sk-ant-api03-" + "E" * 20 + " " + "E" * 60, "spaces or line breaks"),
    ("openrouter", "sk-or-v1-" + "f" * 32 + "\n" + "f" * 32, "spaces or line breaks"),
    ("anthropic", "sk-ant-api03-" + "F" * 40 + "\u200b" + "F" * 40, "control or invisible"),
    ("anthropic", "sk-ant-api03-GGGG", "cut short"),
    ("openrouter", "sk-or-v1-" + "g" * 64, "64 hexadecimal characters"),
]


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    BAD_KEYS,
    ids=[
        "openrouter-in-anthropic",
        "anthropic-in-openrouter",
        "admin-in-anthropic",
        "admin-in-openrouter",
        "subscription-token-in-anthropic",
        "refresh-token-in-anthropic",
        "subscription-token-in-openrouter",
        "openai-project-in-anthropic",
        "openai-in-openrouter",
        "blank",
        "oversized",
        "inner-space",
        "inner-newline",
        "zero-width",
        "truncated",
        "not-hex",
    ],
)
def test_seed_credential_refuses_a_bad_key_and_stores_nothing(tenant, store_key, provider, raw, expected):
    existing = store_key(tenant, provider)
    message = command_error("seed_credential", "--tenant", "acme", "--provider", provider, stdin=io.StringIO(raw))
    assert expected in message
    assert message.endswith("Nothing was stored.")
    if raw.strip():
        assert raw.strip() not in message
        assert raw.strip()[-8:] not in message
    assert list(TenantModelCredential.objects.values_list("pk", "status")) == [(existing.pk, Status.ACTIVE)]
    assert CredentialEvent.objects.count() == 1


def test_seed_credential_refuses_an_unknown_tenant(db):
    key = anthropic_key()
    message = command_error("seed_credential", "--tenant", "nobody", "--provider", "anthropic", stdin=io.StringIO(key))
    assert "No tenant has the slug 'nobody'" in message
    assert "create_tenant nobody" in message
    assert key not in message
    assert not TenantModelCredential.objects.exists()


def test_seed_credential_refuses_empty_stdin(tenant):
    message = command_error("seed_credential", "--tenant", "acme", "--provider", "openrouter", stdin=io.StringIO(""))
    assert "No key on standard input" in message
    assert "OpenRouter API key" in message
    assert not TenantModelCredential.objects.exists()


def test_seed_credential_refuses_an_unknown_provider(tenant):
    message = command_error("seed_credential", "--tenant", "acme", "--provider", "openai", stdin=io.StringIO("sk-x"))
    assert "openai" in message
    assert not TenantModelCredential.objects.exists()


def test_seed_credential_without_kms_stores_nothing(tenant, settings):
    settings.SINATRA_KMS_BACKENDS = []
    key = anthropic_key()
    message = command_error("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=io.StringIO(key))
    assert "SINATRA_LOCAL_DEV_KMS_KEY" in message
    assert message.endswith("Nothing was stored.")
    assert key not in message
    assert not TenantModelCredential.objects.exists()
    assert not CredentialEvent.objects.exists()


def test_seed_credential_refuses_a_deactivated_tenant_before_asking_for_the_key(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    key = anthropic_key()
    message = command_error("seed_credential", "--tenant", "acme", "--provider", "anthropic", stdin=io.StringIO(key))
    assert message == (
        "Tenant acme is deactivated: nothing can be changed in it until an operator reactivates it. Nothing was stored."
    )
    assert not TenantModelCredential.objects.exists()
    assert not CredentialEvent.objects.exists()


def test_the_credential_services_store_no_key_for_a_deactivated_tenant_but_still_revoke(tenant, store_key):
    """The tenant in hand may be stale: the row the service locks decides."""
    kept = store_key(tenant, "openrouter")
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    for write in (
        lambda: credential_create(
            tenant=tenant, provider="anthropic", secret=Secret(anthropic_key()), actor=Actor.command("test")
        ),
        lambda: store_key(Tenant.objects.get(pk=tenant.pk), "anthropic"),
    ):
        with pytest.raises(TenantDeactivated):
            write()
    assert list(TenantModelCredential.objects.values_list("pk", flat=True)) == [kept.pk]
    credential_revoke(credential=kept, actor=Actor.command("test"))  # offboarding: keys may still go
    kept.refresh_from_db()
    assert kept.status == Status.REVOKED


# --- verify_credentials


def test_verify_credentials_reports_every_active_row_ok(tenant, make_tenant, store_key, run_command):
    anthropic = anthropic_key()
    store_key(tenant, "anthropic", anthropic)
    store_key(make_tenant("globex"), "openrouter")
    out, err = run_command("verify_credentials")
    lines = out.splitlines()
    assert lines[0].startswith("ok     acme/anthropic sk-ant-api03-...")
    assert lines[1].startswith("ok     globex/openrouter sk-or-v1-...")
    assert "All 2 active credentials decrypt." in out
    assert err == ""
    assert anthropic not in out


def test_verify_credentials_skips_revoked_rows(tenant, store_key, run_command):
    old = store_key(tenant, "anthropic")
    store_key(tenant, "anthropic")
    TenantModelCredential.objects.filter(pk=old.pk).update(ciphertext=b"\x00" * 40)
    out, _ = run_command("verify_credentials")
    assert "All 1 active credentials decrypt." in out


def test_verify_credentials_names_each_failing_row_and_fails(tenant, make_tenant, store_key, run_command):
    globex, initech = make_tenant("globex"), make_tenant("initech")
    anthropic = anthropic_key()
    broken_ciphertext = store_key(tenant, "anthropic", anthropic)
    broken_kek = store_key(globex, "openrouter")
    store_key(initech, "anthropic")
    ciphertext = bytearray(broken_ciphertext.ciphertext)
    ciphertext[-1] ^= 0x01
    TenantModelCredential.objects.filter(pk=broken_ciphertext.pk).update(ciphertext=bytes(ciphertext))
    TenantModelCredential.objects.filter(pk=broken_kek.pk).update(kek_id="local:0000000000000000")

    with pytest.raises(CommandError) as excinfo:
        run_command("verify_credentials")
    message = str(excinfo.value)
    assert "\n" not in message
    assert message == "2 of 3 active credentials failed to decrypt: acme/anthropic, globex/openrouter."


def test_verify_credentials_prints_failures_on_stderr_and_ok_rows_on_stdout(tenant, make_tenant, store_key, capsys):
    anthropic = anthropic_key()
    broken = store_key(tenant, "anthropic", anthropic)
    store_key(make_tenant("globex"), "openrouter")
    TenantModelCredential.objects.filter(pk=broken.pk).update(wrapped_dek=b"\x01" * 60)
    with pytest.raises(CommandError):
        call_command("verify_credentials")
    captured = capsys.readouterr()
    assert f"FAILED acme/anthropic {broken.key_hint} (credential {broken.pk})" in captured.err
    assert "ok     globex/openrouter" in captured.out
    assert anthropic not in captured.out + captured.err


def test_verify_credentials_of_one_tenant(tenant, make_tenant, store_key, run_command):
    broken = store_key(make_tenant("globex"), "anthropic")
    TenantModelCredential.objects.filter(pk=broken.pk).update(kek_id="vault:x")
    store_key(tenant, "openrouter")
    out, err = run_command("verify_credentials", "--tenant", "acme")
    assert "ok     acme/openrouter" in out
    assert "globex" not in out + err
    assert "All 1 active credentials decrypt." in out
    with pytest.raises(CommandError, match="globex/anthropic"):
        run_command("verify_credentials", "--tenant", "globex")


def test_verify_credentials_with_nothing_to_verify(db, run_command):
    out, _ = run_command("verify_credentials")
    assert out.strip() == "No active credentials to verify."


def test_verify_credentials_refuses_an_unknown_tenant(db):
    assert "No tenant has the slug 'nobody'" in command_error("verify_credentials", "--tenant", "nobody")


# --- rewrap_credentials: local old key A -> new key B

KEY_A, KEY_B = generate_key(), generate_key()


@pytest.fixture
def rows_under_a(tenant, make_tenant, store_key, settings):
    """Three rows written under key A (one of them revoked); then B is primary and A is old."""
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_A)
    keys = {}
    for owner, provider in [(tenant, "anthropic"), (tenant, "anthropic"), (make_tenant("globex"), "openrouter")]:
        credential = store_key(owner, provider)
        keys[credential.pk] = reopen(credential)
    assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_id_of(KEY_A)}
    assert TenantModelCredential.objects.filter(status=Status.REVOKED).count() == 1
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_B, [KEY_A])
    return keys


def snapshot():
    return {
        row.pk: (row.kek_id, row.kek_version, bytes(row.wrapped_dek), bytes(row.ciphertext))
        for row in TenantModelCredential.objects.all()
    }


def test_rewrap_dry_run_says_what_it_would_do_and_changes_nothing(rows_under_a, run_command):
    before = snapshot()
    out, _ = run_command("rewrap_credentials", "--dry-run")
    assert f"would rewrap 3 from {kek_id_of(KEY_A)}" in out
    assert "  3/3 opened with the configured keys" in out
    assert (
        f"Dry run: 3 credentials would be rewrapped to {kek_id_of(KEY_B)}; each opens with the configured keys. "
        "Nothing was changed."
    ) in out
    assert snapshot() == before
    assert not CredentialEvent.objects.filter(kind="rewrapped").exists()


def test_rewrap_moves_every_row_to_the_new_key(rows_under_a, run_command, settings):
    before = snapshot()
    out, err = run_command("rewrap_credentials")

    after = snapshot()
    assert set(after) == set(before)
    for pk, (kek_id, kek_version, wrapped_dek, ciphertext) in after.items():
        assert kek_id == kek_id_of(KEY_B)
        assert kek_version == ""
        assert wrapped_dek != before[pk][2]
        assert ciphertext == before[pk][3]
    events = CredentialEvent.objects.filter(kind="rewrapped")
    assert sorted(event.credential_id for event in events) == sorted(before)
    for event in events:
        assert event.actor == "command:rewrap_credentials"
        assert event.detail == f"from {kek_id_of(KEY_A)} to {kek_id_of(KEY_B)}"
    assert f"Rewrapping 3 credentials to {kek_id_of(KEY_B)}..." in out
    assert "  3/3 processed, 3 rewrapped" in out
    assert f"Rewrapped 3 credentials to {kek_id_of(KEY_B)}." in out
    assert err == ""

    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_B)
    for pk, key in rows_under_a.items():
        assert reopen(TenantModelCredential.objects.get(pk=pk)) == key
        assert key not in out


def test_rewrap_run_again_has_nothing_to_do(rows_under_a, run_command):
    run_command("rewrap_credentials")
    before = snapshot()
    out, _ = run_command("rewrap_credentials")
    assert out.strip() == f"Every credential is already wrapped by {kek_id_of(KEY_B)}; nothing to do."
    assert snapshot() == before
    assert CredentialEvent.objects.filter(kind="rewrapped").count() == 3


def test_rewrap_of_one_tenant_leaves_the_others(rows_under_a, run_command):
    out, _ = run_command("rewrap_credentials", "--tenant", "acme")
    assert "Rewrapped 2 credentials" in out
    by_tenant = dict(TenantModelCredential.objects.values_list("tenant__slug", "kek_id").distinct())
    assert by_tenant == {"acme": kek_id_of(KEY_B), "globex": kek_id_of(KEY_A)}
    out, _ = run_command("rewrap_credentials")
    assert "Rewrapped 1 credentials" in out


def test_rewrap_in_batches_of_one_reports_progress_per_row(rows_under_a, run_command):
    out, _ = run_command("rewrap_credentials", "--batch-size", "1")
    progress = [line.strip() for line in out.splitlines() if "processed" in line]
    assert progress == ["1/3 processed, 1 rewrapped", "2/3 processed, 2 rewrapped", "3/3 processed, 3 rewrapped"]
    assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_id_of(KEY_B)}


def test_rewrap_refuses_a_batch_size_below_one(rows_under_a):
    assert "--batch-size must be at least 1" in command_error("rewrap_credentials", "--batch-size", "0")


def test_rewrap_reports_a_row_it_cannot_rewrap_and_moves_the_others(rows_under_a, capsys):
    broken = TenantModelCredential.objects.get(tenant__slug="globex")
    ciphertext = bytearray(broken.ciphertext)
    ciphertext[20] ^= 0xFF
    TenantModelCredential.objects.filter(pk=broken.pk).update(ciphertext=bytes(ciphertext))
    before = snapshot()[broken.pk]

    with pytest.raises(CommandError) as excinfo:
        call_command("rewrap_credentials", "--batch-size", "1")
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("1 of 3 credentials could not be rewrapped and stay as they were:")
    assert f"globex/openrouter ({broken.pk})" in message

    captured = capsys.readouterr()
    assert f"FAILED globex/openrouter (credential {broken.pk})" in captured.err
    assert "3/3 processed, 2 rewrapped" in captured.out
    assert snapshot()[broken.pk] == before
    moved = TenantModelCredential.objects.exclude(pk=broken.pk)
    assert set(moved.values_list("kek_id", flat=True)) == {kek_id_of(KEY_B)}
    assert not CredentialEvent.objects.filter(kind="rewrapped", credential=broken).exists()
    for key in rows_under_a.values():
        assert key not in captured.out + captured.err + message


def test_rewrap_of_a_row_whose_key_is_gone_is_reported(rows_under_a, settings):
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_B)
    message = command_error("rewrap_credentials")
    assert message.startswith("3 of 3 credentials could not be rewrapped")
    assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_id_of(KEY_A)}


def test_rewrap_without_a_primary_key_is_a_clear_error(rows_under_a, settings):
    settings.SINATRA_KMS_BACKENDS = local_backends(None, [KEY_A])
    assert "SINATRA_LOCAL_DEV_KMS_KEY" in command_error("rewrap_credentials")


def test_rewrap_refuses_an_unknown_tenant(rows_under_a):
    assert "No tenant has the slug 'nobody'" in command_error("rewrap_credentials", "--tenant", "nobody")


def test_rewrap_dry_run_names_each_row_the_configured_keys_cannot_open(rows_under_a, run_command, settings):
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_B)  # key A, which wrapped them, is missing
    before = snapshot()

    with pytest.raises(CommandError) as excinfo:
        run_command("rewrap_credentials", "--dry-run")

    message = str(excinfo.value)
    assert message.startswith("Dry run: 3 of 3 credentials cannot be opened with the configured keys")
    assert "acme/anthropic" in message
    assert "globex/openrouter" in message
    assert message.endswith("Nothing was changed.")
    assert snapshot() == before


def test_rewrap_dry_run_names_a_damaged_row_among_good_ones(rows_under_a, run_command):
    damaged = TenantModelCredential.objects.filter(tenant__slug="globex").get()
    TenantModelCredential.objects.filter(pk=damaged.pk).update(ciphertext=b"\0" * 40)

    with pytest.raises(CommandError) as excinfo:
        run_command("rewrap_credentials", "--dry-run")

    assert str(excinfo.value).startswith(
        f"Dry run: 1 of 3 credentials cannot be opened with the configured keys, so they cannot be rewrapped: "
        f"globex/openrouter ({damaged.pk})."
    )


def test_seed_credential_says_when_a_key_was_stored_without_a_live_check(tenant, run_command):
    out, _ = run_command("seed_credential", "--tenant", "acme", "--provider", "openrouter", stdin=openrouter_key())

    assert "It was stored without a live check: add --verify" in out

"""Start-up: settings from a clean environment, `check --deploy`, every command's --help, devenv.

Start-up is tested in subprocesses that run `manage.py` with an environment built from
scratch (PATH, HOME and the variables under test) and SINATRA_ENV_FILE pointing at an empty
file, so neither the developer's shell nor a `.env` can leak in.
"""

import base64
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import load_command_class

from credentials.kms.local import generate_key, local_kek_id
from sinatra import devenv

BASE_DIR = Path(__file__).resolve().parent.parent

CLOUD_KMS_KEY = "projects/sinatra-prod/locations/europe-west1/keyRings/sinatra/cryptoKeys/credentials"
PRODUCTION_EMAIL_URL = "smtp+tls://sinatra:mail-password@smtp.example.com:587"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def empty_env_file(tmp_path) -> Path:
    path = tmp_path / "empty.env"
    path.write_text("")
    return path


@pytest.fixture
def clean_env(empty_env_file, tmp_path):
    """Build an environment from scratch: PATH, HOME, an empty env file, and what is given."""

    def build(**variables: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "SINATRA_ENV_FILE": str(empty_env_file),
            **variables,
        }

    return build


@pytest.fixture
def production(clean_env):
    """A documented production configuration: DEBUG off, a long random SECRET_KEY, a public URL, a mail server."""

    def build(**variables: str) -> dict[str, str]:
        return clean_env(
            **{
                "SECRET_KEY": secrets.token_urlsafe(50),
                "SINATRA_BASE_URL": "https://sinatra.example.com",
                "EMAIL_URL": PRODUCTION_EMAIL_URL,
                **variables,
            }
        )

    return build


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_start_up_error(result: subprocess.CompletedProcess, *names: str, never: tuple[str, ...] = ()) -> str:
    """A start-up error: non-zero exit, one line on stderr naming each variable, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0]
    for value in never:
        assert value not in result.stdout + result.stderr
    return lines[0]


# --- start-up errors


def test_missing_secret_key_outside_debug_is_one_line_naming_it(clean_env):
    result = manage("check", env=clean_env(SINATRA_LOCAL_DEV_KMS_KEY=generate_key()))
    line = assert_start_up_error(result, "SECRET_KEY")
    assert "is not set" in line


def test_blank_secret_key_counts_as_missing(clean_env):
    result = manage("check", env=clean_env(SECRET_KEY="   ", SINATRA_LOCAL_DEV_KMS_KEY=generate_key()))
    assert_start_up_error(result, "SECRET_KEY")


def test_missing_kms_names_both_variables(production):
    result = manage("check", env=production())
    line = assert_start_up_error(result, "SINATRA_KMS_KEY", "SINATRA_LOCAL_DEV_KMS_KEY")
    assert "generate_kms_key" in line


def test_only_old_local_keys_is_no_kms(production):
    result = manage("check", env=production(SINATRA_LOCAL_DEV_KMS_OLD_KEYS=generate_key()))
    assert_start_up_error(result, "SINATRA_KMS_KEY", "SINATRA_LOCAL_DEV_KMS_KEY")


MALFORMED_LOCAL_KEYS = {
    "not-base64": "NotBase64Canary!!!",
    "16-bytes": b64(b"Canary16-bytes!!"),
    "33-bytes": b64(b"Canary-thirty-three-bytes-long!!!"),
    "31-bytes": b64(b"Canary-thirty-one-bytes-long!!!"),
    "empty-after-decoding-padding": "====",
    "hex-not-base64": secrets.token_hex(32) + "!",
}


@pytest.mark.parametrize("value", MALFORMED_LOCAL_KEYS.values(), ids=MALFORMED_LOCAL_KEYS.keys())
def test_malformed_local_key_names_the_variable_and_never_echoes_it(production, value):
    result = manage("check", env=production(SINATRA_LOCAL_DEV_KMS_KEY=value))
    line = assert_start_up_error(result, "SINATRA_LOCAL_DEV_KMS_KEY", never=(value,))
    assert "generate_kms_key" in line
    assert "Canary" not in result.stderr


@pytest.mark.parametrize(
    ("value", "decodes_to"), [(b64(b"Canary16-bytes!!"), "16"), (b64(b"Canary-thirty-three-bytes-long!!!"), "33")]
)
def test_a_local_key_of_the_wrong_length_says_how_long_it_is(production, value, decodes_to):
    line = assert_start_up_error(manage("check", env=production(SINATRA_LOCAL_DEV_KMS_KEY=value)))
    assert "exactly 32 bytes" in line
    assert f"decodes to {decodes_to}" in line


@pytest.mark.parametrize("value", MALFORMED_LOCAL_KEYS.values(), ids=MALFORMED_LOCAL_KEYS.keys())
def test_malformed_old_key_names_the_variable_and_never_echoes_it(production, value):
    good = generate_key()
    result = manage(
        "check",
        env=production(SINATRA_LOCAL_DEV_KMS_KEY=good, SINATRA_LOCAL_DEV_KMS_OLD_KEYS=f"{generate_key()},{value}"),
    )
    assert_start_up_error(result, "SINATRA_LOCAL_DEV_KMS_OLD_KEYS", never=(value, good))


@pytest.mark.parametrize(
    "name",
    [
        CLOUD_KMS_KEY + "/cryptoKeyVersions/3",
        "credentials",
        "projects/p/locations/l/keyRings/r",
        "projects//locations/l/keyRings/r/cryptoKeys/k",
        "https://cloudkms.googleapis.com/v1/" + CLOUD_KMS_KEY,
    ],
    ids=["key-version", "bare-name", "key-ring", "empty-project", "url"],
)
def test_a_bad_cloud_kms_key_name_says_what_it_must_be(production, name):
    line = assert_start_up_error(manage("check", env=production(SINATRA_KMS_KEY=name)), "SINATRA_KMS_KEY")
    assert "projects/P/locations/L/keyRings/R/cryptoKeys/K" in line


def test_a_missing_env_file_is_named(clean_env, tmp_path):
    missing = tmp_path / "nowhere" / ".env.production"
    result = manage("check", env=clean_env(SINATRA_ENV_FILE=str(missing), DEBUG="true"))
    assert_start_up_error(result, "SINATRA_ENV_FILE", str(missing))


@pytest.mark.parametrize("name", ["SINATRA_DEK_CACHE_SECONDS", "SINATRA_MODEL_CATALOG_SECONDS", "SECURE_HSTS_SECONDS"])
@pytest.mark.parametrize("value", ["soon", "-1", "1.5"])
def test_a_bad_number_of_seconds_is_named(clean_env, name, value):
    assert_start_up_error(manage("check", env=clean_env(DEBUG="true", **{name: value})), name)


@pytest.mark.parametrize("value", ["many", "0", "-1", "1.5"])
def test_a_bad_dek_cache_size_is_one_line_naming_the_variable(clean_env, value):
    line = assert_start_up_error(manage("check", env=clean_env(DEBUG="true", SINATRA_DEK_CACHE_ENTRIES=value)))
    assert line.endswith(
        "SINATRA_DEK_CACHE_ENTRIES must be a whole number of data keys, at least 1 (default 20000); "
        "SINATRA_DEK_CACHE_SECONDS=0 turns the cache off."
    )


def test_a_dek_cache_size_from_the_environment_is_used(clean_env):
    script = "from django.conf import settings; print(settings.SINATRA_DEK_CACHE_ENTRIES)"
    env = clean_env(DEBUG="true", SINATRA_DEK_CACHE_ENTRIES="50000")
    result = manage("shell", "--no-imports", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "50000"


def test_a_relative_base_url_is_named(production):
    result = manage(
        "check", env=production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key(), SINATRA_BASE_URL="sinatra.example")
    )
    assert_start_up_error(result, "SINATRA_BASE_URL")


def test_debug_with_nothing_set_starts(clean_env):
    result = manage("check", env=clean_env(DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_settings_come_from_the_env_file(clean_env, empty_env_file):
    empty_env_file.write_text(
        f"SECRET_KEY={secrets.token_urlsafe(50)}\nSINATRA_LOCAL_DEV_KMS_KEY={generate_key()}\n"
        f"SINATRA_BASE_URL=https://sinatra.example.com\nEMAIL_URL={PRODUCTION_EMAIL_URL}\n"
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_process_environment_wins_over_the_env_file(clean_env, empty_env_file):
    empty_env_file.write_text(f"SECRET_KEY={secrets.token_urlsafe(50)}\nSINATRA_LOCAL_DEV_KMS_KEY=broken\n")
    result = manage("check", env=clean_env(SINATRA_LOCAL_DEV_KMS_KEY=generate_key()))
    assert result.returncode == 0, result.stderr


def setting_in(env: dict[str, str], name: str) -> str:
    """Start the app with `env` and return repr() of one setting."""
    result = manage(
        "shell", "-v", "0", "-c", f"from django.conf import settings; print(repr(settings.{name}))", env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("blank", [None, "", ","], ids=["unset", "blank", "comma"])
def test_allowed_hosts_unset_or_blank_is_the_base_urls_host(production, blank):
    env = production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key())
    if blank is not None:
        env["ALLOWED_HOSTS"] = blank
    assert setting_in(env, "ALLOWED_HOSTS") == "['sinatra.example.com']"


def test_allowed_hosts_when_given_is_used(production):
    env = production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key(), ALLOWED_HOSTS="a.example.com,b.example.com")
    assert setting_in(env, "ALLOWED_HOSTS") == "['a.example.com', 'b.example.com']"


# --- logging as configured: every handler masks keys

LOG_A_KEY = """
import logging
key = "sk-ant-api03-" + "LeakCanary" * 8 + "Wxyz"
logging.getLogger("django.request").error("request failed for %s", key)
logging.getLogger("django").warning("django says " + key)
logging.getLogger("credentials").warning("app says %r", key)
try:
    raise ValueError("provider refused " + key)
except ValueError:
    logging.getLogger("django.request").exception("Internal Server Error: /t/acme/credentials/")
"""


@pytest.mark.parametrize("debug", ["true", "false"])
def test_configured_logging_masks_keys_in_every_handler(production, debug):
    env = production(DEBUG=debug, SINATRA_LOCAL_DEV_KMS_KEY=generate_key())
    result = manage("shell", "-v", "0", "-c", LOG_A_KEY, env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "LeakCanary" not in output
    assert "request failed for sk-ant-api03-...Wxyz" in output
    assert "django says sk-ant-api03-...Wxyz" in output
    assert "app says 'sk-ant-api03-...Wxyz'" in output
    assert "ValueError: provider refused sk-ant-api03-...Wxyz" in output
    # Once each: no second, unfiltered handler repeats them.
    assert output.count("request failed for") == 1


# --- generate_kms_key before anything is configured


def test_generate_kms_key_works_with_nothing_configured(clean_env):
    result = manage("generate_kms_key", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert len(base64.b64decode(result.stdout.strip(), validate=True)) == 32
    assert result.stderr == ""


def test_generate_kms_key_help_works_with_nothing_configured(clean_env):
    result = manage("generate_kms_key", "--help", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "usage: manage.py generate_kms_key" in result.stdout
    assert "SINATRA_LOCAL_DEV_KMS_KEY" in result.stdout


def test_other_commands_still_refuse_to_start_with_nothing_configured(clean_env):
    assert_start_up_error(manage("verify_credentials", env=clean_env()), "SECRET_KEY")


# --- check --deploy on the documented production configurations


@pytest.mark.parametrize(
    "kms",
    [
        {"SINATRA_LOCAL_DEV_KMS_KEY": generate_key()},
        {"SINATRA_KMS_KEY": CLOUD_KMS_KEY},
        {"SINATRA_KMS_KEY": CLOUD_KMS_KEY, "SINATRA_LOCAL_DEV_KMS_OLD_KEYS": generate_key()},
    ],
    ids=["local-kms", "cloud-kms", "cloud-kms-migrating-from-local"],
)
def test_check_deploy_is_clean_on_a_production_configuration(production, kms):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production(**kms))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output
    assert "security.W" not in output


def test_check_deploy_is_clean_on_the_readmes_env_production(clean_env, tmp_path):
    env_production = tmp_path / ".env.production"
    env_production.write_text(
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        "SINATRA_BASE_URL=https://sinatra.example.com\n"
        "DATABASE_URL=postgres://sinatra:password@db.internal:5432/sinatra\n"
        f"SINATRA_KMS_KEY={CLOUD_KMS_KEY}\n"
        f"EMAIL_URL={PRODUCTION_EMAIL_URL}\n"
        "USE_X_FORWARDED_PROTO=true\n"
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=clean_env(SINATRA_ENV_FILE=str(env_production)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output


@pytest.mark.parametrize("email_url", [None, "consolemail://", "memorymail://", "dummymail://"])
def test_check_deploy_warns_when_production_mail_would_go_to_the_log_or_nowhere(production, email_url):
    env = production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key())
    if email_url is None:
        del env["EMAIL_URL"]
    else:
        env["EMAIL_URL"] = email_url
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "(sinatra.W001) Mail is not delivered" in output
    assert "HINT: Set EMAIL_URL" in output
    assert output.count("sinatra.W001") == 1


def test_check_deploy_accepts_printed_mail_in_debug(clean_env):
    result = manage("check", "--deploy", env=clean_env(DEBUG="true"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sinatra.W001" not in result.stdout + result.stderr


def test_check_deploy_is_clean_behind_a_tls_proxy(production):
    env = production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key(), USE_X_FORWARDED_PROTO="true")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- --help of every command the project defines


def project_commands() -> list[tuple[str, str]]:
    """(app, command) for every command under */management/commands/ in the project."""
    return sorted(
        (path.parts[-4], path.stem)
        for path in BASE_DIR.glob("*/management/commands/*.py")
        if not path.stem.startswith("_")
    )


COMMANDS = project_commands()
COMMAND_IDS = [name for _, name in COMMANDS]

# Options every Django command has; Django writes their help.
DJANGO_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def test_the_commands_are_discovered():
    names = {name for _, name in COMMANDS}
    assert {
        "generate_kms_key",
        "create_tenant",
        "seed_credential",
        "verify_credentials",
        "rewrap_credentials",
        "resolve_model",
        "create_service_token",
        "revoke_service_token",
        "list_service_tokens",
        "tenant_policy",
        "offboard_tenant",
    } <= names


@pytest.mark.parametrize(("app", "name"), COMMANDS, ids=COMMAND_IDS)
def test_every_command_prints_its_help(production, app, name):
    result = manage(name, "--help", env=production(SINATRA_LOCAL_DEV_KMS_KEY=generate_key()))
    assert result.returncode == 0, result.stderr
    assert f"usage: manage.py {name}" in result.stdout
    command = load_command_class(app, name)
    assert command.help.strip()
    # argparse re-wraps the text (and may break it at hyphens): compare without white space.
    assert "".join(command.help.split()) in "".join(result.stdout.split())


@pytest.mark.parametrize(("app", "name"), COMMANDS, ids=COMMAND_IDS)
def test_every_argument_of_every_command_has_help(app, name):
    parser = load_command_class(app, name).create_parser("manage.py", name)
    for action in parser._actions:
        if action.dest not in DJANGO_OPTIONS:
            assert action.help, f"{name}: {action.dest} has no help text"


# --- sinatra/devenv.py: the .env that `make run` writes

GENERATED = ("SECRET_KEY", "SINATRA_LOCAL_DEV_KMS_KEY", "DEBUG")


@pytest.fixture
def env_file(tmp_path, monkeypatch) -> Path:
    """An env file for devenv, in a process environment that configures none of what it writes."""
    for name in (*GENERATED, "SINATRA_KMS_KEY", "PORT", "SINATRA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / ".env"
    monkeypatch.setenv("SINATRA_ENV_FILE", str(path))
    # devenv prepares the SQLite file too: never the project's own db.sqlite3 from a test.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    return path


def assignments(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_devenv_writes_what_a_local_evaluation_needs(env_file, capsys):
    assert devenv.main() == 0
    values = assignments(env_file)
    assert set(values) == set(GENERATED)
    assert values["DEBUG"] == "true"
    assert len(values["SECRET_KEY"]) >= 50
    assert len(base64.b64decode(values["SINATRA_LOCAL_DEV_KMS_KEY"], validate=True)) == 32


def test_devenv_writes_a_file_only_its_owner_can_read(env_file):
    devenv.main()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_devenv_prints_the_evaluation_warning_and_never_a_key(env_file, capsys):
    devenv.main()
    out = capsys.readouterr().out
    values = assignments(env_file)
    assert "SINATRA_LOCAL_DEV_KMS_KEY" in out
    assert "evaluation only" in out
    assert "if it is lost, every stored key is lost with it" in out
    assert "SINATRA_KMS_KEY" in out
    for name in ("SECRET_KEY", "SINATRA_LOCAL_DEV_KMS_KEY"):
        assert values[name] not in out
        assert values[name][:12] not in out


def test_devenv_generates_different_keys_for_different_installations(tmp_path, env_file, monkeypatch):
    devenv.main()
    other = tmp_path / "other.env"
    monkeypatch.setenv("SINATRA_ENV_FILE", str(other))
    devenv.main()
    first, second = assignments(env_file), assignments(other)
    assert first["SECRET_KEY"] != second["SECRET_KEY"]
    assert first["SINATRA_LOCAL_DEV_KMS_KEY"] != second["SINATRA_LOCAL_DEV_KMS_KEY"]


def test_devenv_run_twice_changes_nothing(env_file, capsys):
    devenv.main()
    content = env_file.read_text()
    capsys.readouterr()
    assert devenv.main() == 0
    assert env_file.read_text() == content
    out = capsys.readouterr().out
    assert "already configured; nothing to generate" in out
    assert "evaluation only" not in out


def test_devenv_keeps_existing_values(env_file, capsys):
    key = generate_key()
    original = f"# mine\nSECRET_KEY=my-own-secret-key\nSINATRA_LOCAL_DEV_KMS_KEY={key}\nOTHER=1"
    env_file.write_text(original)
    devenv.main()
    content = env_file.read_text()
    assert content == original + "\nDEBUG=true\n"
    out = capsys.readouterr().out
    assert "added DEBUG" in out
    assert "evaluation only" not in out


def test_devenv_fills_in_values_that_are_blank_or_quoted_empty(env_file):
    env_file.write_text("SECRET_KEY=\nSINATRA_LOCAL_DEV_KMS_KEY=''\nDEBUG=\"\"\n")
    devenv.main()
    lines = env_file.read_text().splitlines()
    generated = dict(line.split("=", 1) for line in lines[3:])
    assert set(generated) == set(GENERATED)
    assert len(base64.b64decode(generated["SINATRA_LOCAL_DEV_KMS_KEY"])) == 32


def test_devenv_respects_values_in_the_process_environment(env_file, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("DEBUG", "false")
    devenv.main()
    assert set(assignments(env_file)) == {"SINATRA_LOCAL_DEV_KMS_KEY"}


def test_devenv_writes_no_local_key_when_the_environment_names_cloud_kms(env_file, monkeypatch, capsys):
    monkeypatch.setenv("SINATRA_KMS_KEY", CLOUD_KMS_KEY)
    devenv.main()
    assert set(assignments(env_file)) == {"SECRET_KEY", "DEBUG"}
    assert "evaluation only" not in capsys.readouterr().out


def test_devenv_writes_no_local_key_when_the_file_names_cloud_kms(env_file, capsys):
    env_file.write_text(f"export SINATRA_KMS_KEY={CLOUD_KMS_KEY}\n")
    devenv.main()
    assert "SINATRA_LOCAL_DEV_KMS_KEY" not in env_file.read_text()
    assert "evaluation only" not in capsys.readouterr().out


def test_devenv_keeps_a_local_key_from_the_process_environment(env_file, monkeypatch, capsys):
    monkeypatch.setenv("SINATRA_LOCAL_DEV_KMS_KEY", generate_key())
    devenv.main()
    assert "SINATRA_LOCAL_DEV_KMS_KEY" not in env_file.read_text()
    assert "evaluation only" not in capsys.readouterr().out


def run_devenv(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `python -m sinatra.devenv` as `make run` does, in the project directory."""
    return subprocess.run(
        [sys.executable, "-m", "sinatra.devenv"], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=False
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def local_run(clean_env, tmp_path):
    """What `make run` works on, in a temporary directory: an env file (absent) and a SQLite URL."""
    database = tmp_path / "db.sqlite3"
    env_file = tmp_path / ".env"
    return SimpleNamespace(
        env=clean_env(SINATRA_ENV_FILE=str(env_file), DATABASE_URL=f"sqlite:///{database}"),
        env_file=env_file,
        database=database,
    )


def test_devenv_makes_an_env_file_copied_from_the_example_private(local_run):
    # README: copy .env.example to .env and fill it in; cp leaves it 644, readable by anyone.
    shutil.copyfile(BASE_DIR / ".env.example", local_run.env_file)
    local_run.env_file.chmod(0o644)
    result = run_devenv(local_run.env)
    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY" in assignments(local_run.env_file)  # the example leaves it blank: generated
    assert mode_of(local_run.env_file) == 0o600
    assert ".env: made readable by its owner only (mode 600)." in result.stdout


def test_devenv_makes_an_already_configured_env_file_private(local_run):
    content = f"DEBUG=true\nSECRET_KEY={secrets.token_urlsafe(50)}\nSINATRA_LOCAL_DEV_KMS_KEY={generate_key()}\n"
    local_run.env_file.write_text(content)
    local_run.env_file.chmod(0o664)
    result = run_devenv(local_run.env)
    assert result.returncode == 0, result.stderr
    assert "nothing to generate" in result.stdout
    assert local_run.env_file.read_text() == content
    assert mode_of(local_run.env_file) == 0o600


def test_make_run_creates_a_private_sqlite_database_and_wal_files(local_run):
    assert run_devenv(local_run.env).returncode == 0
    migrated = manage("migrate", "--noinput", env=local_run.env)
    assert migrated.returncode == 0, migrated.stderr
    assert mode_of(local_run.env_file) == 0o600
    assert mode_of(local_run.database) == 0o600
    # The database is in WAL mode (settings): a writer's -wal and -shm files get its mode.
    with closing(sqlite3.connect(local_run.database)) as database:
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        database.execute("DELETE FROM django_session")
        database.commit()
        side_files = [local_run.database.with_name(f"db.sqlite3{suffix}") for suffix in ("-wal", "-shm")]
        assert {path.name: mode_of(path) for path in side_files} == {
            "db.sqlite3-wal": 0o600,
            "db.sqlite3-shm": 0o600,
        }


def test_devenv_makes_an_existing_sqlite_database_named_in_the_env_file_private(local_run, tmp_path):
    database = tmp_path / "data" / "sinatra.sqlite3"
    database.parent.mkdir()
    local_run.env_file.write_text(f"DATABASE_URL=sqlite:///{database}\n")
    env = {name: value for name, value in local_run.env.items() if name != "DATABASE_URL"}
    files = [database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    for path in files:
        path.write_bytes(b"")
        path.chmod(0o644)
    result = run_devenv(env)
    assert result.returncode == 0, result.stderr
    assert {path.name: mode_of(path) for path in files} == {path.name: 0o600 for path in files}
    assert not local_run.database.exists()  # the file the env file names, not the default


def test_devenv_leaves_a_postgresql_database_alone(local_run):
    env = {**local_run.env, "DATABASE_URL": "postgres://sinatra@127.0.0.1:5432/sinatra"}
    result = run_devenv(env)
    assert result.returncode == 0, result.stderr
    assert mode_of(local_run.env_file) == 0o600
    assert not list(local_run.env_file.parent.glob("*sqlite3*"))


def test_after_devenv_the_app_starts_with_the_generated_key(clean_env, tmp_path):
    env_file = tmp_path / "fresh.env"
    env = clean_env(SINATRA_ENV_FILE=str(env_file), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    generated = run_devenv(env)
    assert generated.returncode == 0, generated.stderr
    key = assignments(env_file)["SINATRA_LOCAL_DEV_KMS_KEY"]
    assert key not in generated.stdout + generated.stderr

    started = manage(
        "shell", "-c", "from credentials.kms import get_keyring; print(get_keyring().primary_kek()[0])", env=env
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == local_kek_id(base64.b64decode(key))

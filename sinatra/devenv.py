"""Prepare a local `.env` for `make run`: generate what is missing, keep what is there.

Writes SECRET_KEY, SINATRA_LOCAL_DEV_KMS_KEY and DEBUG=true into the env file (the one
SINATRA_ENV_FILE names, `.env` by default) only when neither that file nor the process
environment configures them, so running it again changes nothing already set up. It never
prints a key.

Whatever existed before, the env file and a SQLite database (with its -wal, -shm and -journal
files) end up readable by their owner only (mode 600): the one holds the key-encryption key,
the other the ciphertexts and sessions. The database file is created empty here when missing,
so that `migrate` fills a private file (SQLite gives its -wal and -shm files the database
file's mode).

With PORT set (`make run` passes it), it also points SINATRA_BASE_URL at that port,
http://127.0.0.1:PORT, so that the links the app and its commands print (install links) lead
to the server `make run` starts, from any terminal. A SINATRA_BASE_URL of another form (a real
host name) or one set in the process environment is left alone.

It deliberately does not import Django settings: they refuse to load without the very values
this writes.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

# The embedded database when DATABASE_URL is not set (settings.py uses this default too).
DEFAULT_DATABASE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
PRIVATE = 0o600
# The files SQLite keeps beside a database file.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

WARNING = """\
Generated a local KMS key (SINATRA_LOCAL_DEV_KMS_KEY) in {path}.
  This key is for evaluation only. It encrypts every credential stored in this
  installation: if it is lost, every stored key is lost with it and must be
  entered again. Back {path} up, and use Cloud KMS (SINATRA_KMS_KEY) in production."""


# A line as django-environ reads it (settings.py reads the env file with it); it ignores
# any other line, so this must too, or a value only this saw would never be generated.
_ASSIGNMENT = re.compile(r"\A(?:export )?([A-Za-z_0-9]+)=(.*)\Z")
_QUOTED = re.compile(r"\A(['\"])(.*)\1\Z")


def read_env_file(path: Path) -> dict[str, str]:
    """Return the names and values set in an env file, unquoted (later lines win)."""
    values = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            match = _ASSIGNMENT.match(line)
            if match:
                name, value = match.groups()
                quoted = _QUOTED.match(value)
                values[name] = quoted.group(2) if quoted else value
    return values


def missing_settings(configured: dict[str, str]) -> dict[str, str]:
    """Return generated values for what a local evaluation needs and is not configured."""

    def is_set(name: str) -> bool:
        return bool((os.environ.get(name) or configured.get(name) or "").strip())

    additions = {}
    if not is_set("DEBUG"):
        additions["DEBUG"] = "true"
    if not is_set("SECRET_KEY"):
        additions["SECRET_KEY"] = secrets.token_urlsafe(50)
    if not (is_set("SINATRA_LOCAL_DEV_KMS_KEY") or is_set("SINATRA_KMS_KEY")):
        additions["SINATRA_LOCAL_DEV_KMS_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    return additions


def sqlite_database(configured: dict[str, str]) -> Path | None:
    """Return the SQLite file the app will use, or None when its database is not a SQLite file."""
    url = os.environ.get("DATABASE_URL") or configured.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    config = environ.Env.db_url_config(url)
    name = str(config.get("NAME") or "")
    if config.get("ENGINE") != "django.db.backends.sqlite3" or not name or name == ":memory:":
        return None
    return Path(name)


def make_private(path: Path) -> bool:
    """Give an existing file mode 600; return whether its mode changed."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if mode == PRIVATE:
        return False
    os.chmod(path, PRIVATE)
    return True


def make_database_private(database: Path) -> list[Path]:
    """Create the SQLite file private when it is missing; make it and its side files private.

    Return the files whose mode changed.
    """
    if not database.exists() and database.parent.is_dir():
        # Empty is a valid SQLite database: `migrate` fills this file rather than creating one 644.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    candidates = [database, *(database.with_name(database.name + suffix) for suffix in SQLITE_SIDE_FILES)]
    return [path for path in candidates if make_private(path)]


_LOCAL_BASE_URL = re.compile(r"http://127\.0\.0\.1:\d+/?")
_BASE_URL_LINE = re.compile(r"\A(?:export )?SINATRA_BASE_URL=")


def base_url_for_port(configured: dict[str, str], port: str) -> str | None:
    """Return the SINATRA_BASE_URL `make run` on `port` needs written, or None to leave it as it is."""
    if not port.strip() or os.environ.get("SINATRA_BASE_URL", "").strip():
        return None
    current = configured.get("SINATRA_BASE_URL", "").strip()
    wanted = f"http://127.0.0.1:{port.strip()}"
    if current.rstrip("/") == wanted or (current and not _LOCAL_BASE_URL.fullmatch(current)):
        return None
    return wanted


def main() -> int:
    path = Path(os.environ.get("SINATRA_ENV_FILE") or ".env")
    if not path.is_absolute():
        path = BASE_DIR / path
    configured = read_env_file(path)
    tightened = [path] if make_private(path) else []
    database = sqlite_database(configured)
    if database is not None:
        tightened += make_database_private(database)
    for changed in tightened:
        print(f"{changed.name}: made readable by its owner only (mode 600).")
    base_url = base_url_for_port(configured, os.environ.get("PORT", ""))
    replaced = bool(base_url and configured.get("SINATRA_BASE_URL", "").strip())
    if replaced:
        # make run's own earlier choice, for another port: that line is replaced, the rest kept.
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not _BASE_URL_LINE.match(line)]
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        path.write_text("".join([*kept, f"SINATRA_BASE_URL={base_url}\n"]))
        print(f"{path.name}: SINATRA_BASE_URL={base_url} (links follow PORT).")
        base_url = None
    additions = missing_settings(configured)
    if base_url:
        additions["SINATRA_BASE_URL"] = base_url
    if not additions:
        if not replaced:
            print(f"{path.name}: already configured; nothing to generate.")
        return 0
    content = path.read_text() if path.exists() else ""
    lines = [] if path.exists() else ["# Local settings written by `make run`. See README.md, Settings.\n"]
    if content and not content.endswith("\n"):
        lines.append("\n")
    lines += [f"{name}={value}\n" for name, value in additions.items()]
    # Created private to this user: it holds the keys that protect every stored credential.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as env_file:
        env_file.writelines(lines)
    print(f"{path.name}: added {', '.join(additions)}.")
    if "SINATRA_LOCAL_DEV_KMS_KEY" in additions:
        print(WARNING.format(path=path.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())

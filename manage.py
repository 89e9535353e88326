#!/usr/bin/env python3
"""Django's command-line utility for Sinatra's control plane.

A configuration that cannot work (a bad setting, a database that is missing or unreachable, a
Python package the configuration needs that is not installed) is reported in one line on
stderr with a non-zero exit, at start-up and in any command; `--traceback` shows the
traceback instead.
"""

import os
import sys


def one_line(text: object) -> str:
    """Return a message on one line (database drivers write theirs over several)."""
    return " ".join(str(text).split())


def sentence(text: object) -> str:
    """Return a message on one line, ending as a sentence does."""
    line = one_line(text)
    return line if line.endswith((".", "?", "!")) else f"{line}."


def missing_package(exc: ImportError) -> str:
    return (
        f"A Python package this configuration needs is missing ({one_line(exc)}): "
        "install the requirements with `pip install -r requirements.txt`."
    )


def configuration_error(exc: Exception) -> str:
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if isinstance(cause, ImportError):  # e.g. Django's PostgreSQL backend without psycopg
        return f"Configuration error: {sentence(exc)} {missing_package(cause)}"
    return f"Configuration error: {one_line(exc)}"


def database_error(exc: Exception) -> str:
    return (
        f"Database error: {sentence(exc)} Check DATABASE_URL, that the database server is up, "
        "and that `python manage.py migrate` has run."
    )


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sinatra.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings to report a bad configuration in one line
    except ImproperlyConfigured as exc:
        if sys.argv[1:2] != ["generate_kms_key"]:
            sys.exit(configuration_error(exc))
        # How an operator gets a first key, so it (and its --help) must work before anything
        # is configured: run it with only the apps its models need.
        settings.configure(
            INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "tenants", "credentials"]
        )
    except ImportError as exc:
        sys.exit(missing_package(exc))
    from django.core.management import execute_from_command_line
    from django.db import InterfaceError, OperationalError

    try:
        execute_from_command_line(sys.argv)
    except (ImproperlyConfigured, ImportError, OperationalError, InterfaceError) as exc:
        if "--traceback" in sys.argv:
            raise
        if isinstance(exc, ImproperlyConfigured):
            message = configuration_error(exc)
        elif isinstance(exc, ImportError):
            message = missing_package(exc)
        else:
            message = database_error(exc)
        password = settings.DATABASES.get("default", {}).get("PASSWORD")
        sys.exit(message.replace(password, "***") if password else message)


if __name__ == "__main__":
    main()

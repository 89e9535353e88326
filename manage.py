#!/usr/bin/env python3
"""Django's command-line utility for Sinatra's control plane."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sinatra.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings to report a bad configuration in one line
    except ImproperlyConfigured as exc:
        if sys.argv[1:2] != ["generate_kms_key"]:
            sys.exit(f"Configuration error: {exc}")
        # How an operator gets a first key, so it (and its --help) must work before anything
        # is configured: run it with only the apps its models need.
        settings.configure(
            INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "tenants", "credentials"]
        )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

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
        if sys.argv[1:] == ["generate_kms_key"]:
            # How an operator gets a first key, so it must work before anything is configured.
            from credentials.kms.local import generate_key

            print(generate_key())
            return
        sys.exit(f"Configuration error: {exc}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

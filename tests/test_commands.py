"""Every operator command explains itself: `--help` works, and the command and each argument have help."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class

from tests.helpers import PROJECT_DIR, command_env

PROJECT_APPS = ("tenants", "credentials", "routing", "console")
COMMANDS = sorted((name, app) for name, app in get_commands().items() if app in PROJECT_APPS)
# Arguments every Django command has, documented by Django.
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


def test_the_contract_commands_are_all_there():
    names = {name for name, _ in COMMANDS}

    assert {
        "generate_kms_key",
        "create_tenant",
        "seed_credential",
        "resolve_model",
        "rewrap_credentials",
        "verify_credentials",
        "create_service_token",
        "list_service_tokens",
        "revoke_service_token",
        "tenant_policy",
    } <= names


@pytest.mark.parametrize(("name", "app"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_and_argument_has_help(name, app):
    command = load_command_class(app, name)
    parser = command.create_parser("manage.py", name)

    assert command.help.strip(), f"{name} has no help"
    undocumented = [
        action.dest
        for action in parser._actions
        if action.dest not in DJANGO_OPTIONS and action.help in (None, "") and action.help is not argparse.SUPPRESS
    ]
    assert undocumented == [], f"{name}: arguments without help: {undocumented}"


@pytest.mark.parametrize(("name", "app"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_help_runs_and_exits_0(name, app):
    result = subprocess.run(
        [sys.executable, "manage.py", name, "--help"],
        cwd=PROJECT_DIR,
        env=command_env(DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"usage: manage.py {name}" in result.stdout

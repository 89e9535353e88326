"""Fixtures for the production-like tests (`pytest -m deploy`): a work directory nginx can read, and a
database of the tests' own (a SQLite file, or sinatra_deploy_<random> on the suite's PostgreSQL,
dropped afterwards). The servers themselves are in servers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from .servers import Database, missing_servers, own_database, remove_tree, shared_temp_dir


@pytest.fixture(scope="module")
def servers_available() -> None:
    reason = missing_servers()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = shared_temp_dir("sinatra-deploy-")
    yield path
    remove_tree(path)


@pytest.fixture(scope="module")
def database(workdir) -> Iterator[Database]:
    with own_database(connection.vendor, connection.settings_dict, workdir) as created:
        yield created

"""Fixtures for the production-like tests (`pytest -m deploy`). The servers are in servers.py.

The stack and the two-server pair are session-scoped fixtures of their modules: whatever order
pytest-xdist hands a worker its tests in, each worker starts them once at most.
"""

from __future__ import annotations

import pytest

from .servers import missing_servers


@pytest.fixture(scope="session")
def servers_available() -> None:
    reason = missing_servers()
    if reason:
        pytest.skip(reason)

"""The console's test-client fixtures (tests/web.py)."""

from tests.web import key_checks, people  # noqa: F401

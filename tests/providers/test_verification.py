"""verify_key: a provider's answer to a key check, spending no tokens."""

import httpx
import pytest
import respx

from providers.secret import Secret
from providers.verification import Verdict, verify_key
from tests.fakes.providers import ANTHROPIC_MODELS_URL, anthropic_key


@respx.mock
@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, Verdict.ACCEPTED), (401, Verdict.REJECTED), (403, Verdict.REJECTED), (500, Verdict.UNREACHABLE)],
)
def test_verify_key_tells_accepted_rejected_and_unreachable(status, verdict):
    respx.get(ANTHROPIC_MODELS_URL).mock(return_value=httpx.Response(status, json={"data": []}))
    assert verify_key("anthropic", Secret(anthropic_key())).verdict is verdict

"""The provider clients: model lists, key checks that spend no tokens, bounded retries, no key anywhere."""

from __future__ import annotations

import email.utils
import json
import traceback
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
import respx

from providers import KeyFacts
from providers import anthropic as anthropic_client
from providers import http as provider_clients
from providers import openrouter as openrouter_client
from providers.errors import KeyRejected, ProviderError, ProviderUnavailable
from providers.http import retry_after_seconds
from providers.secret import Secret
from tests.fakes.providers import (
    ANTHROPIC_MODELS_URL,
    OPENROUTER_KEY_URL,
    OPENROUTER_MODELS_URL,
    answer_with,
    anthropic_key,
    anthropic_page,
    log_text,
    openrouter_key,
    openrouter_list,
)
from tests.helpers import find_leaks

NOW = 1_800_000_000.0  # a fixed "now" for HTTP-date retry-after values


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def fixed_clock(monkeypatch):
    """Freeze the wall clock the clients read retry-after dates against."""
    monkeypatch.setattr(provider_clients, "time", SimpleNamespace(time=lambda: NOW))
    return NOW


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(NOW + seconds_from_now, usegmt=True)


# --- Anthropic: the model list, paginated.


def test_anthropic_list_models_follows_every_page_and_keeps_the_order(router):
    seen_params = []
    pages = {
        None: anthropic_page(["claude-opus-4-8", "claude-sonnet-4-6"], has_more=True, last_id="claude-sonnet-4-6"),
        "claude-sonnet-4-6": anthropic_page(["claude-opus-4-7", "claude-haiku-4-5"], has_more=True),
        "claude-haiku-4-5": anthropic_page(["claude-sonnet-4-5-20250929"], has_more=False),
    }

    def answer(request):
        seen_params.append(dict(request.url.params))
        return pages[request.url.params.get("after_id")]

    router.get(ANTHROPIC_MODELS_URL).mock(side_effect=answer)

    ids = anthropic_client.list_models(Secret(anthropic_key()))

    assert ids == [
        "claude-opus-4-8",
        "claude-sonnet-4-6",
        "claude-opus-4-7",
        "claude-haiku-4-5",
        "claude-sonnet-4-5-20250929",
    ]
    assert seen_params == [
        {"limit": "1000"},
        {"limit": "1000", "after_id": "claude-sonnet-4-6"},
        {"limit": "1000", "after_id": "claude-haiku-4-5"},
    ]


def test_anthropic_pagination_without_last_id_continues_after_the_pages_last_model(router):
    def answer(request):
        if "after_id" not in request.url.params:
            return httpx.Response(200, json={"data": [{"id": "claude-opus-4-8"}], "has_more": True})
        assert request.url.params["after_id"] == "claude-opus-4-8"
        return httpx.Response(200, json={"data": [{"id": "claude-opus-4-7"}], "has_more": False})

    router.get(ANTHROPIC_MODELS_URL).mock(side_effect=answer)

    assert anthropic_client.list_models(Secret(anthropic_key())) == ["claude-opus-4-8", "claude-opus-4-7"]


def test_anthropic_pagination_is_bounded_when_has_more_never_ends(router):
    route = router.get(ANTHROPIC_MODELS_URL).mock(
        return_value=anthropic_page(["claude-opus-4-8"], has_more=True, last_id="claude-opus-4-8")
    )

    ids = anthropic_client.list_models(Secret(anthropic_key()))

    assert route.call_count == anthropic_client.MAX_PAGES
    assert ids == ["claude-opus-4-8"] * anthropic_client.MAX_PAGES


def test_anthropic_requests_send_the_key_and_the_api_version(router):
    key = anthropic_key()
    route = router.get(ANTHROPIC_MODELS_URL).mock(return_value=anthropic_page(["claude-opus-4-8"]))

    anthropic_client.list_models(Secret(key))
    anthropic_client.verify_key(Secret(key))

    assert route.call_count == 2
    for call in route.calls:
        assert call.request.headers["x-api-key"] == key
        assert call.request.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in call.request.headers


def test_anthropic_verify_key_asks_for_one_model_only(router):
    route = router.get(ANTHROPIC_MODELS_URL).mock(return_value=anthropic_page(["claude-opus-4-8"]))

    anthropic_client.verify_key(Secret(anthropic_key()))

    assert route.calls.last.request.url.params["limit"] == "1"
    assert route.calls.last.request.method == "GET"


@pytest.mark.parametrize(
    "body",
    [
        b"<html>bad gateway</html>",
        b"[1, 2]",
        b'{"models": []}',
        b'{"data": "nope"}',
    ],
    ids=["not-json", "not-an-object", "no-data", "data-not-a-list"],
)
def test_a_model_list_that_is_not_the_documented_shape_is_provider_unavailable(router, body):
    router.get(ANTHROPIC_MODELS_URL).mock(return_value=httpx.Response(200, content=body))
    router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(ProviderUnavailable, match="Anthropic"):
        anthropic_client.list_models(Secret(anthropic_key()))
    with pytest.raises(ProviderUnavailable, match="OpenRouter"):
        openrouter_client.list_models()


# --- Key checks: rejected, unavailable, fine.

VERIFY_OUTCOMES = [
    ("200", httpx.Response(200, json={"data": [], "has_more": False}), None, ""),
    (
        "401",
        httpx.Response(401, json={"type": "error", "error": {"type": "authentication_error"}}),
        KeyRejected,
        "rejected",
    ),
    ("403", httpx.Response(403, json={"type": "error", "error": {"type": "permission_error"}}), KeyRejected, "refuses"),
    ("429", httpx.Response(429, json={"type": "error"}), ProviderUnavailable, "rate limiting"),
    ("500", httpx.Response(500), ProviderUnavailable, "HTTP 500"),
    ("529", httpx.Response(529), ProviderUnavailable, "HTTP 529"),
    ("timeout", httpx.ReadTimeout("timed out"), ProviderUnavailable, "could not be reached"),
    ("connect-error", httpx.ConnectError("connection refused"), ProviderUnavailable, "could not be reached"),
]


@pytest.mark.parametrize(
    ("outcome", "answer", "error", "message"), VERIFY_OUTCOMES, ids=[o[0] for o in VERIFY_OUTCOMES]
)
def test_anthropic_verify_key_outcomes(router, outcome, answer, error, message):
    answer_with(router.get(ANTHROPIC_MODELS_URL), answer)

    if error is None:
        assert anthropic_client.verify_key(Secret(anthropic_key())) == KeyFacts()
    else:
        with pytest.raises(error, match=message):
            anthropic_client.verify_key(Secret(anthropic_key()))


OPENROUTER_VERIFY_OUTCOMES = [
    ("200", httpx.Response(200, json={"data": {"label": "x", "usage": 0}}), None, ""),
    (
        "401",
        httpx.Response(401, json={"error": {"code": 401, "message": "No auth credentials found"}}),
        KeyRejected,
        "rejected",
    ),
    ("429", httpx.Response(429), ProviderUnavailable, "rate limiting"),
    ("500", httpx.Response(500), ProviderUnavailable, "HTTP 500"),
    ("timeout", httpx.ConnectTimeout("timed out"), ProviderUnavailable, "could not be reached"),
    ("connect-error", httpx.ConnectError("no route to host"), ProviderUnavailable, "could not be reached"),
]


@pytest.mark.parametrize(
    ("outcome", "answer", "error", "message"),
    OPENROUTER_VERIFY_OUTCOMES,
    ids=[o[0] for o in OPENROUTER_VERIFY_OUTCOMES],
)
def test_openrouter_verify_key_outcomes(router, outcome, answer, error, message):
    answer_with(router.get(OPENROUTER_KEY_URL), answer)

    if error is None:
        assert openrouter_client.verify_key(Secret(openrouter_key())) == KeyFacts(label="x")
    else:
        with pytest.raises(error, match=message):
            openrouter_client.verify_key(Secret(openrouter_key()))


def test_openrouter_verify_key_sends_the_key_as_a_bearer_token_to_the_key_endpoint(router):
    key = openrouter_key()
    route = router.get(OPENROUTER_KEY_URL).mock(return_value=httpx.Response(200, json={"data": {}}))

    openrouter_client.verify_key(Secret(key))

    assert route.call_count == 1
    assert route.calls.last.request.method == "GET"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {key}"


# --- OpenRouter: the model list.


def test_openrouter_list_models_returns_each_slug_with_its_created_time(router):
    router.get(OPENROUTER_MODELS_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"id": "anthropic/claude-opus-4.8", "created": 1_780_000_000, "name": "Claude Opus 4.8"},
                    {"id": "openai/gpt-5", "created": "yesterday"},
                    {"id": "meta-llama/llama-3.1-405b-instruct"},
                    {"name": "no id"},
                    "not a model",
                ]
            },
        )
    )

    assert openrouter_client.list_models() == [
        ("anthropic/claude-opus-4.8", 1_780_000_000),
        ("openai/gpt-5", 0),
        ("meta-llama/llama-3.1-405b-instruct", 0),
    ]


def test_openrouter_list_models_sends_no_key(router):
    route = router.get(OPENROUTER_MODELS_URL).mock(return_value=openrouter_list([("openai/gpt-5", 1)]))

    openrouter_client.list_models()

    assert "authorization" not in route.calls.last.request.headers


# --- Retries: 429 and 5xx, bounded, honouring retry-after.


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_retried_a_bounded_number_of_times(router, waits, status):
    route = router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(status))

    with pytest.raises(ProviderUnavailable):
        openrouter_client.list_models()

    assert route.call_count == 3
    assert len(waits) == 2


def test_without_retry_after_the_wait_grows_between_attempts(router, waits):
    router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(503))

    with pytest.raises(ProviderUnavailable):
        openrouter_client.list_models()

    assert waits == [0.5, 1.0]


def test_a_retry_that_succeeds_returns_the_answer(router, waits):
    route = router.get(OPENROUTER_MODELS_URL).mock(
        side_effect=[httpx.Response(502), httpx.Response(503), openrouter_list([("openai/gpt-5", 7)])]
    )

    assert openrouter_client.list_models() == [("openai/gpt-5", 7)]
    assert route.call_count == 3
    assert len(waits) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_not_retried(router, waits, status):
    route = router.get(ANTHROPIC_MODELS_URL).mock(return_value=httpx.Response(status))

    with pytest.raises((KeyRejected, ProviderUnavailable)):
        anthropic_client.list_models(Secret(anthropic_key()))

    assert route.call_count == 1
    assert waits == []


def test_retry_after_in_seconds_is_waited_for(router, waits):
    router.get(OPENROUTER_MODELS_URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "3"}), openrouter_list([("openai/gpt-5", 1)])]
    )

    assert openrouter_client.list_models() == [("openai/gpt-5", 1)]
    assert waits == [3.0]


def test_retry_after_as_an_http_date_is_waited_for(router, waits, fixed_clock, settings):
    settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS = 30  # room for the 7 s wait within the call's deadline
    router.get(OPENROUTER_MODELS_URL).mock(
        side_effect=[httpx.Response(503, headers={"retry-after": http_date(7)}), openrouter_list([("openai/gpt-5", 1)])]
    )

    assert openrouter_client.list_models() == [("openai/gpt-5", 1)]
    assert waits == [7.0]


@pytest.mark.parametrize("retry_after", ["3600", "in-date-form"])
def test_a_retry_after_beyond_max_wait_is_not_waited_for(router, waits, fixed_clock, retry_after):
    value = http_date(3600) if retry_after == "in-date-form" else retry_after
    route = router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(429, headers={"retry-after": value}))

    with pytest.raises(ProviderUnavailable, match=r"rate limiting the model list; try again in 3601 s"):
        openrouter_client.list_models()

    assert route.call_count == 1
    assert waits == []


def test_a_retry_after_that_would_end_past_the_deadline_is_not_waited_for(router, waits, settings):
    settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS = 2
    route = router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(503, headers={"retry-after": "3"}))

    with pytest.raises(ProviderUnavailable, match=r"answered HTTP 503"):
        openrouter_client.list_models()

    assert route.call_count == 1
    assert waits == []


def test_a_transport_error_is_not_retried_after_a_wait_past_the_deadline(router, waits, settings):
    settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS = 0.3  # the first backoff is 0.5 s
    route = router.get(OPENROUTER_MODELS_URL).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(ProviderUnavailable, match=r"could not be reached \(ConnectError\)"):
        openrouter_client.list_models()

    assert route.call_count == 1
    assert waits == []


def test_key_checks_give_up_sooner_than_model_lists(router, waits):
    slow = router.get(ANTHROPIC_MODELS_URL).mock(return_value=httpx.Response(503, headers={"retry-after": "5"}))
    with pytest.raises(ProviderUnavailable):
        anthropic_client.verify_key(Secret(anthropic_key()))
    assert slow.call_count == 1  # 5 s is beyond the key check's 2 s
    assert waits == []

    down = router.get(OPENROUTER_KEY_URL).mock(return_value=httpx.Response(503))
    with pytest.raises(ProviderUnavailable):
        openrouter_client.verify_key(Secret(openrouter_key()))
    assert down.call_count == 2
    assert waits == [0.5]


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")]
)
def test_transport_errors_are_retried_then_provider_unavailable(router, waits, error):
    route = router.get(OPENROUTER_MODELS_URL).mock(side_effect=error)

    with pytest.raises(ProviderUnavailable, match=rf"OpenRouter could not be reached \({type(error).__name__}\)"):
        openrouter_client.list_models()

    assert route.call_count == 3
    assert len(waits) == 2
    assert all(0 < wait <= 10.0 for wait in waits)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("1e999", None),
        ("date+30", 30.0),
        ("date-30", 0.0),
        ("Mon, 99 Foo 2025 99:99:99 GMT", None),
    ],
)
def test_retry_after_seconds(fixed_clock, header, seconds):
    if header is not None and header.startswith("date"):
        header = http_date(float(header[4:]))
    headers = {"retry-after": header} if header is not None else {}

    assert retry_after_seconds(httpx.Response(429, headers=headers)) == seconds


def test_an_endless_retry_after_is_not_waited_for_and_does_not_break_the_message(router, waits):
    router.get(OPENROUTER_MODELS_URL).mock(return_value=httpx.Response(429, headers={"retry-after": "inf"}))

    with pytest.raises(ProviderUnavailable, match="rate limiting the model list; try again later"):
        openrouter_client.list_models()

    assert waits == [0.5, 1.0]  # the default backoff, not an endless wait


# --- No key in any exception message or log line.

ANTHROPIC_CANARY = anthropic_key("CANARYANT")
OPENROUTER_CANARY = openrouter_key()
ECHOED = f"invalid key {ANTHROPIC_CANARY} {OPENROUTER_CANARY}"

LEAK_SCENARIOS = [
    ("401-echoing-the-key", httpx.Response(401, json={"error": {"message": ECHOED}}, headers={"x-echo": ECHOED})),
    ("403-echoing-the-key", httpx.Response(403, text=ECHOED)),
    ("429", httpx.Response(429, text=ECHOED, headers={"retry-after": "1"})),
    ("500", httpx.Response(500, text=ECHOED)),
    ("200-not-json", httpx.Response(200, text=ECHOED)),
    ("timeout-naming-the-key", httpx.ReadTimeout(ECHOED)),
    ("connect-error-naming-the-key", httpx.ConnectError(ECHOED)),
]


def _calls():
    return [
        ("anthropic-list", ANTHROPIC_MODELS_URL, lambda: anthropic_client.list_models(Secret(ANTHROPIC_CANARY))),
        ("anthropic-verify", ANTHROPIC_MODELS_URL, lambda: anthropic_client.verify_key(Secret(ANTHROPIC_CANARY))),
        ("openrouter-verify", OPENROUTER_KEY_URL, lambda: openrouter_client.verify_key(Secret(OPENROUTER_CANARY))),
    ]


@pytest.mark.parametrize(("scenario", "answer"), LEAK_SCENARIOS, ids=[s[0] for s in LEAK_SCENARIOS])
@pytest.mark.parametrize("call_index", range(3), ids=[c[0] for c in _calls()])
def test_no_key_in_any_exception_or_log_record(router, all_logs, scenario, answer, call_index):
    call_name, url, call = _calls()[call_index]
    answer_with(router.get(url), answer)

    try:
        call()
    except ProviderError as raised:
        error = raised
    else:
        # Only a key check ignores a 200's body; everything else here is a failure.
        assert scenario == "200-not-json"
        assert call_name.endswith("verify")
        error = None

    shown = ""
    if error is not None:
        shown = "\n".join([str(error), repr(error), *error.args, *traceback.format_exception(error)])
    assert find_leaks(shown, [ANTHROPIC_CANARY, OPENROUTER_CANARY]) == []
    assert "CANARYANT" not in shown
    logged = log_text(all_logs)
    assert logged, "the clients log each request"
    assert find_leaks(logged, [ANTHROPIC_CANARY, OPENROUTER_CANARY]) == []
    assert "CANARYANT" not in logged


def test_httpx_own_request_log_is_captured_and_holds_no_key(router, all_logs):
    router.get(ANTHROPIC_MODELS_URL).mock(return_value=anthropic_page(["claude-opus-4-8"]))

    anthropic_client.list_models(Secret(ANTHROPIC_CANARY))

    httpx_records = [record for record in all_logs.records if record.name.startswith("httpx")]
    assert httpx_records, "httpx logs its requests at INFO; the test must see them"
    assert find_leaks(log_text(all_logs), [ANTHROPIC_CANARY]) == []


# --- What a key check learns, and keys refused for what they are.


def test_anthropic_verify_key_keeps_the_organization_id(router):
    router.get(ANTHROPIC_MODELS_URL).mock(
        return_value=httpx.Response(200, json={"data": []}, headers={"anthropic-organization-id": "9f1c2e6a-org_01Abc"})
    )

    assert anthropic_client.verify_key(Secret(anthropic_key())) == KeyFacts(organization_id="9f1c2e6a-org_01Abc")


def test_anthropic_verify_key_ignores_an_organization_header_that_is_not_an_id(router):
    router.get(ANTHROPIC_MODELS_URL).mock(
        return_value=httpx.Response(200, json={"data": []}, headers={"anthropic-organization-id": "<script>x</script>"})
    )

    assert anthropic_client.verify_key(Secret(anthropic_key())).organization_id == ""


def test_openrouter_verify_key_keeps_label_credit_expiry_and_tier(router):
    router.get(OPENROUTER_KEY_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": {
                    "label": "ci-runner",
                    "limit": 20,
                    "limit_remaining": 12.3456789,
                    "usage": 7.65,
                    "is_free_tier": False,
                    "expires_at": "2026-12-05T00:00:00Z",
                    "is_provisioning_key": False,
                }
            },
        )
    )

    facts = openrouter_client.verify_key(Secret(openrouter_key()))

    assert facts == KeyFacts(
        label="ci-runner",
        limit_remaining=Decimal("12.3457"),
        expires_at=datetime(2026, 12, 5, tzinfo=UTC),
        is_free_tier=False,
    )
    assert facts.expires_soon(datetime(2026, 11, 29, tzinfo=UTC))
    assert not facts.expires_soon(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "data",
    [
        {"label": "x", "limit_remaining": None, "expires_at": None, "is_free_tier": None},
        {"label": 7, "limit_remaining": "lots", "expires_at": "soon", "is_free_tier": "no"},
        {"limit_remaining": True, "expires_at": 1790000000},
        {"limit_remaining": float("inf")},
    ],
    ids=["nulls", "wrong types", "bool and number", "infinite"],
)
def test_openrouter_verify_key_treats_what_it_cannot_read_as_unknown(router, data):
    router.get(OPENROUTER_KEY_URL).mock(
        return_value=httpx.Response(200, content=json.dumps({"data": data}).replace("Infinity", "1e999"))
    )

    facts = openrouter_client.verify_key(Secret(openrouter_key()))

    assert (facts.limit_remaining, facts.expires_at, facts.is_free_tier) == (None, None, None)


@pytest.mark.parametrize("flag", ["is_management_key", "is_provisioning_key"])
def test_openrouter_refuses_a_management_key_saying_it_cannot_call_models(router, flag):
    router.get(OPENROUTER_KEY_URL).mock(return_value=httpx.Response(200, json={"data": {"label": "mgmt", flag: True}}))

    with pytest.raises(KeyRejected, match=r"management \(provisioning\) key: it creates and manages other keys"):
        openrouter_client.verify_key(Secret(openrouter_key()))

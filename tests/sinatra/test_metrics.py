"""/metrics: who may read it, what it counts, and that it renders metrics defined anywhere."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY, Counter

from routing.errors import MissingCredential
from routing.service import resolve

pytestmark = pytest.mark.django_db

# A metric another package would define for itself: /metrics must render it too.
ELSEWHERE = Counter("sinatra_test_elsewhere", "A counter defined outside sinatra.metrics.")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_scraper_on_this_machine_reads_metrics_without_a_token(client):
    response = client.get("/metrics")  # REMOTE_ADDR 127.0.0.1, no proxy header
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "sinatra_http_responses_total" in response.content.decode()


def test_metrics_render_counters_defined_in_any_module(client):
    ELSEWHERE.inc()
    assert "sinatra_test_elsewhere_total" in client.get("/metrics").content.decode()


@pytest.mark.parametrize(
    "request_headers",
    [
        {"REMOTE_ADDR": "10.0.0.5"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # through the proxy, though from loopback
        {"REMOTE_ADDR": "10.0.0.5", "HTTP_AUTHORIZATION": "Bearer anything"},
    ],
    ids=["another-machine", "through-the-proxy", "a-token-when-none-is-set"],
)
def test_metrics_are_refused_to_others(client, request_headers):
    response = client.get("/metrics", **request_headers)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "SINATRA_METRICS_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [("Bearer s3cret-metrics-token", 200), ("bearer s3cret-metrics-token", 200), ("Bearer wrong", 403), ("", 403)],
    ids=["token", "scheme-in-lower-case", "wrong-token", "no-token"],
)
def test_metrics_token_lets_a_remote_scraper_in(client, settings, authorization, status):
    settings.SINATRA_METRICS_TOKEN = "s3cret-metrics-token"
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == status


def test_responses_are_counted_by_area_and_status(client):
    before = sample("sinatra_http_responses_total", area="web", status="404")
    api_before = sample("sinatra_http_responses_total", area="api", status="401")
    client.get("/no-such-page/")
    client.post("/api/v1/resolve", data={}, content_type="application/json")
    assert sample("sinatra_http_responses_total", area="web", status="404") == before + 1
    assert sample("sinatra_http_responses_total", area="api", status="401") == api_before + 1


def test_a_refused_host_is_counted_and_gets_no_request_line(client, caplog):
    before = sample("sinatra_refused_host_headers_total")
    with caplog.at_level("INFO", logger="sinatra.request"):
        response = client.get("/accounts/login/", HTTP_HOST="192.0.2.10")
    assert response.status_code == 400
    assert sample("sinatra_refused_host_headers_total") == before + 1
    assert [r for r in caplog.records if r.name == "sinatra.request"] == []


def test_no_label_names_a_tenant(client, tenant):
    client.get(f"/t/{tenant.slug}/credentials/")
    client.post("/api/v1/resolve", data={"tenant": tenant.slug}, content_type="application/json")
    assert tenant.slug not in client.get("/metrics").content.decode()


def test_resolutions_kms_calls_the_dek_cache_and_model_list_fetches_move_their_counters(
    client, tenant, store_key, provider_api
):
    key = store_key(tenant, "anthropic")
    before = {
        "ok": sample("sinatra_resolutions_total", provider="anthropic", outcome="ok"),
        "missing": sample("sinatra_resolutions_total", provider="none", outcome="missing_credential"),
        "unwrap": sample("sinatra_kms_calls_total", backend="local", operation="unwrap", outcome="ok"),
        "misses": sample("sinatra_dek_cache_misses_total"),
        "hits": sample("sinatra_dek_cache_hits_total"),
        "fetched": sample("sinatra_model_list_fetches_total", provider="anthropic", outcome="ok"),
        "failed": sample("sinatra_model_list_fetches_total", provider="openrouter", outcome="unavailable"),
        "timed": sample("sinatra_resolve_duration_seconds_count"),
    }
    provider_api.routes["openrouter_models"].mock(return_value=httpx.Response(503))

    resolve(tenant, "agent:\n  model: opus\n")  # the data key unwrapped through the KMS, the list fetched
    resolve(tenant, "agent:\n  model: opus\n")  # both from memory now
    with pytest.raises(MissingCredential):
        resolve(tenant, "agent:\n  model: openai/gpt-5\n")  # no OpenRouter key
    store_key(tenant, "openrouter")
    resolve(tenant, "agent:\n  model: openai/gpt-5\n")  # OpenRouter's list cannot be fetched: counted

    assert sample("sinatra_resolutions_total", provider="anthropic", outcome="ok") == before["ok"] + 2
    assert sample("sinatra_resolutions_total", provider="none", outcome="missing_credential") == before["missing"] + 1
    assert sample("sinatra_kms_calls_total", backend="local", operation="unwrap", outcome="ok") >= before["unwrap"] + 1
    assert sample("sinatra_dek_cache_misses_total") >= before["misses"] + 1
    assert sample("sinatra_dek_cache_hits_total") >= before["hits"] + 1
    assert sample("sinatra_model_list_fetches_total", provider="anthropic", outcome="ok") == before["fetched"] + 1
    assert sample("sinatra_model_list_fetches_total", provider="openrouter", outcome="unavailable") > before["failed"]
    assert sample("sinatra_resolve_duration_seconds_count") == before["timed"] + 4
    page = client.get("/metrics").content.decode()
    assert "sinatra_resolutions_total" in page
    assert "sinatra_kms_calls_total" in page
    for private in (tenant.slug, str(tenant.pk), key.key_hint):
        assert private not in page

"""Operators' admin for routing: service tokens and their events (read-only, never a token)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from routing import release
from routing.models import ServiceToken, ServiceTokenEvent
from routing.tokens import TenantOutOfScope, token_authenticate, token_create, token_revoke, token_tenant

TOKENS = reverse("admin:routing_servicetoken_changelist")
TOKEN_EVENTS = reverse("admin:routing_servicetokenevent_changelist")
RELEASES = reverse("admin:routing_keyrelease_changelist")

pytestmark = pytest.mark.django_db


def test_the_token_list_shows_each_scope_and_never_a_token(admin_client, tenant, make_tenant, issue_token):
    make_tenant("globex")
    scoped = issue_token("worker-eu", tenant)
    everything = issue_token("builder")

    html = admin_client.get(TOKENS).content.decode()

    assert "worker-eu" in html
    assert "builder" in html
    assert ">acme<" in html
    assert ">all tenants<" in html
    for token in (scoped, everything):
        assert token not in html
        assert token[len("sin_") :][:16] not in html


def test_token_events_show_creation_revocation_and_refusals_filterable_by_kind_and_tenant(
    admin_client, tenant, make_tenant, issue_token
):
    globex = make_tenant("globex")
    token = issue_token("worker-eu", tenant)
    with pytest.raises(TenantOutOfScope):
        token_tenant(token=token_authenticate(token), slug="globex")
    token_revoke(name="worker-eu")

    everything = admin_client.get(TOKEN_EVENTS).content.decode()
    refusals = admin_client.get(TOKEN_EVENTS, {"kind": "refused_tenant"}).content.decode()
    of_globex = admin_client.get(TOKEN_EVENTS, {"tenant__id__exact": str(globex.pk)}).content.decode()

    assert ServiceTokenEvent.objects.count() == 3
    for kind in ("Created", "Revoked", "Refused a tenant outside its scope"):
        assert kind in everything
    assert "asked for tenant &#x27;globex&#x27;" in refusals
    assert "scope: acme" not in refusals
    assert "asked for tenant" in of_globex
    assert token not in everything


def test_tokens_and_their_events_cannot_be_added_changed_or_deleted(admin_client, issue_token):
    issue_token("worker-eu")
    row = ServiceToken.objects.get()
    event = ServiceTokenEvent.objects.get()

    assert admin_client.get(reverse("admin:routing_servicetoken_add")).status_code == 403
    assert admin_client.get(reverse("admin:routing_servicetokenevent_add")).status_code == 403
    assert admin_client.post(reverse("admin:routing_servicetoken_delete", args=[row.pk])).status_code == 403
    assert admin_client.post(reverse("admin:routing_servicetokenevent_delete", args=[event.pk])).status_code == 403
    assert ServiceToken.objects.count() == ServiceTokenEvent.objects.count() == 1


def test_key_releases_are_listed_and_filterable_by_tenant_caller_and_provider(admin_client, tenant, make_tenant):
    globex = make_tenant("globex")
    for caller, owner, provider in [
        ("worker-eu", tenant, "anthropic"),
        ("worker-us", tenant, "openrouter"),
        ("builder", globex, "anthropic"),
    ]:
        release.count(caller=caller, tenant_id=owner.pk, provider=provider)
    release.flush()

    def listed(**filters) -> set[str]:
        page = admin_client.get(RELEASES, filters).content.decode()
        html = page[page.index('id="result_list"') : page.index("</table>", page.index('id="result_list"'))]
        return {caller for caller in ("worker-eu", "worker-us", "builder") if f">{caller}<" in html}

    assert listed() == {"worker-eu", "worker-us", "builder"}
    assert listed(tenant__id__exact=str(globex.pk)) == {"builder"}
    assert listed(caller="worker-us") == {"worker-us"}
    assert listed(provider__exact="anthropic") == {"worker-eu", "builder"}
    assert admin_client.get(reverse("admin:routing_keyrelease_add")).status_code == 403


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_token_list_runs_a_constant_number_of_queries(admin_client, tenant):
    token_create(name="worker-0", tenants=[tenant])
    admin_client.get(TOKENS)  # warm the session and content types
    one_token = queries_for(admin_client, TOKENS)
    for number in range(1, 10):
        token_create(name=f"worker-{number}", tenants=[tenant])
    token_create(name="builder", all_tenants=True)
    token_revoke(name="worker-1")

    assert queries_for(admin_client, TOKENS) == one_token

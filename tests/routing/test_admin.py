"""The operators' list of service tokens."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from routing.tokens import token_create, token_revoke

TOKENS = reverse("admin:routing_servicetoken_changelist")


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_token_list_shows_names_and_prefixes_never_a_token(admin_client):
    row, token = token_create(name="worker-eu-1")
    html = admin_client.get(TOKENS).content.decode()
    assert "worker-eu-1" in html
    assert row.prefix in html
    assert token not in html
    assert row.token_hash not in html


def test_the_token_list_runs_a_constant_number_of_queries(admin_client):
    token_create(name="worker-0")
    admin_client.get(TOKENS)  # warm the session and content types
    one_token = queries_for(admin_client, TOKENS)
    for number in range(1, 10):
        token_create(name=f"worker-{number}")
    token_revoke(name="worker-1")
    assert queries_for(admin_client, TOKENS) == one_token

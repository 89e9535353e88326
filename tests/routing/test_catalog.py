"""The model catalog: alias -> newest id, overrides, the built-in fallback, caching, OpenRouter slugs."""

from __future__ import annotations

import httpx
import pytest
from django.core.cache import cache

from providers.claude_names import normalise_slug, to_anthropic, to_openrouter
from providers.secret import Secret
from routing import catalog
from routing.catalog import (
    BUILTIN_ANTHROPIC,
    BUILTIN_OPENROUTER,
    CACHE_PREFIX,
    FAILURE_SECONDS,
    anthropic_id,
    newest_anthropic,
    newest_openrouter,
    openrouter_slug,
    openrouter_slug_for_claude_id,
)
from routing.errors import ConfigError
from routing.service import resolve
from tests.fakes.providers import ANTHROPIC_MODELS, answer_with, anthropic_key, anthropic_page, openrouter_list

KEY = Secret(anthropic_key())


class FakeMonotonic:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(catalog, "time", fake)
    return fake


@pytest.fixture
def catalog_seconds(settings):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 3600
    return settings


# --- Anthropic: newest first, from the list's order.


@pytest.mark.parametrize(
    ("alias", "expected"),
    [("opus", "claude-opus-4-8"), ("sonnet", "claude-sonnet-4-6"), ("haiku", "claude-haiku-4-5-20251001")],
)
def test_an_alias_is_the_first_model_of_its_family_in_anthropics_list(provider_api, alias, expected):
    assert newest_anthropic(alias, secret=KEY) == catalog.ModelChoice(expected)


def test_anthropics_list_order_wins_over_created_at(provider_api):
    # created_at says 4-1 is newest and 4-8 is from 1970: the order says otherwise, and wins.
    provider_api.routes["anthropic_models"].mock(
        return_value=anthropic_page(
            [
                ("claude-opus-4-8", "1970-01-01T00:00:00Z"),
                ("claude-opus-4-7", "2024-01-01T00:00:00Z"),
                ("claude-opus-4-1-20250805", "2025-08-05T00:00:00Z"),
            ]
        )
    )

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-8"


def test_the_newest_model_may_be_on_a_later_page(provider_api):
    pages = {
        None: anthropic_page(["claude-sonnet-4-6"], has_more=True),
        "claude-sonnet-4-6": anthropic_page(["claude-opus-4-8", "claude-opus-4-7"]),
    }
    provider_api.routes["anthropic_models"].mock(side_effect=lambda request: pages[request.url.params.get("after_id")])

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-8"


def test_an_alias_the_list_does_not_name_uses_the_builtin_with_a_warning(provider_api):
    provider_api.routes["anthropic_models"].mock(return_value=anthropic_page(["claude-sonnet-4-6"]))

    choice = newest_anthropic("haiku", secret=KEY)

    assert choice.model == BUILTIN_ANTHROPIC["haiku"]
    assert len(choice.warnings) == 1
    assert "names no haiku model" in choice.warnings[0]
    assert BUILTIN_ANTHROPIC["haiku"] in choice.warnings[0]


# --- OpenRouter: the newest plain anthropic/claude-<family>-* slug, by created.


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("opus", "anthropic/claude-opus-4.8"),  # not -fast, :beta or ~...-latest, though newer
        ("sonnet", "anthropic/claude-sonnet-4.6"),  # 4.5 and 4.6: created decides, not list order
        ("haiku", "anthropic/claude-haiku-4.5"),  # not the old anthropic/claude-3.5-haiku naming
    ],
)
def test_an_alias_forced_to_openrouter_is_its_newest_plain_slug(provider_api, alias, expected):
    assert newest_openrouter(alias) == catalog.ModelChoice(expected)


def test_openrouter_newest_is_chosen_by_created_not_by_list_order(provider_api):
    provider_api.routes["openrouter_models"].mock(
        return_value=openrouter_list(
            [("anthropic/claude-opus-4.7", 300), ("anthropic/claude-opus-4.8", 400), ("anthropic/claude-opus-4.6", 200)]
        )
    )

    assert newest_openrouter("opus").model == "anthropic/claude-opus-4.8"


def test_openrouter_list_with_only_variants_is_refused_rather_than_sent_a_slug_it_lacks(provider_api):
    provider_api.routes["openrouter_models"].mock(
        return_value=openrouter_list(
            [
                ("anthropic/claude-opus-4.8-fast", 1),
                ("anthropic/claude-opus-4.8:beta", 2),
                ("~anthropic/claude-opus-latest", 3),
            ]
        )
    )

    with pytest.raises(ConfigError) as excinfo:
        newest_openrouter("opus")

    assert "OpenRouter's model list names no Claude Opus model" in str(excinfo.value)
    assert BUILTIN_OPENROUTER["opus"] not in str(excinfo.value)


# --- Overrides: ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL win.


@pytest.mark.parametrize(
    ("alias", "setting"),
    [
        ("opus", "ANTHROPIC_DEFAULT_OPUS_MODEL"),
        ("sonnet", "ANTHROPIC_DEFAULT_SONNET_MODEL"),
        ("haiku", "ANTHROPIC_DEFAULT_HAIKU_MODEL"),
    ],
)
def test_an_override_setting_wins_without_fetching_anthropics_list(provider_api, settings, alias, setting):
    setattr(settings, setting, "claude-pinned-by-operator-1")

    assert newest_anthropic(alias, secret=KEY) == catalog.ModelChoice("claude-pinned-by-operator-1")
    assert provider_api.routes["anthropic_models"].call_count == 0


def test_an_override_only_changes_its_own_alias(provider_api, settings):
    settings.ANTHROPIC_DEFAULT_OPUS_MODEL = "claude-opus-4-7"

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-7"
    assert newest_anthropic("sonnet", secret=KEY).model == "claude-sonnet-4-6"


def test_an_override_forced_to_openrouter_is_sent_under_openrouters_dotted_slug(provider_api, settings):
    settings.ANTHROPIC_DEFAULT_OPUS_MODEL = "claude-opus-4-7"

    assert newest_openrouter("opus") == catalog.ModelChoice("anthropic/claude-opus-4.7")


def test_an_override_written_as_an_openrouter_slug_serves_both_providers(provider_api, settings):
    settings.ANTHROPIC_DEFAULT_OPUS_MODEL = "anthropic/claude-opus-4.7"

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-7"
    assert newest_openrouter("opus").model == "anthropic/claude-opus-4.7"


# --- The built-in table, when the list cannot be fetched.

FAILURES = [
    ("500", httpx.Response(500)),
    ("503", httpx.Response(503)),
    ("unreachable", httpx.ConnectError("connection refused")),
    ("timeout", httpx.ReadTimeout("timed out")),
]


@pytest.mark.parametrize(
    ("failure", "answer"), [*FAILURES, ("401", httpx.Response(401))], ids=lambda v: v if isinstance(v, str) else ""
)
def test_anthropic_alias_falls_back_to_the_builtin_table_with_a_warning(provider_api, failure, answer):
    answer_with(provider_api.routes["anthropic_models"], answer)

    for alias in ("opus", "sonnet", "haiku"):
        choice = newest_anthropic(alias, secret=KEY)
        assert choice.model == BUILTIN_ANTHROPIC[alias]
        assert len(choice.warnings) == 1
        assert "Anthropic's model list is unavailable" in choice.warnings[0]
        assert f"{alias} uses the built-in {BUILTIN_ANTHROPIC[alias]}" in choice.warnings[0]
        assert KEY.reveal() not in choice.warnings[0]


@pytest.mark.parametrize(("failure", "answer"), FAILURES, ids=lambda v: v if isinstance(v, str) else "")
def test_openrouter_alias_falls_back_to_the_builtin_table_with_a_warning(provider_api, failure, answer):
    answer_with(provider_api.routes["openrouter_models"], answer)

    for alias in ("opus", "sonnet", "haiku"):
        choice = newest_openrouter(alias)
        assert choice.model == BUILTIN_OPENROUTER[alias]
        assert "OpenRouter's model list is unavailable" in choice.warnings[0]
        assert "built-in" in choice.warnings[0]


def test_without_a_key_anthropics_list_is_not_fetched_and_the_builtin_serves(provider_api):
    choice = newest_anthropic("opus", secret=None)

    assert choice.model == BUILTIN_ANTHROPIC["opus"]
    assert "no key to fetch it with" in choice.warnings[0]
    assert provider_api.routes["anthropic_models"].call_count == 0


def test_the_builtin_tables_name_every_alias_in_each_providers_form():
    assert set(BUILTIN_ANTHROPIC) == set(BUILTIN_OPENROUTER) == set(catalog.ALIASES)
    for alias in catalog.ALIASES:
        assert BUILTIN_ANTHROPIC[alias].startswith(f"claude-{alias}-")
        assert BUILTIN_OPENROUTER[alias] == to_openrouter(BUILTIN_ANTHROPIC[alias])


def test_a_failed_fetch_is_remembered_briefly_so_an_outage_causes_no_refetch_storm(
    provider_api, catalog_seconds, clock
):
    route = provider_api.routes["anthropic_models"]
    route.mock(return_value=httpx.Response(503))

    for _ in range(20):
        assert newest_anthropic("opus", secret=KEY).model == BUILTIN_ANTHROPIC["opus"]
    assert route.call_count == 3  # one fetch, with its bounded retries, for twenty resolutions

    route.mock(return_value=anthropic_page(["claude-opus-9-9"]))
    clock.advance(FAILURE_SECONDS - 1)
    assert newest_anthropic("opus", secret=KEY).model == BUILTIN_ANTHROPIC["opus"]
    assert route.call_count == 3

    clock.advance(2)
    assert newest_anthropic("opus", secret=KEY) == catalog.ModelChoice("claude-opus-9-9")
    assert route.call_count == 4


def test_a_failure_is_not_stored_in_djangos_cache(provider_api, catalog_seconds):
    provider_api.routes["anthropic_models"].mock(return_value=httpx.Response(503))

    newest_anthropic("opus", secret=KEY)

    assert cache.get(CACHE_PREFIX + "anthropic") is None


# --- The cache.


def test_with_the_cache_on_many_resolves_fetch_each_list_once(provider_api, catalog_seconds, tenant, store_key):
    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")
    texts = [
        None,
        "agent:\n  model: opus\n",
        "agent:\n  model: haiku\n",
        "agent:\n  model: claude-opus-4-7\n",
        "agent:\n  model: opus\n  model_provider: openrouter\n",
        "agent:\n  model: anthropic/claude-opus-4-7\n",
        "agent:\n  model: openai/gpt-5\n",
    ]

    for _ in range(5):
        for text in texts:
            resolve(tenant, text)

    assert provider_api.routes["anthropic_models"].call_count == 1
    assert provider_api.routes["openrouter_models"].call_count == 1


def test_with_catalog_seconds_zero_the_list_is_fetched_every_time(provider_api, settings):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 0

    for _ in range(3):
        assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-8"
        assert newest_openrouter("opus").model == "anthropic/claude-opus-4.8"

    assert provider_api.routes["anthropic_models"].call_count == 3
    assert provider_api.routes["openrouter_models"].call_count == 3
    assert cache.get(CACHE_PREFIX + "anthropic") is None


def test_one_tenants_rejected_key_is_not_remembered_for_everyone(provider_api, catalog_seconds):
    route = provider_api.routes["anthropic_models"]
    route.mock(return_value=httpx.Response(401))
    assert newest_anthropic("opus", secret=KEY).model == BUILTIN_ANTHROPIC["opus"]

    route.mock(return_value=anthropic_page(["claude-opus-9-9"]))
    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-9-9"


def test_with_catalog_seconds_zero_failures_are_not_remembered_either(provider_api, settings):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 0
    route = provider_api.routes["openrouter_models"]
    route.mock(return_value=httpx.Response(500))

    newest_openrouter("opus")
    newest_openrouter("opus")

    assert route.call_count == 6  # two fetches of three attempts


def test_the_list_lives_in_djangos_cache_for_catalog_seconds(provider_api, settings, monkeypatch):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 1234
    stored = {}
    real_set = cache.set

    def spy(key, value, timeout=None, **kwargs):
        stored[key] = timeout
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", spy)
    newest_anthropic("opus", secret=KEY)

    assert stored == {CACHE_PREFIX + "anthropic": 1234}
    assert cache.get(CACHE_PREFIX + "anthropic") == [model_id for model_id, _ in ANTHROPIC_MODELS]


def test_djangos_cache_is_shared_a_process_with_an_empty_memo_makes_no_fetch(
    provider_api, catalog_seconds, monkeypatch
):
    newest_anthropic("opus", secret=KEY)
    newest_openrouter("opus")

    # Another process (or this one after a restart): its own memory is empty, Django's cache is not.
    monkeypatch.setattr(catalog, "anthropic_models", catalog._ModelList("anthropic", catalog.parse_anthropic_ids))
    monkeypatch.setattr(catalog, "openrouter_models", catalog._ModelList("openrouter", catalog.parse_openrouter_models))
    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-4-8"
    assert newest_openrouter("opus").model == "anthropic/claude-opus-4.8"

    assert provider_api.routes["anthropic_models"].call_count == 1
    assert provider_api.routes["openrouter_models"].call_count == 1


def test_a_list_another_process_stored_is_used_without_fetching(provider_api, catalog_seconds):
    cache.set(CACHE_PREFIX + "anthropic", ["claude-opus-5-0", "claude-opus-4-8"])

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-5-0"
    assert provider_api.routes["anthropic_models"].call_count == 0


def test_the_process_memo_spares_djangos_cache_until_it_expires(provider_api, catalog_seconds, clock, monkeypatch):
    newest_anthropic("opus", secret=KEY)
    reads = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *args, **kwargs: reads.append(key) or real_get(key, *args, **kwargs))

    for _ in range(10):
        newest_anthropic("opus", secret=KEY)
    assert reads == []

    clock.advance(3601)
    cache.clear()
    newest_anthropic("opus", secret=KEY)
    assert reads == [CACHE_PREFIX + "anthropic"]
    assert provider_api.routes["anthropic_models"].call_count == 2


def test_a_fresh_list_answers_from_memory_without_a_lookup_until_it_expires(
    provider_api, catalog_seconds, clock, monkeypatch
):
    first = newest_anthropic("opus", secret=KEY)
    lookups = []
    real_get = catalog._ModelList.get

    def get(self, fetch):
        lookups.append(self.name)
        return real_get(self, fetch)

    monkeypatch.setattr(catalog._ModelList, "get", get)

    assert newest_anthropic("opus", secret=KEY) is first  # one immutable choice per list and alias
    assert newest_anthropic("sonnet", secret=KEY).model == "claude-sonnet-4-6"
    assert lookups == []

    clock.advance(3601)
    cache.clear()  # Django's cache has expired it too
    provider_api.routes["anthropic_models"].mock(return_value=anthropic_page(["claude-opus-5-0"]))
    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-5-0"
    assert lookups == ["anthropic"]


def test_clear_caches_forgets_every_list(provider_api, catalog_seconds):
    newest_anthropic("opus", secret=KEY)
    newest_openrouter("opus")

    catalog.clear_caches()
    newest_anthropic("opus", secret=KEY)
    newest_openrouter("opus")

    assert provider_api.routes["anthropic_models"].call_count == 2
    assert provider_api.routes["openrouter_models"].call_count == 2


def test_changing_a_base_url_setting_forgets_the_lists(provider_api, catalog_seconds, settings):
    newest_anthropic("opus", secret=KEY)
    other = provider_api.get("https://anthropic.internal.test/v1/models").mock(
        return_value=anthropic_page(["claude-opus-7-0"])
    )

    settings.SINATRA_ANTHROPIC_BASE_URL = "https://anthropic.internal.test"

    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-7-0"
    assert other.call_count == 1


# --- OpenRouter slugs: dashed Claude names in the dotted form, unknown ones as given.


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("anthropic/claude-opus-4-7", "anthropic/claude-opus-4.7"),
        ("anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
        ("anthropic/claude-haiku-4-5-20251001", "anthropic/claude-haiku-4.5"),
        ("anthropic/claude-opus-4-20250514", "anthropic/claude-opus-4-20250514"),  # OpenRouter's dated spelling
        ("anthropic/claude-opus-4-10", "anthropic/claude-opus-4.10"),
        ("anthropic/claude-opus-4.7", "anthropic/claude-opus-4.7"),
        ("anthropic/claude-opus-4", "anthropic/claude-opus-4"),
        ("openai/gpt-5", "openai/gpt-5"),
        ("meta-llama/llama-3-1-405b", "meta-llama/llama-3-1-405b"),
    ],
)
def test_slugs_take_openrouters_dotted_spelling(slug, expected):
    assert normalise_slug(slug).text == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-opus-4.7", "claude-opus-4-7"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("claude-opus-4", "claude-opus-4-0"),  # Anthropic's undated alias of Claude Opus 4
        ("claude-opus-4-7", "claude-opus-4-7"),
    ],
)
def test_dotted_names_take_anthropics_dashed_spelling(name, expected):
    assert to_anthropic(name) == expected


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("anthropic/claude-opus-4-7", "anthropic/claude-opus-4.7"),
        ("anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
        ("anthropic/claude-haiku-4-5-20251001", "anthropic/claude-haiku-4.5"),
    ],
)
def test_a_dashed_slug_the_catalog_knows_only_dotted_is_sent_dotted_with_a_warning(provider_api, written, sent):
    choice = openrouter_slug(written)

    assert choice.model == sent
    assert choice.warnings == (f"OpenRouter names {written} as {sent}; sent as {sent}.",)


@pytest.mark.parametrize("slug", ["anthropic/claude-opus-4.8", "openai/gpt-5", "anthropic/claude-opus-4.8:beta"])
def test_a_slug_the_catalog_knows_is_sent_as_given_without_a_warning(provider_api, slug):
    assert openrouter_slug(slug) == catalog.ModelChoice(slug)


@pytest.mark.parametrize(
    "slug", ["openai/gpt-9-imaginary", "anthropic/claude-opus-9-9", "anthropic/claude-opus-4-8-20990101-extra"]
)  # unknown in any spelling: as given
def test_a_slug_the_catalog_does_not_know_is_sent_as_given_with_a_warning(provider_api, slug):
    choice = openrouter_slug(slug)

    assert choice.model == slug
    assert choice.warnings == (f"{slug} is not in OpenRouter's model list; sent as given.",)


def test_without_openrouters_list_a_slug_is_sent_as_given_with_a_warning(provider_api):
    provider_api.routes["openrouter_models"].mock(side_effect=httpx.ConnectError("refused"))

    choice = openrouter_slug("anthropic/claude-opus-4-7")

    assert choice.model == "anthropic/claude-opus-4-7"
    assert "OpenRouter's model list is unavailable" in choice.warnings[0]
    assert "sent as given" in choice.warnings[0]


def test_a_claude_id_sent_through_openrouter_takes_its_dotted_slug_quietly(provider_api):
    assert openrouter_slug_for_claude_id("claude-opus-4-7") == catalog.ModelChoice("anthropic/claude-opus-4.7")


# --- Concrete Anthropic ids.


def test_a_claude_id_in_anthropics_list_has_no_warning(provider_api, catalog_seconds):
    assert anthropic_id("claude-opus-4-7", secret=KEY) == catalog.ModelChoice("claude-opus-4-7")


def test_a_claude_id_missing_from_anthropics_list_is_sent_with_a_warning(provider_api, catalog_seconds):
    choice = anthropic_id("claude-opus-9-9", secret=KEY)

    assert choice.model == "claude-opus-9-9"
    assert choice.warnings == ("claude-opus-9-9 is not in Anthropic's model list; sent as given.",)


def test_whether_a_claude_id_is_warned_about_does_not_depend_on_what_was_fetched_before(provider_api):
    first = anthropic_id("claude-opus-9-9", secret=KEY)  # nothing cached: the list is fetched for it
    newest_anthropic("opus", secret=KEY)
    second = anthropic_id("claude-opus-9-9", secret=KEY)

    assert first == second
    assert first.warnings == ("claude-opus-9-9 is not in Anthropic's model list; sent as given.",)


def test_without_a_key_to_fetch_with_a_claude_id_is_sent_unchecked(provider_api):
    assert anthropic_id("claude-opus-9-9", secret=None) == catalog.ModelChoice("claude-opus-9-9")
    assert provider_api.routes["anthropic_models"].call_count == 0

"""Name conversion between Anthropic model ids and OpenRouter slugs: tables, properties, and real lists."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from providers.claude_names import (
    FAMILIES,
    ClaudeName,
    NotAClaudeName,
    anthropic_id,
    anthropic_id_for,
    family_of,
    newest_anthropic_id,
    newest_plain_slug,
    normalise_slug,
    openrouter_slug,
    openrouter_slug_for,
    parse_claude_name,
    to_anthropic,
    to_openrouter,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "model_lists"


def rows(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["data"]


def anthropic_ids(name: str) -> list[str]:
    """Return the ids of an Anthropic snapshot, newest first (rebuilt from created_at where the source sorted by id)."""
    data = rows(name)
    return [row["id"] for row in sorted(data, key=lambda row: row["created_at"], reverse=True)]


def openrouter_models(*names: str) -> list[tuple[str, int]]:
    return [(row["id"], row["created"]) for name in names for row in rows(name)]


def claude_slugs(*names: str) -> list[str]:
    """Return every anthropic/ slug of OpenRouter snapshots (not the ~anthropic/...-latest router aliases)."""
    return [slug for slug, _ in openrouter_models(*names) if slug.startswith("anthropic/")]


ANTHROPIC_SNAPSHOTS = ("anthropic_2025-05-23.json", "anthropic_2026-06-20.json", "anthropic_2026-10.json")
OPENROUTER_SNAPSHOTS = (
    "openrouter_2025-07-29.json",
    "openrouter_2026-01-29.json",
    "openrouter_2026-05-01.json",
    "openrouter_2026-10_hand_written.json",
)


# --- The pair, by generation (DESIGN.md "Model catalog").

TO_OPENROUTER = [
    ("claude-3-5-haiku-20241022", "anthropic/claude-3.5-haiku"),
    ("claude-3-7-sonnet-20250219", "anthropic/claude-3.7-sonnet"),
    ("claude-3-haiku-20240307", "anthropic/claude-3-haiku"),
    ("claude-3-5-sonnet-latest", "anthropic/claude-3.5-sonnet"),
    ("claude-opus-4-0", "anthropic/claude-opus-4"),
    ("claude-opus-4-20250514", "anthropic/claude-opus-4"),
    ("claude-opus-4-1-20250805", "anthropic/claude-opus-4.1"),
    ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
    ("claude-opus-4-7", "anthropic/claude-opus-4.7"),
    ("claude-2.1", "anthropic/claude-2.1"),
    ("claude-2.0", "anthropic/claude-2.0"),
    ("claude-instant-1.2", "anthropic/claude-instant-1.2"),
    ("claude-opus-5", "anthropic/claude-opus-5"),
    ("claude-opus-5-5", "anthropic/claude-opus-5.5"),
    ("claude-fable-5-1", "anthropic/claude-fable-5.1"),
    ("claude-opus-4-8-fast", "anthropic/claude-opus-4.8-fast"),
    # Already OpenRouter's, or written the other way round: the generation's spelling comes back.
    ("anthropic/claude-opus-4-7", "anthropic/claude-opus-4.7"),
    ("anthropic/claude-opus-4.7", "anthropic/claude-opus-4.7"),
    ("claude-4-5-sonnet", "anthropic/claude-sonnet-4.5"),
    ("claude-haiku-3-5", "anthropic/claude-3.5-haiku"),
    ("Claude-Opus-4-7", "anthropic/claude-opus-4.7"),
]


@pytest.mark.parametrize(("model_id", "slug"), TO_OPENROUTER)
def test_to_openrouter_writes_openrouters_dotted_undated_slug(model_id: str, slug: str) -> None:
    assert to_openrouter(model_id) == slug


TO_ANTHROPIC = [
    ("anthropic/claude-3.5-haiku", "claude-3-5-haiku-latest"),
    ("anthropic/claude-3.7-sonnet", "claude-3-7-sonnet-latest"),
    ("anthropic/claude-3-haiku", "claude-3-haiku-latest"),
    ("anthropic/claude-opus-4", "claude-opus-4-0"),
    ("anthropic/claude-opus-4.1", "claude-opus-4-1"),
    ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("anthropic/claude-opus-4.7", "claude-opus-4-7"),
    ("anthropic/claude-2.1", "claude-2.1"),
    ("anthropic/claude-opus-5", "claude-opus-5"),
    ("anthropic/claude-opus-5.5", "claude-opus-5-5"),
    ("anthropic/claude-fable-5.1", "claude-fable-5-1"),
    ("anthropic/claude-3.5-sonnet-20240620", "claude-3-5-sonnet-20240620"),
    ("anthropic/claude-4.5-sonnet-20250929", "claude-sonnet-4-5-20250929"),
    ("anthropic/claude-opus-4.8-fast", "claude-opus-4-8-fast"),
    ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet-latest:thinking"),
    ("anthropic/claude-3.5-sonnet-20240620:beta", "claude-3-5-sonnet-20240620:beta"),
    ("claude-opus-4-20250514", "claude-opus-4-20250514"),
]


@pytest.mark.parametrize(("slug", "model_id"), TO_ANTHROPIC)
def test_to_anthropic_writes_anthropics_dashed_id_keeping_a_date_or_using_the_undated_alias(
    slug: str, model_id: str
) -> None:
    assert to_anthropic(slug) == model_id


# (Anthropic id, OpenRouter slug): the slug converts back to the id when Anthropic's list has it.
BOTH_WAYS = [
    ("claude-3-5-haiku-20241022", "anthropic/claude-3.5-haiku"),
    ("claude-3-7-sonnet-20250219", "anthropic/claude-3.7-sonnet"),
    ("claude-3-haiku-20240307", "anthropic/claude-3-haiku"),
    ("claude-opus-4-0", "anthropic/claude-opus-4"),
    ("claude-opus-4-20250514", "anthropic/claude-opus-4"),
    ("claude-opus-4-1-20250805", "anthropic/claude-opus-4.1"),
    ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
    ("claude-opus-4-7", "anthropic/claude-opus-4.7"),
    ("claude-2.1", "anthropic/claude-2.1"),
    ("claude-opus-5", "anthropic/claude-opus-5"),
    ("claude-opus-5-5", "anthropic/claude-opus-5.5"),
    ("claude-fable-5-1", "anthropic/claude-fable-5.1"),
]


@pytest.mark.parametrize(("model_id", "slug"), BOTH_WAYS)
def test_each_generation_converts_both_ways_when_anthropics_list_is_at_hand(model_id: str, slug: str) -> None:
    others = ["claude-sonnet-4-6", "claude-haiku-4-5-20251001", "claude-3-opus-20240229"]
    assert to_openrouter(model_id) == slug
    assert anthropic_id_for(slug, [*others, model_id]) == anthropic_id_for(slug, [model_id, *others])
    assert anthropic_id_for(slug, [*others, model_id]).name == model_id
    assert openrouter_slug_for(model_id, {slug, "openai/gpt-5"}).name == slug


VARIANTS = [
    ("anthropic/claude-opus-4-8-fast", "anthropic/claude-opus-4.8-fast"),
    ("anthropic/claude-3-7-sonnet:thinking", "anthropic/claude-3.7-sonnet:thinking"),
    ("anthropic/claude-3-5-haiku:beta", "anthropic/claude-3.5-haiku:beta"),
    ("anthropic/claude-sonnet-4-5:free", "anthropic/claude-sonnet-4.5:free"),
    ("anthropic/claude-3-5-sonnet:extended", "anthropic/claude-3.5-sonnet:extended"),
    ("anthropic/claude-opus-5-5:batch", "anthropic/claude-opus-5.5:batch"),
    ("anthropic/claude-opus-4-8-fast:batch", "anthropic/claude-opus-4.8-fast:batch"),
]


@pytest.mark.parametrize(("written", "listed_form"), VARIANTS)
def test_variant_suffixes_are_carried_across_unchanged(written: str, listed_form: str) -> None:
    variant = parse_claude_name(written).variant
    assert variant
    assert listed_form.endswith(variant)
    assert to_openrouter(written) == listed_form
    assert normalise_slug(written).text == listed_form
    assert to_anthropic(listed_form).endswith(variant)
    assert to_openrouter(to_anthropic(listed_form)) == listed_form


# --- The parser.

PARSED = [
    ("claude-3-5-haiku-20241022", ClaudeName("haiku", (3, 5), "20241022")),
    ("claude-3-haiku-20240307", ClaudeName("haiku", (3,), "20240307")),
    ("claude-3-7-sonnet-latest", ClaudeName("sonnet", (3, 7))),
    ("claude-opus-4-0", ClaudeName("opus", (4,))),
    ("claude-opus-4-20250514", ClaudeName("opus", (4,), "20250514")),
    ("claude-opus-4-1-20250805", ClaudeName("opus", (4, 1), "20250805")),
    ("claude-2.1", ClaudeName(None, (2, 1))),
    ("claude-2.0", ClaudeName(None, (2, 0))),
    ("claude-fable-5-1", ClaudeName("fable", (5, 1))),
    ("anthropic/claude-3.7-sonnet:thinking", ClaudeName("sonnet", (3, 7), variant=":thinking")),
    ("anthropic/claude-3.5-sonnet-20240620:beta", ClaudeName("sonnet", (3, 5), "20240620", ":beta")),
    ("anthropic/claude-opus-4.8-fast", ClaudeName("opus", (4, 8), variant="-fast")),
    ("anthropic/Claude-Opus-4.8", ClaudeName("opus", (4, 8))),
    ("claude-sonnet-opus-x", None),
    ("claude-opus", None),
    ("claude-opus-latest", None),
    ("~anthropic/claude-opus-latest", None),
    ("openai/gpt-5", None),
    ("gpt-5", None),
    ("claude-opus-4-123", None),
    ("claude-opus-4-7-2025", None),
]


@pytest.mark.parametrize(("name", "parsed"), PARSED)
def test_one_parser_reads_both_word_orders_dates_and_variants(name: str, parsed: ClaudeName | None) -> None:
    assert parse_claude_name(name) == parsed


@pytest.mark.parametrize("name", ["gpt-5", "openai/gpt-5", "~anthropic/claude-opus-latest", "claude-opus", ""])
def test_a_name_that_is_not_claude_is_refused_by_both_directions(name: str) -> None:
    with pytest.raises(NotAClaudeName):
        to_openrouter(name)
    with pytest.raises(NotAClaudeName):
        to_anthropic(name)
    with pytest.raises(NotAClaudeName):
        anthropic_id_for(name, [])


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("claude-3-5-haiku-20241022", "haiku"),
        ("anthropic/claude-3.7-sonnet", "sonnet"),
        ("claude-opus-4-7", "opus"),
        ("claude-fable-5-1", "fable"),
        ("claude-2.1", None),
        ("claude-sonnet-opus-x", None),
    ],
)
def test_family_is_read_from_the_name_not_found_as_a_substring(name: str, family: str | None) -> None:
    assert family_of(name) == family


# --- Case and spelling of slugs.

NORMALISED = [
    ("anthropic/Claude-Opus-4.8", "anthropic/claude-opus-4.8", "lower case"),
    ("anthropic/claude-opus-4-7", "anthropic/claude-opus-4.7", "OpenRouter names anthropic/claude-opus-4-7 as"),
    ("anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5", "OpenRouter names"),
    ("anthropic/claude-4.5-sonnet-20250929", "anthropic/claude-sonnet-4.5", "OpenRouter names"),
    ("GPT-5", "openai/gpt-5", "has no vendor"),
    ("gpt-5", "openai/gpt-5", "has no vendor"),
    ("gemini-2.5-pro", "google/gemini-2.5-pro", "has no vendor"),
    ("claude-opus-4-7", "anthropic/claude-opus-4.7", "is an Anthropic model id"),
    ("Meta-Llama/Llama-3.1-405B-Instruct", "meta-llama/llama-3.1-405b-instruct", "lower case"),
    (" openai/gpt-5 ", "openai/gpt-5", ""),
]


@pytest.mark.parametrize(("written", "normalised", "reason"), NORMALISED)
def test_normalise_slug_says_what_it_changed(written: str, normalised: str, reason: str) -> None:
    result = normalise_slug(written)
    assert result.text == normalised
    assert result.changed is bool(reason)
    assert reason in result.reason


@pytest.mark.parametrize(
    "slug",
    [
        "anthropic/claude-opus-4.8",
        "anthropic/claude-3.5-sonnet-20240620",
        "anthropic/claude-3.5-sonnet-20240620:beta",
        "openai/gpt-5",
        "~anthropic/claude-opus-latest",
        "meta-llama/llama-3.1-405b-instruct",
        "some-bare-name",
    ],
)
def test_normalise_slug_leaves_openrouters_own_spelling_alone(slug: str) -> None:
    assert normalise_slug(slug) == normalise_slug(slug).__class__(slug, False, "")


# --- Checking against the target's list.


def test_a_dashed_slug_the_list_knows_dotted_is_sent_dotted_with_a_warning() -> None:
    result = openrouter_slug_for("anthropic/claude-opus-4-7", {"anthropic/claude-opus-4.7"})
    assert (result.name, result.listed) == ("anthropic/claude-opus-4.7", True)
    assert result.warnings == (
        "OpenRouter names anthropic/claude-opus-4-7 as anthropic/claude-opus-4.7; sent as anthropic/claude-opus-4.7.",
    )


def test_a_slug_in_upper_case_is_sent_lower_case_and_the_warning_says_so() -> None:
    result = openrouter_slug_for("anthropic/Claude-Opus-4.8", {"anthropic/claude-opus-4.8"})
    assert (result.name, result.listed) == ("anthropic/claude-opus-4.8", True)
    assert result.warnings == (
        "OpenRouter slugs are lower case: anthropic/Claude-Opus-4.8 is sent as anthropic/claude-opus-4.8.",
    )


def test_a_listed_slug_comes_back_as_given_without_warnings() -> None:
    listed = {"anthropic/claude-opus-4.7", "openai/gpt-5"}
    assert openrouter_slug_for("openai/gpt-5", listed) == openrouter_slug_for("openai/gpt-5", listed).__class__(
        "openai/gpt-5", (), True
    )


def test_an_anthropic_id_converts_without_a_warning_when_the_slug_is_listed() -> None:
    result = openrouter_slug_for("claude-opus-4-7", {"anthropic/claude-opus-4.7"})
    assert (result.name, result.warnings, result.listed) == ("anthropic/claude-opus-4.7", (), True)


def test_a_name_the_target_does_not_list_is_converted_and_flagged() -> None:
    result = openrouter_slug_for("claude-opus-9", {"anthropic/claude-opus-4.7"})
    assert (result.name, result.listed) == ("anthropic/claude-opus-9", False)
    assert result.warnings == ("anthropic/claude-opus-9 is not in OpenRouter's model list; sent as given.",)
    unknown = openrouter_slug_for("acme/unknown-model", {"anthropic/claude-opus-4.7"})
    assert (unknown.name, unknown.listed) == ("acme/unknown-model", False)
    assert unknown.warnings == ("acme/unknown-model is not in OpenRouter's model list; sent as given.",)


def test_without_a_list_nothing_is_claimed_about_listing() -> None:
    assert openrouter_slug_for("claude-opus-4-7").listed is None
    assert openrouter_slug_for("claude-opus-4-7").warnings == ()
    assert anthropic_id_for("anthropic/claude-opus-4.7").listed is None
    assert anthropic_id_for("anthropic/claude-opus-4.7").name == "claude-opus-4-7"


def test_a_bare_name_of_another_vendor_is_given_its_vendor_with_a_warning() -> None:
    result = openrouter_slug_for("GPT-5", {"openai/gpt-5"})
    assert (result.name, result.listed) == ("openai/gpt-5", True)
    assert result.warnings == ("GPT-5 has no vendor: OpenRouter names it openai/gpt-5.",)


def test_a_dated_id_takes_openrouters_dated_snapshot_when_listed() -> None:
    listed = {"anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet-20240620"}
    # anthropic/claude-3.5-sonnet is the October 2024 model; the June one is listed under its date.
    assert openrouter_slug_for("claude-3-5-sonnet-20240620", listed).name == "anthropic/claude-3.5-sonnet-20240620"
    assert openrouter_slug_for("claude-3-5-sonnet-20241022", listed).name == "anthropic/claude-3.5-sonnet"
    assert openrouter_slug_for("anthropic/claude-3-5-sonnet-20240620", listed).name == (
        "anthropic/claude-3.5-sonnet-20240620"
    )


def test_an_undated_slug_takes_the_newest_listed_date_of_its_model_whatever_the_list_order() -> None:
    ids = ["claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20241022", "claude-3-opus-20240229"]
    result = anthropic_id_for("anthropic/claude-3.5-sonnet", ids)
    assert (result.name, result.warnings, result.listed) == ("claude-3-5-sonnet-20241022", (), True)
    assert anthropic_id_for("anthropic/claude-3.5-sonnet", list(reversed(ids))).name == "claude-3-5-sonnet-20241022"


def test_a_listed_undated_alias_wins_over_dated_ids() -> None:
    ids = ["claude-opus-4-20250514", "claude-opus-4-0"]
    assert anthropic_id_for("anthropic/claude-opus-4", ids).name == "claude-opus-4-0"


def test_a_dated_slug_wants_exactly_that_date() -> None:
    result = anthropic_id_for("anthropic/claude-3.5-sonnet-20240620", ["claude-3-5-sonnet-20241022"])
    assert (result.name, result.listed) == ("claude-3-5-sonnet-20240620", False)
    assert result.warnings == ("claude-3-5-sonnet-20240620 is not in Anthropic's model list; sent as given.",)


def test_a_slug_anthropic_does_not_list_comes_back_undated_and_flagged() -> None:
    result = anthropic_id_for("anthropic/claude-3.7-sonnet", ["claude-opus-4-7", "claude-sonnet-4-6"])
    assert (result.name, result.listed) == ("claude-3-7-sonnet-latest", False)
    assert result.warnings == ("claude-3-7-sonnet-latest is not in Anthropic's model list; sent as given.",)


def test_a_variant_keeps_the_listed_date_and_says_anthropic_lists_no_such_variant() -> None:
    result = anthropic_id_for("anthropic/claude-3.7-sonnet:thinking", ["claude-3-7-sonnet-20250219"])
    assert (result.name, result.listed) == ("claude-3-7-sonnet-20250219:thinking", False)
    assert result.warnings == (
        "Anthropic lists no :thinking variant of claude-3-7-sonnet-20250219; "
        "sent as claude-3-7-sonnet-20250219:thinking.",
    )


# --- Newest of a family.

ORDERED_OPENROUTER = [
    ("anthropic/claude-opus-4.7", 300),
    ("anthropic/claude-opus-4.8-fast", 500),
    ("anthropic/claude-opus-4.6", 200),
    ("anthropic/claude-opus-4.7:beta", 600),
    ("~anthropic/claude-opus-latest", 700),
    ("anthropic/claude-opus-4.5-20251124", 800),
    ("anthropic/Claude-Opus-4.9", 900),
    ("anthropic/claude-3.5-haiku", 100),
    ("anthropic/claude-3-haiku", 50),
    ("anthropic/claude-3.5-haiku-20241022", 150),
    ("openai/claude-opus-9", 1000),
]


@pytest.mark.parametrize(
    ("family", "newest"),
    [
        ("opus", "anthropic/claude-opus-4.7"),
        ("haiku", "anthropic/claude-3.5-haiku"),
        ("sonnet", None),
        ("fable", None),
    ],
)
def test_newest_plain_slug_skips_variants_dated_snapshots_router_aliases_and_other_spellings(
    family: str, newest: str | None
) -> None:
    assert newest_plain_slug(family, ORDERED_OPENROUTER) == newest


def test_newest_plain_slug_breaks_a_tie_in_created_by_version() -> None:
    listed = [("anthropic/claude-sonnet-4.5", 10), ("anthropic/claude-sonnet-4.6", 10)]
    assert newest_plain_slug("sonnet", listed) == "anthropic/claude-sonnet-4.6"


def test_newest_anthropic_id_reads_the_family_from_the_id() -> None:
    ids = ["claude-sonnet-opus-x", "claude-3-5-haiku-20241022", "claude-3-opus-20240229", "claude-opus-4-0"]
    assert newest_anthropic_id("opus", ids) == "claude-3-opus-20240229"
    assert newest_anthropic_id("haiku", ids) == "claude-3-5-haiku-20241022"
    assert newest_anthropic_id("sonnet", ids) is None
    assert newest_anthropic_id("fable", []) is None


# --- Properties.

VARIANT_SUFFIXES = ["", "-fast", ":thinking", ":beta", ":free", ":extended", ":batch", "-fast:batch"]


@st.composite
def claude_names(draw: st.DrawFn) -> ClaudeName:
    """Draw a Claude model name in the form Anthropic writes it: any family, generation, date and variant."""
    family = draw(st.sampled_from((*FAMILIES, "instant", "mythos", None)))
    major = draw(st.integers(1, 2) if family is None else st.integers(1, 12))
    # From Claude 3 on a family's ".0" is the bare major (claude-opus-4-0 is Opus 4).
    minor = draw(st.none() | (st.integers(0, 9) if major < 3 else st.integers(1, 12)))
    version = (major,) if minor is None else (major, minor)
    day = draw(st.none() | st.dates(date(2023, 1, 1), date(2030, 12, 31)))
    variant = draw(st.sampled_from(VARIANT_SUFFIXES))
    return ClaudeName(family, version, day.strftime("%Y%m%d") if day else None, variant)


@given(claude_names())
def test_property_parsing_an_anthropic_id_gives_back_its_parts(name: ClaudeName) -> None:
    assert parse_claude_name(anthropic_id(name)) == name


@given(claude_names())
def test_property_an_id_survives_the_trip_through_openrouter_but_for_its_date(name: ClaudeName) -> None:
    model_id = anthropic_id(name)
    slug = to_openrouter(model_id)
    assert to_anthropic(slug) == anthropic_id(replace(name, date=None))
    assert parse_claude_name(to_anthropic(slug)) == replace(name, date=None)


@given(claude_names(), st.lists(claude_names(), max_size=4))
def test_property_the_date_is_recovered_when_anthropics_list_is_given(name: ClaudeName, others: list) -> None:
    model_id = anthropic_id(name)
    plain_id = anthropic_id(replace(name, variant=""))  # Anthropic lists models, not OpenRouter's variants
    unrelated = [anthropic_id(replace(other, variant="")) for other in others if other.version != name.version]
    result = anthropic_id_for(to_openrouter(model_id), [*unrelated, plain_id])
    assert result.name == model_id
    assert result.listed is (not name.variant)


@given(claude_names())
def test_property_a_dotted_slug_survives_the_trip_through_anthropic(name: ClaudeName) -> None:
    slug = openrouter_slug(name)
    assert to_openrouter(to_anthropic(slug)) == slug
    assert normalise_slug(slug).changed is False


@given(claude_names())
def test_property_variant_suffixes_are_preserved_both_ways(name: ClaudeName) -> None:
    assert to_openrouter(anthropic_id(name)).endswith(name.variant)
    assert to_anthropic(openrouter_slug(name)).endswith(name.variant)
    assert parse_claude_name(to_openrouter(anthropic_id(name))).variant == name.variant


@given(claude_names())
def test_property_anthropics_spelling_behind_the_vendor_normalises_to_the_dotted_slug(name: ClaudeName) -> None:
    # A single-part dated name (claude-opus-4-20250514) reads the same in both spellings: it is kept as written.
    assume(name.date is None or (len(name.version) == 2 and name.version[0] >= 3))
    written = f"anthropic/{anthropic_id(name)}"
    assert normalise_slug(written).text == to_openrouter(anthropic_id(name))


@given(claude_names(), st.sampled_from([str.upper, str.title, str.swapcase]))
def test_property_slugs_are_case_insensitive(name: ClaudeName, recase) -> None:
    slug = openrouter_slug(name, with_date=True)
    written = recase(slug)
    assume(written != slug)
    result = normalise_slug(written)
    assert (result.text, result.changed) == (slug, True)
    assert "lower case" in result.reason


# --- Real lists (tests/fixtures/model_lists/README.md says where each comes from).

# Anthropic snapshot, the OpenRouter snapshots of a similar date, and the ids OpenRouter's snapshot lacks.
FORWARD_PAIRS = [
    (
        "anthropic_2025-05-23.json",
        ("openrouter_2025-07-29.json",),
        # That snapshot asked for tool-using models only; Claude 2 has no tool use.
        {"claude-2.1", "claude-2.0"},
    ),
    (
        "anthropic_2026-06-20.json",
        ("openrouter_2026-05-01.json",),
        # Released after OpenRouter's snapshot was taken (2026-05-28 and 2026-06-07).
        {"claude-opus-4-8", "claude-fable-5"},
    ),
    (
        "anthropic_2026-10.json",
        ("openrouter_2026-05-01.json", "openrouter_2026-10_hand_written.json"),
        set(),
    ),
]


@pytest.mark.parametrize(("anthropic", "openrouter", "not_on_openrouter"), FORWARD_PAIRS)
def test_every_real_anthropic_id_converts_to_a_slug_openrouter_lists(
    anthropic: str, openrouter: tuple[str, ...], not_on_openrouter: set[str]
) -> None:
    listed = {slug for slug, _ in openrouter_models(*openrouter)}
    unlisted = set()
    for model_id in anthropic_ids(anthropic):
        result = openrouter_slug_for(model_id, listed)
        assert result.name in {to_openrouter(model_id), openrouter_slug(parse_claude_name(model_id), with_date=True)}
        if not result.listed:
            unlisted.add(model_id)
            assert result.warnings == (f"{result.name} is not in OpenRouter's model list; sent as given.",)
        else:
            assert result.warnings == ()
    assert unlisted == not_on_openrouter


def test_the_2025_ids_convert_to_these_slugs() -> None:
    listed = {slug for slug, _ in openrouter_models("openrouter_2025-07-29.json")}
    converted = {
        model_id: openrouter_slug_for(model_id, listed).name for model_id in anthropic_ids("anthropic_2025-05-23.json")
    }
    assert converted == {
        "claude-opus-4-20250514": "anthropic/claude-opus-4",
        "claude-sonnet-4-20250514": "anthropic/claude-sonnet-4",
        "claude-3-7-sonnet-20250219": "anthropic/claude-3.7-sonnet",
        "claude-3-5-sonnet-20241022": "anthropic/claude-3.5-sonnet",
        # OpenRouter lists these two snapshots under their dates too: the dated slug names exactly that model.
        "claude-3-5-haiku-20241022": "anthropic/claude-3.5-haiku-20241022",
        "claude-3-5-sonnet-20240620": "anthropic/claude-3.5-sonnet-20240620",
        "claude-3-haiku-20240307": "anthropic/claude-3-haiku",
        "claude-3-opus-20240229": "anthropic/claude-3-opus",
        "claude-3-sonnet-20240229": "anthropic/claude-3-sonnet",
        "claude-2.1": "anthropic/claude-2.1",
        "claude-2.0": "anthropic/claude-2.0",
    }


RETIRED_AT_ANTHROPIC_2026 = {
    "anthropic/claude-3-haiku",
    "anthropic/claude-3.5-haiku",
    "anthropic/claude-3.7-sonnet",
    "anthropic/claude-3.7-sonnet:thinking",
    "anthropic/claude-opus-4",
    "anthropic/claude-opus-4.1",
    "anthropic/claude-sonnet-4",
}

# OpenRouter snapshots, the Anthropic snapshot of a similar date, and the slugs Anthropic's snapshot lacks.
BACKWARD_PAIRS = [
    ("openrouter_2025-07-29.json", "anthropic_2025-05-23.json", set()),
    ("openrouter_2026-05-01.json", "anthropic_2026-06-20.json", RETIRED_AT_ANTHROPIC_2026),
    (
        "openrouter_2026-10_hand_written.json",
        "anthropic_2026-10.json",
        # Haiku 5.5 came out after Anthropic's snapshot; Mythos 5 is not in Anthropic's public list.
        {"anthropic/claude-haiku-5.5", "anthropic/claude-mythos-5"},
    ),
]


@pytest.mark.parametrize(("openrouter", "anthropic", "not_at_anthropic"), BACKWARD_PAIRS)
def test_every_real_claude_slug_converts_to_an_id_anthropic_lists(
    openrouter: str, anthropic: str, not_at_anthropic: set[str]
) -> None:
    ids = anthropic_ids(anthropic)
    unlisted = set()
    for slug in claude_slugs(openrouter):
        result = anthropic_id_for(slug, ids)
        parsed = parse_claude_name(slug)
        plain_id = anthropic_id(replace(parse_claude_name(result.name), variant=""))
        if plain_id not in ids:
            unlisted.add(slug)
            assert result.listed is False
            continue
        assert result.name == plain_id + parsed.variant
        if parsed.variant:  # Anthropic lists models, not OpenRouter's -fast or :thinking entries
            assert result.listed is False
            assert parsed.variant in result.warnings[0]
        else:
            assert (result.listed, result.warnings) == (True, ())
    assert unlisted == not_at_anthropic


def test_a_real_round_trip_through_both_lists_lands_on_the_same_dated_id() -> None:
    ids = anthropic_ids("anthropic_2025-05-23.json")
    listed = {slug for slug, _ in openrouter_models("openrouter_2025-07-29.json")}
    for model_id in ids:
        slug = openrouter_slug_for(model_id, listed).name
        assert anthropic_id_for(slug, ids).name == model_id


@pytest.mark.parametrize("snapshot", OPENROUTER_SNAPSHOTS)
def test_every_real_claude_slug_parses_and_is_already_in_openrouters_spelling(snapshot: str) -> None:
    for slug in claude_slugs(snapshot):
        parsed = parse_claude_name(slug)
        assert parsed is not None, slug
        assert normalise_slug(slug).changed is False, slug
        assert openrouter_slug(parsed, with_date=True) == slug
        assert to_openrouter(to_anthropic(slug)) == openrouter_slug(parsed)
    for slug, _ in openrouter_models(snapshot):
        if slug.startswith("~"):
            assert parse_claude_name(slug) is None  # a router alias, not a model


@pytest.mark.parametrize("snapshot", ANTHROPIC_SNAPSHOTS)
def test_every_real_anthropic_id_parses_and_is_already_in_anthropics_spelling(snapshot: str) -> None:
    for model_id in anthropic_ids(snapshot):
        parsed = parse_claude_name(model_id)
        assert parsed is not None, model_id
        assert parsed.family in (*FAMILIES, None)
        assert anthropic_id(parsed) == model_id
        assert to_anthropic(to_openrouter(model_id)) == anthropic_id(replace(parsed, date=None))


NEWEST_SLUGS = {
    ("openrouter_2025-07-29.json",): {
        "opus": "anthropic/claude-opus-4",
        "sonnet": "anthropic/claude-sonnet-4",
        "haiku": "anthropic/claude-3.5-haiku",
        "fable": None,
    },
    ("openrouter_2026-01-29.json",): {
        "opus": "anthropic/claude-opus-4.5",
        "sonnet": "anthropic/claude-sonnet-4.5",
        "haiku": "anthropic/claude-haiku-4.5",
        "fable": None,
    },
    ("openrouter_2026-05-01.json",): {
        "opus": "anthropic/claude-opus-4.7",  # not anthropic/claude-opus-4.6-fast, nor ~anthropic/claude-opus-latest
        "sonnet": "anthropic/claude-sonnet-4.6",
        "haiku": "anthropic/claude-haiku-4.5",
        "fable": None,
    },
    ("openrouter_2026-05-01.json", "openrouter_2026-10_hand_written.json"): {
        "opus": "anthropic/claude-opus-5.5",  # not its :batch entry
        "sonnet": "anthropic/claude-sonnet-5.5",  # not anthropic/claude-sonnet-5.5-fast
        "haiku": "anthropic/claude-haiku-5.5",
        "fable": "anthropic/claude-fable-5.1",
    },
}


@pytest.mark.parametrize(("snapshots", "family"), [(s, f) for s in NEWEST_SLUGS for f in FAMILIES])
def test_newest_plain_slug_of_each_family_in_real_lists(snapshots: tuple[str, ...], family: str) -> None:
    assert newest_plain_slug(family, openrouter_models(*snapshots)) == NEWEST_SLUGS[snapshots][family]


NEWEST_IDS = {
    "anthropic_2025-05-23.json": {
        "opus": "claude-opus-4-20250514",
        "sonnet": "claude-sonnet-4-20250514",
        "haiku": "claude-3-5-haiku-20241022",
        "fable": None,
    },
    "anthropic_2026-06-20.json": {
        "opus": "claude-opus-4-8",
        "sonnet": "claude-sonnet-4-6",
        "haiku": "claude-haiku-4-5-20251001",
        "fable": "claude-fable-5",
    },
    "anthropic_2026-10.json": {
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-4-5-20251001",
        "fable": "claude-fable-5-1",
    },
}


@pytest.mark.parametrize(("snapshot", "family"), [(s, f) for s in NEWEST_IDS for f in FAMILIES])
def test_newest_anthropic_id_of_each_family_in_real_lists(snapshot: str, family: str) -> None:
    assert newest_anthropic_id(family, anthropic_ids(snapshot)) == NEWEST_IDS[snapshot][family]


def test_the_2025_anthropic_snapshot_is_in_anthropics_own_newest_first_order() -> None:
    # The order newest_anthropic_id() relies on, as Anthropic returned it (not rebuilt from created_at).
    as_returned = [row["id"] for row in rows("anthropic_2025-05-23.json")]
    assert as_returned == anthropic_ids("anthropic_2025-05-23.json")
    created = [datetime.fromisoformat(row["created_at"]) for row in rows("anthropic_2025-05-23.json")]
    assert created == sorted(created, reverse=True)

"""Claude model names at Anthropic and at OpenRouter, and the one pair of functions between them.

The two providers spell the same model differently (Anthropic id -> OpenRouter slug):

    claude-opus-4-7                                 -> anthropic/claude-opus-4.7
    claude-sonnet-4-5-20250929                      -> anthropic/claude-sonnet-4.5
    claude-opus-4-20250514 (alias claude-opus-4-0)  -> anthropic/claude-opus-4
    claude-3-5-haiku-20241022                       -> anthropic/claude-3.5-haiku
    claude-2.1                                      -> anthropic/claude-2.1

Both are read by one parser into a `ClaudeName` (family, version, date, variant) and written back by
`anthropic_id()` and `openrouter_slug()`; `to_openrouter()` and `to_anthropic()` are the pair everything
else uses. The rules, by generation:

- Word order: Claude 3 puts the version first (claude-3-5-haiku); every other generation puts the family
  first (claude-opus-4-1, claude-instant-1.2). Either order is read; the generation's order is written.
- Separator: Anthropic writes dashes between version parts from Claude 3 on (claude-opus-4-1) and a dot
  before (claude-2.1); OpenRouter always writes a dot.
- Date: Anthropic ids up to Claude 4.5 carry an 8-digit snapshot date; OpenRouter's public slugs mostly do
  not (it lists a few dated snapshots, e.g. anthropic/claude-3.5-sonnet-20240620). Converting to OpenRouter
  drops the date; converting to Anthropic keeps a date the slug has, and otherwise writes Anthropic's undated
  alias: claude-opus-4-7, claude-opus-4-0 for Claude 4.0, claude-3-5-haiku-latest for Claude 3.
- Variants OpenRouter lists as separate entries (-fast, :thinking, :beta, :free, :extended, :batch) are
  carried across unchanged; Anthropic lists none of them, so the list-aware functions say so.

Pure Python: no Django, no I/O. The list-aware functions take the target's list as an argument.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

# The families a bare alias can name (DESIGN.md, rule 2); fable is the newer family Claude Code also names.
FAMILIES = ("opus", "sonnet", "haiku", "fable")
ANTHROPIC_VENDOR = "anthropic"

# Claude 3 is the one generation that wrote the version before the family (claude-3-5-haiku).
_VERSION_FIRST_MAJORS = frozenset({3})
# Before Claude 3, Anthropic ids joined version parts with a dot (claude-2.1, claude-instant-1.2).
_DOTTED_ID_BELOW_MAJOR = 3
# Claude 4.0 is the one release whose undated Anthropic alias spells the zero: claude-opus-4-0, while
# its dated id is claude-opus-4-20250514 and later majors have none (claude-opus-5).
_ZERO_MINOR_ALIAS_MAJORS = frozenset({4})

_VERSION = r"(?P<{major}>\d{{1,2}})(?:[.-](?P<{minor}>\d{{1,2}}))?"
# A family is a word, but not the words that follow a name: claude-2-fast is Claude 2's -fast variant.
_FAMILY = r"(?P<{name}>(?!(?:fast|latest)(?![a-z]))[a-z]+)"
_NAME = re.compile(
    r"claude-(?:"
    + _FAMILY.format(name="family1")
    + "-"
    + _VERSION.format(major="major1", minor="minor1")
    + r"|"
    + _VERSION.format(major="major2", minor="minor2")
    + "-"
    + _FAMILY.format(name="family2")
    + r"|"
    + _VERSION.format(major="major3", minor="minor3")
    + r")"
    + r"(?:-(?P<date>\d{8})|-(?P<latest>latest))?"
    + r"(?P<variant>(?:-fast)?(?::[a-z0-9][a-z0-9-]*)?)"
)


class NotAClaudeName(ValueError):
    """A name that is not a Claude model id or an anthropic/claude-... slug."""


@dataclass(frozen=True)
class ClaudeName:
    """A Claude model name as both providers understand it."""

    family: str | None  # opus, sonnet, haiku, fable, ...; None for claude-2.1
    version: tuple[int, ...]  # (4, 1) for Opus 4.1, (3,) for Claude 3 Haiku
    date: str | None = None  # the snapshot date, YYYYMMDD
    variant: str = ""  # "-fast", ":thinking", "-fast:batch", ...

    @property
    def plain(self) -> bool:
        """Say whether this names the model itself: no snapshot date, no variant."""
        return self.date is None and not self.variant


@dataclass(frozen=True)
class Conversion:
    """A converted name, what a person should know about it, and whether the target's list has it."""

    name: str
    warnings: tuple[str, ...] = ()
    listed: bool | None = None  # None: no list was at hand to check against


@dataclass(frozen=True)
class Normalised:
    """A slug in the form OpenRouter lists it, and why it differs from what was written."""

    text: str
    changed: bool
    reason: str = ""


def parse_claude_name(name: str) -> ClaudeName | None:
    """Return the parts of a Claude model id or anthropic/ slug, or None if it is not one."""
    text = name.strip().lower().removeprefix(f"{ANTHROPIC_VENDOR}/")
    match = _NAME.fullmatch(text)
    if match is None:
        return None
    if match["major1"] is not None:  # claude-opus-4-1
        family, major, minor = match["family1"], match["major1"], match["minor1"]
    elif match["major2"] is not None:  # claude-3-5-haiku
        family, major, minor = match["family2"], match["major2"], match["minor2"]
    else:  # claude-2.1
        family, major, minor = None, match["major3"], match["minor3"]
    version = (int(major),) if minor is None else (int(major), int(minor))
    if family is not None and len(version) == 2 and version[1] == 0 and version[0] >= _DOTTED_ID_BELOW_MAJOR:
        # claude-opus-4-0 is Claude Opus 4: both providers otherwise say 4.
        version = version[:1]
    return ClaudeName(family=family, version=version, date=match["date"], variant=match["variant"])


def family_of(name: str) -> str | None:
    """Return the family a Claude model id or slug names (opus, sonnet, ...), or None."""
    parsed = parse_claude_name(name)
    return parsed.family if parsed else None


def _base(name: ClaudeName, separator: str) -> str:
    version = separator.join(str(part) for part in name.version)
    if name.family is None:
        return f"claude-{version}"
    if name.version[0] in _VERSION_FIRST_MAJORS:
        return f"claude-{version}-{name.family}"
    return f"claude-{name.family}-{version}"


def anthropic_id(name: ClaudeName) -> str:
    """Return Anthropic's model id for a parsed name: its date if it has one, else Anthropic's undated alias."""
    separator = "." if name.version[0] < _DOTTED_ID_BELOW_MAJOR else "-"
    text = _base(name, separator)
    if name.date:
        text += f"-{name.date}"
    elif name.family is not None and name.version[0] in _VERSION_FIRST_MAJORS:
        text += "-latest"  # claude-3-5-haiku-latest: Claude 3 had no undated id without it
    elif name.family is not None and len(name.version) == 1 and name.version[0] in _ZERO_MINOR_ALIAS_MAJORS:
        text += "-0"
    return text + name.variant


def openrouter_slug(name: ClaudeName, *, with_date: bool = False) -> str:
    """Return OpenRouter's slug for a parsed name; the date only when asked (OpenRouter's public ids have none)."""
    text = f"{ANTHROPIC_VENDOR}/" + _base(name, ".")
    if with_date and name.date:
        text += f"-{name.date}"
    return text + name.variant


def _parse_or_raise(name: str) -> ClaudeName:
    parsed = parse_claude_name(name)
    if parsed is None:
        raise NotAClaudeName(f"{name} is not a Claude model name (claude-... or anthropic/claude-...).")
    return parsed


def to_openrouter(name: str) -> str:
    """Return OpenRouter's slug for a Claude model id: claude-sonnet-4-5-20250929 -> anthropic/claude-sonnet-4.5.

    Also takes a slug in any spelling (anthropic/claude-opus-4-7) and returns its dotted form. Drops the
    date; `openrouter_slug_for()` keeps it when OpenRouter lists the dated snapshot.
    """
    return openrouter_slug(_parse_or_raise(name))


def to_anthropic(name: str) -> str:
    """Return Anthropic's model id for an OpenRouter slug: anthropic/claude-3.7-sonnet -> claude-3-7-sonnet-latest.

    Keeps a date the slug has; otherwise returns Anthropic's undated alias, which may not be listed (Claude 3
    models are only listed dated). `anthropic_id_for()` picks the listed id when Anthropic's list is at hand.
    """
    return anthropic_id(_parse_or_raise(name))


def _same_model(a: ClaudeName, b: ClaudeName) -> bool:
    return a.family == b.family and a.version == b.version


def anthropic_id_for(name: str, listed_ids: Iterable[str] | None = None) -> Conversion:
    """Return the Anthropic id for a slug or id, picking from Anthropic's list when it is at hand.

    An undated slug takes the listed id of the same model with the newest date (an undated listed id wins),
    so anthropic/claude-3.7-sonnet -> claude-3-7-sonnet-20250219, whatever the list's order. A variant keeps
    that id and its suffix (claude-3-7-sonnet-20250219:thinking), flagged as not listed, since Anthropic lists
    no variants. A name the list does not have comes back as `to_anthropic()` writes it, with a warning.
    """
    parsed = _parse_or_raise(name)
    wanted = anthropic_id(parsed)
    if listed_ids is None:
        return Conversion(wanted)
    listed = [(model_id, parse_claude_name(model_id)) for model_id in listed_ids]
    if wanted in (model_id for model_id, _ in listed):
        return Conversion(wanted, listed=True)
    base = replace(parsed, variant="")
    candidates = [
        (found.date or "99999999", model_id)  # an undated listed id is the alias: it wins
        for model_id, found in listed
        if found is not None and _same_model(found, base) and not found.variant
        if base.date is None or found.date == base.date
    ]
    if not candidates:
        return Conversion(wanted, (f"{wanted} is not in Anthropic's model list; sent as given.",), listed=False)
    chosen = max(candidates)[1] + parsed.variant
    if parsed.variant:
        warning = f"Anthropic lists no {parsed.variant} variant of {max(candidates)[1]}; sent as {chosen}."
        return Conversion(chosen, (warning,), listed=False)
    return Conversion(chosen, listed=True)


def openrouter_slug_for(name: str, listed_slugs: Collection[str] | None = None) -> Conversion:
    """Return the OpenRouter slug for an Anthropic id or a slug a user wrote, checked against OpenRouter's list.

    A dated id takes OpenRouter's dated snapshot when listed (claude-3-5-sonnet-20240620 ->
    anthropic/claude-3.5-sonnet-20240620, not the later model anthropic/claude-3.5-sonnet names), else the
    undated slug. A slug spelled otherwise than OpenRouter lists it comes back in the listed form with a warning;
    a name the list does not have comes back in OpenRouter's spelling, with a warning.
    """
    if listed_slugs is not None and name in listed_slugs:
        return Conversion(name, listed=True)
    written_as_slug = "/" in name
    normalised = normalise_slug(name)
    vendor = name.strip().lower().partition("/")[0] if written_as_slug else ANTHROPIC_VENDOR
    parsed = parse_claude_name(name) if vendor == ANTHROPIC_VENDOR else None
    if parsed is not None:
        # Written as a slug, the user's own spelling of OpenRouter's name is kept; an id is converted.
        default = normalised.text if written_as_slug else openrouter_slug(parsed)
        candidates = [openrouter_slug(parsed, with_date=True), openrouter_slug(parsed)]
    else:
        default = normalised.text
        candidates = [normalised.text]
    listed: bool | None = None
    chosen = default
    if listed_slugs is not None:
        chosen = next((slug for slug in candidates if slug in listed_slugs), default)
        listed = chosen in listed_slugs
    warnings: list[str] = []
    if chosen != name and (written_as_slug or parsed is None):
        same = normalised.changed and chosen == normalised.text
        warnings.append(normalised.reason if same else f"OpenRouter names {name} as {chosen}; sent as {chosen}.")
    if listed is False:
        warnings.append(f"{chosen} is not in OpenRouter's model list; sent as given.")
    return Conversion(chosen, tuple(warnings), listed=listed)


# A bare name of another vendor's model, and the OpenRouter vendor to write before it.
VENDOR_OF_BARE_NAME: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(gpt-|chatgpt-|codex-|o\d(\b|-|$))"), "openai"),
    (re.compile(r"(gemini-|gemma-)"), "google"),
    (re.compile(r"llama-"), "meta-llama"),
    (re.compile(r"(mistral-|mixtral-|codestral-|devstral-|magistral-)"), "mistralai"),
    (re.compile(r"deepseek-"), "deepseek"),
    (re.compile(r"grok-"), "x-ai"),
    (re.compile(r"qwen"), "qwen"),
)


def vendor_of_bare_name(name: str) -> str | None:
    """Return the OpenRouter vendor a bare model name belongs to (gpt-5 -> openai), or None."""
    lowered = name.strip().lower()
    if parse_claude_name(lowered) is not None:
        return ANTHROPIC_VENDOR
    for pattern, vendor in VENDOR_OF_BARE_NAME:
        if pattern.match(lowered):
            return vendor
    return None


def normalise_slug(text: str) -> Normalised:
    """Return a slug in the form OpenRouter lists it, and whether (and why) that differs from what was written.

    OpenRouter's slugs are lower case and case-insensitive: anthropic/Claude-Opus-4.8 -> anthropic/claude-opus-4.8.
    A Claude name already in OpenRouter's spelling keeps its date (anthropic/claude-3.5-sonnet-20240620); one in
    another spelling is converted as `to_openrouter()` converts an id (anthropic/claude-opus-4-7 ->
    anthropic/claude-opus-4.7). A bare name of a known vendor takes the vendor (GPT-5 -> openai/gpt-5).
    Anything else comes back as written, lower-cased.
    """
    written = text.strip()
    lowered = written.lower()
    vendor, slash, _ = lowered.partition("/")
    if not slash:
        found = vendor_of_bare_name(lowered)
        if found == ANTHROPIC_VENDOR:
            slug = to_openrouter(lowered)
            return Normalised(slug, True, f"{written} is an Anthropic model id: OpenRouter names it {slug}.")
        if found is not None:
            slug = f"{found}/{lowered}"
            return Normalised(slug, True, f"{written} has no vendor: OpenRouter names it {slug}.")
        if lowered == written:
            return Normalised(written, False)
        return Normalised(lowered, True, f"OpenRouter slugs are lower case: {written} is sent as {lowered}.")
    slug = lowered
    parsed = parse_claude_name(lowered) if vendor == ANTHROPIC_VENDOR else None
    if parsed is not None:
        own_spelling = openrouter_slug(parsed, with_date=True)
        slug = own_spelling if lowered == own_spelling else openrouter_slug(parsed)
    if slug == written:
        return Normalised(written, False)
    if slug == lowered:
        return Normalised(slug, True, f"OpenRouter slugs are lower case: {written} is sent as {slug}.")
    return Normalised(slug, True, f"OpenRouter names {written} as {slug}; sent as {slug}.")


def newest_plain_slug(family: str, listed: Iterable[tuple[str, int]]) -> str | None:
    """Return the newest plain anthropic/claude-<family> slug in OpenRouter's list of (slug, created), or None.

    Plain means the model itself: not a -fast, :beta, :thinking or other variant, not a dated snapshot, not a
    ~anthropic/...-latest router alias. Old-order names count too (anthropic/claude-3.5-haiku is a haiku).
    Newest is the latest `created`, then the higher version.

    None means the list names no such model: the caller must then not send a built-in slug this list does
    not contain, since OpenRouter would refuse it; it says so instead.
    """
    best: tuple[int, tuple[int, ...], str] | None = None
    for slug, created in listed:
        if not slug.startswith(f"{ANTHROPIC_VENDOR}/"):
            continue
        parsed = parse_claude_name(slug)
        if parsed is None or parsed.family != family or not parsed.plain or openrouter_slug(parsed) != slug:
            continue
        key = (created, parsed.version, slug)
        if best is None or key > best:
            best = key
    return best[2] if best else None


def newest_anthropic_id(family: str, ids: Iterable[str]) -> str | None:
    """Return the first id of a family in Anthropic's list, which puts newer models first; None if there is none.

    The family is read from the id, not found as a substring: claude-3-5-haiku-20241022 is a haiku, and a
    name such as claude-sonnet-opus-x is no opus.
    """
    for model_id in ids:
        parsed = parse_claude_name(model_id)
        if parsed is not None and parsed.family == family and not parsed.variant and "/" not in model_id:
            return model_id
    return None

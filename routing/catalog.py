"""The model catalog: which concrete model an alias or slug means, at call time.

Sources, in order: an explicit override (`ANTHROPIC_DEFAULT_OPUS_MODEL` and friends); the
provider's model list, fetched with httpx and cached (`SINATRA_MODEL_CATALOG_SECONDS`) in
Django's cache and in process memory; a built-in table shipped with the code, used when the
list cannot be fetched, and said so in the resolution's warnings.

A list is fetched by one thread at a time, within a total deadline
(SINATRA_MODEL_FETCH_DEADLINE_SECONDS), without holding a lock that other resolutions wait
on: they serve the list the process already has, however old, or the built-in table. A failed
fetch is remembered for a short while too, so a provider outage does not make every
resolution wait on retries.

Django's cache (Redis, shared between processes) is an optimisation, never a dependency: when
it is down, slow or holds something unreadable, resolution goes on from process memory, the
provider, then the built-in table, and the resolution's warnings say so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from prometheus_client import Counter

from credentials.memo import BoundedMemo
from providers import Provider
from providers import anthropic as anthropic_client
from providers import openrouter as openrouter_client
from providers.builtin import load_builtin_models
from providers.claude_names import (
    FAMILIES,
    NotAClaudeName,
    anthropic_id_for,
    newest_anthropic_id,
    newest_plain_slug,
    openrouter_slug_for,
    to_anthropic,
)
from providers.errors import KeyRejected, ProviderError
from providers.secret import Secret

from .errors import ConfigError

logger = logging.getLogger(__name__)

MODEL_LIST_FETCHES = Counter(
    "sinatra_model_list_fetches",
    "Model lists fetched from a provider, by provider and outcome (ok, unavailable, rejected).",
    ["provider", "outcome"],
)

ALIASES = FAMILIES  # opus, sonnet, haiku, fable

# Shipped with the code, dated, in providers/builtin_models.json; used only when the provider's
# list cannot be fetched.
BUILTIN_ANTHROPIC = load_builtin_models().anthropic
BUILTIN_OPENROUTER = load_builtin_models().openrouter
# The names Claude Code gives its own overrides: ANTHROPIC_DEFAULT_OPUS_MODEL and so on.
OVERRIDE_SETTINGS = {alias: f"ANTHROPIC_DEFAULT_{alias.upper()}_MODEL" for alias in ALIASES}
FAILURE_SECONDS = 60
# After the shared cache fails, it is left alone this long: a Redis that is down costs one
# timeout per process every half minute, not one per resolution.
SHARED_CACHE_RETRY_SECONDS = 30
# v2: JSON lists (v1 held pickles); a process of the previous release never reads these keys.
CACHE_PREFIX = "sinatra:model-list:v2:"


@dataclass(frozen=True)
class ModelChoice:
    """A concrete model id, and what a person should know about how it was chosen."""

    model: str
    warnings: tuple[str, ...] = ()
    from_list: bool = field(default=False, compare=False)  # the provider's list named it newest of its family


class _SharedCache:
    """Django's cache as the catalog uses it: any error is reported, never raised."""

    def __init__(self) -> None:
        self._down_until = 0.0
        self._problem = ""

    def _failed(self, exc: Exception) -> str:
        problem = type(exc).__name__
        if self._down_until <= time.monotonic():  # once per outage window, not per resolution
            logger.warning(
                "The shared cache did not answer (%s); model lists come from process memory and the providers "
                "for %d s.",
                problem,
                SHARED_CACHE_RETRY_SECONDS,
            )
        self._problem = problem
        self._down_until = time.monotonic() + SHARED_CACHE_RETRY_SECONDS
        return problem

    def get(self, key: str) -> tuple[Any, str | None]:
        """Return (value or None, None), or (None, why the cache could not be read)."""
        if self._down_until > time.monotonic():
            return None, self._problem
        try:
            return cache.get(key), None
        except ValueError:  # not JSON (a planted pickle included): as if absent
            return None, None
        except Exception as exc:  # whatever the backend raises, resolution goes on
            return None, self._failed(exc)

    def set(self, key: str, value: object, timeout: int) -> None:
        if self._down_until > time.monotonic():
            return
        try:
            cache.set(key, value, timeout)
        except Exception as exc:
            self._failed(exc)

    def delete(self, key: str) -> None:
        try:
            cache.delete(key)
        except Exception as exc:  # it expires by itself: nothing to stop for
            logger.info("The shared cache did not answer (%s) to a delete.", type(exc).__name__)

    def reset(self) -> None:
        self._down_until = 0.0


_shared = _SharedCache()


def shared_cache_status() -> tuple[bool, str]:
    """Return whether Django's cache answers now, and a line saying so (for /readyz; never a secret).

    The catalog works without it: this reports, it does not decide readiness.
    """
    try:
        cache.get(CACHE_PREFIX + "status-probe")
    except Exception as exc:
        return False, f"the shared cache does not answer ({type(exc).__name__})"
    return True, "the shared cache answers"


def _shared_cache_note(problem: str) -> str:
    return (
        f"Sinatra's shared cache did not answer ({problem}); model lists come from this process "
        "or the provider meanwhile."
    )


Models = TypeVar("Models")


@dataclass(frozen=True)
class _Lookup(Generic[Models]):
    """What a model list lookup found: the list or why there is none, and warnings to pass on."""

    models: Models | None
    problem: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _State(Generic[Models]):
    """What a process knows of a list; replaced whole, so readers need no lock."""

    models: Models | None = None  # the last list fetched or read, however old
    checked_until: float = 0.0  # until then (monotonic) nothing else is asked: a fresh list, or a recent failure
    failure: str = "not fetched yet"  # why there is no list, when there is none


class _ModelList(Generic[Models]):
    """A provider's model list behind two caches: process memory, then Django's cache.

    Django's cache holds the list as the provider gave it, as plain JSON data (a list);
    `parse` checks its shape and builds what resolving uses, raising ValueError for anything
    else, so a value that is unreadable or of the wrong shape is ignored and refetched.

    One thread at a time fetches a list (single flight), and no lock is held while it does:
    meanwhile the others serve the list the process already has, however old, or go on
    without one (the built-in table). A failed fetch is not retried for FAILURE_SECONDS.
    """

    def __init__(self, name: str, parse: Callable[[object], Models]) -> None:
        self.name = name
        self.parse = parse
        self._state: _State[Models] = _State()
        self._fetching = False
        self._lock = threading.Lock()  # guards _state and _fetching changes; never held during I/O

    def clear(self) -> None:
        with self._lock:
            self._state = _State()
        _shared.delete(CACHE_PREFIX + self.name)

    def _from_shared(self) -> tuple[Models | None, str | None]:
        """Return (the list another process stored, if readable; why the shared cache failed, if it did)."""
        value, problem = _shared.get(CACHE_PREFIX + self.name)
        try:
            return self.parse(value), problem
        except ValueError:  # absent, or of the wrong shape
            return None, problem

    def get(self, fetch: Callable[[], list] | None) -> _Lookup[Models]:
        """Return the list, or why it is unavailable; `fetch` None means cached only."""
        seconds = settings.SINATRA_MODEL_CATALOG_SECONDS
        if not seconds:  # no caching at all: every lookup fetches
            return self._fetch_uncached(fetch)
        state = self._state
        if state.checked_until > time.monotonic():
            return _Lookup(state.models, None if state.models is not None else state.failure)
        shared, shared_problem = self._from_shared()
        notes = (_shared_cache_note(shared_problem),) if shared_problem is not None else ()
        if shared is not None:
            with self._lock:
                self._state = _State(shared, time.monotonic() + min(seconds, FAILURE_SECONDS))
            return _Lookup(shared)
        if fetch is None or not self._start_fetching():
            if state.models is not None:  # stale, but newer than the built-in table
                return _Lookup(state.models, None, notes)
            return _Lookup(None, "no key to fetch it with" if fetch is None else "it is being fetched", notes)
        try:
            return self._fetch(fetch, seconds, notes)
        finally:
            with self._lock:
                self._fetching = False

    def fresh(self) -> Models | None:
        """The list this process holds, while it is fresh (what get() returns then, without a fetch)."""
        state = self._state
        return state.models if state.checked_until > time.monotonic() else None

    def _start_fetching(self) -> bool:
        """Return whether this thread is the one to fetch (no other thread is fetching)."""
        with self._lock:
            if self._fetching:
                return False
            self._fetching = True
            return True

    def _fetch(self, fetch: Callable[[], list], seconds: int, notes: tuple[str, ...]) -> _Lookup[Models]:
        try:
            raw = fetch()
            models = self.parse(raw)
        except ProviderError as exc:
            MODEL_LIST_FETCHES.labels(self.name, _outcome(exc)).inc()
            stale = self._state.models
            # An outage is remembered for everyone; one tenant's rejected key is not.
            if not isinstance(exc, KeyRejected):
                with self._lock:
                    self._state = _State(stale, time.monotonic() + min(seconds, FAILURE_SECONDS), str(exc))
            if stale is not None:
                return _Lookup(stale, None, notes)
            return _Lookup(None, str(exc), notes)
        MODEL_LIST_FETCHES.labels(self.name, "ok").inc()
        _shared.set(CACHE_PREFIX + self.name, raw, seconds)
        with self._lock:
            self._state = _State(models, time.monotonic() + seconds)
        return _Lookup(models, None, notes)

    def _fetch_uncached(self, fetch: Callable[[], list] | None) -> _Lookup[Models]:
        if fetch is None:
            return _Lookup(None, "no key to fetch it with")
        try:
            models = self.parse(fetch())
        except ProviderError as exc:
            MODEL_LIST_FETCHES.labels(self.name, _outcome(exc)).inc()
            return _Lookup(None, str(exc))
        MODEL_LIST_FETCHES.labels(self.name, "ok").inc()
        return _Lookup(models)


def _outcome(exc: ProviderError) -> str:
    return "rejected" if isinstance(exc, KeyRejected) else "unavailable"


def parse_anthropic_ids(value: object) -> list[str]:
    """Return Anthropic's model ids as stored (a JSON list of strings); ValueError otherwise."""
    if not isinstance(value, list) or not all(isinstance(model_id, str) for model_id in value):
        raise ValueError("not a list of model ids")
    return value


@dataclass(frozen=True)
class OpenRouterModels:
    """OpenRouter's list as resolving needs it, worked out once per fetch (not per request)."""

    slugs: frozenset[str]
    newest: dict[str, str]  # alias -> newest plain anthropic/claude-<alias>-* slug


def parse_openrouter_models(value: object) -> OpenRouterModels:
    """Build OpenRouterModels from (slug, created) pairs as stored (JSON lists); ValueError otherwise."""
    if not isinstance(value, list):
        raise ValueError("not a list of models")
    models: list[tuple[str, int]] = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            raise ValueError("not a (slug, created) pair")
        slug, created = item
        if not isinstance(slug, str) or type(created) is not int:
            raise ValueError("not a (slug, created) pair")
        models.append((slug, created))
    newest = {alias: slug for alias in ALIASES if (slug := newest_plain_slug(alias, models)) is not None}
    return OpenRouterModels(frozenset(slug for slug, _ in models), newest)


anthropic_models: _ModelList[list[str]] = _ModelList(Provider.ANTHROPIC, parse_anthropic_ids)
openrouter_models: _ModelList[OpenRouterModels] = _ModelList(Provider.OPENROUTER, parse_openrouter_models)


def clear_caches() -> None:
    """Forget every cached model list (tests, and operators through the shell)."""
    anthropic_models.clear()
    openrouter_models.clear()
    _shared.reset()


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs) -> None:
    if setting in (
        "CACHES",
        "SINATRA_MODEL_CATALOG_SECONDS",
        "SINATRA_ANTHROPIC_BASE_URL",
        "SINATRA_OPENROUTER_BASE_URL",
    ):
        clear_caches()


def _fetch_openrouter_models() -> list:
    """Return OpenRouter's list as JSON-ready data: [slug, created] pairs."""
    return [[slug, int(created)] for slug, created in openrouter_client.list_models()]


def _anthropic_list(secret: Secret | None) -> _Lookup[list[str]]:
    """Anthropic's list: cached, or fetched with this tenant's key (the list needs one)."""
    return anthropic_models.get((lambda: anthropic_client.list_models(secret)) if secret is not None else None)


# The newest model of each alias, per list object: a list is read once per alias, not per resolve.
# Each entry keeps its list, so an id() is never mistaken for a later list's; the few lists
# replaced by fresher ones are emptied out with the rest when it is full.
_newest_memo: BoundedMemo[tuple[int, str], tuple[list[str], ModelChoice | None]] = BoundedMemo(64)


def _newest_in_list(alias: str, models: list[str]) -> ModelChoice | None:
    """The newest model of `alias`'s family in Anthropic's list, as chosen from that list (None: none)."""
    memo = _newest_memo.get((id(models), alias))
    if memo is not None and memo[0] is models:
        return memo[1]
    newest = newest_anthropic_id(alias, models)
    choice = ModelChoice(newest, from_list=True) if newest is not None else None
    _newest_memo.put((id(models), alias), (models, choice))
    return choice


def newest_anthropic(alias: str, *, secret: Secret | None) -> ModelChoice:
    """Return the newest Anthropic model id of an alias's family."""
    override = getattr(settings, OVERRIDE_SETTINGS[alias], "")
    if override:  # given as an Anthropic id, or as an OpenRouter anthropic/ slug
        return ModelChoice(to_anthropic(override) if "/" in override else override)
    fresh = anthropic_models.fresh()
    if fresh is not None:  # the common case, the list this process holds still fresh: no lookup made
        choice = _newest_in_list(alias, fresh)
        if choice is not None:
            return choice
    found = _anthropic_list(secret)
    if found.models is not None:
        # Anthropic lists more recent models first; its created_at may be a placeholder.
        choice = _newest_in_list(alias, found.models)
        if choice is not None:
            return replace(choice, warnings=found.notes) if found.notes else choice
        why = f"Anthropic's model list names no {alias} model"
    else:
        why = f"Anthropic's model list is unavailable ({found.problem})"
    builtin = BUILTIN_ANTHROPIC[alias]
    return ModelChoice(builtin, (*found.notes, f"{why}; {alias} uses the built-in {builtin}."))


def newest_openrouter(alias: str) -> ModelChoice:
    """Return OpenRouter's newest plain slug of an alias's family.

    When OpenRouter's list is at hand but names no such model, no slug is made up: a built-in
    slug that list lacks would be refused by OpenRouter too, so the request is refused here.
    """
    override = getattr(settings, OVERRIDE_SETTINGS[alias], "")
    if override:
        return openrouter_slug(override) if "/" in override else openrouter_slug_for_claude_id(override)
    found = openrouter_models.get(_fetch_openrouter_models)
    if found.models is None:
        builtin = BUILTIN_OPENROUTER[alias]
        why = f"OpenRouter's model list is unavailable ({found.problem})"
        return ModelChoice(builtin, (*found.notes, f"{why}; {alias} uses the built-in {builtin}."))
    if alias not in found.models.newest:
        raise ConfigError(
            f"OpenRouter's model list names no Claude {alias.title()} model, so {alias} cannot go through "
            "OpenRouter: write a slug it lists (anthropic/claude-...), or use an Anthropic key."
        )
    return ModelChoice(found.models.newest[alias], found.notes, from_list=True)


def openrouter_slug(slug: str) -> ModelChoice:
    """Return the slug to send to OpenRouter for one a user wrote: in OpenRouter's case and spelling, checked."""
    found = openrouter_models.get(_fetch_openrouter_models)
    if found.models is None:
        # Nothing to check against: a slug goes as written (in OpenRouter's case), an id as its slug.
        sent = slug.lower() if "/" in slug else openrouter_slug_for(slug).name
        unavailable = f"OpenRouter's model list is unavailable ({found.problem}); {sent} is sent as given."
        return ModelChoice(sent, (*found.notes, unavailable))
    conversion = openrouter_slug_for(slug, found.models.slugs)
    if conversion.listed is False and "/" in slug:
        # Unknown in any spelling: sent as written, in OpenRouter's case (its slugs are case-insensitive).
        sent = slug.lower()
        case = [f"OpenRouter slugs are lower case: {slug} is sent as {sent}."] if sent != slug else []
        return ModelChoice(sent, (*found.notes, *case, f"{sent} is not in OpenRouter's model list; sent as given."))
    return ModelChoice(conversion.name, (*found.notes, *conversion.warnings))


def openrouter_slug_for_claude_id(model_id: str) -> ModelChoice:
    """Return OpenRouter's slug for a concrete Anthropic model id, checked against OpenRouter's list."""
    return openrouter_slug(model_id)


def anthropic_id(name: str, *, secret: Secret | None) -> ModelChoice:
    """Return the Anthropic id to send for a Claude id or an anthropic/ slug, checked against Anthropic's list.

    The list is asked for every time (it is cached): whether a name is warned about never depends
    on what this process happened to fetch before.
    """
    found = _anthropic_list(secret)
    try:
        conversion = anthropic_id_for(name, found.models)
    except NotAClaudeName:  # a claude- name of no known shape: sent as written, checked if the list is here
        unlisted = found.models is not None and name not in found.models
        warning = f"{name} is not in Anthropic's model list; sent as given."
        return ModelChoice(name, (*found.notes, *([warning] if unlisted else [])))
    notes = list(found.notes)
    if conversion.name != name and "/" not in name:  # an id written otherwise (a slug is converted by design)
        notes.append(f"Anthropic names {name} as {conversion.name}; sent as {conversion.name}.")
    if conversion.name != name and found.models is None and found.problem:
        notes.append(f"Anthropic's model list is unavailable ({found.problem}), so {conversion.name} was not checked.")
    return ModelChoice(conversion.name, (*notes, *conversion.warnings))

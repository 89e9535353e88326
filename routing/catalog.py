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
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

from providers import Provider
from providers import anthropic as anthropic_client
from providers import openrouter as openrouter_client
from providers.errors import KeyRejected, ProviderError
from providers.secret import Secret
from providers.slugs import dashed, dotted

logger = logging.getLogger(__name__)

ALIASES = ("opus", "sonnet", "haiku")

# Shipped with the code (newest generally available models as of 2026-11); used only when the
# provider's list cannot be fetched.
BUILTIN_ANTHROPIC = {
    "opus": "claude-opus-4-8",
    "sonnet": "claude-sonnet-4-6",
    "haiku": "claude-haiku-4-5-20251001",
}
BUILTIN_OPENROUTER = {
    "opus": "anthropic/claude-opus-4.8",
    "sonnet": "anthropic/claude-sonnet-4.6",
    "haiku": "anthropic/claude-haiku-4.5",
}
OVERRIDE_SETTINGS = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}
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
            stale = self._state.models
            # An outage is remembered for everyone; one tenant's rejected key is not.
            if not isinstance(exc, KeyRejected):
                with self._lock:
                    self._state = _State(stale, time.monotonic() + min(seconds, FAILURE_SECONDS), str(exc))
            if stale is not None:
                return _Lookup(stale, None, notes)
            return _Lookup(None, str(exc), notes)
        _shared.set(CACHE_PREFIX + self.name, raw, seconds)
        with self._lock:
            self._state = _State(models, time.monotonic() + seconds)
        return _Lookup(models, None, notes)

    def _fetch_uncached(self, fetch: Callable[[], list] | None) -> _Lookup[Models]:
        if fetch is None:
            return _Lookup(None, "no key to fetch it with")
        try:
            return _Lookup(self.parse(fetch()))
        except ProviderError as exc:
            return _Lookup(None, str(exc))


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


def _plain_family_slug(alias: str) -> re.Pattern[str]:
    # anthropic/claude-opus-4.8, not -fast, :beta or ~...-latest variants
    return re.compile(rf"anthropic/claude-{alias}-\d+(?:\.\d+)*")


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
    newest = {}
    for alias in ALIASES:
        pattern = _plain_family_slug(alias)
        candidates = [(created, slug) for slug, created in models if pattern.fullmatch(slug)]
        if candidates:
            newest[alias] = max(candidates)[1]
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


def newest_anthropic(alias: str, *, secret: Secret | None) -> ModelChoice:
    """Return the newest Anthropic model id of an alias's family."""
    override = getattr(settings, OVERRIDE_SETTINGS[alias], "")
    if override:  # given as an Anthropic id, or as an OpenRouter anthropic/ slug
        return ModelChoice(dashed(override.removeprefix("anthropic/")) if "/" in override else override)
    fetch = (lambda: anthropic_client.list_models(secret)) if secret is not None else None
    found = anthropic_models.get(fetch)
    if found.models is not None:
        # Anthropic lists more recent models first; its created_at may be a placeholder.
        for model_id in found.models:
            if model_id.startswith("claude-") and alias in model_id:
                return ModelChoice(model_id, found.notes)
        why = f"Anthropic's model list names no {alias} model"
    else:
        why = f"Anthropic's model list is unavailable ({found.problem})"
    builtin = BUILTIN_ANTHROPIC[alias]
    return ModelChoice(builtin, (*found.notes, f"{why}; {alias} uses the built-in {builtin}."))


def newest_openrouter(alias: str) -> ModelChoice:
    """Return OpenRouter's newest plain slug of an alias's family."""
    override = getattr(settings, OVERRIDE_SETTINGS[alias], "")
    if override:
        return openrouter_slug(override) if "/" in override else openrouter_slug_for_claude_id(override)
    found = openrouter_models.get(_fetch_openrouter_models)
    if found.models is not None:
        if alias in found.models.newest:
            return ModelChoice(found.models.newest[alias], found.notes)
        why = f"OpenRouter's model list names no plain anthropic/claude-{alias}-* model"
    else:
        why = f"OpenRouter's model list is unavailable ({found.problem})"
    builtin = BUILTIN_OPENROUTER[alias]
    return ModelChoice(builtin, (*found.notes, f"{why}; {alias} uses the built-in {builtin}."))


def openrouter_slug(slug: str, *, warn_when_normalised: bool = True) -> ModelChoice:
    """Return the slug to send to OpenRouter for one a user wrote, normalising dashed Claude names."""
    found = openrouter_models.get(_fetch_openrouter_models)
    models, notes = found.models, found.notes
    if models is None:
        return ModelChoice(
            slug, (*notes, f"OpenRouter's model list is unavailable ({found.problem}); {slug} is sent as given.")
        )
    if slug in models.slugs:
        return ModelChoice(slug, notes)
    normalised = dotted(slug)
    if normalised != slug and normalised in models.slugs:
        warning = f"OpenRouter names {slug} as {normalised}; sent as {normalised}."
        return ModelChoice(normalised, (*notes, warning) if warn_when_normalised else notes)
    return ModelChoice(slug, (*notes, f"{slug} is not in OpenRouter's model list; sent as given."))


def openrouter_slug_for_claude_id(model_id: str) -> ModelChoice:
    """Return OpenRouter's slug for a concrete Anthropic model id (its dotted form is no surprise)."""
    return openrouter_slug(f"anthropic/{model_id}", warn_when_normalised=False)


def check_anthropic_id(model_id: str) -> ModelChoice:
    """Return a concrete Anthropic id as given, warning if a cached list does not know it."""
    found = anthropic_models.get(None)
    if found.models is not None and model_id not in found.models:
        return ModelChoice(model_id, (*found.notes, f"{model_id} is not in Anthropic's model list; sent as given."))
    return ModelChoice(model_id, found.notes)

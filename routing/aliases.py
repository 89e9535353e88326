"""What each alias has meant over time at each provider, recorded once per change.

`resolve()` tells this module the newest id a provider's own list gave an alias; the first time
a process sees an id it checks the last recorded one (one query per alias and provider per
process), and records a change when they differ. Two processes that see the same change at
once record it once: (provider, alias, new id) is unique.
"""

from __future__ import annotations

import threading

from django.utils import timezone

from .models import AliasChange

_seen: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def alias_observed(*, provider: str, alias: str, model: str) -> None:
    """Note that a provider's list says `alias` means `model` now; record it if that is news."""
    key = (provider, alias)
    if _seen.get(key) == model:
        return
    with _lock:
        if _seen.get(key) == model:
            return
        latest = AliasChange.objects.filter(provider=provider, alias=alias).order_by("-first_seen", "-id").first()
        if latest is None or latest.new != model:
            change = AliasChange(
                provider=provider, alias=alias, old=latest.new if latest else "", new=model, first_seen=timezone.now()
            )
            AliasChange.objects.bulk_create([change], ignore_conflicts=True)
        _seen[key] = model


def forget() -> None:
    """Forget what this process has seen (tests; the records stay)."""
    with _lock:
        _seen.clear()


def current_meanings() -> list[AliasChange]:
    """Return, for every provider and alias ever seen, its latest recorded change (a table of a few rows)."""
    latest: dict[tuple[str, str], AliasChange] = {}
    for change in AliasChange.objects.order_by("provider", "alias", "-first_seen", "-id"):
        latest.setdefault((change.provider, change.alias), change)
    return list(latest.values())


def meaning_of(*, provider: str, alias: str) -> AliasChange | None:
    """Return the latest recorded change of one alias at one provider, if any."""
    return AliasChange.objects.filter(provider=provider, alias=alias).order_by("-first_seen", "-id").first()

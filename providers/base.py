"""What every provider entry says about itself: the `Provider` names and the `ProviderSpec` record.

Nothing here knows a particular provider; `providers/anthropic.py` and `providers/openrouter.py`
each describe themselves with one `ProviderSpec`, and `providers/__init__.py` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models

from .secret import Secret


class Provider(models.TextChoices):
    """The providers Sinatra routes to; the value is what rows, URLs and the API say."""

    ANTHROPIC = "anthropic", "Anthropic"
    OPENROUTER = "openrouter", "OpenRouter"


@dataclass(frozen=True)
class LookAlike:
    """A kind of token people paste by mistake, recognised by its prefix, and what to say about it."""

    prefix: str
    message: str


@dataclass(frozen=True)
class KeyShape:
    """How a provider's API key looks, and the words for a pasted key that does not."""

    called: str  # what people call it in a sentence: "an Anthropic API key"
    prefix: str  # what the hint keeps and the form's help text names, e.g. "sk-ant-api03-"
    family_prefix: str  # any token starting with this is taken for this provider's key ("sk-or-")
    pattern: re.Pattern[str]  # the whole key
    malformed: str  # the family prefix, but not the shape
    not_this_kind: str  # something else altogether
    help_text: str  # under the form field


# A key that expires sooner than this is flagged in the console and by verify_credentials --live.
EXPIRY_WARNING = timedelta(days=14)


@dataclass(frozen=True)
class KeyFacts:
    """What a provider said about a key when it was checked; never the key itself."""

    organization_id: str = ""  # Anthropic: the anthropic-organization-id response header
    label: str = ""  # OpenRouter: the key's label
    limit_remaining: Decimal | None = None  # OpenRouter: credit left, in US dollars (None: no limit)
    expires_at: datetime | None = None  # OpenRouter: when the key stops working (None: never)
    is_free_tier: bool | None = None  # OpenRouter: the account has never bought credit

    def expires_soon(self, now: datetime) -> bool:
        """Whether the key stops working within EXPIRY_WARNING of `now` (or already has)."""
        return self.expires_at is not None and self.expires_at - now <= EXPIRY_WARNING


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, as the rest of Sinatra sees it."""

    name: Provider
    key: KeyShape
    look_alikes: tuple[LookAlike, ...]
    base_url_setting: str  # e.g. SINATRA_ANTHROPIC_BASE_URL
    environment_key_setting: str  # e.g. ANTHROPIC_API_KEY, read in single-tenant evaluation only
    verify_key: Callable[[Secret], KeyFacts]  # raises KeyRejected or ProviderUnavailable

    @property
    def label(self) -> str:
        """The provider's name for people: "Anthropic"."""
        return str(self.name.label)

    @property
    def key_label(self) -> str:
        """What its key is called on forms and in messages: "Anthropic API key"."""
        return f"{self.label} API key"

    @property
    def environment_key(self) -> str:
        """The key the environment gives (settings blank it outside single-tenant mode)."""
        return str(getattr(settings, self.environment_key_setting, ""))

    @property
    def base_url(self) -> str:
        """Where its API is, from settings (tests and air-gapped installs point it elsewhere)."""
        return str(getattr(settings, self.base_url_setting))

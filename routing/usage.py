"""Record when a credential or a service token was last used, at most once a minute.

Busy workers resolve thousands of times a minute: writing on every request would turn a
read path into a write path. The UPDATE is conditional, so concurrent processes that all
see a stale time write it once between them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Model, Q
from django.utils import timezone

RESOLUTION = timedelta(minutes=1)


def record_use(model: type[Model], pk, last_used_at: datetime | None) -> None:
    """Set `last_used_at` of row `pk` to now, unless the time read with the row is under a minute old."""
    now = timezone.now()
    threshold = now - RESOLUTION
    if last_used_at is not None and last_used_at > threshold:
        return
    model._default_manager.filter(pk=pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold)).update(
        last_used_at=now
    )

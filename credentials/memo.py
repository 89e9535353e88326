"""A bounded memo: values worked out from their keys alone, kept so as not to work them out again."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """A dict of values that depend on nothing but their keys, emptied whole when it is full.

    Such a value can never be stale, so nothing expires; the bound only keeps memory in check
    (emptying it costs one recomputation per key still in use). `get` is the dict's own.
    """

    __slots__ = ("_values", "entries", "get")

    def __init__(self, entries: int) -> None:
        self._values: dict[K, V] = {}
        self.entries = entries
        self.get = self._values.get

    def put(self, key: K, value: V) -> V:
        """Remember `value` for `key` (after emptying the memo if it is full); return it."""
        if len(self._values) >= self.entries:
            self._values.clear()
        self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)

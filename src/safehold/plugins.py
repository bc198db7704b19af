"""Registry of plug-ins, keyed by their permanent ``name``.

Plug-in points are small base classes (``signals.base.SignalType`` today; exchanges, indicators
and actions later). A plug-in registers itself with :func:`register` at import time; the name
is permanent because it is stored in databases and shared hash lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from safehold.errors import ConflictError, NotFoundError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> plug-in map for one plug-in point.

    Raises:
        ConflictError: on registering a second plug-in under a taken name.
        NotFoundError: on looking up an unknown name (the message lists the known ones).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator registering its argument under ``name``."""

        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ConflictError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        """Return the plug-in named ``name``."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise NotFoundError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Return registered names, sorted."""
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """Return ``(name, plug-in)`` pairs sorted by name."""
        return sorted(self._items.items())

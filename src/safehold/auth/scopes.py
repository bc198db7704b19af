"""The five scopes an API key can hold, and what each one may do.

* ``admin``: everything, including managing API keys.
* ``curator``: banks, entries, thresholds, actions; reads index status and match events.
* ``matcher``: a trusted matching caller: hash and match with full detail (bank, entry id,
  distance, category).
* ``client``: an untrusted matching caller: hash and match, told only whether the content
  matched and the recommended action, never distances, bank names or hashes.
* ``peer``: another Safehold instance subscribed to this one: reads the federation feed of the
  banks opted in to sharing (hashes included), nothing else.

The route-by-scope matrix is in ``docs/service.md`` and checked by ``tests/api``.
"""

from __future__ import annotations

from collections.abc import Iterable

from safehold.errors import InvalidInputError

SCOPES: tuple[str, ...] = ("admin", "curator", "matcher", "client", "peer")

#: Scopes that see full match detail.
TRUSTED_SCOPES = frozenset({"admin", "matcher"})


def parse_scopes(scopes: Iterable[str] | str) -> frozenset[str]:
    """Parse scopes given as an iterable or a space/comma separated string.

    Raises:
        InvalidInputError: none given, or a name outside :data:`SCOPES`.
    """
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    found = frozenset(s.strip().lower() for s in scopes if s.strip())
    if not found:
        raise InvalidInputError(f"give at least one scope: {', '.join(SCOPES)}")
    unknown = sorted(found - set(SCOPES))
    if unknown:
        raise InvalidInputError(
            f"unknown scope {', '.join(repr(u) for u in unknown)}; scopes are {', '.join(SCOPES)}"
        )
    return found

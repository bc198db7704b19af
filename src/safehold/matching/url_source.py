"""Where the live matcher finds URL list entries: one database look-up per checked URL.

A checked URL is looked up by its (at most 30) Safe Browsing expressions
(:func:`safehold.signals.url.query_expressions`) with one ``IN`` over their value digests, through
the ``(signal_type, value_digest, bank_id)`` index that serves md5/sha256: a check costs the
same at a hundred entries as at ten million, URL entries take no worker memory, and an entry
is found by the very next check after its import commits (the bank rules, enabled state
included, follow the change log as for every type). Hits carry the matched entry's kind
(``host``, ``path_prefix``, ``exact_path``, ``exact_url``) as their ``variant``.

:func:`list_versions` reads the list version kept with matched entries
(:mod:`safehold.banks.url_lists`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from safehold.banks.rows import db_errors
from safehold.banks.url_lists import list_version_of
from safehold.matching.queries import ID_CHUNK, exact_entries_any
from safehold.matching.sources import Candidate, ExactSource, Groups
from safehold.signals.base import IndexHit, Signal
from safehold.signals.url import URL, query_expressions
from safehold.signals.url_expressions import expression_kind
from safehold.storage.tables import bank_entries


class UrlSource(ExactSource):
    """URL list entries, looked up in the database by the expressions of each checked URL.

    A subclass of :class:`ExactSource`, so the matcher counts its entries in the database
    as it counts md5/sha256 entries (``/v1/index/status``).
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, URL)

    def candidates(self, signal: Signal, groups: Groups) -> list[Candidate]:
        """Entries whose expression is one of ``signal``'s lookup expressions (distance 0,
        ``variant`` = the entry's kind)."""
        if not groups:
            return []
        found = exact_entries_any(self.engine, URL, query_expressions(signal))
        return [(IndexHit(meta.id, 0, expression_kind(value)), meta) for value, meta in found]


def list_versions(engine: Engine, entry_ids: Iterable[int]) -> dict[int, str | None]:
    """The list version of each entry (None when it was imported without one), by id;
    deleted entries are absent. One ``IN (...)`` query per :data:`ID_CHUNK` ids.

    Raises:
        StorageError: the database fails.
    """
    ordered = sorted(set(entry_ids))
    found: dict[int, str | None] = {}
    e = bank_entries.c
    with db_errors(), engine.connect() as c:
        for start in range(0, len(ordered), ID_CHUNK):
            query = select(e.id, e.note).where(e.id.in_(ordered[start : start + ID_CHUNK]))
            found.update((int(r.id), list_version_of(r.note or "")) for r in c.execute(query))
    return found

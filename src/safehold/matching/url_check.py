"""Check URLs against the URL lists in the banks: ``safehold url check`` and ``/v1/urls/check``.

Each URL is canonicalised (:func:`safehold.signals.url_canonical.canonicalize_url`) and
matched as a ``url`` signal; a URL that cannot be canonicalised gets an error of its own and
the others are still checked. Every match says which kind of entry matched (``host``,
``path_prefix``, ``exact_path``, ``exact_url``) and the version of the list that named it.

The service matches through its :class:`~safehold.matching.live.LiveMatcher` (bank rules kept
current from the change log; entries looked up in the database per check, so a new entry is
matched as soon as its import commits). A one-off command uses :class:`UrlMatcher`, which
reads the bank rules once and loads no index at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from safehold.errors import SafeholdError
from safehold.matching.queries import load_banks
from safehold.matching.url_source import UrlSource, list_versions
from safehold.scanning.records import MatchInfo
from safehold.signals.base import Signal
from safehold.signals.url import URL
from safehold.signals.url_canonical import canonicalize_url


@dataclass(frozen=True, slots=True)
class UrlMatch:
    """One URL list entry matched by a checked URL.

    Attributes:
        match: bank, entry id, category, source (``distance`` is always 0).
        kind: what the entry names: ``host``, ``path_prefix``, ``exact_path`` or ``exact_url``.
        list_version: the version of the list the entry was imported from, or None.
    """

    match: MatchInfo
    kind: str
    list_version: str | None


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """The outcome of checking one URL.

    Attributes:
        url: the URL as given (the caller's own text).
        canonical: its canonical form (``http://www.example.com/a``), None when it has none.
        matches: matched entries, sorted by bank and entry id.
        error: why the URL could not be checked (``invalid_signal``), else None.
    """

    url: str
    canonical: str | None = None
    matches: list[UrlMatch] = field(default_factory=list)
    error: SafeholdError | None = None


#: Matches one ``url`` signal against the banks (the live matcher, or :class:`UrlMatcher`).
MatchUrl = Callable[[Signal], list[MatchInfo]]


def check_urls(urls: Sequence[str], match: MatchUrl, engine: Engine) -> list[UrlCheck]:
    """Check each of ``urls``; one :class:`UrlCheck` per URL, in order.

    Raises:
        IndexNotReadyError, StorageError: the matcher or the database cannot answer (the
            whole check fails; per-URL errors are only for URLs that do not parse).
    """
    checks: list[UrlCheck] = []
    for url in urls:
        try:
            canonical = canonicalize_url(url)
        except SafeholdError as exc:
            checks.append(UrlCheck(url, error=exc))
            continue
        signal = Signal(URL, canonical.expression)
        checks.append(UrlCheck(url, canonical.url, _sorted(match(signal))))
    versions = list_versions(engine, [m.entry_id for c in checks for m in _infos(c)])
    return [
        UrlCheck(
            c.url,
            c.canonical,
            [UrlMatch(m.match, m.kind, versions.get(m.match.entry_id)) for m in c.matches],
            c.error,
        )
        for c in checks
    ]


def _sorted(found: list[MatchInfo]) -> list[UrlMatch]:
    ordered = sorted(found, key=lambda m: (m.bank, m.entry_id))
    return [UrlMatch(m, m.variant or "", None) for m in ordered]


def _infos(check: UrlCheck) -> list[MatchInfo]:
    return [m.match for m in check.matches]


class UrlMatcher:
    """Match ``url`` signals with the bank rules read once (for one-off commands).

    Args:
        engine: the database.
        bank_names: match only these banks (ignoring case); empty: every enabled bank.

    Raises:
        NotFoundError: a named bank does not exist. ConflictError: it is disabled.
        StorageError: the database fails.
    """

    def __init__(self, engine: Engine, bank_names: Sequence[str] = ()) -> None:
        self.view = load_banks(engine)
        self.allowed = self.view.allowed(bank_names)
        self.source = UrlSource(engine)

    def __call__(self, signal: Signal) -> list[MatchInfo]:
        """Matches of ``signal`` in enabled entries of the allowed banks."""
        found: list[MatchInfo] = []
        for hit, meta in self.source.candidates(signal, {0: self.allowed}):
            bank = None if meta is None else self.view.by_id.get(meta.bank_id)
            if meta is None or bank is None or not meta.enabled or bank.id not in self.allowed:
                continue
            found.append(
                MatchInfo(
                    bank=bank.name,
                    entry_id=meta.id,
                    signal_type=signal.signal_type,
                    distance=hit.distance,
                    category=meta.category or bank.category,
                    source=meta.source,
                    variant=hit.variant,
                )
            )
        return found

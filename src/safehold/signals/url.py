"""The ``url`` signal type: URLs of known abuse material, canonicalised as Safe Browsing does.

Organisations such as the IWF share lists of URLs where abuse material was found. A ``url``
signal's value is a canonical Safe Browsing *expression*: the URL canonicalised by
:mod:`safehold.signals.url_canonical`, without its scheme (``www.example.com/bad/page.html``).
Bank entries hold such expressions, and their form says whether an entry names a whole host, a
path prefix, an exact path or an exact URL with its query (:mod:`safehold.signals.url_expressions`).
A checked URL matches an entry when the entry's expression is one of the (at most 30)
expressions the URL is looked up by; every match has distance 0, and the hit's ``variant`` is
the entry's kind (``host``, ``path_prefix``, ``exact_path``, ``exact_url``).

URLs are not content: this type hashes no file (``content_types`` is empty), and scans leave it
out. The service looks expressions up in the database by value digest
(:mod:`safehold.matching.url_source`); :class:`UrlIndex` is the in-memory equivalent for
callers that build indexes from entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from safehold.errors import UnsupportedContentError
from safehold.signals.base import (
    SIGNAL_TYPES,
    Content,
    ContentType,
    IndexHit,
    Signal,
    SignalIndex,
    SignalType,
)
from safehold.signals.exact import ExactIndex
from safehold.signals.url_canonical import canonicalize_url
from safehold.signals.url_expressions import expression_kind, lookup_expressions, split_expression

#: The signal type's permanent name.
URL = "url"


def url_signal(url: str | bytes) -> Signal:
    """The ``url`` signal of a URL: its canonical expression.

    Raises:
        InvalidSignalError: the URL cannot be canonicalised (see
            :func:`~safehold.signals.url_canonical.canonicalize_url`).
    """
    return Signal(URL, canonicalize_url(url).expression)


def query_expressions(signal: Signal) -> list[str]:
    """The expressions a checked ``url`` signal is looked up by (at most 30)."""
    return lookup_expressions(split_expression(signal.value))


class UrlIndex(ExactIndex):
    """Expressions held in a dictionary (:class:`~safehold.signals.exact.ExactIndex`'s); a
    query looks up its (at most 30) expressions.

    Args:
        entries: ``(entry_id, canonical expression)`` pairs.
    """

    def query(self, signal: Signal, threshold: int = 0) -> list[IndexHit]:
        """Entries whose expression is one of ``signal``'s lookup expressions (distance 0;
        ``variant`` is the entry's kind). ``threshold`` is ignored."""
        hits: list[IndexHit] = []
        for expression in query_expressions(signal):
            kind = expression_kind(expression)
            hits.extend(IndexHit(entry_id, 0, kind) for entry_id in self._ids.get(expression, ()))
        return hits


@SIGNAL_TYPES.register(URL)
class UrlSignalType(SignalType):
    """URLs canonicalised by Safe Browsing's rules; matched by host suffix and path prefix."""

    name: ClassVar[str] = URL
    content_types: ClassVar[frozenset[ContentType]] = frozenset()
    default_threshold: ClassVar[int] = 0
    max_distance: ClassVar[int] = 0

    @classmethod
    def validate_signal(cls, value: str) -> str:
        """The canonical expression of the URL or expression ``value``.

        Raises:
            InvalidSignalError: see :func:`~safehold.signals.url_canonical.canonicalize_url`.
        """
        return canonicalize_url(value).expression

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """0 when either canonical expression covers the other (one is among the other's
        lookup expressions), else 1."""
        covered = b in lookup_expressions(split_expression(a))
        return 0 if covered or a in lookup_expressions(split_expression(b)) else 1

    @classmethod
    def build_index(cls, entries: Sequence[tuple[int, str]]) -> SignalIndex:
        """A :class:`UrlIndex` over validated ``(entry_id, expression)`` pairs."""
        return UrlIndex(entries)

    def _compute(self, content: Content) -> Signal:
        raise UnsupportedContentError("the url signal type hashes no files; check URLs instead")

"""The exchange plug-in point: a source that hash lists are fetched from, with checkpoints.

An exchange *source* turns one remote list (NCMEC hash sharing, StopNCII, Meta ThreatExchange,
a file or URL list, another Safehold's feed) into a stream of :class:`FetchBatch` objects::

    source.fetch(checkpoint) -> FetchBatch(updates=[RecordUpdate, ...], checkpoint=...), ...

Each :class:`RecordUpdate` names one *source record* by its id at the source (an NCMEC entry
id, a ThreatExchange indicator id, ...) and gives the record's whole current state: its signals
and its category (with scheme), or ``deleted=True``. An update replaces what the record said
before, so applying the same batch twice changes nothing; that is what makes a resume after a
failure lose nothing and duplicate nothing (:mod:`safehold.exchanges.runner`).

The checkpoint is opaque to everything but its source: a JSON-serialisable dict, persisted only
after the batch that carries it is committed. ``None`` means "from the beginning".

Shape modelled on python-threatexchange's ``SignalExchangeAPI.fetch_iter(supported_signal_types,
checkpoint)`` (``threatexchange/exchanges/signal_exchange_api.py``): one base class, a permanent
``kind`` name per plug-in, plug-ins registered by name (:data:`SOURCE_KINDS`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from safehold.banks.models import Category
from safehold.errors import FetchError, InvalidInputError
from safehold.exchanges.credentials import Credentials
from safehold.fetching.urls import parse_url
from safehold.plugins import Registry

#: A checkpoint: JSON-serialisable, meaningful only to the source that made it.
Checkpoint = dict[str, Any]
#: Largest checkpoint time, seconds since the epoch: 9999-12-31T23:59:59Z, the last second
#: ``datetime`` (and so the ``as_of`` column) holds; far inside the 64-bit database range.
MAX_EPOCH = 253_402_300_799


@dataclass(frozen=True, slots=True)
class SignalValue:
    """One signal of a source record: a Safehold signal type and its value as the source gave
    it (canonicalised and validated when applied; a bad one is counted, never stored)."""

    signal_type: str
    value: str
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """The current state of one source record.

    Attributes:
        source_id: the record's id at the source (at most 200 characters), e.g. an NCMEC
            entry id; stable across fetches.
        signals: every signal the record holds now (an update replaces the previous set).
        category: the record's category with its scheme, or None (entries then get the
            target bank's category).
        deleted: the source withdrew the record; its signals leave the bank unless another
            record of the same exchange still holds them.
    """

    source_id: str
    signals: tuple[SignalValue, ...] = ()
    category: Category | None = None
    deleted: bool = False


@dataclass(slots=True)
class FetchBatch:
    """A page of updates and the checkpoint that holds once they are applied.

    Attributes:
        updates: record updates in source order (a later update of the same record wins).
        checkpoint: where the next fetch starts after this batch is committed; None keeps
            the previous checkpoint (snapshot sources advance only at the end).
        skipped: records or signals the source could not use (unsupported fingerprint types,
            malformed records), counted and never stored.
        complete: True on the last batch of a snapshot source that delivered its whole list;
            records not seen in this fetch are then deleted (see :attr:`ExchangeSource.snapshot`).
        caught_up: True when this batch reaches the end of what the source holds now.
        as_of: seconds since the epoch up to which the data is complete, when known (for lag).
    """

    updates: list[RecordUpdate] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    skipped: int = 0
    complete: bool = False
    caught_up: bool = False
    as_of: float | None = None


class ExchangeSource(ABC):
    """Base class of every exchange source plug-in.

    Subclasses set :attr:`kind` (permanent: stored in the database) and implement
    :meth:`fetch`. Construction validates settings and credentials and must not touch the
    network.

    Args:
        settings: the exchange's non-secret settings (URL, environment, privacy group, ...).
        credentials: decrypted secrets (user name and password, API tokens), or empty; kept
            as :class:`~safehold.exchanges.credentials.Credentials` (``repr`` hides values).
        http: the HTTP client to use (:class:`~safehold.exchanges.http.ExchangeHttp`).

    Raises (constructor):
        InvalidInputError: a missing or malformed setting or credential.
    """

    kind: ClassVar[str]
    #: Setting names this source reads (others are refused).
    setting_names: ClassVar[tuple[str, ...]] = ()
    #: Credential names this source needs.
    credential_names: ClassVar[tuple[str, ...]] = ()
    #: Each fetch delivers the whole list: records missing from a complete fetch are deleted.
    snapshot: ClassVar[bool] = False

    def __init__(
        self, settings: Mapping[str, Any], credentials: Mapping[str, str], http: Any
    ) -> None:
        unknown = sorted(set(settings) - set(self.setting_names))
        if unknown:
            known = ", ".join(self.setting_names) or "none"
            raise InvalidInputError(
                f"{self.kind} exchanges take no setting {unknown[0]!r} (known: {known})"
            )
        missing = [n for n in self.credential_names if not credentials.get(n)]
        if missing:
            raise InvalidInputError(
                f"{self.kind} exchanges need the credential {missing[0]!r} "
                f"(give {', '.join(self.credential_names)})"
            )
        self.settings = dict(settings)
        self.credentials = Credentials(credentials)
        self.http = http

    def setting(self, name: str, default: Any = None) -> Any:
        """The setting ``name`` or ``default``."""
        return self.settings.get(name, default)

    def url_setting(self, name: str, default: str | None = None) -> str | None:
        """The setting ``name`` as an http(s) URL (syntax only: addresses are checked when
        connecting), or ``default`` when absent or empty.

        Raises:
            InvalidInputError: not an http(s) URL without credentials
                (:func:`safehold.fetching.urls.parse_url`).
        """
        value = self.settings.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        try:
            parse_url(str(value).strip())
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"the setting {name} must be an http or https URL: {exc.message}"
            ) from None
        return str(value).strip()

    def int_setting(self, name: str, default: int, low: int, high: int) -> int:
        """The setting ``name`` as a whole number from ``low`` to ``high`` (``default`` when
        absent).

        Raises:
            InvalidInputError: anything else.
        """
        value = self.settings.get(name, default)
        text = str(value).strip()
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else -1
        if isinstance(value, bool) or not low <= number <= high:
            raise InvalidInputError(f"{name} must be a whole number from {low} to {high}")
        return number

    @abstractmethod
    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield batches of updates after ``checkpoint`` (None: from the beginning).

        The caller applies and commits each batch before asking for the next one, then stores
        the batch's checkpoint. Raises :class:`~safehold.errors.FetchError` (the source failed
        or answered something unreadable) or :class:`~safehold.errors.InvalidInputError` (a
        checkpoint this source did not make).
        """


#: Source plug-ins by kind (built-ins register on import of :mod:`safehold.exchanges`).
SOURCE_KINDS: Registry[type[ExchangeSource]] = Registry("exchange kind")


def require_text(value: Any, what: str) -> str:
    """Return ``value`` if it is a non-empty string.

    Raises:
        InvalidInputError: anything else (the message names ``what``).
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    return value.strip()


def checkpoint_int(checkpoint: Checkpoint | None, key: str, kind: str) -> int | None:
    """The integer ``checkpoint[key]`` (None when there is no checkpoint or no key): a time in
    whole seconds since the epoch, 0 to :data:`MAX_EPOCH`.

    Raises:
        InvalidInputError: the value is not such an integer (a checkpoint another source
            made, or a bad value a source answered).
    """
    if checkpoint is None or checkpoint.get(key) is None:
        return None
    value = checkpoint[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_EPOCH:
        raise InvalidInputError(f"the {kind} checkpoint is not one this source made ({key})")
    return value


def source_time(value: Any, what: str) -> int:
    """A source's time stamp (whole seconds since the epoch) that becomes a checkpoint.

    Raises:
        FetchError: not an integer from 0 to :data:`MAX_EPOCH` (the message names ``what``,
            never the value).
    """
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_EPOCH:
        raise FetchError(f"{what} is not a time from 1970 to 9999")
    return value

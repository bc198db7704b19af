"""ExchangeService: configure exchanges and read their status (the service layer over the
``exchanges``, ``exchange_states`` and ``exchange_records`` tables).

Credentials are encrypted with :class:`~safehold.exchanges.credentials.CredentialBox` before
they are written and decrypted only to build a source for a fetch. Fetching itself (leases,
batches, checkpoints) is :mod:`safehold.exchanges.runner`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from safehold.banks.rows import as_utc, bank_id_for, db_errors
from safehold.banks.validation import BANK_NAME_PATTERN, BANK_NAME_RULE, quote_name
from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.exchanges.base import SOURCE_KINDS, ExchangeSource
from safehold.exchanges.credentials import CredentialBox, Credentials
from safehold.exchanges.holders import hand_over_all
from safehold.exchanges.models import Exchange, ExchangeStatus
from safehold.settings import Settings
from safehold.storage.tables import banks, exchange_records, exchange_states, exchanges, utcnow

#: Shortest and longest fetch interval, seconds.
MIN_INTERVAL = 60
MAX_INTERVAL = 30 * 24 * 3600


def _exchange_query() -> Any:
    return select(exchanges, banks.c.name.label("bank_name")).join(
        banks, banks.c.id == exchanges.c.bank_id
    )


def _to_exchange(row: Any) -> Exchange:
    return Exchange(
        id=int(row.id),
        name=row.name,
        kind=row.kind,
        bank_id=int(row.bank_id),
        bank_name=row.bank_name,
        settings=dict(row.settings or {}),
        has_credentials=row.credentials is not None,
        enabled=bool(row.enabled),
        interval_seconds=int(row.interval_seconds),
        created_at=as_utc(row.created_at),
    )


def _opt_utc(value: Any) -> Any:
    return None if value is None else as_utc(value)


def validate_exchange_name(name: str) -> str:
    """Return ``name`` if it follows the bank name rule (it appears in metrics and commands).

    Raises:
        InvalidInputError: it does not.
    """
    if not BANK_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"exchange name {quote_name(name)} is not valid: use {BANK_NAME_RULE}"
        )
    return name


class ExchangeService:
    """Exchanges in one database.

    Args:
        engine: from :func:`safehold.storage.engine.open_database` (schema current).
        settings: the exchange key settings (``exchange_key``, ``exchange_key_file``).

    Every method may also raise :class:`~safehold.errors.StorageError`.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def add_exchange(
        self,
        name: str,
        kind: str,
        bank_name: str,
        *,
        settings: Mapping[str, Any] | None = None,
        credentials: Mapping[str, str] | None = None,
        interval_seconds: int = 3600,
        enabled: bool = True,
    ) -> Exchange:
        """Add an exchange that fetches into bank ``bank_name``.

        Raises:
            InvalidInputError: a bad name or interval, or settings or credentials the source
                refuses (unknown names, a URL that is not http(s), an unknown list format or
                signal type, a page size out of range, ...).
            NotFoundError: an unknown kind or bank.
            ConflictError: an exchange with this name exists.
            ConfigurationError: credentials are given but no exchange key is configured.
        """
        validate_exchange_name(name)
        source_class = SOURCE_KINDS.get(kind)
        if not MIN_INTERVAL <= interval_seconds <= MAX_INTERVAL:
            raise InvalidInputError(
                f"the interval must be {MIN_INTERVAL} to {MAX_INTERVAL} seconds"
            )
        settings = dict(settings or {})
        unknown = sorted(set(credentials or {}) - set(source_class.credential_names))
        if unknown:  # a typo would be stored silently and the right name found missing later
            known = ", ".join(source_class.credential_names) or "none"
            raise InvalidInputError(
                f"{kind} exchanges take no credential {unknown[0]!r} (known: {known})"
            )
        source_class(settings, dict(credentials or {}), None)  # validates, no network
        token = CredentialBox(self.settings).encrypt(credentials) if credentials else None
        now = utcnow()
        conflict = f"an exchange named {quote_name(name)} exists"
        with db_errors(conflict=conflict), self.engine.begin() as c:
            bank_id = bank_id_for(c, bank_name)
            taken = c.execute(
                select(exchanges.c.id).where(func.lower(exchanges.c.name) == name.lower())
            ).first()
            if taken is not None:
                raise ConflictError(conflict)
            exchange_id = c.execute(
                insert(exchanges)
                .values(
                    name=name, kind=kind, bank_id=bank_id, settings=settings,
                    credentials=token, enabled=enabled, interval_seconds=interval_seconds,
                    created_at=now, updated_at=now,
                )
                .returning(exchanges.c.id)
            ).scalar_one()  # fmt: skip
            c.execute(insert(exchange_states).values(exchange_id=exchange_id))
        return self.get_exchange(name)

    def get_exchange(self, name: str) -> Exchange:
        """The exchange called ``name`` (ignoring case).

        Raises:
            NotFoundError: no such exchange.
        """
        with db_errors(), self.engine.connect() as c:
            row = c.execute(
                _exchange_query().where(func.lower(exchanges.c.name) == name.lower())
            ).first()
        if row is None:
            raise NotFoundError(f"no exchange named {quote_name(name)}")
        return _to_exchange(row)

    def list_exchanges(self) -> list[Exchange]:
        """Every exchange, by name."""
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(_exchange_query().order_by(exchanges.c.name)).all()
        return [_to_exchange(r) for r in rows]

    def exchanges_of_bank(self, bank_name: str) -> list[Exchange]:
        """The exchanges that fetch into bank ``bank_name`` (ignoring case), by name; deleting
        the bank deletes them (with their credentials and checkpoints).

        Raises:
            NotFoundError: no such bank.
        """
        with db_errors(), self.engine.connect() as c:
            bank_id = bank_id_for(c, bank_name)
            rows = c.execute(
                _exchange_query().where(exchanges.c.bank_id == bank_id).order_by(exchanges.c.name)
            ).all()
        return [_to_exchange(r) for r in rows]

    def remove_exchange(self, name: str) -> None:
        """Remove an exchange with its checkpoint and provenance; its bank keeps its entries
        (those another exchange of the bank still holds are handed over to it first).

        Raises:
            NotFoundError: no such exchange.
        """
        exchange = self.get_exchange(name)
        hand_over_all(self.engine, exchange_id=exchange.id, exchange_name=exchange.name,
                      bank_id=exchange.bank_id)  # fmt: skip
        with db_errors(), self.engine.begin() as c:
            for table, column in (
                (exchange_records, exchange_records.c.exchange_id),
                (exchange_states, exchange_states.c.exchange_id),
                (exchanges, exchanges.c.id),
            ):
                c.execute(delete(table).where(column == exchange.id))

    def set_enabled(self, name: str, enabled: bool) -> Exchange:
        """Enable or disable scheduled fetches of an exchange.

        Raises:
            NotFoundError: no such exchange.
        """
        exchange = self.get_exchange(name)
        with db_errors(), self.engine.begin() as c:
            c.execute(
                update(exchanges)
                .where(exchanges.c.id == exchange.id)
                .values(enabled=enabled, updated_at=utcnow())
            )
        return self.get_exchange(name)

    def open_source(self, exchange: Exchange, http: Any) -> ExchangeSource:
        """Build the source plug-in of ``exchange`` with its decrypted credentials.

        Raises:
            ConfigurationError: the credentials cannot be decrypted (missing or wrong key).
            NotFoundError: the kind is no longer installed.
        """
        with db_errors(), self.engine.connect() as c:
            token = c.execute(
                select(exchanges.c.credentials).where(exchanges.c.id == exchange.id)
            ).scalar()
        credentials = (
            CredentialBox(self.settings).decrypt(token, exchange.name)
            if token is not None
            else Credentials({})
        )
        return SOURCE_KINDS.get(exchange.kind)(exchange.settings, credentials, http)

    def rekey(self) -> int:
        """Re-encrypt every exchange's credentials with the first configured key; return how
        many were re-encrypted (see :mod:`safehold.exchanges.credentials`).

        Raises:
            ConfigurationError: no key, or a token no configured key opens (nothing changed).
        """
        box = CredentialBox(self.settings)
        with db_errors(), self.engine.begin() as c:
            rows = c.execute(
                select(exchanges.c.id, exchanges.c.name, exchanges.c.credentials).where(
                    exchanges.c.credentials.is_not(None)
                )
            ).all()
            new = [(r.id, box.rotate(r.credentials, r.name)) for r in rows]
            for exchange_id, token in new:
                c.execute(
                    update(exchanges).where(exchanges.c.id == exchange_id).values(credentials=token)
                )
        return len(new)

    def statuses(self, name: str | None = None) -> list[ExchangeStatus]:
        """The status of every exchange (or of ``name``), by name.

        Raises:
            NotFoundError: ``name`` names no exchange.
        """
        chosen = [self.get_exchange(name)] if name is not None else self.list_exchanges()
        if not chosen:
            return []
        ids = [e.id for e in chosen]
        now = utcnow()
        with db_errors(), self.engine.connect() as c:
            states = {
                r.exchange_id: r
                for r in c.execute(
                    select(exchange_states).where(exchange_states.c.exchange_id.in_(ids))
                )
            }
            counts: dict[int, int] = {
                int(row[0]): int(row[1])
                for row in c.execute(
                    select(exchange_records.c.exchange_id, func.count())
                    .where(exchange_records.c.exchange_id.in_(ids))
                    .group_by(exchange_records.c.exchange_id)
                )
            }
        result = []
        for exchange in chosen:
            s = states.get(exchange.id)
            if s is None:
                result.append(ExchangeStatus(exchange))
                continue
            until = _opt_utc(s.claimed_until)
            result.append(
                ExchangeStatus(
                    exchange,
                    runs=int(s.runs),
                    fetching=until is not None and until > now,
                    last_attempt_at=_opt_utc(s.last_attempt_at),
                    last_success_at=_opt_utc(s.last_success_at),
                    last_error=s.last_error,
                    last_error_at=_opt_utc(s.last_error_at),
                    failures=int(s.failures),
                    as_of=_opt_utc(s.as_of),
                    records=int(counts.get(exchange.id, 0)),
                    records_total=int(s.records_total),
                    added_total=int(s.added_total),
                    removed_total=int(s.removed_total),
                    skipped_total=int(s.skipped_total),
                )
            )
        return result

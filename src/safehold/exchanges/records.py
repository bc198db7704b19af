"""Write provenance rows (``exchange_records``) in bulk, through the driver's executemany.

The per-batch hot path of an exchange fetch: SQLAlchemy's per-row parameter processing costs
more than the statements themselves for thousands of rows (the same reason
``banks.bulk_insert`` goes to the driver), so rows go to ``cursor.executemany`` as plain dicts
with named parameters in the driver's style (``:name`` for sqlite3, ``%(name)s`` for psycopg).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from safehold.storage.tables import exchange_records

Row = dict[str, object]

_KEY = "exchange_id = :e AND source_id = :s AND signal_type = :t AND value_digest = :d"
_DELETE = f"DELETE FROM exchange_records WHERE {_KEY}"
_INSERT = (
    "INSERT INTO exchange_records (exchange_id, source_id, signal_type, value_digest, "
    "category_scheme, category_code, fetched_at, run) "
    "VALUES (:e, :s, :t, :d, :cs, :cc, :at, :run)"
)
_UPDATE = (
    "UPDATE exchange_records SET category_scheme = :cs, category_code = :cc, fetched_at = :at, "
    f"run = :run WHERE {_KEY}"
)
_NAME = re.compile(r":(\w+)")


def _driver_sql(c: Connection, sql: str) -> str:
    """``sql`` with ``:name`` parameters in the connection's driver style."""
    return sql if c.dialect.name == "sqlite" else _NAME.sub(r"%(\1)s", sql)


def _time(c: Connection, now: datetime) -> object:
    """``now`` as the driver takes it for ``fetched_at`` (SQLite: SQLAlchemy's text form)."""
    column_type = exchange_records.c.fetched_at.type.dialect_impl(c.dialect)
    process = column_type.bind_processor(c.dialect)
    return process(now) if process is not None else now


def write_records(
    c: Connection,
    *,
    exchange_id: int,
    run: int,
    now: datetime,
    removed: Sequence[Row],
    added: Sequence[Row],
    kept: Sequence[Row],
) -> None:
    """Delete ``removed``, insert ``added`` and refresh ``kept`` provenance rows of one exchange.

    Each row holds ``s`` (source id), ``t`` (signal type), ``d`` (value digest, 32 bytes),
    ``cs`` and ``cc`` (category scheme and code, or None); ``now`` becomes ``fetched_at`` and
    ``run`` the run that saw the row.
    """
    extra = {"e": exchange_id, "run": run, "at": _time(c, now)}
    for sql, rows in ((_DELETE, removed), (_INSERT, added), (_UPDATE, kept)):
        if rows:
            params = [{**row, **extra} for row in rows]
            if sql is _DELETE:
                params = [{k: p[k] for k in ("e", "s", "t", "d")} for p in params]
            c.exec_driver_sql(_driver_sql(c, sql), params)

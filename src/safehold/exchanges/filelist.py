"""A hash list at a URL or a path as an exchange source (kind ``list``).

The list is read with the bank-file readers of :mod:`safehold.banks.formats` (every format they
accept: the python-threatexchange/HMA CSV, plain lists, and whatever else they detect or are
told), so a scheduled list and ``safehold bank import`` read a file the same way. Each fetch
reads the whole list: a *snapshot* source. Records are the list's signals (source id
``<signal type>:`` plus 32 hex digits of the SHA-256 of the value, so ids never show a hash);
after a complete read, records the list no longer holds are deleted, and a list that comes back
empty is refused instead of emptying the bank (:mod:`safehold.exchanges.runner`). A list with
bad rows and no usable one (a file that is not a hash list at all) is a failed fetch that
names the number of bad rows, whether or not the exchange held records before.

The checkpoint is ``{"sha256": <digest of the list's bytes>}``: an unchanged list is not read
again. A failure while reading leaves the checkpoint as it was, so the next fetch reads the list
from the start (applying a record twice changes nothing).

Settings: ``url`` or ``path`` (one of them), ``format`` (a reader's name; detected when
absent), ``signal_type`` (for lists whose rows do not name one), ``category`` (``scheme:code``,
for rows without one), ``category_scheme`` (the scheme of bare category codes: VICS, IWF-style).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, ClassVar, cast

from safehold.banks.formats import BankFileRows, entries, open_bank_file
from safehold.banks.models import Category, NewEntry
from safehold.errors import FetchError, FormatError, InvalidInputError
from safehold.exchanges.base import (
    SOURCE_KINDS,
    Checkpoint,
    ExchangeSource,
    FetchBatch,
    RecordUpdate,
    SignalValue,
)
from safehold.exchanges.stopncii import hash_source_id

#: Records per batch.
BATCH = 5000
_SPOOL_BYTES = 16 * 1024**2


@SOURCE_KINDS.register("list")
class ListSource(ExchangeSource):
    """A hash list file or URL (see the module docstring for its settings)."""

    kind: ClassVar[str] = "list"
    setting_names = ("url", "path", "format", "signal_type", "category", "category_scheme")
    snapshot = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if bool(self.setting("url")) == bool(self.setting("path")):
            raise InvalidInputError("a list exchange needs exactly one of the settings url, path")
        self.url_setting("url")
        # the readers refuse an unknown format or signal type, a malformed category, now
        self._opened(io.BytesIO(b""))

    def _open(self) -> IO[bytes]:
        """The list's bytes in a (spooled) temporary file, positioned at the start."""
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        url = self.setting("url")
        if url:
            spool.write(self.http.get(str(url)))
        else:
            try:
                with Path(str(self.setting("path"))).open("rb") as f:
                    while chunk := f.read(1024**2):
                        spool.write(chunk)
            except OSError as exc:
                spool.close()
                raise FetchError(f"cannot read the list file ({type(exc).__name__})") from None
        spool.seek(0)
        return spool

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[FetchBatch]:
        """Yield the list's records in batches (nothing when the list is unchanged)."""
        with self._open() as data:
            digest = hashlib.file_digest(data, "sha256").hexdigest()  # type: ignore[arg-type]
            if checkpoint is not None and checkpoint.get("sha256") == digest:
                yield FetchBatch([], checkpoint, caught_up=True)
                return
            data.seek(0)
            batch: list[RecordUpdate] = []
            skipped = bad = usable = 0
            first_error = ""
            for item in self._read(data):
                if isinstance(item, FormatError):
                    skipped, bad = skipped + 1, bad + 1
                    first_error = first_error or item.message
                    continue
                usable += 1
                signal = SignalValue(item.signal_type, item.value, item.quality)
                source_id = hash_source_id(item.signal_type, item.value)
                batch.append(RecordUpdate(source_id, (signal,), item.category))
                if len(batch) >= BATCH:
                    yield FetchBatch(batch, None, skipped)
                    batch, skipped = [], 0
            if bad and not usable:
                raise FetchError(
                    f"the list has no usable rows ({bad:,} bad; the first: {first_error}); "
                    "nothing was applied and the bank keeps its entries"
                )
            yield FetchBatch(batch, {"sha256": digest}, skipped, complete=True, caught_up=True)

    def _read(self, data: IO[bytes]) -> Iterator[NewEntry | FormatError]:
        """The bank-file readers' items: an entry or a row error per row."""
        return entries(self._opened(data).rows)

    def _opened(self, data: IO[bytes]) -> BankFileRows:
        """``data`` opened by the bank-file readers with this exchange's settings.

        Raises:
            InvalidInputError: an unknown format or signal type, a malformed category.
        """
        return open_bank_file(
            cast(BinaryIO, data),
            fmt=self.setting("format"),
            name="the list",
            signal_type=self.setting("signal_type"),
            category=Category.parse_optional(self.setting("category")),
            category_scheme=self.setting("category_scheme"),
        )

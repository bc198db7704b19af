"""The scan's PDQ index from a snapshot in the data directory, caught up with the banks.

Building the PDQ index of a large bank takes seconds per run; loading its snapshot takes a
fraction of one. :func:`open_pdq_index` opens ``<index_dir>/pdq.snapshot`` with
:func:`safehold.index.open_index` and the bank service's change feed
(:class:`safehold.banks.feed.BankChangeFeed`): a valid snapshot is loaded and the bank
changes made since it are replayed; a missing, corrupt, stale or foreign one (another
database, or a history a restored backup diverged from: the snapshot ``source`` names the
change at its sequence) is never searched, the index is rebuilt from the banks and saved.

The index holds every PDQ entry, with those of disabled entries or banks disabled; the
matcher filters hits by the run's banks and thresholds after the query. After a replay of
many changes (:data:`RESAVE_IDS` entries or more) the snapshot is saved again so later runs
replay less. A snapshot that cannot be written (read-only data directory) only costs the
next run a rebuild.
"""

from __future__ import annotations

import logging
from pathlib import Path

from safehold.banks.feed import BankChangeFeed
from safehold.banks.service import BankService
from safehold.index import Opened, hex_to_rows, open_index
from safehold.index.snapshot import peek_change_seq

log = logging.getLogger(__name__)

#: File name of the PDQ snapshot inside the index directory.
PDQ_SNAPSHOT = "pdq.snapshot"
#: Entries replayed at or above which the snapshot is saved again.
RESAVE_IDS = 10_000


def open_pdq_index(banks: BankService, index_dir: Path) -> Opened:
    """The PDQ :class:`~safehold.index.BinaryIndex` of every PDQ entry, up to date.

    Returns:
        :class:`~safehold.index.Opened`: ``origin`` is ``snapshot`` (loaded and replayed)
        or ``rebuilt``; ``reason`` says why a snapshot was not used.

    Raises:
        StorageError: the bank database fails (there is then no index).
    """
    path = index_dir / PDQ_SNAPSHOT
    feed = BankChangeFeed(banks, "pdq", hex_to_rows)
    saved = peek_change_seq(path)
    # The source a snapshot at that sequence must carry; "" never matches a saved one.
    expected = feed.source_for(saved) if saved is not None else ""
    opened = open_index(path, feed, bits=256, source=expected, save_rebuilt=False)
    if opened.origin == "rebuilt" or feed.replayed_ids >= RESAVE_IDS:
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            opened.index.save(path, opened.change_seq, source=feed.source_for(opened.change_seq))
        except OSError as exc:
            log.warning("cannot save the PDQ index snapshot %s: %s", path, exc.strerror or exc)
    log.info(
        "PDQ index %s at change %d (%s)",
        opened.origin,
        opened.change_seq,
        opened.reason or "snapshot valid",
    )
    return opened

"""Scan start-up against a large PDQ bank: how long until the matcher can answer.

Builds a SQLite bank of N random PDQ hashes in a temporary data directory (bulk
``BankService.add_entries``), then times ``Matcher`` construction for a ``pdq`` scan: the first
one builds and saves the index snapshot, later ones load it, replay bank changes since it
(none, then a few additions) and count matchable entries per bank. Entry metadata is fetched
per hit, so start-up does not grow with the bank beyond one COUNT query.

    . .venv/bin/activate
    python benchmarks/scan_startup.py --entries 1000000
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.scanning.matcher import Matcher
from safehold.settings import Settings
from safehold.storage.engine import open_database


def timed(label: str, make: Callable[[], Matcher]) -> Matcher:
    start = time.perf_counter()
    matcher = make()
    seconds = time.perf_counter() - start
    origin = matcher.index_origins.get("pdq", "-")
    print(f"{label:42s} {seconds:8.2f} s   index: {origin:9s} entries: {matcher.entry_count():,}")
    return matcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        service = BankService(open_database(settings))
        service.create_bank("big")
        start = time.perf_counter()
        service.add_entries(
            "big", (NewEntry("pdq", secrets.token_hex(32)) for _ in range(args.entries))
        )
        print(f"{'bulk import':42s} {time.perf_counter() - start:8.2f} s   ({args.entries:,} rows)")
        index_dir = Path(tmp) / "index"

        def make() -> Matcher:
            return Matcher(service, ["pdq"], index_dir=index_dir)

        timed("first scan (builds + saves the snapshot)", make)
        timed("next scan (snapshot, nothing changed)", make)
        service.add_entries("big", [NewEntry("pdq", secrets.token_hex(32)) for _ in range(10)])
        timed("after 10 additions (snapshot + replay)", make)


if __name__ == "__main__":
    main()

"""Benchmark of writers beside a bulk import: how long a single add waits, per transaction size.

A bulk import commits one transaction per ``batch_rows`` rows, each holding the change-log lock
through its insert (``banks.rows.lock_change_log``), so every other writer waits up to one
transaction. This imports a CSV of ``--rows`` random hashes (``benchmarks/import.py``'s
generator) into a new bank of a fresh PostgreSQL database, once per ``--batch-rows`` value,
while a thread adds one entry to another bank every ``--every`` seconds; it prints the import's
rows/s and the single adds' median, 99th percentile and longest wait. On PostgreSQL the load
caps transactions at ``bulk_load.POSTGRESQL_ROWS_PER_TRANSACTION`` (a larger value is cut to
it), so compare with older code through ``PYTHONPATH``:

    python benchmarks/import_contention.py --rows 2000000 --batch-rows 62500,125000,250000
    PYTHONPATH=/path/to/older/src python benchmarks/import_contention.py --batch-rows 500000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _write_csv(path: Path, rows: int) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_import", Path(__file__).with_name("import.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_csv(path, rows)


def run(admin: str, csv_path: Path, batch_rows: int, every: float) -> str:
    """One import beside a single-entry writer, in a fresh database; one line of figures."""
    import psycopg

    from safehold.banks.importing import import_bank_file
    from safehold.banks.models import NewEntry
    from safehold.banks.service import BankService
    from safehold.settings import Settings
    from safehold.storage.engine import open_database, upgrade_database

    name = f"safehold_bench_contention_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        upgrade_database(Settings(database_url=url))
        engine = open_database(Settings(database_url=url))
        service = BankService(engine)
        service.create_bank("bench")
        service.create_bank("other")
        waits: list[float] = []
        stop = threading.Event()

        def adder() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                service.add_entry("other", NewEntry("md5", os.urandom(16).hex()))
                waits.append(time.perf_counter() - start)
                time.sleep(every)

        thread = threading.Thread(target=adder)
        thread.start()
        start = time.perf_counter()
        with csv_path.open("rb") as binary:
            report = import_bank_file(service, "bench", binary, fmt="csv", batch_rows=batch_rows)
        seconds = time.perf_counter() - start
        stop.set()
        thread.join()
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    rows = report.added + report.error_count
    waits.sort()
    p99 = waits[max(0, int(len(waits) * 0.99) - 1)]
    return (
        f"batch_rows {batch_rows:>9,}: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} "
        f"rows/s); single add wait p50 {statistics.median(waits) * 1000:,.0f} ms, p99 "
        f"{p99 * 1000:,.0f} ms, longest {waits[-1] * 1000:,.0f} ms ({len(waits)} adds)"
    )


def main() -> None:
    """Parse arguments, write the CSV, run one import per transaction size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--batch-rows", default="500000,100000")
    p.add_argument("--every", type=float, default=0.25, help="seconds between single adds")
    p.add_argument("--postgres", default=PG_ADMIN, help="an existing database to create from")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "hashes.csv"
        _write_csv(csv_path, args.rows)
        for size in (int(s) for s in args.batch_rows.split(",")):
            print(run(args.postgres, csv_path, size, args.every), flush=True)


if __name__ == "__main__":
    main()

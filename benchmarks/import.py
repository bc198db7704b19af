"""Benchmark of bulk imports: rows/s and peak memory for a large CSV and a large VICS file.

Generates (in ``--workdir``, default a temporary folder) a python-threatexchange-style CSV of
``--rows`` random md5/sha256/pdq hashes (1M by default, one bad row per 100,000) and a VICS
2.0 file of ``--media`` media items (200,000 by default), each with an MD5 and a SHA1 (two
entries), then imports each into an empty bank on SQLite and on PostgreSQL (``--postgres``;
skipped when unreachable), every import in a fresh process so its peak RSS (``VmHWM``) is its own.

It prints rows/s (wall clock; CPU seconds of the import and its parser process beside it, as
the machine may be shared; peak RSS of each, ``parser`` 0 where none ran) against the
targets of issue 7 (>= 200,000 rows/s into SQLite, >= 100,000 into PostgreSQL) and the ratio
to the previous import path measured in the same run, both on the first ``--baseline-rows``
rows of the CSV: ``NewEntry`` objects from the public readers into ``BankService.add_entries``
in 10,000-row transactions (the readers and the insert statement are today's; only the object
per row and the small transactions are the previous path's). Parse-only rates compare the
CSV reader (validation included) with a bare ``csv.reader`` loop that keeps nothing, the
floor under python-threatexchange's CSV loading
(``threatexchange/cli/dataset/simple_serialization.py``, which also keeps every row).

    python benchmarks/import.py                              # 1M CSV rows, 200k VICS media
    python benchmarks/import.py --rows 5000000 --media 1000000   # issue 7's sizes (10-15 min)
    python benchmarks/import.py --rows 500000 --media 100000 --no-postgres
    python benchmarks/import.py --no-sqlite --postgres postgresql://user@host:5432/existing_db
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"sqlite": 200_000, "postgresql": 100_000}
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def write_csv(path: Path, rows: int) -> None:
    """A CSV bank file of random hashes; every 100,000th row has a short (bad) hash."""
    kinds = (("md5", 16), ("sha256", 32), ("pdq", 32))
    with path.open("w") as f:
        f.write("signal_type,signal_str,collab,category,tags,quality,note\n")
        for start in range(0, rows, 10_000):
            lines = []
            for i in range(start, min(rows, start + 10_000)):
                kind, size = kinds[i % 3]
                value = os.urandom(size).hex()[: -1 if i % 100_000 == 99_999 else None]
                quality = "90" if kind == "pdq" else ""
                lines.append(f"{kind},{value},bench,ncmec-industry:A{1 + i % 2},,{quality},\n")
            f.write("".join(lines))


def write_vics(path: Path, media: int) -> None:
    """A VICS 2.0 Media file: each item has MD5, SHA1 and a US category (or none)."""
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    with path.open("w") as f:
        f.write('{"@odata.context": "' + context + '", "value": [')
        for start in range(0, media, 10_000):
            items = []
            for i in range(start, min(media, start + 10_000)):
                category = "null" if i % 5 == 0 else str(1 + i % 2)
                items.append(
                    f'{{"MediaID": {i + 1}, "Category": {category}, "MD5": '
                    f'"{os.urandom(16).hex().upper()}", "SHA1": "{os.urandom(20).hex().upper()}",'
                    ' "MediaSize": 12345, "IsPrecategorized": "false"}'
                )
            f.write(("," if start else "") + ",\n".join(items))
        f.write("]}\n")


def one(db: str, file: str, fmt: str, mode: str, limit: int | None) -> dict[str, Any]:
    """Import ``file`` into a fresh bank (in this process); figures as a dict."""
    from itertools import islice

    from safehold.banks.formats import read_bank_file
    from safehold.banks.importing import import_bank_file
    from safehold.banks.lines import CSV_LINE_LIMIT, DecodedLines
    from safehold.banks.models import NewEntry
    from safehold.banks.service import BankService
    from safehold.settings import Settings
    from safehold.storage.engine import open_database

    engine = open_database(Settings(database_url=db))
    service = BankService(engine)
    service.create_bank("bench")
    wall, cpu = time.perf_counter(), _cpu()
    with open(file, "rb") as binary:
        if mode == "fast":
            report = import_bank_file(service, "bench", binary, fmt=fmt)
            added, bad = report.added, report.error_count
        else:  # the previous path: NewEntry objects, 10,000-row transactions
            lines = DecodedLines(binary, name=file, max_line_bytes=CSV_LINE_LIMIT)
            items = islice(read_bank_file(lines, fmt), limit)
            good = (i for i in items if isinstance(i, NewEntry))
            added = service.add_entries("bench", good, validated=True)
            bad = 0
    seconds = time.perf_counter() - wall
    engine.dispose()
    return {
        "added": added, "bad": bad, "seconds": seconds, "cpu": _cpu() - cpu,
        "rows_per_s": (added + bad) / seconds,
        "peak_rss_mb": peak_rss_mb(),
        # An upper bound: a parser's ru_maxrss starts from this process's peak when it was
        # started (Linux carries it over fork and exec; see peak_rss_mb).
        "parser_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }  # fmt: skip


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the import's parser process
    on SQLite, ``safehold.banks.parse_process``)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` from ``/proc/self/status``.

    ``ru_maxrss`` is not used: Linux carries it over ``fork`` and ``exec``, so a child would
    report its parent's peak when that was higher.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_only(path: Path, limit: int) -> tuple[float, float]:
    """Rows/s of Safehold's CSV reader (validated rows) and of a bare ``csv.reader`` loop."""
    from itertools import islice

    from safehold.banks.formats import open_bank_file

    with path.open("rb") as binary:
        start = time.process_time()
        n = sum(1 for _ in islice(open_bank_file(binary, fmt="csv").rows, limit))
        ours = n / (time.process_time() - start)
    with path.open(newline="") as f:
        start = time.process_time()
        n = sum(1 for _ in islice(csv.reader(f), limit))
        bare = n / (time.process_time() - start)
    return ours, bare


def _postgres(admin: str) -> tuple[str, str] | None:
    """A fresh database on the server (``(url, name)``), migrated; None when unreachable."""
    try:
        import psycopg

        name = f"safehold_bench_import_{os.getpid()}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # any failure: report and go on without PostgreSQL
        print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return None
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    return url, name


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(db: str, file: Path, fmt: str, mode: str, limit: int | None) -> dict[str, Any]:
    """Run :func:`one` in a fresh process (its own peak RSS); a fresh database first."""
    from safehold.settings import Settings
    from safehold.storage.engine import upgrade_database

    upgrade_database(Settings(database_url=db))
    args = [sys.executable, __file__, "--one", db, str(file), fmt, mode, str(limit or 0)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    """Parse arguments, generate the files, run every import and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--media", type=int, default=200_000)
    p.add_argument("--baseline-rows", type=int, default=200_000)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--postgres", default=PG_ADMIN, help="an existing database to create from")
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--no-sqlite", action="store_true")
    p.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        db, file, fmt, mode, limit = args.one
        print(json.dumps(one(db, file, fmt, mode, int(limit) or None)))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="safehold-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path, vics_path = work / f"rows-{args.rows}.csv", work / f"media-{args.media}.json"
    if not csv_path.exists():
        write_csv(csv_path, args.rows)
    if not vics_path.exists():
        write_vics(vics_path, args.media)
    head_path = work / f"rows-{args.rows}-head-{args.baseline_rows}.csv"
    if not head_path.exists():
        with csv_path.open() as src, head_path.open("w") as dst:
            dst.writelines(itertools.islice(src, args.baseline_rows + 1))
    ours, bare = parse_only(csv_path, min(args.rows, 1_000_000))
    print(
        f"parse only (CPU): Safehold CSV reader {ours:,.0f} rows/s (validated); bare "
        f"csv.reader loop keeping nothing {bare:,.0f} rows/s"
    )
    print("targets (issue 7): " + ", ".join(f"{b} >= {t:,} rows/s" for b, t in TARGETS.items()))
    print(f"{'database':<11} {'file':<22} {'path':<9} {'rows/s':>9} {'cpu s':>7} "
          f"{'wall s':>7} {'peak RSS':>9} {'parser':>7} {'target':>8}  bad rows")  # fmt: skip
    backends: list[tuple[str, str, str | None]] = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        if not args.no_sqlite:
            backends.append(("sqlite", f"sqlite:///{tmp}/bench.db", None))
        if not args.no_postgres and (pg := _postgres(args.postgres)) is not None:
            backends.append(("postgresql", pg[0], pg[1]))
        for backend, url, pg_name in backends:
            runs = [
                (csv_path, "csv", "fast", None),
                (head_path, "csv", "fast", args.baseline_rows),
                (head_path, "csv", "previous", args.baseline_rows),
                (vics_path, "vics", "fast", None),
            ]
            results: dict[str, dict[str, Any]] = {}
            for file, fmt, mode, limit in runs:
                if backend == "sqlite":
                    Path(f"{tmp}/bench.db").unlink(missing_ok=True)
                elif pg_name is not None:
                    _drop(args.postgres, pg_name)
                    _postgres(args.postgres)
                r = _run(url, file, fmt, mode, limit)
                results[f"{fmt}-{mode}-{limit}"] = r
                target = TARGETS[backend]
                met = "met" if r["rows_per_s"] >= target else "NOT met"
                label = file.name if limit is None else f"{file.name}[:{limit:,}]"
                print(f"{backend:<11} {label:<22} {mode:<9} {r['rows_per_s']:>9,.0f} "
                      f"{r['cpu']:>7.1f} {r['seconds']:>7.1f} {r['peak_rss_mb']:>6.0f} MB "
                      f"{r['parser_rss_mb']:>4.0f} MB "
                      f"{met:>8}  {r['bad']:,}", flush=True)  # fmt: skip
            n = args.baseline_rows
            fast, previous = results[f"csv-fast-{n}"], results[f"csv-previous-{n}"]
            speed = fast["rows_per_s"] / previous["rows_per_s"]
            print(
                f"{backend}: on the first {n:,} CSV rows, {speed:.1f}x the previous path's "
                f"rows/s, {previous['cpu'] / fast['cpu']:.1f}x less CPU"
            )
            if pg_name is not None:
                _drop(args.postgres, pg_name)


if __name__ == "__main__":
    main()

"""Totals of one scan run, the exit status they imply, and their Rich table.

The exit status of ``safehold scan`` is a function of the totals only (see ``docs/scanning.md``):
0 no match and no file error, 1 a match, 4 file errors and no match, 5 both; 8 nothing to
match against (no bank entry was loaded, so files were only hashed; not for a hash-only scan),
12 nothing to match against and file errors. Bits: 1 match, 4 file errors, 8 nothing to match.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from safehold.scanning.records import ScanRecord

EXIT_CLEAN = 0
EXIT_MATCH = 1
EXIT_USAGE = 2
EXIT_FILE_ERRORS = 4
EXIT_MATCH_AND_FILE_ERRORS = 5
#: Added (bitwise or) to 0 or 4 when no bank entry was loaded: "no match" means nothing.
EXIT_NOTHING_TO_MATCH = 8


@dataclass(slots=True)
class ScanSummary:
    """Counts over the records of one scan.

    Attributes:
        files: records emitted (one per path, errors included).
        hashed: files hashed by a worker in this run.
        cached: files whose signals came from the cache.
        matched: files with at least one match.
        matches: matches over all files.
        errors: error ``type`` -> number of files.
        bytes: total size of files with a known size.
        duplicate_dirs: directories not walked twice (already walked via another path).
        duplicate_files: files not scanned twice (already reached via another path).
        own_files: Safehold's own files under a scanned folder (this run's outputs, the scan
            cache), left out of the scan.
        bank_entries: bank entries indexed for matching (0 without banks).
        worker_restarts: workers replaced after a timeout, crash or memory exhaustion.
        elapsed_seconds: wall-clock time of the run.
    """

    files: int = 0
    hashed: int = 0
    cached: int = 0
    matched: int = 0
    matches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    duplicate_dirs: int = 0
    duplicate_files: int = 0
    own_files: int = 0
    bank_entries: int = 0
    worker_restarts: int = 0
    elapsed_seconds: float = 0.0

    def add(self, record: ScanRecord) -> None:
        """Count one emitted record."""
        self.files += 1
        if record.cached:
            self.cached += 1
        if record.matches:
            self.matched += 1
            self.matches += len(record.matches)
        if record.error is not None:
            self.errors[record.error.type] += 1
        if record.size is not None:
            self.bytes += record.size

    @property
    def error_count(self) -> int:
        """Files with an error."""
        return sum(self.errors.values())

    @property
    def files_per_second(self) -> float:
        """Throughput over the whole run (0.0 for an instant run)."""
        return self.files / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def exit_status(self, *, hash_only: bool = False) -> int:
        """0 clean, 1 match, 4 file errors, 5 both; plus 8 when there was nothing to match.

        8 (12 with file errors) means no bank entry was loaded (``bank_entries == 0``), so
        "no match" says nothing. With ``hash_only`` (``safehold scan --hash-only``) an empty
        bank set is expected and the 8 is left out.
        """
        if self.matched:
            return EXIT_MATCH_AND_FILE_ERRORS if self.error_count else EXIT_MATCH
        status = EXIT_FILE_ERRORS if self.error_count else EXIT_CLEAN
        if not hash_only and not self.bank_entries:
            status |= EXIT_NOTHING_TO_MATCH
        return status

    def to_dict(self) -> dict[str, Any]:
        """Return the totals as JSON-ready values."""
        return {
            "files": self.files,
            "hashed": self.hashed,
            "cached": self.cached,
            "matched": self.matched,
            "matches": self.matches,
            "errors": dict(sorted(self.errors.items())),
            "bytes": self.bytes,
            "duplicate_dirs": self.duplicate_dirs,
            "duplicate_files": self.duplicate_files,
            "own_files": self.own_files,
            "bank_entries": self.bank_entries,
            "worker_restarts": self.worker_restarts,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "files_per_second": round(self.files_per_second, 1),
        }


def summary_table(summary: ScanSummary) -> Table:
    """Render the totals as a two-column Rich table."""
    table = Table(title="Scan summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("files", str(summary.files))
    table.add_row("hashed", str(summary.hashed))
    table.add_row("from cache", str(summary.cached))
    table.add_row("matched files", str(summary.matched), style="red" if summary.matched else "")
    table.add_row("matches", str(summary.matches))
    if summary.errors:
        for kind, count in sorted(summary.errors.items()):
            table.add_row(f"errors: {kind}", str(count), style="yellow")
    else:
        table.add_row("errors", "0")
    if summary.duplicate_dirs:
        table.add_row("directories already walked", str(summary.duplicate_dirs))
    if summary.duplicate_files:
        table.add_row("files already scanned (reached twice)", str(summary.duplicate_files))
    if summary.own_files:
        table.add_row("own output/cache files skipped", str(summary.own_files))
    if summary.worker_restarts:
        table.add_row("workers replaced", str(summary.worker_restarts))
    table.add_row("bank entries", str(summary.bank_entries))
    table.add_row("elapsed", f"{summary.elapsed_seconds:.2f} s")
    table.add_row("files/s", f"{summary.files_per_second:.1f}")
    return table

"""A self-contained HTML report of one scan: matches first, then errors, then totals.

The page is one file with inline CSS, no JavaScript, no external assets and, to protect
reviewers, no thumbnails or embedded images of matched files: only paths, bank names, entry
ids, categories, signal types, distances and error messages, each HTML-escaped. Bank hash
values never reach it (records do not carry them). File names need not be valid UTF-8: bytes
that are not, and control characters, are shown as backslash escapes
(:func:`safehold.output_files.printable`), so the page is always valid UTF-8. The page is
written to a temporary file beside the target and renamed into place, so a failure never
leaves a truncated report; a link or special file at the target is refused, never replaced
(:func:`safehold.output_files.write_replacing`).

The layout lives in ``templates/report.html`` (``string.Template`` placeholders); this module
builds the tables.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template

from safehold import __version__
from safehold.output_files import printable, write_replacing
from safehold.scanning.records import ScanRecord
from safehold.scanning.summary import ScanSummary


def _e(value: object) -> str:
    """HTML-escape ``value`` (quotes included) after :func:`printable`; None becomes ""."""
    return "" if value is None else html.escape(printable(str(value)), quote=True)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="path"' if i == 0 else (' class="num"' if i in numeric else "")
            cells.append(f"<td{cls}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


class HtmlReport:
    """Collects the records worth reporting (matched or failed files) during a scan.

    Only matched and failed records are kept, so memory grows with findings, not with the
    number of files scanned.
    """

    def __init__(self) -> None:
        self.matched: list[ScanRecord] = []
        self.failed: list[ScanRecord] = []

    def add(self, record: ScanRecord) -> None:
        """Keep ``record`` if it has matches or an error."""
        if record.matches:
            self.matched.append(record)
        if record.error is not None:
            self.failed.append(record)

    def render(self, summary: ScanSummary) -> str:
        """Return the whole HTML page."""
        template = Template(
            resources.files("safehold.scanning")
            .joinpath("templates/report.html")
            .read_text(encoding="utf-8")
        )
        return template.substitute(
            generated=_e(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
            version=_e(__version__),
            match_count=len(self.matched),
            error_count=len(self.failed),
            matches=self._matches(),
            errors=self._errors(),
            totals=self._totals(summary),
        )

    def write(self, path: Path, summary: ScanSummary) -> None:
        """Write the page to ``path`` (UTF-8), replacing it in one step.

        Raises:
            InvalidInputError: ``path`` is a symbolic link or special file (left untouched).
            OSError: the folder is not writable (``path`` is then left as it was).
        """
        write_replacing(path, self.render(summary).encode("utf-8"))

    def _matches(self) -> str:
        if not self.matched:
            return '<p class="none">No file matched a bank entry.</p>'
        rows = [
            [
                _e(record.path),
                _e(m.bank),
                _e(m.category or "-"),
                _e(m.signal_type),
                _e(m.distance),
                _e(m.variant or "-"),
                _e(m.entry_id),
                _e(m.source or "-"),
            ]
            for record in self.matched
            for m in record.matches
        ]
        headers = ["file", "bank", "category", "signal", "distance", "variant", "entry", "source"]
        return _table(headers, rows, numeric={4, 6})

    def _errors(self) -> str:
        if not self.failed:
            return '<p class="none">Every file was hashed.</p>'
        rows = [
            [_e(r.path), _e(r.error.type), _e(r.error.message)]
            for r in self.failed
            if r.error is not None
        ]
        return _table(["file", "error", "message"], rows, numeric=set())

    def _totals(self, summary: ScanSummary) -> str:
        rows: list[tuple[str, object]] = [
            ("files", summary.files),
            ("hashed", summary.hashed),
            ("from cache", summary.cached),
            ("matched files", summary.matched),
            ("matches", summary.matches),
            *[(f"errors: {k}", v) for k, v in sorted(summary.errors.items())],
            ("bank entries", summary.bank_entries),
            ("elapsed (s)", f"{summary.elapsed_seconds:.2f}"),
            ("files/s", f"{summary.files_per_second:.1f}"),
        ]
        body = "\n".join(f'<tr><th>{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in rows)
        return f'<table class="totals">\n{body}\n</table>'

"""The HTML report: matches, then errors, then totals; escaped; no images, scripts or assets."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from safehold.errors import InvalidInputError
from safehold.scanning.outputs import is_safehold_output
from safehold.scanning.records import FileError, MatchInfo, ScanRecord
from safehold.scanning.report import HtmlReport
from safehold.scanning.summary import ScanSummary
from safehold.signals.base import Signal

EVIL = '/srv/up<script>alert("x")</script>&"quoted".jpg'


def _record(path: str, *, matched: bool = False, error: FileError | None = None) -> ScanRecord:
    matches = (
        [MatchInfo("ncmec", 42, "pdq", 7, "ncmec-industry:A1", "hotline <feed>", "rotate90")]
        if matched
        else []
    )
    return ScanRecord(
        path=path,
        content_type="photo",
        size=10,
        signals={"pdq": Signal("pdq", "ab" * 32, 100)},
        matches=matches,
        error=error,
        cached=False,
    )


def _render() -> str:
    report = HtmlReport()
    report.add(_record("/srv/clean.jpg"))
    report.add(_record(EVIL, matched=True))
    report.add(_record("/srv/broken<1>.png", error=FileError("corrupt", "bad <IDAT> chunk")))
    summary = ScanSummary(files=3, hashed=3, matched=1, matches=1, errors=Counter(corrupt=1))
    summary.elapsed_seconds = 2.0
    return report.render(summary)


def test_paths_and_messages_are_escaped() -> None:
    page = _render()
    assert "<script>" not in page
    assert (
        "/srv/up&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;quoted&quot;.jpg"
        in page
    )
    assert "/srv/broken&lt;1&gt;.png" in page
    assert "bad &lt;IDAT&gt; chunk" in page
    assert "hotline &lt;feed&gt;" in page


def test_matches_come_first_then_errors_then_totals() -> None:
    page = _render()
    assert page.index('id="matches"') < page.index("ncmec-industry:A1") < page.index('id="errors"')
    assert page.index('id="errors"') < page.index("bad &lt;IDAT&gt;") < page.index('id="totals"')
    assert "/srv/clean.jpg" not in page  # clean files are not listed
    row = re.search(r"<tr><td class=\"path\">[^<]*quoted[^<]*</td>(.*?)</tr>", page)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells == [
        "ncmec",
        "ncmec-industry:A1",
        "pdq",
        "7",
        "rotate90",
        "42",
        "hotline &lt;feed&gt;",
    ]
    assert '<th>files/s</th><td class="num">1.5</td>' in page


def test_self_contained_without_images_scripts_or_hashes() -> None:
    page = _render().lower()
    for forbidden in ("<img", "<script", "<link", "<iframe", "<object", "url(", "src=", "data:"):
        assert forbidden not in page
    assert "<style>" in page
    assert "ab" * 32 not in page  # not even the scanned file's own hashes


def test_empty_report_says_so() -> None:
    page = HtmlReport().render(ScanSummary())
    assert "No file matched a bank entry." in page
    assert "Every file was hashed." in page


def test_names_that_are_not_utf8_or_hold_controls_are_shown_escaped(tmp_path: Path) -> None:
    bad = os.fsdecode(b"/srv/bad\xff\xfename.jpg")
    report = HtmlReport()
    report.add(_record(bad, matched=True))
    error = FileError("corrupt", f"cannot decode {bad}")
    report.add(_record(os.fsdecode(b"/srv/\x1b[2Jx.png"), error=error))
    target = tmp_path / "report.html"
    target.write_text("an older report")
    report.write(target, ScanSummary(files=2))
    page = target.read_text(encoding="utf-8")  # valid UTF-8
    assert '<td class="path">/srv/bad\\xff\\xfename.jpg</td>' in page
    assert "cannot decode /srv/bad\\xff\\xfename.jpg" in page
    assert "\x1b" not in page
    assert "/srv/\\x1b[2Jx.png" in page
    assert is_safehold_output(target)  # a later scan may overwrite it
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder is never replaced
    with pytest.raises(InvalidInputError, match="it is a folder"):
        HtmlReport().write(target, ScanSummary())
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert list(target.iterdir()) == []

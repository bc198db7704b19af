"""Safehold's own files: printable names, output checks, telling old outputs from media."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import InvalidInputError
from safehold.scanning.outputs import (
    check_destination,
    is_safehold_output,
    own_file_ids,
    printable,
    refuse_clobbering,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (os.fsdecode(b"/srv/bad\xff\xfename.jpg"), "/srv/bad\\xff\\xfename.jpg"),
        ("/srv/a\x1b[2Jb.jpg", "/srv/a\\x1b[2Jb.jpg"),
        ("/srv/two\nlines\t.jpg", "/srv/two\\nlines\\t.jpg"),
        ("/srv/\u202egpj.exe", "/srv/\\u202egpj.exe"),
        ("/srv/caf\u00e9 \u732b.jpg", "/srv/caf\u00e9 \u732b.jpg"),
        ("/srv/back\\slash.jpg", "/srv/back\\\\slash.jpg"),
        ("/srv/lone\ud800.jpg", "/srv/lone\\ud800.jpg"),
    ],
)
def test_printable_escapes_undecodable_bytes_and_controls(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    shown.encode("utf-8")  # always encodable


def test_check_destination_accepts_new_and_existing_files(tmp_path: Path) -> None:
    check_destination(tmp_path / "new.jsonl")
    (tmp_path / "old.jsonl").write_text("x")
    check_destination(tmp_path / "old.jsonl")
    assert (tmp_path / "old.jsonl").read_text() == "x"  # not touched
    assert not (tmp_path / "new.jsonl").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root, "it is a folder"),
        (lambda root: root / "missing" / "x.html", "folder .*missing does not exist"),
    ],
)
def test_check_destination_refuses_before_writing(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_destination(make(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_destination_refuses_an_unwritable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InvalidInputError, match="not writable"):
            check_destination(locked / "x.jsonl")
    finally:
        locked.chmod(0o700)


def test_only_empty_files_and_earlier_outputs_may_be_overwritten(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    photo = make_image(tmp_path / "cat.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list")
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text('{"path": "/srv/a.jpg", "content_type": "photo"}\n')
    report = tmp_path / "report.html"
    report.write_text('<!DOCTYPE html>\n<head>\n<meta name="generator" content="safehold 0.1">')
    empty = tmp_path / "empty"
    empty.touch()
    assert [is_safehold_output(p) for p in (photo, notes, jsonl, report, empty)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    with pytest.raises(InvalidInputError, match=r"refusing to write .*cat\.png"):
        refuse_clobbering(photo)
    refuse_clobbering(jsonl)


def test_own_file_ids_cover_existing_outputs_and_the_cache_files(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("")
    cache = tmp_path / "scan-cache.sqlite"
    cache.write_bytes(b"")
    wal = tmp_path / "scan-cache.sqlite-wal"
    wal.write_bytes(b"")
    ids = own_file_ids([out, tmp_path / "not-yet.html"], cache)
    found = {path.name: is_output for path, is_output in ids.values()}
    assert found == {"out.jsonl": True, "scan-cache.sqlite": False, "scan-cache.sqlite-wal": False}
    st = os.stat(out)
    assert ids[(st.st_dev, st.st_ino)] == (out, True)

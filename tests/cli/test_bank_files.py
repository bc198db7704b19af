"""Private output files for exported hash lists: new, 0600, never through a link, and removed
again when writing fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from safehold.cli.bank_files import PrivateOutput
from safehold.errors import ConflictError, InvalidInputError


def test_a_new_file_is_private_even_with_an_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with PrivateOutput(tmp_path / "out.csv") as out:
            out.write("x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o600
    assert (tmp_path / "out.csv").read_text() == "x\n"


def _write_then_fail(output: PrivateOutput, text: str) -> None:
    with output as out:
        out.write(text)
        out.flush()
        raise RuntimeError("the database went away")


def test_a_failed_export_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        _write_then_fail(PrivateOutput(path), "secret hash values\n")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_forced_export_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("previous export\n")
    with pytest.raises(RuntimeError):
        _write_then_fail(PrivateOutput(path, force=True), "half of the new one\n")
    assert path.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_existing_paths_links_and_devices_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("keep")
    with pytest.raises(ConflictError, match="already exists; use --force"):
        PrivateOutput(path).__enter__()
    link = tmp_path / "link"
    link.symlink_to(path)
    for force in (False, True):
        with pytest.raises((ConflictError, InvalidInputError)):
            PrivateOutput(link, force=force).__enter__()
    if os.path.exists("/dev/null"):
        with pytest.raises(InvalidInputError, match="not a regular file"):
            PrivateOutput(Path("/dev/null"), force=True).__enter__()
    assert path.read_text() == "keep"


def test_a_missing_folder_names_the_file_asked_for(tmp_path: Path) -> None:
    wanted = tmp_path / "missing" / "out.csv"
    for force in (False, True):
        with pytest.raises(FileNotFoundError) as info:
            PrivateOutput(wanted, force=force).__enter__()
        assert info.value.filename == str(wanted)

"""The shared rule for files Safehold writes: never through a link, never over a special file."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import InvalidInputError
from safehold.output_files import PrivateOutput, check_target, open_stream, write_replacing


def _fifo(root: Path) -> Path:
    path = root / "fifo1"
    os.mkfifo(path)
    return path


def _link(root: Path) -> Path:
    (root / "victim.txt").write_text("keep")
    path = root / "lnk.html"
    path.symlink_to("victim.txt")
    return path


def _device(root: Path) -> Path:
    path = root / "fakefull"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


SPECIAL = [_fifo, _link, _device]


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


@pytest.mark.parametrize("make", SPECIAL)
def test_every_writer_refuses_a_special_file_and_leaves_it_as_it_was(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    target = make(tmp_path)
    kind = _kind(target)
    with pytest.raises(InvalidInputError, match="cannot write"):
        check_target(target)
    with pytest.raises(InvalidInputError, match="cannot write"):
        open_stream(target)  # a FIFO without a reader: refused at once, not waited on
    with pytest.raises(InvalidInputError, match="cannot write"):
        write_replacing(target, b"<html>")
    for force in (False, True):
        with pytest.raises(InvalidInputError, match="cannot write"):
            PrivateOutput(target, force=force).__enter__()
    assert _kind(target) == kind  # still a FIFO, link or device: never renamed over
    if (tmp_path / "victim.txt").exists():
        assert (tmp_path / "victim.txt").read_text() == "keep"
    assert {p.name for p in tmp_path.iterdir()} == {target.name} | (  # no temporary left
        {"victim.txt"} if target.name == "lnk.html" else set()
    )


def test_dev_null_is_refused_like_any_device() -> None:
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    with pytest.raises(InvalidInputError, match="device, FIFO or other special file"):
        check_target(Path("/dev/null"))


def test_regular_files_are_written_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("an older, longer output\n")
    with open_stream(path) as out:
        out.write("new\n")
    assert path.read_text() == "new\n"  # truncated only after the check
    report = tmp_path / "report.html"
    write_replacing(report, b"<html>")
    write_replacing(report, b"<html>2")
    assert report.read_bytes() == b"<html>2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "report.html"]


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"folder .*missing does not exist"):
        check_target(tmp_path / "missing" / "out.jsonl")

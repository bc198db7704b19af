"""The walk: deterministic order, symlink loops, and an item for every path that cannot be read."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from safehold.scanning.walk import collect


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_depth_first_sorted_by_name(tmp_path: Path) -> None:
    for name in ["b.png", "a/z.png", "a/b/c.png", "c.png", "A.png"]:
        _touch(tmp_path / name)
    items = collect([tmp_path])
    rel = [os.path.relpath(i.path, tmp_path) for i in items]
    assert rel == ["A.png", "a/b/c.png", "a/z.png", "b.png", "c.png"]
    assert all(i.error is None and i.size == 1 and i.mtime_ns > 0 for i in items)


def test_named_paths_keep_their_order_and_repeats_are_dropped(tmp_path: Path) -> None:
    b = _touch(tmp_path / "b.png")
    a = _touch(tmp_path / "a.png")
    items = collect([b, a, b, tmp_path / "." / "b.png"])
    assert [i.path for i in items] == [str(b), str(a)]


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path / "d" / "f.png")
    monkeypatch.chdir(tmp_path)
    (item,) = collect(["d"])
    assert item.path == str(tmp_path / "d" / "f.png")


def test_symlink_loop_is_walked_once_and_reported(tmp_path: Path) -> None:
    _touch(tmp_path / "root" / "f.png")
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root", target_is_directory=True)
    items = collect([tmp_path / "root"])
    files = [i for i in items if not i.duplicate_dir]
    dups = [i for i in items if i.duplicate_dir]
    assert [i.path for i in files] == [str(tmp_path / "root" / "f.png")]
    assert [i.path for i in dups] == [str(tmp_path / "root" / "loop")]


def test_file_symlink_is_scanned_under_its_own_path(tmp_path: Path) -> None:
    target = _touch(tmp_path / "real.png", b"abc")
    (tmp_path / "link.png").symlink_to(target)
    items = collect([tmp_path])
    assert [(Path(i.path).name, i.size) for i in items] == [("link.png", 3), ("real.png", 3)]


def test_broken_link_missing_path_and_fifo_get_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.png").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "pipe")
    items = collect([tmp_path, tmp_path / "missing.jpg"])
    by_name = {Path(i.path).name: i for i in items}
    assert by_name["broken.png"].error is not None
    assert by_name["broken.png"].error.code == "not_found"
    assert "broken symbolic link" in by_name["broken.png"].error.message
    assert by_name["pipe"].error is not None
    assert by_name["pipe"].error.code == "unreadable"
    assert "FIFO" in by_name["pipe"].error.message
    assert by_name["missing.jpg"].error is not None
    assert by_name["missing.jpg"].error.code == "not_found"
    assert by_name["missing.jpg"].error.message == "no such file or directory"  # said once


def test_excluded_files_are_flagged_wherever_they_are_reached(tmp_path: Path) -> None:
    out = _touch(tmp_path / "media" / "out.jsonl")
    _touch(tmp_path / "media" / "a.png")
    (tmp_path / "alias").symlink_to(tmp_path / "media")
    st = os.stat(out)
    items = collect([tmp_path / "alias", out], exclude={(st.st_dev, st.st_ino)})
    assert [(os.path.relpath(i.path, tmp_path), i.own_file, i.to_scan) for i in items] == [
        ("alias/a.png", False, True),
        ("alias/out.jsonl", True, False),
        ("media/out.jsonl", True, False),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_gets_an_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    _touch(locked / "f.png")
    locked.chmod(0)
    try:
        items = collect([tmp_path])
    finally:
        locked.chmod(0o755)
    assert [(Path(i.path).name, i.error and i.error.code) for i in items] == [
        ("locked", "unreadable")
    ]


def test_deep_tree_does_not_hit_the_recursion_limit(tmp_path: Path) -> None:
    levels = [str(tmp_path)]
    for _ in range(1100):  # deeper than Python's recursion limit; made one level at a time
        levels.append(os.path.join(levels[-1], "d"))
        os.mkdir(levels[-1])
    try:
        leaf = _touch(Path(levels[-1]) / "f.png")
        items = collect([tmp_path])
        assert [i.path for i in items] == [str(leaf)]
        leaf.unlink()
    finally:  # remove it here: pytest's recursive clean-up of tmp dirs would overflow
        for level in reversed(levels[1:]):
            with contextlib.suppress(OSError):
                os.rmdir(level)


def test_a_file_reached_twice_is_scanned_once(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "file.jpg").write_bytes(b"x")
    (folder / "other.jpg").write_bytes(b"y")
    (tmp_path / "link.jpg").symlink_to(folder / "file.jpg")
    items = collect([folder / "file.jpg", folder, tmp_path / "link.jpg"])
    scanned = [os.path.relpath(i.path, tmp_path) for i in items if i.to_scan]
    assert scanned == ["dir/file.jpg", "dir/other.jpg"]
    duplicates = [os.path.relpath(i.path, tmp_path) for i in items if i.duplicate_file]
    assert duplicates == ["dir/file.jpg", "link.jpg"]

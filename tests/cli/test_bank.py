"""``safehold bank`` end to end through Typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.cli import bank
from safehold.signals import get_signal_type

# Wide enough that Rich never truncates a table cell.
runner = CliRunner(env={"COLUMNS": "200"})
MD5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, shared/data expected-hashes.csv


def invoke(*args: str) -> Result:
    return runner.invoke(bank.app, list(args))


def _reference(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        return list(csv.DictReader(f))


def test_create_list_show(bank_service: BankService) -> None:
    result = invoke("create", "ncmec", "--description", "hotline list", "--source", "ncmec",
                    "--threshold", "pdq=24", "--threshold", "md5=0")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created bank ncmec" in result.stdout
    assert bank_service.get_bank("ncmec").thresholds == {"pdq": 24, "md5": 0}
    listing = invoke("list")
    assert listing.exit_code == 0
    assert "ncmec" in listing.stdout
    assert "md5=0, pdq=24" in listing.stdout
    shown = invoke("show", "ncmec")
    assert shown.exit_code == 0
    assert "hotline list" in shown.stdout
    assert "entries:     0 (0 enabled)" in shown.stdout


def test_errors_print_a_message_and_exit_2(bank_service: BankService) -> None:
    bank_service.create_bank("taken")
    for args, needle in [
        (("create", "taken"), "a bank named 'taken' already exists"),
        (("create", "new", "--threshold", "pdq"), "must be written TYPE=N"),
        (("create", "new", "--threshold", "pdq=999"), "between 0 and 256"),
        (("create", "bad name"), "bank name"),
        (("show", "missing"), "no bank named 'missing'"),
        (("disable", "missing"), "no bank named 'missing'"),
        (("disable-entry", "123456"), "no bank entry with id 123456"),
        (("export", "taken", "--format", "xml"), "unknown format"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: "), args
        assert needle in result.stderr, (args, result.stderr)


def test_import_reference_pdq_list_reports_bad_rows(
    bank_service: BankService, shared_data: Path, tmp_path: Path
) -> None:
    rows = _reference(shared_data)
    values = [r["pdq"] for r in rows]
    distinct = set(values)
    lines = ["# PDQ of the benign reference images", *values]
    lines.insert(5, values[0][:-2])  # line 6: too short
    lines.insert(9, "pdq " + "x" * 64)  # line 10: not hex
    path = tmp_path / "reference.txt"
    path.write_text("\n".join(lines) + "\n")
    bank_service.create_bank("reference")
    result = invoke("import", "reference", str(path), "--signal-type", "pdq",
                    "--category", "local:reference", "--source", "shared-data")  # fmt: skip
    assert result.exit_code == 0, result.output
    duplicates = len(values) - len(distinct)
    assert f"{len(distinct)} added, {duplicates} duplicates skipped, 2 bad rows" in result.stderr
    assert "line 6: a pdq hash is 64 hexadecimal digits" in result.stderr
    assert "line 10:" in result.stderr
    entries = list(bank_service.iter_entries("reference"))
    assert {e.value for e in entries} == distinct
    assert {(str(e.category), e.source) for e in entries} == {("local:reference", "shared-data")}
    shown = invoke("show", "reference")
    assert "local:reference" in shown.stdout
    for value in distinct:
        assert value not in shown.output + result.output  # hashes are never echoed


def test_import_csv_and_nothing_readable(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("b")
    good = tmp_path / "list.csv"
    good.write_text(f"signal_type,signal_str,category\nmd5,{'a' * 32},vics:1\n")
    result = invoke("import", "b", str(good))
    assert result.exit_code == 0, result.output
    assert "1 added, 0 duplicates skipped, 0 bad rows" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("signal_type,signal_str\nmd5,zz\nmd5,yy\n")
    result = invoke("import", "b", str(bad))
    assert result.exit_code == 1
    assert "nothing could be read" in result.stderr
    assert invoke("import", "missing", str(good)).exit_code == 2
    missing = invoke("import", "b", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "nope.csv" in missing.stderr


def test_export_round_trip_and_private_file(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("src")
    source = tmp_path / "in.csv"
    source.write_text(
        "signal_type,signal_str,collab,category,tags,quality,note\n"
        f"pdq,{'1' * 64},ncmec,ncmec-industry:A1,,90,first\n"
        f"md5,{'2' * 32},,,,,\n"
    )
    assert invoke("import", "src", str(source)).exit_code == 0
    out = tmp_path / "out.csv"
    result = invoke("export", "src", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 2 entries" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # The same rows; an import stores each transaction's rows in the unique key's order
    # (md5 before pdq), and an export lists entries by id.
    lines = source.read_text().splitlines(keepends=True)
    assert out.read_text() == "".join([lines[0], lines[2], lines[1]])
    bank_service.create_bank("copy")
    assert invoke("import", "copy", str(out)).exit_code == 0
    key = [(e.signal_type, e.value, e.quality, e.category, e.source, e.note)
           for e in bank_service.iter_entries("src")]  # fmt: skip
    assert key == [
        (e.signal_type, e.value, e.quality, e.category, e.source, e.note)
        for e in bank_service.iter_entries("copy")
    ]
    plain = invoke("export", "src", "--format", "plain", "--signal-type", "md5")
    assert plain.stdout == f"{'2' * 32}\n"
    mixed = invoke("export", "src", "--format", "plain")
    assert mixed.stdout == f"md5 {'2' * 32}\npdq {'1' * 64}\n"


def test_disable_and_enable(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    assert invoke("disable", "b").exit_code == 0
    assert bank_service.get_bank("b").enabled is False
    assert invoke("enable", "b").exit_code == 0
    assert bank_service.get_bank("b").enabled is True
    bank_service.add_entries("b", [NewEntry("md5", "0" * 32)])
    (entry,) = bank_service.iter_entries("b")
    result = invoke("disable-entry", str(entry.id))
    assert result.exit_code == 0
    assert f"entry {entry.id} disabled (bank b)" in result.stdout
    assert bank_service.matchable_entries("md5") == []
    assert invoke("enable-entry", str(entry.id)).exit_code == 0
    assert len(bank_service.matchable_entries("md5")) == 1


def test_add_media_hashes_files_and_reports_bad_ones(
    bank_service: BankService, shared_data: Path, tmp_path: Path
) -> None:
    images = shared_data / "reference" / "images"
    media = tmp_path / "media"
    media.mkdir()
    (media / "empty.jpg").write_bytes(b"")
    (media / "notes.txt").write_text("not an image")
    bank_service.create_bank("known")
    original = images / "bridge-mods" / "aaa-orig.jpg"
    result = invoke(
        "add-media", "known", str(images / "misc-images"), str(original), str(media),
        str(media / "missing.png"), "--category", "local:test", "--note", "benign",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 files hashed" in result.stderr
    assert "3 files failed" in result.stderr
    assert "empty.jpg" in result.stderr
    assert "missing.png" in result.stderr
    assert "small.jpg: pdq: quality 0 is too low" in result.stderr
    expected = {
        r["path"]: r for r in _reference(shared_data)
        if r["path"].startswith("images/misc-images/") or r["path"].endswith("aaa-orig.jpg")
    }  # fmt: skip
    entries = list(bank_service.iter_entries("known"))
    by_type: dict[str, set[str]] = {}
    for e in entries:
        by_type.setdefault(e.signal_type, set()).add(e.value)
        assert (str(e.category), e.note) == ("local:test", "benign")
    assert by_type["md5"] == {r["md5"] for r in expected.values()}
    assert by_type["sha256"] == {r["sha256"] for r in expected.values()}
    pdq = get_signal_type("pdq")
    wanted = [r["pdq"] for r in expected.values() if int(r["pdq_quality"]) >= 50]
    assert len(by_type["pdq"]) == len(wanted) == 3
    for value in wanted:  # another PDQ implementation: a few bits apart, not equal
        assert min(pdq.distance(value, got) for got in by_type["pdq"]) <= 8


def test_add_media_with_chosen_signal_type(bank_service: BankService, shared_data: Path) -> None:
    bank_service.create_bank("md5-only")
    image = shared_data / "reference" / "images" / "bridge-mods" / "aaa-orig.jpg"
    result = invoke("add-media", "md5-only", str(image), "--signal-type", "md5")
    assert result.exit_code == 0, result.output
    assert [e.signal_type for e in bank_service.iter_entries("md5-only")] == ["md5"]
    unknown = invoke("add-media", "md5-only", str(image), "--signal-type", "tmk")
    assert unknown.exit_code == 2
    assert "unknown signal type 'tmk'" in unknown.stderr


COMMANDS = ["create", "update", "list", "show", "import", "export", "add-media", "disable",
            "enable", "disable-entry", "enable-entry"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_import_from_stdin_lists_at_most_20_bad_rows(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    text = "\n".join(["0" * 32] + [f"bad{i}" for i in range(25)]) + "\n"
    result = runner.invoke(bank.app, ["import", "b", "-", "--signal-type", "md5"], input=text)
    assert result.exit_code == 0, result.output
    assert "1 added, 0 duplicates skipped, 25 bad rows" in result.stderr
    assert "line 21:" in result.stderr
    assert "line 22:" not in result.stderr
    assert "... and 5 more bad rows" in result.stderr


def test_export_refuses_an_existing_file_unless_forced(
    bank_service: BankService, tmp_path: Path
) -> None:
    bank_service.create_bank("b")
    bank_service.add_entries("b", [NewEntry("md5", MD5)])
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "out.csv"
    out.write_text("old")
    out.chmod(0o644)
    refused = invoke("export", "b", "--output", str(out))
    assert refused.exit_code == 2
    assert refused.stderr == f"error: {out} already exists; use --force to replace it\n"
    assert out.read_text() == "old"
    forced = invoke("export", "b", "--output", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().splitlines() == [
        "signal_type,signal_str,collab,category,tags,quality,note",
        f"md5,{MD5},,,,,",
    ]
    assert [p.name for p in folder.iterdir()] == ["out.csv"]  # no temporary file left


def test_export_never_follows_a_symbolic_link(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("b")
    bank_service.add_entries("b", [NewEntry("md5", MD5)])
    target = tmp_path / "elsewhere.txt"
    link = tmp_path / "link.csv"
    link.symlink_to(target)  # dangling: following it would create the target
    assert invoke("export", "b", "--output", str(link)).exit_code == 2
    forced = invoke("export", "b", "--output", str(link), "--force")
    assert forced.exit_code == 2
    assert (
        forced.stderr
        == f"error: cannot write {link}: it is a symbolic link; name the file itself\n"
    )
    assert not target.exists()
    assert link.is_symlink()
    target.write_text("keep")
    assert invoke("export", "b", "--output", str(link), "--force").exit_code == 2
    assert target.read_text() == "keep"


def test_export_plain_of_vpdq_fails_before_writing(
    bank_service: BankService, shared_data: Path, tmp_path: Path
) -> None:
    frames = (shared_data / "reference/videos/vpdq-hashes/chair-19-sd-bar.txt").read_text()
    bank_service.create_bank("v")
    bank_service.add_entries("v", [NewEntry("md5", MD5), NewEntry("vpdq", frames)])
    out = tmp_path / "out.txt"
    for args in ([], ["--output", str(out)]):
        result = invoke("export", "v", "--format", "plain", *args)
        assert result.exit_code == 2
        assert result.stdout == ""  # not a single hash value written
        assert "vpdq values span several lines" in result.stderr
    assert not out.exists()
    only_md5 = invoke("export", "v", "--format", "plain", "--signal-type", "md5")
    assert (only_md5.exit_code, only_md5.stdout) == (0, f"{MD5}\n")
    assert "exported 1 entry from v" in only_md5.stderr


def test_export_checks_the_signal_type(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    result = invoke("export", "b", "--signal-type", "nosuch")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: unknown signal type 'nosuch' (known: md5, pdq, sha1, sha256, url, vpdq)\n"
    )
    alias = invoke("export", "b", "--signal-type", "VIDEO_MD5")
    assert alias.exit_code == 0, alias.output


def _safehold(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", "from safehold.cli.main import app; app()", *args]
    return subprocess.run(command, check=False, timeout=60, **kw)


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_export_into_a_closed_pipe_or_full_disk(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    values = [f"{i:032x}" for i in range(50_000)]
    bank_service.add_entries("b", [NewEntry("md5", v) for v in values])
    export = [sys.executable, "-c", "from safehold.cli.main import app; app()",
              "bank", "export", "b", "--format", "plain"]  # fmt: skip
    with subprocess.Popen(export, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline() == values[0].encode() + b"\n"
        proc.stdout.close()  # like `| head -1`
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 141
    assert stderr == b""
    if not os.path.exists("/dev/full"):
        return
    with open("/dev/full", "wb") as full:
        result = _safehold("bank", "export", "b", stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stderr == b"error: standard output: No space left on device\n"


def test_bank_names_work_in_any_case(bank_service: BankService, tmp_path: Path) -> None:
    assert invoke("create", "KNOWN").exit_code == 0
    clash = invoke("create", "known")
    assert clash.stderr == "error: a bank named 'KNOWN' already exists\n"
    listing = tmp_path / "list.txt"
    listing.write_text(f"md5 {MD5}\n")
    imported = invoke("import", "known", str(listing))
    assert imported.exit_code == 0, imported.output
    assert imported.stderr.startswith("KNOWN: 1 added, 0 duplicates skipped, 0 bad rows\n")
    shown = invoke("show", "Known")
    assert (shown.exit_code, shown.stdout.splitlines()[0]) == (0, "bank:        KNOWN")
    assert invoke("export", "kNOWN", "--format", "plain").stdout == f"{MD5}\n"
    assert invoke("disable", "known").stdout == "bank KNOWN disabled\n"


@pytest.mark.parametrize("entry_id", ["99999999999999999999999", "0", str(2**63)])
def test_entry_ids_out_of_range_are_not_found(bank_service: BankService, entry_id: str) -> None:
    for command in ("disable-entry", "enable-entry"):
        result = invoke(command, entry_id)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: no bank entry with id {entry_id}\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("pdq=-1", "threshold for pdq must be between 0 and 256, got -1"),
        ("pdq=257", "threshold for pdq must be between 0 and 256, got 257"),
        ("pdq=" + "9" * 5000, "threshold for pdq must be between 0 and 256"),
        ("md5=1", "threshold for md5 must be between 0 and 0, got 1"),
        ("pdq=x", "threshold 'pdq=x' must be written TYPE=N, e.g. pdq=24"),
    ],
)
def test_threshold_options_name_the_range(
    bank_service: BankService, option: str, message: str
) -> None:
    result = invoke("create", "b", "--threshold", option)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"


def test_import_refuses_utf16_once(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("b")
    path = tmp_path / "utf16.csv"
    path.write_text(f"signal_type,signal_str\nmd5,{MD5}\n", encoding="utf-16")
    result = invoke("import", "b", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: not UTF-8 text (UTF-16? re-save it as UTF-8)\n"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (bytes(8192), "binary data, not a text file (NUL bytes throughout its first block)"),
        (
            bytes([0, 0, 0, 7, 0, 9, 0, 0] * 1024),  # NUL in no text pattern
            "binary data, not a text file (NUL bytes throughout its first block)",
        ),
        (
            f"signal_type,signal_str\nmd5,{MD5}\n".encode("utf-32-le"),
            "not UTF-8 text (UTF-32? re-save it as UTF-8)",
        ),
    ],
    ids=["zeros", "binary", "utf-32"],
)
def test_import_names_binary_data_and_wide_text(
    bank_service: BankService, tmp_path: Path, data: bytes, said: str
) -> None:
    # /dev/zero used to be called "UTF-16?".
    bank_service.create_bank("b")
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    result = invoke("import", "b", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: {said}\n"


def test_import_reports_latin1_rows_instead_of_storing_mojibake(
    bank_service: BankService, tmp_path: Path
) -> None:
    bank_service.create_bank("b")
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"signal_type,signal_str,collab,category,tags,quality,note\n"
        b"md5," + b"1" * 32 + b",caf\xe9,,,,\n"
        b"md5," + MD5.encode() + b",ok,,,,r\xe9sum\xe9\n"
        b"md5," + b"2" * 32 + b",ok,,,,plain\n"
    )
    result = invoke("import", "b", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "b: 1 added, 0 duplicates skipped, 2 bad rows\n"
        "  line 2: not UTF-8 text (re-save the file as UTF-8)\n"
        "  line 3: not UTF-8 text (re-save the file as UTF-8)\n"
    )
    assert [(e.value, e.source, e.note) for e in bank_service.iter_entries("b")] == [
        ("2" * 32, "ok", "plain")
    ]


def test_import_from_stdin_finds_the_csv_header(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    text = f"# from a pipe\nsignal_type,signal_str,category\nmd5,{MD5},vics:1\n"
    result = runner.invoke(bank.app, ["import", "b", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "note: standard input starts with a CSV header or row; reading it as CSV" in (
        result.stderr
    )
    assert "b: 1 added" in result.stderr
    (entry,) = bank_service.iter_entries("b")
    assert (entry.value, str(entry.category)) == (MD5, "vics:1")
    # A header-less CSV row (python-threatexchange's column order) is CSV too; it used to be
    # read as a plain list and refused (user test, 2026-11-30).
    other = MD5[::-1]
    headerless = runner.invoke(bank.app, ["import", "b", "-"], input=f"md5,{other},partner\n")
    assert headerless.exit_code == 0, headerless.output
    assert "reading it as CSV" in headerless.stderr
    assert "b: 1 added" in headerless.stderr
    assert [(e.value, e.source) for e in bank_service.iter_entries("b")][-1] == (other, "partner")
    plain = runner.invoke(bank.app, ["import", "b", "-"], input=f"hello,{MD5}\n")
    assert plain.exit_code == 1
    assert "line 1: a comma in a plain list: is this CSV? use --format csv" in plain.stderr


def test_import_never_echoes_a_short_signal_type_cell(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    text = f"01234567,{MD5}\nmd5,{'3' * 32}\n"
    result = runner.invoke(bank.app, ["import", "b", "-", "--format", "csv"], input=text)
    assert result.exit_code == 0, result.output
    assert "01234567" not in result.output
    assert "line 1: unknown signal type in column 1 (known: md5, pdq, sha1, sha256, url, vpdq)" in (
        result.stderr
    )


def test_import_skips_an_over_long_plain_line(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("b")
    path = tmp_path / "long.txt"
    with path.open("w") as f:
        f.write(f"{MD5}\n{'a' * (3 * 1024 * 1024)}\n{'4' * 32}\n")
    result = invoke("import", "b", str(path), "--signal-type", "md5")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "b: 2 added, 0 duplicates skipped, 1 bad row\n  line 2: line longer than 1 MiB\n"
    )


def test_add_media_walks_like_scan_and_reports_every_skipped_path(
    bank_service: BankService, shared_data: Path, tmp_path: Path
) -> None:
    image = shared_data / "reference" / "images" / "bridge-mods" / "aaa-orig.jpg"
    media = tmp_path / "media"
    (media / "real").mkdir(parents=True)
    (media / "real" / "photo.jpg").write_bytes(image.read_bytes())
    (media / "linked").symlink_to(media / "real")  # a symlinked folder: followed, once
    (media / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    os.mkfifo(media / "pipe")
    (media / "\x1b[2Jclear.jpg").write_bytes(b"")  # an escape sequence in a name
    bank_service.create_bank("b")
    result = invoke("add-media", "b", str(media), "--signal-type", "md5")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines == [
        f"skipped: {media}/\\x1b[2Jclear.jpg: {lines[0].rsplit(': ', 1)[-1]}",
        f"skipped: {media}/broken.jpg: broken symbolic link: No such file or directory",
        f"skipped: {media}/pipe: cannot scan: a FIFO",
        f"skipped: {media}/real: folder already walked (reached twice)",
        "b: 1 file hashed, 1 entry added, 0 duplicates skipped, 3 files failed",
    ]
    assert "\x1b" not in result.output
    assert [e.value for e in bank_service.iter_entries("b")] == [MD5]


def test_list_is_not_cut_when_piped(bank_service: BankService) -> None:
    source = "a-very-long-source-name-" * 8
    bank_service.create_bank("b", source=source)
    result = CliRunner().invoke(bank.app, ["list"])  # no COLUMNS: a pipe, not a terminal
    assert result.exit_code == 0, result.output
    assert source in result.stdout
    assert "…" not in result.stdout


def test_free_text_and_file_names_cannot_drive_the_terminal(
    bank_service: BankService, tmp_path: Path
) -> None:
    bank_service.create_bank("b", description="list\x1b[2J", source="[red]iwf\x07")
    bank_service.add_entries("b", [NewEntry("md5", MD5, category=Category("local", "[b]x\x1b"))])
    shown = invoke("show", "b")
    assert shown.exit_code == 0, shown.output
    assert "description: list\\x1b[2J\n" in shown.stdout
    assert "source:      [red]iwf\\x07\n" in shown.stdout
    assert "local:[b]x\\x1b" in shown.stdout
    listing = invoke("list")
    assert "[red]iwf\\x07" in listing.stdout
    missing = invoke("import", "b", str(tmp_path / "x\x1b[2J.csv"))
    assert missing.exit_code == 2
    assert missing.stderr == f"error: {tmp_path}/x\\x1b[2J.csv: No such file or directory\n"
    assert "\x1b" not in shown.output + listing.output + missing.output


def test_add_media_exits_1_when_no_file_could_be_hashed(
    bank_service: BankService, tmp_path: Path
) -> None:
    bank_service.create_bank("b")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = invoke("add-media", "b", str(broken), str(tmp_path / "missing.png"))
    assert result.exit_code == 1, result.output
    assert "b: 0 files hashed, 0 entries added, 0 duplicates skipped, 2 files failed" in (
        result.stderr
    )
    assert "error: no file could be hashed; nothing was added" in result.stderr
    assert bank_service.summarize_bank("b").counts == []


def test_a_threshold_given_twice_is_refused(bank_service: BankService) -> None:
    result = invoke("create", "b", "--threshold", "pdq=1", "--threshold", "PDQ=2")
    assert result.exit_code == 2
    assert "pdq is given more than once (pdq=1, PDQ=2)" in result.stderr
    assert [b.name for b in bank_service.list_banks()] == []


def test_update_changes_one_threshold_and_keeps_the_others(bank_service: BankService) -> None:
    bank_service.create_bank("b", thresholds={"pdq": 1, "md5": 0})
    result = invoke("update", "b", "--threshold", "pdq=24", "--description", "fixed")
    assert result.exit_code == 0, result.output
    assert "updated bank b (thresholds: md5=0, pdq=24)" in result.stdout
    bank = bank_service.get_bank("b")
    assert (bank.thresholds, bank.description) == ({"pdq": 24, "md5": 0}, "fixed")
    reset = invoke("update", "b", "--reset-thresholds")
    assert reset.exit_code == 0, reset.output
    assert bank_service.get_bank("b").thresholds == {}
    twice = invoke("update", "b", "--threshold", "pdq=1", "--threshold", "pdq=2")
    assert twice.exit_code == 2
    assert invoke("update", "missing", "--threshold", "pdq=2").exit_code == 2

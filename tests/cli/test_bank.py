"""``safehold bank`` end to end through Typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from safehold.banks.service import BankService
from safehold.cli import bank
from safehold.signals import get_signal_type

# Wide enough that Rich never truncates a table cell.
runner = CliRunner(env={"COLUMNS": "200"})


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
    assert out.read_text() == source.read_text()
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
    assert mixed.stdout == f"pdq {'1' * 64}\nmd5 {'2' * 32}\n"


def test_disable_and_enable(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    assert invoke("disable", "b").exit_code == 0
    assert bank_service.get_bank("b").enabled is False
    assert invoke("enable", "b").exit_code == 0
    assert bank_service.get_bank("b").enabled is True
    from safehold.banks.models import NewEntry

    bank_service.add_entries("b", [NewEntry("md5", "0" * 32)])
    (entry,) = bank_service.iter_entries("b")
    result = invoke("disable-entry", str(entry.id))
    assert result.exit_code == 0
    assert f"entry {entry.id} disabled" in result.stdout
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


COMMANDS = ["create", "list", "show", "import", "export", "add-media", "disable", "enable",
            "disable-entry", "enable-entry"]  # fmt: skip


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


def test_export_makes_an_existing_file_private(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("b")
    out = tmp_path / "out.csv"
    out.write_text("old")
    out.chmod(0o644)
    assert invoke("export", "b", "--output", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().splitlines() == [
        "signal_type,signal_str,collab,category,tags,quality,note"
    ]

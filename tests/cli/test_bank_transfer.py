"""``safehold bank import`` / ``export`` end to end: vPDQ resampling, repeated signal types."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner(env={"COLUMNS": "200"})
MD5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, shared/data expected-hashes.csv
SHA256 = "a" * 64
PDQ = "f" * 64


def test_an_every_frame_vpdq_reference_is_resampled_on_import_and_matches_a_scan(
    shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    videos = shared_data / "reference" / "videos"
    text = (videos / "vpdq-hashes" / "chair-22-sd-grey-bar.txt").read_text()
    assert len(text.splitlines()) == 673  # hashed at every frame
    bank_file = tmp_path / "video.csv"
    with bank_file.open("w", newline="") as f:
        csv.writer(f).writerows([("signal_type", "signal_str"), ("vpdq", text)])
    assert runner.invoke(app, ["bank", "create", "videos"]).exit_code == 0
    result = runner.invoke(app, ["bank", "import", "videos", str(bank_file)])
    assert result.exit_code == 0, result.output
    assert "resampled 1 vPDQ entry (673 -> 23 frames) to 1 frame per 1 s" in result.stderr
    scan = runner.invoke(
        app, ["scan", "-q", "-t", "vpdq", "-j", "1", str(videos / "chair-22-sd-grey-bar.mp4")]
    )
    assert scan.exit_code == 1, scan.output  # a match
    (record,) = [json.loads(line) for line in scan.stdout.splitlines()]
    assert [(m["bank"], m["signal_type"]) for m in record["matches"]] == [("videos", "vpdq")]


def test_export_takes_every_signal_type_given(settings: Settings, tmp_path: Path) -> None:
    bank_file = tmp_path / "b.txt"
    bank_file.write_text(f"md5 {MD5}\nsha256 {SHA256}\npdq {PDQ}\n")
    assert runner.invoke(app, ["bank", "create", "b"]).exit_code == 0
    assert runner.invoke(app, ["bank", "import", "b", str(bank_file)]).exit_code == 0
    both = ["bank", "export", "b", "--format", "plain", "-t", "md5", "--signal-type", "sha256"]
    result = runner.invoke(app, both)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"md5 {MD5}", f"sha256 {SHA256}"]
    one = runner.invoke(app, ["bank", "export", "b", "--format", "plain", "-t", "pdq"])
    assert one.stdout.splitlines() == [PDQ]
    out = tmp_path / "out.txt"
    short = runner.invoke(app, ["bank", "export", "b", "--format", "plain", "-o", str(out)])
    assert short.exit_code == 0, short.output
    assert sorted(out.read_text().splitlines()) == [f"md5 {MD5}", f"pdq {PDQ}", f"sha256 {SHA256}"]


def test_importing_a_photo_points_to_add_media(
    shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    photo = (
        shared_data / "reference" / "images" / "reg-test-input" / "dih" / "bridge-1-original.jpg"
    )
    assert runner.invoke(app, ["bank", "create", "b"]).exit_code == 0
    result = runner.invoke(app, ["bank", "import", "b", str(photo)])
    assert result.exit_code == 2
    assert "looks like a photo (JPEG), not a hash list" in result.stderr
    assert "safehold bank add-media b FILE..." in result.stderr


def test_vics_export_reads_back_with_its_scheme_and_iwf_lists_import(
    shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    images = shared_data / "reference" / "images"
    sha1 = hashlib.sha1((images / "bridge-mods" / "aaa-orig.jpg").read_bytes()).hexdigest()
    iwf = tmp_path / "iwf.csv"
    iwf.write_text(f"MD5,SHA1,PDQ,Category\n{MD5},{sha1},{PDQ},A\n")
    assert runner.invoke(app, ["bank", "create", "iwf"]).exit_code == 0
    result = runner.invoke(app, ["bank", "import", "iwf", str(iwf), "--format", "iwf",
                                 "--category-scheme", "vics-us"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("iwf: 3 added, 0 duplicates skipped, 0 bad rows\n")
    out = tmp_path / "out.json"
    exported = runner.invoke(app, ["bank", "export", "iwf", "--format", "vics", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "exported 2 entries from iwf" in exported.stderr
    assert "left out 1 pdq entry (VICS holds MD5, SHA1 and SHA256)" in exported.stderr
    doc = json.loads(out.read_text())
    assert doc["@odata.context"].endswith("/2.0.xml/US/$metadata#Media")
    assert [(m["Category"], m.get("MD5"), m.get("SHA1")) for m in doc["value"]] == [
        ("A", MD5.upper(), None), ("A", None, sha1.upper())
    ]  # fmt: skip
    assert runner.invoke(app, ["bank", "create", "back"]).exit_code == 0
    back = runner.invoke(app, ["bank", "import", "back", str(out)])
    assert back.exit_code == 0, back.output
    assert "is a VICS JSON file; reading it as VICS" in back.stderr
    assert "VICS categories kept in the scheme vics-us" in back.stderr
    listed = runner.invoke(app, ["bank", "export", "back", "--format", "csv"])
    assert sorted(listed.stdout.splitlines()[1:]) == [
        f"md5,{MD5},,vics-us:A,,,MediaID 1", f"sha1,{sha1},,vics-us:A,,,MediaID 2"
    ]  # fmt: skip


def test_an_iwf_list_named_csv_is_read_as_iwf_without_format(
    settings: Settings, tmp_path: Path
) -> None:
    # The IWF's own header (user test finding 5): every row was "unknown signal type".
    iwf = tmp_path / "iwf-list.csv"
    iwf.write_text(
        f"ID,MD5,SHA-1,SHA256,PDQ,PDQ Quality,Category,PhotoDNA\n7,{MD5},,,{PDQ},90,B,\n"
    )
    assert runner.invoke(app, ["bank", "create", "iwf"]).exit_code == 0
    result = runner.invoke(app, ["bank", "import", "iwf", str(iwf)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("iwf: 2 added, 0 duplicates skipped, 0 bad rows\n")
    listed = runner.invoke(app, ["bank", "export", "iwf", "--format", "csv"])
    rows = sorted(csv.DictReader(listed.stdout.splitlines()), key=lambda r: r["signal_type"])
    assert [(r["signal_type"], r["signal_str"], r["category"]) for r in rows] == [
        ("md5", MD5, "iwf:B"),
        ("pdq", PDQ, "iwf:B"),
    ]
    plain_csv = tmp_path / "te.csv"
    plain_csv.write_text(f"md5,{MD5}\n")  # a threatexchange CSV without header stays CSV
    assert runner.invoke(app, ["bank", "create", "te"]).exit_code == 0
    result = runner.invoke(app, ["bank", "import", "te", str(plain_csv)])
    assert result.stderr.startswith("te: 1 added, 0 duplicates skipped, 0 bad rows\n")

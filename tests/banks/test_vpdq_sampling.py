"""Imported vPDQ hashes are thinned to the scanner's 1 frame per second."""

from __future__ import annotations

from pathlib import Path

from safehold.banks.models import NewEntry
from safehold.banks.validation import EntryValidator
from safehold.banks.vpdq_sampling import VpdqResampler, resample_frames
from safehold.errors import FormatError

PDQ = "25ad26b96f58d2491a79f80f07f2c9936fe6083dfb4983d8a4a36db40034df54"


def _value(times: list[float]) -> str:
    return "\n".join(f"{i},100,{PDQ},{t:.3f}" for i, t in enumerate(times))


def _times(value: str) -> list[float]:
    return [float(line.rsplit(",", 1)[1]) for line in value.splitlines()]


def test_keeps_the_first_frame_at_or_after_each_interval() -> None:
    every_frame = [round(n / 30, 3) for n in range(95)]  # 30 fps, 0.000 .. 3.133 s
    assert _times(resample_frames(_value(every_frame), 1.0)) == [0.0, 1.0, 2.0, 3.0]
    assert _times(resample_frames(_value([0.0, 0.4, 1.2, 1.9, 2.5, 5.0]), 1.0)) == [
        0.0,
        1.2,
        2.5,
        5.0,
    ]
    assert _times(resample_frames(_value(every_frame), 0.5))[:4] == [0.0, 0.5, 1.0, 1.5]


def test_sparse_values_and_other_types_are_left_alone() -> None:
    sparse = _value([0.0, 1.0, 2.0, 4.0])
    assert resample_frames(sparse, 1.0) is sparse
    resampler = VpdqResampler(1.0)
    md5 = NewEntry("md5", "0" * 32)
    bad = FormatError("bad row", 3)
    assert list(resampler.items([md5, bad, NewEntry("vpdq", sparse)])) == [
        md5,
        bad,
        NewEntry("vpdq", sparse),
    ]
    assert resampler.describe() is None


def test_the_reference_every_frame_file_is_thinned_to_one_frame_per_second(
    shared_data: Path,
) -> None:
    text = (
        shared_data / "reference" / "videos" / "vpdq-hashes" / "chair-22-sd-grey-bar.txt"
    ).read_text()
    entry = EntryValidator().validate(NewEntry("vpdq", text))
    resampler = VpdqResampler(1.0)
    thinned = resampler.entry(entry)
    times = _times(thinned.value)
    assert len(text.splitlines()) == 673
    assert times[:3] == [0.0, 1.0, 2.0]
    assert len(times) == 23  # 673 frames at 30 fps: 0 .. 22.4 s
    assert resampler.describe() == (
        "resampled 1 vPDQ entry (673 -> 23 frames) to 1 frame per 1 s, the scanner's "
        "sampling (SAFEHOLD_VPDQ_SECONDS_PER_FRAME)"
    )

"""The SignalType contract: hash_content maps every failure to a ContentError; quality gate."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from safehold.errors import ContentError, CorruptContentError, SafeholdError
from safehold.signals import SIGNAL_TYPES
from safehold.signals.base import (
    Content,
    ContentType,
    HashOptions,
    Signal,
    SignalIndex,
    SignalType,
)
from safehold.signals.content import detect_content


class _Failing(SignalType):
    """A plug-in whose ``_compute`` raises what it is told to."""

    name: ClassVar[str] = "failing"
    content_types: ClassVar[frozenset[ContentType]] = frozenset({ContentType.PHOTO})
    error: ClassVar[BaseException] = ValueError("boom")

    @classmethod
    def validate_signal(cls, value: str) -> str:
        return value

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0

    @classmethod
    def build_index(cls, entries: Sequence[tuple[int, str]]) -> SignalIndex:
        raise NotImplementedError

    def _compute(self, content: Content) -> Signal:
        raise type(self).error


def _content(tmp_path: Path) -> Content:
    return Content(tmp_path / "x.jpg", ContentType.PHOTO, 1)


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (ValueError("bad table"), CorruptContentError, "corrupt"),
        (KeyError("x"), CorruptContentError, "corrupt"),
        (PermissionError(13, "Permission denied"), ContentError, "content_error"),
    ],
)
def test_hash_content_maps_raw_exceptions(
    tmp_path: Path, error: BaseException, expected: type[SafeholdError], code: str
) -> None:
    plugin = type("P", (_Failing,), {"error": error})()
    with pytest.raises(expected) as caught:
        plugin.hash_content(_content(tmp_path))
    assert caught.value.code == code
    assert plugin.name in caught.value.message


def test_memory_error_is_left_to_the_caller(tmp_path: Path) -> None:
    plugin = type("P", (_Failing,), {"error": MemoryError()})()
    with pytest.raises(MemoryError):
        plugin.hash_content(_content(tmp_path))


def test_is_matchable_and_variant_names() -> None:
    signal = Signal("pdq", "0" * 64, 49, variants=("1" * 64, "2" * 64), variant_names=("flipx",))
    pdq = SIGNAL_TYPES.get("pdq")
    assert not pdq.is_matchable(signal)
    assert pdq.is_matchable(signal, min_quality=49)
    assert SIGNAL_TYPES.get("md5").is_matchable(Signal("md5", "0" * 32))
    assert (signal.variant_name(0), signal.variant_name(1)) == ("flipx", "variant-2")


def test_variant_qualities_and_matchable_queries() -> None:
    signal = Signal(
        "pdq",
        "0" * 64,
        0,
        variants=("1" * 64, "2" * 64, "3" * 64),
        variant_names=("rotate90", "depth-normalised", "unletterboxed"),
        variant_qualities=(0, 100, 49),
    )
    pdq = SIGNAL_TYPES.get("pdq")
    assert not pdq.is_matchable(signal)  # the own value (what a bank would store) is not
    assert pdq.matchable_queries(signal) == [("depth-normalised", "2" * 64)]
    assert pdq.matchable_queries(signal, min_quality=49) == [
        ("depth-normalised", "2" * 64),
        ("unletterboxed", "3" * 64),
    ]
    assert [n for n, _ in pdq.matchable_queries(signal, min_quality=0)] == [
        None,
        "rotate90",
        "depth-normalised",
        "unletterboxed",
    ]
    # Without variant_qualities (an older store) variants have the signal's own quality.
    old = Signal("pdq", "0" * 64, 80, variants=("1" * 64,), variant_names=("flipx",))
    assert old.variant_quality(0) == 80
    assert pdq.matchable_queries(old) == [(None, "0" * 64), ("flipx", "1" * 64)]
    assert SIGNAL_TYPES.get("md5").matchable_queries(Signal("md5", "0" * 32)) == [(None, "0" * 32)]


def test_backward_compatible_defaults() -> None:
    signal = Signal("pdq", "0" * 64, 100, ("1" * 64,), ("flipx",))
    assert (signal.variant_qualities, signal.partial) == ((), None)
    assert HashOptions().min_variant_quality == 50


def _samples(tmp_path: Path) -> dict[str, bytes]:
    """Small valid files of each kind, written in memory."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (5, 7, 3), np.uint8)).resize((96, 64))
    out: dict[str, bytes] = {}
    for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        out[fmt] = buffer.getvalue()
    path = tmp_path / "clip.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.roll(np.asarray(image), i, 1), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out["MP4"] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _samples(tmp_path_factory.mktemp("samples"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_files_give_content_errors_only(
    data: st.DataObject, samples: dict[str, bytes], tmp_path: Path
) -> None:
    """Truncate or overwrite bytes of valid files: every outcome is a signal or a ContentError."""
    kind = data.draw(st.sampled_from(sorted(samples)))
    blob = bytearray(samples[kind])
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(1, len(blob)))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(12, len(blob) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(blob))
    try:
        content = detect_content(path)
    except ContentError:
        return
    for _, cls in SIGNAL_TYPES.items():
        if content.content_type in cls.content_types:
            outcome: Signal | ContentError
            try:
                outcome = cls().hash_content(content)
            except ContentError as exc:
                outcome = exc
            assert outcome.message if isinstance(outcome, ContentError) else outcome.value

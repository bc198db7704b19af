"""Definition of done of issue 6: a live HLS stream on loopback shows the doorknob clip, then
the chair clip that is in a bank, then the doorknob again; the alert names a chair entry of
that bank within 2 s of stream time after the chair starts, and a doorknob-only stream never
alerts."""

from __future__ import annotations

import threading

import pytest

from safehold.livestreams.models import StreamAlert, StreamConfig, StreamState
from safehold.livestreams.monitor import StreamMonitor
from safehold.livestreams.policy import STREAM_PROTOCOLS
from safehold.matching.live import LiveMatcher
from safehold.settings import Settings
from safehold.signals import Signal

from .conftest import CHAIR_STARTS_AT, HlsStream, LiveServer


def _watch(
    url: str, matcher: LiveMatcher, settings: Settings, decode: str = "auto"
) -> tuple[StreamMonitor, list[StreamAlert]]:
    alerts: list[StreamAlert] = []
    config = StreamConfig.from_settings(settings)
    config = StreamConfig(
        config.sample_seconds, config.scene_threshold, config.decision, decode=decode
    )
    # loopback only: every HTTP request goes through the egress proxy, held to this policy
    settings = settings.model_copy(update={"fetch_allow_networks": ["127.0.0.1/32"]})
    monitor = StreamMonitor(
        url,
        STREAM_PROTOCOLS["http"],
        config,
        settings,
        match=lambda s: matcher.match({"pdq": s}),
        on_alert=alerts.append,
    )
    thread = threading.Thread(target=monitor.run)
    thread.start()
    thread.join(45)
    assert not thread.is_alive()
    return monitor, alerts


@pytest.mark.parametrize("decode", ["auto", "all"])
def test_chair_in_a_live_hls_stream_alerts_within_2_s(
    live_server: LiveServer,
    clips: dict[str, tuple],
    chair_bank: tuple[str, set[int]],
    matcher: LiveMatcher,
    db_settings: Settings,
    decode: str,
) -> None:
    folder, segments = clips["mixed"]
    live_server.hls["mixed"] = HlsStream(folder, segments)
    bank, chair_ids = chair_bank

    monitor, alerts = _watch(live_server.url("/mixed/index.m3u8"), matcher, db_settings, decode)

    assert monitor.state is StreamState.ENDED
    assert monitor.counters.stream_seconds == pytest.approx(9.4, abs=0.3)  # all of it
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.bank == bank
    assert alert.entry_id in chair_ids
    assert CHAIR_STARTS_AT <= alert.stream_seconds < CHAIR_STARTS_AT + 2.0
    assert alert.matched_frames >= db_settings.stream_alert_frames
    # 1 fps, scene-change samples and 2 fps while confirming: not every frame (142)
    assert 9 <= monitor.counters.frames_sampled <= 20
    assert monitor.counters.scene_samples >= 1  # the cut to the chair


def test_doorknob_only_stream_never_alerts(
    live_server: LiveServer,
    clips: dict[str, tuple],
    chair_bank: tuple[str, set[int]],
    matcher: LiveMatcher,
    db_settings: Settings,
) -> None:
    folder, segments = clips["doorknob"]
    live_server.hls["door"] = HlsStream(folder, segments, speed=2.0)

    monitor, alerts = _watch(live_server.url("/door/index.m3u8"), matcher, db_settings)

    assert monitor.state is StreamState.ENDED
    assert alerts == []
    # it did look: idle on keyframes (every 2 s here) plus 1 fps while the GOP is learnt
    assert monitor.counters.frames_sampled >= 5
    assert monitor.counters.stream_seconds > 5.5
    assert monitor.counters.matched_samples == 0


def test_chair_frames_match_the_chair_bank_one_by_one(
    chair_bank: tuple[str, set[int]], matcher: LiveMatcher
) -> None:
    """The bank itself: a reference chair hash matches its own entry at distance 0."""
    bank, chair_ids = chair_bank
    entry = min(chair_ids)
    value = matcher.banks.get_entry(entry).value
    found = matcher.match({"pdq": Signal("pdq", value, 100)})
    assert [(m.bank, m.entry_id, m.distance) for m in found][:1] == [(bank, entry, 0)]

"""A stalled, reconnecting, malformed or ending stream: states, backoff, never a crash."""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from safehold.livestreams.models import StreamAlert, StreamConfig, StreamState
from safehold.livestreams.monitor import StreamMonitor
from safehold.livestreams.policy import STREAM_PROTOCOLS
from safehold.matching.live import LiveMatcher
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings
from safehold.signals import Signal

from .conftest import CHAIR_STARTS_AT, HlsStream, LiveServer, send

S = StreamState


def _fast(settings: Settings, **changes: object) -> Settings:
    """Short timeouts and backoff so failures show within a second."""
    values: dict[str, object] = {
        "stream_read_timeout_seconds": 1.0,
        "stream_open_timeout_seconds": 2.0,
        "stream_backoff_seconds": 0.1,
        "stream_max_retries": 3,
    }
    values.update(changes)
    return settings.model_copy(update=values)


def _no_match(signal: Signal) -> list[MatchInfo]:
    return []


def _run(
    url: str, settings: Settings, match=_no_match, *, budget_s: float = 30.0
) -> tuple[StreamMonitor, list[StreamAlert]]:
    alerts: list[StreamAlert] = []
    # every HTTP request goes through the egress proxy, which holds it to this policy
    settings = settings.model_copy(update={"fetch_allow_networks": ["127.0.0.1/32"]})
    monitor = StreamMonitor(
        url,
        STREAM_PROTOCOLS["http"],
        StreamConfig.from_settings(settings),
        settings,
        match=match,
        on_alert=alerts.append,
    )
    thread = threading.Thread(target=monitor.run)
    thread.start()
    thread.join(budget_s)
    assert not thread.is_alive(), monitor.history
    return monitor, alerts


def _ts(clips: dict[str, tuple]) -> bytes:
    folder, _ = clips["mixed_ts"]
    return Path(folder, "stream.ts").read_bytes()


def test_a_stalled_stream_is_reconnected_and_read_to_its_end(
    live_server: LiveServer, clips: dict[str, tuple], settings: Settings
) -> None:
    data = _ts(clips)
    cut = len(data) // 3

    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp2t")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[:cut])
        handler.wfile.flush()
        time.sleep(4)  # then hang up: the monitor gave up after 1 s

    live_server.bodies["/live.ts"] = [stall, lambda h: send(h, data, "video/mp2t")]
    started = time.monotonic()
    monitor, _ = _run(live_server.url("/live.ts"), _fast(settings))

    assert monitor.history[:2] == [S.CONNECTING, S.LIVE]
    assert S.STALLED in monitor.history
    assert monitor.history[-3:] == [S.CONNECTING, S.LIVE, S.ENDED]
    assert monitor.counters.reconnects == 1
    assert monitor.last_error == "no data for 1 s"
    assert time.monotonic() - started < 4  # stalled after ~1 s, not after the server's 4 s
    # the clock carries on across the reconnect: the second connection starts over at 0 s
    # of the file, which is re-based, so stream time only grows
    assert monitor.counters.stream_seconds > 8  # the last keyframe of 9.5 s


def test_a_refused_then_available_stream_connects_with_backoff(
    live_server: LiveServer, clips: dict[str, tuple], settings: Settings
) -> None:
    data = _ts(clips)

    def unavailable(handler: BaseHTTPRequestHandler) -> None:
        handler.send_error(503)

    live_server.bodies["/later.ts"] = [
        unavailable,
        unavailable,
        lambda h: send(h, data, "video/mp2t"),
    ]
    monitor, _ = _run(live_server.url("/later.ts"), _fast(settings))

    assert monitor.history == [
        S.CONNECTING,
        S.RECONNECTING,
        S.CONNECTING,
        S.RECONNECTING,
        S.CONNECTING,
        S.LIVE,
        S.ENDED,
    ]
    assert monitor.counters.reconnects == 2
    assert live_server.requests.count("/later.ts") == 3
    assert monitor.counters.frames_sampled >= 5  # one per 2 s keyframe at least


def test_a_stream_that_never_comes_fails_after_the_retry_bound(
    live_server: LiveServer, settings: Settings
) -> None:
    monitor, _ = _run(live_server.url("/missing.ts"), _fast(settings, stream_max_retries=3))

    assert monitor.state is S.FAILED
    assert live_server.requests.count("/missing.ts") == 3
    assert monitor.last_error is not None
    assert "404" in monitor.last_error or "Not Found" in monitor.last_error


def test_garbage_bytes_mid_stream_are_skipped_and_the_chair_still_alerts(
    live_server: LiveServer,
    clips: dict[str, tuple],
    chair_bank: tuple[str, set[int]],
    matcher: LiveMatcher,
    db_settings: Settings,
) -> None:
    data = _ts(clips)
    at = len(data) // 5  # in the first doorknob part
    noise = random.Random(6).randbytes(64 * 1024)
    live_server.bodies["/noisy.ts"] = [lambda h: send(h, data[:at] + noise + data[at:], "x")]

    monitor, alerts = _run(
        live_server.url("/noisy.ts"),
        db_settings,
        lambda s: matcher.match({"pdq": s}),
    )

    assert monitor.state is S.ENDED
    assert monitor.counters.reconnects == 0
    assert [(a.bank, a.entry_id in chair_bank[1]) for a in alerts] == [(chair_bank[0], True)]
    assert CHAIR_STARTS_AT <= alerts[0].stream_seconds < CHAIR_STARTS_AT + 2.0


def test_a_stream_of_pure_garbage_fails_cleanly(
    live_server: LiveServer, settings: Settings
) -> None:
    noise = random.Random(7).randbytes(200 * 1024)
    live_server.bodies["/noise.ts"] = [lambda h: send(h, noise, "video/mp2t")]

    monitor, _ = _run(live_server.url("/noise.ts"), _fast(settings, stream_max_retries=2))

    assert monitor.state in (S.FAILED, S.ENDED)
    assert monitor.counters.frames_decoded == 0
    assert monitor.last_error is not None


def test_a_live_hls_stream_that_ends_is_ended(
    live_server: LiveServer, clips: dict[str, tuple], settings: Settings
) -> None:
    folder, segments = clips["doorknob"]
    live_server.hls["short"] = HlsStream(folder, segments[:3], speed=3.0)

    monitor, alerts = _run(live_server.url("/short/index.m3u8"), settings)

    assert monitor.history == [S.CONNECTING, S.LIVE, S.ENDED]
    assert alerts == []
    length = sum(seconds for _, seconds in segments[:3])
    assert monitor.counters.stream_seconds == pytest.approx(length - 1 / 15, abs=0.3)


@pytest.mark.parametrize("scheme", ["file", "concat"])
def test_a_remote_playlist_cannot_make_ffmpeg_read_local_files(
    live_server: LiveServer, clips: dict[str, tuple], settings: Settings, scheme: str
) -> None:
    folder, segments = clips["mixed"]
    local = Path(folder, segments[0][0]).resolve()
    assert local.stat().st_size > 0  # a real, decodable local segment
    target = f"file://{local}" if scheme == "file" else f"concat:{local}|{local}"
    live_server.bodies["/evil.m3u8"] = [
        lambda h: send(
            h,
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
                f"#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n"
            ).encode(),
            "application/vnd.apple.mpegurl",
        )
    ]

    monitor, _ = _run(live_server.url("/evil.m3u8"), _fast(settings, stream_max_retries=2))

    assert monitor.counters.frames_decoded == 0
    assert monitor.state in (S.FAILED, S.ENDED)
